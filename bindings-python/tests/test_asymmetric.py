"""Asymmetric keys from Python, checked by pyca/cryptography (which no one here wrote):
our public keys load there, our signatures verify there, what it encrypts to our keys
decrypts here; plus the error codes."""

import hashlib
import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

import strongroom
from strongroom import InvalidCiphertextError, InvalidParameterError, StrongroomError

MSG = b"signed by strongroom, checked by pyca/cryptography"


@pytest.fixture(scope="module", params=["embedded", "connected"])
def kms(request):
    if request.param == "connected":
        return request.getfixturevalue("gateway").connect()
    return strongroom.Kms.memory()


def pss():
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


@pytest.mark.parametrize(
    "spec,alg",
    [
        ("RSA_2048", "RSA_PSS_SHA_256"),
        ("RSA_2048", "RSA_PKCS1_SHA_256"),
        ("RSA_3072", "RSA_PSS_SHA_256"),
        ("EC_P256", "ECDSA_SHA_256"),
        ("EC_P256K", "ECDSA_SHA_256"),
    ],
)
def test_signatures_verify_in_cryptography(kms, spec, alg):
    k = kms.create_key(key_spec=spec, key_usage="SIGN/VERIFY")
    pem = kms.get_public_key(key_id=k.key_id).public_key
    pub = serialization.load_pem_public_key(pem.encode())
    digest = hashlib.sha256(MSG).digest()
    sig = kms.asymmetric_sign(key_id=k.key_id, algorithm=alg, digest=digest).value
    if spec.startswith("RSA"):
        assert isinstance(pub, rsa.RSAPublicKey)
        pad = pss() if alg == "RSA_PSS_SHA_256" else padding.PKCS1v15()
        pub.verify(sig, MSG, pad, hashes.SHA256())
        with pytest.raises(InvalidSignature):
            pub.verify(sig, MSG + b"!", pad, hashes.SHA256())
    else:
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        assert pub.curve.name == ("secp256r1" if spec == "EC_P256" else "secp256k1")
        pub.verify(sig, MSG, ec.ECDSA(hashes.SHA256()))
        with pytest.raises(InvalidSignature):
            pub.verify(sig, MSG + b"!", ec.ECDSA(hashes.SHA256()))
    # Our own verify agrees, and the message convenience signs the same digest.
    assert kms.asymmetric_verify(key_id=k.key_id, algorithm=alg, digest=digest, value=sig).value
    assert not kms.asymmetric_verify(key_id=k.key_id, algorithm=alg, message=MSG + b"!", value=sig).value
    by_msg = kms.asymmetric_sign(key_id=k.key_id, algorithm=alg, message=MSG).value
    assert kms.asymmetric_verify(key_id=k.key_id, algorithm=alg, digest=digest, value=by_msg).value


@pytest.mark.parametrize("alg,h", [("RSAES_OAEP_SHA_256", hashes.SHA256), ("RSAES_OAEP_SHA_1", hashes.SHA1)])
def test_cryptography_encrypts_to_our_keys(kms, alg, h):
    k = kms.create_key(key_spec="RSA_2048", key_usage="ENCRYPT/DECRYPT")
    pub = serialization.load_pem_public_key(kms.get_public_key(key_id=k.key_id).public_key.encode())
    secret = os.urandom(32)
    ct = pub.encrypt(secret, padding.OAEP(mgf=padding.MGF1(h()), algorithm=h(), label=None))
    r = kms.asymmetric_decrypt(key_id=k.key_id, algorithm=alg, ciphertext_blob=ct)
    assert r.plaintext == secret
    assert "plaintext=<32 bytes>" in repr(r)
    ours = kms.asymmetric_encrypt(key_id=k.key_id, algorithm=alg, plaintext=secret).ciphertext_blob
    assert kms.asymmetric_decrypt(key_id=k.key_id, algorithm=alg, ciphertext_blob=ours).plaintext == secret
    bad = bytearray(ct)
    bad[3] ^= 1
    with pytest.raises(InvalidCiphertextError) as e:
        kms.asymmetric_decrypt(key_id=k.key_id, algorithm=alg, ciphertext_blob=bytes(bad))
    assert e.value.code == "InvalidCiphertext"


def test_alibaba_plaintext_limits(kms):
    k = kms.create_key(key_spec="RSA_2048", key_usage="ENCRYPT/DECRYPT")
    for alg, limit in (("RSAES_OAEP_SHA_256", 190), ("RSAES_OAEP_SHA_1", 214)):
        kms.asymmetric_encrypt(key_id=k.key_id, algorithm=alg, plaintext=b"x" * limit)
        with pytest.raises(InvalidParameterError) as e:
            kms.asymmetric_encrypt(key_id=k.key_id, algorithm=alg, plaintext=b"x" * (limit + 1))
        assert e.value.code == "InvalidParameter.PlaintextTooLarge"


def test_error_codes(kms):
    ec_key = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY").key_id
    aes = kms.create_key().key_id
    d = hashlib.sha256(b"x").digest()
    cases = [
        (lambda: kms.asymmetric_sign(key_id=ec_key, algorithm="ECDSA_SHA_256", digest=d[:20]), "InvalidParameter.Digest"),
        (lambda: kms.asymmetric_sign(key_id=ec_key, algorithm="ECDSA_SHA_256"), "InvalidParameter.Digest"),
        (lambda: kms.asymmetric_sign(key_id=ec_key, algorithm="ECDSA_SHA_256", digest=d, message=b"x"), "InvalidParameter.Digest"),
        (lambda: kms.asymmetric_sign(key_id=ec_key, algorithm="RSA_PSS_SHA_256", digest=d), "InvalidParameter.Algorithm"),
        (lambda: kms.asymmetric_sign(key_id=ec_key, algorithm="NOPE", digest=d), "InvalidParameter.Algorithm"),
        (lambda: kms.asymmetric_encrypt(key_id=ec_key, algorithm="RSAES_OAEP_SHA_256", plaintext=b"x"), "Rejected.KeyUsage"),
        (lambda: kms.get_public_key(key_id=aes), "InvalidParameter.KeySpec"),
        (lambda: kms.create_key(key_spec="EC_P256K", key_usage="ENCRYPT/DECRYPT"), "InvalidParameter.KeyUsage"),
    ]
    for fn, code in cases:
        with pytest.raises(StrongroomError) as e:
            fn()
        assert e.value.code == code
    kms.disable_key(key_id=ec_key)
    with pytest.raises(StrongroomError) as e:
        kms.asymmetric_sign(key_id=ec_key, algorithm="ECDSA_SHA_256", digest=d)
    assert e.value.code == "Forbidden.KeyDisabled"


def test_exported_data_keys_decrypt_in_cryptography():
    kms = strongroom.Kms.memory()
    cmk = kms.create_key().key_id
    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = priv.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    oaep = lambda h: padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)  # noqa: E731
    for alg, pad in [
        ("RSAES_OAEP_SHA_256", oaep(hashes.SHA256())),
        ("RSAES_OAEP_SHA_1", oaep(hashes.SHA1())),
        ("RSAES_PKCS1_V1_5", padding.PKCS1v15()),
    ]:
        for blob in (der, pem):
            g = kms.generate_and_export_data_key(
                key_id=cmk, public_key_blob=blob, wrapping_algorithm=alg, encryption_context={"x": "y"}, number_of_bytes=24
            )
            dk = kms.decrypt(ciphertext_blob=g.ciphertext_blob, encryption_context={"x": "y"}).plaintext
            assert len(dk) == 24
            assert priv.decrypt(g.exported_data_key, pad) == dk, alg
            e = kms.export_data_key(
                ciphertext_blob=g.ciphertext_blob, public_key_blob=blob, wrapping_algorithm=alg, encryption_context={"x": "y"}
            )
            assert priv.decrypt(e.exported_data_key, pad) == dk, alg
    with pytest.raises(InvalidParameterError) as ei:
        kms.generate_and_export_data_key(key_id=cmk, public_key_blob=der, wrapping_key_spec="RSA_4096")
    assert ei.value.code == "InvalidParameter.PublicKey"
    with pytest.raises(InvalidParameterError) as ei:
        kms.generate_and_export_data_key(key_id=cmk, public_key_blob=der, wrapping_algorithm="RSAES_OAEP_SHA_512")
    assert ei.value.code == "InvalidParameter.WrappingAlgorithm"


def test_wycheproof_sample_through_verify_signature():
    """tests/vectors/wycheproof_sample.json (every 6th Wycheproof signature vector,
    written by core/tests/asymmetric.rs) through the Python face."""
    import json
    import pathlib

    sample = json.loads((pathlib.Path(__file__).parents[2] / "tests/vectors/wycheproof_sample.json").read_text())
    vectors = sample["vectors"]
    assert len(vectors) > 200
    for v in vectors:
        ok = strongroom.verify_signature(
            public_key=bytes.fromhex(v["public_key"]),
            key_spec=v["key_spec"],
            algorithm=v["algorithm"],
            message=bytes.fromhex(v["msg"]),
            signature=bytes.fromhex(v["sig"]),
        )
        assert ok is v["valid"], (v["suite"], v["tc_id"])


def test_verify_signature_with_an_exported_public_key():
    kms = strongroom.Kms.memory()
    k = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY").key_id
    pem = kms.get_public_key(key_id=k).public_key.encode()
    sig = kms.asymmetric_sign(key_id=k, algorithm="ECDSA_SHA_256", message=b"hello").value
    assert strongroom.verify_signature(public_key=pem, key_spec="EC_P256", algorithm="ECDSA_SHA_256", message=b"hello", signature=sig)
    assert not strongroom.verify_signature(public_key=pem, key_spec="EC_P256", algorithm="ECDSA_SHA_256", message=b"other", signature=sig)
    with pytest.raises(InvalidParameterError) as ei:
        strongroom.verify_signature(public_key=pem, key_spec="EC_P256", algorithm="ECDSA_SHA_256", digest=b"short", signature=sig)
    assert ei.value.code == "InvalidParameter.Digest"


@pytest.mark.parametrize("spec,fmt", [("RSA_2048", None), ("RSA_3072", "DER"), ("EC_P256", "PEM"), ("EC_P256K", "DER")])
def test_data_key_pairs_load_and_work_in_cryptography(kms, spec, fmt):
    key_id = kms.create_key().key_id
    ctx = {"purpose": "outside"}
    p = kms.generate_data_key_pair(key_id=key_id, key_pair_spec=spec, key_format=fmt, encryption_context=ctx)
    assert p.key_id == key_id and p.key_pair_spec == spec and p.key_version_id
    der = fmt == "DER"
    load_private = serialization.load_der_private_key if der else serialization.load_pem_private_key
    load_public = serialization.load_der_public_key if der else serialization.load_pem_public_key
    if not der:
        assert p.private_key_plaintext.startswith(b"-----BEGIN PRIVATE KEY-----\n")
        assert p.public_key.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    priv = load_private(p.private_key_plaintext, None)
    pub = load_public(p.public_key)
    if spec.startswith("RSA"):
        assert isinstance(priv, rsa.RSAPrivateKey) and priv.key_size == int(spec[4:])
        sig = priv.sign(MSG, pss(), hashes.SHA256())
        pub.verify(sig, MSG, pss(), hashes.SHA256())
    else:
        assert isinstance(priv, ec.EllipticCurvePrivateKey)
        assert priv.curve.name == {"EC_P256": "secp256r1", "EC_P256K": "secp256k1"}[spec]
        pub.verify(priv.sign(MSG, ec.ECDSA(hashes.SHA256())), MSG, ec.ECDSA(hashes.SHA256()))
    assert pub.public_numbers() == priv.public_key().public_numbers()
    # The private key's ciphertext is a ciphertext blob: Decrypt with the context opens it.
    opened = kms.decrypt(ciphertext_blob=p.private_key_ciphertext_blob, encryption_context=ctx)
    assert opened.plaintext == p.private_key_plaintext
    with pytest.raises(InvalidCiphertextError):
        kms.decrypt(ciphertext_blob=p.private_key_ciphertext_blob)
    assert "<redacted>" in repr(p) and "PRIVATE" not in repr(p)
    w = kms.generate_data_key_pair_without_plaintext(key_id=key_id, key_pair_spec=spec, key_format=fmt)
    assert not hasattr(w, "private_key_plaintext") and w.public_key != p.public_key
    back = load_private(kms.decrypt(ciphertext_blob=w.private_key_ciphertext_blob).plaintext, None)
    assert back.public_key().public_numbers() == load_public(w.public_key).public_numbers()


def test_data_key_pair_errors(kms):
    key_id = kms.create_key().key_id

    def code(**kw):
        with pytest.raises(StrongroomError) as e:
            kms.generate_data_key_pair(**kw)
        return e.value.code

    assert code(key_id=key_id, key_pair_spec="Aliyun_AES_256") == "InvalidParameter.KeyPairSpec"
    assert code(key_id=key_id, key_pair_spec="EC_SM2") == "InvalidParameter.KeyPairSpec"
    assert code(key_id=key_id, key_pair_spec="EC_P256", key_format="JWK") == "InvalidParameter.KeyFormat"
    signer = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY").key_id
    assert code(key_id=signer, key_pair_spec="EC_P256") == "InvalidParameter.KeySpec"
    kms.disable_key(key_id=key_id)
    assert code(key_id=key_id, key_pair_spec="EC_P256") == "Forbidden.KeyDisabled"
    assert code(key_id="no-such-key", key_pair_spec="EC_P256") == "Forbidden.KeyNotFound"
