
select tool_name
from "athena_analytics"."tool_catalog"
where tool_name is null
