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


def test_a_wrong_pin_fails_at_open(token, tmp_path):
    with pytest.raises(BackendError) as err:
        Kms.open(tmp_path / "store", passphrase="pw", pkcs11=dict(token, pin="0000"))
    assert err.value.code == "Rejected.BackendUnavailable" and "PIN" in str(err.value)
