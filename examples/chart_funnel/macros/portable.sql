{#- What differs between DuckDB and Athena (Trino), dispatched so the same models run on
    both (and under dbt-duckdb and dbt-athena). -#}

{% macro json_text(column, path) -%}
  {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}
{% macro default__json_text(column, path) -%}
  json_extract_string({{ column }}, '{{ path }}')
{%- endmacro %}
{% macro athena__json_text(column, path) -%}
  json_extract_scalar({{ column }}, '{{ path }}')
{%- endmacro %}

{#- A JSON array of strings as array<varchar>. -#}
{% macro json_string_array(column, path) -%}
  {{ return(adapter.dispatch('json_string_array')(column, path)) }}
{%- endmacro %}
{% macro default__json_string_array(column, path) -%}
  cast(json_extract({{ column }}, '{{ path }}') as varchar[])
{%- endmacro %}
{% macro athena__json_string_array(column, path) -%}
  cast(json_extract({{ column }}, '{{ path }}') as array(varchar))
{%- endmacro %}

{% macro iso_timestamp(text) -%}
  {{ return(adapter.dispatch('iso_timestamp')(text)) }}
{%- endmacro %}
{% macro default__iso_timestamp(text) -%}
  try_strptime({{ text }}, '%Y-%m-%dT%H:%M:%S.%gZ')
{%- endmacro %}
{% macro athena__iso_timestamp(text) -%}
  cast(try(from_iso8601_timestamp({{ text }})) as timestamp(3))
{%- endmacro %}

{#- The hour of a timestamp as two digits ('07'). -#}
{% macro hour_text(ts) -%}
  {{ return(adapter.dispatch('hour_text')(ts)) }}
{%- endmacro %}
{% macro default__hour_text(ts) -%}
  strftime({{ ts }}, '%H')
{%- endmacro %}
{% macro athena__hour_text(ts) -%}
  format_datetime({{ ts }}, 'HH')
{%- endmacro %}

{#- The sorted array of a group's non-null strings; an empty array for none. -#}
{% macro sorted_string_array(column) -%}
  {{ return(adapter.dispatch('sorted_string_array')(column)) }}
{%- endmacro %}
{% macro default__sorted_string_array(column) -%}
  coalesce(list({{ column }} order by {{ column }}) filter (where {{ column }} is not null), []::varchar[])
{%- endmacro %}
{% macro athena__sorted_string_array(column) -%}
  coalesce(array_agg({{ column }} order by {{ column }}) filter (where {{ column }} is not null), cast(array[] as array(varchar)))
{%- endmacro %}

{% macro array_size(array) -%}
  {{ return(adapter.dispatch('array_size')(array)) }}
{%- endmacro %}
{% macro default__array_size(array) -%}
  len({{ array }})
{%- endmacro %}
{% macro athena__array_size(array) -%}
  cardinality({{ array }})
{%- endmacro %}

{% macro array_has(array, value) -%}
  {{ return(adapter.dispatch('array_has')(array, value)) }}
{%- endmacro %}
{% macro default__array_has(array, value) -%}
  list_contains({{ array }}, {{ value }})
{%- endmacro %}
{% macro athena__array_has(array, value) -%}
  contains({{ array }}, {{ value }})
{%- endmacro %}
