
with all_values as (
    select
        value_type as value_field,
        count(*) as n_records
    from "athena_analytics"."setting_catalog"
    group by value_type
)
select *
from all_values
where value_field not in ('string', 'boolean', 'integer')
