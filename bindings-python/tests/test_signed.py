"""Signed envelope messages (suite 0x0002) from Python: signing key, the signer a reader
reports, a required signer, the shared vectors, and tampering."""
import io
import json
import pathlib

import pytest

import strongroom
from strongroom import InvalidCiphertextError, Kms

VECTORS = json.loads((pathlib.Path(__file__).parents[2] / "tests" / "vectors" / "envelope_signed_v1.json").read_text())


def _keys(kms):
    to = kms.create_key().key_id
    signer = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY").key_id
    return to, signer


def test_signed_round_trip_reports_a_known_signer():
    kms = Kms.memory()
    to, signer = _keys(kms)
    kms.create_alias(alias_name="alias/sender", key_id=signer)
    msg = kms.encrypt_envelope(key_ids=[to], plaintext=b"signed in python", signing_key_id="alias/sender")
    r = kms.decrypt_envelope(ciphertext=msg, required_signer=signer)
    assert r.plaintext == b"signed in python"
    assert r.signer is not None and r.signer.known and r.signer.key_id == signer
    assert r.signer.public_key == kms.get_public_key(key_id=signer).public_key_der
    assert "signer=EnvelopeSigner(" in repr(r) and "signed in python" not in repr(r)
    # Streams sign and verify too.
    src, dst = io.BytesIO(b"s" * 300_000), io.BytesIO()
    kms.encrypt_stream(src, dst, key_ids=[to], signing_key_id=signer, frame_length=65536)
    out = io.BytesIO()
    info = kms.decrypt_stream(io.BytesIO(dst.getvalue()), out, required_signer="alias/sender")
    assert out.getvalue() == b"s" * 300_000 and info.signer is not None and info.signer.known
    # Unsigned: no signer; a required one refuses it.
    plain = kms.encrypt_envelope(key_ids=[to], plaintext=b"x")
    assert kms.decrypt_envelope(ciphertext=plain).signer is None
    with pytest.raises(InvalidCiphertextError) as e:
        kms.decrypt_envelope(ciphertext=plain, required_signer=signer)
    assert e.value.code == "InvalidCiphertext.SignerMismatch"
    # A symmetric key cannot sign.
    with pytest.raises(strongroom.InvalidParameterError) as e:
        kms.encrypt_envelope(key_ids=[to], plaintext=b"x", signing_key_id=to)
    assert e.value.code == "InvalidParameter.SigningKeyId"
    # A flipped signature byte.
    bad = bytearray(msg)
    bad[-3] ^= 1
    with pytest.raises(InvalidCiphertextError) as e:
        kms.decrypt_envelope(ciphertext=bytes(bad))
    assert e.value.code == "InvalidCiphertext.Signature"


def test_the_shared_vectors_open_with_their_data_key():
    dk = bytes.fromhex(VECTORS["data_key"])
    for m in VECTORS["messages"]:
        assert strongroom._native.vector_open_envelope(dk, bytes.fromhex(m["message"])) == bytes.fromhex(m["plaintext"]), m["name"]
    for n in VECTORS["negative"]:
        with pytest.raises(InvalidCiphertextError) as e:
            strongroom._native.vector_open_envelope(dk, bytes.fromhex(n["message"]))
        assert e.value.code == n["error"], n["why"]
