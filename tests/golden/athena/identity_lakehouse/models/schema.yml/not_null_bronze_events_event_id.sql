
select event_id
from "identity_lakehouse"."bronze_events"
where event_id is null
