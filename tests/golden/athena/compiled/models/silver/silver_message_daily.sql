

with messages as (
    select chat_id, user_id, tool_name, created_at, ingest_date, partition_date
    from "athena_analytics"."bronze_chat_events"
    where event_type = 'message'
    
)

select
    chat_id,
    partition_date as date_col,
    min(user_id) as user_id,
    cast(count(*) as integer) as message_count,
    cast(count(tool_name) as integer) as tool_call_count,
    min(created_at) as first_message_at,
    max(created_at) as last_message_at,
    max(cast(ingest_date as timestamp(6))) as updated_at
from messages
group by chat_id, partition_date
