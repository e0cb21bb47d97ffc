-- A reasoning step belongs to a message event of the same user, and does not
-- happen before it (timestamps are compared in UTC). Returns the offending steps.

select
    s.event_id,
    s.step_index,
    s.user_id as step_user_id,
    e.user_id as event_user_id,
    e.event_type,
    s.created_at as step_created_at,
    e.created_at as event_created_at
from "athena_analytics"."bronze_reasoning_steps" as s
inner join "athena_analytics"."bronze_chat_events" as e
    on e.event_id = s.event_id
where e.event_type <> 'message'
   or e.user_id <> s.user_id
   or s.created_at < e.created_at
