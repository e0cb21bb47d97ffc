{#- Every event once (the first arrival of an event_id), in the design's table: partitioned
    by event_date and space_type, the 3D view as the `coordinates` struct. Each run merges
    the events that arrived since the last one (late ones included: their event_date is
    an earlier day's) on event_id; an event already loaded is not loaded again. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_id',
    table_type='iceberg',
    partitioned_by=['event_date', 'space_type'],
  )
}}

with arrived as (
    select *
    from {{ ref('stg_raw_web_events') }}
    where event_id is not null and event_timestamp is not null
    {% if is_incremental() %}
      and cast(ingest_date as date) > (select max(cast(processed_timestamp as date)) from {{ this }})
      and event_id not in (select event_id from {{ this }})
    {% endif %}
),

first_arrival as (
    select
        *,
        row_number() over (partition by event_id order by ingest_date, event_shape) as arrival
    from arrived
)

select
    event_id,
    event_timestamp,
    event_date,
    event_name,
    event_type,
    anonymous_id,
    user_id,
    session_id,
    space_id,
    space_name,
    space_type,
    room_id,
    room_name,
    community,
    building,
    floorplan,
    {{ coordinates('pitch', 'yaw', 'hfov') }} as coordinates,
    data_quality_score,
    is_bot,
    -- When the event arrived (its ingest day): stable, so a run again changes nothing.
    cast(ingest_date as timestamp) as processed_timestamp
from first_arrival
where arrival = 1
