-- Nothing from the landing zone is lost, and nothing erased comes back: per landing
-- table, every line is either quarantined verbatim, a valid line, or a line of an
-- erased data subject (erased_subject: loaded nowhere); the valid lines' distinct
-- keys are exactly the bronze rows (duplicates collapse onto one row; no valid key is
-- missing from bronze); no bronze or quarantined row belongs to an erased subject.
-- Only arrival days up to the bronze table's high watermark (max ingest_date) count:
-- files that landed after the last load are not loaded yet. Returns one row per
-- landing table that does not add up.

with __dbt__cte__stg_landing_chat_events as (
with landing as (
    select
        coalesce(from_utf8(to_utf8(raw)), '') as raw,
        cast(ingest_date as date) as ingest_date
    from "athena_analytics_landing"."chat_events"
),

checked as (
    select
        raw,
        ingest_date,
        (strpos(raw, chr(65533)) > 0) as bad_encoding,
        case when not (strpos(raw, chr(65533)) > 0) and coalesce((not regexp_like(replace(regexp_replace(raw, '"([^"\\\x00-\x1f]|\\.)*"', '""'), '""', ''), '"|[nN][aA][nN]|[iI][nN][fF]|,[ \t\n\r]*[}\]]')) and try(cast(json_parse(raw) as map(varchar, json))) is not null, false) then raw end as doc
    from landing
),

extracted as (
    select
        raw,
        ingest_date,
        bad_encoding,
        doc is not null as is_json_object,
        array[(case when json_extract(doc, '$.event_id') is null then null
    else (case substr(json_format(json_extract(doc, '$.event_id')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.event_type') is null then null
    else (case substr(json_format(json_extract(doc, '$.event_type')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.user_id') is null then null
    else (case substr(json_format(json_extract(doc, '$.user_id')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.chat_id') is null then null
    else (case substr(json_format(json_extract(doc, '$.chat_id')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.message') is null then null
    else (case substr(json_format(json_extract(doc, '$.message')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.tool_name') is null then null
    else (case substr(json_format(json_extract(doc, '$.tool_name')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.setting_name') is null then null
    else (case substr(json_format(json_extract(doc, '$.setting_name')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.setting_value') is null then null
    else (case substr(json_format(json_extract(doc, '$.setting_value')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.created_at') is null then null
    else (case substr(json_format(json_extract(doc, '$.created_at')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end)] as field_kinds,
        array[json_extract_scalar(doc, '$.event_id'), json_extract_scalar(doc, '$.event_type'), json_extract_scalar(doc, '$.user_id'), json_extract_scalar(doc, '$.chat_id'), json_extract_scalar(doc, '$.message'), json_extract_scalar(doc, '$.tool_name'), json_extract_scalar(doc, '$.setting_name'), json_extract_scalar(doc, '$.setting_value'), json_extract_scalar(doc, '$.created_at')] as field_values
    from checked
),

named as (
    select
        raw,
        ingest_date,
        bad_encoding,
        is_json_object,
        field_kinds[1] as event_id_kind,
        field_values[1] as event_id_text,
        field_kinds[2] as event_type_kind,
        field_values[2] as event_type_text,
        field_kinds[3] as user_id_kind,
        field_values[3] as user_id_text,
        field_kinds[4] as chat_id_kind,
        field_values[4] as chat_id_text,
        field_kinds[5] as message_kind,
        field_values[5] as message_text,
        field_kinds[6] as tool_name_kind,
        field_values[6] as tool_name_text,
        field_kinds[7] as setting_name_kind,
        field_values[7] as setting_name_text,
        field_kinds[8] as setting_value_kind,
        field_values[8] as setting_value_text,
        field_kinds[9] as created_at_kind,
        field_values[9] as created_at_text
    from extracted
),

typed as (
    select
        raw,
        ingest_date,
        bad_encoding,
        is_json_object,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(event_id_kind not in ('string', 'null'), false) as event_id_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(event_type_kind not in ('string', 'null'), false) as event_type_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(user_id_kind not in ('string', 'null'), false) as user_id_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(chat_id_kind not in ('string', 'null'), false) as chat_id_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(message_kind not in ('string', 'null'), false) as message_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(tool_name_kind not in ('string', 'null'), false) as tool_name_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(setting_name_kind not in ('string', 'null'), false) as setting_name_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(created_at_kind not in ('string', 'null'), false) as created_at_wrong_kind,
        nullif(trim(event_id_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as event_id,
        nullif(trim(event_type_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as event_type,
        nullif(trim(user_id_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as user_id,
        nullif(trim(chat_id_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as chat_id,
        message_text as message,
        nullif(trim(tool_name_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as tool_name,
        nullif(trim(setting_name_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as setting_name,
        case setting_value_kind
            when 'string' then setting_value_text
            when 'boolean' then setting_value_text
            when 'number' then (case when (regexp_extract(setting_value_text, '^(?:-?[0-9]+)$') = setting_value_text) then cast(try_cast(setting_value_text as bigint) as varchar) end)
        end as setting_value,
        coalesce(setting_value_kind in ('object', 'array')
            or (setting_value_kind = 'number' and (case when (regexp_extract(setting_value_text, '^(?:-?[0-9]+)$') = setting_value_text) then cast(try_cast(setting_value_text as bigint) as varchar) end) is null), false)
            as setting_value_invalid,
        created_at_text,
        (case when (regexp_extract(created_at_text, '^(?:(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$') = created_at_text)
    then try(cast(from_iso8601_timestamp(created_at_text) at time zone 'UTC' as timestamp(6)))
  end) as created_at
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
        when not coalesce(regexp_extract(user_id, '^(?:^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$)$') = user_id, false) then 'invalid_user_id'
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
    (case
    when case when not user_id_wrong_kind then user_id end is not null
        then coalesce(case when not user_id_wrong_kind then user_id end in (select cast(null as varchar) as guid where false), false)
    else coalesce(any_match((select array_agg(guid) from (select cast(null as varchar) as guid where false) as erased_ids), rights_id -> strpos(raw, '"' || rights_id || '"') > 0), false)
end) as erased_subject
from typed
),
__dbt__cte__stg_landing_reasoning_steps as (
with landing as (
    select
        coalesce(from_utf8(to_utf8(raw)), '') as raw,
        cast(ingest_date as date) as ingest_date
    from "athena_analytics_landing"."reasoning_steps"
),

checked as (
    select
        raw,
        ingest_date,
        (strpos(raw, chr(65533)) > 0) as bad_encoding,
        case when not (strpos(raw, chr(65533)) > 0) and coalesce((not regexp_like(replace(regexp_replace(raw, '"([^"\\\x00-\x1f]|\\.)*"', '""'), '""', ''), '"|[nN][aA][nN]|[iI][nN][fF]|,[ \t\n\r]*[}\]]')) and try(cast(json_parse(raw) as map(varchar, json))) is not null, false) then raw end as doc
    from landing
),

extracted as (
    select
        raw,
        ingest_date,
        bad_encoding,
        doc is not null as is_json_object,
        array[(case when json_extract(doc, '$.event_id') is null then null
    else (case substr(json_format(json_extract(doc, '$.event_id')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.step_index') is null then null
    else (case substr(json_format(json_extract(doc, '$.step_index')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.user_id') is null then null
    else (case substr(json_format(json_extract(doc, '$.user_id')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.reasoning_step') is null then null
    else (case substr(json_format(json_extract(doc, '$.reasoning_step')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.step_details') is null then null
    else (case substr(json_format(json_extract(doc, '$.step_details')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end), (case when json_extract(doc, '$.created_at') is null then null
    else (case substr(json_format(json_extract(doc, '$.created_at')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end)] as field_kinds,
        array[json_extract_scalar(doc, '$.event_id'), json_extract_scalar(doc, '$.step_index'), json_extract_scalar(doc, '$.user_id'), json_extract_scalar(doc, '$.reasoning_step'), json_extract_scalar(doc, '$.step_details'), json_extract_scalar(doc, '$.created_at')] as field_values
    from checked
),

named as (
    select
        raw,
        ingest_date,
        bad_encoding,
        is_json_object,
        field_kinds[1] as event_id_kind,
        field_values[1] as event_id_text,
        field_kinds[2] as step_index_kind,
        field_values[2] as step_index_text,
        field_kinds[3] as user_id_kind,
        field_values[3] as user_id_text,
        field_kinds[4] as reasoning_step_kind,
        field_values[4] as reasoning_step_text,
        field_kinds[5] as step_details_kind,
        field_values[5] as step_details_text,
        field_kinds[6] as created_at_kind,
        field_values[6] as created_at_text
    from extracted
),

typed as (
    select
        raw,
        ingest_date,
        bad_encoding,
        is_json_object,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(event_id_kind not in ('string', 'null'), false) as event_id_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(user_id_kind not in ('string', 'null'), false) as user_id_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(reasoning_step_kind not in ('string', 'null'), false) as reasoning_step_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(step_details_kind not in ('string', 'null'), false) as step_details_wrong_kind,
        -- a JSON kind other than string (or null) where a string belongs
        coalesce(created_at_kind not in ('string', 'null'), false) as created_at_wrong_kind,
        nullif(trim(event_id_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as event_id,
        step_index_kind,
        case when step_index_kind in ('string', 'number') then (case when (regexp_extract(step_index_text, '^(?:-?[0-9]+)$') = step_index_text) then try_cast(step_index_text as integer) end) end
            as step_index,
        nullif(trim(user_id_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as user_id,
        nullif(trim(reasoning_step_text, chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8287) || chr(12288)), '') as reasoning_step,
        step_details_text as step_details,
        created_at_text,
        (case when (regexp_extract(created_at_text, '^(?:(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$') = created_at_text)
    then try(cast(from_iso8601_timestamp(created_at_text) at time zone 'UTC' as timestamp(6)))
  end) as created_at
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
        when not coalesce(regexp_extract(user_id, '^(?:^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$)$') = user_id, false) then 'invalid_user_id'
        when coalesce(step_index_kind, 'null') = 'null' then 'missing_step_index'
        when step_index is null or step_index < 0 then 'invalid_step_index'
        when created_at_wrong_kind then 'invalid_created_at'
        when created_at_text is null then 'missing_created_at'
        when created_at is null then 'invalid_created_at'
        when reasoning_step_wrong_kind then 'invalid_reasoning_step'
        when step_details_wrong_kind then 'invalid_step_details'
    end as quarantine_reason,
    -- the line belongs to a subject erased so far: never loaded (macros/erasure.sql)
    (case
    when case when not user_id_wrong_kind then user_id end is not null
        then coalesce(case when not user_id_wrong_kind then user_id end in (select cast(null as varchar) as guid where false), false)
    else coalesce(any_match((select array_agg(guid) from (select cast(null as varchar) as guid where false) as erased_ids), rights_id -> strpos(raw, '"' || rights_id || '"') > 0), false)
end) as erased_subject
from typed
), loaded_until as (
    select 'chat_events' as source_table, max(ingest_date) as last_ingest_date
    from "athena_analytics"."bronze_chat_events"
    union all
    select 'reasoning_steps' as source_table, max(ingest_date) as last_ingest_date
    from "athena_analytics"."bronze_reasoning_steps"
),

landing as (
    select 'chat_events' as source_table, count(*) as landing_lines
    from "athena_analytics_landing"."chat_events"
    where cast(ingest_date as date) <= (select last_ingest_date from loaded_until where source_table = 'chat_events')
    union all
    select 'reasoning_steps' as source_table, count(*) as landing_lines
    from "athena_analytics_landing"."reasoning_steps"
    where cast(ingest_date as date) <= (select last_ingest_date from loaded_until where source_table = 'reasoning_steps')
),

valid as (
    select
        'chat_events' as source_table,
        count(case when quarantine_reason is null and not erased_subject then 1 end) as valid_lines,
        count(distinct case when quarantine_reason is null and not erased_subject then event_id end) as valid_keys,
        count(case when erased_subject then 1 end) as erased_lines
    from __dbt__cte__stg_landing_chat_events
    where ingest_date <= (select last_ingest_date from loaded_until where source_table = 'chat_events')
    union all
    select
        'reasoning_steps' as source_table,
        count(case when quarantine_reason is null and not erased_subject then 1 end) as valid_lines,
        count(distinct case when quarantine_reason is null and not erased_subject
                            then event_id || ':' || cast(step_index as varchar) end) as valid_keys,
        count(case when erased_subject then 1 end) as erased_lines
    from __dbt__cte__stg_landing_reasoning_steps
    where ingest_date <= (select last_ingest_date from loaded_until where source_table = 'reasoning_steps')
),

quarantined as (
    select
        q.source_table,
        count(*) as quarantined_lines,
        count(case when (case
    when q.user_id is not null
        then coalesce(q.user_id in (select cast(null as varchar) as guid where false), false)
    else coalesce(any_match((select array_agg(guid) from (select cast(null as varchar) as guid where false) as erased_ids), rights_id -> strpos(q.raw, '"' || rights_id || '"') > 0), false)
end) then 1 end) as erased_rows
    from "athena_analytics"."bronze_quarantined_events" as q
    inner join loaded_until as l
        on l.source_table = q.source_table and q.ingest_date <= l.last_ingest_date
    group by q.source_table
),

bronze as (
    select
        'chat_events' as source_table,
        count(*) as bronze_rows,
        count(case when user_id in (select cast(null as varchar) as guid where false) then 1 end) as erased_rows
    from "athena_analytics"."bronze_chat_events"
    union all
    select
        'reasoning_steps' as source_table,
        count(*) as bronze_rows,
        count(case when user_id in (select cast(null as varchar) as guid where false) then 1 end) as erased_rows
    from "athena_analytics"."bronze_reasoning_steps"
),

missing_from_bronze as (
    select 'chat_events' as source_table, count(*) as missing_lines
    from __dbt__cte__stg_landing_chat_events as s
    where s.quarantine_reason is null
      and not s.erased_subject
      and s.ingest_date <= (select last_ingest_date from loaded_until where source_table = 'chat_events')
      and not exists (
          select 1 from "athena_analytics"."bronze_chat_events" as b where b.event_id = s.event_id
      )
    union all
    select 'reasoning_steps' as source_table, count(*) as missing_lines
    from __dbt__cte__stg_landing_reasoning_steps as s
    where s.quarantine_reason is null
      and not s.erased_subject
      and s.ingest_date <= (select last_ingest_date from loaded_until where source_table = 'reasoning_steps')
      and not exists (
          select 1 from "athena_analytics"."bronze_reasoning_steps" as b
          where b.event_id = s.event_id and b.step_index = s.step_index
      )
)

select
    l.source_table,
    l.landing_lines,
    coalesce(q.quarantined_lines, 0) as quarantined_lines,
    v.valid_lines,
    v.erased_lines,
    v.valid_keys,
    b.bronze_rows,
    m.missing_lines,
    b.erased_rows + coalesce(q.erased_rows, 0) as erased_rows_still_loaded
from landing as l
inner join valid as v on v.source_table = l.source_table
inner join bronze as b on b.source_table = l.source_table
inner join missing_from_bronze as m on m.source_table = l.source_table
left join quarantined as q on q.source_table = l.source_table
where l.landing_lines <> coalesce(q.quarantined_lines, 0) + v.valid_lines + v.erased_lines
   or v.valid_keys <> b.bronze_rows
   or m.missing_lines <> 0
   or b.erased_rows + coalesce(q.erased_rows, 0) <> 0
