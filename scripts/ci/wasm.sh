#!/usr/bin/env bash
# The wasm binding's own Rust tests (wasm-bindgen-test, bindings-wasm/tests/) in Node
# and in headless Chromium (chromedriver, arguments in scripts/ci/webdriver.json).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
cargo test -p strongroom-wasm --target wasm32-unknown-unknown --test node
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/scripts/ci/webdriver.json"
export CHROMEDRIVER="$(command -v chromedriver)"
export WASM_BINDGEN_TEST_TIMEOUT=120
cargo test -p strongroom-wasm --target wasm32-unknown-unknown --test browser
