-- A membership's versions follow each other without overlap or gap: each one ends where
-- the next starts, and none ends before it starts.
with versions as (
    select
        membership_key,
        dbt_valid_from,
        dbt_valid_to,
        lead(dbt_valid_from) over (partition by membership_key order by dbt_valid_from) as next_from
    from "chart_funnel"."silver_user_segments_history"
)

select *
from versions
where (dbt_valid_to is not null and dbt_valid_to <= dbt_valid_from)
   or (next_from is not null and (dbt_valid_to is null or dbt_valid_to <> next_from))
