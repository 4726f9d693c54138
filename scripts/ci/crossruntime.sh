#!/usr/bin/env bash
# Cross-runtime round trips in one run (signed envelopes included): Python → Node, Chromium and the CLI (a store
# image, a blob, an envelope), Node → Python, CLI → Python (envelopes through the same
# file store), a backup Python → Node (restored into a file store) → CLI, and the file
# store's audit trail written by Python and the CLI in turn, verified by the CLI; a
# values file compacted by Node, then by the CLI, read by both. Needs the Python wheel, npm/dist and the CLI built by the earlier steps.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/xrt
rm -rf "$out" && mkdir -p "$out"
log="$out/log.txt"
cargo build -q -p strongroom-cli
cli=target/debug/strongroom
export STRONGROOM_PASSPHRASE=xrt-pass
{
  # README.md's snippets, as written, against this tree's npm package, wheel and CLI.
  .venv/bin/python tests/docs/run_readme.py target/debug
  .venv/bin/python tests/crossruntime/py_side.py produce "$out/from-python.json" "$out/store"
  node tests/crossruntime/node_side.mjs "$out/from-python.json" "$out/from-node.json"
  node npm/test/browser/run.mjs --xrt "$out/from-python.json" | grep 'cross-runtime'
  .venv/bin/python tests/crossruntime/py_side.py consume "$out/from-node.json" "$out/store"
  "$cli" --store "$out/store" decrypt --context from=python --context to=node+chromium \
    "$out/from-python.json.envelope" "$out/cli-decrypted"
  cmp "$out/cli-decrypted" "$out/from-python.json.envelope-plaintext" && echo "ok - the CLI decrypted the envelope Python made"
  "$cli" --store "$out/store" decrypt --require-signer alias/xrt-signer "$out/from-python.json.signed" "$out/cli-verified"
  cmp "$out/cli-verified" "$out/from-python.json.envelope-plaintext" && echo "ok - the CLI verified the signed envelope Python made (required signer)"
  [ "$("$cli" --store "$out/store" secret get xrt/db-password)" = "$(printf 'current from python \303\251')" ] \
    && echo "ok - the CLI read the secret Python made in its file store" \
    || { echo "not ok - the CLI read the secret Python made in its file store"; exit 1; }
  head -c 3000000 /dev/urandom > "$out/cli.envelope.plaintext"
  "$cli" --store "$out/store" encrypt --key alias/xrt --context from=cli "$out/cli.envelope.plaintext" "$out/cli.envelope"
  .venv/bin/python tests/crossruntime/py_side.py envelope "$out/cli.envelope" "$out/store"
  STRONGROOM_BACKUP_PASSPHRASE=xrt-backup-2 STRONGROOM_PASSPHRASE=xrt-cli "$cli" --store "$out/cli-restored" \
    store restore "$out/from-node.json.backup" > /dev/null
  STRONGROOM_PASSPHRASE=xrt-cli "$cli" --store "$out/cli-restored" decrypt --context from=python --context to=node+chromium \
    "$out/from-python.json.envelope" "$out/cli-restored-decrypted"
  cmp "$out/cli-restored-decrypted" "$out/from-python.json.envelope-plaintext" \
    && echo "ok - the CLI restored Node's backup (of Python's backup) and decrypted Python's envelope with it"
  # Values-file compaction: Node to generation 1, the CLI reads and compacts to 2,
  # Node reads back (one set of file names and rules in both file stores).
  node tests/crossruntime/values_compaction.mjs make "$out/vc-store"
  [ "$("$cli" --store "$out/vc-store" secret get vc/a)" = "second from node" ] \
    && echo "ok - the CLI read a value from the values file Node compacted" \
    || { echo "not ok - the CLI read a value from the values file Node compacted"; exit 1; }
  printf 'from the cli' | "$cli" --store "$out/vc-store" secret create vc/cli --value-file - > /dev/null
  printf 'temporary' | "$cli" --store "$out/vc-store" secret create vc/tmp --value-file - > /dev/null
  "$cli" --store "$out/vc-store" secret delete vc/tmp --force > /dev/null
  "$cli" --store "$out/vc-store" store compact > /dev/null
  node tests/crossruntime/values_compaction.mjs check "$out/vc-store"
  # The store's one audit trail, written in turn by Python and the CLI, verifies with
  # only the audit key's public key and ends with a final digest.
  "$cli" --store "$out/store" audit public-key > "$out/audit.pem"
  "$cli" --store "$out/store" audit verify --public-key "$out/audit.pem" --require-closed > "$out/audit-verify.txt" \
    && grep -q '"recordType":"Event"' "$out/store.audit" \
    && echo "ok - the audit trail Python and the CLI wrote in turn verifies with only its public key" \
    || { cat "$out/audit-verify.txt"; echo "not ok - the audit trail Python and the CLI wrote in turn verifies"; exit 1; }
} | tee "$log"
echo "crossruntime: $(grep -c '^ok - ' "$log") passed, $(grep -c '^not ok - ' "$log" || true) failed"
