-- Per event day, every silver table agrees with bronze: message, user, chat,
-- room, tool-call and setting-change counts. Each silver table is compared with
-- the bronze rows that had arrived by its high watermark (max updated_at), so a
-- table on a slower schedule (the weekly settings table) or bronze loads that
-- landed after the silver run do not count as mismatches; everything up to the
-- watermark must match exactly. Returns one row per (model, day, metric) whose
-- value differs or is missing on one side.

with bronze as (
    select
        *,
        cast(ingest_date as timestamp(6)) as arrived_at
    from "athena_analytics"."bronze_chat_events"
),

watermarks as (
    select 'silver_user_daily' as model, max(updated_at) as watermark from "athena_analytics"."silver_user_daily"
    union all
    select 'silver_message_daily' as model, max(updated_at) as watermark from "athena_analytics"."silver_message_daily"
    union all
    select 'silver_room_daily' as model, max(updated_at) as watermark from "athena_analytics"."silver_room_daily"
    union all
    select 'silver_active_user_setting_daily' as model, max(updated_at) as watermark from "athena_analytics"."silver_active_user_setting_daily"
    
),

expected as (
    select 'silver_user_daily' as model, partition_date as date_col, 'messages' as metric, count(*) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_user_daily')
    group by partition_date
    union all
    select 'silver_user_daily' as model, partition_date as date_col, 'active_users' as metric, count(distinct user_id) as value
    from bronze
    where 1 = 1
      and arrived_at <= (select watermark from watermarks where model = 'silver_user_daily')
    group by partition_date
    union all
    select 'silver_user_daily' as model, partition_date as date_col, 'chats_with_messages' as metric, count(distinct chat_id) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_user_daily')
    group by partition_date
    union all
    select 'silver_message_daily' as model, partition_date as date_col, 'messages' as metric, count(*) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_message_daily')
    group by partition_date
    union all
    select 'silver_message_daily' as model, partition_date as date_col, 'chats_with_messages' as metric, count(distinct chat_id) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_message_daily')
    group by partition_date
    union all
    select 'silver_message_daily' as model, partition_date as date_col, 'tool_calls' as metric, count(tool_name) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_message_daily')
    group by partition_date
    union all
    select 'silver_room_daily' as model, partition_date as date_col, 'messages' as metric, count(*) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_room_daily')
    group by partition_date
    union all
    select 'silver_room_daily' as model, partition_date as date_col, 'rooms_with_events' as metric, count(distinct chat_id) as value
    from bronze
    where chat_id is not null
      and arrived_at <= (select watermark from watermarks where model = 'silver_room_daily')
    group by partition_date
    union all
    select 'silver_active_user_setting_daily' as model, partition_date as date_col, 'setting_changes' as metric, count(*) as value
    from bronze
    where event_type = 'setting_changed'
      and arrived_at <= (select watermark from watermarks where model = 'silver_active_user_setting_daily')
    group by partition_date
    union all
    select 'silver_active_user_setting_daily' as model, partition_date as date_col, 'user_settings_changed' as metric, count(distinct user_id || '|' || setting_name) as value
    from bronze
    where event_type = 'setting_changed'
      and arrived_at <= (select watermark from watermarks where model = 'silver_active_user_setting_daily')
    group by partition_date
    
),

actual as (
    select 'silver_user_daily' as model, date_col, 'messages' as metric, sum(message_count) as value
    from "athena_analytics"."silver_user_daily"
    where message_count > 0
    group by date_col
    union all
    select 'silver_user_daily' as model, date_col, 'active_users' as metric, count(*) as value
    from "athena_analytics"."silver_user_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_user_daily' as model, date_col, 'chats_with_messages' as metric, sum(chat_count) as value
    from "athena_analytics"."silver_user_daily"
    where chat_count > 0
    group by date_col
    union all
    select 'silver_message_daily' as model, date_col, 'messages' as metric, sum(message_count) as value
    from "athena_analytics"."silver_message_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_message_daily' as model, date_col, 'chats_with_messages' as metric, count(*) as value
    from "athena_analytics"."silver_message_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_message_daily' as model, date_col, 'tool_calls' as metric, sum(tool_call_count) as value
    from "athena_analytics"."silver_message_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_room_daily' as model, date_col, 'messages' as metric, sum(message_count) as value
    from "athena_analytics"."silver_room_daily"
    where message_count > 0
    group by date_col
    union all
    select 'silver_room_daily' as model, date_col, 'rooms_with_events' as metric, count(*) as value
    from "athena_analytics"."silver_room_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_active_user_setting_daily' as model, date_col, 'setting_changes' as metric, sum(change_count) as value
    from "athena_analytics"."silver_active_user_setting_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_active_user_setting_daily' as model, date_col, 'user_settings_changed' as metric, count(*) as value
    from "athena_analytics"."silver_active_user_setting_daily"
    where 1 = 1
    group by date_col
    
)

select
    coalesce(e.model, a.model) as model,
    coalesce(e.date_col, a.date_col) as date_col,
    coalesce(e.metric, a.metric) as metric,
    e.value as bronze_value,
    a.value as silver_value
from expected as e
full outer join actual as a
    on a.model = e.model and a.date_col = e.date_col and a.metric = e.metric
where e.value is null
   or a.value is null
   or e.value <> a.value
