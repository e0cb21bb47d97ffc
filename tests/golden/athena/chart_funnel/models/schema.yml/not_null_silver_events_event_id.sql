
select event_id
from "chart_funnel"."silver_events"
where event_id is null
