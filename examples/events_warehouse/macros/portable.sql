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

{#- A JSON object of strings as map<varchar, varchar> (the same cast on both engines). -#}
{% macro json_string_map(column, path) -%}
  cast(json_extract({{ column }}, '{{ path }}') as map(varchar, varchar))
{%- endmacro %}

{#- A map's value for a key, or null. -#}
{% macro map_value(map, key) -%}
  {{ return(adapter.dispatch('map_value')(map, key)) }}
{%- endmacro %}
{% macro default__map_value(map, key) -%}
  {{ map }}[{{ key }}]
{%- endmacro %}
{% macro athena__map_value(map, key) -%}
  element_at({{ map }}, {{ key }})
{%- endmacro %}

{#- An ISO-8601 UTC timestamp ('2026-01-01T00:23:55Z') as a timestamp. -#}
{% macro iso_timestamp(text) -%}
  {{ return(adapter.dispatch('iso_timestamp')(text)) }}
{%- endmacro %}
{% macro default__iso_timestamp(text) -%}
  try_strptime({{ text }}, '%Y-%m-%dT%H:%M:%SZ')
{%- endmacro %}
{% macro athena__iso_timestamp(text) -%}
  cast(try(from_iso8601_timestamp({{ text }})) as timestamp(3))
{%- endmacro %}

{#- The request context: struct<ip, user_agent>. -#}
{% macro context_struct(ip, user_agent) -%}
  {{ return(adapter.dispatch('context_struct')(ip, user_agent)) }}
{%- endmacro %}
{% macro default__context_struct(ip, user_agent) -%}
  struct_pack(ip := {{ ip }}, user_agent := {{ user_agent }})
{%- endmacro %}
{% macro athena__context_struct(ip, user_agent) -%}
  cast(row({{ ip }}, {{ user_agent }}) as row(ip varchar, user_agent varchar))
{%- endmacro %}

{#- The start of a timestamp's minute, hour or day. -#}
{% macro bucket(granularity, ts) -%}
  date_trunc('{{ granularity }}', {{ ts }})
{%- endmacro %}
