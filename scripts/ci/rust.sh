#!/usr/bin/env bash
# Rust: the workspace tests (core + CLI), clippy -D warnings on every crate (wasm on
# wasm32), and the no_std build of the core for wasm32.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --workspace --exclude strongroom-python --exclude strongroom-wasm
# The secrets tests again with values kept in a values file beside the store (as the
# file stores keep them) instead of inside the store's records.
SR_TEST_VALUES_FILE=1 cargo test -q --workspace --exclude strongroom-python --exclude strongroom-wasm --test secrets
# The envelope and Wycheproof AES-GCM again on the RustCrypto AES-GCM (the workspace run above unifies the
# `aws-lc` feature that the CLI turns on).
cargo test -q -p strongroom --test envelope --test envelope_vectors --test wycheproof_aead
# RSA / ECDSA on the pure-Rust path the wasm build uses (RustCrypto rsa, p256, k256):
# the same asymmetric, Wycheproof, BYOK and data key pair tests as on AWS-LC.
cargo test -q -p strongroom --no-default-features --features std,getrandom,rustcrypto-asym --test asymmetric --test byok --test data_key_pair
# The action model's serde form (feature `serde`): round trips through `Kms::call`.
cargo test -q -p strongroom --features serde,aws-lc,wire --test serde_model
cargo clippy -q --workspace --no-deps -- -D warnings
cargo clippy -q -p strongroom --features serde,aws-lc,wire --no-deps -- -D warnings
cargo clippy -q -p strongroom --no-default-features --features std,getrandom,rustcrypto-asym --no-deps -- -D warnings
# The core as a library user gets it (default features, no RSA / EC implementation).
cargo clippy -q -p strongroom --no-deps -- -D warnings
cargo clippy -q -p strongroom-wasm --target wasm32-unknown-unknown --no-deps -- -D warnings
cargo build -q -p strongroom --no-default-features --target wasm32-unknown-unknown
cargo build -q -p strongroom --no-default-features --features serde --target wasm32-unknown-unknown
# The reference docs of the library crates: rustdoc with missing docs and broken or
# private intra-doc links denied (target/doc/).
RUSTDOCFLAGS="-D warnings -D missing_docs" cargo doc -q --no-deps -p strongroom -p strongroom-gateway -p strongroom-pkcs11 -p strongroom-kmip --features strongroom/aws-lc,strongroom/wire
# `cargo install --path cli` works from the lock file (debug profile and target/, so
# what the tests above built is reused), and the installed binary runs.
CARGO_TARGET_DIR="$PWD/target" cargo install -q --locked --debug --path cli --root build/cargo-install
build/cargo-install/bin/strongroom --version
