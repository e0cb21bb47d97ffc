
select user_id
from "athena_analytics"."bronze_reasoning_steps"
where user_id is null
