{#- The design's analytics_job_run: one row per model, seed and snapshot a run built, from
    dbt's `results` (on-run-end): when the run was scheduled (started), when the node
    started and completed, its status, rows processed and bytes scanned. -#}
{% macro record_job_runs(results) -%}
{%- if execute -%}
{%- set table = target.schema ~ '.analytics_job_run' -%}
create table if not exists {{ table }} (
    job_name varchar, invocation_id varchar, scheduled_at timestamp, started_at timestamp,
    completed_at timestamp, status varchar, rows_processed bigint, bytes_scanned bigint
);
{%- set rows = [] -%}
{%- for r in results if r.node.resource_type in ['model', 'seed', 'snapshot'] -%}
  {%- set execute_step = r.timing | selectattr('name', 'equalto', 'execute') | list -%}
  {%- set started = execute_step[0].started_at if execute_step else none -%}
  {%- set completed = execute_step[0].completed_at if execute_step else none -%}
  {%- do rows.append("('" ~ r.node.name ~ "', '" ~ invocation_id ~ "', "
      ~ "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as timestamp), "
      ~ ("cast('" ~ started[:19] | replace('T', ' ') ~ "' as timestamp)" if started else "null") ~ ", "
      ~ ("cast('" ~ completed[:19] | replace('T', ' ') ~ "' as timestamp)" if completed else "null") ~ ", "
      ~ "'" ~ r.status ~ "', "
      ~ (r.adapter_response.rows_affected if r.adapter_response.rows_affected is not none else "null") ~ ", "
      ~ (r.adapter_response.bytes_scanned if r.adapter_response.bytes_scanned is not none else "null") ~ ")") -%}
{%- endfor -%}
{%- if rows %};
insert into {{ table }} values
{{ rows | join(',\n') }}
{%- endif -%}
{%- endif -%}
{%- endmacro %}
