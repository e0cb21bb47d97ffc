{#- Trino (Athena engine v3) spellings of the cross-database helpers, as dbt-athena writes
    them, except where noted. -#}

{% macro athena__type_string() -%}VARCHAR{%- endmacro %}
{% macro athena__type_int() -%}INTEGER{%- endmacro %}
{% macro athena__type_float() -%}DOUBLE{%- endmacro %}
{% macro athena__type_numeric() -%}DECIMAL(38,6){%- endmacro %}

{#- Strata's own: Iceberg tables take microsecond timestamps only (dbt-athena writes
    `timestamp`, and casts to timestamp(6) for Iceberg tables in current_timestamp alone). -#}
{% macro athena__type_timestamp() -%}timestamp(6){%- endmacro %}
{% macro athena__current_timestamp() -%}cast(now() as timestamp(6)){%- endmacro %}

{% macro athena__safe_cast(field, type) -%}try_cast({{ field }} as {{ type }}){%- endmacro %}

{% macro athena__dateadd(datepart, interval, from_date_or_timestamp) -%}
date_add('{{ datepart }}', {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{#- Boundaries crossed, as dbt counts them: Trino's date_diff counts whole units elapsed
    instead (January 31 to February 1 is 0 months), so each part is built from its fields. -#}
{% macro athena__datediff(first_date, second_date, datepart) -%}
{%- set first_ts = 'CAST(' ~ first_date ~ ' AS TIMESTAMP)' -%}
{%- set second_ts = 'CAST(' ~ second_date ~ ' AS TIMESTAMP)' -%}
{%- if datepart == 'year' -%}
(year({{ second_ts }}) - year({{ first_ts }}))
{%- elif datepart == 'quarter' -%}
({{ dbt.datediff(first_date, second_date, 'year') }} * 4) + quarter({{ second_ts }}) - quarter({{ first_ts }})
{%- elif datepart == 'month' -%}
({{ dbt.datediff(first_date, second_date, 'year') }} * 12) + month({{ second_ts }}) - month({{ first_ts }})
{%- elif datepart == 'day' -%}
((to_milliseconds((CAST({{ second_ts }} AS DATE) - CAST({{ first_ts }} AS DATE)))) / 86400000)
{%- elif datepart == 'week' -%}
({{ dbt.datediff(first_date, second_date, 'day') }} / 7 + case
    when dow({{ first_ts }}) <= dow({{ second_ts }}) then
        case when {{ first_date }} <= {{ second_date }} then 0 else -1 end
    else
        case when {{ first_date }} <= {{ second_date }} then 1 else 0 end
end)
{%- elif datepart == 'hour' -%}
({{ dbt.datediff(first_date, second_date, 'day') }} * 24 + hour({{ second_ts }}) - hour({{ first_ts }}))
{%- elif datepart == 'minute' -%}
({{ dbt.datediff(first_date, second_date, 'hour') }} * 60 + minute({{ second_ts }}) - minute({{ first_ts }}))
{%- elif datepart == 'second' -%}
({{ dbt.datediff(first_date, second_date, 'minute') }} * 60 + second({{ second_ts }}) - second({{ first_ts }}))
{%- elif datepart == 'millisecond' -%}
(to_milliseconds(({{ second_ts }} - {{ first_ts }})))
{%- elif execute -%}
{{ exceptions.raise_compiler_error("datediff on Athena: unsupported datepart '" ~ datepart ~ "' (use year, quarter, month, week, day, hour, minute, second or millisecond)") }}
{%- endif -%}
{%- endmacro %}

{#- Lowercase hex, as dbt-athena (and the md5 of other engines) gives it. -#}
{% macro athena__hash(field) -%}
lower(to_hex(md5(to_utf8(cast({{ field }} as varchar)))))
{%- endmacro %}

{#- Trino's substr counts from the end with a negative start; 0 characters is ''. -#}
{% macro athena__right(string_text, length_expression) -%}
case when {{ length_expression }} = 0
    then ''
else
    substr({{ string_text }}, -1 * ({{ length_expression }}))
end
{%- endmacro %}

{% macro athena__any_value(expression) -%}arbitrary({{ expression }}){%- endmacro %}

{% macro athena__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
array_join(
    {%- if limit_num %} slice({% endif -%}
    array_agg({{ measure }}{% if order_by_clause %} {{ order_by_clause }}{% endif %})
    {%- if limit_num %}, 1, {{ limit_num }}){% endif -%}
    , {{ delimiter_text }})
{%- endmacro %}

{#- With the behaviour flag, two NULLs are equal. -#}
{% macro athena__equals(expr1, expr2) -%}
{%- if adapter.behavior is defined and adapter.behavior.enable_truthy_nulls_equals_macro.no_warn -%}
({{ expr1 }} IS NOT DISTINCT FROM {{ expr2 }})
{%- else -%}
({{ expr1 }} = {{ expr2 }})
{%- endif -%}
{%- endmacro %}

{#- An empty array needs its element type (Trino's array(T)). -#}
{% macro athena__array_construct(inputs, data_type) -%}
{%- if inputs | length > 0 -%}
array[ {{ inputs | join(' , ') }} ]
{%- else -%}
{{ dbt.safe_cast('array[]', 'array(' ~ data_type ~ ')') }}
{%- endif -%}
{%- endmacro %}

{% macro athena__array_append(array, new_element) -%}{{ array }} || {{ new_element }}{%- endmacro %}

{% macro athena__array_concat(array_1, array_2) -%}{{ array_1 }} || {{ array_2 }}{%- endmacro %}

{#- Seconds since 1970 (freshness): Trino's to_unixtime, dates and timestamps alike. -#}
{% macro athena__epoch_seconds(expression) -%}
to_unixtime(cast({{ expression }} as timestamp(6)))
{%- endmacro %}
