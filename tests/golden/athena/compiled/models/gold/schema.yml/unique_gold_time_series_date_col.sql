
select
    date_col as unique_field,
    count(*) as n_records
from "athena_analytics"."gold_time_series"
where date_col is not null
group by date_col
having count(*) > 1
