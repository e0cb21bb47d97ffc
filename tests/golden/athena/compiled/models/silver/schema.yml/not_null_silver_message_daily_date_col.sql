
select date_col
from "athena_analytics"."silver_message_daily"
where date_col is null
