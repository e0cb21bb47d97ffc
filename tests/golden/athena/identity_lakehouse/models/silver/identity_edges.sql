

with ids as (
    select
        user_id,
        'user:' || user_id as user_node,
        'anon:' || anon_id as anon_node,
        'device:' || ua_hash as device_node
    from "identity_lakehouse"."silver_events"
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
