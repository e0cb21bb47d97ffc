
select tool_name
from "athena_analytics"."gold_tool_call_breakdown"
where tool_name is null
