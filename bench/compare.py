"""Before/after for the Python wheel: the same operations timed in alternating
processes of two interpreters (BASE_PYTHON with another revision's wheel installed,
and this tree's .venv); medians of three processes each; JSON lines with
after_vs_before (< 1 = faster now).
Usage: BASE_PYTHON=/path/to/venv/bin/python .venv/bin/python bench/compare.py"""

import json
import os
import statistics
import subprocess
import sys

CODE = r'''
import json, statistics, time, strongroom
kms = strongroom.Kms.memory(); key = kms.create_key(); ctx = {"app": "bench"}
pt = bytes(64); big = bytes(1 << 20)
def med(fn, rounds=31, batch=300):
    for _ in range(batch): fn()
    xs = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        for _ in range(batch): fn()
        xs.append((time.perf_counter_ns() - t) / batch)
    return statistics.median(xs)
m = kms.encrypt_envelope(key_ids=[key.key_id], plaintext=big, encryption_context=ctx)
print(json.dumps({
    "Encrypt-64B": med(lambda: kms.encrypt(key_id=key.key_id, plaintext=pt, encryption_context=ctx)),
    "GenerateDataKey": med(lambda: kms.generate_data_key(key_id=key.key_id, encryption_context=ctx)),
    "EnvelopeEncrypt-1MiB": med(lambda: kms.encrypt_envelope(key_ids=[key.key_id], plaintext=big, encryption_context=ctx), 21, 8),
    "EnvelopeDecrypt-1MiB": med(lambda: kms.decrypt_envelope(ciphertext=m, encryption_context=ctx), 21, 8),
}))
'''

runs = {"before": [], "after": []}
for _ in range(3):
    for label, py in (("before", os.environ["BASE_PYTHON"]), ("after", sys.executable)):
        out = subprocess.check_output([py, "-c", CODE], cwd=os.environ.get("TMPDIR", "/tmp"))
        runs[label].append(json.loads(out))
for op in runs["before"][0]:
    b = statistics.median(r[op] for r in runs["before"])
    a = statistics.median(r[op] for r in runs["after"])
    print(json.dumps({"runtime": "python", "op": op, "before_median_ns": round(b),
                      "after_median_ns": round(a), "after_vs_before": round(a / b, 3)}))
