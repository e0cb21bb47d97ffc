{#- DuckDB implementations of the materialization entry points. -#}

{% macro duckdb__create_view_as(relation, sql) -%}
create or replace view {{ relation }} as (
{{ sql }}
)
{%- endmacro %}

{% macro duckdb__load_csv(relation, path, column_types) -%}
create table {{ relation }} as
select * from read_csv('{{ path | replace("'", "''") }}', header = true, auto_detect = true
{%- if column_types %}, types = {
{%- for name, type in column_types | items %}'{{ name | replace("'", "''") }}': '{{ type | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
}{% endif %})
{%- endmacro %}
