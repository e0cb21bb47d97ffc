-- Per event day, the gold tables agree with silver: gold_time_series totals are
-- silver sums (total_users recomputed from first-seen days), DAU is the day's
-- silver users, and tool calls add up. Returns one row per mismatch.

with user_days as (
    select * from {{ ref('silver_user_daily') }}
),

first_seen as (
    select user_id, min(date_col) as first_date
    from user_days
    group by user_id
),

days as (
    select distinct date_col from user_days
),

expected as (
    select date_col, 'active_users' as metric, count(*) as value
    from user_days group by date_col
    union all
    select date_col, 'total_messages', sum(message_count)
    from user_days group by date_col
    union all
    select date_col, 'unique_chats', count(*)
    from {{ ref('silver_message_daily') }} group by date_col
    union all
    select d.date_col, 'total_users', count(f.user_id)
    from days as d
    inner join first_seen as f on f.first_date <= d.date_col
    group by d.date_col
    union all
    select date_col, 'dau', count(*)
    from user_days group by date_col
    union all
    select date_col, 'tool_calls', sum(tool_call_count)
    from {{ ref('silver_message_daily') }} group by date_col having sum(tool_call_count) > 0
),

actual as (
    select date_col, 'active_users' as metric, active_users as value from {{ ref('gold_time_series') }}
    union all
    select date_col, 'total_messages', total_messages from {{ ref('gold_time_series') }}
    union all
    select date_col, 'unique_chats', unique_chats from {{ ref('gold_time_series') }}
    where unique_chats > 0
    union all
    select date_col, 'total_users', total_users from {{ ref('gold_time_series') }}
    union all
    select date_col, 'dau', dau from {{ ref('gold_active_user_breakdown') }}
    union all
    select date_col, 'tool_calls', sum(call_count) from {{ ref('gold_tool_call_breakdown') }}
    group by date_col
)

select
    coalesce(e.date_col, a.date_col) as date_col,
    coalesce(e.metric, a.metric) as metric,
    e.value as silver_value,
    a.value as gold_value
from expected as e
full outer join actual as a
    on a.date_col = e.date_col and a.metric = e.metric
where e.value is null
   or a.value is null
   or e.value <> a.value
