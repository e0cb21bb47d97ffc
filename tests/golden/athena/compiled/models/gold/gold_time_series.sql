

with user_days as (
    select user_id, date_col, message_count, chat_count, updated_at
    from "athena_analytics"."silver_user_daily"
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

select
    date_col,
    cast(total_users as integer) as total_users,
    cast(active_users as integer) as active_users,
    cast(total_messages as integer) as total_messages,
    cast(unique_chats as integer) as unique_chats,
    round(cast(total_messages as double) / nullif(active_users, 0), 4) as avg_messages_per_user,
    updated_at
from series

