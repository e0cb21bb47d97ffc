

select
    event_id,
    event_type,
    ts,
    ingest_ts,
    nullif(json_extract_scalar(raw, '$.session.session_id'), '') as session_id,
    nullif(json_extract_scalar(raw, '$.user.user_id_hash'), '') as user_id_hash,
    nullif(json_extract_scalar(raw, '$.user.geo_country'), '') as geo_country,
    nullif(json_extract_scalar(raw, '$.ctx.page_url'), '') as page_url,
    nullif(json_extract_scalar(raw, '$.ctx.referrer'), '') as referrer,
    nullif(json_extract_scalar(raw, '$.ctx.locale'), '') as locale,
    nullif(json_extract_scalar(raw, '$.ctx.user_agent'), '') as user_agent,
    nullif(json_extract_scalar(raw, '$.ctx.ab_variant'), '') as ab_variant,
    nullif(json_extract_scalar(raw, '$.chart.action'), '') as chart_action,
    nullif(json_extract_scalar(raw, '$.chart.control_id'), '') as chart_control_id,
    nullif(json_extract_scalar(raw, '$.chart.control_value'), '') as chart_control_value,
    cast(json_extract(raw, '$.chart.product_ids') as array(varchar)) as product_ids,
    nullif(json_extract_scalar(raw, '$.affiliate.link_id'), '') as affiliate_link_id,
    nullif(json_extract_scalar(raw, '$.affiliate.target'), '') as affiliate_target,
    cast(json_extract_scalar(raw, '$.affiliate.payout_cents') as bigint) as payout_cents,
    nullif(source, '') as source,
    nullif(schema_version, '') as schema_version,
    nullif(json_extract_scalar(raw, '$.privacy.source_ip_anonymized'), '') as source_ip_anonymized,
    cast(ts as date) as event_dt,
    format_datetime(ts, 'HH') as event_hour,
    ingest_dt
from "chart_funnel"."bronze_events"

