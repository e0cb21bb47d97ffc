

with payouts as (
    select
        payout_id,
        min(case when event_name = 'payout_requested' then dt end) as requested_on,
        min(case when event_name = 'payout_paid' then dt end) as paid_on,
        max(amount_cents) as amount_cents
    from "identity_lakehouse"."silver_events"
    where payout_id is not null
    group by payout_id
),

days as (
    select distinct dt from "identity_lakehouse"."silver_events"
)

select
    d.dt,
    sum(case when p.requested_on = d.dt then p.amount_cents else 0 end) as requested_cents,
    sum(case when p.paid_on = d.dt then p.amount_cents else 0 end) as paid_cents,
    sum(case when p.requested_on <= d.dt and (p.paid_on is null or p.paid_on > d.dt)
             then p.amount_cents else 0 end) as backlog_cents
from days as d
cross join payouts as p
group by d.dt
