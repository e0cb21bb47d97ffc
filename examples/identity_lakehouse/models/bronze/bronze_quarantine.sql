{#- Envelopes that break the contract, with the reason (the design's
    schema_failure_reason). -#}
{{ config(materialized='table') }}

with landed as (
    select
        raw,
        cast(dt as date) as dt,
        nullif({{ json_text('raw', '$.context.user_id') }}, '') as user_id,
        case
            when {{ json_text('raw', '$.meta.event') }} is null then 'missing meta.event'
            when {{ json_text('raw', '$.meta.event_id') }} is null then 'missing meta.event_id'
            when {{ iso_timestamp(json_text('raw', '$.meta.sent_at')) }} is null then 'invalid meta.sent_at'
            when {{ json_text('raw', '$.context.anon_id') }} is null then 'missing context.anon_id'
        end as schema_failure_reason
    from {{ source('raw', 'events') }}
)

select * from landed
where schema_failure_reason is not null and not {{ is_tombstoned('user_id') }}
