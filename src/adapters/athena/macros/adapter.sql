{#- Athena (engine v3, Trino SQL) implementations of the materialization entry points, for
    Iceberg tables in the Glue catalog. A project macro named `athena__<name>` replaces any
    of them.

    Athena runs DROP TABLE, ALTER TABLE and CREATE EXTERNAL TABLE as Hive DDL, which names
    relations with backticks (`relation.render_hive()`); everything else is Trino SQL with
    double quotes (`{{ relation }}`). -#}

{#- Temporary tables are named per invocation (`<t>__strata_tmp_<first 8 hex of the
    invocation id>`, as dbt-athena's unique_tmp_table_suffix), so two runs of one model at
    the same time do not build into, rename or drop each other's. A run that crashed leaves
    its uniquely named tables behind, which later runs do not drop (they are not theirs):
    drop such a leftover by hand, e.g. drop table `s`.`t__strata_tmp_1a2b3c4d`. -#}
{% macro athena__temp_identifier(identifier, suffix) -%}
{{ identifier }}__strata_{{ suffix }}_{{ (invocation_id | string)[:8] }}
{%- endmacro %}

{#- The name a table's data folder carries: the target's for the temporary table that is
    renamed into the target (dbt-athena's s3_path_table_part), its own for one that only
    carries rows to another statement (`temporary`). -#}
{% macro athena__location_name(relation, temporary=false) -%}
{%- set tmp_suffix = temp_identifier('', 'tmp') | string -%}
{%- set name = relation.identifier | string -%}
{%- if not temporary and name.endswith(tmp_suffix) and name | length > tmp_suffix | length -%}
{{ name[:(name | length) - (tmp_suffix | length)] }}
{%- else -%}
{{ name }}
{%- endif -%}
{%- endmacro %}

{#- Where a table's data goes, as dbt-athena computes it: the model's `external_location`
    (not for a `temporary` table); otherwise under a root (`s3_tmp_table_dir` for a temporary
    table when set, else the model's or the profile's `s3_data_dir`, else
    `<s3_staging_dir>/tables`) laid out by `s3_data_naming` (model, profile; default
    schema_table_unique). The unique part is a new uuid for each CTAS, as in dbt-athena: a
    build never writes over files the table it replaces still reads, and two tables built in
    one run never share a folder (with the `unique` naming their folders are siblings). -#}
{% macro athena__table_location(relation, temporary=false) -%}
{%- set model = config if config is defined else {} -%}
{%- set external = none if temporary else model.get('external_location') -%}
{%- if external -%}
{{ (external | string).rstrip('/') }}
{%- else -%}
{%- set tmp_dir = model.get('s3_tmp_table_dir') or target.s3_tmp_table_dir -%}
{%- set data_dir = model.get('s3_data_dir') or target.s3_data_dir or (target.s3_staging_dir | string).rstrip('/') ~ '/tables' -%}
{%- set root = ((tmp_dir if temporary and tmp_dir else data_dir) | string).rstrip('/') -%}
{%- set name = athena__location_name(relation, temporary) -%}
{%- set naming = model.get('s3_data_naming') or target.s3_data_naming or 'schema_table_unique' -%}
{%- set unique = new_uuid() -%}
{%- if naming == 'unique' -%}{{ root }}/{{ unique }}
{%- elif naming == 'table' -%}{{ root }}/{{ name }}
{%- elif naming == 'table_unique' -%}{{ root }}/{{ name }}/{{ unique }}
{%- elif naming == 'schema_table' -%}{{ root }}/{{ relation.schema }}/{{ name }}
{%- elif naming == 'schema_table_unique' -%}{{ root }}/{{ relation.schema }}/{{ name }}/{{ unique }}
{%- else -%}{{ exceptions.raise_compiler_error("s3_data_naming '" ~ naming ~ "': one of unique, table, table_unique, schema_table, schema_table_unique") }}
{%- endif -%}
{%- endif -%}
{%- endmacro %}

{#- Is a table's data folder its own per build? Not with `external_location` or a naming
    without `unique`: then a table rebuilt aside would write into the folder of the table it
    replaces. -#}
{% macro athena__location_is_unique() -%}
{%- set model = config if config is defined else {} -%}
{%- set naming = model.get('s3_data_naming') or target.s3_data_naming or 'schema_table_unique' -%}
{{- 'true' if (not model.get('external_location') and 'unique' in naming) else 'false' -}}
{%- endmacro %}

{#- CTAS of an Iceberg table, or of a Hive table with `table_type: hive` (dbt-athena's
    keys); partitions from `partitioned_by` unless `temporary` (the new rows of an incremental
    run are not partitioned: the write into the target is). -#}
{% macro athena__create_table_as(temporary, relation, sql) -%}
{%- set table_type = (config.get('table_type') or 'iceberg') | lower -%}
{%- if table_type == 'hive' -%}
{{ athena__create_hive_table_as(relation, sql, temporary) }}
{%- elif table_type != 'iceberg' -%}
{{ exceptions.raise_compiler_error("table_type '" ~ table_type ~ "': the athena adapter builds Iceberg tables (table_type: iceberg) and Hive tables (table_type: hive)") }}
{%- else -%}
{%- if not temporary and (athena__location_name(relation) | string) != relation.identifier and athena__location_is_unique() == 'false' -%}
{{ exceptions.raise_compiler_error("You need to have an unique table location when creating Iceberg table since we use the RENAME feature to have near-zero downtime (dbt-athena's rule): " ~ this ~ " exists, and its new build would write into its data folder; drop external_location, or use an s3_data_naming with 'unique' (unique, table_unique, schema_table_unique)") }}
{%- endif -%}
{%- set partitioned_by = [] if temporary else (config.get('partitioned_by') or []) -%}
{%- set properties = {} if temporary else (config.get('table_properties') or {}) -%}
create table {{ relation }}
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = '{{ athena__table_location(relation, temporary) }}',
    {%- if partitioned_by %}
    partitioning = ARRAY[{% for p in partitioned_by %}'{{ p }}'{% if not loop.last %}, {% endif %}{% endfor %}],
    {%- endif %}
    format = '{{ (config.get('format') or 'parquet') | upper }}',
    write_compression = '{{ (config.get('write_compression') or 'zstd') | upper }}'
{%- for name, value in properties | items %},
    {#- Numbers unquoted, as Athena's CTAS documents them. #}
    {{ name }} = {% if (value | string).isdigit() %}{{ value }}{% else %}'{{ value | string | replace("'", "''") }}'{% endif %}
{%- endfor %}
)
as
{{ sql }}
{%- endif -%}
{%- endmacro %}

{#- CTAS of a Hive table as dbt-athena writes it: an external table in its own folder, with
    bucketing and a field delimiter where the model sets them. Athena wants a Hive table's
    partition columns last in the select list: their order is the model's to get right, as
    with dbt-athena. No compression is named unless the model names one (Athena's default
    for the format, as dbt-athena). -#}
{% macro athena__create_hive_table_as(relation, sql, temporary=false) -%}
{%- set partitioned_by = [] if temporary else (config.get('partitioned_by') or []) -%}
{%- set bucketed_by = config.get('bucketed_by') or [] -%}
{%- set bucket_count = config.get('bucket_count') -%}
{%- set field_delimiter = config.get('field_delimiter') -%}
{%- set write_compression = config.get('write_compression') -%}
{%- set properties = {} if temporary else (config.get('table_properties') or {}) -%}
create table {{ relation }}
with (
    table_type = 'HIVE',
    is_external = true,
    external_location = '{{ athena__table_location(relation, temporary) }}',
    {%- if partitioned_by %}
    partitioned_by = ARRAY[{% for p in partitioned_by %}'{{ p }}'{% if not loop.last %}, {% endif %}{% endfor %}],
    {%- endif %}
    {%- if bucketed_by %}
    bucketed_by = ARRAY[{% for b in bucketed_by %}'{{ b }}'{% if not loop.last %}, {% endif %}{% endfor %}],
    {%- endif %}
    {%- if bucket_count is not none %}
    bucket_count = {{ bucket_count | int }},
    {%- endif %}
    {%- if field_delimiter %}
    field_delimiter = '{{ field_delimiter | string | replace("'", "''") }}',
    {%- endif %}
    {%- if write_compression %}
    write_compression = '{{ write_compression | upper }}',
    {%- endif %}
    format = '{{ (config.get('format') or 'parquet') | upper }}'
{%- for name, value in properties | items %},
    {{ name }} = {% if (value | string).isdigit() %}{{ value }}{% else %}'{{ value | string | replace("'", "''") }}'{% endif %}
{%- endfor %}
)
as
{{ sql }}
{%- endmacro %}

{% macro athena__create_view_as(relation, sql) -%}
create or replace view {{ relation }} as
{{ sql }}
{%- endmacro %}

{% macro athena__drop_relation(relation) -%}
{%- if relation.type == 'view' -%}
drop view if exists {{ relation }}
{%- else -%}
drop table if exists {{ relation.render_hive() }}
{%- endif -%}
{%- endmacro %}

{% macro athena__rename_relation(from_relation, to_relation) -%}
alter table {{ from_relation.render_hive() }} rename to {{ to_relation.render_hive() }}
{%- endmacro %}

{#- Trino has no multi-column IN (subquery): compare keys with EXISTS. -#}
{% macro athena__get_incremental_delete_insert_sql(target, source, unique_key, dest_columns) -%}
delete from {{ target }}
where exists (
    select 1 from {{ source }} as dbt_internal_source
    where {% for k in unique_key %}dbt_internal_source.{{ adapter.quote(k) }} = {{ target }}.{{ adapter.quote(k) }}{% if not loop.last %} and {% endif %}{% endfor %}
){% for p in incremental_predicates_list() %} and ({{ p }}){% endfor %};
{{ get_incremental_append_sql(target, source, dest_columns) }}
{%- endmacro %}

{#- Iceberg has no partition overwrite: the partitions the new rows touch (whole partition
    tuples, NULL values included) are replaced by one MERGE, one Iceberg commit. Athena's
    MERGE INTO is transactional, so a failed or cancelled one leaves the table as it was,
    where a DELETE then an INSERT lost the partitions when the INSERT failed.
    The merge's source is each new row ('new') and, once per partition tuple they touch, a
    row that carries only that tuple ('old'). Only an 'old' row can match: its tuple is
    compared with `is not distinct from` (NULL equals NULL, as the DELETE compared), and
    the tuples being distinct, each target row of a replaced partition matches exactly one
    (Athena raises an error when a target row matches several source rows) and is deleted.
    A 'new' row never matches and is inserted; target rows of other partitions match
    nothing and are untouched. Partition entries are plain column names, as the DELETE
    compared them: a transform (`day(ts)`, `bucket(16, id)`) is refused here. -#}
{% macro athena__get_incremental_insert_overwrite_sql(target, source, partition_by, dest_columns) -%}
{%- for p in partition_by if '(' in p -%}
{{ exceptions.raise_compiler_error("insert_overwrite replaces the partitions of plain partition columns; '" ~ p ~ "' is a transform: partition by the column, or use the merge strategy") }}
{%- endfor -%}
merge into {{ target }} as dbt_internal_target
using (
    select 'new' as dbt_internal_op,
        {% for c in dest_columns %}{{ adapter.quote(c) }}, {% endfor %}
        {%- for p in partition_by %}null as dbt_internal_partition_{{ loop.index }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ source }}
    union all
    select distinct 'old' as dbt_internal_op,
        {% for c in dest_columns %}null, {% endfor %}
        {%- for p in partition_by %}{{ adapter.quote(p) }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ source }}
) as dbt_internal_source
on dbt_internal_source.dbt_internal_op = 'old'
{%- for p in partition_by %}
    and dbt_internal_target.{{ adapter.quote(p) }} is not distinct from dbt_internal_source.dbt_internal_partition_{{ loop.index }}
{%- endfor %}
when matched then delete
when not matched and dbt_internal_source.dbt_internal_op = 'new' then insert ({{ quoted_columns(dest_columns) }})
values ({% for c in dest_columns %}dbt_internal_source.{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro athena__alter_relation_add_columns(relation, columns) -%}
alter table {{ relation.render_hive() }} add columns (
{%- for c in columns %}`{{ c.name }}` {{ c.data_type }}{% if not loop.last %}, {% endif %}{% endfor -%}
)
{%- endmacro %}

{% macro athena__alter_relation_drop_columns(relation, columns) -%}
{%- for c in columns %}
alter table {{ relation.render_hive() }} drop column `{{ c.name }}`;
{%- endfor %}
{%- endmacro %}

{% macro athena__alter_column_type(relation, column_name, new_type) -%}
alter table {{ relation.render_hive() }} change column `{{ column_name }}` `{{ column_name }}` {{ new_type }}
{%- endmacro %}

{#- Seeds: the CSV was converted to Parquet and uploaded to the S3 folder `path`;
    `columns` carry their Hive types. Read it through an external table (named per
    invocation: no leftover to drop first), CTAS into Iceberg (timestamps as Iceberg's
    microseconds), drop the external table. -#}
{% macro athena__load_csv(relation, path, column_types, columns) -%}
{%- set raw_name = temp_identifier(athena__location_name(relation), 'csv') | string -%}
{%- set raw = relation.schema ~ '`.`' ~ raw_name -%}
{%- set athena_types = {'string': 'varchar', 'int': 'integer', 'timestamp': 'timestamp(6)', 'float': 'real'} -%}
create external table `{{ raw }}` (
{%- for c in columns %}
    `{{ c.name }}` {{ c.data_type }}{% if not loop.last %},{% endif %}
{%- endfor %}
)
stored as parquet
location '{{ path }}';
{%- set select_sql -%}
select
{%- for c in columns %}
    cast({{ adapter.quote(c.name) }} as {{ athena_types.get(c.data_type, c.data_type) }}) as {{ adapter.quote(c.name) }}{% if not loop.last %},{% endif %}
{%- endfor %}
from {{ adapter.quote(relation.schema) }}.{{ adapter.quote(raw_name) }}
{%- if flags.EMPTY %}
where false
{%- endif %}
{%- endset %}
{{ create_table_as(false, relation, select_sql) }};
drop table `{{ raw }}`
{%- endmacro %}

{#- Table maintenance (run-operation optimize / vacuum). -#}
{% macro athena__optimize_table(relation) -%}
optimize {{ relation }} rewrite data using bin_pack
{%- endmacro %}

{% macro athena__vacuum_table(relation) -%}
vacuum {{ relation }}
{%- endmacro %}

{#- Snapshot and data-file counts of an Iceberg table, from its metadata tables. -#}
{% macro athena__table_health_sql(relation) -%}
select
    (select count(*) from {{ adapter.quote(relation.schema) }}.{{ adapter.quote(relation.identifier ~ '$snapshots') }}) as snapshots,
    (select count(*) from {{ adapter.quote(relation.schema) }}.{{ adapter.quote(relation.identifier ~ '$files') }}) as files
{%- endmacro %}

{#- Snapshots on Iceberg: one MERGE closes the changed versions and inserts the new ones. -#}
{% macro athena__snapshot_merge(target, staging, columns, valid_to_current=none) -%}
merge into {{ target }} as dbt_internal_target
using {{ staging }} as dbt_internal_source
on dbt_internal_source.dbt_scd_id = dbt_internal_target.dbt_scd_id
when matched and {{ snapshot_is_current('dbt_internal_target.dbt_valid_to', valid_to_current) }}
    and dbt_internal_source.dbt_change_type in ('update', 'delete')
    then update set dbt_valid_to = dbt_internal_source.dbt_valid_to
when not matched and dbt_internal_source.dbt_change_type = 'insert'
    then insert ({% for c in columns %}{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %})
    values ({% for c in columns %}dbt_internal_source.{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
