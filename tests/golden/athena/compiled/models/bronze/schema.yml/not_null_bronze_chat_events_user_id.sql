
select user_id
from "athena_analytics"."bronze_chat_events"
where user_id is null
