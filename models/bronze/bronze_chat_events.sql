{#- One row per chat event (event_id), parsed from the landing JSON.
    Incremental: reads only arrival days after the newest ingest_date already
    loaded, drops exact duplicates (the first arrival wins, as in a full
    refresh) and merges on event_id. Lines of erased data subjects are never
    loaded (erased_subject, from the rights ledger), so neither a full refresh nor
    a re-sent event brings an erased user back. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_id',
    partitioned_by=['partition_date']
  )
}}

with new_lines as (
    select *
    from {{ ref('stg_landing_chat_events') }}
    where quarantine_reason is null
      and not erased_subject
    {% if is_incremental() %}
      and ingest_date > {{ high_watermark('ingest_date', floor="date '1900-01-01'") }}
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (partition by event_id order by ingest_date, raw) as arrival_rank
    from new_lines
)

select
    event_id,
    event_type,
    user_id,
    chat_id,
    message,
    tool_name,
    setting_name,
    setting_value,
    created_at,
    ingest_date,
    partition_date
from ranked as r
where arrival_rank = 1
{% if is_incremental() %}
  -- a re-sent event already loaded from an earlier arrival day keeps its first arrival
  and not exists (select 1 from {{ this }} as t where t.event_id = r.event_id)
{% endif %}
