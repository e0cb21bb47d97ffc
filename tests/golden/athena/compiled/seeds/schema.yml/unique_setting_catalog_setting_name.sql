
select
    setting_name as unique_field,
    count(*) as n_records
from "athena_analytics"."setting_catalog"
where setting_name is not null
group by setting_name
having count(*) > 1
