

select
    user_id_hash,
    segment_key,
    as_of_ts,
    dbt_valid_from as valid_from,
    dbt_valid_to as valid_to
from "chart_funnel"."silver_user_segments_history"
where is_member
