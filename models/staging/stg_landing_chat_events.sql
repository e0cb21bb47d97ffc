{#- Every landing line of chat_events, parsed as the landing contract says
    (docs/landing-contract.md), the same on DuckDB and Athena. Valid rows have
    quarantine_reason NULL; the others keep their raw text for
    bronze_quarantined_events. Lines of erased data subjects have erased_subject
    TRUE and are loaded nowhere. -#}
{{ config(materialized='ephemeral') }}

{%- set fields = ['event_id', 'event_type', 'user_id', 'chat_id', 'message', 'tool_name',
                  'setting_name', 'setting_value', 'created_at'] %}
{#- Fields that take JSON strings only; setting_value takes any scalar. -#}
{%- set strings = ['event_id', 'event_type', 'user_id', 'chat_id', 'message', 'tool_name',
                   'setting_name', 'created_at'] %}

with landing as (
    select
        {{ landing_text('raw') }} as raw,
        cast(ingest_date as date) as ingest_date
    from {{ source('landing', 'chat_events') }}
),

checked as (
    select
        raw,
        ingest_date,
        {{ has_replacement_char('raw') }} as bad_encoding,
        case when not {{ has_replacement_char('raw') }} and {{ landing_json_is_object('raw') }} then raw end as doc
    from landing
),

extracted as (
    select
        raw,
        ingest_date,
        bad_encoding,
        doc is not null as is_json_object,
        {{ landing_field_kinds('doc', fields) }} as field_kinds,
        {{ landing_field_texts('doc', fields) }} as field_values
    from checked
),

named as (
    select
        raw,
        ingest_date,
        bad_encoding,
        is_json_object,
        {%- for field in fields %}
        field_kinds[{{ loop.index }}] as {{ field }}_kind,
        field_values[{{ loop.index }}] as {{ field }}_text{{ "," if not loop.last else "" }}
        {%- endfor %}
    from extracted
),

typed as (
    select
        raw,
        ingest_date,
        bad_encoding,
        is_json_object,
        {%- for field in strings %}
        -- a JSON kind other than string (or null) where a string belongs
        coalesce({{ field }}_kind not in ('string', 'null'), false) as {{ field }}_wrong_kind,
        {%- endfor %}
        nullif({{ trim_text('event_id_text') }}, '') as event_id,
        nullif({{ trim_text('event_type_text') }}, '') as event_type,
        nullif({{ trim_text('user_id_text') }}, '') as user_id,
        nullif({{ trim_text('chat_id_text') }}, '') as chat_id,
        message_text as message,
        nullif({{ trim_text('tool_name_text') }}, '') as tool_name,
        nullif({{ trim_text('setting_name_text') }}, '') as setting_name,
        case setting_value_kind
            when 'string' then setting_value_text
            when 'boolean' then setting_value_text
            when 'number' then {{ landing_bigint_text('setting_value_text') }}
        end as setting_value,
        coalesce(setting_value_kind in ('object', 'array')
            or (setting_value_kind = 'number' and {{ landing_bigint_text('setting_value_text') }} is null), false)
            as setting_value_invalid,
        created_at_text,
        {{ landing_timestamp('created_at_text') }} as created_at
    from named
)

select
    raw,
    ingest_date,
    case when not event_id_wrong_kind then event_id end as event_id,
    case when not event_type_wrong_kind then event_type end as event_type,
    case when not user_id_wrong_kind then user_id end as user_id,
    case when not chat_id_wrong_kind then chat_id end as chat_id,
    case when not message_wrong_kind then message end as message,
    case when not tool_name_wrong_kind then tool_name end as tool_name,
    case when not setting_name_wrong_kind then setting_name end as setting_name,
    setting_value,
    created_at,
    cast(created_at as date) as partition_date,
    case
        when bad_encoding then 'invalid_encoding'
        when not is_json_object then 'invalid_json'
        when event_id_wrong_kind then 'invalid_event_id'
        when event_id is null then 'missing_event_id'
        when user_id_wrong_kind then 'invalid_user_id'
        when user_id is null then 'missing_user_id'
        -- an id no erasure request could name (rights.subject_id_pattern) is never loaded
        when not {{ rights_valid_subject_id('user_id') }} then 'invalid_user_id'
        when event_type_wrong_kind then 'invalid_event_type'
        when event_type is null then 'missing_event_type'
        when created_at_wrong_kind then 'invalid_created_at'
        when created_at_text is null then 'missing_created_at'
        when created_at is null then 'invalid_created_at'
        when chat_id_wrong_kind then 'invalid_chat_id'
        when event_type in ('chat_started', 'message') and chat_id is null then 'missing_chat_id'
        when setting_name_wrong_kind then 'invalid_setting_name'
        when event_type = 'setting_changed' and setting_name is null then 'missing_setting_name'
        when setting_value_invalid then 'invalid_setting_value'
        when message_wrong_kind then 'invalid_message'
        when tool_name_wrong_kind then 'invalid_tool_name'
    end as quarantine_reason,
    -- the line belongs to a subject erased so far: never loaded (macros/erasure.sql)
    {{ erased_subject_line('case when not user_id_wrong_kind then user_id end', 'raw') }} as erased_subject
from typed
