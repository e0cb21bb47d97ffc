


select 'model.identity_lakehouse.bronze_events' as source_node, 'model.identity_lakehouse.silver_events' as target_node
union all
select 'model.identity_lakehouse.identity_edges' as source_node, 'model.identity_lakehouse.identity_resolution' as target_node
union all
select 'model.identity_lakehouse.silver_events' as source_node, 'model.identity_lakehouse.identity_edges' as target_node
union all
select 'model.identity_lakehouse.silver_events' as source_node, 'model.identity_lakehouse.kpi_conversion_funnel' as target_node
union all
select 'model.identity_lakehouse.silver_events' as source_node, 'model.identity_lakehouse.kpi_gmv_daily' as target_node
union all
select 'model.identity_lakehouse.silver_events' as source_node, 'model.identity_lakehouse.kpi_payout_backlog' as target_node
union all
select 'source.identity_lakehouse.raw.events' as source_node, 'model.identity_lakehouse.bronze_events' as target_node
union all
select 'source.identity_lakehouse.raw.events' as source_node, 'model.identity_lakehouse.bronze_quarantine' as target_node

