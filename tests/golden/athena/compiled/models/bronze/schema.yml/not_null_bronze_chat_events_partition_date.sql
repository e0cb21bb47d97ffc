
select partition_date
from "athena_analytics"."bronze_chat_events"
where partition_date is null
