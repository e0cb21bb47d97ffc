
with child as (
    select tool_name as from_field
    from "athena_analytics"."gold_tool_call_breakdown"
    where tool_name is not null
),
parent as (
    select tool_name as to_field
    from "athena_analytics"."tool_catalog"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null
