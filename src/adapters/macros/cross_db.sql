{#- Cross-database helpers, as dbt's `dbt.<name>()` macros: data types, casts and the
    current time. Strings, dates and sets/arrays/aggregates are in the cross_db_*.sql files
    beside this one. Adapters override the `default__` versions where their SQL differs; the
    defaults say what dbt-core's global project says. Entry points `return` the dispatched
    value so that numbers and lists reach the caller unchanged. -#}

{#- The type names dbt's base `Column.translate_type` gives (dbt-duckdb answers the same). -#}
{% macro type_string() -%}{{ return(adapter.dispatch('type_string', 'dbt')()) }}{%- endmacro %}
{% macro default__type_string() -%}TEXT{%- endmacro %}

{% macro type_int() -%}{{ return(adapter.dispatch('type_int', 'dbt')()) }}{%- endmacro %}
{% macro default__type_int() -%}integer{%- endmacro %}

{% macro type_bigint() -%}{{ return(adapter.dispatch('type_bigint', 'dbt')()) }}{%- endmacro %}
{% macro default__type_bigint() -%}bigint{%- endmacro %}

{% macro type_float() -%}{{ return(adapter.dispatch('type_float', 'dbt')()) }}{%- endmacro %}
{% macro default__type_float() -%}float{%- endmacro %}

{#- dbt's `Column.numeric_type("numeric", 28, 6)`. -#}
{% macro type_numeric() -%}{{ return(adapter.dispatch('type_numeric', 'dbt')()) }}{%- endmacro %}
{% macro default__type_numeric() -%}numeric(28,6){%- endmacro %}

{% macro type_timestamp() -%}{{ return(adapter.dispatch('type_timestamp', 'dbt')()) }}{%- endmacro %}
{% macro default__type_timestamp() -%}timestamp{%- endmacro %}

{% macro type_boolean() -%}{{ return(adapter.dispatch('type_boolean', 'dbt')()) }}{%- endmacro %}
{% macro default__type_boolean() -%}boolean{%- endmacro %}

{% macro cast(field, type) -%}{{ return(adapter.dispatch('cast', 'dbt')(field, type)) }}{%- endmacro %}
{% macro default__cast(field, type) -%}cast({{ field }} as {{ type }}){%- endmacro %}

{#- dbt's default is a plain cast: most engines have no failing-to-null cast (dbt-duckdb keeps it). -#}
{% macro safe_cast(field, type) -%}{{ return(adapter.dispatch('safe_cast', 'dbt')(field, type)) }}{%- endmacro %}
{% macro default__safe_cast(field, type) -%}cast({{ field }} as {{ type }}){%- endmacro %}

{#- As dbt writes it, through `api.Column` (the engine's name for a string type). -#}
{% macro cast_bool_to_text(field) -%}{{ adapter.dispatch('cast_bool_to_text', 'dbt')(field) }}{%- endmacro %}
{% macro default__cast_bool_to_text(field) -%}
cast({{ field }} as {{ api.Column.translate_type('string') }})
{%- endmacro %}

{% macro current_timestamp() -%}{{ adapter.dispatch('current_timestamp', 'dbt')() }}{%- endmacro %}
{% macro default__current_timestamp() -%}current_timestamp{%- endmacro %}

{#- dbt keeps these two for projects that called dbt_utils' old current_timestamp macros. -#}
{% macro current_timestamp_backcompat() -%}
{{ return(adapter.dispatch('current_timestamp_backcompat', 'dbt')()) }}
{%- endmacro %}
{% macro default__current_timestamp_backcompat() -%}current_timestamp::timestamp{%- endmacro %}

{% macro current_timestamp_in_utc_backcompat() -%}
{{ return(adapter.dispatch('current_timestamp_in_utc_backcompat', 'dbt')()) }}
{%- endmacro %}
{% macro default__current_timestamp_in_utc_backcompat() -%}
{{ return(adapter.dispatch('current_timestamp_backcompat', 'dbt')()) }}
{%- endmacro %}
