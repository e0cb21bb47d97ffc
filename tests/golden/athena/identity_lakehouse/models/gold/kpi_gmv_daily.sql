

select dt, country, count(*) as bookings, sum(gmv_cents) as gmv_cents
from "identity_lakehouse"."silver_events"
where event_name = 'booking_created'
group by dt, country
