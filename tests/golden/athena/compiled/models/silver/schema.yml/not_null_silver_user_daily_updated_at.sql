
select updated_at
from "athena_analytics"."silver_user_daily"
where updated_at is null
