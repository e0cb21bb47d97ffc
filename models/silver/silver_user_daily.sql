{#- One row per user and event day: activity counts, tool usage map, last
    activity. Recomputes in full every day that newly arrived bronze rows touch. -#}
{{ config(tags=['daily']) }}

with events as (
    select user_id, chat_id, event_type, tool_name, created_at, ingest_date, partition_date
    from {{ ref('bronze_chat_events') }}
    {% if is_incremental() %}
    where partition_date in (
        select distinct partition_date
        from {{ ref('bronze_chat_events') }}
        where {{ arrival_timestamp('ingest_date') }} > {{ high_watermark('updated_at') }}
    )
    {% endif %}
),

daily as (
    select
        user_id,
        partition_date as date_col,
        cast(count(case when event_type = 'message' then 1 end) as integer) as message_count,
        cast(count(distinct case when event_type = 'message' then chat_id end) as integer) as chat_count,
        max(created_at) as last_activity,
        max({{ arrival_timestamp('ingest_date') }}) as updated_at
    from events
    group by user_id, partition_date
),

tool_calls as (
    select
        user_id,
        partition_date as date_col,
        tool_name,
        count(*) as calls
    from events
    where event_type = 'message' and tool_name is not null
    group by user_id, partition_date, tool_name
),

tool_maps as (
    select
        user_id,
        date_col,
        {{ count_map_agg('tool_name', 'calls') }} as tool_usage
    from tool_calls
    group by user_id, date_col
)

select
    d.user_id,
    d.date_col,
    d.message_count,
    d.chat_count,
    coalesce(t.tool_usage, {{ empty_count_map() }}) as tool_usage,
    d.last_activity,
    d.updated_at
from daily as d
left join tool_maps as t
    on t.user_id = d.user_id and t.date_col = d.date_col
