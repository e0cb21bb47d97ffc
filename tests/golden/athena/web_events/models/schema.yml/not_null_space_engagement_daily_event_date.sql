
select event_date
from "web_events_analytics"."space_engagement_daily"
where event_date is null
