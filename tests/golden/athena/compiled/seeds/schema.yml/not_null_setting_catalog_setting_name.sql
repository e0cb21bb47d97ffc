
select setting_name
from "athena_analytics"."setting_catalog"
where setting_name is null
