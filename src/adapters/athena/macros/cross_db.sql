{#- Trino (Athena engine v3) spellings of the cross-database helpers. -#}

{% macro athena__type_string() -%}varchar{%- endmacro %}

{% macro athena__type_timestamp() -%}timestamp(6){%- endmacro %}

{% macro athena__current_timestamp() -%}cast(current_timestamp as timestamp(6)){%- endmacro %}

{% macro athena__dateadd(datepart, interval, from_date_or_timestamp) -%}
date_add('{{ datepart }}', {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro athena__datediff(first_date, second_date, datepart) -%}
date_diff('{{ datepart }}', {{ first_date }}, {{ second_date }})
{%- endmacro %}

{% macro athena__hash(field) -%}
to_hex(md5(to_utf8(cast({{ field }} as varchar))))
{%- endmacro %}

{#- Seconds since 1970 (freshness): Trino's to_unixtime, dates and timestamps alike. -#}
{% macro athena__epoch_seconds(expression) -%}
to_unixtime(cast({{ expression }} as timestamp(6)))
{%- endmacro %}
