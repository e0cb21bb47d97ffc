
select quarantine_reason
from "athena_analytics"."bronze_quarantined_events"
where quarantine_reason is null
