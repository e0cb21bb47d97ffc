
select event_id
from "events_warehouse"."events"
where event_id is null
