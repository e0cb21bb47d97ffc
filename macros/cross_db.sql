{#-
  Cross-database macros of the Athena Analytics project.

  Each public macro dispatches with adapter.dispatch(): `duckdb__` is the local
  engine (DuckDB 1.5), `athena__` is Trino SQL as Amazon Athena engine v3 runs it,
  `default__` is plain ANSI-ish SQL where one exists.
-#}

{#- ---------------------------------------------------------------- JSON -- -#}

{#- json_is_object(expr): true when the VARCHAR `expr` is valid JSON whose top
    level is an object; false (never an error) for invalid JSON, arrays,
    scalars and NULL. -#}
{% macro json_is_object(expr) -%}
  {{ adapter.dispatch('json_is_object')(expr) }}
{%- endmacro %}

{% macro duckdb__json_is_object(expr) -%}
  (case when json_valid({{ expr }}) then json_type({{ expr }}) = 'OBJECT' else false end)
{%- endmacro %}

{% macro athena__json_is_object(expr) -%}
  coalesce(try(cast(json_parse({{ expr }}) as map(varchar, json))) is not null, false)
{%- endmacro %}

{#- json_extract_text(doc, key): the top-level member `key` of the JSON object
    `doc` as VARCHAR (strings unquoted, numbers/booleans as their JSON text,
    JSON null or an absent key as NULL). `doc` must be valid JSON or NULL. -#}
{% macro json_extract_text(doc, key) -%}
  {{ adapter.dispatch('json_extract_text')(doc, key) }}
{%- endmacro %}

{% macro duckdb__json_extract_text(doc, key) -%}
  json_extract_string({{ doc }}, '$.{{ key }}')
{%- endmacro %}

{% macro athena__json_extract_text(doc, key) -%}
  json_extract_scalar({{ doc }}, '$.{{ key }}')
{%- endmacro %}

{#- json_extract_texts(doc, keys): the top-level members `keys` (a list of
    names) of the JSON object `doc` as an ARRAY of VARCHAR in the same order,
    with json_extract_text's conventions; index it with [1], [2], ... (1-based
    on both engines). DuckDB parses the document once for all keys. -#}
{% macro json_extract_texts(doc, keys) -%}
  {{ adapter.dispatch('json_extract_texts')(doc, keys) }}
{%- endmacro %}

{% macro duckdb__json_extract_texts(doc, keys) -%}
  json_extract_string({{ doc }}, [{% for key in keys %}'$.{{ key }}'{% if not loop.last %}, {% endif %}{% endfor %}])
{%- endmacro %}

{% macro athena__json_extract_texts(doc, keys) -%}
  array[{% for key in keys %}json_extract_scalar({{ doc }}, '$.{{ key }}'){% if not loop.last %}, {% endif %}{% endfor %}]
{%- endmacro %}

{#- ---------------------------------------------------------- timestamps -- -#}

{#- parse_iso8601_utc(expr): an ISO-8601 timestamp string with a 'Z' or
    '+hh:mm' offset as a TIMESTAMP in UTC (no time zone); NULL when it does
    not parse. Independent of the session time zone. -#}
{% macro parse_iso8601_utc(expr) -%}
  {{ adapter.dispatch('parse_iso8601_utc')(expr) }}
{%- endmacro %}

{% macro duckdb__parse_iso8601_utc(expr) -%}
  make_timestamp(epoch_us(try_cast({{ expr }} as timestamptz)))
{%- endmacro %}

{% macro athena__parse_iso8601_utc(expr) -%}
  try(cast(from_iso8601_timestamp({{ expr }}) at time zone 'UTC' as timestamp(6)))
{%- endmacro %}

{#- add_days(date_expr, days): the DATE `days` days after `date_expr`
    (negative goes back). -#}
{% macro add_days(date_expr, days) -%}
  {{ adapter.dispatch('add_days')(date_expr, days) }}
{%- endmacro %}

{% macro default__add_days(date_expr, days) -%}
  cast(({{ date_expr }}) + interval '{{ days }}' day as date)
{%- endmacro %}

{% macro duckdb__add_days(date_expr, days) -%}
  (({{ date_expr }}) + cast({{ days }} as integer))
{%- endmacro %}

{% macro athena__add_days(date_expr, days) -%}
  date_add('day', {{ days }}, {{ date_expr }})
{%- endmacro %}

{#- ---------------------------------------------------------------- maps -- -#}

{#- count_map_agg(key_expr, value_expr): aggregate function building a
    MAP(VARCHAR, INTEGER) from the group's (key, value) rows. Keys must be
    non-NULL and unique within the group. DuckDB maps compare by entry order,
    so entries are sorted by key to make equal maps compare equal. -#}
{% macro count_map_agg(key_expr, value_expr) -%}
  {{ adapter.dispatch('count_map_agg')(key_expr, value_expr) }}
{%- endmacro %}

{% macro duckdb__count_map_agg(key_expr, value_expr) -%}
  map_from_entries(list(struct_pack(key := {{ key_expr }}, value := cast({{ value_expr }} as integer)) order by {{ key_expr }}))
{%- endmacro %}

{% macro athena__count_map_agg(key_expr, value_expr) -%}
  map_agg({{ key_expr }}, cast({{ value_expr }} as integer))
{%- endmacro %}

{#- empty_count_map(): an empty MAP(VARCHAR, INTEGER). -#}
{% macro empty_count_map() -%}
  {{ adapter.dispatch('empty_count_map')() }}
{%- endmacro %}

{% macro duckdb__empty_count_map() -%}
  cast(map() as map(varchar, integer))
{%- endmacro %}

{#- Trino's map() is an empty map of unknown types; the cast gives it the column's. -#}
{% macro athena__empty_count_map() -%}
  cast(map() as map(varchar, integer))
{%- endmacro %}

{#- unnest_count_map(map_expr, alias, key_name, value_name): a FROM-clause
    fragment that joins one row per map entry, exposing alias.key_name and
    alias.value_name. Rows whose map is empty produce no rows. Use it right
    after the relation that holds the map:
      from silver_user_daily as u {{ unnest_count_map('u.tool_usage', 't', 'tool_name', 'calls') }}
-#}
{% macro unnest_count_map(map_expr, alias, key_name, value_name) -%}
  {{ adapter.dispatch('unnest_count_map')(map_expr, alias, key_name, value_name) }}
{%- endmacro %}

{% macro duckdb__unnest_count_map(map_expr, alias, key_name, value_name) -%}
  cross join lateral (
      select unnest(map_keys({{ map_expr }})) as {{ key_name }},
             unnest(map_values({{ map_expr }})) as {{ value_name }}
  ) as {{ alias }}
{%- endmacro %}

{% macro athena__unnest_count_map(map_expr, alias, key_name, value_name) -%}
  cross join unnest({{ map_expr }}) as {{ alias }}({{ key_name }}, {{ value_name }})
{%- endmacro %}
