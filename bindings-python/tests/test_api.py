"""The action layer from Python: every method goes through the core's one dispatch
(Kms::call), which a hook sees call by call; ``kms.call`` reaches every action with
Alibaba's parameters and answers Alibaba's JSON."""

import base64
import re

import pytest

import strongroom
from strongroom import CallRecord, InvalidParameterError, StrongroomError


def code(fn, *a, **kw):
    with pytest.raises(StrongroomError) as e:
        fn(*a, **kw)
    return e.value.code


def test_a_mixed_workload_is_recorded_call_by_call():
    kms = strongroom.Kms.memory()
    seen: list[CallRecord] = []
    kms.set_call_hook(seen.append)
    key_id = kms.create_key().key_id
    kms.create_alias(alias_name="alias/py", key_id=key_id)
    ctx = {"app": "py"}
    e = kms.encrypt(key_id="alias/py", plaintext=b"hi", encryption_context=ctx)
    kms.decrypt(ciphertext_blob=e.ciphertext_blob, encryption_context=ctx)
    kms.generate_data_key(key_id=key_id)
    msg = kms.encrypt_envelope(key_ids=[key_id], plaintext=b"x" * 3000, encryption_context=ctx)
    kms.decrypt_envelope(ciphertext=msg, encryption_context=ctx)
    kms.list_keys()
    kms.get_random_password()
    assert code(kms.describe_key, key_id="no-such-key") == "Forbidden.KeyNotFound"
    kms.disable_key(key_id=key_id)
    assert code(kms.encrypt, key_id=key_id, plaintext=b"x") == "Forbidden.KeyDisabled"
    kms.call("DescribeService")

    arn = f"acs:kms:strongroom:local:key/{key_id}"
    alias = "acs:kms:strongroom:local:alias/py"
    assert [(r.action, r.resources, r.code) for r in seen] == [
        ("CreateKey", ["*", arn], None),
        ("CreateAlias", [arn, alias], None),
        ("Encrypt", [alias, arn], None),
        ("Decrypt", [arn], None),
        ("GenerateDataKey", [arn], None),
        ("EncryptEnvelope", [arn], None),
        ("DecryptEnvelope", [arn], None),
        ("ListKeys", ["*"], None),
        ("GetRandomPassword", ["*"], None),
        ("DescribeKey", [], "Forbidden.KeyNotFound"),
        ("DisableKey", [arn], None),
        ("Encrypt", [arn], "Forbidden.KeyDisabled"),
        ("DescribeService", ["*"], None),
    ]
    assert all(r.principal == "owner" and re.fullmatch(r"[0-9a-f-]{36}", r.request_id) for r in seen)
    assert len({r.request_id for r in seen}) == len(seen)
    kms.set_call_hook(None)
    kms.list_keys()
    assert len(seen) == 13


def test_a_hook_that_raises_changes_nothing(monkeypatch):
    kms = strongroom.Kms.memory()
    raised = []
    monkeypatch.setattr("sys.unraisablehook", lambda u: raised.append(u.exc_value))

    def bad(_r: CallRecord) -> None:
        raise RuntimeError("hook failed")

    kms.set_call_hook(bad)
    assert kms.list_keys().total_count == 0
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError)


def test_call_speaks_alibaba_parameters_and_answers_alibaba_json():
    kms = strongroom.Kms.memory()
    k = kms.call("CreateKey", Description="wire")
    assert re.fullmatch(r"[0-9a-f-]{36}", k["RequestId"])
    key_id = k["KeyMetadata"]["KeyId"]
    assert k["KeyMetadata"]["KeyState"] == "Enabled"
    e = kms.call("Encrypt", KeyId=key_id, Plaintext=b"hi", EncryptionContext={"a": "b"})
    # The same blob opens through the typed method: one dispatch, one format.
    d = kms.decrypt(ciphertext_blob=base64.b64decode(e["CiphertextBlob"]), encryption_context={"a": "b"})
    assert d.plaintext == b"hi"
    d2 = kms.call("Decrypt", CiphertextBlob=e["CiphertextBlob"], EncryptionContext='{"a":"b"}')
    assert base64.b64decode(d2["Plaintext"]) == b"hi"
    assert kms.call("ListKeys", PageSize="1")["Keys"]["Key"][0]["KeyId"] == key_id
    assert "DescribeService" in kms.call("DescribeService")["Actions"]["Action"]
    assert code(kms.call, "NoSuchAction") == "InvalidAction.NotFound"
    assert code(kms.call, "DescribeKey") == "InvalidParameter.KeyId"
    assert code(kms.call, "DescribeKey", KeyId=key_id, Typo=1) == "InvalidParameter.Request"
    assert code(kms.call, "ListKeys", PageSize=0) == "InvalidParameter.Limit"
    assert code(kms.call, "Encrypt", KeyId=key_id, Plaintext=object()) == "InvalidParameter.Request"


@pytest.mark.parametrize("bad", [-1, 2**32, 2**70, 1.5, "2", True])
def test_a_bad_page_is_invalid_parameter_limit_everywhere(bad):
    kms = strongroom.Kms.memory()
    key_id = kms.create_key().key_id
    for fn, kw in [
        (kms.list_keys, {}),
        (kms.list_aliases, {}),
        (kms.list_aliases_by_key_id, {"key_id": key_id}),
        (kms.list_key_versions, {"key_id": key_id}),
    ]:
        for arg in ("page_number", "page_size"):
            with pytest.raises(InvalidParameterError) as e:
                fn(**kw, **{arg: bad})
            assert e.value.code == "InvalidParameter.Limit"


def test_get_public_key_gives_the_der_too():
    kms = strongroom.Kms.memory()
    k = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY")
    pk = kms.get_public_key(key_id=k.key_id)
    body = "".join(l for l in pk.public_key.splitlines() if not l.startswith("-----"))
    assert pk.public_key_der == base64.b64decode(body)
    assert len(pk.public_key_der) == 91  # P-256 SubjectPublicKeyInfo


def test_every_action_of_the_core_table_has_a_method():
    kms = strongroom.Kms.memory()
    actions = kms.call("DescribeService")["Actions"]["Action"]
    assert len(actions) >= 40
    snake = lambda a: re.sub(r"(?<!^)(?=[A-Z])", "_", a).lower()
    assert [a for a in actions if not callable(getattr(kms, snake(a), None))] == []
    assert kms.describe_service()["Actions"]["Action"] == actions


def test_generate_random_and_hash_go_through_the_dispatch():
    kms = strongroom.Kms.memory()
    seen = []
    kms.set_call_hook(lambda r: seen.append(r.action))
    a = kms.generate_random(length=32)
    assert isinstance(a, bytes) and len(a) == 32 and a != kms.generate_random(length=32)
    for bad in (0, 1025, -1, 2**70):
        assert code(kms.generate_random, length=bad) == "InvalidParameter.Length", bad
    algorithm, digest = kms.hash(message=b"abc")
    assert algorithm == "SHA-256"
    assert digest.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert len(kms.hash(message=b"abc", algorithm="SHA-384")[1]) == 48
    assert code(kms.hash, message=b"abc", algorithm="SM3") == "InvalidParameter.Algorithm"
    assert "GenerateRandom" in seen and "Hash" in seen
