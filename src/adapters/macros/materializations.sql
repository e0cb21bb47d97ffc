{#- The entry points the runner calls to build relations. Each dispatches to the adapter's
    `<type>__name` (or `default__name`); a project macro of either name overrides it. -#}

{#- dbt's signature, so packages and project overrides written for dbt work unchanged.
    `temporary`: the table only carries rows to another statement (an incremental run's new
    rows); adapters may skip partitioning and table properties for it. -#}
{% macro create_table_as(temporary, relation, compiled_code, language='sql') -%}
{{ adapter.dispatch('create_table_as')(temporary, relation, compiled_code) }}
{%- endmacro %}

{% macro default__create_table_as(temporary, relation, sql) -%}
create table {{ relation }} as (
{{ sql }}
)
{%- endmacro %}

{#- Replace a table with the rows of `sql` in ONE atomic statement, where the engine has one
    (DuckDB's CREATE OR REPLACE TABLE: a failed build keeps the old table). Empty where it
    has not: the runner then builds a temporary table and swaps it in. -#}
{% macro replace_table_as(relation, sql) -%}
{{ adapter.dispatch('replace_table_as')(relation, sql) }}
{%- endmacro %}

{% macro default__replace_table_as(relation, sql) -%}
{%- endmacro %}

{% macro create_view_as(relation, sql) -%}
{{ adapter.dispatch('create_view_as')(relation, sql) }}
{%- endmacro %}

{% macro default__create_view_as(relation, sql) -%}
create view {{ relation }} as (
{{ sql }}
)
{%- endmacro %}

{#- The name of a table built beside `identifier` for one step of a materialization
    (`suffix`: tmp, backup, stage, snapshot). Adapters whose runs may overlap make it unique
    per invocation. -#}
{% macro temp_identifier(identifier, suffix) -%}
{{ adapter.dispatch('temp_identifier')(identifier, suffix) }}
{%- endmacro %}

{% macro default__temp_identifier(identifier, suffix) -%}
{{ identifier }}__strata_{{ suffix }}
{%- endmacro %}

{% macro drop_relation(relation) -%}
{{ adapter.dispatch('drop_relation')(relation) }}
{%- endmacro %}

{% macro default__drop_relation(relation) -%}
drop {{ 'view' if relation.type == 'view' else 'table' }} if exists {{ relation }}
{%- endmacro %}

{% macro rename_relation(from_relation, to_relation) -%}
{{ adapter.dispatch('rename_relation')(from_relation, to_relation) }}
{%- endmacro %}

{% macro default__rename_relation(from_relation, to_relation) -%}
alter {{ 'view' if from_relation.type == 'view' else 'table' }} {{ from_relation }} rename to {{ adapter.quote(to_relation.identifier) }}
{%- endmacro %}

{#- Incremental strategies. `source` holds the new rows (a temporary table);
    `dest_columns` are the column names to write, in the target's order. -#}

{% macro get_incremental_append_sql(target, source, dest_columns) -%}
{{ adapter.dispatch('get_incremental_append_sql')(target, source, dest_columns) }}
{%- endmacro %}

{% macro default__get_incremental_append_sql(target, source, dest_columns) -%}
{%- set cols = quoted_columns(dest_columns) -%}
insert into {{ target }} ({{ cols }})
select {{ cols }} from {{ source }}
{%- endmacro %}

{% macro get_incremental_merge_sql(target, source, unique_key, dest_columns) -%}
{{ adapter.dispatch('get_incremental_merge_sql')(target, source, unique_key, dest_columns) }}
{%- endmacro %}

{#- default__get_incremental_merge_sql: merge.sql, with the keys that shape a merge. -#}

{% macro get_incremental_delete_insert_sql(target, source, unique_key, dest_columns) -%}
{{ adapter.dispatch('get_incremental_delete_insert_sql')(target, source, unique_key, dest_columns) }}
{%- endmacro %}

{% macro default__get_incremental_delete_insert_sql(target, source, unique_key, dest_columns) -%}
delete from {{ target }}
where ({{ quoted_columns(unique_key) }}) in (select {{ quoted_columns(unique_key) }} from {{ source }})
{%- for p in incremental_predicates_list() %} and ({{ p }}){% endfor %};
{{ get_incremental_append_sql(target, source, dest_columns) }}
{%- endmacro %}

{% macro get_incremental_insert_overwrite_sql(target, source, partition_by, dest_columns) -%}
{{ adapter.dispatch('get_incremental_insert_overwrite_sql')(target, source, partition_by, dest_columns) }}
{%- endmacro %}

{% macro default__get_incremental_insert_overwrite_sql(target, source, partition_by, dest_columns) -%}
delete from {{ target }}
where ({{ quoted_columns(partition_by) }}) in (select distinct {{ quoted_columns(partition_by) }} from {{ source }});
{{ get_incremental_append_sql(target, source, dest_columns) }}
{%- endmacro %}

{% macro alter_relation_add_columns(relation, columns) -%}
{{ adapter.dispatch('alter_relation_add_columns')(relation, columns) }}
{%- endmacro %}

{% macro default__alter_relation_add_columns(relation, columns) -%}
{%- for c in columns %}
alter table {{ relation }} add column {{ adapter.quote(c.name) }} {{ c.data_type }};
{%- endfor %}
{%- endmacro %}

{% macro alter_relation_drop_columns(relation, columns) -%}
{{ adapter.dispatch('alter_relation_drop_columns')(relation, columns) }}
{%- endmacro %}

{% macro default__alter_relation_drop_columns(relation, columns) -%}
{%- for c in columns %}
alter table {{ relation }} drop column {{ adapter.quote(c.name) }};
{%- endfor %}
{%- endmacro %}

{% macro alter_column_type(relation, column_name, new_type) -%}
{{ adapter.dispatch('alter_column_type')(relation, column_name, new_type) }}
{%- endmacro %}

{% macro default__alter_column_type(relation, column_name, new_type) -%}
alter table {{ relation }} alter column {{ adapter.quote(column_name) }} set data type {{ new_type }}
{%- endmacro %}

{#- Seeds: build `relation` from the CSV file at `path` (where the adapter staged it).
    `columns` ({name, data_type}) is given by adapters that cannot sniff a CSV themselves. -#}
{% macro load_csv(relation, path, column_types, columns=[]) -%}
{{ adapter.dispatch('load_csv')(relation, path, column_types, columns) }}
{%- endmacro %}

{#- Athena writes at most 100 partitions per statement: these select one batch of the
    partitions of `sql` (batch 0, 1, ...), `batch_size` distinct partition values each. -#}
{% macro partition_count_sql(sql, partition_by) -%}
{{ adapter.dispatch('partition_count_sql')(sql, partition_by) }}
{%- endmacro %}

{% macro default__partition_count_sql(sql, partition_by) -%}
select count(*) as partitions from (
    select distinct {{ quoted_columns(partition_by) }} from (
{{ sql }}
    ) as dbt_all_rows
) as dbt_partitions
{%- endmacro %}

{% macro partition_batch_sql(sql, partition_by, batch, batch_size) -%}
{{ adapter.dispatch('partition_batch_sql')(sql, partition_by, batch, batch_size) }}
{%- endmacro %}

{% macro default__partition_batch_sql(sql, partition_by, batch, batch_size) -%}
select dbt_batch_rows.*
from (
{{ sql }}
) as dbt_batch_rows
inner join (
    select {{ quoted_columns(partition_by) }}
    from (
        select {{ quoted_columns(partition_by) }},
               row_number() over (order by {{ quoted_columns(partition_by) }}) as dbt_partition_no
        from (
            select distinct {{ quoted_columns(partition_by) }} from (
{{ sql }}
            ) as dbt_all_rows
        ) as dbt_partitions
    ) as dbt_numbered
    where dbt_partition_no > {{ batch * batch_size }} and dbt_partition_no <= {{ (batch + 1) * batch_size }}
) as dbt_batch
    on {% for p in partition_by %}dbt_batch_rows.{{ adapter.quote(p) }} is not distinct from dbt_batch.{{ adapter.quote(p) }}{% if not loop.last %} and {% endif %}{% endfor %}
{%- endmacro %}

{% macro quoted_columns(columns) -%}
{%- for c in columns %}{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}

{#- Table maintenance (`strata maintain`): compact small files, expire old snapshots (and
    with them the rows deleted since), and count both. Iceberg adapters implement them. -#}
{% macro optimize_table(relation) -%}
{{ adapter.dispatch('optimize_table')(relation) }}
{%- endmacro %}

{% macro vacuum_table(relation) -%}
{{ adapter.dispatch('vacuum_table')(relation) }}
{%- endmacro %}

{% macro table_health_sql(relation) -%}
{{ adapter.dispatch('table_health_sql')(relation) }}
{%- endmacro %}

{% macro default__optimize_table(relation) -%}
{{ exceptions.raise_compiler_error("strata maintain needs Iceberg tables; the " ~ adapter.type() ~ " adapter has no OPTIMIZE (define " ~ adapter.type() ~ "__optimize_table to add one)") }}
{%- endmacro %}

{% macro default__vacuum_table(relation) -%}
{{ exceptions.raise_compiler_error("strata maintain needs Iceberg tables; the " ~ adapter.type() ~ " adapter has no VACUUM") }}
{%- endmacro %}

{% macro default__table_health_sql(relation) -%}
{{ exceptions.raise_compiler_error("strata maintain needs Iceberg tables; the " ~ adapter.type() ~ " adapter has no snapshot metadata") }}
{%- endmacro %}

{#- dbt's defaults behind generate_schema_name / generate_alias_name, for a project's
    override to fall back on (Strata computes the defaults itself when nothing is
    overridden). -#}
{% macro default__generate_schema_name(custom_schema_name, node) -%}
{%- if custom_schema_name is none -%}{{ target.schema }}
{%- else -%}{{ target.schema }}_{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

{% macro generate_schema_name_for_env(custom_schema_name, node) -%}
{%- if target.name == 'prod' and custom_schema_name is not none -%}{{ custom_schema_name | trim }}
{%- else -%}{{ target.schema }}{%- endif -%}
{%- endmacro %}

{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
{%- if custom_alias_name -%}{{ custom_alias_name | trim }}
{%- else -%}{{ node.name }}{%- endif -%}
{%- endmacro %}

{#- Small statements the materializations need, so that no SQL is written in Rust. -#}

{#- Every row of `relation`, as a query (the source of an increment, a staged batch). -#}
{% macro select_all_from(relation) -%}
{{ adapter.dispatch('select_all_from')(relation) }}
{%- endmacro %}

{% macro default__select_all_from(relation) -%}
select * from {{ relation }}
{%- endmacro %}

{#- Add the rows of `sql` to `relation` (a partition batch after the first). -#}
{% macro insert_into_from(relation, sql) -%}
{{ adapter.dispatch('insert_into_from')(relation, sql) }}
{%- endmacro %}

{% macro default__insert_into_from(relation, sql) -%}
insert into {{ relation }}
{{ sql }}
{%- endmacro %}

{#- How many rows `relation` has (a seed's loaded rows). -#}
{% macro count_rows_sql(relation) -%}
{{ adapter.dispatch('count_rows_sql')(relation) }}
{%- endmacro %}

{% macro default__count_rows_sql(relation) -%}
select count(*) from {{ relation }}
{%- endmacro %}

{#- dbt's name: the first `limit` rows of `sql` (strata show). -#}
{% macro get_limit_subquery_sql(sql, limit) -%}
{{ adapter.dispatch('get_limit_subquery_sql')(sql, limit) }}
{%- endmacro %}

{% macro default__get_limit_subquery_sql(sql, limit) -%}
select * from (
{{ sql }}
) as strata_show limit {{ limit }}
{%- endmacro %}
