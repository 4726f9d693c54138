#!/usr/bin/env bash
# The long crash-torture run: a writer process mutating a file store is killed with
# SIGKILL at random moments N times (default 1000), and after every kill the store
# must open with every acknowledged mutation (core/tests/torture.rs; CI runs 20).
set -euo pipefail
cd "$(dirname "$0")/.."
STRONGROOM_TORTURE_TRIALS="${1:-1000}" cargo test -q --release -p strongroom --features std,aws-lc \
  --test torture -- --nocapture --test-threads=1 2>&1 | grep -E '^torture:|panicked|FAILED|test result'
