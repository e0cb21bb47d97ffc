{#- Cross-database date helpers (`dbt.dateadd`, `dbt.datediff`, `dbt.last_day`,
    `dbt.date_spine` ...) and the number series the spine is built on: the dispatching entry
    points and dbt-core's default SQL. Adapters override in their own cross_db.sql. -#}

{% macro date_trunc(datepart, date) -%}{{ return(adapter.dispatch('date_trunc', 'dbt')(datepart, date)) }}{%- endmacro %}
{% macro default__date_trunc(datepart, date) -%}date_trunc('{{ datepart }}', {{ date }}){%- endmacro %}

{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
{{ return(adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp)) }}
{%- endmacro %}
{% macro default__dateadd(datepart, interval, from_date_or_timestamp) -%}
dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{#- The number of `datepart` boundaries crossed from the first date to the second. -#}
{% macro datediff(first_date, second_date, datepart) -%}
{{ return(adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart)) }}
{%- endmacro %}
{% macro default__datediff(first_date, second_date, datepart) -%}
datediff({{ datepart }}, {{ first_date }}, {{ second_date }})
{%- endmacro %}

{#- The last day of the `datepart` (month, quarter, year ...) `date` is in, as a date. -#}
{% macro last_day(date, datepart) -%}{{ return(adapter.dispatch('last_day', 'dbt')(date, datepart)) }}{%- endmacro %}
{% macro default_last_day(date, datepart) -%}
cast({{ dbt.dateadd('day', '-1', dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date))) }} as date)
{%- endmacro %}
{% macro default__last_day(date, datepart) -%}{{ dbt.default_last_day(date, datepart) }}{%- endmacro %}

{#- A date from three numbers; dbt checks them through Python's datetime (`modules`). -#}
{% macro date(year, month, day) -%}{{ return(adapter.dispatch('date', 'dbt')(year, month, day)) }}{%- endmacro %}
{% macro default__date(year, month, day) -%}
{%- set checked = modules.datetime.date(year, month, day) -%}
to_date('{{ checked.strftime('%Y-%m-%d') }}', 'YYYY-MM-DD')
{%- endmacro %}

{#- The smallest n with 2^n >= upper_bound (how many doublings generate_series needs). -#}
{% macro get_powers_of_two(upper_bound) -%}
{{ return(adapter.dispatch('get_powers_of_two', 'dbt')(upper_bound)) }}
{%- endmacro %}
{% macro default__get_powers_of_two(upper_bound) -%}
{%- if upper_bound <= 0 -%}
{{ exceptions.raise_compiler_error("upper bound must be positive") }}
{%- endif -%}
{%- for _ in range(1, 100) -%}
{%- if upper_bound <= 2 ** loop.index -%}{{ return(loop.index) }}{%- endif -%}
{%- endfor -%}
{%- endmacro %}

{#- A query of one column, generated_number, from 1 to upper_bound. -#}
{% macro generate_series(upper_bound) -%}{{ return(adapter.dispatch('generate_series', 'dbt')(upper_bound)) }}{%- endmacro %}
{% macro default__generate_series(upper_bound) -%}
{%- set n = dbt.get_powers_of_two(upper_bound) %}
with p as (
    select 0 as generated_number union all select 1
), unioned as (
    select
    {% for i in range(n) -%}
    p{{ i }}.generated_number * power(2, {{ i }}){% if not loop.last %} + {% endif %}
    {% endfor -%}
    + 1 as generated_number
    from
    {% for i in range(n) -%}
    p as p{{ i }}{% if not loop.last %} cross join {% endif %}
    {% endfor %}
)
select *
from unioned
where generated_number <= {{ upper_bound }}
order by generated_number
{%- endmacro %}

{#- datediff(start_date, end_date, datepart), asked of the warehouse; 1 when nothing answers
    (parsing, or a compile without a connection). -#}
{% macro get_intervals_between(start_date, end_date, datepart) -%}
{{ return(adapter.dispatch('get_intervals_between', 'dbt')(start_date, end_date, datepart)) }}
{%- endmacro %}
{% macro default__get_intervals_between(start_date, end_date, datepart) -%}
{%- call statement('get_intervals_between', fetch_result=True) -%}
select {{ dbt.datediff(start_date, end_date, datepart) }}
{%- endcall -%}
{%- set value_list = load_result('get_intervals_between') -%}
{%- if value_list and value_list['data'] -%}
{%- set values = value_list['data'] | map(attribute=0) | list -%}
{{ return(values[0]) }}
{%- else -%}
{{ return(1) }}
{%- endif -%}
{%- endmacro %}

{#- One row per `datepart` from start_date up to end_date (inclusive), in column
    date_<datepart>. -#}
{% macro date_spine(datepart, start_date, end_date) -%}
{{ return(adapter.dispatch('date_spine', 'dbt')(datepart, start_date, end_date)) }}
{%- endmacro %}
{% macro default__date_spine(datepart, start_date, end_date) %}
with rawdata as (
    {{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, datepart)) }}
),
all_periods as (
    select (
        {{ dbt.dateadd(datepart, "row_number() over (order by 1) - 1", start_date) }}
    ) as date_{{ datepart }}
    from rawdata
),
filtered as (
    select *
    from all_periods
    where date_{{ datepart }} <= {{ end_date }}
)
select * from filtered
{% endmacro %}
