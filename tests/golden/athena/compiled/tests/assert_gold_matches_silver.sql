-- Per event day, the gold tables agree with silver_user_daily and
-- silver_message_daily: gold_time_series totals are silver sums (total_users
-- recomputed from first-seen days), DAU is the day's silver users, tool calls add
-- up. Days from the first silver row newer than a gold table's high watermark on
-- are skipped for that table (silver has moved on and gold has not run yet);
-- every earlier day must match exactly. Returns one row per mismatch.
-- A data-subject erasure deletes silver rows but leaves the anonymous gold
-- aggregates alone: between an erasure and gold's next run this test reports the
-- days the erased subjects counted in; that run recomputes them (the gold models
-- pick up days whose stored values no longer match silver), and then it passes.

with user_days as (
    select * from "athena_analytics"."silver_user_daily"
),

message_days as (
    select * from "athena_analytics"."silver_message_daily"
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
    select 'gold_time_series' as model, date_col, 'active_users' as metric, count(*) as value
    from user_days group by date_col
    union all
    select 'gold_time_series', date_col, 'total_messages', sum(message_count)
    from user_days group by date_col
    union all
    select 'gold_time_series', date_col, 'unique_chats', count(*)
    from message_days group by date_col
    union all
    select 'gold_time_series', d.date_col, 'total_users', count(f.user_id)
    from days as d
    inner join first_seen as f on f.first_date <= d.date_col
    group by d.date_col
    union all
    select 'gold_active_user_breakdown', date_col, 'dau', count(*)
    from user_days group by date_col
    union all
    select 'gold_tool_call_breakdown', date_col, 'tool_calls', sum(tool_call_count)
    from message_days group by date_col having sum(tool_call_count) > 0
),

actual as (
    select 'gold_time_series' as model, date_col, 'active_users' as metric, active_users as value
    from "athena_analytics"."gold_time_series"
    union all
    select 'gold_time_series', date_col, 'total_messages', total_messages
    from "athena_analytics"."gold_time_series"
    union all
    select 'gold_time_series', date_col, 'unique_chats', unique_chats
    from "athena_analytics"."gold_time_series" where unique_chats > 0
    union all
    select 'gold_time_series', date_col, 'total_users', total_users
    from "athena_analytics"."gold_time_series"
    union all
    select 'gold_active_user_breakdown', date_col, 'dau', dau
    from "athena_analytics"."gold_active_user_breakdown"
    union all
    select 'gold_tool_call_breakdown', date_col, 'tool_calls', sum(call_count)
    from "athena_analytics"."gold_tool_call_breakdown" group by date_col
),

gold_watermarks as (
    select 'gold_time_series' as model, max(updated_at) as watermark from "athena_analytics"."gold_time_series"
    union all
    select 'gold_active_user_breakdown', max(updated_at) from "athena_analytics"."gold_active_user_breakdown"
    union all
    select 'gold_tool_call_breakdown', max(updated_at) from "athena_analytics"."gold_tool_call_breakdown"
),

comparable_until as (
    -- the first day silver changed after the gold table's last run (NULL: none)
    select w.model, min(u.date_col) as first_pending_day
    from gold_watermarks as w
    left join user_days as u on u.updated_at > w.watermark
    group by w.model
),

compared as (
    select
        coalesce(e.model, a.model) as model,
        coalesce(e.date_col, a.date_col) as date_col,
        coalesce(e.metric, a.metric) as metric,
        e.value as silver_value,
        a.value as gold_value
    from expected as e
    full outer join actual as a
        on a.model = e.model and a.date_col = e.date_col and a.metric = e.metric
)

select c.*
from compared as c
inner join comparable_until as p on p.model = c.model
where (p.first_pending_day is null or c.date_col < p.first_pending_day)
  and (c.silver_value is null or c.gold_value is null or c.silver_value <> c.gold_value)
