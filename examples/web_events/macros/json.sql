{#- The few functions that differ between DuckDB and Athena (Trino), dispatched so the same
    models run on both (and under dbt-duckdb and dbt-athena). -#}

{#- A JSON value's text at `path` (a JSONPath such as '$.eventData.type'); null when absent. -#}
{% macro json_text(column, path) -%}
  {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}
{% macro default__json_text(column, path) -%}
  json_extract_string({{ column }}, '{{ path }}')
{%- endmacro %}
{% macro athena__json_text(column, path) -%}
  json_extract_scalar({{ column }}, '{{ path }}')
{%- endmacro %}

{#- An ISO-8601 UTC timestamp ('2026-03-01T11:05:39.000Z') as a timestamp. -#}
{% macro iso_timestamp(text) -%}
  {{ return(adapter.dispatch('iso_timestamp')(text)) }}
{%- endmacro %}
{% macro default__iso_timestamp(text) -%}
  try_strptime({{ text }}, '%Y-%m-%dT%H:%M:%S.%gZ')
{%- endmacro %}
{% macro athena__iso_timestamp(text) -%}
  cast(try(from_iso8601_timestamp({{ text }})) as timestamp(3))
{%- endmacro %}

{#- The 3D view of a virtual tour: struct<pitch, yaw, hfov>, null without a pitch. -#}
{% macro coordinates(pitch, yaw, hfov) -%}
  {{ return(adapter.dispatch('coordinates')(pitch, yaw, hfov)) }}
{%- endmacro %}
{% macro default__coordinates(pitch, yaw, hfov) -%}
  case when {{ pitch }} is null then null
       else struct_pack(pitch := {{ pitch }}, yaw := {{ yaw }}, hfov := {{ hfov }}) end
{%- endmacro %}
{% macro athena__coordinates(pitch, yaw, hfov) -%}
  case when {{ pitch }} is null then null
       else cast(row({{ pitch }}, {{ yaw }}, {{ hfov }}) as row(pitch double, yaw double, hfov double)) end
{%- endmacro %}
