-- Per event day, every silver table agrees with bronze: message, user, chat,
-- room, tool-call and setting-change counts. Each silver table is compared with
-- the bronze rows that had arrived by its high watermark (max updated_at), so a
-- table on a slower schedule (the weekly settings table) or bronze loads that
-- landed after the silver run do not count as mismatches; everything up to the
-- watermark must match exactly. Returns one row per (model, day, metric) whose
-- value differs or is missing on one side.

{%- set silver = {
    'silver_user_daily': ref('silver_user_daily'),
    'silver_message_daily': ref('silver_message_daily'),
    'silver_room_daily': ref('silver_room_daily'),
    'silver_active_user_setting_daily': ref('silver_active_user_setting_daily'),
} %}
{#- (model, metric, bronze rows, bronze value, silver value, silver rows) -#}
{%- set checks = [
    ('silver_user_daily', 'messages', "event_type = 'message'", 'count(*)', 'sum(message_count)', 'message_count > 0'),
    ('silver_user_daily', 'active_users', '1 = 1', 'count(distinct user_id)', 'count(*)', '1 = 1'),
    ('silver_user_daily', 'chats_with_messages', "event_type = 'message'", 'count(distinct chat_id)', 'sum(chat_count)', 'chat_count > 0'),
    ('silver_message_daily', 'messages', "event_type = 'message'", 'count(*)', 'sum(message_count)', '1 = 1'),
    ('silver_message_daily', 'chats_with_messages', "event_type = 'message'", 'count(distinct chat_id)', 'count(*)', '1 = 1'),
    ('silver_message_daily', 'tool_calls', "event_type = 'message'", 'count(tool_name)', 'sum(tool_call_count)', '1 = 1'),
    ('silver_room_daily', 'messages', "event_type = 'message'", 'count(*)', 'sum(message_count)', 'message_count > 0'),
    ('silver_room_daily', 'rooms_with_events', 'chat_id is not null', 'count(distinct chat_id)', 'count(*)', '1 = 1'),
    ('silver_active_user_setting_daily', 'setting_changes', "event_type = 'setting_changed'", 'count(*)', 'sum(change_count)', '1 = 1'),
    ('silver_active_user_setting_daily', 'user_settings_changed', "event_type = 'setting_changed'", "count(distinct user_id || '|' || setting_name)", 'count(*)', '1 = 1'),
] %}

with bronze as (
    select
        *,
        {{ arrival_timestamp('ingest_date') }} as arrived_at
    from {{ ref('bronze_chat_events') }}
),

watermarks as (
    {%- for model, relation in silver.items() %}
    select '{{ model }}' as model, max(updated_at) as watermark from {{ relation }}
    {{ "union all" if not loop.last else "" }}
    {%- endfor %}
),

expected as (
    {%- for model, metric, bronze_rows, bronze_value, silver_value, silver_rows in checks %}
    select '{{ model }}' as model, partition_date as date_col, '{{ metric }}' as metric, {{ bronze_value }} as value
    from bronze
    where {{ bronze_rows }}
      and arrived_at <= (select watermark from watermarks where model = '{{ model }}')
    group by partition_date
    {{ "union all" if not loop.last else "" }}
    {%- endfor %}
),

actual as (
    {%- for model, metric, bronze_rows, bronze_value, silver_value, silver_rows in checks %}
    select '{{ model }}' as model, date_col, '{{ metric }}' as metric, {{ silver_value }} as value
    from {{ silver[model] }}
    where {{ silver_rows }}
    group by date_col
    {{ "union all" if not loop.last else "" }}
    {%- endfor %}
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
