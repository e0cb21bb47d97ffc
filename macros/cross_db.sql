{#-
  Cross-database macros of the Athena Analytics project.

  Each public macro dispatches with adapter.dispatch(): `duckdb__` is the local
  engine (DuckDB 1.5), `athena__` is Trino SQL as Amazon Athena engine v3 runs it,
  `default__` is plain ANSI-ish SQL where one exists.
-#}

{#- ------------------------------------------------- landing lines ------ -#}
{#- The landing contract (docs/landing-contract.md): what a landing line means,
    computed the same way on both engines. Athena's (Trino's) behaviour is the
    reference; each macro says where DuckDB needs help to match it. -#}

{#- landing_text(raw): the line as text. Athena's varchar keeps the file's bytes,
    so bytes that are not UTF-8 are replaced by U+FFFD here (DuckDB's landing
    reader already did); an empty line is ''. -#}
{% macro landing_text(raw) -%}
  {{ adapter.dispatch('landing_text')(raw) }}
{%- endmacro %}

{% macro duckdb__landing_text(raw) -%}
  coalesce({{ raw }}, '')
{%- endmacro %}

{% macro athena__landing_text(raw) -%}
  coalesce(from_utf8(to_utf8({{ raw }})), '')
{%- endmacro %}

{#- has_replacement_char(text): the line was not UTF-8 (or holds U+FFFD). -#}
{% macro has_replacement_char(text) -%}
  (strpos({{ text }}, chr(65533)) > 0)
{%- endmacro %}

{#- json_strict_text(text): RFC 8259's rules that DuckDB's parser does not
    enforce, checked on the text with its string literals blanked: no NaN or
    Infinity, no trailing comma, no raw control character inside a string (such
    a string is not blanked, so a quote is left over). -#}
{% macro json_strict_text(text) -%}
  {{ adapter.dispatch('json_strict_text')(text) }}
{%- endmacro %}

{#- DuckDB: the string literals are blanked only in lines that hold something suspect at
    all (blanking is most of the cost, and most lines hold none of it). -#}
{% macro duckdb__json_strict_text(text) -%}
  (case when regexp_matches({{ text }}, '[nN][aA][nN]|[iI][nN][fF]|,[ \t\n\r]*[}\]]|[\x00-\x1f]')
    then not regexp_matches(replace(regexp_replace({{ text }}, '"([^"\\\x00-\x1f]|\\.)*"', '""', 'g'), '""', ''), '"|[nN][aA][nN]|[iI][nN][fF]|,[ \t\n\r]*[}\]]')
    else true end)
{%- endmacro %}

{% macro athena__json_strict_text(text) -%}
  (not regexp_like(replace(regexp_replace({{ text }}, '"([^"\\\x00-\x1f]|\\.)*"', '""'), '""', ''), '"|[nN][aA][nN]|[iI][nN][fF]|,[ \t\n\r]*[}\]]'))
{%- endmacro %}

{#- landing_json_is_object(text): `text` is one JSON object per RFC 8259 with no
    top-level key twice; false (never an error) otherwise and for NULL. Trino's
    cast to map(varchar, json) refuses duplicate keys; DuckDB's json_keys lists
    them, so both engines refuse them. -#}
{% macro landing_json_is_object(text) -%}
  {{ adapter.dispatch('landing_json_is_object')(text) }}
{%- endmacro %}

{% macro duckdb__landing_json_is_object(text) -%}
  coalesce(case
    when json_valid({{ text }}) and json_type({{ text }}) = 'OBJECT' and {{ json_strict_text(text) }}
      then len(json_keys({{ text }})) = len(list_distinct(json_keys({{ text }})))
  end, false)
{%- endmacro %}

{% macro athena__landing_json_is_object(text) -%}
  coalesce({{ json_strict_text(text) }} and try(cast(json_parse({{ text }}) as map(varchar, json))) is not null, false)
{%- endmacro %}

{#- landing_field_kinds(doc, keys): for each top-level member `keys` of the JSON
    object `doc`, its JSON kind: 'string', 'number', 'boolean', 'null', 'object',
    'array', or NULL when absent; an ARRAY indexed from 1 like
    landing_field_texts. -#}
{% macro landing_field_kinds(doc, keys) -%}
  {{ adapter.dispatch('landing_field_kinds')(doc, keys) }}
{%- endmacro %}

{% macro duckdb__landing_field_kinds(doc, keys) -%}
  list_transform(json_type({{ doc }}, [{% for key in keys %}'$.{{ key }}'{% if not loop.last %}, {% endif %}{% endfor %}]),
    t -> case when t is null then null when t = 'VARCHAR' then 'string' when t = 'BOOLEAN' then 'boolean'
              when t = 'NULL' then 'null' when t = 'OBJECT' then 'object' when t = 'ARRAY' then 'array'
              else 'number' end)
{%- endmacro %}

{% macro athena__landing_field_kinds(doc, keys) -%}
  array[{% for key in keys %}(case when json_extract({{ doc }}, '$.{{ key }}') is null then null
    else (case substr(json_format(json_extract({{ doc }}, '$.{{ key }}')), 1, 1)
      when '"' then 'string' when '{' then 'object' when '[' then 'array' when 't' then 'boolean'
      when 'f' then 'boolean' when 'n' then 'null' else 'number' end) end){% if not loop.last %}, {% endif %}{% endfor %}]
{%- endmacro %}

{#- landing_field_texts(doc, keys): the top-level members `keys` of `doc` as
    VARCHAR texts, same order: a string unquoted, true/false, a number's text
    (read it only through landing_integer / landing_bigint_text: the engines
    print non-integers differently), NULL for null and absent members. Check the
    kind first: an object's or an array's text is NULL on Athena and the JSON
    text on DuckDB. DuckDB parses the document once for all keys. -#}
{% macro landing_field_texts(doc, keys) -%}
  {{ adapter.dispatch('landing_field_texts')(doc, keys) }}
{%- endmacro %}

{% macro duckdb__landing_field_texts(doc, keys) -%}
  json_extract_string({{ doc }}, [{% for key in keys %}'$.{{ key }}'{% if not loop.last %}, {% endif %}{% endfor %}])
{%- endmacro %}

{% macro athena__landing_field_texts(doc, keys) -%}
  array[{% for key in keys %}json_extract_scalar({{ doc }}, '$.{{ key }}'){% if not loop.last %}, {% endif %}{% endfor %}]
{%- endmacro %}

{#- trim_text(expr): `expr` without leading and trailing Java whitespace, what
    Trino's trim(x) removes (DuckDB's trim(x) removes spaces only). -#}
{% macro trim_text(expr) -%}
  {{ adapter.dispatch('trim_text')(expr) }}
{%- endmacro %}

{% macro java_whitespace() -%}
  {% for c in [9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8200, 8201, 8202, 8232, 8233, 8287, 12288] %}chr({{ c }}){% if not loop.last %} || {% endif %}{% endfor %}
{%- endmacro %}

{% macro default__trim_text(expr) -%}
  trim({{ expr }}, {{ java_whitespace() }})
{%- endmacro %}

{#- DuckDB: a value whose first and last characters are neither controls, a space nor
    above U+167F (where the other whitespace is) is returned as it is; the engine
    repeats the expression wherever a later step reads the column, and the list
    trim is the slow part. -#}
{% macro duckdb__trim_text(expr) -%}
  (case when ord({{ expr }}) between 33 and 5759 and ord(right({{ expr }}, 1)) between 33 and 5759
    then {{ expr }} else trim({{ expr }}, {{ java_whitespace() }}) end)
{%- endmacro %}

{#- full_match(text, pattern): the whole `text` matches `pattern` (NULL for NULL).
    Trino's regexp_like finds a match anywhere, and its default regex library reads
    ^ and $ as line anchors, so on Athena the anchored match must be the text. -#}
{% macro full_match(text, pattern) -%}
  {{ adapter.dispatch('full_match')(text, pattern) }}
{%- endmacro %}

{% macro duckdb__full_match(text, pattern) -%}
  regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro athena__full_match(text, pattern) -%}
  (regexp_extract({{ text }}, '^(?:{{ pattern }})$') = {{ text }})
{%- endmacro %}

{#- landing_integer(text): a 32-bit integer written as ASCII digits with an
    optional '-', else NULL (Trino's Integer.parseInt; DuckDB's cast would also
    take '1.0', '1e2', '0x10', '1_000' and spaces). -#}
{% macro landing_integer(text) -%}
  (case when {{ full_match(text, '-?[0-9]+') }} then try_cast({{ text }} as integer) end)
{%- endmacro %}

{#- landing_bigint_text(text): a 64-bit integer's canonical decimal text ('-0'
    is '0'), else NULL. -#}
{% macro landing_bigint_text(text) -%}
  (case when {{ full_match(text, '-?[0-9]+') }} then cast(try_cast({{ text }} as bigint) as varchar) end)
{%- endmacro %}

{#- ---------------------------------------------------------- timestamps -- -#}

{#- The one timestamp grammar of the landing contract. -#}
{% macro landing_timestamp_pattern() -%}
(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])
{%- endmacro %}

{#- landing_timestamp(text): a timestamp in the contract's grammar as a
    TIMESTAMP in UTC (no time zone), truncated to the millisecond as Trino's
    from_iso8601_timestamp returns it; NULL for any other text. Independent of
    the session time zone. -#}
{% macro landing_timestamp(text) -%}
  {{ adapter.dispatch('landing_timestamp')(text) }}
{%- endmacro %}

{#- DuckDB: the fraction cut to milliseconds as text first (its cast rounds to
    microseconds). -#}
{% macro duckdb__landing_timestamp(text) -%}
  (case when {{ full_match(text, landing_timestamp_pattern()) }}
    then make_timestamp(epoch_us(try_cast(regexp_replace({{ text }}, '(\.[0-9]{3})[0-9]+', '\1') as timestamptz)))
  end)
{%- endmacro %}

{% macro athena__landing_timestamp(text) -%}
  (case when {{ full_match(text, landing_timestamp_pattern()) }}
    then try(cast(from_iso8601_timestamp({{ text }}) at time zone 'UTC' as timestamp(6)))
  end)
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
