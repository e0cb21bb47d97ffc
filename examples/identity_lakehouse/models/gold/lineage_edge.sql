{#- The design's lineage_edge: each source -> target edge between the project's models,
    seeds, snapshots and sources, from the manifest Strata builds (`graph`). -#}
{{ config(materialized='table') }}

{%- set edges = [] -%}
{%- if execute -%}
{%- for node in graph.nodes.values() if node.resource_type in ['model', 'seed', 'snapshot'] -%}
  {%- for parent in node.depends_on.nodes if not parent.startswith('test.') -%}
    {%- do edges.append((parent, node.unique_id)) -%}
  {%- endfor -%}
{%- endfor -%}
{%- endif %}

{% for source_id, target_id in edges | sort %}
select '{{ source_id }}' as source_node, '{{ target_id }}' as target_node
{% if not loop.last %}union all{% endif %}
{%- else %}
select cast(null as varchar) as source_node, cast(null as varchar) as target_node where false
{% endfor %}
