

with components as (
    with undirected as (
    select node_a as node, node_b as neighbour from "identity_lakehouse"."identity_edges"
    union
    select node_b, node_a from "identity_lakehouse"."identity_edges"
),

labels_0 as (
    select distinct node, node as label from undirected
),

labels_1 as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_0 as l
    left join undirected as u on u.node = l.node
    left join labels_0 as n on n.node = u.neighbour
    group by l.node, l.label
),

labels_2 as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_1 as l
    left join undirected as u on u.node = l.node
    left join labels_1 as n on n.node = u.neighbour
    group by l.node, l.label
),

labels_3 as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_2 as l
    left join undirected as u on u.node = l.node
    left join labels_2 as n on n.node = u.neighbour
    group by l.node, l.label
),

labels_4 as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_3 as l
    left join undirected as u on u.node = l.node
    left join labels_3 as n on n.node = u.neighbour
    group by l.node, l.label
),

labels_5 as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_4 as l
    left join undirected as u on u.node = l.node
    left join labels_4 as n on n.node = u.neighbour
    group by l.node, l.label
),

labels_6 as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_5 as l
    left join undirected as u on u.node = l.node
    left join labels_5 as n on n.node = u.neighbour
    group by l.node, l.label
),

labels_7 as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_6 as l
    left join undirected as u on u.node = l.node
    left join labels_6 as n on n.node = u.neighbour
    group by l.node, l.label
),

labels_8 as (
    select l.node, least(l.label, coalesce(min(n.label), l.label)) as label
    from labels_7 as l
    left join undirected as u on u.node = l.node
    left join labels_7 as n on n.node = u.neighbour
    group by l.node, l.label
)

select node, label from labels_8
),

sized as (
    select
        label,
        count(*) as members,
        count(case when node like 'user:%' then 1 end) as users,
        min(case when node like 'user:%' then substr(node, 6) end) as user_id
    from components
    group by label
)

select
    c.node as identifier,
    split_part(c.node, ':', 1) as identifier_type,
    'id-' || substr(c.label, strpos(c.label, ':') + 1) as identity_id,
    case when s.users = 1 then s.user_id end as user_id,
    s.members,
    case
        when s.users = 1 then 1.0
        when s.users > 1 then 0.0
        when s.members > 1 then 0.5
        else 0.2
    end as confidence_score
from components as c
inner join sized as s on s.label = c.label
