
select identifier
from "identity_lakehouse"."identity_resolution"
where identifier is null
