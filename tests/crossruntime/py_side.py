"""Cross-runtime round trip, Python side. `produce OUT STORE`: a file store (which the
CLI opens), its image, a blob and an envelope made here; `consume IN`: decrypt what
Node made; `envelope IN STORE`: decrypt an envelope the CLI made with that store."""

import json
import sys

import strongroom

mode, path = sys.argv[1], sys.argv[2]
if mode == "produce":
    kms = strongroom.Kms.open(sys.argv[3], passphrase="xrt-pass")
    k = kms.create_key(description="made in python")
    kms.create_alias(alias_name="alias/xrt", key_id=k.key_id)
    ctx = {"from": "python", "to": "node+chromium"}
    pt = "encrypted by Python, decrypted elsewhere".encode()
    e = kms.encrypt(key_id=k.key_id, plaintext=pt, encryption_context=ctx)
    big = bytes(range(256)) * 4000 + b"tail"
    env = kms.encrypt_envelope(key_ids=["alias/xrt"], plaintext=big, encryption_context=ctx, frame_length=10000)
    open(path + ".envelope", "wb").write(env)
    open(path + ".envelope-plaintext", "wb").write(big)
    # A signed envelope (suite 0x0002), signed on AWS-LC, verified elsewhere.
    signer = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY")
    kms.create_alias(alias_name="alias/xrt-signer", key_id=signer.key_id)
    signed = kms.encrypt_envelope(key_ids=["alias/xrt"], plaintext=big, encryption_context=ctx,
                                  frame_length=10000, signing_key_id="alias/xrt-signer")
    open(path + ".signed", "wb").write(signed)
    # Asymmetric keys made and used on AWS-LC: the others verify these signatures, sign
    # with the same private keys (PKCS#8 from AWS-LC, parsed by RustCrypto in wasm) and
    # encrypt to the RSA key.
    msg = b"signed by python on AWS-LC, checked elsewhere"
    asym = []
    for spec, alg in [("RSA_2048", "RSA_PSS_SHA_256"), ("RSA_2048", "RSA_PKCS1_SHA_256"),
                      ("EC_P256", "ECDSA_SHA_256"), ("EC_P256K", "ECDSA_SHA_256")]:
        ak = kms.create_key(key_spec=spec, key_usage="SIGN/VERIFY")
        sig = kms.asymmetric_sign(key_id=ak.key_id, algorithm=alg, message=msg).value
        pub = kms.get_public_key(key_id=ak.key_id).public_key
        asym.append({"key_id": ak.key_id, "spec": spec, "algorithm": alg, "public_key": pub, "signature": sig.hex()})
    # Secrets: text with two versions and a custom stage, and a binary one, under the
    # store-managed secrets key and under alias/xrt.
    kms.create_secret(secret_name="xrt/db-password", secret_data="first from python", tags={"from": "python"})
    kms.put_secret_value(secret_name="xrt/db-password", version_id="v2", secret_data="current from python \u00e9")
    kms.put_secret_value(secret_name="xrt/db-password", version_id="v3", secret_data="blue", version_stages=["blue"])
    kms.create_secret(secret_name="xrt/binary", secret_data=bytes(range(256)), encryption_key_id="alias/xrt")
    secrets = {"current": "current from python \u00e9", "previous": "first from python", "blue": "blue",
               "binary": bytes(range(256)).hex()}
    # The SecretCache's sealed disk copies (persist): Node serves them below.
    cache = strongroom.SecretCache(kms, persist={"path": path + ".cache", "key": bytes(range(32))})
    cache.get("xrt/db-password")
    cache.get("xrt/binary")
    rsa = kms.create_key(key_spec="RSA_2048")
    doc = {"passphrase": "xrt-pass", "image": kms.export_image(passphrase="xrt-pass").hex(),
           "asym": asym, "message": msg.hex(), "rsa_key_id": rsa.key_id,
           "rsa_public_key": kms.get_public_key(key_id=rsa.key_id).public_key,
           "blob": e.ciphertext_blob.hex(), "encryption_context": ctx, "plaintext": pt.hex(),
           "envelope": env.hex(), "envelope_plaintext": big.hex(), "key_id": k.key_id,
           "signed": signed.hex(), "signer_key_id": signer.key_id,
           "secrets": secrets}
    open(path, "w").write(json.dumps(doc))
    open(path + ".backup", "wb").write(kms.create_backup(backup_passphrase="xrt-backup"))
    print("ok - python produced a file store, its image, a backup, a blob and an envelope")
elif mode == "envelope":
    kms = strongroom.Kms.open(sys.argv[3], passphrase="xrt-pass")
    src = open(path, "rb")
    out = __import__("io").BytesIO()
    info = kms.decrypt_stream(src, out, encryption_context={"from": "cli"})
    assert out.getvalue() == open(path + ".plaintext", "rb").read(), "plaintext differs"
    print(f"ok - python decrypted the envelope the CLI made ({len(out.getvalue())} bytes, key {info.key_id[:8]}…)")
else:
    x = json.load(open(path))
    kms = strongroom.Kms.open_image(bytes.fromhex(x["image"]), passphrase=x["passphrase"])
    d = kms.decrypt(ciphertext_blob=bytes.fromhex(x["blob"]), encryption_context=x["encryption_context"])
    assert d.plaintext.hex() == x["plaintext"], "plaintext differs"
    print("ok - python decrypted the blob Node made")
    r = kms.decrypt_envelope(ciphertext=bytes.fromhex(x["envelope"]), encryption_context=x["encryption_context"])
    assert r.plaintext.hex() == x["envelope_plaintext"], "envelope plaintext differs"
    print("ok - python decrypted the envelope Node made")
    r = kms.decrypt_envelope(ciphertext=bytes.fromhex(x["signed"]), required_signer=x["signer_key_id"])
    assert r.plaintext.hex() == x["envelope_plaintext"] and r.signer is not None and r.signer.known
    print("ok - python verified the signed envelope Node made")
    mine = strongroom.Kms.open(sys.argv[3], passphrase="xrt-pass")
    for s in x["asym"]:
        v = mine.asymmetric_verify(key_id=s["key_id"], algorithm=s["algorithm"], message=bytes.fromhex(s["message"]),
                                   value=bytes.fromhex(s["signature"]))
        assert v.value, f"{s['spec']} {s['algorithm']}: Node's signature does not verify on AWS-LC"
    print(f"ok - python (AWS-LC) verified {len(x['asym'])} signatures Node (wasm) made with python's keys")
    for alg, ct in x["rsa_ciphertexts"].items():
        d = mine.asymmetric_decrypt(key_id=x["rsa_key_id"], algorithm=alg, ciphertext_blob=bytes.fromhex(ct))
        assert d.plaintext.hex() == x["rsa_plaintext"], alg
    print("ok - python (AWS-LC) decrypted what Node (wasm) encrypted to python's RSA key, OAEP SHA-256 and SHA-1")
