-- Nothing from the landing zone is lost, and nothing erased comes back: per landing
-- table, every line is either quarantined verbatim, a valid line, or a line of an
-- erased data subject (erased_subject: loaded nowhere); the valid lines' distinct
-- keys are exactly the bronze rows (duplicates collapse onto one row; no valid key is
-- missing from bronze); no bronze or quarantined row belongs to an erased subject.
-- Only arrival days up to the bronze table's high watermark (max ingest_date) count:
-- files that landed after the last load are not loaded yet. Returns one row per
-- landing table that does not add up.

with loaded_until as (
    select 'chat_events' as source_table, max(ingest_date) as last_ingest_date
    from {{ ref('bronze_chat_events') }}
    union all
    select 'reasoning_steps' as source_table, max(ingest_date) as last_ingest_date
    from {{ ref('bronze_reasoning_steps') }}
),

landing as (
    select 'chat_events' as source_table, count(*) as landing_lines
    from {{ source('landing', 'chat_events') }}
    where cast(ingest_date as date) <= (select last_ingest_date from loaded_until where source_table = 'chat_events')
    union all
    select 'reasoning_steps' as source_table, count(*) as landing_lines
    from {{ source('landing', 'reasoning_steps') }}
    where cast(ingest_date as date) <= (select last_ingest_date from loaded_until where source_table = 'reasoning_steps')
),

valid as (
    select
        'chat_events' as source_table,
        count(case when quarantine_reason is null and not erased_subject then 1 end) as valid_lines,
        count(distinct case when quarantine_reason is null and not erased_subject then event_id end) as valid_keys,
        count(case when erased_subject then 1 end) as erased_lines
    from {{ ref('stg_landing_chat_events') }}
    where ingest_date <= (select last_ingest_date from loaded_until where source_table = 'chat_events')
    union all
    select
        'reasoning_steps' as source_table,
        count(case when quarantine_reason is null and not erased_subject then 1 end) as valid_lines,
        count(distinct case when quarantine_reason is null and not erased_subject
                            then event_id || ':' || cast(step_index as varchar) end) as valid_keys,
        count(case when erased_subject then 1 end) as erased_lines
    from {{ ref('stg_landing_reasoning_steps') }}
    where ingest_date <= (select last_ingest_date from loaded_until where source_table = 'reasoning_steps')
),

quarantined as (
    select
        q.source_table,
        count(*) as quarantined_lines,
        count(case when {{ erased_subject_line('q.user_id', 'q.raw') }} then 1 end) as erased_rows
    from {{ ref('bronze_quarantined_events') }} as q
    inner join loaded_until as l
        on l.source_table = q.source_table and q.ingest_date <= l.last_ingest_date
    group by q.source_table
),

bronze as (
    select
        'chat_events' as source_table,
        count(*) as bronze_rows,
        count(case when user_id in ({{ rights_erased_subjects() }}) then 1 end) as erased_rows
    from {{ ref('bronze_chat_events') }}
    union all
    select
        'reasoning_steps' as source_table,
        count(*) as bronze_rows,
        count(case when user_id in ({{ rights_erased_subjects() }}) then 1 end) as erased_rows
    from {{ ref('bronze_reasoning_steps') }}
),

missing_from_bronze as (
    select 'chat_events' as source_table, count(*) as missing_lines
    from {{ ref('stg_landing_chat_events') }} as s
    where s.quarantine_reason is null
      and not s.erased_subject
      and s.ingest_date <= (select last_ingest_date from loaded_until where source_table = 'chat_events')
      and not exists (
          select 1 from {{ ref('bronze_chat_events') }} as b where b.event_id = s.event_id
      )
    union all
    select 'reasoning_steps' as source_table, count(*) as missing_lines
    from {{ ref('stg_landing_reasoning_steps') }} as s
    where s.quarantine_reason is null
      and not s.erased_subject
      and s.ingest_date <= (select last_ingest_date from loaded_until where source_table = 'reasoning_steps')
      and not exists (
          select 1 from {{ ref('bronze_reasoning_steps') }} as b
          where b.event_id = s.event_id and b.step_index = s.step_index
      )
)

select
    l.source_table,
    l.landing_lines,
    coalesce(q.quarantined_lines, 0) as quarantined_lines,
    v.valid_lines,
    v.erased_lines,
    v.valid_keys,
    b.bronze_rows,
    m.missing_lines,
    b.erased_rows + coalesce(q.erased_rows, 0) as erased_rows_still_loaded
from landing as l
inner join valid as v on v.source_table = l.source_table
inner join bronze as b on b.source_table = l.source_table
inner join missing_from_bronze as m on m.source_table = l.source_table
left join quarantined as q on q.source_table = l.source_table
where l.landing_lines <> coalesce(q.quarantined_lines, 0) + v.valid_lines + v.erased_lines
   or v.valid_keys <> b.bronze_rows
   or m.missing_lines <> 0
   or b.erased_rows + coalesce(q.erased_rows, 0) <> 0
