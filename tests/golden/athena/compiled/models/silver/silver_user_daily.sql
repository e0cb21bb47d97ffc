

with events as (
    select user_id, chat_id, event_type, tool_name, created_at, ingest_date, partition_date
    from "athena_analytics"."bronze_chat_events"
    
),

daily as (
    select
        user_id,
        partition_date as date_col,
        cast(count(case when event_type = 'message' then 1 end) as integer) as message_count,
        cast(count(distinct case when event_type = 'message' then chat_id end) as integer) as chat_count,
        max(created_at) as last_activity,
        max(cast(ingest_date as timestamp(6))) as updated_at
    from events
    group by user_id, partition_date
),

tool_calls as (
    select
        user_id,
        partition_date as date_col,
        tool_name,
        count(*) as calls
    from events
    where event_type = 'message' and tool_name is not null
    group by user_id, partition_date, tool_name
),

tool_maps as (
    select
        user_id,
        date_col,
        map_agg(tool_name, cast(calls as integer)) as tool_usage
    from tool_calls
    group by user_id, date_col
)

select
    d.user_id,
    d.date_col,
    d.message_count,
    d.chat_count,
    coalesce(t.tool_usage, cast(map() as map(varchar, integer))) as tool_usage,
    d.last_activity,
    d.updated_at
from daily as d
left join tool_maps as t
    on t.user_id = d.user_id and t.date_col = d.date_col
