-- Every event that arrived, nested or legacy, is in web_events exactly once: as many rows
-- as distinct event ids arrived, none twice, and both shapes present.
with arrived as (
    select event_shape, count(distinct event_id) as ids
    from {{ ref('stg_raw_web_events') }}
    where event_id is not null and event_timestamp is not null
    group by event_shape
),

loaded as (
    select count(*) as rows_loaded, count(distinct event_id) as ids from {{ ref('web_events') }}
)

select 'row count' as problem
from loaded
where rows_loaded <> (select count(distinct event_id) from {{ ref('stg_raw_web_events') }}
                      where event_id is not null and event_timestamp is not null)
   or rows_loaded <> ids
union all
select 'a shape is missing' from (select count(*) as shapes from arrived where ids > 0) as s where shapes <> 2
