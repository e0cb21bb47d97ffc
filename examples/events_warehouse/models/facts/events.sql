{#- The events fact, partitioned by year, month, day and hour (on Athena), each event once.
    A run adds the days after the newest one loaded; apply_retention moves events older than
    30 days out of it. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_id',
    table_type='iceberg',
    partitioned_by=['year', 'month', 'day', 'hour'],
  )
}}

select
    event_id,
    user_id,
    event_type,
    project_id,
    event_timestamp,
    properties,
    context,
    cast(event_timestamp as date) as event_date,
    cast(extract(year from event_timestamp) as integer) as year,
    cast(extract(month from event_timestamp) as integer) as month,
    cast(extract(day from event_timestamp) as integer) as day,
    cast(extract(hour from event_timestamp) as integer) as hour
from {{ ref('stg_events') }}
where event_id is not null and event_timestamp is not null
{% if is_incremental() %}
  and cast(event_timestamp as date) > (select max(event_date) from {{ this }})
{% endif %}
