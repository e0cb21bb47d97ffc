{#- Cross-database helpers, as dbt's `dbt.<name>()` macros. Adapters override the
    `default__` versions where their SQL differs. -#}

{% macro current_timestamp() -%}{{ adapter.dispatch('current_timestamp')() }}{%- endmacro %}
{% macro default__current_timestamp() -%}current_timestamp{%- endmacro %}

{% macro type_string() -%}{{ adapter.dispatch('type_string')() }}{%- endmacro %}
{% macro default__type_string() -%}varchar{%- endmacro %}

{% macro type_int() -%}{{ adapter.dispatch('type_int')() }}{%- endmacro %}
{% macro default__type_int() -%}integer{%- endmacro %}

{% macro type_bigint() -%}{{ adapter.dispatch('type_bigint')() }}{%- endmacro %}
{% macro default__type_bigint() -%}bigint{%- endmacro %}

{% macro type_float() -%}{{ adapter.dispatch('type_float')() }}{%- endmacro %}
{% macro default__type_float() -%}double{%- endmacro %}

{% macro type_timestamp() -%}{{ adapter.dispatch('type_timestamp')() }}{%- endmacro %}
{% macro default__type_timestamp() -%}timestamp{%- endmacro %}

{% macro type_boolean() -%}{{ adapter.dispatch('type_boolean')() }}{%- endmacro %}
{% macro default__type_boolean() -%}boolean{%- endmacro %}

{% macro safe_cast(field, type) -%}{{ adapter.dispatch('safe_cast')(field, type) }}{%- endmacro %}
{% macro default__safe_cast(field, type) -%}try_cast({{ field }} as {{ type }}){%- endmacro %}

{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
{{ adapter.dispatch('dateadd')(datepart, interval, from_date_or_timestamp) }}
{%- endmacro %}
{% macro default__dateadd(datepart, interval, from_date_or_timestamp) -%}
date_add('{{ datepart }}', {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro datediff(first_date, second_date, datepart) -%}
{{ adapter.dispatch('datediff')(first_date, second_date, datepart) }}
{%- endmacro %}
{% macro default__datediff(first_date, second_date, datepart) -%}
date_diff('{{ datepart }}', {{ first_date }}, {{ second_date }})
{%- endmacro %}

{% macro date_trunc(datepart, date) -%}{{ adapter.dispatch('date_trunc')(datepart, date) }}{%- endmacro %}
{% macro default__date_trunc(datepart, date) -%}date_trunc('{{ datepart }}', {{ date }}){%- endmacro %}

{% macro concat(fields) -%}{{ adapter.dispatch('concat')(fields) }}{%- endmacro %}
{% macro default__concat(fields) -%}concat({{ fields | join(', ') }}){%- endmacro %}

{% macro hash(field) -%}{{ adapter.dispatch('hash')(field) }}{%- endmacro %}
{% macro default__hash(field) -%}md5(cast({{ field }} as varchar)){%- endmacro %}
