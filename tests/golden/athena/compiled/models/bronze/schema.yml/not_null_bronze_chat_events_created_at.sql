
select created_at
from "athena_analytics"."bronze_chat_events"
where created_at is null
