-- The rolling windows of gold_active_user_breakdown nest: for every day
-- 0 < DAU <= WAU <= MAU, and dau_mau_ratio is DAU / MAU. Returns the days that
-- break it. (DAU against silver is checked in assert_gold_matches_silver.)

select
    date_col,
    dau,
    wau,
    mau,
    dau_mau_ratio
from "athena_analytics"."gold_active_user_breakdown"
where dau <= 0
   or dau > wau
   or wau > mau
   or dau_mau_ratio is null
   -- rounded to 4 decimals: off by at most half a unit in the last place (plus
   -- float noise: 23 / 160 = 0.14375 rounds to 0.1438, exactly 0.00005 away)
   or abs(dau_mau_ratio - cast(dau as double) / mau) > 0.0000501
