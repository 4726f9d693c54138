"""Cross-runtime round trip, Python side. `produce OUT`: a store image + blob made
here; `consume IN`: decrypt what Node made."""

import json
import sys

import strongroom

mode, path = sys.argv[1], sys.argv[2]
if mode == "produce":
    kms = strongroom.Kms.memory()
    k = kms.create_key(description="made in python")
    ctx = {"from": "python", "to": "node+chromium"}
    pt = "encrypted by Python, decrypted elsewhere".encode()
    e = kms.encrypt(key_id=k.key_id, plaintext=pt, encryption_context=ctx)
    doc = {"passphrase": "xrt-pass", "image": kms.export_image(passphrase="xrt-pass").hex(),
           "blob": e.ciphertext_blob.hex(), "encryption_context": ctx, "plaintext": pt.hex()}
    open(path, "w").write(json.dumps(doc))
    print("ok - python produced a store image and blob")
else:
    x = json.load(open(path))
    kms = strongroom.Kms.open_image(bytes.fromhex(x["image"]), passphrase=x["passphrase"])
    d = kms.decrypt(ciphertext_blob=bytes.fromhex(x["blob"]), encryption_context=x["encryption_context"])
    assert d.plaintext.hex() == x["plaintext"], "plaintext differs"
    print("ok - python decrypted the blob Node made")
