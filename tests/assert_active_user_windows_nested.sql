-- DAU <= WAU <= MAU <= total users seen so far, for every day; and every day of
-- gold_time_series has a breakdown row. Returns the days that break it.

select
    t.date_col,
    b.dau,
    b.wau,
    b.mau,
    t.total_users
from {{ ref('gold_time_series') }} as t
left join {{ ref('gold_active_user_breakdown') }} as b
    on b.date_col = t.date_col
where b.date_col is null
   or b.dau > b.wau
   or b.wau > b.mau
   or b.mau > t.total_users
   or b.dau <> t.active_users
