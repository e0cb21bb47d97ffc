{#- The design's retention: raw events are kept `keep_days` days (counted back from the
    newest event day, so re-running it on the same data does the same); older ones move to
    the archive table `events_archive` (created on first use, with the events' columns) and
    leave `events`. Aggregates are not touched: metric_aggregates keeps every day. Safe to
    run again: an event already archived is not archived twice, and nothing older is left
    to delete.

        strata run-operation apply_retention --args '{keep_days: 30}'
-#}
{% macro apply_retention(keep_days=30) %}
  {%- set events = ref('events') -%}
  {%- set archive = api.Relation.create(database=events.database, schema=events.schema,
                                        identifier='events_archive', type='table') -%}
  {%- set newest = run_query('select max(event_date) from ' ~ events).rows[0][0] -%}
  {%- if newest is none -%}
    {{ log('apply_retention: no events yet', info=true) }}
    {{ return(none) }}
  {%- endif -%}
  {%- set cutoff = "date '" ~ newest ~ "' - interval '" ~ (keep_days - 1) ~ "' day" -%}
  {%- do run_query(create_archive(archive, events)) -%}
  {%- do run_query('insert into ' ~ archive ~ ' select * from ' ~ events ~ ' as e where e.event_date < ' ~ cutoff
                   ~ ' and not exists (select 1 from ' ~ archive ~ ' as a where a.event_id = e.event_id)') -%}
  {%- do run_query('delete from ' ~ events ~ ' where event_date < ' ~ cutoff) -%}
  {%- set kept = run_query('select count(distinct event_date) from ' ~ events).rows[0][0] -%}
  {{ log('apply_retention: ' ~ kept ~ ' days of events kept (from ' ~ newest ~ ' back), older ones in ' ~ archive, info=true) }}
{% endmacro %}

{#- The archive table, with the events' columns, unless it exists: an Iceberg table of its
    own on Athena (under the target's s3_data_dir). -#}
{% macro create_archive(archive, events) -%}
  {{ return(adapter.dispatch('create_archive')(archive, events)) }}
{%- endmacro %}
{% macro default__create_archive(archive, events) -%}
  create table if not exists {{ archive }} as select * from {{ events }} where 1 = 0
{%- endmacro %}
{% macro athena__create_archive(archive, events) -%}
  create table if not exists {{ archive }}
  with (table_type = 'ICEBERG', is_external = false,
        location = '{{ target.s3_data_dir.rstrip('/') }}/{{ archive.schema }}/{{ archive.identifier }}/')
  as select * from {{ events }} where 1 = 0
{%- endmacro %}
