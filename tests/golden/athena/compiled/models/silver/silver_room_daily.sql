

with events as (
    select chat_id, user_id, event_type, created_at, ingest_date, partition_date
    from "athena_analytics"."bronze_chat_events"
    where chat_id is not null
    
)

select
    chat_id as room_id,
    partition_date as date_col,
    min(user_id) as user_id,
    cast(count(distinct user_id) as integer) as user_count,
    cast(count(case when event_type = 'message' then 1 end) as integer) as message_count,
    count(case when event_type = 'chat_started' then 1 end) > 0 as is_new_room,
    min(created_at) as created_at,
    max(cast(ingest_date as timestamp(6))) as updated_at
from events
group by chat_id, partition_date
