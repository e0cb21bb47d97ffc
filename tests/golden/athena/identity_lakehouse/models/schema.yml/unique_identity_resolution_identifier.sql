
select
    identifier as unique_field,
    count(*) as n_records
from "identity_lakehouse"."identity_resolution"
where identifier is not null
group by identifier
having count(*) > 1
