{#- ACCESS: export every declared relation's rows of each subject as CSV, one folder per
    subject (locally under rights.access_path; on Athena under the S3 prefix). -#}
{{ config(materialized='procedure', right_types=['ACCESS']) }}

{{ rights_export(rights.batch, rights.declared, rights.right_types, rights.access_path) }}
