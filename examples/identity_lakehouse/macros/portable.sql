{#- What differs between DuckDB and Athena (Trino), dispatched so the same models run on both. -#}

{% macro json_text(column, path) -%}
  {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}
{% macro default__json_text(column, path) -%}
  json_extract_string({{ column }}, '{{ path }}')
{%- endmacro %}
{% macro athena__json_text(column, path) -%}
  json_extract_scalar({{ column }}, '{{ path }}')
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
