
select event_type
from "athena_analytics"."bronze_chat_events"
where event_type is null
