
select right_type
from "athena_analytics"."user_right_types"
where right_type is null
