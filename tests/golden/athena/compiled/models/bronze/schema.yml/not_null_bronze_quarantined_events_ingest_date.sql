
select ingest_date
from "athena_analytics"."bronze_quarantined_events"
where ingest_date is null
