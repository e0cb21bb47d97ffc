{#- Snapshots (dbt's type-2 slowly changing dimensions). The first run copies the query's
    rows with dbt_scd_id, dbt_updated_at, dbt_valid_from and an open dbt_valid_to; later
    runs stage what changed (snapshot_staging, into a table next to the snapshot), then
    snapshot_merge closes the changed rows' current versions and inserts the new ones.
    `strategy` is timestamp (a row changed when its updated_at moved past the current
    version's dbt_valid_from) or check (when one of check_cols differs; versions are stamped
    with the snapshot time). -#}

{% macro snapshot_get_time() -%}{{ adapter.dispatch('snapshot_get_time')() }}{%- endmacro %}
{% macro default__snapshot_get_time() -%}cast({{ current_timestamp() }} as {{ type_timestamp() }}){%- endmacro %}

{#- The unique key as one value: a column (or expression), or several joined with '|'. -#}
{% macro snapshot_unique_key(unique_key) -%}
{%- if unique_key is string -%}{{ unique_key }}
{%- else -%}
{%- for k in unique_key %}coalesce(cast({{ k }} as {{ type_string() }}), ''){% if not loop.last %} || '|' || {% endif %}{% endfor -%}
{%- endif -%}
{%- endmacro %}

{% macro snapshot_scd_id(unique_key, updated_at) -%}
{{ hash("coalesce(cast(" ~ snapshot_unique_key(unique_key) ~ " as " ~ type_string() ~ "), '') || '|' || coalesce(cast(" ~ updated_at ~ " as " ~ type_string() ~ "), '')") }}
{%- endmacro %}

{#- The time a version starts: the updated_at column (timestamp strategy, or check with
    updated_at set), else the snapshot's run time. -#}
{% macro snapshot_updated_at(strategy, updated_at) -%}
{%- if updated_at -%}{{ updated_at }}{%- else -%}{{ snapshot_get_time() }}{%- endif -%}
{%- endmacro %}

{#- check_cols 'all' and the query gained a column: every row is a new version (dbt). -#}
{% macro snapshot_row_changed(strategy, updated_at, check_cols, column_added=false) -%}
{%- if strategy == 'timestamp' -%}
snapshotted_data.dbt_valid_from < source_data.{{ updated_at }}
{%- elif column_added -%}
true
{%- else -%}
{%- for c in check_cols %}snapshotted_data.{{ adapter.quote(c) }} is distinct from source_data.{{ adapter.quote(c) }}{% if not loop.last %} or {% endif %}{% endfor -%}
{%- endif -%}
{%- endmacro %}

{#- The open end of a current version: NULL, or dbt_valid_to_current (an expression such
    as cast('9999-12-31' as timestamp)) when the snapshot sets it. -#}
{% macro snapshot_open_end(stamp, valid_to_current=none) -%}
{%- if valid_to_current -%}coalesce(nullif({{ stamp }}, {{ stamp }}), {{ valid_to_current }})
{%- else -%}nullif({{ stamp }}, {{ stamp }}){%- endif -%}
{%- endmacro %}

{% macro snapshot_is_current(column, valid_to_current=none) -%}
{%- if valid_to_current -%}({{ column }} is null or {{ column }} = {{ valid_to_current }})
{%- else -%}{{ column }} is null{%- endif -%}
{%- endmacro %}

{% macro snapshot_create(relation, sql, strategy, unique_key, updated_at, valid_to_current=none, new_record=false) -%}
{%- set stamp = snapshot_updated_at(strategy, updated_at) -%}
{%- set select_sql -%}
select *,
    {{ snapshot_scd_id(unique_key, stamp) }} as dbt_scd_id,
    {{ stamp }} as dbt_updated_at,
    {{ stamp }} as dbt_valid_from,
    {{ snapshot_open_end(stamp, valid_to_current) }} as dbt_valid_to
    {%- if new_record %},
    'False' as dbt_is_deleted
    {%- endif %}
from (
{{ sql }}
) as snapshot_query
{%- endset %}
{{ create_table_as(false, relation, select_sql) }}
{%- endmacro %}

{#- hard_deletes: new_record keeps a row for a deletion (dbt_is_deleted = 'True', the last
    values, stamped with the run time); a key that comes back gets a new version.
    `deleted_columns`: per query column, what the deletion row carries. -#}
{% macro snapshot_staging(relation, sql, target, strategy, unique_key, updated_at, check_cols, invalidate_hard_deletes, column_added=false, valid_to_current=none, new_record=false, deleted_columns=[]) -%}
{%- set stamp = snapshot_updated_at(strategy, updated_at) -%}
{%- set key = snapshot_unique_key(unique_key) -%}
{%- set row_changed = snapshot_row_changed(strategy, updated_at, check_cols, column_added) -%}
{%- set live = "coalesce(snapshotted_data.dbt_is_deleted, 'False') = 'False'" -%}
{%- set revived = "coalesce(snapshotted_data.dbt_is_deleted, 'False') = 'True'" -%}
{%- set is_deleted = ", 'False' as dbt_is_deleted" if new_record else "" -%}
{%- set select_sql -%}
with snapshot_query as (
{{ sql }}
),
snapshotted_data as (
    select *, {{ key }} as dbt_unique_key
    from {{ target }}
    where {{ snapshot_is_current('dbt_valid_to', valid_to_current) }}
),
insertions_source_data as (
    select *, {{ key }} as dbt_unique_key,
        {{ stamp }} as dbt_updated_at,
        {{ stamp }} as dbt_valid_from,
        {{ snapshot_open_end(stamp, valid_to_current) }} as dbt_valid_to,
        {{ snapshot_scd_id(unique_key, stamp) }} as dbt_scd_id
        {{- is_deleted }}
    from snapshot_query
),
updates_source_data as (
    select *, {{ key }} as dbt_unique_key,
        {{ stamp }} as dbt_updated_at,
        {{ stamp }} as dbt_valid_from,
        {{ stamp }} as dbt_valid_to
    from snapshot_query
),
{%- if invalidate_hard_deletes %}
deletes_source_data as (
    select *, {{ key }} as dbt_unique_key
    from snapshot_query
),
{%- endif %}
insertions as (
    select 'insert' as dbt_change_type, source_data.*
    from insertions_source_data as source_data
    left outer join snapshotted_data
        on snapshotted_data.dbt_unique_key = source_data.dbt_unique_key
    where snapshotted_data.dbt_unique_key is null
       or ({{ row_changed }})
       {%- if new_record %} or {{ revived }}{% endif %}
),
updates as (
    select 'update' as dbt_change_type, source_data.*, snapshotted_data.dbt_scd_id
        {{- is_deleted }}
    from updates_source_data as source_data
    join snapshotted_data
        on snapshotted_data.dbt_unique_key = source_data.dbt_unique_key
    where ({{ row_changed }})
       {%- if new_record %} or {{ revived }}{% endif %}
)
{%- if invalidate_hard_deletes %},
deletes as (
    select 'delete' as dbt_change_type, source_data.*,
        {{ snapshot_get_time() }} as dbt_valid_from,
        {{ snapshot_get_time() }} as dbt_updated_at,
        {{ snapshot_get_time() }} as dbt_valid_to,
        snapshotted_data.dbt_scd_id
        {{- is_deleted }}
    from snapshotted_data
    left join deletes_source_data as source_data
        on snapshotted_data.dbt_unique_key = source_data.dbt_unique_key
    where source_data.dbt_unique_key is null
      {%- if new_record %} and {{ live }}{% endif %}
)
{%- endif %}
{%- if new_record %},
deletion_records as (
    select 'insert' as dbt_change_type,
        {%- for c in deleted_columns %}
        {{ c }},
        {%- endfor %}
        snapshotted_data.dbt_unique_key,
        {{ snapshot_get_time() }} as dbt_updated_at,
        {{ snapshot_get_time() }} as dbt_valid_from,
        {{ snapshot_open_end(snapshot_get_time(), valid_to_current) }} as dbt_valid_to,
        {{ hash("coalesce(cast(snapshotted_data.dbt_unique_key as " ~ type_string() ~ "), '') || '|' || coalesce(cast(" ~ snapshot_get_time() ~ " as " ~ type_string() ~ "), '')") }} as dbt_scd_id,
        'True' as dbt_is_deleted
    from snapshotted_data
    left join deletes_source_data as source_data
        on snapshotted_data.dbt_unique_key = source_data.dbt_unique_key
    where source_data.dbt_unique_key is null and {{ live }}
)
{%- endif %}
select * from insertions
union all
select * from updates
{%- if invalidate_hard_deletes %}
union all
select * from deletes
{%- endif %}
{%- if new_record %}
union all
select * from deletion_records
{%- endif %}
{%- endset %}
{{ create_table_as(true, relation, select_sql) }}
{%- endmacro %}

{#- Close the changed rows' current versions, insert the new ones (`columns`: the
    snapshot's columns, in its order). -#}
{% macro snapshot_merge(target, staging, columns, valid_to_current=none) -%}
{{ adapter.dispatch('snapshot_merge')(target, staging, columns, valid_to_current) }}
{%- endmacro %}

{% macro default__snapshot_merge(target, staging, columns, valid_to_current=none) -%}
update {{ target }} as dbt_internal_target
set dbt_valid_to = dbt_internal_source.dbt_valid_to
from {{ staging }} as dbt_internal_source
where dbt_internal_source.dbt_scd_id = dbt_internal_target.dbt_scd_id
  and dbt_internal_source.dbt_change_type in ('update', 'delete')
  and {{ snapshot_is_current('dbt_internal_target.dbt_valid_to', valid_to_current) }};
insert into {{ target }} ({% for c in columns %}{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %})
select {% for c in columns %}dbt_internal_source.{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %}
from {{ staging }} as dbt_internal_source
where dbt_internal_source.dbt_change_type = 'insert'
{%- endmacro %}
