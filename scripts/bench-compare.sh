#!/usr/bin/env bash
# Before/after benchmarks against another revision: builds that revision in a git worktree under
# $TMPDIR (its own target/), then times Encrypt 64 B, GenerateDataKey and 1 MiB
# envelopes in Node (one process, alternating blocks), Python (alternating
# processes) and natively (the bench binary's ratios to the same peer, alternating
# runs), and prints the wasm gzip sizes. Usage: bash scripts/bench-compare.sh REV
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bash scripts/bench-compare.sh BASE_REV}
base=${TMPDIR:-/tmp}/strongroom-base-$(git rev-parse --short "$rev")
bash scripts/ci/setup.sh
[ -d "$base" ] || git worktree add -q "$base" "$rev"
(cd npm && { [ -d node_modules/esbuild ] || npm ci --no-audit --no-fund; } && node build.mjs)
ln -sfn "$PWD/npm/node_modules" "$base/npm/node_modules"
(cd "$base/npm" && node build.mjs)
cargo build --release -q -p strongroom-bench
(cd "$base" && cargo build --release -q -p strongroom-bench)
(cd bindings-python && ../.venv/bin/maturin build --release -q -o ../target/wheels)
.venv/bin/pip install -q --force-reinstall --no-deps target/wheels/strongroom-*.whl
maturin="$PWD/.venv/bin/maturin"
rm -rf "$base/wheels"
(cd "$base/bindings-python" && "$maturin" build --release -q -o "$base/wheels")
[ -x "$base/venv/bin/python" ] || python3 -m venv "$base/venv"
"$base/venv/bin/pip" install -q --force-reinstall "$base"/wheels/strongroom-*.whl
echo "wasm gzip bytes (Node build): before $(gzip -9c "$base"/npm/dist/wasm-node/*.wasm | wc -c), after $(gzip -9c npm/dist/wasm-node/*.wasm | wc -c)"
echo "wasm gzip bytes (browser build): before $(gzip -9c "$base"/npm/dist/wasm-web/*.wasm | wc -c), after $(gzip -9c npm/dist/wasm-web/*.wasm | wc -c)"
BASE_DIST="$base/npm/dist" node bench/compare.mjs
BASE_PYTHON="$base/venv/bin/python" .venv/bin/python bench/compare.py
for i in 1 2 3 4 5; do
  for side in before after; do
    bin=./target/release/strongroom-bench
    [ "$side" = before ] && bin="$base/target/release/strongroom-bench"
    { "$bin" 2>/dev/null || true; } | head -2 | sed "s/^{/{\"side\":\"$side\",/"
  done
done
