{#- DuckDB implementations of the materialization entry points. -#}

{% macro duckdb__replace_table_as(relation, sql) -%}
create or replace table {{ relation }} as (
{{ sql }}
)
{%- endmacro %}

{% macro duckdb__create_view_as(relation, sql) -%}
create or replace view {{ relation }} as (
{{ sql }}
)
{%- endmacro %}

{#- Dates are recognised in ISO form only: DuckDB's sniffer would read 01/02/2024
    day-first without a word (dbt keeps such a column as text). (Timestamps keep DuckDB's
    detection: its ISO-only setting refuses '2026-01-01 10:00:00' for a TIMESTAMP column.)
    With --empty the table gets the file's columns and no rows, as in dbt. -#}
{% macro duckdb__load_csv(relation, path, column_types, columns=[]) -%}
create table {{ relation }} as
select * from read_csv('{{ path | replace("'", "''") }}', header = true, auto_detect = true,
    dateformat = '%Y-%m-%d'
{%- if column_types %}, types = {
{%- for name, type in column_types | items %}'{{ name | replace("'", "''") }}': '{{ type | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
}{% endif %})
{%- if flags.EMPTY %}
limit 0
{%- endif %}
{%- endmacro %}

{#- ACCESS exports: COPY ... PARTITION_BY writes <path>/<relation>/subject_no=N/*.csv. -#}
{% macro duckdb__rights_export(batch, declared, right_types, path) -%}
{%- for d in declared %}
copy (
    select b.subject_no, t.*
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
) to '{{ path | replace("'", "''") }}/{{ d.name }}' (format csv, header, partition_by (subject_no), overwrite_or_ignore);
{%- endfor %}
{%- endmacro %}

{#- After deletes, fold the log into the file; the adapter then copies the database into a
    new file (freed blocks keep old bytes, so only a rewrite makes erased rows leave it). -#}
{% macro duckdb__rights_purge(relations, properties=[]) -%}
checkpoint
{%- endmacro %}
