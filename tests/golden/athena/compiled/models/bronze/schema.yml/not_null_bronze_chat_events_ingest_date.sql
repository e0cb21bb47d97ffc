
select ingest_date
from "athena_analytics"."bronze_chat_events"
where ingest_date is null
