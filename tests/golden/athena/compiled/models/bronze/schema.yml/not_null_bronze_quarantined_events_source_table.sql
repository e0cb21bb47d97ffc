
select source_table
from "athena_analytics"."bronze_quarantined_events"
where source_table is null
