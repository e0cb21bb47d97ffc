{{ config(materialized='table') }}

select dt, country, count(*) as bookings, sum(gmv_cents) as gmv_cents
from {{ ref('silver_events') }}
where event_name = 'booking_created'
group by dt, country
