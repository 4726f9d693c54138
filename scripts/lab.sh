#!/usr/bin/env bash
# Builds the CLI and runs the envelope-encryption lab on the embedded default store.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p strongroom-cli
exec ./target/release/strongroom lab "$@"
