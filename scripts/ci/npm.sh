#!/usr/bin/env bash
# npm package: build the wasm core and the JS facade, check the packed tarball
# (publint; @arethetypeswrong/cli: types resolve for node10, node16 from CJS and ESM,
# and bundlers — for `strongroom`, `strongroom/decrypt` and `strongroom/inline`) and
# its consumers (tests/consumers: Node ESM and CJS, TypeScript strict under node16 and
# bundler, Node/Bun/Deno, Vite/webpack/esbuild pages in Chromium, each installing the
# tarball), run the Node tests (ESM + CJS), then the browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/../../npm"
# (Re)install when the lock file is newer than what was installed from it.
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
node build.mjs
node test/size-budget.mjs
pack=$(mktemp -d)
npm pack --silent --pack-destination "$pack" > /dev/null
./node_modules/.bin/publint --strict "$pack"/strongroom-*.tgz
./node_modules/.bin/attw --format ascii "$pack"/strongroom-*.tgz
bash ../tests/consumers/run.sh "$pack"/strongroom-*.tgz
rm -rf "$pack"
npm test
# The API reference (TypeDoc, build/docs/npm): every class, function and method
# documented, no broken links; a warning fails the build (typedoc.json).
./node_modules/.bin/typedoc
node scripts/examples.mjs   # and every public call has a one-line @example
node test/browser/run.mjs
