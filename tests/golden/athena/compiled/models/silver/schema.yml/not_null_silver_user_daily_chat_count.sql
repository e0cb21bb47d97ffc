
select chat_count
from "athena_analytics"."silver_user_daily"
where chat_count is null
