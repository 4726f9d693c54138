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


def test_results_are_derived_from_the_wire_and_drop_no_field(monkeypatch):
    """The management methods build their results from the action's Alibaba JSON by
    name (``KeyVersionId`` → ``key_version_id``), not field by field: every wire field
    of every answer must land in a field of the result class, or the face has drifted
    from the model."""
    import dataclasses

    derive = strongroom._from_wire
    seen: dict = {}

    def strict(cls, obj):
        fields = {f.name for f in dataclasses.fields(cls)}
        dropped = {k for k in obj if k != "RequestId" and strongroom._snake(k) not in fields}
        assert not dropped, f"{cls.__name__} drops wire fields {sorted(dropped)}"
        seen.setdefault(cls.__name__, set()).update(obj)
        return derive(cls, obj)

    monkeypatch.setattr(strongroom, "_from_wire", strict)
    kms = strongroom.Kms.memory()
    k = kms.create_key(description="drift")
    key_id = k.key_id
    assert k.description == "drift" and k.key_state == "Enabled" and k.delete_date is None
    kms.describe_key(key_id=key_id)
    kms.create_alias(alias_name="alias/drift", key_id=key_id)
    al = kms.list_aliases()
    assert [(a.alias_name, a.key_id) for a in al.aliases] == [("alias/drift", key_id)] and al.total_count == 1
    assert kms.list_aliases_by_key_id(key_id=key_id).aliases[0].alias_arn.endswith("alias/drift")
    kms.tag_resource(key_id=key_id, tags={"team": "a"})
    assert [(t.tag_key, t.tag_value) for t in kms.list_resource_tags(key_id=key_id)] == [("team", "a")]
    v = kms.create_key_version(key_id=key_id)
    assert kms.describe_key_version(key_id=key_id, key_version_id=v.key_version_id) == v
    assert len(kms.list_key_versions(key_id=key_id).key_versions) == 2
    m = kms.update_rotation_policy(key_id=key_id, enable_automatic_rotation=True, rotation_interval="604800s")
    assert m.automatic_rotation == "Enabled" and m.rotation_interval == "604800s" and m.next_rotation_date
    blob = kms.encrypt(key_id=key_id, plaintext=b"hi").ciphertext_blob
    k2 = kms.create_key().key_id
    r = kms.re_encrypt(ciphertext_blob=blob, destination_key_id=k2)
    assert r.source_key_id == key_id and r.key_id == k2
    assert kms.decrypt(ciphertext_blob=r.ciphertext_blob).plaintext == b"hi"
    assert kms.set_deletion_protection(key_id=key_id, enable_deletion_protection=True).deletion_protection == "Enabled"
    kms.set_deletion_protection(key_id=key_id, enable_deletion_protection=False)
    kms.update_key_description(key_id=key_id, description="d2")
    kms.disable_key(key_id=key_id)
    kms.enable_key(key_id=key_id)
    assert kms.schedule_key_deletion(key_id=k2, pending_window_in_days=7).key_state == "PendingDeletion"
    kms.cancel_key_deletion(key_id=k2)
    keys = kms.list_keys(filters={"KeyState": ["Enabled"]})
    assert {e.key_id for e in keys.keys} == {key_id, k2} and all(e.key_arn.endswith(e.key_id) for e in keys.keys)
    rsa = kms.create_key(key_spec="RSA_2048", key_usage="ENCRYPT/DECRYPT").key_id
    pk = kms.get_public_key(key_id=rsa)
    ct = kms.asymmetric_encrypt(key_id=rsa, algorithm="RSAES_OAEP_SHA_256", plaintext=b"x").ciphertext_blob
    assert kms.asymmetric_decrypt(key_id=rsa, algorithm="RSAES_OAEP_SHA_256", ciphertext_blob=ct).plaintext == b"x"
    dk = kms.generate_data_key(key_id=key_id)
    assert kms.export_data_key(ciphertext_blob=dk.ciphertext_blob, public_key_blob=pk.public_key_der).exported_data_key
    ge = kms.generate_and_export_data_key(key_id=key_id, public_key_blob=pk.public_key_der)
    assert ge.ciphertext_blob and ge.exported_data_key
    vs = kms.verify_store()
    assert vs.problems == [] and vs.key_problems == []
    assert vs.key_versions == vs.key_versions_verified >= 2
    moved = kms.re_encrypt_envelope(ciphertext=kms.encrypt_envelope(key_ids=[key_id], plaintext=b"drift"))
    assert moved.key_ids == [key_id] and moved.source_key_id == key_id
    pair = kms.generate_data_key_pair(key_id=key_id, key_pair_spec="EC_P256")
    assert pair.private_key_plaintext and pair.public_key and pair.private_key_ciphertext_blob
    kms.generate_data_key_pair_without_plaintext(key_id=key_id, key_pair_spec="EC_P256", key_format="DER")
    ext = kms.create_key(origin="EXTERNAL").key_id
    p = kms.get_parameters_for_import(key_id=ext)
    assert isinstance(p.public_key, bytes) and p.import_token and p.token_expire_time
    # The wrapping defaults are the core's: the call above sent none.
    assert len(p.public_key) == 294  # an RSA_2048 SubjectPublicKeyInfo
    assert kms.run_due() is None  # what is due (nothing here) without an action
    assert set(seen) >= {
        "KeyMetadata", "ListAliasesResult", "AliasEntry", "Tag", "KeyVersion", "ListKeyVersionsResult",
        "ReEncryptResult", "ListKeysResult", "KeyListEntry", "PublicKeyResult", "EncryptResult",
        "DecryptResult", "ExportDataKeyResult", "GenerateAndExportDataKeyResult", "ImportParameters",
        "DataKeyPairResult", "DataKeyPairWithoutPlaintextResult", "ReEncryptEnvelopeResult",
    }
