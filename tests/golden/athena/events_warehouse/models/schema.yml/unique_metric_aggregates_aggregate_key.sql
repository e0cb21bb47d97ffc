
select
    aggregate_key as unique_field,
    count(*) as n_records
from "events_warehouse"."metric_aggregates"
where aggregate_key is not null
group by aggregate_key
having count(*) > 1
