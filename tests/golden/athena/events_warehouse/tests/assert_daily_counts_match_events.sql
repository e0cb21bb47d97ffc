-- Each day still in `events` has a daily event_count equal to its events, and every hour
-- and minute bucket of that day sums to the same.
with by_day as (
    select event_date, count(*) as events
    from "events_warehouse"."events"
    group by event_date
),

aggregated as (
    select bucket_date, time_granularity, sum(value) as value
    from "events_warehouse"."metric_aggregates"
    where metric_name = 'event_count'
    group by bucket_date, time_granularity
)

select d.event_date, a.time_granularity, d.events, a.value
from by_day as d
left join aggregated as a on a.bucket_date = d.event_date
where a.value is null or a.value <> d.events
