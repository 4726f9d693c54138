#!/usr/bin/env bash
# The gateway under a real load generator (wrk), beside a bare hyper server answering a
# fixed body (the limit), in one run on this machine: Encrypt 64 B, Decrypt and
# GenerateDataKey signed with ACS3-HMAC-SHA256 (pre-signed, one fresh nonce each),
# keep-alive, over HTTP and (Encrypt) over TLS. Prints QPS, p50/p99 and the ratio to the
# bare server. Server and bare server get 1 worker thread, wrk 1 thread (2 cores).
# Usage: bash bench/gateway.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
conns=${2:-32}
command -v wrk > /dev/null || { apt-get install -y -q wrk > /dev/null 2>&1 || { apt-get update -q > /dev/null && apt-get install -y -q wrk > /dev/null; }; }
cargo build -q --release -p strongroom-cli -p strongroom-bench
SR=target/release/strongroom
d=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$d"' EXIT
export STRONGROOM_PASSPHRASE=bench STRONGROOM_STORE="$d/store"
$SR store init > /dev/null
$SR ram create-user bench > /dev/null
$SR ram attach AliyunKMSFullAccess --system --user bench > /dev/null
$SR ram create-access-key bench --out "$d/ak.json" > /dev/null
key=$($SR --json key create | python3 -c 'import json,sys; print(json.load(sys.stdin)["KeyId"])')
pt=$(head -c 64 /dev/urandom | base64 -w0)
blob=$($SR kms Encrypt --KeyId "$key" --Plaintext "$pt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["CiphertextBlob"])')
# Query values travel percent-encoded (base64's + and / included).
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
pt=$(enc "$pt")
blob=$(enc "$blob")
n=$((secs * 80000))

start() { # start CMD… ; sets ADDR to the host:port it prints
  "$@" > "$d/out" 2> "$d/err" &
  for _ in $(seq 100); do grep -q listening "$d/out" 2>/dev/null && break; sleep 0.1; done
  ADDR=$(head -1 "$d/out" | sed 's#.*://##')
}
run() { # run NAME SCHEME ACTION PARAMS
  local name=$1 scheme=$2 action=$3 params=$4
  python3 bench/gateway_requests.py "$d/ak.json" "$ADDR" "$action" "$params" "$n" "$d/req"
  local r
  r=$(REQUESTS="$d/req" ACTION="$action" HOST="$ADDR" wrk -t1 -c"$conns" -d"${secs}s" --latency \
      -s bench/gateway.lua "$scheme://$ADDR/" | grep '^RESULT')
  echo "$name $r"
  case "$r" in *" non2xx=0 "*) ;; *) echo "not ok - $name: requests failed (see above)"; exit 1;; esac
  eval "${name}=$(echo "$r" | sed 's/.*qps=\([0-9]*\).*/\1/')"
}
start target/release/bare-http 127.0.0.1:0 1
run bare http Encrypt "KeyId=$key&Plaintext=$pt"
kill %1; wait 2>/dev/null || true
start $SR serve --listen 127.0.0.1:0 --threads 1 --log-level warn
run encrypt http Encrypt "KeyId=$key&Plaintext=$pt"
run decrypt http Decrypt "CiphertextBlob=$blob"
run gdk http GenerateDataKey "KeyId=$key"
kill -TERM %1; wait 2>/dev/null || true
start $SR serve --listen 127.0.0.1:0 --threads 1 --log-level warn --dev-tls
run encrypt_tls https Encrypt "KeyId=$key&Plaintext=$pt"
kill -TERM %1; wait 2>/dev/null || true
python3 - "$bare" "$encrypt" "$decrypt" "$gdk" "$encrypt_tls" <<'PY'
import sys
bare, enc, dec, gdk, tls = map(float, sys.argv[1:])
for name, q in [("Encrypt 64 B", enc), ("Decrypt", dec), ("GenerateDataKey", gdk), ("Encrypt 64 B over TLS", tls)]:
    print(f"gateway {name}: {q:.0f} QPS = {q / bare:.2f}x the bare hyper server ({bare:.0f} QPS)")
PY
echo "audit level: all (the server's default); the trail of this run is discarded with its store"
