{#- The envelopes that meet the contract (meta.event, meta.event_id, meta.sent_at,
    context.anon_id present), each once, with their identifiers lifted out of `context`;
    the others are in bronze_quarantine. Tombstoned users' events are never loaded. New
    arrival days are merged on event_id. -#}
{{
  config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='event_id',
    table_type='iceberg',
    partitioned_by=['dt', 'hour'],
  )
}}

with landed as (
    select
        {{ json_text('raw', '$.meta.event_id') }} as event_id,
        {{ json_text('raw', '$.meta.event') }} as event_name,
        cast({{ json_text('raw', '$.meta.v') }} as integer) as schema_version,
        {{ iso_timestamp(json_text('raw', '$.meta.sent_at')) }} as sent_at,
        nullif({{ json_text('raw', '$.context.user_id') }}, '') as user_id,
        {{ json_text('raw', '$.context.anon_id') }} as anon_id,
        {{ json_text('raw', '$.context.session_id') }} as session_id,
        {{ json_text('raw', '$.context.device.ua_hash') }} as ua_hash,
        raw,
        cast(dt as date) as dt,
        hour
    from {{ source('raw', 'events') }}
    {% if is_incremental() %}
    where cast(dt as date) > (select max(dt) from {{ this }})
    {% endif %}
)

select *
from landed
where event_id is not null and event_name is not null and sent_at is not null and anon_id is not null
  and not {{ is_tombstoned('user_id') }}
