"""A real `strongroom serve` for the official Alibaba SDK tests.

The store gets three RAM users: `app` (AliyunKMSFullAccess), `reader`
(AliyunKMSReadOnlyAccess: its Encrypt is denied by policy) and `ops` (may assume the
role `browser`, which may only Decrypt). Their AccessKeys are read from the 0600 files
the CLI writes. SR is the CLI binary.
"""
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest

SR = os.environ.get("SR", "target/debug/strongroom")


def sr(store, *args, input=None):
    env = dict(os.environ, STRONGROOM_PASSPHRASE="gateway-test", STRONGROOM_STORE=store)
    p = subprocess.run([SR, *args], env=env, capture_output=True, text=True, input=input)
    if p.returncode != 0:
        raise RuntimeError(f"strongroom {' '.join(args)}: {p.stderr}")
    return p.stdout


class Server:
    def __init__(self, store, extra=(), env=None):
        self.store = store
        full_env = dict(os.environ, STRONGROOM_PASSPHRASE="gateway-test", **(env or {}))
        self.proc = subprocess.Popen(
            [SR, "--store", store, "serve", "--listen", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"serve did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.rsplit(" ", 1)[1].strip()
        self.endpoint = self.url.split("://", 1)[1]
        self.scheme = self.url.split("://", 1)[0]
        self.ca = None
        if self.scheme == "https":
            ca_line = self.proc.stdout.readline()
            self.ca = ca_line.rsplit(" ", 1)[1].strip()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.stderr = self.proc.stderr.read()
        return rc


def make_store(dirname):
    store = os.path.join(dirname, "store")
    sr(store, "store", "init")
    acct = None
    keys = {}
    for user, policy in [("app", "AliyunKMSFullAccess"), ("reader", "AliyunKMSReadOnlyAccess"), ("ops", None)]:
        sr(store, "ram", "create-user", user)
        if policy:
            sr(store, "ram", "attach", policy, "--system", "--user", user)
        out = os.path.join(dirname, f"{user}.json")
        sr(store, "ram", "create-access-key", user, "--out", out)
        with open(out) as f:
            keys[user] = json.load(f)
        acct = json.loads(sr(store, "--json", "ram", "get-user", user))["User"]["AccountId"]
    trust = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"RAM": [f"acs:ram::{acct}:user/ops"]}}]}
    sr(store, "ram", "create-role", "browser", "--trust-policy", json.dumps(trust))
    sr(store, "ram", "create-policy", "decrypt-only", "--document", json.dumps(
        {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*"}]}))
    sr(store, "ram", "attach", "decrypt-only", "--role", "browser")
    return store, keys, acct


@pytest.fixture(scope="session")
def world():
    d = tempfile.mkdtemp(prefix="sr-gateway-")
    store, keys, acct = make_store(d)
    s = Server(store)
    yield {"dir": d, "store": store, "keys": keys, "account": acct, "server": s}
    assert s.stop() == 0, s.stderr


@pytest.fixture(scope="session")
def tls_world(world):
    """The same store served over HTTPS with the development CA (after the plain one)."""
    # One store, one writer: the TLS server gets a copy.
    d = tempfile.mkdtemp(prefix="sr-gateway-tls-")
    store, keys, acct = make_store(d)
    s = Server(store, ["--dev-tls"])
    yield {"dir": d, "store": store, "keys": keys, "account": acct, "server": s}
    assert s.stop() == 0, s.stderr
