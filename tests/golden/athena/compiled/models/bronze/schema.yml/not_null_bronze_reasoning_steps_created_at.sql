
select created_at
from "athena_analytics"."bronze_reasoning_steps"
where created_at is null
