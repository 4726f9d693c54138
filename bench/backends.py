"""Where the keys live, and what it costs: Encrypt (64 B), Decrypt and a 64 KiB envelope
round trip through the Python wheel with master keys in-process (software), in a
PKCS#11 token (SoftHSM2), in an OpenBao transit engine (`bao server -dev` on
loopback), and through a connected Kms (`strongroom serve` on loopback, plain HTTP;
the CLI at SR, build it with --release for serving figures), in one run, in
alternating blocks.
Prints JSON lines with each median and its ratio to the in-process one.

    bash scripts/ci/setup.sh && cargo build -p strongroom-cli && \\
      .venv/bin/python bench/backends.py
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import strongroom

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BAO = os.environ.get("STRONGROOM_BAO", os.path.join(ROOT, ".venv", "bin", "bao"))
SR = os.environ.get("SR", os.path.join(ROOT, "target", "debug", "strongroom"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bao():
    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    p = subprocess.Popen([BAO, "server", "-dev", "-dev-root-token-id=bench", f"-dev-listen-address=127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(urllib.request.Request(f"{addr}/v1/sys/mounts/transit", data=b'{"type":"transit"}',
                                                          headers={"X-Vault-Token": "bench"}, method="POST"), timeout=2)
            return p, {"address": addr, "token": "bench"}
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("bao did not start")


def start_gateway():
    d = tempfile.mkdtemp(prefix="sr-bench-")
    store = os.path.join(d, "store")
    env = dict(os.environ, STRONGROOM_PASSPHRASE="bench", STRONGROOM_STORE=store)

    def sr(*a):
        subprocess.run([SR, *a], env=env, check=True, capture_output=True)

    sr("store", "init")
    sr("ram", "create-user", "app")
    sr("ram", "attach", "AliyunKMSFullAccess", "--system", "--user", "app")
    sr("ram", "create-access-key", "app", "--out", os.path.join(d, "app.json"))
    with open(os.path.join(d, "app.json")) as f:
        key = json.load(f)
    p = subprocess.Popen([SR, "--store", store, "serve", "--listen", "127.0.0.1:0"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = p.stdout.readline().rsplit(" ", 1)[1].strip()
    return p, url, key


def softhsm(d):
    module = "/usr/lib/softhsm/libsofthsm2.so"
    os.makedirs(os.path.join(d, "tokens"))
    conf = os.path.join(d, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write(f"directories.tokendir = {d}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = conf
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", "1111", "--so-pin", "2222"],
                   check=True, capture_output=True)
    return strongroom.Kms.open(os.path.join(d, "store"), passphrase="bench", audit="off",
                               pkcs11={"module": module, "token": "bench", "pin": "1111"})


def medians(fns, blocks=15, block=40):
    out = {k: [] for k in fns}
    for _ in range(blocks):
        for k, fn in fns.items():
            fn()
            t = time.perf_counter_ns()
            for _ in range(block):
                fn()
            out[k].append((time.perf_counter_ns() - t) / block)
    return {k: statistics.median(v) for k, v in out.items()}


def main():
    bao, transit = start_bao()
    gw, url, key = start_gateway()
    try:
        kinds = {
            "software": strongroom.Kms.memory(),
            "pkcs11": softhsm(tempfile.mkdtemp(prefix="sr-bench-hsm-")),
            "transit": strongroom.Kms.memory(transit=transit),
            "connected": strongroom.Kms.connect(url, access_key_id=key["AccessKeyId"],
                                                access_key_secret=key["AccessKeySecret"]),
        }
        ops = {}
        for name, kms in kinds.items():
            k = kms.create_key().key_id
            blob = kms.encrypt(key_id=k, plaintext=b"x" * 64).ciphertext_blob
            msg = kms.encrypt_envelope(key_ids=[k], plaintext=b"y" * 65536)
            ops[name] = {
                "Encrypt 64 B": lambda kms=kms, k=k: kms.encrypt(key_id=k, plaintext=b"x" * 64),
                "Decrypt 64 B": lambda kms=kms, blob=blob: kms.decrypt(ciphertext_blob=blob),
                "envelope 64 KiB round trip": lambda kms=kms, k=k: kms.decrypt_envelope(
                    ciphertext=kms.encrypt_envelope(key_ids=[k], plaintext=b"y" * 65536)),
                "DecryptEnvelope 64 KiB": lambda kms=kms, msg=msg: kms.decrypt_envelope(ciphertext=msg),
            }
        for op in ops["software"]:
            m = medians({name: ops[name][op] for name in kinds})
            for name in kinds:
                print(json.dumps({"op": op, "backend": name, "median_us": round(m[name] / 1000, 1),
                                  "ratio_vs_software": round(m[name] / m["software"], 1)}))
            sys.stdout.flush()
    finally:
        gw.terminate()
        bao.terminate()
        gw.wait()
        bao.wait()


if __name__ == "__main__":
    main()
