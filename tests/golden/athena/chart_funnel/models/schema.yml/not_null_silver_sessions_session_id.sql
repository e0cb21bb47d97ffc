
select session_id
from "chart_funnel"."silver_sessions"
where session_id is null
