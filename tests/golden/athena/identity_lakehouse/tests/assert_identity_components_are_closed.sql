-- Both ends of every edge are in the same identity: label propagation ran to its fixpoint
-- (every device linked to a user by an event is in that user's component).
select e.node_a, e.node_b, a.identity_id as a_identity, b.identity_id as b_identity
from "identity_lakehouse"."identity_edges" as e
left join "identity_lakehouse"."identity_resolution" as a on a.identifier = e.node_a
left join "identity_lakehouse"."identity_resolution" as b on b.identifier = e.node_b
where a.identity_id is null or b.identity_id is null or a.identity_id <> b.identity_id
