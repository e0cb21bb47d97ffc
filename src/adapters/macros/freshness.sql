{#- Source freshness (`strata source freshness`): one row of two numbers, the newest load
    time and the warehouse's clock, as seconds since 1970 in UTC (a timestamp without a time
    zone is read as UTC, as dbt reads it). The runner compares their difference with the
    source's warn_after / error_after. -#}
{% macro collect_freshness(source, loaded_at_field, filter) -%}
{{ adapter.dispatch('collect_freshness')(source, loaded_at_field, filter) }}
{%- endmacro %}

{% macro default__collect_freshness(source, loaded_at_field, filter) -%}
select
    {{ epoch_seconds('max(' ~ loaded_at_field ~ ')') }} as max_loaded_at,
    {{ epoch_seconds(current_timestamp()) }} as snapshotted_at
from {{ source }}
{%- if filter %}
where {{ filter }}
{%- endif %}
{%- endmacro %}

{#- `loaded_at_query`: a query returning the newest load time. -#}
{% macro collect_freshness_custom_sql(source, loaded_at_query) -%}
{{ adapter.dispatch('collect_freshness_custom_sql')(source, loaded_at_query) }}
{%- endmacro %}

{% macro default__collect_freshness_custom_sql(source, loaded_at_query) -%}
with source_query as (
{{ loaded_at_query }}
)
select
    {{ epoch_seconds('(select * from source_query)') }} as max_loaded_at,
    {{ epoch_seconds(current_timestamp()) }} as snapshotted_at
{%- endmacro %}

{% macro epoch_seconds(expression) -%}
{{ adapter.dispatch('epoch_seconds')(expression) }}
{%- endmacro %}

{% macro default__epoch_seconds(expression) -%}
epoch({{ expression }})
{%- endmacro %}
