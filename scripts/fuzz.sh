#!/usr/bin/env bash
# Fuzzes the parsers with cargo-fuzz (libFuzzer + AddressSanitizer) for N seconds each
# (default 30): `envelope` (the envelope message), `store` (the store: header,
# record framing, snapshot and journal-delta decoders), `gateway` (the server's
# request parser and signers) and `wire` (the remote-backend server: version 2's
# authentication, and every operation's decoder behind it), each seeded from the shared
# vectors, and prints the exec counts. `bash scripts/fuzz.sh 3600` is the long run;
# CI runs the short one. The machine's toolchain is stable: RUSTC_BOOTSTRAP lets
# cargo-fuzz pass its -Z flags.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "0.13.2" ]; then
  cargo install -q cargo-fuzz --version 0.13.2 --locked
fi
mkdir -p fuzz/corpus/envelope fuzz/corpus/store fuzz/corpus/gateway fuzz/corpus/wire build
python3 - <<'PY'
import hashlib, json, pathlib
def seed(target, b):
    (pathlib.Path("fuzz/corpus") / target / hashlib.sha1(b).hexdigest()).write_bytes(b)
d = json.loads(pathlib.Path("tests/vectors/envelope_v1.json").read_text())
for v in d["data_key"] + d["negative"] + d["store"]["messages"]:
    seed("envelope", bytes.fromhex(v["message"]))
# Stores: the version-2 journal stores in the vectors and the version-1 image.
seed("store", bytes.fromhex(d["store"]["image"]))
seed("store", bytes.fromhex(json.loads(pathlib.Path("tests/vectors/blob_v1.json").read_text())["store"]["image"]))
seed("store", bytes.fromhex(json.loads(pathlib.Path("tests/vectors/store_v1.json").read_text())["image"]))
# A store holding secrets, and its records' plaintexts in the target's framing (the
# secret-record decoders behind authentication).
sv = json.loads(pathlib.Path("tests/vectors/secrets_v1.json").read_text())
seed("store", bytes.fromhex(sv["image"]))
seed("store", bytes.fromhex(sv["fuzz_seed_hex"]))
# A file store whose values are in its values file: state version 5, op-0x09 records.
vv = json.loads(pathlib.Path("tests/vectors/secrets_values_v1.json").read_text())
seed("store", bytes.fromhex(vv["store"]))
seed("store", bytes.fromhex(vv["fuzz_seed_hex"]))
# Gateway requests: an RPC form and an ACS3 header set (fields split by 0xFF).
sep = b"\xff"
seed("gateway", sep.join([b"POST", b"/", b"", b"content-type:application/x-www-form-urlencoded",
    b"Action=Encrypt&Version=2016-01-20&Format=JSON&AccessKeyId=LTAIx&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&SignatureNonce=n&Timestamp=2026-12-02T09%3A30%3A00Z&KeyId=alias%2Fk&Plaintext=aGk%3D&EncryptionContext=%7B%22a%22%3A%22b%22%7D&Signature=abc%3D"]))
seed("gateway", sep.join([b"POST", b"/", b"KeyId=k&Plaintext=aGk%3D",
    b"authorization:ACS3-HMAC-SHA256 Credential=LTAIx,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=00\nx-acs-action:Encrypt\nx-acs-version:2016-01-20\nx-acs-date:2026-12-02T09:30:00Z\nx-acs-signature-nonce:n\nx-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    b""]))
# Wire requests: tagged (first byte odd) Describe, Generate AES-256, Encrypt with a
# short handle; and a raw version-1 Describe (first byte 2: version 1 accepted).
seed("wire", b"\x01\x01")
seed("wire", b"\x01\x02\x03\x01")
seed("wire", b"\x01\x03\x00\x04abcd\x00\x00\x00\x02hi\x00\x00\x00\x00")
seed("wire", b"\x02SRW\x01\x01")
PY
cd fuzz
status=0
for target in envelope store gateway wire; do
  RUSTC_BOOTSTRAP=1 cargo fuzz build -O "$target"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$secs" -print_final_stats=1 2>&1 \
    | tee "../build/fuzz-$target.log" | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)' || true
  execs=$(grep -E '^stat::number_of_executed_units' "../build/fuzz-$target.log" | awk '{print $2}')
  if grep -qE 'ERROR: libFuzzer|==ERROR|panicked' "../build/fuzz-$target.log"; then
    echo "fuzz: $target FAILED (see build/fuzz-$target.log and fuzz/artifacts/)"; status=1
  else
    echo "fuzz: $target ${execs:-?} execs in ${secs}s, no crash"
  fi
done
exit $status
