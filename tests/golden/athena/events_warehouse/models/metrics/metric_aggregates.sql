

with events as (
    select
        event_id,
        user_id,
        event_type,
        event_timestamp,
        event_date,
        element_at(properties, 'country') as country,
        element_at(properties, 'device') as device,
        try_cast(element_at(properties, 'amount') as decimal(20, 2)) as amount
    from "events_warehouse"."events"
    
),

counts as (
    select 'event_count' as metric_name, 'count' as metric_type, 'minute' as time_granularity,
           date_trunc('minute', event_timestamp) as bucket_start,
           cast(count(*) as decimal(20, 2)) as value, '{}' as dimensions
    from events group by 4
    union all
    select 'event_count' as metric_name, 'count' as metric_type, 'hour' as time_granularity,
           date_trunc('hour', event_timestamp) as bucket_start,
           cast(count(*) as decimal(20, 2)) as value, '{}' as dimensions
    from events group by 4
    union all
    select 'event_count' as metric_name, 'count' as metric_type, 'day' as time_granularity,
           date_trunc('day', event_timestamp) as bucket_start,
           cast(count(*) as decimal(20, 2)) as value, '{}' as dimensions
    from events group by 4
    union all
    select 'active_users', 'unique', 'hour', date_trunc('hour', event_timestamp),
           cast(count(distinct user_id) as decimal(20, 2)), '{}'
    from events group by 4
    union all
    select 'revenue', 'sum', 'hour', date_trunc('hour', event_timestamp),
           cast(sum(amount) as decimal(20, 2)),
           '{"country": "' || country || '", "device": "' || device || '"}'
    from events where event_type = 'purchase' group by 4, 6
    union all
    select 'active_users', 'unique', 'day', date_trunc('day', event_timestamp),
           cast(count(distinct user_id) as decimal(20, 2)), '{}'
    from events group by 4
    union all
    select 'revenue', 'sum', 'day', date_trunc('day', event_timestamp),
           cast(sum(amount) as decimal(20, 2)),
           '{"country": "' || country || '", "device": "' || device || '"}'
    from events where event_type = 'purchase' group by 4, 6
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
