
select step_index
from "athena_analytics"."bronze_reasoning_steps"
where step_index is null
