
with all_values as (
    select
        source_table as value_field,
        count(*) as n_records
    from "athena_analytics"."bronze_quarantined_events"
    group by source_table
)
select *
from all_values
where value_field not in ('chat_events', 'reasoning_steps')
