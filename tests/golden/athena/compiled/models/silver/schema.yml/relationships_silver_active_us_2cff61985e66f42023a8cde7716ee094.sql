
with child as (
    select setting_name as from_field
    from "athena_analytics"."silver_active_user_setting_daily"
    where setting_name is not null
),
parent as (
    select setting_name as to_field
    from "athena_analytics"."setting_catalog"
)
select from_field
from child
left join parent
    on child.from_field = parent.to_field
where parent.to_field is null
