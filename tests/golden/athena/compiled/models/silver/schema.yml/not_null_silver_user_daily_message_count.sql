
select message_count
from "athena_analytics"."silver_user_daily"
where message_count is null
