{#- The `merge` strategy on Athena as dbt-athena writes it, so that its keys mean the same:
    aliases `target` and `src`; `incremental_predicates` inside the ON; `delete_condition`
    (matched rows deleted), `update_condition` and `insert_condition`; the columns a matched
    row gets from `merge_update_columns` / `merge_exclude_columns`, each by a rule
    (`merge_update_columns_default_rule`, `merge_update_columns_rules`): replace, coalesce,
    sum, append, append_distinct, or an expression of `_new_` and `_old_`. -#}

{#- One column's new value by rule `rule`. -#}
{% macro athena__merge_update_value(column, rule) -%}
{%- set new = 'src.' ~ adapter.quote(column) -%}
{%- set old = 'target.' ~ adapter.quote(column) -%}
{%- if rule == 'replace' -%}{{ new }}
{%- elif rule == 'coalesce' -%}coalesce({{ new }}, {{ old }})
{%- elif rule == 'sum' -%}{{ new }} + {{ old }}
{%- elif rule == 'append' -%}{{ new }} || {{ old }}
{%- elif rule == 'append_distinct' -%}array_distinct({{ new }} || {{ old }})
{%- else -%}{{ rule | replace('_new_', new) | replace('_old_', old) }}
{%- endif -%}
{%- endmacro %}

{% macro athena__get_incremental_merge_sql(target, source, unique_key, dest_columns) -%}
{%- set predicates = config.get('incremental_predicates') -%}
{%- if predicates is not none and (predicates is string or predicates is mapping or predicates is not sequence) -%}
{{ exceptions.raise_compiler_error("incremental_predicates must be a list (dbt-athena's rule), not " ~ predicates) }}
{%- endif -%}
{%- set updates = merge_update_columns_of(dest_columns, unique_key) -%}
{%- set default_rule = config.get('merge_update_columns_default_rule') or 'replace' -%}
{%- set rules = config.get('merge_update_columns_rules') or {} -%}
{%- set delete_condition = config.get('delete_condition') -%}
{%- set update_condition = config.get('update_condition') -%}
{%- set insert_condition = config.get('insert_condition') -%}
merge into {{ target }} as target
using {{ source }} as src
on ({% for k in unique_key %}target.{{ adapter.quote(k) }} = src.{{ adapter.quote(k) }}{% if not loop.last %} and {% endif %}{% endfor %}
{%- if predicates %} and ({{ predicates | join(' and ') }}){% endif %})
{%- if delete_condition %}
when matched and ({{ delete_condition }}) then delete
{%- endif %}
{%- if updates %}
when matched{% if update_condition %} and {{ update_condition }}{% endif %} then update set
    {% for c in updates %}{{ adapter.quote(c) }} = {{ athena__merge_update_value(c, rules.get(c, default_rule)) }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endif %}
when not matched{% if insert_condition %} and {{ insert_condition }}{% endif %} then insert ({{ quoted_columns(dest_columns) }})
values ({% for c in dest_columns %}src.{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- The `microbatch` strategy on Athena: with a `unique_key`, dbt-athena's (a merge of the
    batch's rows); without one, the batch's window replaced (delete, insert), as on DuckDB,
    with dbt-athena's timestamp comparison. -#}
{% macro athena__get_incremental_microbatch_sql(target, source, unique_key, event_time, batch_start, batch_end, dest_columns) -%}
{%- if unique_key -%}
{{ athena__get_incremental_merge_sql(target, source, unique_key, dest_columns) }}
{%- else -%}
{%- set window -%}cast({{ event_time }} as timestamp) >= timestamp '{{ batch_start }}' and cast({{ event_time }} as timestamp) < timestamp '{{ batch_end }}'{%- endset -%}
delete from {{ target }}
where {{ window }}{% for p in incremental_predicates_list() %} and ({{ p }}){% endfor %};
insert into {{ target }} ({{ quoted_columns(dest_columns) }})
select {{ quoted_columns(dest_columns) }}
from {{ source }}
where {{ window }}
{%- endif -%}
{%- endmacro %}
