
select chat_id
from (select * from "athena_analytics"."bronze_chat_events" where event_type in ('chat_started', 'message')) dbt_subquery
where chat_id is null
