{#- Every landing line of reasoning_steps, parsed as the landing contract says
    (docs/landing-contract.md), the same on DuckDB and Athena. Valid rows have
    quarantine_reason NULL; the others go to bronze_quarantined_events. Lines of
    erased data subjects have erased_subject TRUE and are loaded nowhere. -#}
{{ config(materialized='ephemeral') }}

{%- set fields = ['event_id', 'step_index', 'user_id', 'reasoning_step', 'step_details', 'created_at'] %}
{#- Fields that take JSON strings only; step_index takes an integer or its digits. -#}
{%- set strings = ['event_id', 'user_id', 'reasoning_step', 'step_details', 'created_at'] %}

with landing as (
    select
        {{ landing_text('raw') }} as raw,
        cast(ingest_date as date) as ingest_date
    from {{ source('landing', 'reasoning_steps') }}
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
        step_index_kind,
        case when step_index_kind in ('string', 'number') then {{ landing_integer('step_index_text') }} end
            as step_index,
        nullif({{ trim_text('user_id_text') }}, '') as user_id,
        nullif({{ trim_text('reasoning_step_text') }}, '') as reasoning_step,
        step_details_text as step_details,
        created_at_text,
        {{ landing_timestamp('created_at_text') }} as created_at
    from named
)

select
    raw,
    ingest_date,
    case when not event_id_wrong_kind then event_id end as event_id,
    step_index,
    case when not user_id_wrong_kind then user_id end as user_id,
    case when not reasoning_step_wrong_kind then reasoning_step end as reasoning_step,
    case when not step_details_wrong_kind then step_details end as step_details,
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
        when coalesce(step_index_kind, 'null') = 'null' then 'missing_step_index'
        when step_index is null or step_index < 0 then 'invalid_step_index'
        when created_at_wrong_kind then 'invalid_created_at'
        when created_at_text is null then 'missing_created_at'
        when created_at is null then 'invalid_created_at'
        when reasoning_step_wrong_kind then 'invalid_reasoning_step'
        when step_details_wrong_kind then 'invalid_step_details'
    end as quarantine_reason,
    -- the line belongs to a subject erased so far: never loaded (macros/erasure.sql)
    {{ erased_subject_line('case when not user_id_wrong_kind then user_id end', 'raw') }} as erased_subject
from typed
