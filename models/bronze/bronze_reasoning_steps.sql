{#- One row per reasoning step, keyed by (event_id, step_index): event_id is
    the chat 'message' event the step belongs to. Same incremental rule as
    bronze_chat_events. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['event_id', 'step_index'],
    partitioned_by=['partition_date']
  )
}}

with new_lines as (
    select *
    from {{ ref('stg_landing_reasoning_steps') }}
    where quarantine_reason is null
      and not erased_subject
    {% if is_incremental() %}
      and ingest_date > {{ high_watermark('ingest_date', floor="date '1900-01-01'") }}
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (partition by event_id, step_index order by ingest_date, raw) as arrival_rank
    from new_lines
)

select
    event_id,
    step_index,
    user_id,
    reasoning_step,
    step_details,
    created_at,
    ingest_date,
    partition_date
from ranked as r
where arrival_rank = 1
{% if is_incremental() %}
  and not exists (
      select 1 from {{ this }} as t
      where t.event_id = r.event_id and t.step_index = r.step_index
  )
{% endif %}
