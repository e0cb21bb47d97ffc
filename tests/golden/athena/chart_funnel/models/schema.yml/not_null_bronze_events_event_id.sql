
select event_id
from "chart_funnel"."bronze_events"
where event_id is null
