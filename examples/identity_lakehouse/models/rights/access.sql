{{ config(materialized='procedure', right_types=['ACCESS']) }}

{{ rights_export(rights.batch, rights.declared, rights.right_types, rights.access_path) }}
