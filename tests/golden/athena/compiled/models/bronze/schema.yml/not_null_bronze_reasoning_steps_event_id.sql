
select event_id
from "athena_analytics"."bronze_reasoning_steps"
where event_id is null
