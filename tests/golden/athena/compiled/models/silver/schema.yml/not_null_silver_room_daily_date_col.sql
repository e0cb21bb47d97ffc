
select date_col
from "athena_analytics"."silver_room_daily"
where date_col is null
