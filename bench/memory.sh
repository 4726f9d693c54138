#!/usr/bin/env bash
# Streams a 1 GiB file through `strongroom encrypt` and `strongroom decrypt` (release
# CLI, file store) and prints each one's peak RSS and throughput as JSON lines. The
# goal: under 64 MiB RSS whatever the file size (memory is bounded by one frame).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p strongroom-cli
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export STRONGROOM_PASSPHRASE=bench-memory
cli=target/release/strongroom
key=$("$cli" --store "$dir/store" --json key create | python3 -c 'import json,sys; print(json.load(sys.stdin)["KeyId"])')
head -c $((1 << 30)) /dev/urandom > "$dir/plain"
run() {
  local op=$1; shift
  local t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$dir/rss" "$cli" --store "$dir/store" "$@"
  local t1=$(date +%s.%N)
  python3 -c "import sys; rss=int(open('$dir/rss').read().split()[-1]); s=$t1-$t0; print('{\"runtime\": \"cli\", \"op\": \"$op-1GiB\", \"peak_rss_mib\": %.1f, \"seconds\": %.2f, \"gb_per_s\": %.2f, \"goal_rss_mib\": 64}' % (rss/1024, s, (1<<30)/s/1e9))"
}
run EnvelopeEncryptStream encrypt --key "$key" --context bench=memory "$dir/plain" "$dir/sealed"
run EnvelopeDecryptStream decrypt --context bench=memory "$dir/sealed" "$dir/back"
cmp "$dir/plain" "$dir/back" && echo '{"runtime": "cli", "op": "1GiB round trip", "identical": true}'
