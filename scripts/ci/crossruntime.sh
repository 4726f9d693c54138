#!/usr/bin/env bash
# Cross-runtime round trips in one run: Python → Node and Chromium (via a store image),
# Node → Python. Needs the Python wheel and npm/dist built by the earlier steps.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/xrt
mkdir -p "$out"
log="$out/log.txt"
{
  .venv/bin/python tests/crossruntime/py_side.py produce "$out/from-python.json"
  node tests/crossruntime/node_side.mjs "$out/from-python.json" "$out/from-node.json"
  node npm/test/browser/run.mjs --xrt "$out/from-python.json" | grep 'cross-runtime'
  .venv/bin/python tests/crossruntime/py_side.py consume "$out/from-node.json"
} | tee "$log"
echo "crossruntime: $(grep -c '^ok - ' "$log") passed, $(grep -c '^not ok - ' "$log" || true) failed"
