
select
    cast(date_col as varchar) || '|' || tool_name as unique_field,
    count(*) as n_records
from "athena_analytics"."gold_tool_call_breakdown"
where cast(date_col as varchar) || '|' || tool_name is not null
group by cast(date_col as varchar) || '|' || tool_name
having count(*) > 1
