#!/usr/bin/env bash
# Apache Airflow and Astronomer Cosmos in their own virtualenv, for the tests that run Strata
# under Cosmos (tests/integration/cosmos.rs). Installed once into $STRATA_CACHE and reused.
#
#   eval "$(scripts/airflow-venv.sh)"   # exports STRATA_TEST_AIRFLOW_PYTHON (the venv's python)
#
# Only the export line goes to stdout (it is eval'd); everything else goes to stderr.
set -euo pipefail

cache=${STRATA_CACHE:-$HOME/.cache/strata}
venv=$cache/venv-airflow
# Pinned: the versions the Cosmos tests were written against (Cosmos's flags and artifact
# readers change between releases).
spec=${AIRFLOW_SPEC:-apache-airflow==3.3.2 astronomer-cosmos==1.15.1}
mkdir -p "$cache"

exec 9>"$cache/venv-airflow.lock"
flock -w 600 9
# The .ok marker is written last, so an interrupted install is redone rather than half-used.
if [[ ! -f $venv/.ok || $(cat "$venv/.ok") != "$spec" ]]; then
  echo "airflow-venv: installing $spec into $venv" >&2
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  read -ra reqs <<<"$spec"
  "$venv/bin/pip" install -q "${reqs[@]}" >&2
  echo "$spec" >"$venv/.ok"
fi
echo "export STRATA_TEST_AIRFLOW_PYTHON=$venv/bin/python"
