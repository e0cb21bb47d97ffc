{#- One row per user, event day and setting the user changed that day: the
    value in force at the end of the day and how often it changed. Runs on the
    weekly schedule; the watermark makes it pick up every day since its last run. -#}
{{ config(tags=['weekly']) }}

with changes as (
    select event_id, user_id, setting_name, setting_value, created_at, ingest_date, partition_date
    from {{ ref('bronze_chat_events') }}
    where event_type = 'setting_changed'
    {% if is_incremental() %}
      and partition_date in (
          select distinct partition_date
          from {{ ref('bronze_chat_events') }}
          where event_type = 'setting_changed'
            and {{ arrival_timestamp('ingest_date') }} > {{ high_watermark('updated_at') }}
      )
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id, partition_date, setting_name
            order by created_at desc, event_id desc
        ) as recency_rank,
        count(*) over (partition by user_id, partition_date, setting_name) as changes_that_day,
        max({{ arrival_timestamp('ingest_date') }}) over (
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
