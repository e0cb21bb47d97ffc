
select
    user_id || '|' || cast(date_col as varchar) as unique_field,
    count(*) as n_records
from "athena_analytics"."silver_user_daily"
where user_id || '|' || cast(date_col as varchar) is not null
group by user_id || '|' || cast(date_col as varchar)
having count(*) > 1
