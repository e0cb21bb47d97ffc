{#- Every landing line of chat_events, parsed. Valid rows have quarantine_reason
    NULL; the others keep their raw text for bronze_quarantined_events. Lines of
    erased data subjects have erased_subject TRUE and are loaded nowhere. -#}
{{ config(materialized='ephemeral') }}

{%- set fields = ['event_id', 'event_type', 'user_id', 'chat_id', 'message', 'tool_name',
                  'setting_name', 'setting_value', 'created_at'] %}

with landing as (
    select
        raw,
        cast(ingest_date as date) as ingest_date
    from {{ source('landing', 'chat_events') }}
),

checked as (
    select
        raw,
        ingest_date,
        case when {{ json_is_object('raw') }} then raw end as doc
    from landing
),

extracted as (
    select
        raw,
        ingest_date,
        doc is not null as is_json_object,
        {{ json_extract_texts('doc', fields) }} as field_values
    from checked
),

named as (
    select
        raw,
        ingest_date,
        is_json_object,
        {%- for field in fields %}
        field_values[{{ loop.index }}] as {{ field }}_text{{ "," if not loop.last else "" }}
        {%- endfor %}
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
        {{ parse_iso8601_utc('created_at_text') }} as created_at
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
        when not {{ rights_valid_subject_id('user_id') }} then 'invalid_user_id'
        when event_type is null then 'missing_event_type'
        when created_at_text is null then 'missing_created_at'
        when created_at is null then 'invalid_created_at'
        when event_type in ('chat_started', 'message') and chat_id is null then 'missing_chat_id'
        when event_type = 'setting_changed' and setting_name is null then 'missing_setting_name'
    end as quarantine_reason,
    -- the line belongs to a subject erased so far: never loaded (macros/erasure.sql)
    {{ erased_subject_line('user_id', 'raw') }} as erased_subject
from typed
