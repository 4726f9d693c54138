#!/usr/bin/env bash
# The HSM backends against their engines driven directly, in one run: a SoftHSM2 token
# (made here) and `bao server -dev` (OpenBao from .venv, which scripts/ci/setup.sh
# installs). Prints JSON lines with `ratio_vs_direct`.
#   bash bench/backends.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p strongroom-bench --bin strongroom-bench-backends
d=$(mktemp -d)
trap 'kill $BAO 2>/dev/null || true; rm -rf "$d"' EXIT
mkdir "$d/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$d" > "$d/softhsm2.conf"
export SOFTHSM2_CONF="$d/softhsm2.conf"
softhsm2-util --init-token --free --label bench --pin 1111 --so-pin 2222 >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/bao server -dev -dev-root-token-id=bench -dev-listen-address="127.0.0.1:$port" >/dev/null 2>&1 &
BAO=$!
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/sys/mounts/transit",
            data=b'{"type":"transit"}', headers={"X-Vault-Token": "bench"}, method="POST"), timeout=2)
        break
    except OSError:
        time.sleep(0.1)
PY
STRONGROOM_BENCH_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so \
STRONGROOM_BENCH_PKCS11_TOKEN=bench STRONGROOM_BENCH_PKCS11_PIN=1111 \
STRONGROOM_BENCH_BAO_ADDR="http://127.0.0.1:$port" STRONGROOM_BENCH_BAO_TOKEN=bench \
  ./target/release/strongroom-bench-backends
