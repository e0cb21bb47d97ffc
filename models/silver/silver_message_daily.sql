{#- One row per chat and event day with at least one message, keyed by
    chat_id (data-subject requests reach it through the user's chats). -#}
{{ config(tags=['daily']) }}

with messages as (
    select chat_id, user_id, tool_name, created_at, ingest_date, partition_date
    from {{ ref('bronze_chat_events') }}
    where event_type = 'message'
    {% if is_incremental() %}
      and partition_date in (
          select distinct partition_date
          from {{ ref('bronze_chat_events') }}
          where event_type = 'message'
            and {{ arrival_timestamp('ingest_date') }} > {{ high_watermark('updated_at') }}
      )
    {% endif %}
)

select
    chat_id,
    partition_date as date_col,
    min(user_id) as user_id,
    cast(count(*) as integer) as message_count,
    cast(count(tool_name) as integer) as tool_call_count,
    min(created_at) as first_message_at,
    max(created_at) as last_message_at,
    max({{ arrival_timestamp('ingest_date') }}) as updated_at
from messages
group by chat_id, partition_date
