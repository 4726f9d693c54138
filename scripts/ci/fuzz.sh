#!/usr/bin/env bash
# A short fuzz run of the envelope parser (the long one: bash scripts/fuzz.sh 3600).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
