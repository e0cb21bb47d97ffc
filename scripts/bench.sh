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
# The rights benchmark goes through a real Kafka-protocol broker on 127.0.0.1.
eval "$(scripts/kafka-broker.sh start)"
trap '"$PWD"/scripts/kafka-broker.sh stop >/dev/null 2>&1 || true' EXIT
scripts/with-duckdb python3 scripts/bench.py --strata "$CARGO_TARGET_DIR/release/strata" \
  --rights-brokers "$STRATA_TEST_KAFKA_BROKERS" "$@"
