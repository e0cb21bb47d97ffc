{#- Both event shapes normalised into one: the nested shape keeps its fields under
    eventData and metadata, the legacy one at the top. Each event is scored on the fields
    it has (data_quality_score, 0 to 1) and flagged as a bot by its user agent. -#}

with raw as (
    select raw, ingest_date
    from {{ source('raw', 'raw_events') }}
),

shaped as (
    select
        ingest_date,
        case when {{ json_text('raw', '$.eventData.type') }} is not null then 'nested' else 'legacy' end as event_shape,
        coalesce({{ json_text('raw', '$._id."$oid"') }}, {{ json_text('raw', '$.messageId') }}) as event_id,
        coalesce({{ json_text('raw', '$.eventTimestamp."$date"') }}, {{ json_text('raw', '$.timestamp') }}) as event_time_text,
        coalesce({{ json_text('raw', '$.eventData.type') }}, {{ json_text('raw', '$.type') }}) as event_type,
        {{ json_text('raw', '$.eventData.event') }} as track_event,
        coalesce({{ json_text('raw', '$.metadata.anonymousId') }}, {{ json_text('raw', '$.anonymousId') }}) as anonymous_id,
        coalesce({{ json_text('raw', '$.eventData.userId') }}, {{ json_text('raw', '$.userId') }}) as user_id,
        coalesce({{ json_text('raw', '$.eventData.sessionId') }}, {{ json_text('raw', '$.sessionId') }}) as session_id,
        coalesce({{ json_text('raw', '$.eventData.context.userAgent') }}, {{ json_text('raw', '$.userAgent') }}) as user_agent,
        coalesce({{ json_text('raw', '$.eventData.properties.spaceId') }}, {{ json_text('raw', '$.properties.spaceId') }}) as space_id,
        coalesce({{ json_text('raw', '$.eventData.properties.spaceName') }}, {{ json_text('raw', '$.properties.spaceName') }}) as space_name,
        coalesce({{ json_text('raw', '$.eventData.properties.spaceType') }}, {{ json_text('raw', '$.properties.spaceType') }}) as space_type,
        coalesce({{ json_text('raw', '$.eventData.properties.roomId') }}, {{ json_text('raw', '$.properties.roomId') }}) as room_id,
        coalesce({{ json_text('raw', '$.eventData.properties.roomName') }}, {{ json_text('raw', '$.properties.roomName') }}) as room_name,
        coalesce({{ json_text('raw', '$.eventData.properties.community') }}, {{ json_text('raw', '$.properties.community') }}) as community,
        coalesce({{ json_text('raw', '$.eventData.properties.building') }}, {{ json_text('raw', '$.properties.building') }}) as building,
        coalesce({{ json_text('raw', '$.eventData.properties.floorplan') }}, {{ json_text('raw', '$.properties.floorplan') }}) as floorplan,
        try_cast(coalesce({{ json_text('raw', '$.eventData.properties.coordinates.pitch') }}, {{ json_text('raw', '$.properties.coordinates.pitch') }}) as double) as pitch,
        try_cast(coalesce({{ json_text('raw', '$.eventData.properties.coordinates.yaw') }}, {{ json_text('raw', '$.properties.coordinates.yaw') }}) as double) as yaw,
        try_cast(coalesce({{ json_text('raw', '$.eventData.properties.coordinates.hfov') }}, {{ json_text('raw', '$.properties.coordinates.hfov') }}) as double) as hfov
    from raw
)

select
    event_id,
    {{ iso_timestamp('event_time_text') }} as event_timestamp,
    cast({{ iso_timestamp('event_time_text') }} as date) as event_date,
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
