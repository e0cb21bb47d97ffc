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

step "formatting"
cargo fmt --check

step "lints"
scripts/with-duckdb cargo clippy --all-targets --locked -- -D warnings

step "tests"
scripts/with-duckdb cargo test --locked --no-fail-fast
