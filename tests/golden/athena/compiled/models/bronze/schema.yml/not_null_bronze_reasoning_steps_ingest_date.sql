
select ingest_date
from "athena_analytics"."bronze_reasoning_steps"
where ingest_date is null
