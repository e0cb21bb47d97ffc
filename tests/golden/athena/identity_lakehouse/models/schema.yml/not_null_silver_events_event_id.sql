
select event_id
from "identity_lakehouse"."silver_events"
where event_id is null
