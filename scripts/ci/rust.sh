#!/usr/bin/env bash
# Rust: the workspace tests (core + CLI), clippy on core, and the no_std wasm build.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --workspace --exclude strongroom-python --exclude strongroom-wasm
cargo clippy -q -p strongroom --no-deps -- -D warnings
cargo build -q -p strongroom --no-default-features --target wasm32-unknown-unknown
