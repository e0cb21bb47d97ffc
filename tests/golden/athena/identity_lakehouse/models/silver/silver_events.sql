

select
    event_id,
    event_name,
    schema_version,
    sent_at,
    user_id,
    anon_id,
    session_id,
    ua_hash,
    json_extract_scalar(raw, '$.payload.booking_id') as booking_id,
    json_extract_scalar(raw, '$.payload.leg_id') as leg_id,
    cast(json_extract_scalar(raw, '$.payload.gmv_cents') as bigint) as gmv_cents,
    json_extract_scalar(raw, '$.payload.country') as country,
    json_extract_scalar(raw, '$.payload.payout_id') as payout_id,
    cast(json_extract_scalar(raw, '$.payload.amount_cents') as bigint) as amount_cents,
    dt
from "identity_lakehouse"."bronze_events"

