

with steps as (
    select
        session_id,
        max(case when event_type = 'page_view' and page_url like '%/compare/%' then 1 else 0 end) = 1 as saw_comparison,
        max(case when event_type = 'chart_interaction' then 1 else 0 end) = 1 as interacted_chart,
        max(case when event_type = 'affiliate_click' then 1 else 0 end) = 1 as clicked_affiliate,
        min(affiliate_target) as affiliate_target,
        sum(payout_cents) as payout_cents
    from "chart_funnel"."silver_events"
    group by session_id
),

segments_at_start as (
    select
        s.session_id,
        coalesce(array_agg(g.segment_key order by g.segment_key) filter (where g.segment_key is not null), cast(array[] as array(varchar))) as segments
    from "chart_funnel"."silver_sessions" as s
    left join "chart_funnel"."silver_user_segments" as g
        on g.user_id_hash = s.user_id_hash
       and g.valid_from <= s.session_start_ts
       and (g.valid_to is null or s.session_start_ts < g.valid_to)
    group by s.session_id
)

select
    s.session_id,
    s.user_id_hash,
    s.session_start_ts,
    st.saw_comparison,
    st.interacted_chart,
    st.clicked_affiliate,
    st.affiliate_target,
    st.payout_cents,
    g.segments,
    s.ab_variant,
    s.geo_country,
    s.event_dt
from "chart_funnel"."silver_sessions" as s
inner join steps as st on st.session_id = s.session_id
inner join segments_at_start as g on g.session_id = s.session_id
