
select
    event_id || ':' || cast(step_index as varchar) as unique_field,
    count(*) as n_records
from "athena_analytics"."bronze_reasoning_steps"
where event_id || ':' || cast(step_index as varchar) is not null
group by event_id || ':' || cast(step_index as varchar)
having count(*) > 1
