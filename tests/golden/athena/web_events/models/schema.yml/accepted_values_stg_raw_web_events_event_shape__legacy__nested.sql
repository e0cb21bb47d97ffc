
with all_values as (
    select
        event_shape as value_field,
        count(*) as n_records
    from "web_events_analytics"."stg_raw_web_events"
    group by event_shape
)
select *
from all_values
where value_field not in ('legacy', 'nested')
