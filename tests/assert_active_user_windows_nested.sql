-- The rolling windows of gold_active_user_breakdown nest: for every day
-- 0 < DAU <= WAU <= MAU, and dau_mau_ratio is DAU / MAU. Returns the days that
-- break it. (DAU against silver is checked in assert_gold_matches_silver.)

select
    date_col,
    dau,
    wau,
    mau,
    dau_mau_ratio
from {{ ref('gold_active_user_breakdown') }}
where dau <= 0
   or dau > wau
   or wau > mau
   or dau_mau_ratio is null
   or abs(dau_mau_ratio - cast(dau as double) / mau) > 0.00005
