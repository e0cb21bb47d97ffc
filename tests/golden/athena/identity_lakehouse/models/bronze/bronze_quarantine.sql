

with landed as (
    select
        raw,
        cast(dt as date) as dt,
        nullif(json_extract_scalar(raw, '$.context.user_id'), '') as user_id,
        case
            when json_extract_scalar(raw, '$.meta.event') is null then 'missing meta.event'
            when json_extract_scalar(raw, '$.meta.event_id') is null then 'missing meta.event_id'
            when cast(try(from_iso8601_timestamp(json_extract_scalar(raw, '$.meta.sent_at'))) as timestamp(3)) is null then 'invalid meta.sent_at'
            when json_extract_scalar(raw, '$.context.anon_id') is null then 'missing context.anon_id'
        end as schema_failure_reason
    from "identity_raw"."events"
)

select * from landed
where schema_failure_reason is not null and not coalesce(user_id in (select cast(null as varchar) as guid where false), false)
