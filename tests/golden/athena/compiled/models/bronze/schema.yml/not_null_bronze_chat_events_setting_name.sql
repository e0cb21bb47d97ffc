
select setting_name
from (select * from "athena_analytics"."bronze_chat_events" where event_type = 'setting_changed') dbt_subquery
where setting_name is null
