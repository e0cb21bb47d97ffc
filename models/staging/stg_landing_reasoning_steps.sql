{#- Every landing line of reasoning_steps, parsed. Valid rows have
    quarantine_reason NULL; the others go to bronze_quarantined_events. Lines of
    erased data subjects have erased_subject TRUE and are loaded nowhere. -#}
{{ config(materialized='ephemeral') }}

{%- set fields = ['event_id', 'step_index', 'user_id', 'reasoning_step', 'step_details', 'created_at'] %}

with landing as (
    select
        raw,
        cast(ingest_date as date) as ingest_date
    from {{ source('landing', 'reasoning_steps') }}
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
        step_index_text,
        try_cast(step_index_text as integer) as step_index,
        nullif(trim(user_id_text), '') as user_id,
        nullif(trim(reasoning_step_text), '') as reasoning_step,
        step_details_text as step_details,
        created_at_text,
        {{ parse_iso8601_utc('created_at_text') }} as created_at
    from named
)

select
    raw,
    ingest_date,
    event_id,
    step_index,
    user_id,
    reasoning_step,
    step_details,
    created_at,
    cast(created_at as date) as partition_date,
    case
        when not is_json_object then 'invalid_json'
        when event_id is null then 'missing_event_id'
        when user_id is null then 'missing_user_id'
        -- an id no erasure request could name (rights.subject_id_pattern) is never loaded
        when not {{ rights_valid_subject_id('user_id') }} then 'invalid_user_id'
        when step_index_text is null then 'missing_step_index'
        when step_index is null or step_index < 0 then 'invalid_step_index'
        when created_at_text is null then 'missing_created_at'
        when created_at is null then 'invalid_created_at'
    end as quarantine_reason,
    -- the line belongs to a subject erased so far: never loaded (macros/erasure.sql)
    {{ erased_subject_line('user_id', 'raw') }} as erased_subject
from typed
