{#- DuckDB spellings of the cross-database helpers. -#}

{% macro duckdb__dateadd(datepart, interval, from_date_or_timestamp) -%}
({{ from_date_or_timestamp }} + ({{ interval }}) * interval 1 {{ datepart }})
{%- endmacro %}
