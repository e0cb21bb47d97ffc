
select event_id
from "web_events_analytics"."int_session_boundaries"
where event_id is null
