#!/usr/bin/env bash
# Python: build the abi3 wheel with maturin, install it into the venv, run pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
rm -rf target/wheels/strongroom-*.whl
(cd bindings-python && ../.venv/bin/maturin build --release -q -o ../target/wheels)
$PY -m pip install -q --force-reinstall --no-deps target/wheels/strongroom-*.whl
(cd bindings-python && ../$PY -m pytest -q tests)
# The examples type-check strictly against the installed package's stubs.
$PY -m mypy --strict examples/python
