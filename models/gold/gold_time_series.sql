{#- One row per event day: users, activity and messages. total_users is
    cumulative, so a change on day D (a late event, or silver rows deleted by a
    data-subject erasure) recomputes every day from D on; days before D cannot
    change and are left alone. A day left without silver rows is deleted. -#}
{{
  config(
    tags=['daily'],
    post_hook="delete from {{ this }} where date_col not in (select date_col from {{ ref('silver_user_daily') }})"
  )
}}

with user_days as (
    select user_id, date_col, message_count, chat_count, updated_at
    from {{ ref('silver_user_daily') }}
),

first_seen as (
    select user_id, min(date_col) as first_date
    from user_days
    group by user_id
),

new_users as (
    select first_date as date_col, count(*) as new_user_count
    from first_seen
    group by first_date
),

daily as (
    select
        date_col,
        count(*) as active_users,
        sum(message_count) as total_messages,
        sum(chat_count) as unique_chats,
        max(updated_at) as updated_at
    from user_days
    group by date_col
),

series as (
    select
        d.date_col,
        sum(coalesce(n.new_user_count, 0)) over (
            order by d.date_col rows between unbounded preceding and current row
        ) as total_users,
        d.active_users,
        d.total_messages,
        d.unique_chats,
        max(d.updated_at) over (
            order by d.date_col rows between unbounded preceding and current row
        ) as updated_at
    from daily as d
    left join new_users as n
        on n.date_col = d.date_col
)
{%- if is_incremental() %},

-- Days whose stored row no longer agrees with silver: silver rows were deleted after
-- this table's last run (a data-subject erasure: every deleted user-day lowers its
-- day's active_users), or a day is missing on one side. Adds nothing when silver only
-- grew, since then every changed day is also past the watermark.
stale_days as (
    select coalesce(d.date_col, t.date_col) as date_col
    from daily as d
    full outer join {{ this }} as t
        on t.date_col = d.date_col
    where d.date_col is null
       or t.date_col is null
       or t.active_users <> d.active_users
       or t.total_messages <> d.total_messages
),

changed_days as (
    select date_col from user_days where updated_at > {{ high_watermark('updated_at') }}
    union all
    select date_col from stale_days
)
{%- endif %}

select
    date_col,
    cast(total_users as integer) as total_users,
    cast(active_users as integer) as active_users,
    cast(total_messages as integer) as total_messages,
    cast(unique_chats as integer) as unique_chats,
    round(cast(total_messages as double) / nullif(active_users, 0), 4) as avg_messages_per_user,
    updated_at
from series
{% if is_incremental() %}
where date_col >= (select min(date_col) from changed_days)
{% endif %}
