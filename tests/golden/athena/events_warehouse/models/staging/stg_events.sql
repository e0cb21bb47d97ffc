select
    json_extract_scalar(raw, '$.event_id') as event_id,
    json_extract_scalar(raw, '$.user_id') as user_id,
    json_extract_scalar(raw, '$.event_type') as event_type,
    json_extract_scalar(raw, '$.project_id') as project_id,
    cast(try(from_iso8601_timestamp(json_extract_scalar(raw, '$.timestamp'))) as timestamp(3)) as event_timestamp,
    cast(json_extract(raw, '$.properties') as map(varchar, varchar)) as properties,
    cast(row(json_extract_scalar(raw, '$.context.ip'), json_extract_scalar(raw, '$.context.userAgent')) as row(ip varchar, user_agent varchar)) as context
from "events_raw"."raw_events"
