
with all_values as (
    select
        event_type as value_field,
        count(*) as n_records
    from "web_events_analytics"."web_events"
    group by event_type
)
select *
from all_values
where value_field not in ('page', 'track')
