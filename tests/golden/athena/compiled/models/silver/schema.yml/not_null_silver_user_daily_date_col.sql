
select date_col
from "athena_analytics"."silver_user_daily"
where date_col is null
