
select partition_date
from "athena_analytics"."bronze_reasoning_steps"
where partition_date is null
