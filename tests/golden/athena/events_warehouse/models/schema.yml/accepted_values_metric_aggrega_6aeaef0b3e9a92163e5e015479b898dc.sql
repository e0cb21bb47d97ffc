
with all_values as (
    select
        time_granularity as value_field,
        count(*) as n_records
    from "events_warehouse"."metric_aggregates"
    group by time_granularity
)
select *
from all_values
where value_field not in ('minute', 'hour', 'day')
