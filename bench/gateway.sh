#!/usr/bin/env bash
# The gateway under a real load generator (wrk), beside a bare hyper server answering a
# fixed body (the limit), in one run on this machine: Encrypt 64 B, Decrypt and
# GenerateDataKey signed with ACS3-HMAC-SHA256 (pre-signed, one fresh nonce each),
# keep-alive, over HTTP and (Encrypt) over TLS. Server and bare server get 1 worker
# thread, wrk 1 thread (2 cores).
#
# The cases are interleaved over ROUNDS rounds (bare, Encrypt, Decrypt,
# GenerateDataKey, Encrypt over TLS, then again), each in a freshly started server on
# the same port, and the medians compared: this machine's speed drifts by 10-20 %
# between runs a minute apart, and one bare run measured first set every ratio of the
# earlier form of this script. Prints every run, then QPS, p50/p99 (medians) and the
# ratio to the bare server.
# Usage: bash bench/gateway.sh [SECONDS] [CONNECTIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-32}
rounds=${3:-3}
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
# One port for every server, so that the requests (their Host is signed) are made once;
# each server is fresh, so its replay window has not seen them.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR=127.0.0.1:$port
n=$((secs * 90000))
python3 bench/gateway_requests.py "$d/ak.json" "$ADDR" Encrypt "KeyId=$key&Plaintext=$pt" "$n" "$d/Encrypt"
python3 bench/gateway_requests.py "$d/ak.json" "$ADDR" Decrypt "CiphertextBlob=$blob" "$n" "$d/Decrypt"
python3 bench/gateway_requests.py "$d/ak.json" "$ADDR" GenerateDataKey "KeyId=$key" "$n" "$d/GenerateDataKey"

start() { # start CMD… : waits until it listens on $ADDR
  "$@" > "$d/out" 2> "$d/err" &
  for _ in $(seq 200); do grep -q listening "$d/out" 2>/dev/null && return; sleep 0.05; done
  cat "$d/err"; echo "not ok - the server did not start: $*"; exit 1
}
stop() { kill -TERM %1; wait 2>/dev/null || true; }
run() { # run NAME SCHEME ACTION
  local name=$1 scheme=$2 action=$3 r
  r=$(REQUESTS="$d/$action" ACTION="$action" HOST="$ADDR" wrk -t1 -c"$conns" -d"${secs}s" --latency \
      -s bench/gateway.lua "$scheme://$ADDR/" | grep '^RESULT')
  echo "$name $r" | tee -a "$d/results"
  case "$r" in *" non2xx=0 "*) ;; *) echo "not ok - $name: requests failed (see above)"; exit 1;; esac
}
serve=($SR serve --listen "$ADDR" --threads 1 --log-level warn)
for round in $(seq "$rounds"); do
  echo "round $round"
  start target/release/bare-http "$ADDR" 1; run bare http Encrypt; stop
  start "${serve[@]}"; run encrypt http Encrypt; stop
  start "${serve[@]}"; run decrypt http Decrypt; stop
  start "${serve[@]}"; run gdk http GenerateDataKey; stop
  start "${serve[@]}" --dev-tls; run encrypt_tls https Encrypt; stop
done
python3 - "$d/results" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name = line.split()[0]
    runs.setdefault(name, []).append({k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", line)})
med = {n: {k: statistics.median(r[k] for r in rs) for k in ("qps", "p50_ms", "p99_ms")} for n, rs in runs.items()}
bare = med["bare"]["qps"]
print(f"bare hyper server: median {bare:.0f} QPS over {len(runs['bare'])} runs")
for name, label in [("encrypt", "Encrypt 64 B"), ("decrypt", "Decrypt"), ("gdk", "GenerateDataKey"), ("encrypt_tls", "Encrypt 64 B over TLS")]:
    m = med[name]
    each = ", ".join(f"{r['qps'] / b['qps']:.2f}" for r, b in zip(runs[name], runs["bare"]))
    print(f"gateway {label}: median {m['qps']:.0f} QPS = {m['qps'] / bare:.2f}x the bare hyper server "
          f"(per round: {each}); p50 {m['p50_ms']:.3f} ms, p99 {m['p99_ms']:.3f} ms")
PY
echo "audit level: all (the server's default); the trail of this run is discarded with its store"
