
with all_values as (
    select
        right_type as value_field,
        count(*) as n_records
    from "athena_analytics"."user_right_types"
    group by right_type
)
select *
from all_values
where value_field not in ('ACCESS', 'ERASURE', 'SA_WITHDRAW')
