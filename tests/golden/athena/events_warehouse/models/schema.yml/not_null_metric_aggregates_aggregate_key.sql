
select aggregate_key
from "events_warehouse"."metric_aggregates"
where aggregate_key is null
