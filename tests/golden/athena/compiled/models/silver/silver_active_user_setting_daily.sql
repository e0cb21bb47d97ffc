

with changes as (
    select event_id, user_id, setting_name, setting_value, created_at, ingest_date, partition_date
    from "athena_analytics"."bronze_chat_events"
    where event_type = 'setting_changed'
    
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id, partition_date, setting_name
            order by created_at desc, event_id desc
        ) as recency_rank,
        count(*) over (partition by user_id, partition_date, setting_name) as changes_that_day,
        max(cast(ingest_date as timestamp(6))) over (
            partition by user_id, partition_date, setting_name
        ) as newest_arrival
    from changes
)

select
    user_id,
    partition_date as date_col,
    setting_name,
    setting_value,
    cast(changes_that_day as integer) as change_count,
    created_at as last_changed_at,
    newest_arrival as updated_at
from ranked
where recency_rank = 1
