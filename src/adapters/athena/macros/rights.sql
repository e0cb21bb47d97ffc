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
    finished_at bigint,
    via_keys string,
    source string
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
{% macro athena__rights_load_batch(batch, n, ledger, declared=[]) -%}
drop table if exists {{ batch.render_hive() }};
create table {{ batch }}
with (table_type = 'ICEBERG', is_external = false, location = '{{ athena__table_location(batch) }}/{{ new_uuid() }}', format = 'PARQUET')
as
{{ rights_batch_rows(n, ledger, declared) }}
{%- endmacro %}

{#- ACCESS: UNLOAD writes the rows under <path>/<relation>/subject_no=N/ in S3 as JSON lines
    (one object per row, named columns): UNLOAD's TEXTFILE format neither quotes nor writes
    a header, so a comma or newline in a value would corrupt a CSV export. -#}
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
        (cast(t.{{ adapter.quote(d.key) }} as varchar) = b.guid
        {%- if d.raw_text %} or (t.{{ adapter.quote(d.key) }} is null and {{ rights_text_names('t.' ~ adapter.quote(d.raw_text), 'b.guid') }}){% endif %})
       {%- endif %}
) to '{{ path.rstrip('/') }}/{{ d.name }}/'
with (format = 'JSON', partitioned_by = ARRAY['subject_no']);
{%- endfor %}
{%- endmacro %}

{#- Deleted rows live on in older Iceberg snapshots, and in data files that position-delete
    files only mask, until these run. For the purge, OPTIMIZE rewrites every file with a
    delete file and VACUUM expires every snapshot older than a minute; then the model's own
    retention settings (or Athena's defaults) come back. -#}
{% macro athena__rights_purge(relations, properties=[]) -%}
{%- for r in relations %}
{%- set own = properties[loop.index0] if properties | length > loop.index0 else {} %}
alter table {{ r.render_hive() }} set tblproperties ('vacuum_min_snapshots_to_keep' = '1', 'vacuum_max_snapshot_age_seconds' = '60', 'optimize_rewrite_delete_file_threshold' = '1');
optimize {{ r }} rewrite data using bin_pack;
vacuum {{ r }};
alter table {{ r.render_hive() }} set tblproperties ('vacuum_min_snapshots_to_keep' = '{{ own.get('vacuum_min_snapshots_to_keep', 1) }}', 'vacuum_max_snapshot_age_seconds' = '{{ own.get('vacuum_max_snapshot_age_seconds', 432000) }}', 'optimize_rewrite_delete_file_threshold' = '{{ own.get('optimize_rewrite_delete_file_threshold', 2) }}');
{%- endfor %}
{%- endmacro %}

{#- Snapshots other than the current one committed before the erasures: each could still be
    read (time travel) and holds the erased rows. -#}
{% macro athena__rights_purge_check_sql(relation, before_epoch) -%}
select count(*) as remaining
from {{ adapter.quote(relation.schema) }}.{{ adapter.quote(relation.identifier ~ '$snapshots') }}
where committed_at <= from_unixtime({{ before_epoch }})
  and snapshot_id <> (
      select snapshot_id from {{ adapter.quote(relation.schema) }}.{{ adapter.quote(relation.identifier ~ '$snapshots') }}
      order by committed_at desc limit 1)
{%- endmacro %}

{#- The whole id matches, as DuckDB's regexp_full_match has it. Trino's regexp_like finds a
    match anywhere, and its default regex library reads ^ and $ as line anchors (an id with
    a newline inside would pass on its first line): the anchored match must be the id. -#}
{% macro athena__rights_valid_subject_id(expr) -%}
coalesce(regexp_extract({{ expr }}, '^(?:{{ rights_subject_id_pattern | replace("'", "''") }})$') = {{ expr }}, false)
{%- endmacro %}

{% macro athena__rights_ledger_add_column(ledger, column) -%}
alter table {{ ledger.render_hive() }} add columns ({{ column }} string)
{%- endmacro %}

{% macro athena__rights_keys_text(array_expr) -%}
array_join({{ array_expr }}, chr(31))
{%- endmacro %}

{% macro athena__rights_split_keys(text_expr) -%}
split({{ text_expr }}, chr(31))
{%- endmacro %}

{% macro athena__rights_text_names_any(text_expr, ids_array_expr) -%}
coalesce(any_match({{ ids_array_expr }}, rights_id -> strpos({{ text_expr }}, '"' || rights_id || '"') > 0), false)
{%- endmacro %}
