

with user_days as (
    select user_id, date_col, updated_at
    from "athena_analytics"."silver_user_daily"
),

spine as (
    select distinct date_col
    from user_days
    
),

windowed as (
    select
        s.date_col,
        u.user_id,
        u.date_col as activity_date,
        u.updated_at
    from spine as s
    inner join user_days as u
        on u.date_col <= s.date_col
       and u.date_col >= date_add('day', -27, s.date_col)
),

counts as (
    select
        date_col,
        count(distinct case when activity_date = date_col then user_id end) as dau,
        count(distinct case when activity_date >= date_add('day', -6, date_col) then user_id end) as wau,
        count(distinct user_id) as mau,
        max(updated_at) as updated_at
    from windowed
    group by date_col
)

select
    date_col,
    cast(dau as integer) as dau,
    cast(wau as integer) as wau,
    cast(mau as integer) as mau,
    round(cast(dau as double) / nullif(mau, 0), 4) as dau_mau_ratio,
    updated_at
from counts
