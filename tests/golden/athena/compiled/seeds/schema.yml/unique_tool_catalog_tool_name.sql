
select
    tool_name as unique_field,
    count(*) as n_records
from "athena_analytics"."tool_catalog"
where tool_name is not null
group by tool_name
having count(*) > 1
