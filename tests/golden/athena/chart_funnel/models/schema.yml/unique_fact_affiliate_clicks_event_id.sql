
select
    event_id as unique_field,
    count(*) as n_records
from "chart_funnel"."fact_affiliate_clicks"
where event_id is not null
group by event_id
having count(*) > 1
