create table "<schema>"."customer_list__strata_tmp_<id>"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/<schema>/customer_list/<uuid>',
    format = 'PARQUET',
    write_compression = 'ZSTD'
)
as

select id from "<raw>"."customers";

alter table `<schema>`.`customer_list` rename to `<schema>`.`customer_list__strata_backup_<id>`;

alter table `<schema>`.`customer_list__strata_tmp_<id>` rename to `<schema>`.`customer_list`;

