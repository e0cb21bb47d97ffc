{#-
  Incremental helpers. Both engines run the same SQL here.

  The project's incremental rule: every table remembers how far it has read its
  input with a "high watermark" column (bronze: ingest_date, the arrival day of
  the landing file; silver and gold: updated_at, the arrival day of the newest
  input row, as a timestamp). An incremental run reads only input rows past the
  watermark, works out which partitions they touch, and recomputes those
  partitions in full from the layer below (insert_overwrite), so late events
  re-aggregate their whole day and the result equals a full refresh.
-#}

{#- high_watermark(column, floor, where): scalar subquery with the largest
    `column` already in {{ this }} (optionally filtered by `where`), or
    `floor` when the table is empty. Only meaningful inside is_incremental(). -#}
{% macro high_watermark(column='updated_at', floor="timestamp '1900-01-01 00:00:00'", where=none) -%}
(select coalesce(max({{ column }}), {{ floor }}) from {{ this }}{% if where %} where {{ where }}{% endif %})
{%- endmacro %}

{#- arrival_timestamp(date_column): the arrival day as the TIMESTAMP stored
    in updated_at columns (midnight UTC of the ingest_date). -#}
{% macro arrival_timestamp(date_column='ingest_date') -%}
{{ adapter.dispatch('arrival_timestamp')(date_column) }}
{%- endmacro %}

{% macro default__arrival_timestamp(date_column) -%}
cast({{ date_column }} as timestamp)
{%- endmacro %}

{#- Iceberg on Athena stores microsecond timestamps: timestamp(6). -#}
{% macro athena__arrival_timestamp(date_column) -%}
cast({{ date_column }} as timestamp(6))
{%- endmacro %}
