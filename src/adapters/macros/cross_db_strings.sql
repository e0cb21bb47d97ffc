{#- Cross-database string helpers (`dbt.concat`, `dbt.split_part`, `dbt.hash` ...): the
    dispatching entry points and dbt-core's default SQL. Adapters override in their own
    cross_db.sql. -#}

{#- `||` keeps dbt's NULL behaviour: one NULL field makes the whole value NULL. -#}
{% macro concat(fields) -%}{{ return(adapter.dispatch('concat', 'dbt')(fields)) }}{%- endmacro %}
{% macro default__concat(fields) -%}{{ fields | join(' || ') }}{%- endmacro %}

{% macro hash(field) -%}{{ return(adapter.dispatch('hash', 'dbt')(field)) }}{%- endmacro %}
{% macro default__hash(field) -%}md5(cast({{ field }} as {{ dbt.type_string() }})){%- endmacro %}

{% macro split_part(string_text, delimiter_text, part_number) -%}
{{ return(adapter.dispatch('split_part', 'dbt')(string_text, delimiter_text, part_number)) }}
{%- endmacro %}
{% macro default__split_part(string_text, delimiter_text, part_number) -%}
split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})
{%- endmacro %}

{#- A negative part counted from the end, for engines whose split_part has no such parts:
    the number of delimiters plus two plus the (negative) part. -#}
{% macro _split_part_negative(string_text, delimiter_text, part_number) -%}
split_part({{ string_text }}, {{ delimiter_text }},
    length({{ string_text }}) - length(replace({{ string_text }}, {{ delimiter_text }}, '')) + 2 + {{ part_number }})
{%- endmacro %}

{% macro replace(field, old_chars, new_chars) -%}
{{ return(adapter.dispatch('replace', 'dbt')(field, old_chars, new_chars)) }}
{%- endmacro %}
{% macro default__replace(field, old_chars, new_chars) -%}
replace({{ field }}, {{ old_chars }}, {{ new_chars }})
{%- endmacro %}

{% macro length(expression) -%}{{ return(adapter.dispatch('length', 'dbt')(expression)) }}{%- endmacro %}
{% macro default__length(expression) -%}length({{ expression }}){%- endmacro %}

{% macro position(substring_text, string_text) -%}
{{ return(adapter.dispatch('position', 'dbt')(substring_text, string_text)) }}
{%- endmacro %}
{% macro default__position(substring_text, string_text) -%}
position({{ substring_text }} in {{ string_text }})
{%- endmacro %}

{% macro right(string_text, length_expression) -%}
{{ return(adapter.dispatch('right', 'dbt')(string_text, length_expression)) }}
{%- endmacro %}
{% macro default__right(string_text, length_expression) -%}
right({{ string_text }}, {{ length_expression }})
{%- endmacro %}

{#- The text to put between quotes: each ' doubled (they're -> they''re). -#}
{% macro escape_single_quotes(expression) -%}
{{ return(adapter.dispatch('escape_single_quotes', 'dbt')(expression)) }}
{%- endmacro %}
{% macro default__escape_single_quotes(expression) -%}{{ expression | replace("'", "''") }}{%- endmacro %}

{#- The value between single quotes, as given (dbt does not escape it either). -#}
{% macro string_literal(value) -%}{{ return(adapter.dispatch('string_literal', 'dbt')(value)) }}{%- endmacro %}
{% macro default__string_literal(value) -%}'{{ value }}'{%- endmacro %}
