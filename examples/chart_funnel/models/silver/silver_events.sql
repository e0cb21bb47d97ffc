{#- One row per event, normalised by the design's transform rules: event_dt = date(ts),
    event_hour the hour's two digits, chart and affiliate attributes flattened, empty strings
    as null. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_id',
    table_type='iceberg',
    partitioned_by=['event_dt', 'event_type'],
  )
}}

select
    event_id,
    event_type,
    ts,
    ingest_ts,
    nullif({{ json_text('raw', '$.session.session_id') }}, '') as session_id,
    nullif({{ json_text('raw', '$.user.user_id_hash') }}, '') as user_id_hash,
    nullif({{ json_text('raw', '$.user.geo_country') }}, '') as geo_country,
    nullif({{ json_text('raw', '$.ctx.page_url') }}, '') as page_url,
    nullif({{ json_text('raw', '$.ctx.referrer') }}, '') as referrer,
    nullif({{ json_text('raw', '$.ctx.locale') }}, '') as locale,
    nullif({{ json_text('raw', '$.ctx.user_agent') }}, '') as user_agent,
    nullif({{ json_text('raw', '$.ctx.ab_variant') }}, '') as ab_variant,
    nullif({{ json_text('raw', '$.chart.action') }}, '') as chart_action,
    nullif({{ json_text('raw', '$.chart.control_id') }}, '') as chart_control_id,
    nullif({{ json_text('raw', '$.chart.control_value') }}, '') as chart_control_value,
    {{ json_string_array('raw', '$.chart.product_ids') }} as product_ids,
    nullif({{ json_text('raw', '$.affiliate.link_id') }}, '') as affiliate_link_id,
    nullif({{ json_text('raw', '$.affiliate.target') }}, '') as affiliate_target,
    cast({{ json_text('raw', '$.affiliate.payout_cents') }} as bigint) as payout_cents,
    nullif(source, '') as source,
    nullif(schema_version, '') as schema_version,
    nullif({{ json_text('raw', '$.privacy.source_ip_anonymized') }}, '') as source_ip_anonymized,
    cast(ts as date) as event_dt,
    {{ hour_text('ts') }} as event_hour,
    ingest_dt
from {{ ref('bronze_events') }}
{% if is_incremental() %}
where ingest_dt > (select max(ingest_dt) from {{ this }})
{% endif %}
