{#- One row per room (= chat_id) and event day with any chat-scoped event
    (chat_started or message). -#}
{{ config(tags=['daily']) }}

with events as (
    select chat_id, user_id, event_type, created_at, ingest_date, partition_date
    from {{ ref('bronze_chat_events') }}
    where chat_id is not null
    {% if is_incremental() %}
      and partition_date in (
          select distinct partition_date
          from {{ ref('bronze_chat_events') }}
          where chat_id is not null
            and {{ arrival_timestamp('ingest_date') }} > {{ high_watermark('updated_at') }}
      )
    {% endif %}
)

select
    chat_id as room_id,
    partition_date as date_col,
    min(user_id) as user_id,
    cast(count(distinct user_id) as integer) as user_count,
    cast(count(case when event_type = 'message' then 1 end) as integer) as message_count,
    count(case when event_type = 'chat_started' then 1 end) > 0 as is_new_room,
    min(created_at) as created_at,
    max({{ arrival_timestamp('ingest_date') }}) as updated_at
from events
group by chat_id, partition_date
