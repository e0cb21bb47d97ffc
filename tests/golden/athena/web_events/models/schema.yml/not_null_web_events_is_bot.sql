
select is_bot
from "web_events_analytics"."web_events"
where is_bot is null
