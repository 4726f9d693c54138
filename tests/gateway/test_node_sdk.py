"""npm's @alicloud/kms20160120 (installed by scripts/ci/gateway.sh from
tests/gateway/node/package-lock.json), unmodified, against `strongroom serve`."""
import os
import subprocess


def test_npm_kms_sdk(world):
    s, d = world["server"], world["dir"]
    here = os.path.dirname(__file__)
    env = dict(os.environ, ENDPOINT=s.endpoint, PROTOCOL=s.scheme,
               APP_KEY=os.path.join(d, "app.json"), READER_KEY=os.path.join(d, "reader.json"))
    p = subprocess.run(["node", os.path.join(here, "node", "sdk.mjs")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("ok - ") == 9, p.stdout
