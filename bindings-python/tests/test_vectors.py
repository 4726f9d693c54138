"""tests/vectors/blob_v1.json through the Python package, and the same blobs opened
by an AES-GCM no one here wrote (pyca/cryptography) following docs/FORMAT.md."""

import json
import pathlib
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import strongroom
from strongroom import _native

VECTORS = json.loads((pathlib.Path(__file__).parents[2] / "tests" / "vectors" / "blob_v1.json").read_text())


def context_aad(ctx: dict) -> bytes:
    out = struct.pack(">H", len(ctx))
    for k in sorted(ctx, key=lambda s: s.encode()):
        for s in (k, ctx[k]):
            b = s.encode()
            out += struct.pack(">H", len(b)) + b
    return out


@pytest.mark.parametrize("v", VECTORS["blobs"], ids=lambda v: v["name"])
def test_seal_matches_vector(v):
    blob = _native.vector_seal(
        bytes.fromhex(v["material"]), bytes.fromhex(v["nonce"]), v["key_id"], v["key_version_id"],
        bytes.fromhex(v["plaintext"]), v["encryption_context"],
    )
    assert blob.hex() == v["blob"]


@pytest.mark.parametrize("v", VECTORS["blobs"], ids=lambda v: v["name"])
def test_independent_aes_gcm_opens_vector(v):
    blob = bytes.fromhex(v["blob"])
    assert blob[0] == 1
    n = blob[1]
    m = blob[2 + n]
    hdr = blob[: 3 + n + m]
    assert hdr[2 : 2 + n].decode() == v["key_id"]
    nonce, ct = blob[len(hdr) : len(hdr) + 12], blob[len(hdr) + 12 :]
    pt = AESGCM(bytes.fromhex(v["material"])).decrypt(nonce, ct, hdr + context_aad(v["encryption_context"]))
    assert pt.hex() == v["plaintext"]


def test_store_image_vector():
    s = VECTORS["store"]
    kms = strongroom.Kms.open_image(bytes.fromhex(s["image"]), passphrase=s["passphrase"])
    assert kms.describe_key(key_id=s["key_id"]).creation_date == s["creation_date"]
    d = kms.decrypt(ciphertext_blob=bytes.fromhex(s["blob"]), encryption_context=s["encryption_context"])
    assert d.plaintext.hex() == s["plaintext"]
    for neg in VECTORS["negative"]:
        if neg["material"] != VECTORS["blobs"][1]["material"]:
            continue
        # Negative blobs are under another key id than the store's: the store refuses them too.
        with pytest.raises(strongroom.StrongroomError):
            kms.decrypt(ciphertext_blob=bytes.fromhex(neg["blob"]), encryption_context=neg["encryption_context"])
