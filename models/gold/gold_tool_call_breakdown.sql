{#- Tool calls per event day and tool, from the tool_usage maps of
    silver_user_daily. Each day depends only on its own silver rows, so only
    the days with changed silver rows (new ones, or rows deleted by a
    data-subject erasure) are recomputed. A day left without tool calls in
    silver is deleted. -#}
{{
  config(
    tags=['daily'],
    post_hook="delete from {{ this }} where date_col not in (select date_col from {{ ref('silver_user_daily') }} where cardinality(tool_usage) > 0)"
  )
}}

with
{%- if is_incremental() %}
-- Days whose stored rows no longer agree with silver: silver rows were deleted after
-- this table's last run (a data-subject erasure), or a day is missing on one side.
-- A deleted user-day either had tool calls (then the day's (user, tool) pairs, the
-- sum of user_count, drop) or can only have moved the day's updated_at.
-- Adds nothing when silver only grew.
silver_days as (
    select
        date_col,
        sum(cardinality(tool_usage)) as user_tool_pairs,
        max(updated_at) as updated_at
    from {{ ref('silver_user_daily') }}
    group by date_col
    having sum(cardinality(tool_usage)) > 0
),

stored_days as (
    select date_col, sum(user_count) as user_tool_pairs, max(updated_at) as updated_at
    from {{ this }}
    group by date_col
),

changed_days as (
    select date_col
    from {{ ref('silver_user_daily') }}
    where updated_at > {{ high_watermark('updated_at') }}
    union
    select coalesce(s.date_col, t.date_col)
    from silver_days as s
    full outer join stored_days as t
        on t.date_col = s.date_col
    where s.date_col is null
       or t.date_col is null
       or t.user_tool_pairs <> s.user_tool_pairs
       or t.updated_at <> s.updated_at
),
{%- endif %}

user_days as (
    select user_id, date_col, tool_usage, updated_at
    from {{ ref('silver_user_daily') }}
    {% if is_incremental() %}
    where date_col in (select date_col from changed_days)
    {% endif %}
),

day_freshness as (
    select date_col, max(updated_at) as updated_at
    from user_days
    group by date_col
),

calls as (
    select
        u.date_col,
        u.user_id,
        t.tool_name,
        t.calls
    from user_days as u
    {{ unnest_count_map('u.tool_usage', 't', 'tool_name', 'calls') }}
),

per_tool as (
    select
        date_col,
        tool_name,
        sum(calls) as call_count,
        count(distinct user_id) as user_count
    from calls
    group by date_col, tool_name
),

per_day as (
    select date_col, sum(call_count) as day_call_count
    from per_tool
    group by date_col
)

select
    p.date_col,
    p.tool_name,
    coalesce(c.tool_category, 'unknown') as tool_category,
    cast(p.call_count as integer) as call_count,
    cast(p.user_count as integer) as user_count,
    round(cast(p.call_count as double) / nullif(d.day_call_count, 0), 4) as share_of_calls,
    cast(row_number() over (
        partition by p.date_col order by p.call_count desc, p.tool_name
    ) as integer) as tool_rank,
    f.updated_at
from per_tool as p
inner join per_day as d
    on d.date_col = p.date_col
inner join day_freshness as f
    on f.date_col = p.date_col
left join {{ ref('tool_catalog') }} as c
    on c.tool_name = p.tool_name
