"""The Python face of strongroom: every action, its errors, and the async backend seam
(the same tests run with the wire-protocol loopback transport, and on a Kms connected
to a real `strongroom serve` over HTTPS)."""

import os

import pytest

import strongroom
from strongroom import (
    BackendServer,
    InvalidCiphertextError,
    InvalidParameterError,
    KeyNotFoundError,
    Kms,
    RejectedError,
    StrongroomError,
    WrongPassphraseError,
)


@pytest.fixture(params=["software", "loopback", "connected"])
def kms(request):
    if request.param == "software":
        return Kms.memory()
    if request.param == "connected":
        return request.getfixturevalue("fresh_gateway").connect()
    server = BackendServer.software(Kms.memory())
    calls = []

    def transport(req: bytes) -> bytes:
        calls.append(len(req))
        return server.handle(req)

    k = Kms.memory(transport=transport, client_key=server.create_client())
    k._calls = calls  # for the seam assertion
    return k


def test_create_describe_list(kms):
    m = kms.create_key(description="py key")
    assert m.key_spec == "Aliyun_AES_256"
    assert m.key_usage == "ENCRYPT/DECRYPT"
    assert m.key_state == "Enabled"
    assert m.protection_level == "SOFTWARE"
    assert kms.describe_key(key_id=m.key_id) == m
    kms.create_key(key_spec="Aliyun_AES_128")
    page = kms.list_keys(page_size=1)
    assert page.total_count == 2 and len(page.keys) == 1
    assert page.keys[0].key_id == m.key_id


def test_encrypt_decrypt_and_context(kms):
    k = kms.create_key()
    e = kms.encrypt(key_id=k.key_id, plaintext=b"hello", encryption_context={"b": "2", "a": "1"})
    d = kms.decrypt(ciphertext_blob=e.ciphertext_blob, encryption_context={"a": "1", "b": "2"})
    assert d.plaintext == b"hello" and d.key_id == k.key_id and d.key_version_id == e.key_version_id
    assert "hello" not in repr(d)
    with pytest.raises(InvalidCiphertextError) as ei:
        kms.decrypt(ciphertext_blob=e.ciphertext_blob, encryption_context={"a": "1"})
    assert ei.value.code == "InvalidCiphertext"
    for i in range(len(e.ciphertext_blob) * 8):
        t = bytearray(e.ciphertext_blob)
        t[i // 8] ^= 1 << (i % 8)
        with pytest.raises(StrongroomError) as ei:
            kms.decrypt(ciphertext_blob=bytes(t), encryption_context={"a": "1", "b": "2"})
        assert ei.value.code in ("InvalidCiphertext", "Forbidden.KeyNotFound", "Forbidden.KeyVersionNotFound")
    if hasattr(kms, "_calls"):
        assert len(kms._calls) > 0  # really went through the transport


def test_data_keys(kms):
    k = kms.create_key()
    g = kms.generate_data_key(key_id=k.key_id, encryption_context={"f": "x"})
    assert len(g.plaintext) == 32 and "redacted" in repr(g)
    assert kms.decrypt(ciphertext_blob=g.ciphertext_blob, encryption_context={"f": "x"}).plaintext == g.plaintext
    assert len(kms.generate_data_key(key_id=k.key_id, key_spec="AES_128").plaintext) == 16
    assert len(kms.generate_data_key(key_id=k.key_id, number_of_bytes=5).plaintext) == 5
    w = kms.generate_data_key_without_plaintext(key_id=k.key_id)
    assert not hasattr(w, "plaintext")
    assert len(kms.decrypt(ciphertext_blob=w.ciphertext_blob).plaintext) == 32


def test_bad_input(kms):
    k = kms.create_key()
    cases = [
        (lambda: kms.encrypt(key_id=k.key_id, plaintext=b"x" * 6145), "InvalidParameter.PlaintextTooLarge"),
        (lambda: kms.encrypt(key_id=k.key_id, plaintext=b""), "InvalidParameter.Plaintext"),
        (lambda: kms.encrypt(key_id="00000000-0000-4000-8000-000000000000", plaintext=b"x"), "Forbidden.KeyNotFound"),
        (lambda: kms.create_key(key_spec="AES_512"), "InvalidParameter.KeySpec"),
        (lambda: kms.create_key(key_spec="EC_P256"), "InvalidParameter.KeyUsage"),
        (lambda: kms.generate_data_key(key_id=k.key_id, number_of_bytes=0), "InvalidParameter.NumberOfBytes"),
        (lambda: kms.decrypt(ciphertext_blob=b"junk"), "InvalidCiphertext"),
        (lambda: kms.encrypt(key_id=k.key_id, plaintext="text"), "InvalidParameter.Plaintext"),
        (lambda: kms.encrypt(key_id=k.key_id, plaintext=b"x", encryption_context={"k": "v" * 9000}), "InvalidParameter.EncryptionContext"),
    ]
    for fn, code in cases:
        with pytest.raises(StrongroomError) as ei:
            fn()
        assert ei.value.code == code, (ei.value, code)
    with pytest.raises(KeyNotFoundError):
        kms.describe_key(key_id="00000000-0000-4000-8000-000000000000")
    # A connected Kms has no store of its own to export.
    with pytest.raises(RejectedError if kms.connected else InvalidParameterError):
        kms.export_image()


def test_file_store_and_images(tmp_path):
    path = tmp_path / "store"
    kms = Kms.open(path, passphrase="pw")
    k = kms.create_key()
    blob = kms.encrypt(key_id=k.key_id, plaintext=b"persisted").ciphertext_blob
    with pytest.raises(StrongroomError) as ei:
        Kms.open(path, passphrase="pw")
    assert ei.value.code == "Rejected.StoreLocked"
    image = kms.export_image()
    del kms
    import gc

    gc.collect()
    with pytest.raises(WrongPassphraseError):
        Kms.open(path, passphrase="nope")
    kms = Kms.open(path, passphrase="pw")
    assert kms.decrypt(ciphertext_blob=blob).plaintext == b"persisted"
    img = Kms.open_image(image, passphrase="pw")
    assert img.decrypt(ciphertext_blob=blob).plaintext == b"persisted"
    resealed = img.export_image(passphrase="other")
    assert Kms.open_image(resealed, passphrase="other").describe_key(key_id=k.key_id).key_id == k.key_id
    bad = bytearray(image)
    bad[-1] ^= 1
    with pytest.raises(strongroom.StoreError) as ei:
        Kms.open_image(bytes(bad), passphrase="pw")
    assert ei.value.code == "Rejected.StoreCorrupted"


def test_transport_failure_is_a_clear_error():
    server = BackendServer.software(Kms.memory())
    alive = {"ok": True}

    def transport(req):
        if not alive["ok"]:
            raise ConnectionError("HSM unreachable")
        return server.handle(req)

    kms = Kms.memory(transport=transport, client_key=server.create_client())
    k = kms.create_key()
    alive["ok"] = False
    with pytest.raises(strongroom.BackendError) as ei:
        kms.encrypt(key_id=k.key_id, plaintext=b"x")
    assert ei.value.code == "Rejected.BackendUnavailable"
    alive["ok"] = True
    assert kms.list_keys().total_count == 1


def test_wire_v2_client_keys():
    server = BackendServer.software(Kms.memory())
    # Version 1 (no client key) is refused unless the operator allows it.
    with pytest.raises(strongroom.BackendError) as ei:
        Kms.memory(transport=server.handle)
    assert "version 1" in str(ei.value)
    server.accept_v1(True)
    Kms.memory(transport=server.handle).create_key()
    server.accept_v1(False)
    key = server.create_client()
    assert key["id"].startswith("wk-") and len(key["secret"]) == 32
    kms = Kms.memory(transport=server.handle, client_key=key)
    k = kms.create_key().key_id
    blob = kms.encrypt(key_id=k, plaintext=b"v2").ciphertext_blob
    with pytest.raises(strongroom.BackendError) as ei:
        Kms.memory(transport=server.handle, client_key={"id": key["id"], "secret": bytes(32)})
    assert "Forbidden.WireAuthentication" in str(ei.value)
    with pytest.raises(strongroom.InvalidParameterError):
        Kms.memory(client_key=key)
    # A replayed request is refused by the server.
    seen = []

    def tap(req: bytes) -> bytes:
        seen.append(req)
        return server.handle(req)

    tapped = Kms.memory(transport=tap, client_key=key)
    tk = tapped.create_key().key_id
    tblob = tapped.encrypt(key_id=tk, plaintext=b"tapped").ciphertext_blob
    assert tapped.decrypt(ciphertext_blob=tblob).plaintext == b"tapped"
    assert b"Forbidden.WireAuthentication" in server.handle(seen[-1])
    # Withdrawn, then admitted again (as after a server restart).
    assert server.remove_client(key["id"]) is True
    with pytest.raises(strongroom.BackendError):
        kms.decrypt(ciphertext_blob=blob)
    server.add_client(key["id"], key["secret"])
    assert kms.decrypt(ciphertext_blob=blob).plaintext == b"v2"


def test_lifecycle(kms):
    k = kms.create_key()
    assert kms.disable_key(key_id=k.key_id).key_state == "Disabled"
    with pytest.raises(strongroom.KeyStateError) as ei:
        kms.encrypt(key_id=k.key_id, plaintext=b"x")
    assert ei.value.code == "Forbidden.KeyDisabled"
    assert kms.enable_key(key_id=k.key_id).key_state == "Enabled"
    assert kms.update_key_description(key_id=k.key_id, description="d2").description == "d2"
    with pytest.raises(InvalidParameterError) as ei:
        kms.schedule_key_deletion(key_id=k.key_id, pending_window_in_days=31)
    assert ei.value.code == "InvalidParameter.PendingWindowInDays"
    m = kms.schedule_key_deletion(key_id=k.key_id, pending_window_in_days=7)
    assert m.key_state == "PendingDeletion" and m.delete_date.endswith("Z")
    with pytest.raises(strongroom.KeyStateError) as ei:
        kms.generate_data_key(key_id=k.key_id)
    assert ei.value.code == "Forbidden.KeyPendingDeletion"
    assert kms.cancel_key_deletion(key_id=k.key_id).key_state == "Enabled"
    with pytest.raises(strongroom.KeyStateError) as ei:
        kms.cancel_key_deletion(key_id=k.key_id)
    assert ei.value.code == "Forbidden.KeyNotPendingDeletion"


def test_versions_and_reencrypt(kms):
    k = kms.create_key()
    assert k.automatic_rotation == "Disabled" and k.rotation_interval is None
    old = kms.encrypt(key_id=k.key_id, plaintext=b"v1", encryption_context={"a": "1"})
    v2 = kms.create_key_version(key_id=k.key_id)
    assert kms.describe_key(key_id=k.key_id).primary_key_version == v2.key_version_id
    assert kms.describe_key_version(key_id=k.key_id, key_version_id=v2.key_version_id) == v2
    versions = kms.list_key_versions(key_id=k.key_id)
    assert versions.total_count == 2 and versions.key_versions[0].key_version_id == k.primary_key_version
    assert kms.decrypt(ciphertext_blob=old.ciphertext_blob, encryption_context={"a": "1"}).plaintext == b"v1"
    other = kms.create_key()
    r = kms.re_encrypt(ciphertext_blob=old.ciphertext_blob, source_encryption_context={"a": "1"},
                       destination_key_id=other.key_id, destination_encryption_context={"b": "2"})
    assert (r.source_key_version_id, r.key_id) == (k.primary_key_version, other.key_id)
    assert kms.decrypt(ciphertext_blob=r.ciphertext_blob, encryption_context={"b": "2"}).plaintext == b"v1"
    m = kms.update_rotation_policy(key_id=k.key_id, enable_automatic_rotation=True, rotation_interval="2592000s")
    assert (m.automatic_rotation, m.rotation_interval) == ("Enabled", "2592000s") and m.next_rotation_date
    with pytest.raises(InvalidParameterError) as ei:
        kms.update_rotation_policy(key_id=k.key_id, enable_automatic_rotation=True, rotation_interval="1s")
    assert ei.value.code == "InvalidParameter.RotationInterval"
    with pytest.raises(strongroom.KeyNotFoundError) as ei:
        kms.describe_key_version(key_id=k.key_id, key_version_id="nope")
    assert ei.value.code == "Forbidden.KeyVersionNotFound"


def test_aliases_and_tags(kms):
    a = kms.create_key()
    b = kms.create_key()
    kms.create_alias(alias_name="alias/orders", key_id=a.key_id)
    with pytest.raises(StrongroomError) as ei:
        kms.create_alias(alias_name="alias/orders", key_id=b.key_id)
    assert ei.value.code == "Rejected.AliasExists"
    with pytest.raises(InvalidParameterError) as ei:
        kms.create_alias(alias_name="orders", key_id=b.key_id)
    assert ei.value.code == "InvalidParameter.AliasName"
    e = kms.encrypt(key_id="alias/orders", plaintext=b"x")
    assert e.key_id == a.key_id
    kms.update_alias(alias_name="alias/orders", key_id=b.key_id)
    assert kms.describe_key(key_id="alias/orders").key_id == b.key_id
    assert [x.alias_name for x in kms.list_aliases().aliases] == ["alias/orders"]
    assert kms.list_aliases_by_key_id(key_id=a.key_id).total_count == 0
    kms.delete_alias(alias_name="alias/orders")
    with pytest.raises(KeyNotFoundError) as ei:
        kms.describe_key(key_id="alias/orders")
    assert ei.value.code == "Forbidden.AliasNotFound"
    kms.tag_resource(key_id=b.key_id, tags={"env": "prod", "team": "sec"})
    kms.untag_resource(key_id=b.key_id, tag_keys=["team"])
    assert kms.list_resource_tags(key_id=b.key_id) == [strongroom.Tag(tag_key="env", tag_value="prod")]
    with pytest.raises(InvalidParameterError) as ei:
        kms.tag_resource(key_id=b.key_id, tags={"acs:reserved": "x"})
    assert ei.value.code == "InvalidParameter.Tags"


def test_deletion_protection(kms):
    k = kms.create_key()
    m = kms.set_deletion_protection(key_id=k.key_id, enable_deletion_protection=True, deletion_protection_description="prod")
    assert (m.deletion_protection, m.deletion_protection_description) == ("Enabled", "prod")
    with pytest.raises(strongroom.KeyStateError) as ei:
        kms.schedule_key_deletion(key_id=k.key_id, pending_window_in_days=7)
    assert ei.value.code == "Forbidden.DeletionProtection"
    kms.set_deletion_protection(key_id=k.key_id, enable_deletion_protection=False)
    assert kms.schedule_key_deletion(key_id=k.key_id, pending_window_in_days=7).key_state == "PendingDeletion"


def test_store_journal_backup_and_passphrase(tmp_path):
    import gc
    import threading

    path = tmp_path / "store"
    kms = Kms.open(path, passphrase="pw")
    info = kms.store_info()
    assert info.format_version == 2 and info.journal_records == 0
    # Threads create at once (the GIL is released); every key is durable.
    ids = []

    def worker():
        for _ in range(25):
            ids.append(kms.create_key().key_id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kms.store_info().journal_records == 100
    kms.create_alias(alias_name="alias/py", key_id=ids[0])
    blob = kms.encrypt(key_id="alias/py", plaintext=b"kept").ciphertext_blob
    kms.compact_store()
    assert kms.store_info().journal_records == 0
    kms.rekey_store()
    kms.change_passphrase(passphrase="pw2")
    backup = kms.create_backup(backup_passphrase="bk")
    del kms
    gc.collect()
    with pytest.raises(WrongPassphraseError):
        Kms.open(path, passphrase="pw")
    kms = Kms.open(path, passphrase="pw2")
    assert kms.list_keys(page_size=100).total_count == 100
    del kms
    gc.collect()

    restored_path = tmp_path / "restored"
    with pytest.raises(WrongPassphraseError):
        Kms.restore_backup(restored_path, backup, passphrase="pw3", backup_passphrase="nope")
    restored = Kms.restore_backup(restored_path, backup, passphrase="pw3", backup_passphrase="bk")
    assert restored.decrypt(ciphertext_blob=blob).plaintext == b"kept"
    assert restored.describe_key(key_id="alias/py").key_id == ids[0]
    del restored
    gc.collect()
    with pytest.raises(strongroom.StoreError) as ei:
        Kms.restore_backup(restored_path, backup, passphrase="pw3", backup_passphrase="bk")
    assert ei.value.code == "Rejected.StoreExists"

    # A torn tail (a crash mid-append) is dropped on open and reported.
    with open(restored_path, "ab") as f:
        f.write(b"\x00\x00\x01")
    kms = Kms.open(restored_path, passphrase="pw3")
    assert kms.store_info().torn_bytes == 3
    # Any other damage refuses to open, naming it.
    del kms
    gc.collect()
    data = bytearray(restored_path.read_bytes())
    data[200] ^= 0x10
    restored_path.write_bytes(bytes(data))
    with pytest.raises(strongroom.StoreError) as ei:
        Kms.open(restored_path, passphrase="pw3")
    assert ei.value.code == "Rejected.StoreCorrupted"
    assert "snapshot" in str(ei.value)


def test_list_keys_filters_and_random_password(kms):
    a = kms.create_key()
    b = kms.create_key(key_spec="Aliyun_AES_128")
    kms.disable_key(key_id=b.key_id)
    kms.create_alias(alias_name="alias/pyfilter", key_id=a.key_id)
    ids = lambda r: [k.key_id for k in r.keys]  # noqa: E731
    assert ids(kms.list_keys(filters={"KeyState": ["Enabled"]})) == [a.key_id]
    assert ids(kms.list_keys(filters=[{"Key": "KeyState", "Values": ["Enabled", "Disabled"]}, {"Key": "KeySpec", "Values": ["Aliyun_AES_128"]}])) == [b.key_id]
    assert ids(kms.list_keys(filters={"AliasName": ["alias/pyfilter"]})) == [a.key_id]
    with pytest.raises(InvalidParameterError) as ei:
        kms.list_keys(filters={"Colour": ["red"]})
    assert ei.value.code == "InvalidParameter.Filters"
    with pytest.raises(InvalidParameterError) as ei:
        kms.list_keys(filters=[{"Values": ["x"]}])
    assert ei.value.code == "InvalidParameter.Filters"

    p = kms.get_random_password()
    assert isinstance(p, str) and len(p) == 32
    assert any(c.islower() for c in p) and any(c.isupper() for c in p) and any(c.isdigit() for c in p)
    q = kms.get_random_password(length=64, exclude_punctuation=True, exclude_characters="aeiou")
    assert len(q) == 64 and q.isalnum() and not set(q) & set("aeiou")
    with pytest.raises(InvalidParameterError) as ei:
        kms.get_random_password(length=7)
    assert ei.value.code == "InvalidParameter.Length"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_draws_the_parents_random_bytes():
    # The core pools OS randomness; a forked child inherits the pool and must discard
    # it, or parent and child would make the same data keys.
    kms = Kms.memory()
    k = kms.create_key()
    kms.generate_data_key(key_id=k.key_id)  # fills the pool in the parent
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, kms.generate_data_key(key_id=k.key_id).plaintext)
        finally:
            os._exit(0)
    os.close(w)
    mine = kms.generate_data_key(key_id=k.key_id).plaintext
    os.waitpid(pid, 0)
    theirs = os.read(r, 64)
    os.close(r)
    assert len(theirs) == 32 and theirs != mine


def test_a_restarted_backend_server_serves_the_keys_it_made(tmp_path):
    """The serving end keeps its handle key in its own store: restart it on the same
    store and an old blob still decrypts (before, a restart lost every remote key)."""
    server_store = tmp_path / "server"
    server_kms = Kms.open(server_store, passphrase="server")
    server = BackendServer.software(server_kms)
    ck = server.create_client()
    client = Kms.open(tmp_path / "client", passphrase="client", transport=server.handle, client_key=ck)
    key = client.create_key().key_id
    blob = client.encrypt(key_id=key, plaintext=b"kept").ciphertext_blob
    del client, server, server_kms
    import gc

    gc.collect()
    server = BackendServer.software(Kms.open(server_store, passphrase="server"))
    server.add_client(ck["id"], ck["secret"])  # client keys are the operator's to re-admit
    client = Kms.open(tmp_path / "client", passphrase="client", transport=server.handle, client_key=ck)
    assert client.decrypt(ciphertext_blob=blob).plaintext == b"kept"
    with pytest.raises(InvalidParameterError):
        BackendServer.software(None)  # type: ignore[arg-type]


def test_close_and_with_release_the_lock_now(tmp_path):
    """#15 item 11: close() / with release the writer lock at once; a closed instance
    refuses every call."""
    path = str(tmp_path / "store")
    with strongroom.Kms.open(path, passphrase="pw") as kms:
        key = kms.create_key()
        with pytest.raises(strongroom.StoreError) as e:
            strongroom.Kms.open(path, passphrase="pw")
        assert e.value.code == "Rejected.StoreLocked"
    with pytest.raises(strongroom.StoreError) as e:
        kms.describe_key(key_id=key.key_id)
    assert e.value.code == "Rejected.StoreClosed"
    again = strongroom.Kms.open(path, passphrase="pw")  # `kms` is still referenced
    assert again.describe_key(key_id=key.key_id).key_id == key.key_id
    again.close()
    again.close()


def test_pem_str_or_bytes_context_types_and_version():
    """#15 item 11: verify_signature takes the str PEM get_public_key returns; a
    non-string context value is InvalidParameter.EncryptionContext; __version__."""
    kms = strongroom.Kms.memory()
    k = kms.create_key(key_spec="EC_P256", key_usage="SIGN/VERIFY")
    msg = b"release"
    sig = kms.asymmetric_sign(key_id=k.key_id, algorithm="ECDSA_SHA_256", message=msg).value
    pem = kms.get_public_key(key_id=k.key_id).public_key
    assert isinstance(pem, str)
    for pk in (pem, pem.encode()):
        assert strongroom.verify_signature(
            public_key=pk, key_spec="EC_P256", algorithm="ECDSA_SHA_256", signature=sig, message=msg
        )
    aes = kms.create_key()
    for bad in ({"a": 1}, {1: "a"}, {"a": None}):
        with pytest.raises(strongroom.InvalidParameterError) as e:
            kms.encrypt(key_id=aes.key_id, plaintext=b"x", encryption_context=bad)
        assert e.value.code == "InvalidParameter.EncryptionContext"
    assert strongroom.__version__ == "0.1.0"
