select max(event_date) from "events_warehouse_retention"."events";

create table if not exists "events_warehouse_retention"."events_archive"
  with (table_type = 'ICEBERG', is_external = false,
        location = 's3://<bucket>/data/events_warehouse_retention/events_archive/')
  as select * from "events_warehouse_retention"."events" where 1 = 0;

insert into "events_warehouse_retention"."events_archive" select * from "events_warehouse_retention"."events" as e where e.event_date < date '2026-02-14' - interval '29' day and not exists (select 1 from "events_warehouse_retention"."events_archive" as a where a.event_id = e.event_id);

delete from "events_warehouse_retention"."events" where event_date < date '2026-02-14' - interval '29' day;

select count(distinct event_date) from "events_warehouse_retention"."events";

