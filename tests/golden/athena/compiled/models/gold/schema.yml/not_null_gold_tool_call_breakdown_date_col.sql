
select date_col
from "athena_analytics"."gold_tool_call_breakdown"
where date_col is null
