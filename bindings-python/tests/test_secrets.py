"""Secrets Manager from Python: every secret action as a method (through the core's
one dispatch), redacted repr, a Python rotator, and the SecretCache caching client."""

import threading

import pytest

import strongroom
from strongroom import (
    InvalidParameterError,
    Kms,
    RejectedError,
    ResourceNotFoundError,
    ResourceStateError,
    SecretCache,
    StrongroomError,
)

VALUE = "SRLEAK-py-s3cret"


def test_every_secret_action_with_alibaba_rules(tmp_path):
    kms = Kms.memory()
    c = kms.create_secret(secret_name="db/pass", secret_data=VALUE, tags={"team": "pay"}, description="db")
    assert c.secret_name == "db/pass" and c.version_id == "v1"
    assert c.arn == "acs:kms:strongroom:local:secret/db/pass"
    v = kms.get_secret_value(secret_name="db/pass")
    assert v.secret_data == VALUE
    assert v.secret_data_type == "text"
    assert list(v.version_stages) == ["ACSCurrent"]
    assert VALUE not in repr(v) and VALUE not in str(v)

    p = kms.put_secret_value(secret_name="db/pass", version_id="v2", secret_data="second")
    assert list(p.version_stages) == ["ACSCurrent"]
    assert kms.get_secret_value(secret_name="db/pass", version_stage="ACSPrevious").secret_data == VALUE
    with pytest.raises(RejectedError) as e:
        kms.put_secret_value(secret_name="db/pass", version_id="v2", secret_data="other")
    assert e.value.code == "Rejected.ResourceExist"
    kms.update_secret_version_stage(
        secret_name="db/pass", version_stage="ACSCurrent", remove_from_version="v2", move_to_version="v1"
    )
    assert kms.get_secret_value(secret_name="db/pass").secret_data == VALUE
    ids = kms.list_secret_version_ids(secret_name="db/pass")
    assert [(x.version_id, list(x.version_stages)) for x in ids.version_ids] == [
        ("v2", ["ACSPrevious"]),
        ("v1", ["ACSCurrent"]),
    ]

    kms.create_secret(secret_name="bin", secret_data=b"\xff\x00\x01")
    b = kms.get_secret_value(secret_name="bin")
    assert b.secret_data == b"\xff\x00\x01" and b.secret_data_type == "binary"

    d = kms.describe_secret(secret_name="db/pass", fetch_tags=True)
    assert d.tags == {"team": "pay"} and d.description == "db"
    kms.tag_resource(secret_name="db/pass", tags={"env": "prod"})
    kms.untag_resource(secret_name="db/pass", tag_keys=["team"])
    assert [(t.tag_key, t.tag_value) for t in kms.list_resource_tags(secret_name="db/pass")] == [("env", "prod")]
    listed = kms.list_secrets(fetch_tags=True, filters={"TagKey": ["env"]})
    assert listed.total_count == 1 and listed.secrets[0].tags == {"env": "prod"}
    kms.update_secret(secret_name="db/pass", description="new", custom_data={"owner": "ops"})
    assert '"owner":"ops"' in kms.describe_secret(secret_name="db/pass").extended_config

    with pytest.raises(InvalidParameterError) as e:
        kms.create_secret(secret_name="bad name", secret_data="x")
    assert e.value.code == "InvalidParameter.SecretName"
    with pytest.raises(InvalidParameterError) as e:
        kms.create_secret(secret_name="big", secret_data="x" * 30721)
    assert e.value.code == "InvalidParameter.SecretData"
    with pytest.raises(InvalidParameterError):
        kms.create_secret(secret_name="n", secret_data=42)

    r = kms.delete_secret(secret_name="db/pass", recovery_window_in_days=7)
    assert r.planned_delete_time
    with pytest.raises(ResourceStateError) as e:
        kms.get_secret_value(secret_name="db/pass")
    assert e.value.code == "Rejected.ResourceInDeleteWindow"
    kms.restore_secret(secret_name="db/pass")
    kms.delete_secret(secret_name="db/pass", force_delete_without_recovery=True)
    with pytest.raises(ResourceNotFoundError) as e:
        kms.get_secret_value(secret_name="db/pass")
    assert e.value.code == "Forbidden.ResourceNotFound"
    assert kms.call("GetSecretValue", SecretName="bin")["SecretData"] == "/wAB"

    # Persisted in a store file.
    path = str(tmp_path / "store")
    k2 = Kms.open(path, passphrase="pw")
    k2.create_secret(secret_name="kept", secret_data=VALUE)
    del k2
    import gc

    gc.collect()
    assert Kms.open(path, passphrase="pw").get_secret_value(secret_name="kept").secret_data == VALUE


def test_python_rotator_steps_and_failure():
    kms = Kms.memory()
    kms.create_secret(secret_name="s", secret_data="original")
    steps = []
    fail = {"test": True}

    def rotator(step):
        steps.append((step.step, step.version_id, step.value))
        assert VALUE not in repr(step)
        if step.step == "create":
            return f"new-{step.version_id}"
        if step.step == "test" and fail["test"]:
            raise RuntimeError("the database refused it")
        return None

    kms.set_secret_rotator(rotator)
    with pytest.raises(RejectedError) as e:
        kms.rotate_secret(secret_name="s", version_id="r1")
    assert e.value.code == "Rejected.RotationFailed"
    assert "database refused" in str(e.value)
    assert kms.get_secret_value(secret_name="s").secret_data == "original"
    fail["test"] = False
    assert kms.rotate_secret(secret_name="s").version_id == "r1"
    assert kms.get_secret_value(secret_name="s").secret_data == "new-r1"
    assert steps == [
        ("create", "r1", None),
        ("set", "r1", b"new-r1"),
        ("test", "r1", b"new-r1"),
        ("set", "r1", b"new-r1"),
        ("test", "r1", b"new-r1"),
    ]
    kms.set_secret_rotator(None)
    kms.rotate_secret(secret_name="s", version_id="r2")
    assert len(kms.get_secret_value(secret_name="s").secret_data) == 32
    kms.update_secret_rotation_policy(secret_name="s", enable_automatic_rotation=True, rotation_interval="7d")
    assert kms.describe_secret(secret_name="s").automatic_rotation == "Enabled"


def test_secret_cache_single_flight_refresh_and_stale():
    kms = Kms.memory()
    kms.create_secret(secret_name="c", secret_data="one")
    now = [1000.0]
    calls = [0]
    fail = [False]
    gate = threading.Event()

    class Counting:
        def get_secret_value(self, **kw):
            calls[0] += 1
            gate.wait(5)
            if fail[0]:
                raise RejectedError("Rejected.BackendUnavailable", "down")
            return kms.get_secret_value(**kw)

    events = []
    cache = SecretCache(
        Counting(), refresh_interval=1.0, max_stale=5.0, clock=lambda: now[0], on_event=lambda e: events.append(e.type)
    )
    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("c").secret_data)) for _ in range(100)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert calls[0] == 1, "single flight"
    assert got == ["one"] * 100
    assert cache.get("c").secret_data == "one" and calls[0] == 1
    kms.put_secret_value(secret_name="c", version_id="v2", secret_data="two")
    now[0] += 1.0
    assert cache.get("c").secret_data == "two"
    assert events == ["fetch", "refresh", "changed"]
    fail[0] = True
    now[0] += 1.0
    assert cache.get("c").secret_data == "two"
    assert cache.last_error("c").code == "Rejected.BackendUnavailable"
    assert "stale" in events and "error" in events
    now[0] += 5.0
    with pytest.raises(StrongroomError):
        cache.get("c")
    fail[0] = False
    assert cache.get("c").secret_data == "two"
    before = calls[0]
    cache.refresh("c")
    cache.invalidate()
    cache.get("c")
    assert calls[0] == before + 2
    with pytest.raises(InvalidParameterError):
        SecretCache(object())
    assert strongroom.SecretValue.__dataclass_fields__["secret_data"].repr is False


def test_secret_cache_on_the_real_clock():
    import time

    kms = Kms.memory()
    kms.create_secret(secret_name="t", secret_data="one")
    calls = [0]

    class Counting:
        def get_secret_value(self, **kw):
            calls[0] += 1
            return kms.get_secret_value(**kw)

    cache = SecretCache(Counting(), refresh_interval=0.05)
    assert cache.get("t").secret_data == "one"
    kms.put_secret_value(secret_name="t", version_id="v2", secret_data="two")
    assert cache.get("t").secret_data == "one", "still within the interval"
    deadline = time.monotonic() + 5
    while cache.get("t").secret_data != "two":
        assert time.monotonic() < deadline, "never refreshed"
        time.sleep(0.01)
    assert calls[0] == 2


def test_secret_cache_getters_share_a_failed_fetch():
    """Single flight holds for failures too: 50 getters waiting on a fetch that fails
    all get its error, and the backend saw one call."""
    calls = [0]
    gate = threading.Event()

    class Down:
        def get_secret_value(self, **kw):
            calls[0] += 1
            gate.wait(5)
            raise RejectedError("Rejected.BackendUnavailable", "down")

    cache = SecretCache(Down(), clock=lambda: 0.0)
    codes = []

    def get():
        try:
            cache.get("x")
        except StrongroomError as e:
            codes.append(e.code)

    threads = [threading.Thread(target=get) for _ in range(50)]
    for t in threads:
        t.start()
    import time

    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join()
    assert codes == ["Rejected.BackendUnavailable"] * 50
    assert calls[0] == 1


def test_secret_cache_keeps_a_sealed_copy_only_when_asked(tmp_path):
    """persist: one sealed 0600 file per secret (no plaintext in it) that a restarted
    process serves while the KMS refuses; another key, a changed byte, an old copy are
    not served; invalidate removes copies; without persist nothing is written."""
    import os
    import stat

    kms = Kms.memory()
    cmk = kms.create_key().key_id
    kms.create_secret(secret_name="app/db", secret_data=VALUE, encryption_key_id=cmk)
    kms.create_secret(secret_name="app/bin", secret_data=b"\x00\x01SRLEAK", encryption_key_id=cmk)
    d = tmp_path / "copies"
    key = bytes(range(32))
    SecretCache(kms).get("app/db")
    assert not d.exists()
    with pytest.raises(InvalidParameterError) as e:
        SecretCache(kms, persist={"path": d, "key": b"short"})
    assert e.value.code == "InvalidParameter.CacheKey"

    a = SecretCache(kms, persist={"path": d, "key": key})
    a.get("app/db")
    a.get("app/bin")
    files = sorted(os.listdir(d))
    assert len(files) == 2 and all(f.endswith(".srsc") for f in files)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    for f in files:
        data = (d / f).read_bytes()
        assert data[:5] == b"SRSC\x01" and b"SRLEAK" not in data
        assert stat.S_IMODE(os.stat(d / f).st_mode) == 0o600

    kms.disable_key(key_id=cmk)
    events = []
    b = SecretCache(kms, persist={"path": d, "key": key}, on_event=events.append)
    assert b.get("app/db").secret_data == VALUE
    assert b.get("app/bin").secret_data == b"\x00\x01SRLEAK"
    assert b.last_error("app/db").code == "Forbidden.KeyDisabled"
    assert [(e.type, getattr(e.error, "code", None)) for e in events[:2]] == [
        ("error", "Forbidden.KeyDisabled"),
        ("stale", "Forbidden.KeyDisabled"),
    ]
    with pytest.raises(StrongroomError) as e:
        SecretCache(kms, persist={"path": d, "key": bytes(32)}).get("app/db")
    assert e.value.code == "Forbidden.KeyDisabled"
    with pytest.raises(StrongroomError):
        SecretCache(kms, persist={"path": d, "key": key, "max_age": 0}).get("app/db")
    name = strongroom._native.secret_cache_file_name("app/db", "ACSCurrent")
    good = (d / name).read_bytes()
    (d / name).write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(StrongroomError):
        SecretCache(kms, persist={"path": d, "key": key}).get("app/db")
    (d / name).write_bytes(good)
    c = SecretCache(kms, persist={"path": d, "key": key})
    c.invalidate("app/db")
    assert not (d / name).exists() and len(os.listdir(d)) == 1
    c.invalidate()
    assert os.listdir(d) == []


def test_a_file_store_keeps_values_in_its_values_file_and_the_vector_opens(tmp_path):
    import json
    import os
    import pathlib

    path = tmp_path / "store"
    with Kms.open(str(path), passphrase="pw") as kms:
        kms.create_secret(secret_name="big", secret_data="x" * 20000)
        kms.put_secret_value(secret_name="big", version_id="v2", secret_data="y" * 10000)
    values = (tmp_path / "store.values").read_bytes()
    assert values[:8] == b"SRSV\x01\x00\x00\x00"
    assert len(values) == 8 + 20016 + 10016
    assert path.stat().st_size < 10000  # spans, not values
    assert (tmp_path / "store.values").stat().st_mode & 0o777 == 0o600
    with Kms.open(str(path), passphrase="pw") as kms:
        assert kms.get_secret_value(secret_name="big", version_id="v1").secret_data == "x" * 20000
        kms.delete_secret(secret_name="big", force_delete_without_recovery=True)
    assert set((tmp_path / "store.values").read_bytes()[8:]) == {0}
    # Dead bytes only: compact_store rewrites the values file as generation 1 (empty
    # of values) and removes the old one.
    with Kms.open(str(path), passphrase="pw") as kms:
        kms.create_secret(secret_name="kept", secret_data="k" * 3000)
        kms.compact_store()
        assert not (tmp_path / "store.values").exists()
        assert (tmp_path / "store.values.1").stat().st_size == 8 + 3016
    with Kms.open(str(path), passphrase="pw") as kms:
        assert kms.get_secret_value(secret_name="kept").secret_data == "k" * 3000

    # tests/vectors/secrets_values_v1.json as files: the Node and Rust file stores
    # open the same bytes.
    root = pathlib.Path(__file__).resolve().parents[2]
    v = json.loads((root / "tests/vectors/secrets_values_v1.json").read_text())
    vp = tmp_path / "vector"
    vp.write_bytes(bytes.fromhex(v["store"]))
    (tmp_path / "vector.values").write_bytes(bytes.fromhex(v["values"]))
    with Kms.open(str(vp), passphrase=v["passphrase"]) as kms:
        for s in v["secrets"]:
            r = kms.get_secret_value(secret_name=s["name"], version_id=s["version_id"])
            data = r.secret_data if isinstance(r.secret_data, bytes) else r.secret_data.encode()
            assert data.hex() == s["value_hex"], (s["name"], s["version_id"])
            assert list(r.version_stages) == s["stages"]
    os.remove(tmp_path / "vector.values")
    with Kms.open(str(vp), passphrase=v["passphrase"]) as kms:
        with pytest.raises(StrongroomError) as e:
            kms.get_secret_value(secret_name="vector/db")
        assert e.value.code == "Rejected.StoreCorrupted"
