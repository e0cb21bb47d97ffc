
with all_values as (
    select
        event_type as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_chat_events"
    group by event_type
)
select *
from all_values
where value_field not in ('chat_started', 'message', 'setting_changed')
