{#- The `merge` strategy and the config keys that shape it: dbt-core's `incremental_predicates`,
    `merge_update_columns` and `merge_exclude_columns` (every engine) and dbt-duckdb's
    `merge_update_condition`, `merge_insert_condition` and `merge_update_set_expressions`.
    Conditions and predicates are SQL over the aliases dbt gives: DBT_INTERNAL_DEST (the
    target) and DBT_INTERNAL_SOURCE (the new rows). Athena has dbt-athena's own keys and
    aliases (athena/macros/merge.sql). -#}

{#- `incremental_predicates` (a list, or one predicate): extra conditions of the merge's ON
    and of delete+insert's DELETE, to limit how much of the target they read. -#}
{% macro incremental_predicates_list() -%}
{%- set predicates = config.get('incremental_predicates') -%}
{%- if predicates is none -%}
{{ return([]) }}
{%- elif predicates is string -%}
{{ return([predicates]) }}
{%- elif predicates is sequence and predicates is not mapping -%}
{{ return(predicates | list) }}
{%- else -%}
{{ exceptions.raise_compiler_error("incremental_predicates must be a list of SQL conditions, not " ~ predicates) }}
{%- endif -%}
{%- endmacro %}

{#- The columns a matched row gets from the new rows: `merge_update_columns` (only those),
    or every destination column but `merge_exclude_columns` (names compared without case),
    or every destination column; unique key columns never (they matched). -#}
{% macro merge_update_columns_of(dest_columns, unique_key) -%}
{%- set only = config.get('merge_update_columns') -%}
{%- set exclude = config.get('merge_exclude_columns') -%}
{%- if only and exclude -%}
{{ exceptions.raise_compiler_error("Model cannot specify merge_update_columns and merge_exclude_columns. Please update model to use only one config") }}
{%- endif -%}
{%- set keys = unique_key | map('lower') | list -%}
{%- set dest = dest_columns | map('lower') | list -%}
{%- set chosen = [] -%}
{%- if only -%}
  {%- for c in ([only] if only is string else only) -%}
    {%- if c | lower not in dest -%}
{{ exceptions.raise_compiler_error("merge_update_columns names '" ~ c ~ "', which is not a column of the model's table (its columns: " ~ dest_columns | join(', ') ~ ")") }}
    {%- endif -%}
    {%- for d in dest_columns if d | lower == c | lower and d | lower not in keys -%}{%- do chosen.append(d) -%}{%- endfor -%}
  {%- endfor -%}
{%- else -%}
  {%- set excluded = ([exclude] if exclude is string else (exclude or [])) | map('lower') | list -%}
  {%- for d in dest_columns if d | lower not in keys and d | lower not in excluded -%}{%- do chosen.append(d) -%}{%- endfor -%}
{%- endif -%}
{{ return(chosen) }}
{%- endmacro %}

{% macro default__get_incremental_merge_sql(target, source, unique_key, dest_columns) -%}
{%- set predicates = incremental_predicates_list() -%}
{%- set updates = merge_update_columns_of(dest_columns, unique_key) -%}
{%- set expressions = config.get('merge_update_set_expressions') or {} -%}
{%- set update_condition = config.get('merge_update_condition') -%}
{%- set insert_condition = config.get('merge_insert_condition') -%}
merge into {{ target }} as DBT_INTERNAL_DEST
using {{ source }} as DBT_INTERNAL_SOURCE
on {% for k in unique_key %}DBT_INTERNAL_SOURCE.{{ adapter.quote(k) }} = DBT_INTERNAL_DEST.{{ adapter.quote(k) }}{% if not loop.last %} and {% endif %}{% endfor %}
{%- for p in predicates %} and ({{ p }}){% endfor %}
{%- set plain = updates | reject('in', expressions.keys() | list) | list %}
{%- if plain or expressions %}
when matched{% if update_condition %} and ({{ update_condition }}){% endif %} then update set
    {% for c, e in expressions | items %}{{ adapter.quote(c) }} = {{ e }}{% if not loop.last or plain %}, {% endif %}{% endfor -%}
    {% for c in plain %}{{ adapter.quote(c) }} = DBT_INTERNAL_SOURCE.{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endif %}
when not matched{% if insert_condition %} and ({{ insert_condition }}){% endif %} then insert ({{ quoted_columns(dest_columns) }})
values ({% for c in dest_columns %}DBT_INTERNAL_SOURCE.{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- The `microbatch` strategy: the batch's window of the target replaced by the new rows of
    that window (dbt-duckdb's delete+insert on `event_time`; a `unique_key` is refused, as
    there: the window, not a key, says which rows a batch replaces). `batch_start` and
    `batch_end` are the times as dbt writes them. -#}
{% macro get_incremental_microbatch_sql(target, source, unique_key, event_time, batch_start, batch_end, dest_columns) -%}
{{ adapter.dispatch('get_incremental_microbatch_sql')(target, source, unique_key, event_time, batch_start, batch_end, dest_columns) }}
{%- endmacro %}

{% macro default__get_incremental_microbatch_sql(target, source, unique_key, event_time, batch_start, batch_end, dest_columns) -%}
{%- if unique_key -%}
{{ exceptions.raise_compiler_error("microbatch incremental strategy does not support 'unique_key'. Microbatch runs delete+insert per batch based on 'event_time' and does not do key-based upserts. Remove 'unique_key' or use incremental_strategy='merge'.") }}
{%- endif -%}
{%- set window -%}{{ event_time }} >= '{{ batch_start }}' and {{ event_time }} < '{{ batch_end }}'{%- endset -%}
delete from {{ target }}
where {{ window }}{% for p in incremental_predicates_list() %} and ({{ p }}){% endfor %};
insert into {{ target }} ({{ quoted_columns(dest_columns) }})
select {{ quoted_columns(dest_columns) }}
from {{ source }}
where {{ window }}
{%- endmacro %}
