

select
    event_id,
    ts,
    session_id,
    user_id_hash,
    affiliate_link_id,
    affiliate_target,
    payout_cents,
    ab_variant,
    geo_country,
    event_dt
from "chart_funnel"."silver_events"
where event_type = 'affiliate_click'

