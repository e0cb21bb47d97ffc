
select user_id
from "athena_analytics"."silver_message_daily"
where user_id is null
