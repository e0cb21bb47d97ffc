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

{#- high_watermark(column, floor, where): the largest `column` already in
    {{ this }} (optionally filtered by `where`), or `floor` when the table is
    empty, as a literal of floor's type (`date '...'` / `timestamp '...'`). It is
    read when the model runs, so the engine sees a constant: DuckDB then skips
    the landing folders (hive partitions) at or below it instead of parsing every
    file, and Athena prunes partitions. Only meaningful inside is_incremental(). -#}
{% macro high_watermark(column='updated_at', floor="timestamp '1900-01-01 00:00:00'", where=none) -%}
{%- set query -%}
select coalesce(max({{ column }}), {{ floor }}) from {{ this }}{% if where %} where {{ where }}{% endif %}
{%- endset -%}
{%- if execute -%}
{{ floor.split(' ')[0] }} '{{ run_query(query).rows[0][0] }}'
{%- else -%}
({{ query }})
{%- endif -%}
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
