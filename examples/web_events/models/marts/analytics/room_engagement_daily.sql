{#- Daily engagement per room of each space: views by humans, visitors, and the average
    field of view of the 3D views. -#}

select
    event_date,
    space_id,
    room_id,
    room_name,
    count(*) as views,
    count(distinct anonymous_id) as visitors,
    sum(case when coordinates is not null then 1 else 0 end) as views_in_3d,
    round(avg(coordinates.hfov), 2) as avg_hfov
from {{ ref('web_events') }}
where not is_bot and room_id is not null
group by event_date, space_id, room_id, room_name
