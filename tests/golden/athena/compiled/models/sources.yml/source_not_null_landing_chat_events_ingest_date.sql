
select ingest_date
from "athena_analytics_landing"."chat_events"
where ingest_date is null
