"""A real `strongroom serve` for the tests that run on a connected Kms (`Kms.connect`).

One gateway per session, over HTTPS with its development CA, on a fresh store whose
RAM user `app` has AliyunKMSFullAccess, `reader` AliyunKMSReadOnlyAccess, and `ops`
may assume the role `browser` (Decrypt only); `connected_kms()` is a new connected client
as `app`. The CLI is the one the Rust step built (SR, default target/debug/strongroom).
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

import strongroom

if os.environ.get("STRONGROOM_TEST_INSTALLED"):
    # scripts/ci/python.sh: the suite must test the wheel as installed, not the sources.
    assert "site-packages" in strongroom.__file__, f"testing {strongroom.__file__}, not the installed wheel"
    print(f"testing the installed wheel: {os.path.dirname(strongroom.__file__)}")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SR = os.environ.get("SR", os.path.join(ROOT, "target", "debug", "strongroom"))


def _sr(store, *args):
    env = dict(os.environ, STRONGROOM_PASSPHRASE="connect-test", STRONGROOM_STORE=store)
    p = subprocess.run([SR, *args], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"strongroom {' '.join(args)}: {p.stderr}")
    return p.stdout


class Gateway:
    def __init__(self, minimal=False, extra_args=()):
        self.extra_args = list(extra_args)
        if not os.path.exists(SR):
            raise RuntimeError(f"{SR} is missing: build the CLI first (cargo build -p strongroom-cli)")
        d = tempfile.mkdtemp(prefix="sr-connect-")
        self.dir = d
        self.store = os.path.join(d, "store")
        _sr(self.store, "store", "init")
        _sr(self.store, "ram", "create-user", "app")
        _sr(self.store, "ram", "attach", "AliyunKMSFullAccess", "--system", "--user", "app")
        if minimal:
            out = os.path.join(d, "app.json")
            _sr(self.store, "ram", "create-access-key", "app", "--out", out)
            with open(out) as f:
                self.keys = {"app": json.load(f)}
            self.key = self.keys["app"]
            self._serve()
            return
        _sr(self.store, "ram", "create-user", "reader")
        _sr(self.store, "ram", "attach", "AliyunKMSReadOnlyAccess", "--system", "--user", "reader")
        _sr(self.store, "ram", "create-user", "ops")
        self.keys = {}
        for user in ("app", "reader", "ops"):
            out = os.path.join(d, f"{user}.json")
            _sr(self.store, "ram", "create-access-key", user, "--out", out)
            with open(out) as f:
                self.keys[user] = json.load(f)
        self.key = self.keys["app"]
        self.account = json.loads(_sr(self.store, "--json", "ram", "get-user", "ops"))["User"]["AccountId"]
        self.role_arn = f"acs:ram::{self.account}:role/browser"
        trust = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"RAM": [f"acs:ram::{self.account}:user/ops"]}}]}
        _sr(self.store, "ram", "create-role", "browser", "--trust-policy", json.dumps(trust))
        _sr(self.store, "ram", "create-policy", "decrypt-only", "--document", json.dumps(
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*"}]}))
        _sr(self.store, "ram", "attach", "decrypt-only", "--role", "browser")
        _sr(self.store, "ram", "create-policy", "assume", "--document", json.dumps(
            {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": self.role_arn}]}))
        _sr(self.store, "ram", "attach", "assume", "--user", "ops")
        self._serve()

    def _serve(self):
        env = dict(os.environ, STRONGROOM_PASSPHRASE="connect-test")
        self.proc = subprocess.Popen(
            [SR, "--store", self.store, "serve", "--listen", "127.0.0.1:0", "--dev-tls", *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"serve did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.rsplit(" ", 1)[1].strip()
        self.ca = self.proc.stdout.readline().rsplit(" ", 1)[1].strip()

    def connect(self, user="app", **kw):
        key = self.keys[user]
        args = dict(access_key_id=key["AccessKeyId"], access_key_secret=key["AccessKeySecret"], ca_file=self.ca)
        args.update(kw)
        return strongroom.Kms.connect(self.url, **args)

    def stop(self):
        self.proc.terminate()
        rc = self.proc.wait(timeout=30)
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        # The store, its access keys and the gateway's CA go with the gateway.
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc, err


@pytest.fixture(scope="session")
def gateway():
    g = Gateway()
    yield g
    rc, err = g.stop()
    assert rc == 0, err


@pytest.fixture()
def fresh_gateway():
    """A gateway of its own (an empty store but for `app`), for the shared suites
    that count what a store holds."""
    g = Gateway(minimal=True)
    yield g
    rc, err = g.stop()
    assert rc == 0, err
