
select
    user_id || '|' || cast(date_col as varchar) || '|' || setting_name as unique_field,
    count(*) as n_records
from "athena_analytics"."silver_active_user_setting_daily"
where user_id || '|' || cast(date_col as varchar) || '|' || setting_name is not null
group by user_id || '|' || cast(date_col as varchar) || '|' || setting_name
having count(*) > 1
