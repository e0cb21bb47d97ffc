{#- Sessions as the design defines them: a visitor's (anonymous_id) events, ordered by
    time, start a new session after more than 30 minutes without an event. Bots and
    re-sent events (the same event_id again) are left out. Rebuilt whole on each run: a
    late event can join or split sessions of an earlier day. -#}

with events as (
    select distinct event_id, anonymous_id, event_timestamp
    from {{ ref('stg_raw_web_events') }}
    where not is_bot and event_id is not null and event_timestamp is not null
),

gaps as (
    select
        event_id,
        anonymous_id,
        event_timestamp,
        case
            when lag(event_timestamp) over (partition by anonymous_id order by event_timestamp, event_id) is null then 1
            when event_timestamp > lag(event_timestamp) over (partition by anonymous_id order by event_timestamp, event_id)
                                   + interval '30' minute then 1
            else 0
        end as starts_session
    from events
),

numbered as (
    select
        event_id,
        anonymous_id,
        event_timestamp,
        starts_session = 1 as is_session_start,
        sum(starts_session) over (
            partition by anonymous_id order by event_timestamp, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from gaps
)

select
    event_id,
    anonymous_id,
    event_timestamp,
    is_session_start,
    session_number,
    anonymous_id || '-' || cast(session_number as varchar) as session_key
from numbered
