#!/usr/bin/env bash
# Sets up everything a fresh machine lacks (skipping what is there) and runs every
# test: Rust, the wasm package in Node and headless Chromium, Python, the CLI, and the
# cross-runtime round trips. Each step is a small script in scripts/ci/.
set -euo pipefail
cd "$(dirname "$0")/.."
export ROOT="$PWD"
steps=(setup rust wasm python npm crossruntime fuzz)
for s in "${steps[@]}"; do
  echo "::: step $s"
  start=$SECONDS
  bash "scripts/ci/$s.sh"
  echo "::: step $s done in $((SECONDS - start))s"
done
echo "::: all test steps passed"
