
select setting_name
from "athena_analytics"."silver_active_user_setting_daily"
where setting_name is null
