"""`strongroom serve` with its keys in a remote HSM: SoftHSM2 behind p11-kit's RPC
server, reached through p11-kit's client module. The HSM frozen mid-service (SIGSTOP)
→ a timely 503 with Rejected.BackendUnavailable, no hung request; thawed → calls
succeed again; its server killed and started again → the running gateway reconnects."""
import base64
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest
from alibabacloud_kms20160120 import models as km
from alibabacloud_tea_util import models as um

from conftest import SR, Server
from test_sdks import tea

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"


def run(env, *args):
    p = subprocess.run([SR, *args], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_a_frozen_hsm_is_a_timely_503_and_calls_recover():
    assert os.path.exists(SOFTHSM) and os.path.exists(CLIENT), "scripts/ci/setup.sh installs softhsm2 and p11-kit"
    d = tempfile.mkdtemp(prefix="sr-gw-hsm-")
    os.mkdir(os.path.join(d, "tokens"))
    conf = os.path.join(d, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write(f"directories.tokendir = {d}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
    hsm_env = dict(os.environ, SOFTHSM2_CONF=conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "gw-remote", "--pin", "1111",
                    "--so-pin", "2222"], env=hsm_env, check=True, capture_output=True)
    sock = os.path.join(d, "p11.sock")
    hsm = subprocess.Popen(["p11-kit", "server", "-f", "--provider", SOFTHSM, "-n", sock, "pkcs11:token=gw-remote"],
                           env=hsm_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    p11 = {"STRONGROOM_PKCS11_MODULE": CLIENT, "STRONGROOM_PKCS11_TOKEN": "gw-remote",
           "STRONGROOM_PKCS11_PIN": "1111", "P11_KIT_SERVER_ADDRESS": f"unix:path={sock}"}
    env = dict(os.environ, STRONGROOM_PASSPHRASE="gateway-test", STRONGROOM_STORE=os.path.join(d, "store"), **p11)
    server = None
    try:
        run(env, "store", "init")
        run(env, "ram", "create-user", "app")
        run(env, "ram", "attach", "AliyunKMSFullAccess", "--system", "--user", "app")
        run(env, "ram", "create-access-key", "app", "--out", os.path.join(d, "app.json"))
        key = json.loads(run(env, "--json", "key", "create", "--key-spec", "RSA_2048", "--key-usage", "SIGN/VERIFY"))
        assert key["ProtectionLevel"] == "HSM"
        with open(os.path.join(d, "app.json")) as f:
            cred = json.load(f)
        server = Server(os.path.join(d, "store"), ["--request-timeout-ms", "1500"], env=p11)
        c = tea(server, cred)
        req = km.AsymmetricSignRequest(key_id=key["KeyId"], key_version_id=key["PrimaryKeyVersion"],
                                       algorithm="RSA_PSS_SHA_256", digest=base64.b64encode(b"\0" * 32).decode())
        once = um.RuntimeOptions(autoretry=False, max_attempts=1, read_timeout=20000)
        assert c.asymmetric_sign_with_options(req, once).body.value
        # The HSM freezes: the call is answered in bounded time, with the backend's code.
        os.killpg(hsm.pid, signal.SIGSTOP)
        t = time.time()
        with pytest.raises(Exception) as e:
            c.asymmetric_sign_with_options(req, once)
        assert (e.value.code, e.value.status_code) == ("Rejected.BackendUnavailable", 503)
        assert time.time() - t < 5
        # The server itself still answers.
        assert tea(server, cred).list_keys(km.ListKeysRequest()).body.total_count >= 1
        # The HSM comes back: so do the calls.
        os.killpg(hsm.pid, signal.SIGCONT)
        for _ in range(50):
            try:
                assert c.asymmetric_sign_with_options(req, once).body.value
                break
            except Exception:
                time.sleep(0.1)
        else:
            raise AssertionError("calls did not recover after the HSM came back")
        # The HSM's server dies and a new one starts on the same socket: the running
        # gateway reconnects (the module is initialized again) without a restart.
        os.killpg(hsm.pid, signal.SIGKILL)
        hsm.wait()
        with pytest.raises(Exception) as e:
            c.asymmetric_sign_with_options(req, once)
        assert e.value.code == "Rejected.BackendUnavailable"
        os.unlink(sock)
        hsm = subprocess.Popen(["p11-kit", "server", "-f", "--provider", SOFTHSM, "-n", sock, "pkcs11:token=gw-remote"],
                               env=hsm_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        assert c.asymmetric_sign_with_options(req, once).body.value
    finally:
        try:
            os.killpg(hsm.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        if server:
            server.stop()
        os.killpg(hsm.pid, signal.SIGKILL)
