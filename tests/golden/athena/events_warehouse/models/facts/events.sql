

select
    event_id,
    user_id,
    event_type,
    project_id,
    event_timestamp,
    properties,
    context,
    cast(event_timestamp as date) as event_date,
    cast(extract(year from event_timestamp) as integer) as year,
    cast(extract(month from event_timestamp) as integer) as month,
    cast(extract(day from event_timestamp) as integer) as day,
    cast(extract(hour from event_timestamp) as integer) as hour
from "events_warehouse"."stg_events"
where event_id is not null and event_timestamp is not null

