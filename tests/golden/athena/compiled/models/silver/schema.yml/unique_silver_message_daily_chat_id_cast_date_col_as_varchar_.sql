
select
    chat_id || '|' || cast(date_col as varchar) as unique_field,
    count(*) as n_records
from "athena_analytics"."silver_message_daily"
where chat_id || '|' || cast(date_col as varchar) is not null
group by chat_id || '|' || cast(date_col as varchar)
having count(*) > 1
