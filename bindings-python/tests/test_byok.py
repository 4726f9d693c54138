"""BYOK from Python with pyca/cryptography (which no one here wrote) on the other side:
it loads our wrapping public key and wraps the material; the material imports, and a
blob strongroom then makes opens with plain AES-GCM under that very material."""

import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import strongroom
from strongroom import InvalidParameterError, KeyStateError, RejectedError


def oaep(h):
    return padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)


def wrap(params, material, h=None):
    pub = serialization.load_der_public_key(params.public_key)
    assert pub.key_size == 2048
    return pub.encrypt(material, oaep(h or hashes.SHA256()))


def open_blob(material, blob):
    """docs/FORMAT.md §Blob: 0x01, u8 n + KeyId, u8 m + KeyVersionId, 12-byte nonce,
    ciphertext‖tag; AAD = those header bytes ‖ the context encoding (u16 0 when empty)."""
    assert blob[0] == 1
    n = blob[1]
    m = blob[2 + n]
    h = 3 + n + m
    header, nonce, ct = blob[:h], blob[h : h + 12], blob[h + 12 :]
    return AESGCM(material).decrypt(nonce, ct, header + b"\x00\x00")


@pytest.mark.parametrize("spec,size", [("Aliyun_AES_256", 32), ("Aliyun_AES_192", 24), ("Aliyun_AES_128", 16)])
def test_material_wrapped_by_pyca_imports_and_is_the_key(spec, size):
    kms = strongroom.Kms.memory()
    key = kms.create_key(key_spec=spec, origin="EXTERNAL")
    assert (key.key_state, key.origin) == ("PendingImport", "EXTERNAL")
    with pytest.raises(KeyStateError) as e:
        kms.encrypt(key_id=key.key_id, plaintext=b"x")
    assert e.value.code == "Forbidden.KeyPendingImport"

    material = os.urandom(size)
    p = kms.get_parameters_for_import(key_id=key.key_id)
    assert p.key_id == key.key_id and p.token_expire_time.endswith("Z")
    m = kms.import_key_material(key_id=key.key_id, encrypted_key_material=wrap(p, material), import_token=p.import_token)
    assert m.key_state == "Enabled"
    blob = kms.encrypt(key_id=key.key_id, plaintext=b"bring your own key").ciphertext_blob
    assert open_blob(material, blob) == b"bring your own key"

    # Delete, refuse other material, take the same back (SHA-1 OAEP this time).
    assert kms.delete_key_material(key_id=key.key_id).key_state == "PendingImport"
    p = kms.get_parameters_for_import(key_id=key.key_id, wrapping_algorithm="RSAES_OAEP_SHA_1")
    with pytest.raises(RejectedError) as e:
        kms.import_key_material(
            key_id=key.key_id, encrypted_key_material=wrap(p, os.urandom(size), hashes.SHA1()), import_token=p.import_token
        )
    assert e.value.code == "Rejected.KeyMaterialMismatch"
    kms.import_key_material(key_id=key.key_id, encrypted_key_material=wrap(p, material, hashes.SHA1()), import_token=p.import_token)
    assert kms.decrypt(ciphertext_blob=blob).plaintext == b"bring your own key"


def test_bad_input_gets_its_own_code():
    kms = strongroom.Kms.memory()
    key = kms.create_key(origin="EXTERNAL").key_id
    generated = kms.create_key().key_id
    with pytest.raises(RejectedError) as e:
        kms.get_parameters_for_import(key_id=generated)
    assert e.value.code == "Rejected.KeyOrigin"
    with pytest.raises(InvalidParameterError) as e:
        kms.get_parameters_for_import(key_id=key, wrapping_algorithm="RSAES_PKCS1_V1_5")
    assert e.value.code == "InvalidParameter.WrappingAlgorithm"
    p = kms.get_parameters_for_import(key_id=key)
    cases = [
        (wrap(p, os.urandom(16)), "InvalidParameter.EncryptedKeyMaterial"),  # 16 bytes for AES-256
        (wrap(p, os.urandom(32), hashes.SHA1()), "InvalidParameter.EncryptedKeyMaterial"),  # other hash
        (b"\x00" * 256, "InvalidParameter.EncryptedKeyMaterial"),
    ]
    for wrapped, code in cases:
        with pytest.raises(InvalidParameterError) as e:
            kms.import_key_material(key_id=key, encrypted_key_material=wrapped, import_token=p.import_token)
        assert e.value.code == code
    with pytest.raises(InvalidParameterError) as e:
        kms.import_key_material(key_id=key, encrypted_key_material=wrap(p, os.urandom(32)), import_token="bm90IGEgdG9rZW4=")
    assert e.value.code == "InvalidParameter.ImportToken"
    with pytest.raises(InvalidParameterError) as e:
        kms.import_key_material(
            key_id=key, encrypted_key_material=wrap(p, os.urandom(32)), import_token=p.import_token, key_material_expire_unix=1
        )
    assert e.value.code == "InvalidParameter.KeyMaterialExpireUnix"
    # An expiry in the future shows in the metadata.
    m = kms.import_key_material(
        key_id=key, encrypted_key_material=wrap(p, os.urandom(32)), import_token=p.import_token, key_material_expire_unix=4102444800
    )
    assert m.material_expire_time == "2100-01-01T00:00:00Z"
    with pytest.raises(RejectedError) as e:
        kms.create_key_version(key_id=key)
    assert e.value.code == "Rejected.KeyOrigin"


@pytest.mark.parametrize("spec", ["EC_P256", "EC_P256K", "RSA_2048"])
def test_asymmetric_key_made_by_pyca_imports_with_rsa_aes_key_wrap(spec):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

    if spec == "RSA_2048":
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        alg = "RSA_PSS_SHA_256"
    else:
        priv = ec.generate_private_key(ec.SECP256R1() if spec == "EC_P256" else ec.SECP256K1())
        alg = "ECDSA_SHA_256"
    pkcs8 = priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    kms = strongroom.Kms.memory()
    key = kms.create_key(key_spec=spec, key_usage="SIGN/VERIFY", origin="EXTERNAL").key_id
    p = kms.get_parameters_for_import(key_id=key, wrapping_algorithm="RSA_AES_KEY_WRAP_SHA_256")
    eph = os.urandom(32)
    wrapped = wrap(p, eph) + aes_key_wrap_with_padding(eph, pkcs8)
    assert kms.import_key_material(key_id=key, encrypted_key_material=wrapped, import_token=p.import_token).key_state == "Enabled"
    msg = b"signed by strongroom with a key pyca made"
    sig = kms.asymmetric_sign(key_id=key, algorithm=alg, message=msg).value
    if spec == "RSA_2048":
        priv.public_key().verify(sig, msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    else:
        priv.public_key().verify(sig, msg, ec.ECDSA(hashes.SHA256()))
    # GetPublicKey is the public half of what was imported.
    pem = kms.get_public_key(key_id=key).public_key.encode()
    assert pem == priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
