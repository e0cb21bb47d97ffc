{% snapshot silver_user_segments_history %}
{{
  config(
    unique_key='membership_key',
    strategy='timestamp',
    updated_at='as_of_ts',
    target_schema=target.schema,
  )
}}
select * from {{ ref('stg_user_segments') }}
{% endsnapshot %}
