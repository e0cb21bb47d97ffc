
select date_col
from "athena_analytics"."gold_time_series"
where date_col is null
