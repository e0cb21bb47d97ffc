{#- The design's metric_aggregates: each metric per minute, hour or day, with its
    dimensions as a JSON object. Incremental: a run adds the buckets of the days it has not
    aggregated yet, so the aggregates of days retention has moved out of `events` stay. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='aggregate_key',
    table_type='iceberg',
    partitioned_by=['time_granularity'],
  )
}}

with events as (
    select
        event_id,
        user_id,
        event_type,
        event_timestamp,
        event_date,
        {{ map_value('properties', "'country'") }} as country,
        {{ map_value('properties', "'device'") }} as device,
        try_cast({{ map_value('properties', "'amount'") }} as decimal(20, 2)) as amount
    from {{ ref('events') }}
    {% if is_incremental() %}
    where event_date > (select max(bucket_date) from {{ this }})
    {% endif %}
),

counts as (
{%- for granularity in ['minute', 'hour', 'day'] %}
    select 'event_count' as metric_name, 'count' as metric_type, '{{ granularity }}' as time_granularity,
           {{ bucket(granularity, 'event_timestamp') }} as bucket_start,
           cast(count(*) as decimal(20, 2)) as value, '{}' as dimensions
    from events group by 4
    union all
{%- endfor %}
{%- for granularity in ['hour', 'day'] %}
    select 'active_users', 'unique', '{{ granularity }}', {{ bucket(granularity, 'event_timestamp') }},
           cast(count(distinct user_id) as decimal(20, 2)), '{}'
    from events group by 4
    union all
    select 'revenue', 'sum', '{{ granularity }}', {{ bucket(granularity, 'event_timestamp') }},
           cast(sum(amount) as decimal(20, 2)),
           '{"country": "' || country || '", "device": "' || device || '"}'
    from events where event_type = 'purchase' group by 4, 6
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- endfor %}
)

select
    metric_name || '|' || time_granularity || '|' || cast(bucket_start as varchar) || '|' || dimensions as aggregate_key,
    metric_name,
    metric_type,
    time_granularity,
    bucket_start,
    value,
    dimensions,
    cast(bucket_start as date) as bucket_date
from counts
