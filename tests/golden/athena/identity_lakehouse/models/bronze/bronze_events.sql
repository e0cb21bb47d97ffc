

with landed as (
    select
        json_extract_scalar(raw, '$.meta.event_id') as event_id,
        json_extract_scalar(raw, '$.meta.event') as event_name,
        cast(json_extract_scalar(raw, '$.meta.v') as integer) as schema_version,
        cast(try(from_iso8601_timestamp(json_extract_scalar(raw, '$.meta.sent_at'))) as timestamp(3)) as sent_at,
        nullif(json_extract_scalar(raw, '$.context.user_id'), '') as user_id,
        json_extract_scalar(raw, '$.context.anon_id') as anon_id,
        json_extract_scalar(raw, '$.context.session_id') as session_id,
        json_extract_scalar(raw, '$.context.device.ua_hash') as ua_hash,
        raw,
        cast(dt as date) as dt,
        hour
    from "identity_raw"."events"
    
)

select *
from landed
where event_id is not null and event_name is not null and sent_at is not null and anon_id is not null
  and not coalesce(user_id in (select cast(null as varchar) as guid where false), false)
