
select room_id
from "athena_analytics"."silver_room_daily"
where room_id is null
