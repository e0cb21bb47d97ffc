merge into "<schema>"."customers" as target
using "<schema>"."customers__strata_tmp_<run>" as src
on (target."id" = src."id" and (target.region = 'eu'))
when matched and (src.status = 'deleted') then delete
when matched and src.seen > target.seen then update set
    "region" = coalesce(src."region", target."region"), "status" = coalesce(src."status", target."status"), "visits" = src."visits" + target."visits", "tags" = array_distinct(src."tags" || target."tags"), "seen" = greatest(src."seen", target."seen")
when not matched and src.status <> 'deleted' then insert ("id", "region", "status", "visits", "tags", "seen", "first_seen")
values (src."id", src."region", src."status", src."visits", src."tags", src."seen", src."first_seen")
