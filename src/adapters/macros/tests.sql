{#- Data tests. A test query returns the failing rows; get_test_sql counts them. -#}

{% macro get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
{{ adapter.dispatch('get_test_sql')(main_sql, fail_calc, warn_if, error_if, limit) }}
{%- endmacro %}

{% macro default__get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
select
    {{ fail_calc }} as failures,
    case when {{ fail_calc }} {{ warn_if }} then true else false end as should_warn,
    case when {{ fail_calc }} {{ error_if }} then true else false end as should_error
from (
{{ main_sql }}
{{ "limit " ~ limit if limit is not none }}
) dbt_internal_test
{%- endmacro %}

{#- `where:` config on a test narrows the model it reads; without one the test gets the
    relation itself (packages' tests check `model` is a relation). -#}
{% macro get_where_subquery(relation) -%}
{%- set where = config.get('where') -%}
{%- if where -%}
{%- set filtered -%}
(select * from {{ relation }} where {{ where }}) dbt_subquery
{%- endset -%}
{{ return(filtered) }}
{%- else -%}
{{ return(relation) }}
{%- endif -%}
{%- endmacro %}

{% test not_null(model, column_name) %}
{{ adapter.dispatch('test_not_null')(model, column_name) }}
{% endtest %}

{#- As dbt: stored failures keep the whole row (should_store_failures()). -#}
{% macro default__test_not_null(model, column_name) -%}
select {{ '*' if should_store_failures() else column_name }}
from {{ model }}
where {{ column_name }} is null
{%- endmacro %}

{% test unique(model, column_name) %}
{{ adapter.dispatch('test_unique')(model, column_name) }}
{% endtest %}

{% macro default__test_unique(model, column_name) -%}
select
    {{ column_name }} as unique_field,
    count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1
{%- endmacro %}

{% test accepted_values(model, column_name, values, quote=True) %}
{{ adapter.dispatch('test_accepted_values')(model, column_name, values, quote) }}
{% endtest %}

{% macro default__test_accepted_values(model, column_name, values, quote=True) -%}
with all_values as (
    select
        {{ column_name }} as value_field,
        count(*) as n_records
    from {{ model }}
    group by {{ column_name }}
)
select *
from all_values
where value_field not in (
    {%- for v in values -%}
    {%- if quote -%}'{{ v | string | replace("'", "''") }}'{%- else -%}{{ v }}{%- endif -%}
    {%- if not loop.last %}, {% endif -%}
    {%- endfor -%}
)
{%- endmacro %}

{% test relationships(model, column_name, to, field) %}
{{ adapter.dispatch('test_relationships')(model, column_name, to, field) }}
{% endtest %}

{% macro default__test_relationships(model, column_name, to, field) -%}
with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),
parent as (
    select {{ field }} as to_field
    from {{ to }}
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null
{%- endmacro %}

{#- Unit tests (dbt 1.8 unit_tests:). `columns` are {name, data_type}; `rows` lists, per
    row, one SQL literal for each column (already quoted by the runner, `null` where the
    fixture leaves a column out). No rows: a query with the columns and no rows. -#}
{% macro unit_test_fixture_rows(columns, rows) -%}
{{ adapter.dispatch('unit_test_fixture_rows')(columns, rows) }}
{%- endmacro %}

{% macro default__unit_test_fixture_rows(columns, rows) -%}
{%- if rows -%}
{%- for row in rows %}{% if not loop.first %}
union all
{% endif %}select {% for c in columns %}{% if not loop.first %}, {% endif %}cast({{ row[loop.index0] }} as {{ c.data_type }}) as {{ adapter.quote(c.name) }}{% endfor %}{% endfor %}
{%- else -%}
select {% for c in columns %}{% if not loop.first %}, {% endif %}cast(null as {{ c.data_type }}) as {{ adapter.quote(c.name) }}{% endfor %} where false
{%- endif %}
{%- endmacro %}

{#- The model on its fixtures: each fixture {cte, name, sql} a CTE, the model's SQL as
    dbt_internal_unit_test_actual, then `select` from it (`*`, `count(*)`, or the
    expected columns when `columns` is given). -#}
{% macro get_unit_test_sql(fixtures, model_sql, columns=none, select='*') -%}
{{ adapter.dispatch('get_unit_test_sql')(fixtures, model_sql, columns, select) }}
{%- endmacro %}

{% macro default__get_unit_test_sql(fixtures, model_sql, columns, select) -%}
with {% for f in fixtures %}{{ adapter.quote(f.cte) }} as (
-- Fixture for {{ f.name }}
{{ f.sql }}
),
{% endfor %}dbt_internal_unit_test_actual as (
{{ model_sql }}
)
select {% if columns %}{% for c in columns %}{% if not loop.first %}, {% endif %}{{ adapter.quote(c) }}{% endfor %}{% else %}{{ select }}{% endif %} from dbt_internal_unit_test_actual
{%- endmacro %}

{#- The expected rows (`sql`), in the order of `columns`. -#}
{% macro unit_test_expected_sql(sql, columns) -%}
{{ adapter.dispatch('unit_test_expected_sql')(sql, columns) }}
{%- endmacro %}

{% macro default__unit_test_expected_sql(sql, columns) -%}
select {% for c in columns %}{% if not loop.first %}, {% endif %}{{ adapter.quote(c) }}{% endfor %} from (
{{ sql }}
) as dbt_internal_unit_test_expected
{%- endmacro %}

{#- dbt's name: a query with the contract's columns, typed, and no rows (`columns` are
    {name, data_type}); the engine names the types it reads back. -#}
{% macro get_empty_schema_sql(columns) -%}
{{ adapter.dispatch('get_empty_schema_sql')(columns) }}
{%- endmacro %}

{% macro default__get_empty_schema_sql(columns) -%}
select {% for c in columns %}{% if not loop.first %}, {% endif %}cast(null as {{ c.data_type }}) as {{ adapter.quote(c.name) }}{% endfor %}
{%- endmacro %}
