{#- The design's gold.fact_affiliate_clicks: each affiliate click once, upserted (merge on
    event_id) from silver_events as new days arrive. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_id',
    table_type='iceberg',
    partitioned_by=['event_dt'],
  )
}}

select
    event_id,
    ts,
    session_id,
    user_id_hash,
    affiliate_link_id,
    affiliate_target,
    payout_cents,
    ab_variant,
    geo_country,
    event_dt
from {{ ref('silver_events') }}
where event_type = 'affiliate_click'
{% if is_incremental() %}
  and ingest_dt >= (select max(event_dt) from {{ this }})
{% endif %}
