
select
    right_type as unique_field,
    count(*) as n_records
from "athena_analytics"."user_right_types"
where right_type is not null
group by right_type
having count(*) > 1
