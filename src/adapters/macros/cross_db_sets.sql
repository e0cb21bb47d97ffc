{#- Cross-database set operators, comparisons, aggregates and arrays (`dbt.except`,
    `dbt.equals`, `dbt.listagg`, `dbt.array_construct` ...): the dispatching entry points and
    dbt-core's default SQL. Adapters override in their own cross_db.sql. -#}

{% macro except() -%}{{ return(adapter.dispatch('except', 'dbt')()) }}{%- endmacro %}
{% macro default__except() -%}except{%- endmacro %}

{% macro intersect() -%}{{ return(adapter.dispatch('intersect', 'dbt')()) }}{%- endmacro %}
{% macro default__intersect() -%}intersect{%- endmacro %}

{#- With the behaviour flag enable_truthy_nulls_equals_macro, two NULLs are equal too
    (dbt's default leaves the flag off: a plain `=`). -#}
{% macro equals(expr1, expr2) -%}{{ return(adapter.dispatch('equals', 'dbt')(expr1, expr2)) }}{%- endmacro %}
{% macro default__equals(expr1, expr2) -%}
{%- if adapter.behavior is defined and adapter.behavior.enable_truthy_nulls_equals_macro.no_warn -%}
case when (({{ expr1 }} = {{ expr2 }}) or ({{ expr1 }} is null and {{ expr2 }} is null))
    then 0
    else 1
end = 0
{%- else -%}
({{ expr1 }} = {{ expr2 }})
{%- endif -%}
{%- endmacro %}

{% macro any_value(expression) -%}{{ return(adapter.dispatch('any_value', 'dbt')(expression)) }}{%- endmacro %}
{% macro default__any_value(expression) -%}any_value({{ expression }}){%- endmacro %}

{% macro bool_or(expression) -%}{{ return(adapter.dispatch('bool_or', 'dbt')(expression)) }}{%- endmacro %}
{% macro default__bool_or(expression) -%}bool_or({{ expression }}){%- endmacro %}

{#- The measure's values joined by delimiter_text (SQL text: give it quoted), optionally
    ordered by order_by_clause ("order by x") and cut to the first limit_num. -#}
{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
{{ return(adapter.dispatch('listagg', 'dbt')(measure, delimiter_text, order_by_clause, limit_num)) }}
{%- endmacro %}
{% macro default__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
{%- if limit_num -%}
array_to_string(
    array_slice(
        array_agg({{ measure }}){% if order_by_clause %} within group ({{ order_by_clause }}){% endif %},
        0,
        {{ limit_num }}
    ),
    {{ delimiter_text }}
)
{%- else -%}
listagg({{ measure }}, {{ delimiter_text }}){% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endif -%}
{%- endmacro %}

{#- An array of the inputs (all of one type); without inputs, an empty array of data_type. -#}
{% macro array_construct(inputs=[], data_type=api.Column.translate_type('integer')) -%}
{{ return(adapter.dispatch('array_construct', 'dbt')(inputs, data_type)) }}
{%- endmacro %}
{% macro default__array_construct(inputs, data_type) -%}
{%- if inputs | length > 0 -%}
array[ {{ inputs | join(' , ') }} ]
{%- else -%}
array[]::{{ data_type }}[]
{%- endif -%}
{%- endmacro %}

{% macro array_append(array, new_element) -%}
{{ return(adapter.dispatch('array_append', 'dbt')(array, new_element)) }}
{%- endmacro %}
{% macro default__array_append(array, new_element) -%}array_append({{ array }}, {{ new_element }}){%- endmacro %}

{% macro array_concat(array_1, array_2) -%}
{{ return(adapter.dispatch('array_concat', 'dbt')(array_1, array_2)) }}
{%- endmacro %}
{% macro default__array_concat(array_1, array_2) -%}array_cat({{ array_1 }}, {{ array_2 }}){%- endmacro %}
