
with all_values as (
    select
        quarantine_reason as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_quarantined_events"
    group by quarantine_reason
)
select *
from all_values
where value_field not in ('invalid_json', 'missing_event_id', 'missing_user_id', 'invalid_user_id', 'missing_event_type', 'missing_step_index', 'invalid_step_index', 'missing_created_at', 'invalid_created_at', 'missing_chat_id', 'missing_setting_name')
