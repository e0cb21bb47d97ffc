"""The design's daily task list for the web events lakehouse, with Strata:

  validate_source_data   strata test --select source:raw       (the raw events are readable)
  run_transformations    strata run                            (staging, sessions, web_events, marts)
  run_data_quality_checks strata test --exclude source:raw     (the design's rules as data tests)
  optimize_table_partitions strata maintain --select web_events (Iceberg compaction; Athena only)

The design's Glue ETL and Lambda steps are the ingestion's: they land the raw events this
project reads through source('raw', 'raw_events'). Daily at 02:00 UTC, retried for up to 6
hours as the design says.

Settings (environment variables of the scheduler and the workers):

  STRATA_PROJECT_DIR   this project (default /opt/strata/web_events)
  STRATA_PROFILES_DIR  the folder of its profiles.yml (default: the project)
  STRATA_TARGET        the target (default: dev; `athena` for the lakehouse)
  STRATA_EXECUTABLE    the strata binary (default: strata on the PATH)
"""
from __future__ import annotations

import os
import shlex
from datetime import datetime, timedelta

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

PROJECT_DIR = os.environ.get("STRATA_PROJECT_DIR", "/opt/strata/web_events")
PROFILES_DIR = os.environ.get("STRATA_PROFILES_DIR", PROJECT_DIR)
TARGET = os.environ.get("STRATA_TARGET", "dev")
STRATA = os.environ.get("STRATA_EXECUTABLE", "strata")


def strata(args: str) -> str:
    return (
        f"cd {shlex.quote(PROJECT_DIR)} && {shlex.quote(STRATA)} {args} "
        f"--project-dir {shlex.quote(PROJECT_DIR)} --profiles-dir {shlex.quote(PROFILES_DIR)} "
        f"--target {shlex.quote(TARGET)}"
    )


with DAG(
    dag_id="web_events_daily",
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"owner": "analytics", "retries": 3, "retry_delay": timedelta(hours=2)},
    tags=["strata", "web_events"],
) as dag:
    validate = BashOperator(task_id="validate_source_data", bash_command=strata("test --select source:raw"))
    transform = BashOperator(task_id="run_transformations", bash_command=strata("run"))
    quality = BashOperator(task_id="run_data_quality_checks", bash_command=strata("test --exclude source:raw"))
    # OPTIMIZE and VACUUM rewrite Iceberg files: there are none on DuckDB.
    optimize = BashOperator(
        task_id="optimize_table_partitions",
        bash_command=(
            strata("maintain --select web_events")
            if TARGET == "athena"
            else "echo 'DuckDB target: no Iceberg files to compact'"
        ),
    )
    validate >> transform >> quality >> optimize
