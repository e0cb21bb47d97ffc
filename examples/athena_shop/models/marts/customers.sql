{#- An Iceberg table merged on its key, with dbt-athena's merge options. -#}
{{ config(
    materialized='incremental',
    table_type='iceberg',
    incremental_strategy='merge',
    unique_key='customer_id',
    persist_docs={'relation': true, 'columns': true},
    incremental_predicates=["target.country is not null"],
    delete_condition="src.orders = 0",
    update_condition="src.last_order_date >= target.last_order_date",
    merge_update_columns_rules={'orders': 'sum', 'name': 'coalesce'},
    lf_grants={'data_cell_filters': {'enabled': true, 'filters': {
        'eu_customers': {'row_filter': "country in ('fr', 'fi')", 'principals': ['arn:aws:iam::123456789012:role/eu-analyst']}}}}
) }}
select c.customer_id, c.name, c.country, count(o.order_id) as orders, max(o.order_date) as last_order_date
from {{ ref('stg_customers') }} as c
left join {{ ref('stg_orders') }} as o on o.customer_id = c.customer_id
group by c.customer_id, c.name, c.country
