{#- The conformed events, under an enforced contract (models/silver/schema.yml): the
    build fails when a column's name or type drifts. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_id',
    table_type='iceberg',
    partitioned_by=['dt'],
  )
}}

select
    event_id,
    event_name,
    schema_version,
    sent_at,
    user_id,
    anon_id,
    session_id,
    ua_hash,
    {{ json_text('raw', '$.payload.booking_id') }} as booking_id,
    {{ json_text('raw', '$.payload.leg_id') }} as leg_id,
    cast({{ json_text('raw', '$.payload.gmv_cents') }} as bigint) as gmv_cents,
    {{ json_text('raw', '$.payload.country') }} as country,
    {{ json_text('raw', '$.payload.payout_id') }} as payout_id,
    cast({{ json_text('raw', '$.payload.amount_cents') }} as bigint) as amount_cents,
    dt
from {{ ref('bronze_events') }}
{% if is_incremental() %}
where dt > (select max(dt) from {{ this }})
{% endif %}
