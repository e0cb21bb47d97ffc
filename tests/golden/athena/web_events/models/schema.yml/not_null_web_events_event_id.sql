
select event_id
from "web_events_analytics"."web_events"
where event_id is null
