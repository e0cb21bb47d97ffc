"""Airflow DAGs that run the Athena Analytics project with Strata.

They replace the reference design's athena_analytics_* DAGs with Strata commands:

  athena_analytics_etl           hourly   strata run   --select tag:hourly   (bronze + quarantine)
  athena_analytics_strata_daily  daily    strata build --select tag:daily    (bronze, daily silver, gold + tests)
  athena_analytics_strata_weekly weekly   strata build --select tag:weekly   (silver_active_user_setting_daily, WAU)
  athena_analytics_strata_monthly monthly strata build --select tag:monthly  (MAU breakdown)

Every model is incremental with a high watermark, so a run picks up whatever
arrived since the previous run (a missed or late run catches up by itself), and
late events re-aggregate their whole day. Use --full-refresh only to rebuild.

Deployment: the `strata` binary on the worker's PATH, the project (this
repository) at STRATA_PROJECT_DIR, and a profiles.yml with an `athena` target in
STRATA_PROFILES_DIR (the worker's IAM role gives Athena, Glue and S3 access).
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

PROJECT_DIR = os.environ.get("STRATA_PROJECT_DIR", "/opt/strata/athena_analytics")
PROFILES_DIR = os.environ.get("STRATA_PROFILES_DIR", "/opt/strata/profiles")
TARGET = os.environ.get("STRATA_TARGET", "athena")
THREADS = os.environ.get("STRATA_THREADS", "4")

# Exit codes follow dbt: 0 success, 1 a model or test failed (downstream skipped,
# the rest ran), 2 a usage or project error before anything ran.
STRATA = (
    f"cd {PROJECT_DIR} && strata {{command}} --project-dir {PROJECT_DIR} "
    f"--profiles-dir {PROFILES_DIR} --target {TARGET} --threads {THREADS}"
)

DEFAULT_ARGS = {
    "owner": "analytics",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=2),
}


def strata_task(task_id: str, command: str) -> BashOperator:
    return BashOperator(task_id=task_id, bash_command=STRATA.format(command=command))


with DAG(
    dag_id="athena_analytics_etl",
    description="Hourly: load newly arrived landing files into bronze (and quarantine)",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["athena_analytics", "strata"],
) as etl_dag:
    strata_task("bronze", "run --select tag:hourly")

with DAG(
    dag_id="athena_analytics_strata_daily",
    description="Daily: bronze catch-up, daily silver and gold models, then their tests",
    schedule="0 2 * * *",  # after the day's landing files are complete
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["athena_analytics", "strata"],
) as daily_dag:
    seeds = strata_task("seeds", "seed")
    bronze = strata_task("bronze", "build --select tag:bronze")
    silver = strata_task("silver_daily", "build --select tag:silver,tag:daily")
    gold = strata_task("gold_daily", "build --select tag:gold,tag:daily")
    reconcile = strata_task("reconcile", "test --select test_type:singular")
    seeds >> bronze >> silver >> gold >> reconcile

with DAG(
    dag_id="athena_analytics_strata_weekly",
    description="Weekly: settings silver table and weekly gold models",
    schedule="0 4 * * 1",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["athena_analytics", "strata"],
) as weekly_dag:
    strata_task("weekly_models", "build --select tag:weekly")

with DAG(
    dag_id="athena_analytics_strata_monthly",
    description="Monthly: monthly gold models",
    schedule="0 5 1 * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["athena_analytics", "strata"],
) as monthly_dag:
    strata_task("monthly_models", "build --select tag:monthly")
