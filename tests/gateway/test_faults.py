"""What a hostile or broken client, an overload, a kill or a shutdown does to
`strongroom serve`: a clear error, the server stays up, nothing acknowledged is lost.
Requests are signed here with aliyun-python-sdk-core's own signer functions."""
import base64
import http.client
import json
import os
import signal
import socket
import tempfile
import threading
import time
import urllib.parse
import uuid

import pytest
from aliyunsdkcore.auth.composer import rpc_signature_composer as composer
from alibabacloud_kms20160120 import models as km

from conftest import Server, make_store, sr
from test_sdks import tea

sts_of = getattr(composer, "__compose_string_to_sign")
sign_of = getattr(composer, "__get_signature")


def signed_params(cred, action, params, method="POST", nonce=None, ts=None, version="2016-01-20"):
    p = {"Action": action, "Version": version, "Format": "JSON", "AccessKeyId": cred["AccessKeyId"],
         "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureType": "",
         "SignatureNonce": nonce or str(uuid.uuid4()),
         "Timestamp": ts or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **params}
    p["Signature"] = sign_of(sts_of(method, p), cred["AccessKeySecret"])
    return p


def post(server, body, headers=None, path="/"):
    c = http.client.HTTPConnection(server.endpoint, timeout=10)
    h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    c.request("POST", path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    out = (r.status, json.loads(data) if data else None, dict(r.getheaders()))
    c.close()
    return out


def alive(server):
    c = http.client.HTTPConnection(server.endpoint, timeout=5)
    c.request("GET", "/healthz")
    r = c.getresponse()
    return r.status == 200 and json.loads(r.read())["Status"] == "ok"


def test_replays_skew_and_malformed_requests(world):
    s, app = world["server"], world["keys"]["app"]
    body = urllib.parse.urlencode(signed_params(app, "ListKeys", {}))
    assert post(s, body)[0] == 200
    status, err, _ = post(s, body)
    assert (status, err["Code"]) == (400, "SignatureNonceUsed")
    assert err["RequestId"] and err["HostId"] and err["Recommend"]
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 16 * 60))
    assert post(s, urllib.parse.urlencode(signed_params(app, "ListKeys", {}, ts=old)))[1]["Code"] \
        == "InvalidTimeStamp.Expired"
    bad_ts = signed_params(app, "ListKeys", {}, ts="yesterday")
    assert post(s, urllib.parse.urlencode(bad_ts))[1]["Code"] == "InvalidTimeStamp.Format"
    # A parameter given twice (even with the same value) is refused, not guessed at.
    dup = urllib.parse.urlencode(signed_params(app, "DescribeKey", {"KeyId": "k"})) + "&KeyId=k"
    assert post(s, dup)[1]["Code"] == "InvalidParameter.Duplicate"
    # Bytes that are not UTF-8.
    assert post(s, urllib.parse.urlencode(signed_params(app, "ListKeys", {})) + "&X=%FF%FE")[1]["Code"] \
        == "InvalidParameter.Encoding"
    # Missing pieces.
    p = signed_params(app, "ListKeys", {})
    del p["SignatureNonce"]
    assert post(s, urllib.parse.urlencode(p))[1]["Code"] == "MissingParameter"
    p = signed_params(app, "ListKeys", {})
    del p["AccessKeyId"]
    assert post(s, urllib.parse.urlencode(p))[1]["Code"] == "MissingAccessKeyId"
    # A tampered parameter breaks the signature.
    p = signed_params(app, "DescribeKey", {"KeyId": "a"})
    p["KeyId"] = "b"
    assert post(s, urllib.parse.urlencode(p))[1]["Code"] == "SignatureDoesNotMatch"
    # The refusal is in the audit trail: a denied event naming the AccessKeyId claimed.
    for _ in range(100):
        refused = [json.loads(l) for l in open(world["store"] + ".audit")
                   if '"SignatureDoesNotMatch"' in l and '"DescribeKey"' in l]
        if refused:
            break
        time.sleep(0.05)
    assert refused, "the refused request was not audited"
    ident = refused[-1]["userIdentity"]
    assert ident["accessKeyId"] == app["AccessKeyId"] and ident["arn"] == "unauthenticated"
    assert refused[-1]["sourceIpAddress"] == "127.0.0.1"
    assert "string to sign" not in refused[-1]["errorMessage"]
    # The store's own operations are not served over the network, even to kms:*.
    for action, params in [("CreateBackup", {"BackupPassphrase": "SRLEAK-gw-backup"}), ("ExportImage", {}),
                           ("ChangePassphrase", {"NewPassphrase": "SRLEAK-gw-new"}), ("RekeyStore", {}),
                           ("CompactStore", {})]:
        status, err, _ = post(s, urllib.parse.urlencode(signed_params(app, action, params)))
        assert (status, err["Code"]) == (403, "Forbidden.NoPermission"), (action, err)
        assert "not served over the network" in err["Message"]
    # Each attempt is in the trail as a refusal by its user, without the passphrase.
    for _ in range(100):
        trail = open(world["store"] + ".audit").read()
        if '"eventName":"CompactStore"' in trail:
            break
        time.sleep(0.05)
    attempts = [json.loads(l) for l in trail.splitlines() if '"eventName":"CreateBackup"' in l]
    assert attempts and attempts[-1]["errorCode"] == "Forbidden.NoPermission"
    assert attempts[-1]["userIdentity"]["userName"] == "app"
    assert "SRLEAK" not in trail
    # Unknown action, wrong version.
    assert post(s, urllib.parse.urlencode(signed_params(app, "MineBitcoin", {})))[:2][0] == 404
    assert post(s, urllib.parse.urlencode(signed_params(app, "ListKeys", {}, version="2020-01-01")))[1]["Code"] \
        == "InvalidVersion"
    # A malformed ACS3 Authorization header.
    status, err, _ = post(s, "", {"Authorization": "ACS3-HMAC-SHA256 Credential=x"})
    assert (status, err["Code"]) == (400, "IncompleteSignature")
    status, err, _ = post(s, "", {"Authorization": "Basic dXNlcjpwYXNz"})
    assert err["Code"] == "UnsupportedSignatureMethod"
    # Unsigned x-acs-* headers are refused (they could be altered in flight).
    status, err, _ = post(s, "", {"Authorization": "ACS3-HMAC-SHA256 Credential=x,SignedHeaders=host,Signature=00",
                                  "x-acs-action": "Encrypt"})
    assert err["Code"] == "IncompleteSignature"
    assert alive(s)


def test_huge_bodies_and_slow_clients():
    d = tempfile.mkdtemp(prefix="sr-gw-limits-")
    store, keys, _ = make_store(d)
    s = Server(store, ["--max-body-bytes", "65536", "--header-timeout-ms", "500"])
    try:
        status, err, _ = post(s, "a=" + "x" * 70000)
        assert (status, err["Code"]) == (413, "Rejected.RequestTooLarge")
        # A body longer than declared chunk by chunk (no Content-Length) is cut too.
        c = socket.create_connection(("127.0.0.1", int(s.endpoint.rsplit(":", 1)[1])))
        c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
        # The server answers 413 as soon as the limit is passed and closes: the rest of
        # what this client sends may meet a closed socket (EPIPE), and the close may reset
        # the connection before the answer is read. Either way the body was cut.
        cut = False
        try:
            for _ in range(20):
                c.sendall(b"1000\r\n" + b"y" * 4096 + b"\r\n")
            c.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            cut = True
        try:
            first = c.recv(4096).split(b"\r\n")[0]
            assert b" 413 " in first, first
        except ConnectionResetError:
            assert cut, "reset without the body being cut"
        c.close()
        assert alive(s)
        # A client that never finishes its headers is disconnected; others are served.
        slow = socket.create_connection(("127.0.0.1", int(s.endpoint.rsplit(":", 1)[1])))
        slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        slow.settimeout(5)
        t0 = time.time()
        got = slow.recv(4096)
        assert time.time() - t0 < 4, "the slow client was not cut off"
        assert got == b"" or b"408" in got
        assert alive(s)
    finally:
        assert s.stop() == 0


def test_throttling_per_access_key():
    d = tempfile.mkdtemp(prefix="sr-gw-rate-")
    store, keys, _ = make_store(d)
    s = Server(store, ["--rate-per-key", "5"])
    try:
        answers = [post(s, urllib.parse.urlencode(signed_params(keys["app"], "ListKeys", {}))) for _ in range(12)]
        codes = [a[1].get("Code") if a[0] != 200 else "ok" for a in answers]
        assert codes[:5] == ["ok"] * 5 and "Throttling.User" in codes
        throttled = next(a for a in answers if a[0] == 429)
        assert int(throttled[2]["x-acs-retry-after"]) > 0
        # Another key has its own budget.
        assert post(s, urllib.parse.urlencode(signed_params(keys["reader"], "ListKeys", {})))[0] == 200
    finally:
        assert s.stop() == 0


def test_overload_is_refused_at_once_and_admitted_requests_finish():
    d = tempfile.mkdtemp(prefix="sr-gw-overload-")
    store, keys, _ = make_store(d)
    s = Server(store, ["--max-concurrency", "1"])
    try:
        port = int(s.endpoint.rsplit(":", 1)[1])
        body = urllib.parse.urlencode(signed_params(keys["app"], "ListKeys", {})).encode()
        # One request in flight, its body arriving slowly: it holds the only slot.
        held = socket.create_connection(("127.0.0.1", port))
        held.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        time.sleep(0.3)
        t0 = time.time()
        status, err, headers = post(s, urllib.parse.urlencode(signed_params(keys["app"], "ListKeys", {})))
        assert (status, err["Code"]) == (503, "ServiceUnavailable")
        assert time.time() - t0 < 1 and int(headers["x-acs-retry-after"]) > 0
        # The admitted request finishes normally once its body is in.
        held.sendall(body[10:])
        held.settimeout(5)
        assert b" 200 " in held.recv(65536).split(b"\r\n")[0]
        held.close()
        assert post(s, urllib.parse.urlencode(signed_params(keys["app"], "ListKeys", {})))[0] == 200
    finally:
        assert s.stop() == 0


def test_metrics_health_and_cors():
    d = tempfile.mkdtemp(prefix="sr-gw-ops-")
    store, keys, _ = make_store(d)
    s = Server(store, ["--cors-origin", "https://app.example"])
    try:
        c = tea(s, keys["app"])
        key = c.create_key(km.CreateKeyRequest()).body.key_metadata.key_id
        c.encrypt(km.EncryptRequest(key_id=key, plaintext="aGk="))
        conn = http.client.HTTPConnection(s.endpoint, timeout=5)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        assert 'strongroom_requests_total{action="Encrypt",code="Success"} 1' in text
        assert "strongroom_request_duration_seconds_bucket" in text
        assert "strongroom_audit_backlog_events" in text
        conn.request("OPTIONS", "/", headers={"Origin": "https://app.example",
                                              "Access-Control-Request-Method": "POST"})
        r = conn.getresponse(); r.read()
        assert r.status == 204 and r.getheader("Access-Control-Allow-Origin") == "https://app.example"
        assert "x-acs-date" in r.getheader("Access-Control-Allow-Headers")
        conn.request("OPTIONS", "/", headers={"Origin": "https://evil.example"})
        r = conn.getresponse(); r.read()
        assert r.getheader("Access-Control-Allow-Origin") is None
    finally:
        assert s.stop() == 0


def test_sigterm_drains_closes_the_trail_and_releases_the_store():
    d = tempfile.mkdtemp(prefix="sr-gw-term-")
    store, keys, _ = make_store(d)
    s = Server(store)
    c = tea(s, keys["app"])
    key = c.create_key(km.CreateKeyRequest(description="before SIGTERM")).body.key_metadata.key_id
    assert s.stop(signal.SIGTERM) == 0
    # The store opens again at once (its lock is gone), with the key, and the trail
    # ends with a final digest.
    assert key in sr(store, "--json", "key", "list")
    pem = os.path.join(d, "audit.pem")
    with open(pem, "w") as f:
        f.write(sr(store, "audit", "public-key"))
    sr(store, "audit", "verify", "--public-key", pem, "--require-closed")


def test_sigkill_under_mutation_load_loses_nothing_acknowledged():
    d = tempfile.mkdtemp(prefix="sr-gw-kill-")
    store, keys, _ = make_store(d)
    s = Server(store)
    acked, stop = [], threading.Event()

    def load():
        c = tea(s, keys["app"])
        while not stop.is_set():
            try:
                acked.append(c.create_key(km.CreateKeyRequest(description="load")).body.key_metadata.key_id)
            except Exception:
                return

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 5, "the load did not get going"
    for _ in range(50):  # the killed process's lock goes with it
        try:
            listed = json.loads(sr(store, "--json", "key", "list"))
            break
        except RuntimeError:
            time.sleep(0.1)
    ids = {k["KeyId"] for k in listed["Keys"]}
    missing = [k for k in acked if k not in ids]
    assert not missing, f"{len(missing)} acknowledged CreateKey lost"


def audit_event(store, request_id, wait_s=10):
    """The audit trail's event for `request_id` (written off the call's path: waited for)."""
    deadline = time.time() + wait_s
    while time.time() < deadline:
        with open(store + ".audit") as f:
            for line in f:
                e = json.loads(line)
                if e.get("requestId") == request_id:
                    return e
        time.sleep(0.1)
    return None


def test_metrics_token_and_trusted_proxies():
    d = tempfile.mkdtemp(prefix="sr-gw-proxy-")
    store, keys, _ = make_store(d)
    token = os.path.join(d, "metrics.token")
    with open(token, "w") as f:
        f.write("s3cret-metrics\n")
    s = Server(store, ["--metrics-token-file", token, "--trusted-proxy", "127.0.0.0/8,10.0.0.0/8"])
    try:
        conn = http.client.HTTPConnection(s.endpoint, timeout=5)
        conn.request("GET", "/metrics")
        r = conn.getresponse(); r.read()
        assert r.status == 401 and r.getheader("WWW-Authenticate") == "Bearer"
        conn.request("GET", "/metrics", headers={"Authorization": "Bearer wrong"})
        r = conn.getresponse(); r.read()
        assert r.status == 401
        conn.request("GET", "/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
        r = conn.getresponse()
        assert r.status == 200 and "strongroom_replay_nonces" in r.read().decode()
        # From a trusted proxy: the client is the right-most untrusted forwarded hop.
        p = signed_params(keys["app"], "ListKeys", {})
        st, body, _ = post(s, urllib.parse.urlencode(p),
                           headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7, 10.1.2.3"})
        assert st == 200, body
        seen = audit_event(store, body["RequestId"])
        assert seen and seen["sourceIpAddress"] == "203.0.113.7", seen
    finally:
        assert s.stop() == 0
    # Without trusted proxies the header is ignored: the peer is the client.
    s = Server(store)
    try:
        p = signed_params(keys["app"], "ListKeys", {})
        st, body, _ = post(s, urllib.parse.urlencode(p), headers={"X-Forwarded-For": "203.0.113.7"})
        assert st == 200
        seen = audit_event(store, body["RequestId"])
        assert seen and seen["sourceIpAddress"] == "127.0.0.1", seen
    finally:
        assert s.stop() == 0
    # A malformed range is a usage error at start.
    import subprocess
    from conftest import SR
    r = subprocess.run([SR, "--store", store, "serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/40"],
                       env=dict(os.environ, STRONGROOM_PASSPHRASE="gateway-test"), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "prefix length" in r.stderr, r.stderr
