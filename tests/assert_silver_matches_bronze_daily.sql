-- Per event day, every silver table agrees with bronze: message, user, chat,
-- room, tool-call and setting-change counts. Returns one row per (source, day,
-- metric) whose value differs from bronze or is missing on one side.

with bronze as (
    select * from {{ ref('bronze_chat_events') }}
),

expected as (
    select partition_date as date_col, 'messages' as metric, count(*) as value
    from bronze where event_type = 'message' group by partition_date
    union all
    select partition_date, 'active_users', count(distinct user_id)
    from bronze group by partition_date
    union all
    select partition_date, 'chats_with_messages', count(distinct chat_id)
    from bronze where event_type = 'message' group by partition_date
    union all
    select partition_date, 'rooms_with_events', count(distinct chat_id)
    from bronze where chat_id is not null group by partition_date
    union all
    select partition_date, 'tool_calls', count(tool_name)
    from bronze where event_type = 'message' group by partition_date
    union all
    select partition_date, 'setting_changes', count(*)
    from bronze where event_type = 'setting_changed' group by partition_date
),

metric_sources as (
    select 'messages' as metric, 'silver_user_daily.message_count' as source
    union all select 'messages', 'silver_message_daily.message_count'
    union all select 'messages', 'silver_room_daily.message_count'
    union all select 'active_users', 'silver_user_daily.rows'
    union all select 'chats_with_messages', 'silver_user_daily.chat_count'
    union all select 'chats_with_messages', 'silver_message_daily.rows'
    union all select 'rooms_with_events', 'silver_room_daily.rows'
    union all select 'tool_calls', 'silver_message_daily.tool_call_count'
    union all select 'setting_changes', 'silver_active_user_setting_daily.change_count'
),

actual as (
    select 'silver_user_daily.message_count' as source, date_col, 'messages' as metric, sum(message_count) as value
    from {{ ref('silver_user_daily') }} where message_count > 0 group by date_col
    union all
    select 'silver_message_daily.message_count', date_col, 'messages', sum(message_count)
    from {{ ref('silver_message_daily') }} group by date_col
    union all
    select 'silver_room_daily.message_count', date_col, 'messages', sum(message_count)
    from {{ ref('silver_room_daily') }} where message_count > 0 group by date_col
    union all
    select 'silver_user_daily.rows', date_col, 'active_users', count(*)
    from {{ ref('silver_user_daily') }} group by date_col
    union all
    select 'silver_user_daily.chat_count', date_col, 'chats_with_messages', sum(chat_count)
    from {{ ref('silver_user_daily') }} where chat_count > 0 group by date_col
    union all
    select 'silver_message_daily.rows', date_col, 'chats_with_messages', count(*)
    from {{ ref('silver_message_daily') }} group by date_col
    union all
    select 'silver_room_daily.rows', date_col, 'rooms_with_events', count(*)
    from {{ ref('silver_room_daily') }} group by date_col
    union all
    select 'silver_message_daily.tool_call_count', date_col, 'tool_calls', sum(tool_call_count)
    from {{ ref('silver_message_daily') }} group by date_col
    union all
    select 'silver_active_user_setting_daily.change_count', date_col, 'setting_changes', sum(change_count)
    from {{ ref('silver_active_user_setting_daily') }} group by date_col
),

expected_per_source as (
    select s.source, e.date_col, e.metric, e.value
    from expected as e
    inner join metric_sources as s on s.metric = e.metric
)

select
    coalesce(e.source, a.source) as source,
    coalesce(e.date_col, a.date_col) as date_col,
    coalesce(e.metric, a.metric) as metric,
    e.value as bronze_value,
    a.value as silver_value
from expected_per_source as e
full outer join actual as a
    on a.source = e.source and a.date_col = e.date_col and a.metric = e.metric
where e.value is null
   or a.value is null
   or e.value <> a.value
