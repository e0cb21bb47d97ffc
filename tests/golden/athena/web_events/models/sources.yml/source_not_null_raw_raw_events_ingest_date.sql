
select ingest_date
from "web_events_raw"."raw_events"
where ingest_date is null
