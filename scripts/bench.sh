#!/usr/bin/env bash
# Benchmarks (see BENCHMARKS.md): builds the release binary, then runs scripts/bench.py.
#
#   scripts/bench.sh                         # compile 1k/3k/10k models, build 1k
#   scripts/bench.sh --compare-dbt ~/dbt-venv  # the same with dbt-core side by side
#
# A dbt virtualenv: bash ../shared/bench/setup_dbt_venv.sh ~/dbt-venv
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
scripts/with-duckdb cargo build --release --locked >&2
exec scripts/with-duckdb python3 scripts/bench.py --strata "$CARGO_TARGET_DIR/release/strata" "$@"
