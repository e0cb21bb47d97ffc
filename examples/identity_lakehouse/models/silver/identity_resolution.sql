{#- The design's identity_resolution: every identifier's canonical identity_id (its
    connected component, found by label propagation: macros/identity.sql), the user the
    component belongs to, and a confidence_score: 1.0 when the component has exactly one
    logged-in user, 0.5 when it links several identifiers without a user, 0.2 for an
    identifier seen alone, 0.0 when it links more than one user (a conflict to review).
    `user_id` names the component's user on every row, so a DSAR removes the whole
    component's membership. -#}
{{ config(materialized='table') }}

with components as (
    {{ label_propagation(ref('identity_edges'), var('identity_rounds', 8)) }}
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
