
select event_id
from "chart_funnel"."fact_affiliate_clicks"
where event_id is null
