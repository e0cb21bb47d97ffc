"""An Astronomer Cosmos DAG that runs a Strata project as Cosmos runs a dbt project.

Cosmos gives every seed, model and snapshot its own Airflow task (with its tests after it),
from `strata ls --output json` (LoadMode.DBT_LS) or from target/manifest.json
(LoadMode.DBT_MANIFEST), and runs each task with `strata` as its dbt executable:
`strata run --select <model> --project-dir <copy> --profiles-dir ... --profile ... --target ...`.

Settings (environment variables of the scheduler and the workers):

  STRATA_PROJECT_DIR    the project (holding dbt_project.yml; the reference project's
                        project.yml has a dbt_project.yml beside it)
  STRATA_PROFILES_YML   the profiles.yml to use (Cosmos hands its folder to strata)
  STRATA_PROFILE_NAME   the profile in it (default: the project's `profile:`)
  STRATA_TARGET         the target (default: dev)
  STRATA_EXECUTABLE     the strata binary (default: strata on the PATH)
  STRATA_LOAD_MODE      dbt_ls (default) or dbt_manifest (reads target/manifest.json, made
                        by `strata compile` or `strata parse` beforehand)
  STRATA_DAG_ID         the DAG's id (default: strata_cosmos)
"""
from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import yaml
from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestIndirectSelection

PROJECT_DIR = Path(os.environ.get("STRATA_PROJECT_DIR", "/opt/strata/athena_analytics"))
PROFILES_YML = Path(os.environ.get("STRATA_PROFILES_YML", "/opt/strata/profiles/profiles.yml"))
EXECUTABLE = os.environ.get("STRATA_EXECUTABLE") or shutil.which("strata") or "strata"
LOAD_MODE = LoadMode(os.environ.get("STRATA_LOAD_MODE", "dbt_ls"))


def _project_profile() -> str:
    # The profile the project names, as dbt would pick it.
    with open(PROJECT_DIR / "dbt_project.yml") as f:
        return str(yaml.safe_load(f)["profile"])


project = ProjectConfig(
    dbt_project_path=PROJECT_DIR,
    # DBT_MANIFEST reads the manifest Strata wrote; DBT_LS runs `strata ls`.
    manifest_path=PROJECT_DIR / "target" / "manifest.json"
    if LOAD_MODE == LoadMode.DBT_MANIFEST
    else None,
)

dag = DbtDag(
    dag_id=os.environ.get("STRATA_DAG_ID", "strata_cosmos"),
    project_config=project,
    profile_config=ProfileConfig(
        profile_name=os.environ.get("STRATA_PROFILE_NAME") or _project_profile(),
        target_name=os.environ.get("STRATA_TARGET", "dev"),
        profiles_yml_filepath=PROFILES_YML,
    ),
    # Strata is not a Python package: Cosmos runs it as a subprocess, as it runs a dbt
    # executable installed outside Airflow's environment.
    execution_config=ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.SUBPROCESS,
        dbt_executable_path=EXECUTABLE,
        # A test with two parents (relationships) runs after the later of the two: with
        # dbt's default (eager), `test --select <seed>` would also run a relationships test
        # whose other parent is not built yet.
        test_indirect_selection=TestIndirectSelection.BUILDABLE,
    ),
    render_config=RenderConfig(
        load_method=LOAD_MODE,
        dbt_executable_path=EXECUTABLE,
        invocation_mode=InvocationMode.SUBPROCESS,
    ),
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
)
