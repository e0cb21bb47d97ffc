
select data_quality_score
from "web_events_analytics"."web_events"
where data_quality_score is null
