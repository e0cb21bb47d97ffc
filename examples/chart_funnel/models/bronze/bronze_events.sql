{#- The design's bronze table: every event once as it landed, partitioned by events_type
    (an identity partition derived from event_type), ingest_dt and hour. A run adds the
    arrival days after the newest one loaded. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_id',
    table_type='iceberg',
    partitioned_by=['events_type', 'ingest_dt', 'hour'],
  )
}}

with landed as (
    select
        {{ json_text('raw', '$.event_id') }} as event_id,
        {{ json_text('raw', '$.event_type') }} as event_type,
        {{ json_text('raw', '$.schema_version') }} as schema_version,
        {{ iso_timestamp(json_text('raw', '$.ts')) }} as ts,
        cast({{ json_text('raw', '$.ingest_ts') }} as bigint) as ingest_ts,
        {{ json_text('raw', '$.source') }} as source,
        raw,
        cast(ingest_dt as date) as ingest_dt
    from {{ source('raw', 'events') }}
    {% if is_incremental() %}
    where cast(ingest_dt as date) > (select max(ingest_dt) from {{ this }})
    {% endif %}
)

select
    event_id,
    event_type,
    schema_version,
    ts,
    ingest_ts,
    source,
    raw,
    ingest_dt,
    {{ hour_text('ts') }} as hour,
    event_type as events_type
from landed
where event_id is not null
