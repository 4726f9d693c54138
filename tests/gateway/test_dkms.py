"""Alibaba's dedicated-instance SDK, alibabacloud-dkms-gcs (PyPI), unmodified, against
`strongroom serve --dev-tls`: protobuf over HTTPS, requests signed with client keys
that `strongroom ram create-client-key` issued (PKCS#12 files with a password)."""
import hashlib
import json
import os
import tempfile

import pytest
from openapi.models import Config
from sdk import models as m
from sdk.client import Client

from conftest import Server, make_store, sr

PASSWORD = "client-key-password"


@pytest.fixture(scope="module")
def dkms():
    d = tempfile.mkdtemp(prefix="sr-gw-dkms-")
    store, _, _ = make_store(d)
    os.environ["STRONGROOM_CLIENT_KEY_PASSWORD"] = PASSWORD
    files = {}
    for user in ["app", "reader"]:
        files[user] = os.path.join(d, f"{user}-client-key.json")
        out = json.loads(sr(store, "--json", "ram", "create-client-key", user, "--out", files[user]))
        assert out["KeyId"].startswith("KAAP.") and oct(os.stat(files[user]).st_mode & 0o777) == "0o600"
    # An existing key file is never overwritten (nor removed when the call fails).
    with open(files["app"]) as f:
        before = f.read()
    with pytest.raises(RuntimeError, match="exists"):
        sr(store, "ram", "create-client-key", "app", "--out", files["app"])
    with open(files["app"]) as f:
        assert f.read() == before
    aes = json.loads(sr(store, "--json", "key", "create"))["KeyId"]
    rsa = json.loads(sr(store, "--json", "key", "create", "--key-spec", "RSA_2048", "--key-usage", "SIGN/VERIFY"))["KeyId"]
    ec = json.loads(sr(store, "--json", "key", "create", "--key-spec", "EC_P256", "--key-usage", "SIGN/VERIFY"))["KeyId"]
    secret_file = os.path.join(d, "secret")
    with open(secret_file, "w") as f:
        f.write("dkms-SRLEAK-value")
    sr(store, "secret", "create", "dkms/db", "--value-file", secret_file)
    s = Server(store, ["--dev-tls"])

    def client(user, key_file=None):
        return Client(Config(protocol="https", client_key_file=key_file or files[user], password=PASSWORD,
                             endpoint=s.endpoint, ca_file_path=s.ca))
    yield {"client": client, "aes": aes, "rsa": rsa, "ec": ec, "files": files, "dir": d, "store": store}
    assert s.stop() == 0, s.stderr


def code_of(fn):
    with pytest.raises(Exception) as e:
        fn()
    return getattr(e.value, "code", None) or str(e.value)


def test_encrypt_decrypt_and_data_keys(dkms):
    c, key = dkms["client"]("app"), dkms["aes"]
    for aad in [None, b"order-42"]:
        e = c.encrypt(m.EncryptRequest(key_id=key, plaintext=b"dkms plaintext", aad=aad))
        assert e.key_id == key and e.request_id
        d = c.decrypt(m.DecryptRequest(key_id=key, ciphertext_blob=e.ciphertext_blob, iv=e.iv, aad=aad))
        assert d.plaintext == b"dkms plaintext"
    assert code_of(lambda: c.decrypt(m.DecryptRequest(key_id=key, ciphertext_blob=e.ciphertext_blob,
                                                      iv=e.iv, aad=b"order-43"))) == "InvalidCiphertext"
    g = c.generate_data_key(m.GenerateDataKeyRequest(key_id=key, number_of_bytes=32, aad=b"x"))
    assert len(g.plaintext) == 32
    back = c.decrypt(m.DecryptRequest(key_id=key, ciphertext_blob=g.ciphertext_blob, iv=g.iv, aad=b"x"))
    assert back.plaintext == g.plaintext
    a = c.advance_encrypt(m.AdvanceEncryptRequest(key_id=key, plaintext=b"advance"))
    assert a.key_version_id
    ad = c.advance_decrypt(m.AdvanceDecryptRequest(key_id=key, ciphertext_blob=a.ciphertext_blob, iv=a.iv))
    assert ad.plaintext == b"advance" and ad.key_version_id == a.key_version_id
    ag = c.advance_generate_data_key(m.AdvanceGenerateDataKeyRequest(key_id=key, number_of_bytes=16))
    assert len(ag.plaintext) == 16 and ag.key_version_id


def test_sign_verify_public_key(dkms):
    c = dkms["client"]("app")
    for key, alg in [(dkms["rsa"], "RSA_PSS_SHA_256"), (dkms["rsa"], "RSA_PKCS1_SHA_256"), (dkms["ec"], "ECDSA_SHA_256")]:
        digest = hashlib.sha256(b"signed by the instance API").digest()
        sig = c.sign(m.SignRequest(key_id=key, algorithm=alg, message=digest, message_type="DIGEST")).signature
        assert c.verify(m.VerifyRequest(key_id=key, algorithm=alg, message=digest, signature=sig,
                                        message_type="DIGEST")).value is True
        # RAW: the server hashes the message; the signature is the same kind.
        raw = c.sign(m.SignRequest(key_id=key, algorithm=alg, message=b"signed by the instance API",
                                   message_type="RAW")).signature
        assert c.verify(m.VerifyRequest(key_id=key, algorithm=alg, message=digest, signature=raw,
                                        message_type="DIGEST")).value is True
        other = hashlib.sha256(b"something else").digest()
        assert c.verify(m.VerifyRequest(key_id=key, algorithm=alg, message=other, signature=sig,
                                        message_type="DIGEST")).value is False
        pem = c.get_public_key(m.GetPublicKeyRequest(key_id=key)).public_key
        assert pem.startswith("-----BEGIN PUBLIC KEY-----")


def test_data_key_pairs(dkms):
    """The SDK's four data key pair calls: the pair works in pyca/cryptography, the
    private key's ciphertext opens with the SDK's Decrypt and the same Aad."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    c, key = dkms["client"]("app"), dkms["aes"]
    p = c.generate_data_key_pair(m.GenerateDataKeyPairRequest(key_id=key, key_pair_spec="EC_P256", key_format="PEM",
                                                              aad=b"pair"))
    assert p.key_id == key and p.key_pair_spec == "EC_P256" and p.request_id
    priv = serialization.load_pem_private_key(p.private_key_plaintext, None)
    pub = serialization.load_pem_public_key(p.public_key)
    pub.verify(priv.sign(b"outside", ec.ECDSA(hashes.SHA256())), b"outside", ec.ECDSA(hashes.SHA256()))
    d = c.decrypt(m.DecryptRequest(key_id=key, ciphertext_blob=p.private_key_ciphertext_blob, iv=p.iv, aad=b"pair"))
    assert d.plaintext == p.private_key_plaintext
    assert code_of(lambda: c.decrypt(m.DecryptRequest(key_id=key, ciphertext_blob=p.private_key_ciphertext_blob,
                                                      iv=p.iv))) == "InvalidCiphertext"
    w = c.generate_data_key_pair_without_plaintext(m.GenerateDataKeyPairWithoutPlaintextRequest(
        key_id=key, key_pair_spec="RSA_2048", key_format="DER"))
    assert not getattr(w, "private_key_plaintext", None) and w.key_pair_spec == "RSA_2048"
    opened = c.decrypt(m.DecryptRequest(key_id=key, ciphertext_blob=w.private_key_ciphertext_blob, iv=w.iv)).plaintext
    rsa_priv = serialization.load_der_private_key(opened, None)
    assert rsa_priv.key_size == 2048
    assert rsa_priv.public_key().public_numbers() == serialization.load_der_public_key(w.public_key).public_numbers()
    a = c.advance_generate_data_key_pair(m.AdvanceGenerateDataKeyPairRequest(key_id=key, key_pair_spec="EC_P256K",
                                                                            key_format="DER"))
    assert a.key_version_id and serialization.load_der_private_key(a.private_key_plaintext, None).curve.name == "secp256k1"
    aw = c.advance_generate_data_key_pair_without_plaintext(m.AdvanceGenerateDataKeyPairWithoutPlaintextRequest(
        key_id=key, key_pair_spec="EC_P256"))
    assert aw.key_version_id == a.key_version_id and aw.public_key.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    # Policy: the read-only user may not; a spec the KMS does not make is a parameter error.
    reader = dkms["client"]("reader")
    assert code_of(lambda: reader.generate_data_key_pair(m.GenerateDataKeyPairRequest(
        key_id=key, key_pair_spec="EC_P256"))) == "Forbidden.NoPermission"
    assert code_of(lambda: c.generate_data_key_pair(m.GenerateDataKeyPairRequest(
        key_id=key, key_pair_spec="EC_SM2"))) == "InvalidParameter.KeyPairSpec"
    assert code_of(lambda: c.generate_data_key_pair(m.GenerateDataKeyPairRequest(
        key_id=dkms["ec"], key_pair_spec="EC_P256"))) == "InvalidParameter.KeySpec"


def test_secrets_and_random(dkms):
    c = dkms["client"]("app")
    v = c.get_secret_value(m.GetSecretValueRequest(secret_name="dkms/db"))
    assert v.secret_data == "dkms-SRLEAK-value" and v.version_id == "v1" and "ACSCurrent" in v.version_stages
    r = c.generate_random(m.GenerateRandomRequest(length=48))
    assert len(r.random) == 48 and r.random != c.generate_random(m.GenerateRandomRequest(length=48)).random
    assert code_of(lambda: c.generate_random(m.GenerateRandomRequest(length=0))) == "InvalidParameter.Length"
    # An action of the table (as Hash is; this SDK version has no Hash call): authorised
    # (the read-only user may not) and audited.
    reader = dkms["client"]("reader")
    assert code_of(lambda: reader.generate_random(m.GenerateRandomRequest(length=8))) == "Forbidden.NoPermission"
    import time
    for _ in range(100):
        events = [json.loads(l) for l in open(dkms["store"] + ".audit") if '"eventName":"GenerateRandom"' in l]
        if any(e["userIdentity"].get("userName") == "reader" for e in events):
            break
        time.sleep(0.05)
    assert any(e["userIdentity"].get("userName") == "app" and "errorCode" not in e for e in events)
    assert any(e["userIdentity"].get("userName") == "reader" and e.get("errorCode") == "Forbidden.NoPermission"
               for e in events)


def test_authentication_and_policy(dkms):
    key = dkms["aes"]
    # The read-only user's client key authenticates, and policy denies it Encrypt.
    reader = dkms["client"]("reader")
    assert code_of(lambda: reader.encrypt(m.EncryptRequest(key_id=key, plaintext=b"x"))) == "Forbidden.NoPermission"
    assert code_of(lambda: dkms["client"]("app").encrypt(m.EncryptRequest(key_id="no-such-key", plaintext=b"x"))) \
        == "Forbidden.KeyNotFound"
    # A file that claims the app's KeyId but holds the reader's private key.
    forged = os.path.join(dkms["dir"], "forged.json")
    with open(dkms["files"]["reader"]) as f:
        r = json.load(f)
    with open(dkms["files"]["app"]) as f:
        r["KeyId"] = json.load(f)["KeyId"]
    with open(forged, "w") as f:
        json.dump(r, f)
    assert code_of(lambda: dkms["client"]("app", forged).encrypt(m.EncryptRequest(key_id=key, plaintext=b"x"))) \
        == "SignatureDoesNotMatch"
    # The refusal is in the trail, naming the client key claimed.
    import time
    claimed = r["KeyId"]
    for _ in range(100):
        refused = [json.loads(l) for l in open(dkms["store"] + ".audit")
                   if '"SignatureDoesNotMatch"' in l and claimed in l]
        if refused:
            break
        time.sleep(0.05)
    assert refused and refused[-1]["userIdentity"]["arn"] == "unauthenticated"
    assert refused[-1]["eventName"] == "Encrypt"
    # A KeyId the store never issued.
    r["KeyId"] = "KAAP.00000000-0000-0000-0000-000000000000"
    with open(forged, "w") as f:
        json.dump(r, f)
    assert code_of(lambda: dkms["client"]("app", forged).encrypt(m.EncryptRequest(key_id=key, plaintext=b"x"))) \
        == "InvalidAccessKeyId.NotFound"


def test_the_trail_names_the_client_keys_user(dkms):
    c = dkms["client"]("app")
    c.encrypt(m.EncryptRequest(key_id=dkms["aes"], plaintext=b"audited"))
    import time
    with open(dkms["files"]["app"]) as f:
        kid = json.load(f)["KeyId"]
    for _ in range(100):
        lines = [l for l in open(dkms["store"] + ".audit")
                 if '"Encrypt"' in l and kid in l and '"errorCode"' not in l]
        if lines:
            break
        time.sleep(0.05)
    assert lines and ":user/app" in lines[-1]
