create external table `athena_analytics`.`setting_catalog__strata_csv_<id>` (
    `setting_name` string,
    `value_type` string,
    `allowed_values` string,
    `description` string
)
stored as parquet
location 's3://<bucket>/data/athena_analytics/setting_catalog/seed/';

create table "athena_analytics"."setting_catalog"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/setting_catalog/<uuid>',
    format = 'PARQUET',
    write_compression = 'ZSTD'
)
as
select
    cast("setting_name" as varchar) as "setting_name",
    cast("value_type" as varchar) as "value_type",
    cast("allowed_values" as varchar) as "allowed_values",
    cast("description" as varchar) as "description"
from "athena_analytics"."setting_catalog__strata_csv_<id>";

drop table `athena_analytics`.`setting_catalog__strata_csv_<id>`;

create external table `athena_analytics`.`tool_catalog__strata_csv_<id>` (
    `tool_name` string,
    `tool_category` string,
    `display_name` string
)
stored as parquet
location 's3://<bucket>/data/athena_analytics/tool_catalog/seed/';

create table "athena_analytics"."tool_catalog"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/tool_catalog/<uuid>',
    format = 'PARQUET',
    write_compression = 'ZSTD'
)
as
select
    cast("tool_name" as varchar) as "tool_name",
    cast("tool_category" as varchar) as "tool_category",
    cast("display_name" as varchar) as "display_name"
from "athena_analytics"."tool_catalog__strata_csv_<id>";

drop table `athena_analytics`.`tool_catalog__strata_csv_<id>`;

create external table `athena_analytics`.`user_right_types__strata_csv_<id>` (
    `right_type` string,
    `deletes_data` boolean,
    `exports_data` boolean,
    `description` string
)
stored as parquet
location 's3://<bucket>/data/athena_analytics/user_right_types/seed/';

create table "athena_analytics"."user_right_types"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/user_right_types/<uuid>',
    format = 'PARQUET',
    write_compression = 'ZSTD'
)
as
select
    cast("right_type" as varchar) as "right_type",
    cast("deletes_data" as boolean) as "deletes_data",
    cast("exports_data" as boolean) as "exports_data",
    cast("description" as varchar) as "description"
from "athena_analytics"."user_right_types__strata_csv_<id>";

drop table `athena_analytics`.`user_right_types__strata_csv_<id>`;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with all_values as (
    select
        value_type as value_field,
        count(*) as n_records
    from "athena_analytics"."setting_catalog"
    group by value_type
)
select *
from all_values
where value_field not in ('string', 'boolean', 'integer')


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with all_values as (
    select
        right_type as value_field,
        count(*) as n_records
    from "athena_analytics"."user_right_types"
    group by right_type
)
select *
from all_values
where value_field not in ('ACCESS', 'ERASURE', 'SA_WITHDRAW')


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select setting_name
from "athena_analytics"."setting_catalog"
where setting_name is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select tool_category
from "athena_analytics"."tool_catalog"
where tool_category is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select tool_name
from "athena_analytics"."tool_catalog"
where tool_name is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select right_type
from "athena_analytics"."user_right_types"
where right_type is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select ingest_date
from "athena_analytics_landing"."chat_events"
where ingest_date is null


) dbt_internal_test;

create table if not exists `athena_analytics`.`strata_rights_ledger` (
    request_id string,
    guid string,
    right_type string,
    phase string,
    had_data boolean,
    code string,
    reason string,
    attachments string,
    relations string,
    created_at bigint,
    finished_at bigint,
    via_keys string,
    source string
)
location 's3://<bucket>/data/athena_analytics/strata_rights_ledger/<uuid>'
tblproperties ('table_type' = 'ICEBERG', 'format' = 'parquet');

create table "athena_analytics"."bronze_chat_events"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/bronze_chat_events/<uuid>',
    partitioning = ARRAY['partition_date'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as
select * from (


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


) as strata_subject_rows
where coalesce(cast(strata_subject_rows."user_id" as varchar) not in (select guid from "athena_analytics"."strata_rights_ledger"
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null), true);

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with all_values as (
    select
        event_type as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_chat_events"
    group by event_type
)
select *
from all_values
where value_field not in ('chat_started', 'message', 'setting_changed')


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select chat_id
from (select * from "athena_analytics"."bronze_chat_events" where event_type in ('chat_started', 'message')) dbt_subquery
where chat_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select created_at
from "athena_analytics"."bronze_chat_events"
where created_at is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select event_id
from "athena_analytics"."bronze_chat_events"
where event_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select event_type
from "athena_analytics"."bronze_chat_events"
where event_type is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select ingest_date
from "athena_analytics"."bronze_chat_events"
where ingest_date is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select partition_date
from "athena_analytics"."bronze_chat_events"
where partition_date is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select setting_name
from (select * from "athena_analytics"."bronze_chat_events" where event_type = 'setting_changed') dbt_subquery
where setting_name is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select user_id
from "athena_analytics"."bronze_chat_events"
where user_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with child as (
    select tool_name as from_field
    from "athena_analytics"."bronze_chat_events"
    where tool_name is not null
),
parent as (
    select tool_name as to_field
    from "athena_analytics"."tool_catalog"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select ingest_date
from "athena_analytics_landing"."reasoning_steps"
where ingest_date is null


) dbt_internal_test;

create table "athena_analytics"."bronze_quarantined_events"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/bronze_quarantined_events/<uuid>',
    partitioning = ARRAY['ingest_date'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as
select * from (


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
)
select
    cast('chat_events' as varchar) as source_table,
    raw,
    quarantine_reason,
    event_id,
    user_id,
    ingest_date
from __dbt__cte__stg_landing_chat_events
where quarantine_reason is not null
  and not erased_subject


union all

select
    cast('reasoning_steps' as varchar) as source_table,
    raw,
    quarantine_reason,
    event_id,
    user_id,
    ingest_date
from __dbt__cte__stg_landing_reasoning_steps
where quarantine_reason is not null
  and not erased_subject


) as strata_subject_rows
where coalesce(cast(strata_subject_rows."user_id" as varchar) not in (select guid from "athena_analytics"."strata_rights_ledger"
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null), true)
and not coalesce(strata_subject_rows."user_id" is null and coalesce(any_match((select array_agg(guid) from (select guid from "athena_analytics"."strata_rights_ledger"
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null) as erased_ids), rights_id -> strpos(strata_subject_rows."raw", '"' || rights_id || '"') > 0), false), false);

create table "athena_analytics"."bronze_reasoning_steps"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/bronze_reasoning_steps/<uuid>',
    partitioning = ARRAY['partition_date'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as
select * from (


with __dbt__cte__stg_landing_reasoning_steps as (
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
), new_lines as (
    select *
    from __dbt__cte__stg_landing_reasoning_steps
    where quarantine_reason is null
      and not erased_subject
    
),

ranked as (
    select
        *,
        row_number() over (partition by event_id, step_index order by ingest_date, raw) as arrival_rank
    from new_lines
)

select
    event_id,
    step_index,
    user_id,
    reasoning_step,
    step_details,
    created_at,
    ingest_date,
    partition_date
from ranked as r
where arrival_rank = 1


) as strata_subject_rows
where coalesce(cast(strata_subject_rows."user_id" as varchar) not in (select guid from "athena_analytics"."strata_rights_ledger"
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null), true);

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with all_values as (
    select
        quarantine_reason as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_quarantined_events"
    group by quarantine_reason
)
select *
from all_values
where value_field not in ('invalid_encoding', 'invalid_json', 'invalid_event_id', 'missing_event_id', 'invalid_user_id', 'missing_user_id', 'invalid_event_type', 'missing_event_type', 'missing_step_index', 'invalid_step_index', 'invalid_created_at', 'missing_created_at', 'invalid_chat_id', 'missing_chat_id', 'invalid_setting_name', 'missing_setting_name', 'invalid_setting_value', 'invalid_message', 'invalid_tool_name', 'invalid_reasoning_step', 'invalid_step_details')


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with all_values as (
    select
        source_table as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_quarantined_events"
    group by source_table
)
select *
from all_values
where value_field not in ('chat_events', 'reasoning_steps')


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with all_values as (
    select
        reasoning_step as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_reasoning_steps"
    group by reasoning_step
)
select *
from all_values
where value_field not in ('plan', 'tool_select', 'tool_call', 'read_result', 'answer')


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (
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


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (
-- A reasoning step belongs to a message event of the same user, and does not
-- happen before it (timestamps are compared in UTC). Returns the offending steps.

select
    s.event_id,
    s.step_index,
    s.user_id as step_user_id,
    e.user_id as event_user_id,
    e.event_type,
    s.created_at as step_created_at,
    e.created_at as event_created_at
from "athena_analytics"."bronze_reasoning_steps" as s
inner join "athena_analytics"."bronze_chat_events" as e
    on e.event_id = s.event_id
where e.event_type <> 'message'
   or e.user_id <> s.user_id
   or s.created_at < e.created_at


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select ingest_date
from "athena_analytics"."bronze_quarantined_events"
where ingest_date is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select quarantine_reason
from "athena_analytics"."bronze_quarantined_events"
where quarantine_reason is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select source_table
from "athena_analytics"."bronze_quarantined_events"
where source_table is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select created_at
from "athena_analytics"."bronze_reasoning_steps"
where created_at is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select event_id
from "athena_analytics"."bronze_reasoning_steps"
where event_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select ingest_date
from "athena_analytics"."bronze_reasoning_steps"
where ingest_date is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select partition_date
from "athena_analytics"."bronze_reasoning_steps"
where partition_date is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select step_index
from "athena_analytics"."bronze_reasoning_steps"
where step_index is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select user_id
from "athena_analytics"."bronze_reasoning_steps"
where user_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with child as (
    select event_id as from_field
    from "athena_analytics"."bronze_reasoning_steps"
    where event_id is not null
),
parent as (
    select event_id as to_field
    from "athena_analytics"."bronze_chat_events"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    event_id as unique_field,
    count(*) as n_records
from "athena_analytics"."bronze_chat_events"
where event_id is not null
group by event_id
having count(*) > 1


) dbt_internal_test;

create table "athena_analytics"."silver_active_user_setting_daily"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/silver_active_user_setting_daily/<uuid>',
    partitioning = ARRAY['date_col'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as
select * from (


with changes as (
    select event_id, user_id, setting_name, setting_value, created_at, ingest_date, partition_date
    from "athena_analytics"."bronze_chat_events"
    where event_type = 'setting_changed'
    
),

ranked as (
    select
        *,
        row_number() over (
            partition by user_id, partition_date, setting_name
            order by created_at desc, event_id desc
        ) as recency_rank,
        count(*) over (partition by user_id, partition_date, setting_name) as changes_that_day,
        max(cast(ingest_date as timestamp(6))) over (
            partition by user_id, partition_date, setting_name
        ) as newest_arrival
    from changes
)

select
    user_id,
    partition_date as date_col,
    setting_name,
    setting_value,
    cast(changes_that_day as integer) as change_count,
    created_at as last_changed_at,
    newest_arrival as updated_at
from ranked
where recency_rank = 1

) as strata_subject_rows
where coalesce(cast(strata_subject_rows."user_id" as varchar) not in (select guid from "athena_analytics"."strata_rights_ledger"
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null), true);

create table "athena_analytics"."silver_message_daily"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/silver_message_daily/<uuid>',
    partitioning = ARRAY['date_col'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as
select * from (


with messages as (
    select chat_id, user_id, tool_name, created_at, ingest_date, partition_date
    from "athena_analytics"."bronze_chat_events"
    where event_type = 'message'
    
)

select
    chat_id,
    partition_date as date_col,
    min(user_id) as user_id,
    cast(count(*) as integer) as message_count,
    cast(count(tool_name) as integer) as tool_call_count,
    min(created_at) as first_message_at,
    max(created_at) as last_message_at,
    max(cast(ingest_date as timestamp(6))) as updated_at
from messages
group by chat_id, partition_date

) as strata_subject_rows
where coalesce(cast(strata_subject_rows."chat_id" as varchar) not in (select cast("chat_id" as varchar) from "athena_analytics"."bronze_chat_events"
where cast("user_id" as varchar) in (select guid from "athena_analytics"."strata_rights_ledger"
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null) and "chat_id" is not null
union all
select substr(u.item, strpos(u.item, chr(30)) + 1) from (
    select via_keys from "athena_analytics"."strata_rights_ledger"
    where phase = 'started' and right_type in ('ERASURE', 'SA_WITHDRAW') and via_keys is not null
) as l cross join unnest(split(l.via_keys, chr(31))) as u(item)
where substr(u.item, 1, strpos(u.item, chr(30)) - 1) in ('silver_message_daily')), true);

create table "athena_analytics"."silver_room_daily"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/silver_room_daily/<uuid>',
    partitioning = ARRAY['date_col'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as
select * from (


with events as (
    select chat_id, user_id, event_type, created_at, ingest_date, partition_date
    from "athena_analytics"."bronze_chat_events"
    where chat_id is not null
    
)

select
    chat_id as room_id,
    partition_date as date_col,
    min(user_id) as user_id,
    cast(count(distinct user_id) as integer) as user_count,
    cast(count(case when event_type = 'message' then 1 end) as integer) as message_count,
    count(case when event_type = 'chat_started' then 1 end) > 0 as is_new_room,
    min(created_at) as created_at,
    max(cast(ingest_date as timestamp(6))) as updated_at
from events
group by chat_id, partition_date

) as strata_subject_rows
where coalesce(cast(strata_subject_rows."user_id" as varchar) not in (select guid from "athena_analytics"."strata_rights_ledger"
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null), true);

create table "athena_analytics"."silver_user_daily"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/silver_user_daily/<uuid>',
    partitioning = ARRAY['date_col'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as
select * from (


with events as (
    select user_id, chat_id, event_type, tool_name, created_at, ingest_date, partition_date
    from "athena_analytics"."bronze_chat_events"
    
),

daily as (
    select
        user_id,
        partition_date as date_col,
        cast(count(case when event_type = 'message' then 1 end) as integer) as message_count,
        cast(count(distinct case when event_type = 'message' then chat_id end) as integer) as chat_count,
        max(created_at) as last_activity,
        max(cast(ingest_date as timestamp(6))) as updated_at
    from events
    group by user_id, partition_date
),

tool_calls as (
    select
        user_id,
        partition_date as date_col,
        tool_name,
        count(*) as calls
    from events
    where event_type = 'message' and tool_name is not null
    group by user_id, partition_date, tool_name
),

tool_maps as (
    select
        user_id,
        date_col,
        map_agg(tool_name, cast(calls as integer)) as tool_usage
    from tool_calls
    group by user_id, date_col
)

select
    d.user_id,
    d.date_col,
    d.message_count,
    d.chat_count,
    coalesce(t.tool_usage, cast(map() as map(varchar, integer))) as tool_usage,
    d.last_activity,
    d.updated_at
from daily as d
left join tool_maps as t
    on t.user_id = d.user_id and t.date_col = d.date_col

) as strata_subject_rows
where coalesce(cast(strata_subject_rows."user_id" as varchar) not in (select guid from "athena_analytics"."strata_rights_ledger"
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null), true);

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (
-- Per event day, every silver table agrees with bronze: message, user, chat,
-- room, tool-call and setting-change counts. Each silver table is compared with
-- the bronze rows that had arrived by its high watermark (max updated_at), so a
-- table on a slower schedule (the weekly settings table) or bronze loads that
-- landed after the silver run do not count as mismatches; everything up to the
-- watermark must match exactly. Returns one row per (model, day, metric) whose
-- value differs or is missing on one side.

with bronze as (
    select
        *,
        cast(ingest_date as timestamp(6)) as arrived_at
    from "athena_analytics"."bronze_chat_events"
),

watermarks as (
    select 'silver_user_daily' as model, max(updated_at) as watermark from "athena_analytics"."silver_user_daily"
    union all
    select 'silver_message_daily' as model, max(updated_at) as watermark from "athena_analytics"."silver_message_daily"
    union all
    select 'silver_room_daily' as model, max(updated_at) as watermark from "athena_analytics"."silver_room_daily"
    union all
    select 'silver_active_user_setting_daily' as model, max(updated_at) as watermark from "athena_analytics"."silver_active_user_setting_daily"
    
),

expected as (
    select 'silver_user_daily' as model, partition_date as date_col, 'messages' as metric, count(*) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_user_daily')
    group by partition_date
    union all
    select 'silver_user_daily' as model, partition_date as date_col, 'active_users' as metric, count(distinct user_id) as value
    from bronze
    where 1 = 1
      and arrived_at <= (select watermark from watermarks where model = 'silver_user_daily')
    group by partition_date
    union all
    select 'silver_user_daily' as model, partition_date as date_col, 'chats_with_messages' as metric, count(distinct chat_id) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_user_daily')
    group by partition_date
    union all
    select 'silver_message_daily' as model, partition_date as date_col, 'messages' as metric, count(*) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_message_daily')
    group by partition_date
    union all
    select 'silver_message_daily' as model, partition_date as date_col, 'chats_with_messages' as metric, count(distinct chat_id) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_message_daily')
    group by partition_date
    union all
    select 'silver_message_daily' as model, partition_date as date_col, 'tool_calls' as metric, count(tool_name) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_message_daily')
    group by partition_date
    union all
    select 'silver_room_daily' as model, partition_date as date_col, 'messages' as metric, count(*) as value
    from bronze
    where event_type = 'message'
      and arrived_at <= (select watermark from watermarks where model = 'silver_room_daily')
    group by partition_date
    union all
    select 'silver_room_daily' as model, partition_date as date_col, 'rooms_with_events' as metric, count(distinct chat_id) as value
    from bronze
    where chat_id is not null
      and arrived_at <= (select watermark from watermarks where model = 'silver_room_daily')
    group by partition_date
    union all
    select 'silver_active_user_setting_daily' as model, partition_date as date_col, 'setting_changes' as metric, count(*) as value
    from bronze
    where event_type = 'setting_changed'
      and arrived_at <= (select watermark from watermarks where model = 'silver_active_user_setting_daily')
    group by partition_date
    union all
    select 'silver_active_user_setting_daily' as model, partition_date as date_col, 'user_settings_changed' as metric, count(distinct user_id || '|' || setting_name) as value
    from bronze
    where event_type = 'setting_changed'
      and arrived_at <= (select watermark from watermarks where model = 'silver_active_user_setting_daily')
    group by partition_date
    
),

actual as (
    select 'silver_user_daily' as model, date_col, 'messages' as metric, sum(message_count) as value
    from "athena_analytics"."silver_user_daily"
    where message_count > 0
    group by date_col
    union all
    select 'silver_user_daily' as model, date_col, 'active_users' as metric, count(*) as value
    from "athena_analytics"."silver_user_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_user_daily' as model, date_col, 'chats_with_messages' as metric, sum(chat_count) as value
    from "athena_analytics"."silver_user_daily"
    where chat_count > 0
    group by date_col
    union all
    select 'silver_message_daily' as model, date_col, 'messages' as metric, sum(message_count) as value
    from "athena_analytics"."silver_message_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_message_daily' as model, date_col, 'chats_with_messages' as metric, count(*) as value
    from "athena_analytics"."silver_message_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_message_daily' as model, date_col, 'tool_calls' as metric, sum(tool_call_count) as value
    from "athena_analytics"."silver_message_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_room_daily' as model, date_col, 'messages' as metric, sum(message_count) as value
    from "athena_analytics"."silver_room_daily"
    where message_count > 0
    group by date_col
    union all
    select 'silver_room_daily' as model, date_col, 'rooms_with_events' as metric, count(*) as value
    from "athena_analytics"."silver_room_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_active_user_setting_daily' as model, date_col, 'setting_changes' as metric, sum(change_count) as value
    from "athena_analytics"."silver_active_user_setting_daily"
    where 1 = 1
    group by date_col
    union all
    select 'silver_active_user_setting_daily' as model, date_col, 'user_settings_changed' as metric, count(*) as value
    from "athena_analytics"."silver_active_user_setting_daily"
    where 1 = 1
    group by date_col
    
)

select
    coalesce(e.model, a.model) as model,
    coalesce(e.date_col, a.date_col) as date_col,
    coalesce(e.metric, a.metric) as metric,
    e.value as bronze_value,
    a.value as silver_value
from expected as e
full outer join actual as a
    on a.model = e.model and a.date_col = e.date_col and a.metric = e.metric
where e.value is null
   or a.value is null
   or e.value <> a.value


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select date_col
from "athena_analytics"."silver_active_user_setting_daily"
where date_col is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select setting_name
from "athena_analytics"."silver_active_user_setting_daily"
where setting_name is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select user_id
from "athena_analytics"."silver_active_user_setting_daily"
where user_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select chat_id
from "athena_analytics"."silver_message_daily"
where chat_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select date_col
from "athena_analytics"."silver_message_daily"
where date_col is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select user_id
from "athena_analytics"."silver_message_daily"
where user_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select date_col
from "athena_analytics"."silver_room_daily"
where date_col is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select room_id
from "athena_analytics"."silver_room_daily"
where room_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select user_id
from "athena_analytics"."silver_room_daily"
where user_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select chat_count
from "athena_analytics"."silver_user_daily"
where chat_count is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select date_col
from "athena_analytics"."silver_user_daily"
where date_col is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select last_activity
from "athena_analytics"."silver_user_daily"
where last_activity is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select message_count
from "athena_analytics"."silver_user_daily"
where message_count is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select updated_at
from "athena_analytics"."silver_user_daily"
where updated_at is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select user_id
from "athena_analytics"."silver_user_daily"
where user_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with child as (
    select setting_name as from_field
    from "athena_analytics"."silver_active_user_setting_daily"
    where setting_name is not null
),
parent as (
    select setting_name as to_field
    from "athena_analytics"."setting_catalog"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with child as (
    select chat_id as from_field
    from "athena_analytics"."silver_message_daily"
    where chat_id is not null
),
parent as (
    select chat_id as to_field
    from "athena_analytics"."bronze_chat_events"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with child as (
    select user_id as from_field
    from "athena_analytics"."silver_message_daily"
    where user_id is not null
),
parent as (
    select user_id as to_field
    from "athena_analytics"."bronze_chat_events"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with child as (
    select room_id as from_field
    from "athena_analytics"."silver_room_daily"
    where room_id is not null
),
parent as (
    select chat_id as to_field
    from "athena_analytics"."bronze_chat_events"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with child as (
    select user_id as from_field
    from "athena_analytics"."silver_user_daily"
    where user_id is not null
),
parent as (
    select user_id as to_field
    from "athena_analytics"."bronze_chat_events"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    event_id || ':' || cast(step_index as varchar) as unique_field,
    count(*) as n_records
from "athena_analytics"."bronze_reasoning_steps"
where event_id || ':' || cast(step_index as varchar) is not null
group by event_id || ':' || cast(step_index as varchar)
having count(*) > 1


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    setting_name as unique_field,
    count(*) as n_records
from "athena_analytics"."setting_catalog"
where setting_name is not null
group by setting_name
having count(*) > 1


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    user_id || '|' || cast(date_col as varchar) || '|' || setting_name as unique_field,
    count(*) as n_records
from "athena_analytics"."silver_active_user_setting_daily"
where user_id || '|' || cast(date_col as varchar) || '|' || setting_name is not null
group by user_id || '|' || cast(date_col as varchar) || '|' || setting_name
having count(*) > 1


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    chat_id || '|' || cast(date_col as varchar) as unique_field,
    count(*) as n_records
from "athena_analytics"."silver_message_daily"
where chat_id || '|' || cast(date_col as varchar) is not null
group by chat_id || '|' || cast(date_col as varchar)
having count(*) > 1


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    room_id || '|' || cast(date_col as varchar) as unique_field,
    count(*) as n_records
from "athena_analytics"."silver_room_daily"
where room_id || '|' || cast(date_col as varchar) is not null
group by room_id || '|' || cast(date_col as varchar)
having count(*) > 1


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    user_id || '|' || cast(date_col as varchar) as unique_field,
    count(*) as n_records
from "athena_analytics"."silver_user_daily"
where user_id || '|' || cast(date_col as varchar) is not null
group by user_id || '|' || cast(date_col as varchar)
having count(*) > 1


) dbt_internal_test;

create table "athena_analytics"."gold_active_user_breakdown"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/gold_active_user_breakdown/<uuid>',
    partitioning = ARRAY['date_col'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as


with user_days as (
    select user_id, date_col, updated_at
    from "athena_analytics"."silver_user_daily"
),

spine as (
    select distinct date_col
    from user_days
    
),

windowed as (
    select
        s.date_col,
        u.user_id,
        u.date_col as activity_date,
        u.updated_at
    from spine as s
    inner join user_days as u
        on u.date_col <= s.date_col
       and u.date_col >= date_add('day', -27, s.date_col)
),

counts as (
    select
        date_col,
        count(distinct case when activity_date = date_col then user_id end) as dau,
        count(distinct case when activity_date >= date_add('day', -6, date_col) then user_id end) as wau,
        count(distinct user_id) as mau,
        max(updated_at) as updated_at
    from windowed
    group by date_col
)

select
    date_col,
    cast(dau as integer) as dau,
    cast(wau as integer) as wau,
    cast(mau as integer) as mau,
    round(cast(dau as double) / nullif(mau, 0), 4) as dau_mau_ratio,
    updated_at
from counts;

delete from "athena_analytics"."gold_active_user_breakdown" where date_col not in (select date_col from "athena_analytics"."silver_user_daily");

create table "athena_analytics"."gold_time_series"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/gold_time_series/<uuid>',
    partitioning = ARRAY['date_col'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as


with user_days as (
    select user_id, date_col, message_count, chat_count, updated_at
    from "athena_analytics"."silver_user_daily"
),

first_seen as (
    select user_id, min(date_col) as first_date
    from user_days
    group by user_id
),

new_users as (
    select first_date as date_col, count(*) as new_user_count
    from first_seen
    group by first_date
),

daily as (
    select
        date_col,
        count(*) as active_users,
        sum(message_count) as total_messages,
        sum(chat_count) as unique_chats,
        max(updated_at) as updated_at
    from user_days
    group by date_col
),

series as (
    select
        d.date_col,
        sum(coalesce(n.new_user_count, 0)) over (
            order by d.date_col rows between unbounded preceding and current row
        ) as total_users,
        d.active_users,
        d.total_messages,
        d.unique_chats,
        max(d.updated_at) over (
            order by d.date_col rows between unbounded preceding and current row
        ) as updated_at
    from daily as d
    left join new_users as n
        on n.date_col = d.date_col
)

select
    date_col,
    cast(total_users as integer) as total_users,
    cast(active_users as integer) as active_users,
    cast(total_messages as integer) as total_messages,
    cast(unique_chats as integer) as unique_chats,
    round(cast(total_messages as double) / nullif(active_users, 0), 4) as avg_messages_per_user,
    updated_at
from series;

delete from "athena_analytics"."gold_time_series" where date_col not in (select date_col from "athena_analytics"."silver_user_daily");

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (
-- The rolling windows of gold_active_user_breakdown nest: for every day
-- 0 < DAU <= WAU <= MAU, and dau_mau_ratio is DAU / MAU. Returns the days that
-- break it. (DAU against silver is checked in assert_gold_matches_silver.)

select
    date_col,
    dau,
    wau,
    mau,
    dau_mau_ratio
from "athena_analytics"."gold_active_user_breakdown"
where dau <= 0
   or dau > wau
   or wau > mau
   or dau_mau_ratio is null
   -- rounded to 4 decimals: off by at most half a unit in the last place (plus
   -- float noise: 23 / 160 = 0.14375 rounds to 0.1438, exactly 0.00005 away)
   or abs(dau_mau_ratio - cast(dau as double) / mau) > 0.0000501


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select date_col
from "athena_analytics"."gold_active_user_breakdown"
where date_col is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select date_col
from "athena_analytics"."gold_time_series"
where date_col is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    date_col as unique_field,
    count(*) as n_records
from "athena_analytics"."gold_active_user_breakdown"
where date_col is not null
group by date_col
having count(*) > 1


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    date_col as unique_field,
    count(*) as n_records
from "athena_analytics"."gold_time_series"
where date_col is not null
group by date_col
having count(*) > 1


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    tool_name as unique_field,
    count(*) as n_records
from "athena_analytics"."tool_catalog"
where tool_name is not null
group by tool_name
having count(*) > 1


) dbt_internal_test;

create table "athena_analytics"."gold_tool_call_breakdown"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/athena_analytics/gold_tool_call_breakdown/<uuid>',
    partitioning = ARRAY['date_col'],
    format = 'PARQUET',
    write_compression = 'ZSTD',
    vacuum_min_snapshots_to_keep = 10,
    vacuum_max_snapshot_age_seconds = 2592000
)
as


with

user_days as (
    select user_id, date_col, tool_usage, updated_at
    from "athena_analytics"."silver_user_daily"
    
),

day_freshness as (
    select date_col, max(updated_at) as updated_at
    from user_days
    group by date_col
),

calls as (
    select
        u.date_col,
        u.user_id,
        t.tool_name,
        t.calls
    from user_days as u
    cross join unnest(u.tool_usage) as t(tool_name, calls)
),

per_tool as (
    select
        date_col,
        tool_name,
        sum(calls) as call_count,
        count(distinct user_id) as user_count
    from calls
    group by date_col, tool_name
),

per_day as (
    select date_col, sum(call_count) as day_call_count
    from per_tool
    group by date_col
)

select
    p.date_col,
    p.tool_name,
    coalesce(c.tool_category, 'unknown') as tool_category,
    cast(p.call_count as integer) as call_count,
    cast(p.user_count as integer) as user_count,
    round(cast(p.call_count as double) / nullif(d.day_call_count, 0), 4) as share_of_calls,
    cast(row_number() over (
        partition by p.date_col order by p.call_count desc, p.tool_name
    ) as integer) as tool_rank,
    f.updated_at
from per_tool as p
inner join per_day as d
    on d.date_col = p.date_col
inner join day_freshness as f
    on f.date_col = p.date_col
left join "athena_analytics"."tool_catalog" as c
    on c.tool_name = p.tool_name;

delete from "athena_analytics"."gold_tool_call_breakdown" where date_col not in (select date_col from "athena_analytics"."silver_user_daily" where cardinality(tool_usage) > 0);

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (
-- Per event day, the gold tables agree with silver_user_daily and
-- silver_message_daily: gold_time_series totals are silver sums (total_users
-- recomputed from first-seen days), DAU is the day's silver users, tool calls add
-- up. Days from the first silver row newer than a gold table's high watermark on
-- are skipped for that table (silver has moved on and gold has not run yet);
-- every earlier day must match exactly. Returns one row per mismatch.
-- A data-subject erasure deletes silver rows but leaves the anonymous gold
-- aggregates alone: between an erasure and gold's next run this test reports the
-- days the erased subjects counted in; that run recomputes them (the gold models
-- pick up days whose stored values no longer match silver), and then it passes.

with user_days as (
    select * from "athena_analytics"."silver_user_daily"
),

message_days as (
    select * from "athena_analytics"."silver_message_daily"
),

first_seen as (
    select user_id, min(date_col) as first_date
    from user_days
    group by user_id
),

days as (
    select distinct date_col from user_days
),

expected as (
    select 'gold_time_series' as model, date_col, 'active_users' as metric, count(*) as value
    from user_days group by date_col
    union all
    select 'gold_time_series', date_col, 'total_messages', sum(message_count)
    from user_days group by date_col
    union all
    select 'gold_time_series', date_col, 'unique_chats', count(*)
    from message_days group by date_col
    union all
    select 'gold_time_series', d.date_col, 'total_users', count(f.user_id)
    from days as d
    inner join first_seen as f on f.first_date <= d.date_col
    group by d.date_col
    union all
    select 'gold_active_user_breakdown', date_col, 'dau', count(*)
    from user_days group by date_col
    union all
    select 'gold_tool_call_breakdown', date_col, 'tool_calls', sum(tool_call_count)
    from message_days group by date_col having sum(tool_call_count) > 0
),

actual as (
    select 'gold_time_series' as model, date_col, 'active_users' as metric, active_users as value
    from "athena_analytics"."gold_time_series"
    union all
    select 'gold_time_series', date_col, 'total_messages', total_messages
    from "athena_analytics"."gold_time_series"
    union all
    select 'gold_time_series', date_col, 'unique_chats', unique_chats
    from "athena_analytics"."gold_time_series" where unique_chats > 0
    union all
    select 'gold_time_series', date_col, 'total_users', total_users
    from "athena_analytics"."gold_time_series"
    union all
    select 'gold_active_user_breakdown', date_col, 'dau', dau
    from "athena_analytics"."gold_active_user_breakdown"
    union all
    select 'gold_tool_call_breakdown', date_col, 'tool_calls', sum(call_count)
    from "athena_analytics"."gold_tool_call_breakdown" group by date_col
),

gold_watermarks as (
    select 'gold_time_series' as model, max(updated_at) as watermark from "athena_analytics"."gold_time_series"
    union all
    select 'gold_active_user_breakdown', max(updated_at) from "athena_analytics"."gold_active_user_breakdown"
    union all
    select 'gold_tool_call_breakdown', max(updated_at) from "athena_analytics"."gold_tool_call_breakdown"
),

comparable_until as (
    -- the first day silver changed after the gold table's last run (NULL: none)
    select w.model, min(u.date_col) as first_pending_day
    from gold_watermarks as w
    left join user_days as u on u.updated_at > w.watermark
    group by w.model
),

compared as (
    select
        coalesce(e.model, a.model) as model,
        coalesce(e.date_col, a.date_col) as date_col,
        coalesce(e.metric, a.metric) as metric,
        e.value as silver_value,
        a.value as gold_value
    from expected as e
    full outer join actual as a
        on a.model = e.model and a.date_col = e.date_col and a.metric = e.metric
)

select c.*
from compared as c
inner join comparable_until as p on p.model = c.model
where (p.first_pending_day is null or c.date_col < p.first_pending_day)
  and (c.silver_value is null or c.gold_value is null or c.silver_value <> c.gold_value)


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select date_col
from "athena_analytics"."gold_tool_call_breakdown"
where date_col is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select tool_name
from "athena_analytics"."gold_tool_call_breakdown"
where tool_name is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

with child as (
    select tool_name as from_field
    from "athena_analytics"."gold_tool_call_breakdown"
    where tool_name is not null
),
parent as (
    select tool_name as to_field
    from "athena_analytics"."tool_catalog"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    cast(date_col as varchar) || '|' || tool_name as unique_field,
    count(*) as n_records
from "athena_analytics"."gold_tool_call_breakdown"
where cast(date_col as varchar) || '|' || tool_name is not null
group by cast(date_col as varchar) || '|' || tool_name
having count(*) > 1


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    right_type as unique_field,
    count(*) as n_records
from "athena_analytics"."user_right_types"
where right_type is not null
group by right_type
having count(*) > 1


) dbt_internal_test;

