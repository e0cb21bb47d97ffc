with events as (
    select e.*, s.session_key
    from "web_events_analytics"."web_events" as e
    inner join "web_events_analytics"."int_session_boundaries" as s
        on s.event_id = e.event_id
    where not e.is_bot
),

explored as (
    select
        *,
        case
            when coordinates is null then 'no_3d_data'
            when abs(coordinates.pitch) > 45 or abs(coordinates.yaw) > 180 then 'high_exploration'
            when abs(coordinates.pitch) > 15 or abs(coordinates.yaw) > 90 then 'medium_exploration'
            else 'low_exploration'
        end as spatial_exploration_level
    from events
)

select
    event_date,
    space_id,
    space_name,
    space_type,
    count(*) as events,
    count(distinct anonymous_id) as visitors,
    count(distinct session_key) as sessions,
    count(distinct room_id) as rooms_viewed,
    sum(case when spatial_exploration_level = 'high_exploration' then 1 else 0 end) as high_exploration_events,
    sum(case when spatial_exploration_level = 'medium_exploration' then 1 else 0 end) as medium_exploration_events,
    sum(case when spatial_exploration_level = 'low_exploration' then 1 else 0 end) as low_exploration_events,
    sum(case when spatial_exploration_level = 'no_3d_data' then 1 else 0 end) as no_3d_events,
    round(avg(data_quality_score), 4) as avg_data_quality_score
from explored
group by event_date, space_id, space_name, space_type
