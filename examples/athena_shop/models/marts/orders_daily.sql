{#- A Hive table: each run replaces the days its new rows touch (dbt-athena's default,
    insert_overwrite). Partition columns come last, as Athena requires. -#}
{{ config(
    materialized='incremental',
    partitioned_by=['order_date'],
    s3_data_naming='table_unique',
    persist_docs={'relation': true, 'columns': true}
) }}
select count(*) as orders, sum(amount) as amount, order_date
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where order_date >= (select max(order_date) from {{ this }})
{% endif %}
group by order_date
