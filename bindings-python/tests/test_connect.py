"""Kms.connect against a real `strongroom serve` over HTTPS: the same calls as the
embedded Kms (the shared suites in test_kms / test_envelope / test_asymmetric run on
it too), plus what only a served Kms has — the caller's policies, STS credentials,
the gateway's audit trail, signatures, and a gateway that is not there."""

import json
import time

import pytest

import strongroom
from strongroom import AccessDeniedError, BackendError, InvalidParameterError, Kms, RejectedError


def envelope_app(kms: Kms) -> bytes:
    """Application code that does not care where its Kms runs."""
    key = kms.create_key(description="orders").key_id
    kms.create_alias(alias_name="alias/orders", key_id=key)
    msg = kms.encrypt_envelope(key_ids=["alias/orders"], plaintext=b"order 42" * 1000,
                               encryption_context={"table": "orders"})
    out = kms.decrypt_envelope(ciphertext=msg, encryption_context={"table": "orders"})
    assert out.plaintext == b"order 42" * 1000 and out.key_id == key
    return msg


def test_embedded_to_served_is_one_line(gateway):
    envelope_app(Kms.memory())
    msg = envelope_app(gateway.connect())
    assert strongroom.__version__
    # The gateway's store opened it too: the message is an ordinary envelope.
    assert gateway.connect().decrypt_envelope(ciphertext=msg).plaintext.startswith(b"order 42")


def test_the_callers_policies_apply(gateway):
    app = gateway.connect()
    key = app.create_key().key_id
    blob = app.encrypt(key_id=key, plaintext=b"x").ciphertext_blob
    reader = gateway.connect("reader")
    assert reader.describe_key(key_id=key).key_id == key
    with pytest.raises(AccessDeniedError) as e:
        reader.encrypt(key_id=key, plaintext=b"x")
    assert e.value.code == "Forbidden.NoPermission"
    with pytest.raises(AccessDeniedError):
        reader.create_key()
    # The gateway's audit trail names the principal of each call (events are written
    # off the call's path: wait for them).
    def denied_and_allowed():
        with open(gateway.store + ".audit") as f:
            events = [json.loads(x) for x in f if x.strip()]
        events = [x for x in events if x.get("eventName") == "Encrypt"]
        return (any(x["userIdentity"].get("userName") == "reader" and x.get("errorCode") == "Forbidden.NoPermission" for x in events)
                and any(x["userIdentity"].get("userName") == "app" and "errorCode" not in x for x in events))
    deadline = time.monotonic() + 10
    while not denied_and_allowed() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert denied_and_allowed()
    assert app.decrypt(ciphertext_blob=blob).plaintext == b"x"


def test_sts_credentials_from_assume_role_decrypt_only(gateway):
    app = gateway.connect()
    key = app.create_key().key_id
    msg = app.encrypt_envelope(key_ids=[key], plaintext=b"for the browser")
    ops = gateway.connect("ops")
    creds = ops.call("AssumeRole", RoleArn=gateway.role_arn, RoleSessionName="page-1", DurationSeconds=900)["Credentials"]
    page = Kms.connect(gateway.url, access_key_id=creds["AccessKeyId"], access_key_secret=creds["AccessKeySecret"],
                       security_token=creds["SecurityToken"], ca_file=gateway.ca)
    assert page.decrypt_envelope(ciphertext=msg).plaintext == b"for the browser"
    with pytest.raises(AccessDeniedError):
        page.encrypt(key_id=key, plaintext=b"no")
    # A token that is not the one issued is refused by the gateway.
    forged = Kms.connect(gateway.url, access_key_id=creds["AccessKeyId"], access_key_secret=creds["AccessKeySecret"],
                         security_token=creds["SecurityToken"][:-4] + "AAAA", ca_file=gateway.ca)
    with pytest.raises(AccessDeniedError):
        forged.decrypt_envelope(ciphertext=msg)


def test_wrong_secret_unknown_key_and_bad_endpoints(gateway):
    bad = Kms.connect(gateway.url, access_key_id=gateway.key["AccessKeyId"], access_key_secret="wrong", ca_file=gateway.ca)
    with pytest.raises(AccessDeniedError) as e:
        bad.list_keys()
    assert e.value.code == "SignatureDoesNotMatch"
    nobody = Kms.connect(gateway.url, access_key_id="LTAInobody", access_key_secret="x", ca_file=gateway.ca)
    with pytest.raises(AccessDeniedError) as e:
        nobody.list_keys()
    assert e.value.code.startswith("InvalidAccessKeyId")
    # The development CA is not trusted by default: TLS fails, clearly.
    untrusted = Kms.connect(gateway.url, access_key_id="a", access_key_secret="b")
    with pytest.raises(BackendError) as e:
        untrusted.list_keys()
    assert e.value.code == "Rejected.BackendUnavailable"
    # Nothing listens there.
    gone = Kms.connect("https://127.0.0.1:9", access_key_id="a", access_key_secret="b", timeout=5)
    with pytest.raises(BackendError):
        gone.describe_key(key_id="k")
    for url in ["kms.example", "ftp://h", "https://h/path"]:
        with pytest.raises(InvalidParameterError) as e:
            Kms.connect(url, access_key_id="a", access_key_secret="b")
        assert e.value.code == "InvalidParameter.Endpoint"


def test_store_operations_belong_to_the_gateway(gateway, tmp_path):
    kms = gateway.connect()
    for f in [lambda: kms.create_backup(backup_passphrase="a long passphrase"),
              lambda: kms.export_image(passphrase="x"),
              lambda: kms.authenticate("a", "b"),
              lambda: kms.act_as("owner"),
              lambda: kms.store_info()]:
        with pytest.raises(RejectedError) as e:
            f()
        assert e.value.code == "Rejected.Unsupported"


def test_secrets_and_the_caching_client_through_the_gateway(gateway):
    kms = gateway.connect()
    kms.create_secret(secret_name="db/password", version_id="v1", secret_data="hunter2")
    assert kms.get_secret_value(secret_name="db/password").secret_data == "hunter2"
    kms.put_secret_value(secret_name="db/password", version_id="v2", secret_data="hunter3")
    assert kms.get_secret_value(secret_name="db/password").secret_data == "hunter3"
    assert "hunter3" not in repr(kms.get_secret_value(secret_name="db/password"))


def test_a_throttled_client_backs_off_and_gets_through():
    """A gateway throttling the AccessKey at 10 requests a second: the client waits as
    the gateway says (x-acs-retry-after) and resends, mutations too, so 25 calls in a
    row succeed and the key is made once; with max_attempts=1 some are refused with
    Alibaba's code; a policy out of range is refused by name."""
    from conftest import Gateway
    g = Gateway(minimal=True, extra_args=["--rate-per-key", "10"])
    try:
        kms = g.connect()
        start = time.monotonic()
        key = kms.create_key().key_id
        for i in range(24):
            kms.encrypt(key_id=key, plaintext=b"n%d" % i)
        assert time.monotonic() - start >= 1.0, "paced by the gateway"
        assert kms.list_keys().total_count == 1
        impatient = g.connect(max_attempts=1)
        codes = []
        for _ in range(30):
            try:
                impatient.describe_key(key_id=key)
            except RejectedError as e:
                codes.append(e.code)
        assert codes and all(c == "Throttling.User" for c in codes), codes
        for bad in (dict(max_attempts=0), dict(max_attempts=11), dict(max_delay_ms=60_001), dict(base_delay_ms=-1)):
            with pytest.raises(InvalidParameterError) as e:
                g.connect(**bad)
            assert e.value.code == "InvalidParameter.Retry", bad
    finally:
        rc, err = g.stop()
        assert rc == 0, err
