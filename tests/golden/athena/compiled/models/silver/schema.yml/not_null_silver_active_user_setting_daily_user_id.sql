
select user_id
from "athena_analytics"."silver_active_user_setting_daily"
where user_id is null
