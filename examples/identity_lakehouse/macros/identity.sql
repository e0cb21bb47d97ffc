{#- Connected components of the identity graph by label propagation, in SQL: every node
    starts with its own id as label; each round, a node takes the smallest label among
    itself and its neighbours. After `rounds` rounds every node within `rounds` edges of a
    component's smallest node carries that node's id, so components up to that diameter
    are exact; tests/assert_identity_components_are_closed.sql fails the build when one
    more round would still change a label (raise var identity_rounds then). -#}
{% macro label_propagation(edges, rounds) -%}
with undirected as (
    select node_a as node, node_b as neighbour from {{ edges }}
    union
    select node_b, node_a from {{ edges }}
),

labels_0 as (
    select distinct node, node as label from undirected
)
{%- for i in range(1, rounds + 1) %},

labels_{{ i }} as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_{{ i - 1 }} as l
    left join undirected as u on u.node = l.node
    left join labels_{{ i - 1 }} as n on n.node = u.neighbour
    group by l.node, l.label
)
{%- endfor %}

select node, label from labels_{{ rounds }}
{%- endmacro %}
