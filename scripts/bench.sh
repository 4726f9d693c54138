#!/usr/bin/env bash
# Runs every benchmark side by side in one run and prints JSON lines with ratios
# (ratio_vs_peer = peer median / strongroom median; 1.0 = as fast as the peer).
# Needs the set-up of scripts/ci/setup.sh, the wheel and npm/dist (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ci/setup.sh
cargo build --release -q -p strongroom-bench
[ -f npm/dist/node.mjs ] || (cd npm && { [ -d node_modules/esbuild ] || npm ci --no-audit --no-fund; } && node build.mjs)
.venv/bin/python -c 'import strongroom' 2>/dev/null || bash -c 'cd bindings-python && ../.venv/bin/maturin build --release -q -o ../target/wheels && ../.venv/bin/pip install -q --force-reinstall --no-deps ../target/wheels/strongroom-*.whl'
./target/release/strongroom-bench
.venv/bin/python bench/bench.py
node bench/bench.mjs
node npm/test/browser/run.mjs --page bench/browser.html | grep '^{'
bash bench/memory.sh
