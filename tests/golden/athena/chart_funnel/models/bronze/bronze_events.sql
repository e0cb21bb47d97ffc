

with landed as (
    select
        json_extract_scalar(raw, '$.event_id') as event_id,
        json_extract_scalar(raw, '$.event_type') as event_type,
        json_extract_scalar(raw, '$.schema_version') as schema_version,
        cast(try(from_iso8601_timestamp(json_extract_scalar(raw, '$.ts'))) as timestamp(3)) as ts,
        cast(json_extract_scalar(raw, '$.ingest_ts') as bigint) as ingest_ts,
        json_extract_scalar(raw, '$.source') as source,
        raw,
        cast(ingest_dt as date) as ingest_dt
    from "chart_raw"."events"
    
)

select
    event_id,
    event_type,
    schema_version,
    ts,
    ingest_ts,
    source,
    raw,
    ingest_dt,
    format_datetime(ts, 'HH') as hour,
    event_type as events_type
from landed
where event_id is not null
