
select event_id
from "athena_analytics"."bronze_chat_events"
where event_id is null
