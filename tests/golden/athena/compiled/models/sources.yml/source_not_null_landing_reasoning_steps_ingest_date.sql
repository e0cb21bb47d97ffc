
select ingest_date
from "athena_analytics_landing"."reasoning_steps"
where ingest_date is null
