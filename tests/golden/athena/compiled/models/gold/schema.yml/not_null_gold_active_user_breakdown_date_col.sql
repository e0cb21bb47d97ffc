
select date_col
from "athena_analytics"."gold_active_user_breakdown"
where date_col is null
