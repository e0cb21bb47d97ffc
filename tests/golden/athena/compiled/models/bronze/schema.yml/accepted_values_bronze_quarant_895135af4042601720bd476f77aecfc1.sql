
with all_values as (
    select
        quarantine_reason as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_quarantined_events"
    group by quarantine_reason
)
select *
from all_values
where value_field not in ('invalid_encoding', 'invalid_json', 'invalid_event_id', 'missing_event_id', 'invalid_user_id', 'missing_user_id', 'invalid_event_type', 'missing_event_type', 'missing_step_index', 'invalid_step_index', 'invalid_created_at', 'missing_created_at', 'invalid_chat_id', 'missing_chat_id', 'invalid_setting_name', 'missing_setting_name', 'invalid_setting_value', 'invalid_message', 'invalid_tool_name', 'invalid_reasoning_step', 'invalid_step_details')
