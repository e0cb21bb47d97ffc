{#- DSAR tombstones: a user erased through `strata rights apply` (the rights ledger, which
    rights_erased_subjects() reads) is excluded from every bronze read, so no rebuild brings
    their events back. Never NULL. -#}
{% macro is_tombstoned(user_id_expr) -%}
coalesce({{ user_id_expr }} in ({{ rights_erased_subjects() }}), false)
{%- endmacro %}
