with raw as (
    select raw, ingest_date
    from "web_events_raw"."raw_events"
),

shaped as (
    select
        ingest_date,
        case when json_extract_scalar(raw, '$.eventData.type') is not null then 'nested' else 'legacy' end as event_shape,
        coalesce(json_extract_scalar(raw, '$._id."$oid"'), json_extract_scalar(raw, '$.messageId')) as event_id,
        coalesce(json_extract_scalar(raw, '$.eventTimestamp."$date"'), json_extract_scalar(raw, '$.timestamp')) as event_time_text,
        coalesce(json_extract_scalar(raw, '$.eventData.type'), json_extract_scalar(raw, '$.type')) as event_type,
        json_extract_scalar(raw, '$.eventData.event') as track_event,
        coalesce(json_extract_scalar(raw, '$.metadata.anonymousId'), json_extract_scalar(raw, '$.anonymousId')) as anonymous_id,
        coalesce(json_extract_scalar(raw, '$.eventData.userId'), json_extract_scalar(raw, '$.userId')) as user_id,
        coalesce(json_extract_scalar(raw, '$.eventData.sessionId'), json_extract_scalar(raw, '$.sessionId')) as session_id,
        coalesce(json_extract_scalar(raw, '$.eventData.context.userAgent'), json_extract_scalar(raw, '$.userAgent')) as user_agent,
        coalesce(json_extract_scalar(raw, '$.eventData.properties.spaceId'), json_extract_scalar(raw, '$.properties.spaceId')) as space_id,
        coalesce(json_extract_scalar(raw, '$.eventData.properties.spaceName'), json_extract_scalar(raw, '$.properties.spaceName')) as space_name,
        coalesce(json_extract_scalar(raw, '$.eventData.properties.spaceType'), json_extract_scalar(raw, '$.properties.spaceType')) as space_type,
        coalesce(json_extract_scalar(raw, '$.eventData.properties.roomId'), json_extract_scalar(raw, '$.properties.roomId')) as room_id,
        coalesce(json_extract_scalar(raw, '$.eventData.properties.roomName'), json_extract_scalar(raw, '$.properties.roomName')) as room_name,
        coalesce(json_extract_scalar(raw, '$.eventData.properties.community'), json_extract_scalar(raw, '$.properties.community')) as community,
        coalesce(json_extract_scalar(raw, '$.eventData.properties.building'), json_extract_scalar(raw, '$.properties.building')) as building,
        coalesce(json_extract_scalar(raw, '$.eventData.properties.floorplan'), json_extract_scalar(raw, '$.properties.floorplan')) as floorplan,
        try_cast(coalesce(json_extract_scalar(raw, '$.eventData.properties.coordinates.pitch'), json_extract_scalar(raw, '$.properties.coordinates.pitch')) as double) as pitch,
        try_cast(coalesce(json_extract_scalar(raw, '$.eventData.properties.coordinates.yaw'), json_extract_scalar(raw, '$.properties.coordinates.yaw')) as double) as yaw,
        try_cast(coalesce(json_extract_scalar(raw, '$.eventData.properties.coordinates.hfov'), json_extract_scalar(raw, '$.properties.coordinates.hfov')) as double) as hfov
    from raw
)

select
    event_id,
    cast(try(from_iso8601_timestamp(event_time_text)) as timestamp(3)) as event_timestamp,
    cast(cast(try(from_iso8601_timestamp(event_time_text)) as timestamp(3)) as date) as event_date,
    event_type,
    -- A track event has its own name; a page view is named by its type.
    coalesce(track_event, case when event_type = 'page' then 'Page Viewed' end) as event_name,
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
    pitch,
    yaw,
    hfov,
    user_agent,
    event_shape,
    ingest_date,
    -- The share of the fields an analysis needs that the event has.
    round((
        case when event_id is not null then 1 else 0 end
        + case when event_time_text is not null then 1 else 0 end
        + case when anonymous_id is not null then 1 else 0 end
        + case when session_id is not null then 1 else 0 end
        + case when space_id is not null then 1 else 0 end
        + case when pitch is not null then 1 else 0 end
    ) / 6.0, 2) as data_quality_score,
    coalesce(
        lower(user_agent) like '%bot%'
        or lower(user_agent) like '%crawler%'
        or lower(user_agent) like '%spider%',
        false
    ) as is_bot
from shaped
