

with exports as (
    select distinct cast(as_of as date) as as_of
    from "chart_raw"."user_segments"
),

memberships as (
    select distinct
        json_extract_scalar(raw, '$.user_id_hash') as user_id_hash,
        json_extract_scalar(raw, '$.segment_key') as segment_key,
        cast(as_of as date) as as_of
    from "chart_raw"."user_segments"
),

pairs as (
    select distinct user_id_hash, segment_key from memberships
),

-- Every pair on every export day: a member that day or not.
states as (
    select p.user_id_hash, p.segment_key, e.as_of,
           m.as_of is not null as is_member
    from pairs as p
    cross join exports as e
    left join memberships as m
        on m.user_id_hash = p.user_id_hash and m.segment_key = p.segment_key and m.as_of = e.as_of
),

changes as (
    select *,
           lag(is_member) over (partition by user_id_hash, segment_key order by as_of) as was_member
    from states
),

latest_change as (
    select user_id_hash, segment_key, max(as_of) as changed_on
    from changes
    where was_member is null or was_member <> is_member
    group by user_id_hash, segment_key
)

select
    c.user_id_hash || '|' || c.segment_key as membership_key,
    c.user_id_hash,
    c.segment_key,
    s.is_member,
    cast(c.changed_on as timestamp) as as_of_ts
from latest_change as c
inner join states as s
    on s.user_id_hash = c.user_id_hash and s.segment_key = c.segment_key
   and s.as_of = (select max(as_of) from exports)
