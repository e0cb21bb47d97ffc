#!/usr/bin/env bash
# The whole test suite, on a fresh machine: fetches what the tests need, then runs
# formatting, lints and every test.
#
#   scripts/test.sh
#
# Cargo's build cache goes to $CARGO_TARGET_DIR (default ~/.cache/strata/target), outside the
# checkout, so a fresh clone does not rebuild every dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# One build per run: incremental compilation's caches would only take disk.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

# Each stage says how long the one before it took (CI has a time budget).
STAGE_STARTED=$SECONDS
STAGE=""
step() {
  [[ -n $STAGE ]] && printf '== %s took %ds\n' "$STAGE" $((SECONDS - STAGE_STARTED))
  STAGE=$*
  STAGE_STARTED=$SECONDS
  printf '\n== %s\n' "$*"
}

step "system packages"
# rdkafka's `ssl` feature links the system OpenSSL (found with pkg-config).
if ! dpkg -s libssl-dev pkg-config >/dev/null 2>&1; then
  sudo_if_needed=$([[ $(id -u) -eq 0 ]] && echo "" || echo sudo)
  $sudo_if_needed apt-get update -qq && $sudo_if_needed apt-get install -y -qq libssl-dev pkg-config
fi

step "disk"
# A full debug build with its cache takes about GB_NEEDED; say so up front rather than
# failing in the linker (a CI run once ended with "No space left on device").
GB_NEEDED=6
mkdir -p "$CARGO_TARGET_DIR"
free_gb() { df -Pk "$CARGO_TARGET_DIR" | awk 'NR==2 {print int($4 / 1048576)}'; }
echo "free: $(free_gb) GB under $CARGO_TARGET_DIR ($(du -sh "$CARGO_TARGET_DIR" 2>/dev/null | cut -f1) cached)"
if (( $(free_gb) < GB_NEEDED )); then
  echo "low on disk: dropping the build cache's incremental and release artifacts"
  rm -rf "$CARGO_TARGET_DIR"/debug/incremental "$CARGO_TARGET_DIR"/release
  echo "free: $(free_gb) GB"
  if (( $(free_gb) < GB_NEEDED )); then
    echo "warning: under $GB_NEEDED GB free; the build may fail for want of disk" >&2
  fi
fi

step "formatting"
cargo fmt --check

step "lints"
scripts/with-duckdb cargo clippy --all-targets --locked -- -D warnings

step "services"
# A Kafka-protocol broker (Tansu) on 127.0.0.1 for the rights consumer tests, and the moto
# AWS emulator on 127.0.0.1 for the Athena adapter tests (both from PyPI).
eval "$(scripts/kafka-broker.sh start)"
trap '"$PWD"/scripts/kafka-broker.sh stop >/dev/null 2>&1 || true; "$PWD"/scripts/moto-server.sh stop >/dev/null 2>&1 || true' EXIT
echo "kafka: $STRATA_TEST_KAFKA_BROKERS"
eval "$(scripts/moto-server.sh start)"
echo "aws emulator: $STRATA_TEST_AWS_ENDPOINT"

step "airflow + cosmos (installed once into the cache)"
# Apache Airflow and Astronomer Cosmos from PyPI, for the tests that run Strata under Cosmos.
eval "$(scripts/airflow-venv.sh)"
echo "airflow python: $STRATA_TEST_AIRFLOW_PYTHON"

step "chromium + playwright-core (installed once)"
# Debian's chromium and playwright-core from npm, for the tests that open the docs site.
eval "$(scripts/chromium.sh)"
echo "chromium: $STRATA_TEST_CHROMIUM; playwright-core: $STRATA_TEST_NODE_PATH"

step "tests"
# The rights chaos test runs on its own afterwards, so its figures are printed.
scripts/with-duckdb cargo test --locked --no-fail-fast -- --skip rights_chaos::
step "rights chaos test (10,000 requests, 20 kills)"
scripts/with-duckdb cargo test --locked --test integration -- rights_chaos:: --nocapture
step "done"
