
select user_id
from "athena_analytics"."silver_room_daily"
where user_id is null
