
select user_id
from "athena_analytics"."silver_user_daily"
where user_id is null
