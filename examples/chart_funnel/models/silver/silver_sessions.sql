{{ config(materialized='table') }}

with events as (
    select * from {{ ref('silver_events') }} where session_id is not null
),

ranked as (
    select *,
           row_number() over (partition by session_id order by ts, event_id) as first_rank,
           row_number() over (partition by session_id order by ts desc, event_id desc) as last_rank
    from events
)

select
    session_id,
    max(user_id_hash) as user_id_hash,
    min(ts) as session_start_ts,
    max(ts) as session_end_ts,
    cast(sum(case when event_type = 'page_view' then 1 else 0 end) as integer) as pageviews,
    cast(sum(case when event_type = 'chart_interaction' then 1 else 0 end) as integer) as chart_interactions,
    cast(sum(case when event_type = 'affiliate_click' then 1 else 0 end) as integer) as affiliate_clicks,
    max(case when first_rank = 1 then page_url end) as first_page_url,
    max(case when last_rank = 1 then page_url end) as last_page_url,
    max(ab_variant) as ab_variant,
    max(geo_country) as geo_country,
    cast(min(ts) as date) as event_dt
from ranked
group by session_id
