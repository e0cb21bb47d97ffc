{#- The identity graph's edges: two identifiers seen in one event (user <-> anonymous id,
    user <-> device, anonymous id <-> device), each pair once, with the user it names (if
    any), so an erasure removes the user's edges. -#}
{{ config(materialized='table') }}

with ids as (
    select
        user_id,
        'user:' || user_id as user_node,
        'anon:' || anon_id as anon_node,
        'device:' || ua_hash as device_node
    from {{ ref('silver_events') }}
),

pairs as (
    select user_node as node_a, anon_node as node_b, user_id from ids where user_id is not null
    union
    select user_node, device_node, user_id from ids where user_id is not null and device_node is not null
    union
    select anon_node, device_node, cast(null as varchar) from ids where device_node is not null
)

select node_a, node_b, max(user_id) as user_id
from pairs
group by node_a, node_b
