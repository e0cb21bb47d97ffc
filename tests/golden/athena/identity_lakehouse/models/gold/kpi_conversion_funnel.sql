

with sessions as (
    select
        dt,
        session_id,
        max(case when event_name = 'checkout_started' then 1 else 0 end) as checked_out,
        max(case when event_name = 'booking_created' then 1 else 0 end) as booked
    from "identity_lakehouse"."silver_events"
    group by dt, session_id
)

select
    dt,
    count(*) as sessions,
    sum(checked_out) as checkout_sessions,
    sum(booked) as booking_sessions,
    round(cast(sum(booked) as double) / count(*), 4) as conversion_rate
from sessions
group by dt
