
select
    room_id || '|' || cast(date_col as varchar) as unique_field,
    count(*) as n_records
from "athena_analytics"."silver_room_daily"
where room_id || '|' || cast(date_col as varchar) is not null
group by room_id || '|' || cast(date_col as varchar)
having count(*) > 1
