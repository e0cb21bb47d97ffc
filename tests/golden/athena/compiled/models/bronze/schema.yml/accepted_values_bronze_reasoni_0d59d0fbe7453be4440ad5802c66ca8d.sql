
with all_values as (
    select
        reasoning_step as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_reasoning_steps"
    group by reasoning_step
)
select *
from all_values
where value_field not in ('plan', 'tool_select', 'tool_call', 'read_result', 'answer')
