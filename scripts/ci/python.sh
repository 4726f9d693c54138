#!/usr/bin/env bash
# Python: the files a release publishes, and the test suite against the installed wheel.
# - manylinux2014 abi3 wheels (CPython >= 3.9) for x86_64 and aarch64, cross-built with
#   zig (PyPI `ziglang`) by maturin, each checked by `auditwheel show`;
# - the sdist, built into a wheel from source by pip (a clean venv, no repo paths);
# - the x86_64 wheel installed into a fresh venv, where pytest runs against the
#   installed package (checked), then stubtest (the .pyi against the installed module),
#   `mypy --strict` on the installed package and on examples/python, and the pdoc
#   reference.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$ROOT/.venv/bin:$PATH"   # maturin --zig finds `python -m ziglang` here
out=target/wheels
rm -rf "$out"
for triple in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
  (cd bindings-python && maturin build --release -q --zig --compatibility manylinux2014 --target "$triple" -o "../$out")
done
(cd bindings-python && maturin sdist -o "../$out")
for w in "$out"/*.whl; do
  arch=$(basename "$w" | sed -E 's/.*_(x86_64|aarch64)\.whl$/\1/')
  shown=$(auditwheel show "$w")
  if ! grep -q "consistent with the following platform tag:" <<<"$shown" || ! grep -q "\"manylinux_2_17_$arch\"" <<<"$shown"; then
    echo "$shown"
    echo "not ok - $(basename "$w") is not a manylinux_2_17_$arch wheel"
    exit 1
  fi
  echo "ok - $(basename "$w"): auditwheel says manylinux_2_17_$arch"
done

venv=$(mktemp -d)/venv
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q "$out"/strongroom-*-manylinux*_x86_64.whl pytest cryptography 'mypy>=1.10,<2' 'pdoc==15.0.4'
# In place, but `python -m pytest` from bindings-python/ puts only that directory and
# tests/ on sys.path (not python/): conftest.py fails the run unless `strongroom` comes
# from the venv's site-packages.
(cd bindings-python && STRONGROOM_TEST_INSTALLED=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests)
(cd "$(dirname "$venv")" && "$venv/bin/python" -m mypy.stubtest strongroom)
(cd "$(dirname "$venv")" && "$venv/bin/python" -m mypy --strict -p strongroom)
"$venv/bin/python" -m mypy --strict examples/python
# The API reference (pdoc, build/docs/python) from the installed package; any warning
# fails it (tests/test_docs.py checks that every public callable has a docstring).
rm -rf build/docs/python
(cd "$(dirname "$venv")" && "$venv/bin/python" -W error -m pdoc strongroom -o "$ROOT/build/docs/python")

# The sdist builds from source (pip, in its own clean venv; cargo reuses target/).
svenv=$(dirname "$venv")/sdist-venv
python3 -m venv "$svenv"
CARGO_TARGET_DIR="$ROOT/target" "$svenv/bin/pip" install -q "$out"/strongroom-*.tar.gz
"$svenv/bin/python" -c "import strongroom; k = strongroom.Kms.memory(); i = k.create_key().key_id; assert k.decrypt(ciphertext_blob=k.encrypt(key_id=i, plaintext=b'sdist').ciphertext_blob).plaintext == b'sdist'; print('ok - the sdist built from source and works')"

# The later steps (npm's cross-process lock test, crossruntime, the README check) drive
# the binding from the project venv: they get the wheel this step just tested.
.venv/bin/pip install -q --force-reinstall --no-deps "$out"/strongroom-*-manylinux*_x86_64.whl
echo "ok - .venv has the tested x86_64 wheel for the steps after this one"
