
select date_col
from "athena_analytics"."silver_active_user_setting_daily"
where date_col is null
