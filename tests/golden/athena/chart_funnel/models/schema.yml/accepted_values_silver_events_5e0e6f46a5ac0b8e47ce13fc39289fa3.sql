
with all_values as (
    select
        event_type as value_field,
        count(*) as n_records
    from "chart_funnel"."silver_events"
    group by event_type
)
select *
from all_values
where value_field not in ('page_view', 'chart_interaction', 'affiliate_click')
