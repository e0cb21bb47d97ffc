
select session_id
from "chart_funnel"."fact_funnel"
where session_id is null
