
select confidence_score
from "identity_lakehouse"."identity_resolution"
where confidence_score is null
