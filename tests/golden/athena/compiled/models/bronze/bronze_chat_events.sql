

with __dbt__cte__stg_landing_chat_events as (
with landing as (
    select
        raw,
        cast(ingest_date as date) as ingest_date
    from "athena_analytics_landing"."chat_events"
),

checked as (
    select
        raw,
        ingest_date,
        case when coalesce(try(cast(json_parse(raw) as map(varchar, json))) is not null, false) then raw end as doc
    from landing
),

extracted as (
    select
        raw,
        ingest_date,
        doc is not null as is_json_object,
        array[json_extract_scalar(doc, '$.event_id'), json_extract_scalar(doc, '$.event_type'), json_extract_scalar(doc, '$.user_id'), json_extract_scalar(doc, '$.chat_id'), json_extract_scalar(doc, '$.message'), json_extract_scalar(doc, '$.tool_name'), json_extract_scalar(doc, '$.setting_name'), json_extract_scalar(doc, '$.setting_value'), json_extract_scalar(doc, '$.created_at')] as field_values
    from checked
),

named as (
    select
        raw,
        ingest_date,
        is_json_object,
        field_values[1] as event_id_text,
        field_values[2] as event_type_text,
        field_values[3] as user_id_text,
        field_values[4] as chat_id_text,
        field_values[5] as message_text,
        field_values[6] as tool_name_text,
        field_values[7] as setting_name_text,
        field_values[8] as setting_value_text,
        field_values[9] as created_at_text
    from extracted
),

typed as (
    select
        raw,
        ingest_date,
        is_json_object,
        nullif(trim(event_id_text), '') as event_id,
        nullif(trim(event_type_text), '') as event_type,
        nullif(trim(user_id_text), '') as user_id,
        nullif(trim(chat_id_text), '') as chat_id,
        message_text as message,
        nullif(trim(tool_name_text), '') as tool_name,
        nullif(trim(setting_name_text), '') as setting_name,
        setting_value_text as setting_value,
        created_at_text,
        try(cast(from_iso8601_timestamp(created_at_text) at time zone 'UTC' as timestamp(6))) as created_at
    from named
)

select
    raw,
    ingest_date,
    event_id,
    event_type,
    user_id,
    chat_id,
    message,
    tool_name,
    setting_name,
    setting_value,
    created_at,
    cast(created_at as date) as partition_date,
    case
        when not is_json_object then 'invalid_json'
        when event_id is null then 'missing_event_id'
        when user_id is null then 'missing_user_id'
        -- an id no erasure request could name (rights.subject_id_pattern) is never loaded
        when not coalesce(regexp_like(user_id, '^(?:^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$)$'), false) then 'invalid_user_id'
        when event_type is null then 'missing_event_type'
        when created_at_text is null then 'missing_created_at'
        when created_at is null then 'invalid_created_at'
        when event_type in ('chat_started', 'message') and chat_id is null then 'missing_chat_id'
        when event_type = 'setting_changed' and setting_name is null then 'missing_setting_name'
    end as quarantine_reason,
    -- the line belongs to a subject erased so far: never loaded (macros/erasure.sql)
    (case
    when user_id is not null
        then coalesce(user_id in (select cast(null as varchar) as guid where false), false)
    else coalesce(any_match((select array_agg(guid) from (select cast(null as varchar) as guid where false) as erased_ids), rights_id -> strpos(raw, '"' || rights_id || '"') > 0), false)
end) as erased_subject
from typed
), new_lines as (
    select *
    from __dbt__cte__stg_landing_chat_events
    where quarantine_reason is null
      and not erased_subject
    
),

ranked as (
    select
        *,
        row_number() over (partition by event_id order by ingest_date, raw) as arrival_rank
    from new_lines
)

select
    event_id,
    event_type,
    user_id,
    chat_id,
    message,
    tool_name,
    setting_name,
    setting_value,
    created_at,
    ingest_date,
    partition_date
from ranked as r
where arrival_rank = 1

