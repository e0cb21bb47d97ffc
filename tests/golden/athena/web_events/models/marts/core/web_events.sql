

with arrived as (
    select *
    from "web_events_analytics"."stg_raw_web_events"
    where event_id is not null and event_timestamp is not null
    
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
    case when pitch is null then null
       else cast(row(pitch, yaw, hfov) as row(pitch double, yaw double, hfov double)) end as coordinates,
    data_quality_score,
    is_bot,
    -- When the event arrived (its ingest day): stable, so a run again changes nothing.
    cast(ingest_date as timestamp) as processed_timestamp
from first_arrival
where arrival = 1
