#!/usr/bin/env bash
# Fuzzes the envelope parser with cargo-fuzz (libFuzzer + AddressSanitizer) for N
# seconds (default 30), seeded from the shared vectors, and prints the exec count.
# `bash scripts/fuzz.sh 3600` is the long run; CI runs the short one.
# The machine's toolchain is stable: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "0.13.2" ]; then
  cargo install -q cargo-fuzz --version 0.13.2 --locked
fi
corpus=fuzz/corpus/envelope
mkdir -p "$corpus"
python3 - "$corpus" <<'PY'
import hashlib, json, pathlib, sys
d = json.loads(pathlib.Path("tests/vectors/envelope_v1.json").read_text())
ms = [v["message"] for v in d["data_key"] + d["negative"] + d["store"]["messages"]]
for m in ms:
    b = bytes.fromhex(m)
    (pathlib.Path(sys.argv[1]) / hashlib.sha1(b).hexdigest()).write_bytes(b)
PY
cd fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz build -O envelope
RUSTC_BOOTSTRAP=1 cargo fuzz run -O envelope "corpus/envelope" -- -max_total_time="$secs" -print_final_stats=1 2>&1 \
  | tee ../build/fuzz-envelope.log | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)' || true
execs=$(grep -E '^stat::number_of_executed_units' ../build/fuzz-envelope.log | awk '{print $2}')
if grep -qE 'ERROR: libFuzzer|==ERROR|panicked' ../build/fuzz-envelope.log; then
  echo "fuzz: envelope FAILED (see build/fuzz-envelope.log and fuzz/artifacts/)"; exit 1
fi
echo "fuzz: envelope ${execs:-?} execs in ${secs}s, no crash"
