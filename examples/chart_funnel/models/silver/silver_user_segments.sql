{#- The design's silver.user_segments (SCD2): the periods in which a user was in a
    segment, from the snapshot's versions (valid_from inclusive, valid_to exclusive, null
    while current). -#}
{{ config(materialized='table') }}

select
    user_id_hash,
    segment_key,
    as_of_ts,
    dbt_valid_from as valid_from,
    dbt_valid_to as valid_to
from {{ ref('silver_user_segments_history') }}
where is_member
