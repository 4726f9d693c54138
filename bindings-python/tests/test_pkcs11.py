"""Python with its master keys in a PKCS#11 token: Debian's SoftHSM2, which
scripts/ci/setup.sh installs, in a token directory made for this test."""
import os
import shutil
import subprocess

import pytest

from strongroom import BackendError, Kms

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    assert os.path.exists(MODULE) and shutil.which("softhsm2-util"), \
        "install Debian's softhsm2 (scripts/ci/setup.sh does)"
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    # SoftHSM2 reads this when the module is loaded, at the first Kms.open with pkcs11.
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "py-test",
                    "--pin", "2468", "--so-pin", "1357"], check=True, capture_output=True)
    return {"module": MODULE, "token": "py-test", "pin": "2468"}


def test_keys_are_made_and_used_in_the_token(token, tmp_path):
    store = tmp_path / "store"
    with Kms.open(store, passphrase="pw", pkcs11=token) as kms:
        k = kms.create_key()
        assert k.protection_level == "HSM"
        e = kms.encrypt(key_id=k.key_id, plaintext=b"py in the token", encryption_context={"a": "b"})
        assert kms.decrypt(ciphertext_blob=e.ciphertext_blob, encryption_context={"a": "b"}).plaintext \
            == b"py in the token"
        r = kms.create_key(key_spec="RSA_2048", key_usage="SIGN/VERIFY")
        sig = kms.asymmetric_sign(key_id=r.key_id, algorithm="RSA_PSS_SHA_256", message=b"signed").value
        assert kms.asymmetric_verify(key_id=r.key_id, algorithm="RSA_PSS_SHA_256", message=b"signed",
                                     value=sig).value is True
        blob = e.ciphertext_blob
    # Reopened with the token: the keys are still there. Without it: a clear error.
    with Kms.open(store, passphrase="pw", pkcs11=token) as kms:
        assert kms.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"}).plaintext == b"py in the token"
    with Kms.open(store, passphrase="pw") as kms:
        with pytest.raises(BackendError) as err:
            kms.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"})
        assert err.value.code == "Rejected.BackendUnavailable" and "PKCS#11 token" in str(err.value)


def test_software_and_hsm_keys_in_one_store(token, tmp_path):
    store = tmp_path / "store"
    with Kms.open(store, passphrase="pw") as kms:
        old = kms.create_key().key_id
        old_blob = kms.encrypt(key_id=old, plaintext=b"before the token").ciphertext_blob
    with Kms.open(store, passphrase="pw", pkcs11=token) as kms:
        assert kms.decrypt(ciphertext_blob=old_blob).plaintext == b"before the token"
        hsm = kms.create_key()
        sw = kms.create_key(protection_level="SOFTWARE")
        assert (hsm.protection_level, sw.protection_level) == ("HSM", "SOFTWARE")
        assert kms.describe_key(key_id=old).protection_level == "SOFTWARE"
        levels = [p["Type"] for p in kms.describe_service()["ProtectionLevels"]["ProtectionLevel"]]
        assert levels == ["SOFTWARE", "HSM"]
        sw_blob = kms.encrypt(key_id=sw.key_id, plaintext=b"in-process").ciphertext_blob
        hsm_blob = kms.encrypt(key_id=hsm.key_id, plaintext=b"in the token").ciphertext_blob
    with Kms.open(store, passphrase="pw") as kms:
        assert kms.decrypt(ciphertext_blob=sw_blob).plaintext == b"in-process"
        with pytest.raises(BackendError):
            kms.decrypt(ciphertext_blob=hsm_blob)


def test_a_wrong_pin_fails_at_open(token, tmp_path):
    with pytest.raises(BackendError) as err:
        Kms.open(tmp_path / "store", passphrase="pw", pkcs11=dict(token, pin="0000"))
    assert err.value.code == "Rejected.BackendUnavailable" and "PIN" in str(err.value)


P11KIT_CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"


def test_a_long_running_process_reconnects_when_the_remote_token_comes_back(tmp_path):
    """The token behind p11-kit's RPC server goes away (the server killed) and comes
    back on the same socket: the same Kms fails clearly meanwhile, then works again."""
    import signal
    import time
    assert os.path.exists(P11KIT_CLIENT) and shutil.which("p11-kit"), \
        "install Debian's p11-kit and p11-kit-modules (scripts/ci/setup.sh does)"
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "server-softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "py-remote",
                    "--pin", "1111", "--so-pin", "2222"], check=True, capture_output=True, env=env)
    sock = tmp_path / "p11.sock"

    def serve():
        if sock.exists():
            sock.unlink()
        p = subprocess.Popen(["p11-kit", "server", "-f", "--provider", MODULE, "-n", str(sock), "pkcs11:token=py-remote"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(200):
            if sock.exists():
                return p
            time.sleep(0.05)
        raise AssertionError("p11-kit server did not start")

    server = serve()
    os.environ["P11_KIT_SERVER_ADDRESS"] = f"unix:path={sock}"
    try:
        kms = Kms.open(tmp_path / "store", passphrase="pw",
                       pkcs11={"module": P11KIT_CLIENT, "token": "py-remote", "pin": "1111"})
        key = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY").key_id
        sign = lambda: kms.asymmetric_sign(key_id=key, algorithm="ECDSA_SHA_256", digest=b"\0" * 32).value
        assert sign()
        os.killpg(server.pid, signal.SIGKILL)  # the server and its per-connection children
        server.wait()
        with pytest.raises(BackendError) as e:
            sign()
        assert e.value.code == "Rejected.BackendUnavailable"
        server = serve()
        assert sign(), "the same process signs again once the token is back"
        kms.close()
    finally:
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait()
        os.environ.pop("P11_KIT_SERVER_ADDRESS", None)
