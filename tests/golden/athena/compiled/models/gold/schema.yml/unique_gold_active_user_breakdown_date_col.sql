
select
    date_col as unique_field,
    count(*) as n_records
from "athena_analytics"."gold_active_user_breakdown"
where date_col is not null
group by date_col
having count(*) > 1
