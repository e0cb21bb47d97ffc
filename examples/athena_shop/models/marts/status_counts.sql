{#- A Hive table at a fixed place: rebuilt by dropping it (files included) first. -#}
{{ config(
    materialized='table',
    external_location=var('status_counts_location', 's3://my-lakehouse/exports/status_counts/')
) }}
select status, count(*) as orders from {{ ref('stg_orders') }} group by status
