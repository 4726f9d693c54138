#!/usr/bin/env bash
# Sets up everything a fresh machine lacks (skipping what is there) and runs every
# test: Rust, the wasm package in Node and headless Chromium, Python, the CLI, and the
# cross-runtime round trips. Each step is a small script in scripts/ci/.
set -euo pipefail
cd "$(dirname "$0")/.."
export ROOT="$PWD"
# One build per run: incremental-compilation caches would only take disk (several GB).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Everything the tests put in the temporary directory (stores, SoftHSM2 tokens, PyKMIP
# servers, pytest's and Chromium's directories) goes into one directory of this run,
# removed when the run ends, whatever its outcome.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/sr-test.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
steps=(setup rust wasm python npm crossruntime gateway fuzz)
# Every step's output is kept, and at the end searched for the secret values the
# secret tests use (they all contain SRLEAK): no value may reach any output.
mkdir -p build
log=build/test-output.log
: > "$log"
for s in "${steps[@]}"; do
  echo "::: step $s"
  start=$SECONDS
  bash "scripts/ci/$s.sh" 2>&1 | tee -a "$log"
  echo "::: step $s done in $((SECONDS - start))s"
done
if grep -n 'SRLEAK' "$log" | head -5 | grep .; then
  echo "::: a secret value used by the tests appeared in the suite's output (above)"
  exit 1
fi
echo "::: no secret test value in $(wc -l < "$log") lines of output"
echo "::: all test steps passed"
