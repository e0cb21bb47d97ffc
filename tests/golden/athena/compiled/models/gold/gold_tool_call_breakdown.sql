

with

user_days as (
    select user_id, date_col, tool_usage, updated_at
    from "athena_analytics"."silver_user_daily"
    
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
    cross join unnest(u.tool_usage) as t(tool_name, calls)
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
left join "athena_analytics"."tool_catalog" as c
    on c.tool_name = p.tool_name
