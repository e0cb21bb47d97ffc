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

step() { printf '\n== %s\n' "$*"; }

step "system packages"
# rdkafka's `ssl` feature links the system OpenSSL (found with pkg-config).
if ! dpkg -s libssl-dev pkg-config >/dev/null 2>&1; then
  sudo_if_needed=$([[ $(id -u) -eq 0 ]] && echo "" || echo sudo)
  $sudo_if_needed apt-get update -qq && $sudo_if_needed apt-get install -y -qq libssl-dev pkg-config
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

step "tests"
scripts/with-duckdb cargo test --locked --no-fail-fast
