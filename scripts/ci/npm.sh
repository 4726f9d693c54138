#!/usr/bin/env bash
# npm package: build the wasm core and the JS facade, run the Node tests (ESM + CJS),
# then the browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/../../npm"
[ -d node_modules/esbuild ] || npm ci --no-audit --no-fund
node build.mjs
npm test
node test/browser/run.mjs
