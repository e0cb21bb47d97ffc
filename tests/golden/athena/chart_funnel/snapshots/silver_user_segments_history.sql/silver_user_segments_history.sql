

select * from "chart_funnel"."stg_user_segments"
