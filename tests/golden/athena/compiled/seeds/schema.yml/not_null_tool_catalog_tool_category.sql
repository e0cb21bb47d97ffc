
select tool_category
from "athena_analytics"."tool_catalog"
where tool_category is null
