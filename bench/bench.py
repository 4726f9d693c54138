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

# Envelope bulk: 1 MiB and 64 MiB, one-shot, against cryptography's AESGCM one-shot.
for label, size, rounds in (("1MiB", 1 << 20, 31), ("64MiB", 64 << 20, 5)):
    data = b"\x5a" * size
    ct = kms.encrypt_envelope(key_ids=[key.key_id], plaintext=data, encryption_context=ctx)
    sealed = raw.encrypt(b"\x01" * 12, data, None)
    report(f"EnvelopeEncrypt-{label}",
           median_ns(lambda: kms.encrypt_envelope(key_ids=[key.key_id], plaintext=data, encryption_context=ctx), rounds, 1),
           "cryptography AESGCM one-shot", median_ns(lambda: raw.encrypt(b"\x01" * 12, data, None), rounds, 1))
    report(f"EnvelopeDecrypt-{label}",
           median_ns(lambda: kms.decrypt_envelope(ciphertext=ct, encryption_context=ctx), rounds, 1),
           "cryptography AESGCM one-shot", median_ns(lambda: raw.decrypt(b"\x01" * 12, sealed, None), rounds, 1))
