create external table `<schema>`.`raw_customers__strata_csv_<run>` (
    `customer_id` int,
    `name` string,
    `country` string
)
stored as parquet
location 's3://<bucket>/data/<schema>/raw_customers/seed/';

create table "<schema>"."raw_customers"
with (
    table_type = 'HIVE',
    is_external = true,
    external_location = 's3://<bucket>/data/<schema>/raw_customers/<uuid>',
    format = 'PARQUET'
)
as
select
    cast("customer_id" as integer) as "customer_id",
    cast("name" as varchar) as "name",
    cast("country" as varchar) as "country"
from "<schema>"."raw_customers__strata_csv_<run>";

drop table `<schema>`.`raw_customers__strata_csv_<run>`;

create or replace view "<schema>"."stg_customers" as
select customer_id, name, country from "<schema>"."raw_customers";

create external table `<schema>`.`raw_orders__strata_csv_<run>` (
    `order_id` int,
    `customer_id` int,
    `order_date` date,
    `status` string,
    `amount` double
)
stored as parquet
location 's3://<bucket>/data/<schema>/raw_orders/seed/';

create table "<schema>"."raw_orders"
with (
    table_type = 'HIVE',
    is_external = true,
    external_location = 's3://<bucket>/data/<schema>/raw_orders/<uuid>',
    format = 'PARQUET'
)
as
select
    cast("order_id" as integer) as "order_id",
    cast("customer_id" as integer) as "customer_id",
    cast("order_date" as date) as "order_date",
    cast("status" as varchar) as "status",
    cast("amount" as double) as "amount"
from "<schema>"."raw_orders__strata_csv_<run>";

drop table `<schema>`.`raw_orders__strata_csv_<run>`;

create or replace view "<schema>"."stg_orders" as
select order_id, customer_id, cast(order_date as date) as order_date, status, amount
from "<schema>"."raw_orders";

create table "<schema>"."customers__strata_tmp_<run>"
with (
    table_type = 'ICEBERG',
    is_external = false,
    location = 's3://<bucket>/data/<schema>/customers__strata_tmp_<run>/<uuid>',
    format = 'PARQUET',
    write_compression = 'SNAPPY'
)
as

select c.customer_id, c.name, c.country, count(o.order_id) as orders, max(o.order_date) as last_order_date
from "<schema>"."stg_customers" as c
left join "<schema>"."stg_orders" as o on o.customer_id = c.customer_id
group by c.customer_id, c.name, c.country;

merge into "<schema>"."customers" as target
using "<schema>"."customers__strata_tmp_<run>" as src
on (target."customer_id" = src."customer_id" and (target.country is not null))
when matched and (src.orders = 0) then delete
when matched and src.last_order_date >= target.last_order_date then update set
    "name" = coalesce(src."name", target."name"), "country" = src."country", "orders" = src."orders" + target."orders", "last_order_date" = src."last_order_date"
when not matched then insert ("customer_id", "name", "country", "orders", "last_order_date")
values (src."customer_id", src."name", src."country", src."orders", src."last_order_date");

create table "<schema>"."orders_daily__strata_tmp_<run>"
with (
    table_type = 'HIVE',
    is_external = true,
    external_location = 's3://<bucket>/data/orders_daily__strata_tmp_<run>/<uuid>',
    write_compression = 'SNAPPY',
    format = 'PARQUET'
)
as

select count(*) as orders, sum(amount) as amount, order_date
from "<schema>"."stg_orders"

where order_date >= (select max(order_date) from "<schema>"."orders_daily")

group by order_date;

select distinct "order_date" from "<schema>"."orders_daily__strata_tmp_<run>";

insert into "<schema>"."orders_daily" ("orders", "amount", "order_date")
select "orders", "amount", "order_date" from "<schema>"."orders_daily__strata_tmp_<run>";

create table "<schema>"."status_counts"
with (
    table_type = 'HIVE',
    is_external = true,
    external_location = 's3://<bucket>/exports/status_counts',
    write_compression = 'SNAPPY',
    format = 'PARQUET'
)
as

select status, count(*) as orders from "<schema>"."stg_orders" group by status;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select customer_id
from "<schema>"."customers"
where customer_id is null


) dbt_internal_test;

select
    count(*) as failures,
    case when count(*) != 0 then true else false end as should_warn,
    case when count(*) != 0 then true else false end as should_error
from (

select
    customer_id as unique_field,
    count(*) as n_records
from "<schema>"."customers"
where customer_id is not null
group by customer_id
having count(*) > 1


) dbt_internal_test;

