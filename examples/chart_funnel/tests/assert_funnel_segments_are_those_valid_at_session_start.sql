-- fact_funnel.segments holds exactly the segments whose SCD2 version was valid when the
-- session started (found here again from the snapshot itself).
with valid as (
    select s.session_id, h.segment_key
    from {{ ref('silver_sessions') }} as s
    inner join {{ ref('silver_user_segments_history') }} as h
        on h.user_id_hash = s.user_id_hash
       and h.is_member
       and h.dbt_valid_from <= s.session_start_ts
       and (h.dbt_valid_to is null or s.session_start_ts < h.dbt_valid_to)
),

counted as (
    select session_id, count(*) as n from valid group by session_id
)

select f.session_id
from {{ ref('fact_funnel') }} as f
left join counted as c on c.session_id = f.session_id
where {{ array_size('f.segments') }} <> coalesce(c.n, 0)
union all
select v.session_id
from valid as v
inner join {{ ref('fact_funnel') }} as f on f.session_id = v.session_id
where not {{ array_has('f.segments', 'v.segment_key') }}
