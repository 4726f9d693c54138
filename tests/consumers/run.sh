#!/usr/bin/env bash
# Consumers of the packed npm tarball, each in a scratch project that installs it:
# Node ESM and CJS run an envelope / Encrypt round trip; TypeScript --strict compiles
# an ESM and a CJS consumer under node16 resolution and an ESM one under bundler;
# runtimes.mjs runs in Node, Bun and Deno (their npm packages, pinned in npm/); and
# bundlers/run.mjs bundles pages with Vite, webpack 5 and esbuild and loads each in
# headless Chromium; examples.mjs runs examples/node (records service) and
# examples/browser (report page, screenshot checked) against a real gateway.
# Usage: bash tests/consumers/run.sh path/to/strongroom-X.tgz
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tgz=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
tsc="$here/../../npm/node_modules/.bin/tsc"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
printf '{"name":"consumer","version":"1.0.0","private":true}\n' > package.json
npm install --silent --no-audit --no-fund --offline "$tgz" > /dev/null 2>&1 || npm install --silent --no-audit --no-fund "$tgz" > /dev/null
cp "$here/esm.mjs" "$here/cjs.cjs" "$here/typed.mts" "$here/typed.cts" "$here/runtimes.mjs" .
node esm.mjs
node cjs.cjs
# @types/node is not installed here: the consumers use no Node typings.
common=(--strict --noEmit --target es2022 --lib es2022,dom)
"$tsc" "${common[@]}" --module node16 --moduleResolution node16 typed.mts
"$tsc" "${common[@]}" --module node16 --moduleResolution node16 typed.cts
"$tsc" "${common[@]}" --module esnext --moduleResolution bundler typed.mts
bin="$here/../../npm/node_modules/.bin"
node runtimes.mjs
"$bin/bun" runtimes.mjs
"$bin/deno" run --allow-read --allow-write --allow-env --allow-sys --no-prompt runtimes.mjs
node "$here/bundlers/run.mjs" "$work" "$here/../../npm"
# examples/node and examples/browser, as a user would copy them next to the package.
mkdir -p examples && cp -r "$here/../../examples/node" "$here/../../examples/browser" examples/
cp "$here/examples.mjs" .
node examples.mjs "$here/../../npm"
echo "consumers ok: Node ESM, Node CJS, TypeScript strict (node16 ESM, node16 CJS, bundler), Node/Bun/Deno, Vite/webpack/esbuild in Chromium, examples/node and examples/browser"
