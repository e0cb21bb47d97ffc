{#- Athena versions of the data-subject rights statements. The subject ids reach the batch
    table as ExecutionParameters (quoted once by the adapter), never spliced into SQL. -#}

{% macro athena__rights_ledger_ddl(ledger) -%}
create table if not exists {{ ledger.render_hive() }} (
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
    finished_at bigint
)
location '{{ athena__table_location(ledger) }}'
tblproperties ('table_type' = 'ICEBERG', 'format' = 'parquet')
{%- endmacro %}

{% macro athena__rights_purged_ddl(purged) -%}
create table if not exists {{ purged.render_hive() }} (request_id string, done_at bigint)
location '{{ athena__table_location(purged) }}'
tblproperties ('table_type' = 'ICEBERG', 'format' = 'parquet')
{%- endmacro %}

{#- Athena has no CREATE OR REPLACE TABLE: drop, then CTAS from the bound values. -#}
{% macro athena__rights_load_batch(batch, n, ledger) -%}
drop table if exists {{ batch.render_hive() }};
create table {{ batch }}
with (table_type = 'ICEBERG', is_external = false, location = '{{ athena__table_location(batch) }}/{{ new_uuid() }}', format = 'PARQUET')
as
select cast(request_id as varchar) as request_id, cast(guid as varchar) as guid,
       cast(right_type as varchar) as right_type, cast(subject_no as integer) as subject_no,
       cast(request_id as varchar) in (select request_id from {{ ledger }} where phase = 'finished') as answered
from (values {% for i in range(n) %}(?, ?, ?, ?){% if not loop.last %}, {% endif %}{% endfor %})
    as t(request_id, guid, right_type, subject_no)
{%- endmacro %}

{#- ACCESS: UNLOAD writes CSV text (comma-separated, no header) under
    <path>/<relation>/subject_no=N/ in S3. -#}
{% macro athena__rights_export(batch, declared, right_types, path) -%}
{%- for d in declared %}
unload (
    select t.*, b.subject_no
    from {{ d.relation }} as t
    inner join {{ batch }} as b
        on not b.answered
       and b.right_type in ({% for rt in right_types %}'{{ rt }}'{% if not loop.last %}, {% endif %}{% endfor %})
       and {% if d.via -%}
        cast(t.{{ adapter.quote(d.key) }} as varchar) in (
            select cast(v.{{ adapter.quote(d.via.key) }} as varchar) from {{ d.via.relation }} as v
            where cast(v.{{ adapter.quote(d.via.subject_key) }} as varchar) = b.guid)
       {%- else -%}
        cast(t.{{ adapter.quote(d.key) }} as varchar) = b.guid
       {%- endif %}
) to '{{ path.rstrip('/') }}/{{ d.name }}/'
with (format = 'TEXTFILE', field_delimiter = ',', partitioned_by = ARRAY['subject_no']);
{%- endfor %}
{%- endmacro %}

{#- Deleted rows live on in older Iceberg snapshots and files until these run. -#}
{% macro athena__rights_purge(relations) -%}
{%- for r in relations %}
optimize {{ r }} rewrite data using bin_pack;
vacuum {{ r }};
{%- endfor %}
{%- endmacro %}
