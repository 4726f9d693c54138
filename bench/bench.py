"""Python side: Encrypt (64 B) and GenerateDataKey through the strongroom wheel, against
pyca/cryptography's AESGCM doing the equivalent work in the same run. JSON lines."""

import json
import os
import statistics
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import strongroom


def median_ns(fn, rounds=31, batch=500):
    for _ in range(batch):
        fn()
    xs = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        xs.append((time.perf_counter_ns() - t) / batch)
    return statistics.median(xs)


def block_medians(ours, peer, blocks, block):
    """Medians of per-call times of `ours` and `peer`, measured in alternating blocks of
    `block` calls, so that both see the same drift over the run (as bench/bench.mjs)."""
    a, b = [], []
    for _ in range(blocks):
        for fn, out in ((ours, a), (peer, b)):
            fn()
            t = time.perf_counter_ns()
            for _ in range(block):
                fn()
            out.append((time.perf_counter_ns() - t) / block)
    return statistics.median(a), statistics.median(b)


def report(op, ours, peer_name, peer):
    print(json.dumps({"runtime": "python", "op": op, "strongroom_median_ns": round(ours), "peer": peer_name,
                      "peer_median_ns": round(peer), "ratio_vs_peer": round(peer / ours, 3)}))


kms = strongroom.Kms.memory()
key = kms.create_key()
ctx = {"app": "bench"}
pt = bytes(64)
raw = AESGCM(os.urandom(32))
aad = b"\x00\x01\x00\x03app\x00\x05bench"

report("Encrypt-64B", median_ns(lambda: kms.encrypt(key_id=key.key_id, plaintext=pt, encryption_context=ctx)),
       "cryptography AESGCM (64 B)", median_ns(lambda: raw.encrypt(os.urandom(12), pt, aad)))
report("GenerateDataKey", median_ns(lambda: kms.generate_data_key(key_id=key.key_id, encryption_context=ctx)),
       "os.urandom 32 B + cryptography AESGCM wrap", median_ns(lambda: raw.encrypt(os.urandom(12), os.urandom(32), aad)))

# Envelope bulk: 1 MiB and 64 MiB, one-shot, against cryptography's AESGCM one-shot,
# timed in alternating blocks.
for label, size, blocks, block in (("1MiB", 1 << 20, 41, 8), ("64MiB", 64 << 20, 5, 1)):
    data = b"\x5a" * size
    ct = kms.encrypt_envelope(key_ids=[key.key_id], plaintext=data, encryption_context=ctx)
    sealed = raw.encrypt(b"\x01" * 12, data, None)
    e1, e2 = block_medians(lambda: kms.encrypt_envelope(key_ids=[key.key_id], plaintext=data, encryption_context=ctx),
                           lambda: raw.encrypt(b"\x01" * 12, data, None), blocks, block)
    report(f"EnvelopeEncrypt-{label}", e1, "cryptography AESGCM one-shot", e2)
    d1, d2 = block_medians(lambda: kms.decrypt_envelope(ciphertext=ct, encryption_context=ctx),
                           lambda: raw.decrypt(b"\x01" * 12, sealed, None), blocks, block)
    report(f"EnvelopeDecrypt-{label}", d1, "cryptography AESGCM one-shot", d2)

# Asymmetric: AsymmetricSign / AsymmetricVerify / AsymmetricDecrypt through the wheel
# (AWS-LC underneath) against cryptography (OpenSSL) doing the same operation in-process.
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils  # noqa: E402

digest = __import__("hashlib").sha256(b"bench").digest()
prehashed = utils.Prehashed(hashes.SHA256())
for spec, alg in (("RSA_2048", "RSA_PSS_SHA_256"), ("EC_P256", "ECDSA_SHA_256"), ("EC_P256K", "ECDSA_SHA_256")):
    k = kms.create_key(key_spec=spec, key_usage="SIGN/VERIFY").key_id
    pub = serialization.load_pem_public_key(kms.get_public_key(key_id=k).public_key.encode())
    if spec == "RSA_2048":
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
        priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        peer_sign = lambda: priv.sign(digest, pad, prehashed)  # noqa: E731
        peer_sig = peer_sign()
        peer_verify = lambda: priv.public_key().verify(peer_sig, digest, pad, prehashed)  # noqa: E731
    else:
        priv = ec.generate_private_key(ec.SECP256R1() if spec == "EC_P256" else ec.SECP256K1())
        peer_sign = lambda: priv.sign(digest, ec.ECDSA(prehashed))  # noqa: E731
        peer_sig = peer_sign()
        peer_verify = lambda: priv.public_key().verify(peer_sig, digest, ec.ECDSA(prehashed))  # noqa: E731
    sig = kms.asymmetric_sign(key_id=k, algorithm=alg, digest=digest).value
    report(f"AsymmetricSign-{spec}", median_ns(lambda: kms.asymmetric_sign(key_id=k, algorithm=alg, digest=digest), 11, 50),
           "cryptography sign (prehashed)", median_ns(peer_sign, 11, 50))
    report(f"AsymmetricVerify-{spec}", median_ns(lambda: kms.asymmetric_verify(key_id=k, algorithm=alg, digest=digest, value=sig), 11, 50),
           "cryptography verify (prehashed)", median_ns(peer_verify, 11, 50))

k = kms.create_key(key_spec="RSA_2048").key_id
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
ct = kms.asymmetric_encrypt(key_id=k, algorithm="RSAES_OAEP_SHA_256", plaintext=os.urandom(32)).ciphertext_blob
peer_ct = priv.public_key().encrypt(os.urandom(32), oaep)
report("AsymmetricDecrypt-RSA_2048-OAEP", median_ns(lambda: kms.asymmetric_decrypt(key_id=k, algorithm="RSAES_OAEP_SHA_256", ciphertext_blob=ct), 11, 50),
       "cryptography OAEP decrypt", median_ns(lambda: priv.decrypt(peer_ct, oaep), 11, 50))

# Secrets: GetSecretValue through the dispatch, and a cached get through SecretCache
# against a bare dict.get (the goal: at least half its speed).
kms.create_secret(secret_name="bench/s", secret_data="x" * 4096)
nonce4k = os.urandom(12)
peer_ct_4k = raw.encrypt(nonce4k, b"x" * 4096, None)
report("GetSecretValue (4 KiB)", median_ns(lambda: kms.get_secret_value(secret_name="bench/s"), 11, 500),
       "AESGCM decrypt (4 KiB)", median_ns(lambda: raw.decrypt(nonce4k, peer_ct_4k, None), 11, 500))
cache = strongroom.SecretCache(kms, refresh_interval=3600)
names = [f"bench/c{i}" for i in range(100)]
for i, n in enumerate(names):
    kms.create_secret(secret_name=n, secret_data=f"v{i}")
    cache.get(n)
d = {n: object() for n in names}
it = iter(range(10**12))
report("SecretCache cached get", median_ns(lambda: cache.get(names[next(it) % 100]), 31, 20000),
       "dict.get", median_ns(lambda: d.get(names[next(it) % 100]), 31, 20000))

# Audit: Encrypt 64 B on a file store with the audit level at all (its trail beside it)
# against the same on a file store with audit off, in alternating blocks.
import tempfile  # noqa: E402

with tempfile.TemporaryDirectory() as d:
    on = strongroom.Kms.open(os.path.join(d, "on"), passphrase="bench", audit="all")
    off = strongroom.Kms.open(os.path.join(d, "off"), passphrase="bench", audit="off")
    k_on = on.create_key().key_id
    k_off = off.create_key().key_id
    a, b = block_medians(lambda: on.encrypt(key_id=k_on, plaintext=pt, encryption_context=ctx),
                         lambda: off.encrypt(key_id=k_off, plaintext=pt, encryption_context=ctx), 31, 500)
    print(json.dumps({"runtime": "python", "op": "Encrypt-64B-audit-all", "strongroom_median_ns": round(a),
                      "peer": "Encrypt-64B audit off", "peer_median_ns": round(b),
                      "cost_ratio": round(a / b, 3), "goal_cost_ratio": 1.3}))
    on.close()
    off.close()
