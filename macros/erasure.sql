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
    else {{ rights_text_names_any(raw_expr, "(select array_agg(guid) from (" ~ erased ~ ") as erased_ids)") }}
end)
{%- endmacro %}
