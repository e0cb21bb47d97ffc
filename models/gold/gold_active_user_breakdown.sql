{#- Daily, weekly and monthly active users per event day (rolling windows of
    var wau_window_days / mau_window_days days ending on date_col). A change
    on day D (new silver rows, or silver rows deleted by a data-subject erasure)
    recomputes every day from D on (their windows may include D). A day left
    without silver rows is deleted. -#}
{{
  config(
    tags=['daily', 'weekly', 'monthly'],
    post_hook="delete from {{ this }} where date_col not in (select date_col from {{ ref('silver_user_daily') }})"
  )
}}

{%- set wau_days = var('wau_window_days', 7) | int %}
{%- set mau_days = var('mau_window_days', 28) | int %}

with user_days as (
    select user_id, date_col, updated_at
    from {{ ref('silver_user_daily') }}
),

{%- if is_incremental() %}

-- Days whose stored row no longer agrees with silver: silver rows were deleted after
-- this table's last run (a data-subject erasure: every deleted user-day lowers its
-- day's DAU), or a day is missing on one side. Adds nothing when silver only grew.
stale_days as (
    select coalesce(s.date_col, t.date_col) as date_col
    from (
        select date_col, count(*) as dau
        from user_days
        group by date_col
    ) as s
    full outer join {{ this }} as t
        on t.date_col = s.date_col
    where s.date_col is null
       or t.date_col is null
       or t.dau <> s.dau
),

changed_days as (
    select date_col from user_days where updated_at > {{ high_watermark('updated_at') }}
    union all
    select date_col from stale_days
),
{%- endif %}

spine as (
    select distinct date_col
    from user_days
    {% if is_incremental() %}
    where date_col >= (select min(date_col) from changed_days)
    {% endif %}
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
       and u.date_col >= {{ add_days('s.date_col', 1 - mau_days) }}
),

counts as (
    select
        date_col,
        count(distinct case when activity_date = date_col then user_id end) as dau,
        count(distinct case when activity_date >= {{ add_days('date_col', 1 - wau_days) }} then user_id end) as wau,
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
