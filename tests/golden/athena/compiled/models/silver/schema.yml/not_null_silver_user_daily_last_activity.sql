
select last_activity
from "athena_analytics"."silver_user_daily"
where last_activity is null
