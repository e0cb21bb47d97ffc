create table "<schema>"."daily__strata_tmp_20240101000000_<run>"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/<schema>/daily__strata_tmp_20240101000000_<run>/<uuid>',
    format = 'PARQUET',
    write_compression = 'ZSTD'
)
as

select at, id from (select * from "<schema>"."events" where cast(at as timestamp) >= timestamp '2024-01-01 00:00:00+00:00' and cast(at as timestamp) < timestamp '2024-01-02 00:00:00+00:00');

delete from "<schema>"."daily"
where cast(at as timestamp) >= timestamp '2024-01-01 00:00:00+00:00' and cast(at as timestamp) < timestamp '2024-01-02 00:00:00+00:00';

insert into "<schema>"."daily" ("at", "id")
select "at", "id"
from "<schema>"."daily__strata_tmp_20240101000000_<run>"
where cast(at as timestamp) >= timestamp '2024-01-01 00:00:00+00:00' and cast(at as timestamp) < timestamp '2024-01-02 00:00:00+00:00';

create table "<schema>"."daily__strata_tmp_20240102000000_<run>"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/<schema>/daily__strata_tmp_20240102000000_<run>/<uuid>',
    format = 'PARQUET',
    write_compression = 'ZSTD'
)
as

select at, id from (select * from "<schema>"."events" where cast(at as timestamp) >= timestamp '2024-01-02 00:00:00+00:00' and cast(at as timestamp) < timestamp '2024-01-03 00:00:00+00:00');

delete from "<schema>"."daily"
where cast(at as timestamp) >= timestamp '2024-01-02 00:00:00+00:00' and cast(at as timestamp) < timestamp '2024-01-03 00:00:00+00:00';

insert into "<schema>"."daily" ("at", "id")
select "at", "id"
from "<schema>"."daily__strata_tmp_20240102000000_<run>"
where cast(at as timestamp) >= timestamp '2024-01-02 00:00:00+00:00' and cast(at as timestamp) < timestamp '2024-01-03 00:00:00+00:00';

