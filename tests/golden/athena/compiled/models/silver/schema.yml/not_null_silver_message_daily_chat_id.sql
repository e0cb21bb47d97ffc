
select chat_id
from "athena_analytics"."silver_message_daily"
where chat_id is null
