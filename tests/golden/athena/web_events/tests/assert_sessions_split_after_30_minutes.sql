-- Inside a session no two consecutive events are more than 30 minutes apart, and a new
-- session of the same visitor starts more than 30 minutes after the last event before it.
with ordered as (
    select
        anonymous_id,
        session_number,
        event_timestamp,
        lag(event_timestamp) over (partition by anonymous_id order by event_timestamp, event_id) as previous_at,
        lag(session_number) over (partition by anonymous_id order by event_timestamp, event_id) as previous_session
    from "web_events_analytics"."int_session_boundaries"
)

select *
from ordered
where previous_at is not null
  and (
      (session_number = previous_session and event_timestamp > previous_at + interval '30' minute)
      or (session_number <> previous_session and event_timestamp <= previous_at + interval '30' minute)
  )
