{#- Landing lines that could not be loaded into bronze: invalid JSON, not a
    JSON object, or a required field missing or unparseable. Kept verbatim so
    nothing is lost; appended per new arrival day and landing table. Lines of
    erased data subjects (erased_subject) are left out. The append's ingest_date
    watermark loads no day twice, so a run over unchanged landing files appends
    nothing: reuse=true lets a state-aware build skip it then. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    reuse=true,
    partitioned_by=['ingest_date']
  )
}}

select
    cast('chat_events' as varchar) as source_table,
    raw,
    quarantine_reason,
    event_id,
    user_id,
    ingest_date
from {{ ref('stg_landing_chat_events') }}
where quarantine_reason is not null
  and not erased_subject
{% if is_incremental() %}
  and ingest_date > {{ high_watermark('ingest_date', floor="date '1900-01-01'", where="source_table = 'chat_events'") }}
{% endif %}

union all

select
    cast('reasoning_steps' as varchar) as source_table,
    raw,
    quarantine_reason,
    event_id,
    user_id,
    ingest_date
from {{ ref('stg_landing_reasoning_steps') }}
where quarantine_reason is not null
  and not erased_subject
{% if is_incremental() %}
  and ingest_date > {{ high_watermark('ingest_date', floor="date '1900-01-01'", where="source_table = 'reasoning_steps'") }}
{% endif %}
