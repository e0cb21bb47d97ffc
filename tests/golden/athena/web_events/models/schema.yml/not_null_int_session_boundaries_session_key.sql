
select session_key
from "web_events_analytics"."int_session_boundaries"
where session_key is null
