{#- One typed row per event: `properties` as a string map, `context` as a struct. -#}

select
    {{ json_text('raw', '$.event_id') }} as event_id,
    {{ json_text('raw', '$.user_id') }} as user_id,
    {{ json_text('raw', '$.event_type') }} as event_type,
    {{ json_text('raw', '$.project_id') }} as project_id,
    {{ iso_timestamp(json_text('raw', '$.timestamp')) }} as event_timestamp,
    {{ json_string_map('raw', '$.properties') }} as properties,
    {{ context_struct(json_text('raw', '$.context.ip'), json_text('raw', '$.context.userAgent')) }} as context
from {{ source('raw', 'raw_events') }}
