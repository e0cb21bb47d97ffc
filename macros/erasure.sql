{#-
  Data-subject erasure in the models (docs/reference-project.md, "Erasure").

  `strata rights apply --type ERASURE` deletes a subject's rows from every relation
  that declares meta.personal_data and records the request in the rights ledger; the
  built-in rights_erased_subjects() lists the subjects erased so far. The landing files
  still hold the subject's lines, so staging flags them (erased_subject) and bronze
  never loads them again: not on a --full-refresh, not when they are re-sent later.
-#}

{#- erased_subject_line(user_id_expr, raw_expr): TRUE when a landing line (or a
    quarantined row) belongs to a subject erased so far. A line with a user_id belongs
    to that user. A line whose user_id could not be read (invalid or truncated JSON,
    not an object, no user_id) belongs to every erased subject whose id appears in it
    as a complete JSON string ("<id>"); a line cut inside the id, or without it, cannot
    be attributed to anyone and stays (in bronze_quarantined_events). Before the first
    request (no ledger) it is FALSE for every line. Never NULL. -#}
{% macro erased_subject_line(user_id_expr, raw_expr) -%}
{%- set erased = rights_erased_subjects() -%}
(case
    when {{ user_id_expr }} is not null
        then coalesce({{ user_id_expr }} in ({{ erased }}), false)
    else {{ contains_any_json_string(raw_expr, "(select array_agg(guid) from (" ~ erased ~ ") as erased_ids)") }}
end)
{%- endmacro %}

{#- contains_any_json_string(text_expr, ids_array_expr): TRUE when the VARCHAR
    `text_expr` contains one of the ids of the ARRAY(VARCHAR) `ids_array_expr` as a
    JSON string, i.e. enclosed in double quotes; FALSE when the array is empty or NULL.
    Ids are plain (the rights engine only accepts [A-Za-z0-9._:@-]), so no JSON
    escaping is involved. Costs one substring search per id: use it on few rows. -#}
{% macro contains_any_json_string(text_expr, ids_array_expr) -%}
  {{ adapter.dispatch('contains_any_json_string')(text_expr, ids_array_expr) }}
{%- endmacro %}

{% macro duckdb__contains_any_json_string(text_expr, ids_array_expr) -%}
coalesce(len(list_filter({{ ids_array_expr }}, erased_id -> strpos({{ text_expr }}, '"' || erased_id || '"') > 0)) > 0, false)
{%- endmacro %}

{% macro athena__contains_any_json_string(text_expr, ids_array_expr) -%}
coalesce(any_match({{ ids_array_expr }}, erased_id -> strpos({{ text_expr }}, '"' || erased_id || '"') > 0), false)
{%- endmacro %}
