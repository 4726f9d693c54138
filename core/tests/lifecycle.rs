#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Key lifecycle driven by the injected clock: disable/enable, scheduled deletion
//! crossing its window (material destroyed), cancellation, descriptions.

use std::sync::Arc;

use pollster::block_on;
use strongroom::env::OsEntropy;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, Env, KeyState, Kms, KmsOptions,
    ListKeysRequest, RootSecret,
};

const DAY: u64 = 86_400_000;

fn open(clock: &Arc<ManualClock>, storage: &Arc<MemoryStorage>) -> Kms {
    block_on(Kms::open(KmsOptions {
        env: Env::new(Arc::new(OsEntropy), clock.clone()),
        storage: storage.clone(),
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap()
}

#[test]
fn disable_refuses_crypto_and_enable_restores() {
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let kms = open(&clock, &Arc::new(MemoryStorage::new()));
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob;
    assert_eq!(
        block_on(kms.disable_key(&k.key_id)).unwrap().key_state,
        KeyState::Disabled
    );
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyDisabled");
    let e = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob.clone(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyDisabled");
    let e = block_on(kms.generate_data_key(strongroom::GenerateDataKeyRequest {
        key_id: k.key_id.clone(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyDisabled");
    assert_eq!(
        block_on(kms.enable_key(&k.key_id)).unwrap().key_state,
        KeyState::Enabled
    );
    assert_eq!(
        block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        }))
        .unwrap()
        .plaintext
        .expose(),
        b"x"
    );
    let m = block_on(kms.update_key_description(&k.key_id, "renamed")).unwrap();
    assert_eq!(m.description, "renamed");
    assert_eq!(
        block_on(kms.update_key_description(&k.key_id, &"d".repeat(8193)))
            .unwrap_err()
            .code(),
        "InvalidParameter.Description"
    );
    assert_eq!(
        block_on(kms.disable_key("00000000-0000-4000-8000-000000000000"))
            .unwrap_err()
            .code(),
        "Forbidden.KeyNotFound"
    );
}

#[test]
fn scheduled_deletion_crosses_its_window() {
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let storage = Arc::new(MemoryStorage::new());
    let kms = open(&clock, &storage);
    let keep = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob;
    for bad in [6, 31, 0] {
        assert_eq!(
            block_on(kms.schedule_key_deletion(&k.key_id, bad))
                .unwrap_err()
                .code(),
            "InvalidParameter.PendingWindowInDays"
        );
    }
    let m = block_on(kms.schedule_key_deletion(&k.key_id, 7)).unwrap();
    assert_eq!(m.key_state, KeyState::PendingDeletion);
    assert_eq!(m.delete_date.as_deref(), Some("2026-11-30T00:00:00Z"));
    assert_eq!(
        block_on(kms.schedule_key_deletion(&k.key_id, 7))
            .unwrap_err()
            .code(),
        "Forbidden.KeyPendingDeletion"
    );
    assert_eq!(
        block_on(kms.enable_key(&k.key_id)).unwrap_err().code(),
        "Forbidden.KeyPendingDeletion"
    );
    let e = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob.clone(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyPendingDeletion");

    // Cancel restores Enabled; schedule again, and let the window pass.
    assert_eq!(
        block_on(kms.cancel_key_deletion(&k.key_id))
            .unwrap()
            .key_state,
        KeyState::Enabled
    );
    assert_eq!(
        block_on(kms.cancel_key_deletion(&k.key_id))
            .unwrap_err()
            .code(),
        "Forbidden.KeyNotPendingDeletion"
    );
    block_on(kms.schedule_key_deletion(&k.key_id, 7)).unwrap();
    clock.advance(7 * DAY - 1);
    assert_eq!(
        block_on(kms.describe_key(&k.key_id)).unwrap().key_state,
        KeyState::PendingDeletion
    );
    clock.advance(1);
    assert_eq!(
        block_on(kms.describe_key(&k.key_id)).unwrap_err().code(),
        "Forbidden.KeyNotFound"
    );
    assert_eq!(
        block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: blob.clone(),
            ..Default::default()
        }))
        .unwrap_err()
        .code(),
        "Forbidden.KeyNotFound"
    );
    let l = block_on(kms.list_keys(ListKeysRequest::default())).unwrap();
    assert_eq!(
        l.keys.iter().map(|e| e.key_id.clone()).collect::<Vec<_>>(),
        vec![keep.key_id.clone()]
    );
    // The store was compacted at once: no journal record that carried the material
    // is left in it.
    assert_eq!(kms.store_info().unwrap().journal_records, 0);
    drop(kms);
    // The deletion was persisted: the material is gone from the store too.
    let kms = open(&clock, &storage);
    assert_eq!(
        block_on(kms.describe_key(&k.key_id)).unwrap_err().code(),
        "Forbidden.KeyNotFound"
    );
    assert_eq!(
        block_on(kms.list_keys(ListKeysRequest::default()))
            .unwrap()
            .total_count,
        1
    );
}

#[test]
fn deletion_due_while_closed_happens_at_open() {
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let storage = Arc::new(MemoryStorage::new());
    let kms = open(&clock, &storage);
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.schedule_key_deletion(&k.key_id, 30)).unwrap();
    drop(kms);
    clock.advance(31 * DAY);
    let kms = open(&clock, &storage);
    assert_eq!(
        block_on(kms.list_keys(ListKeysRequest::default()))
            .unwrap()
            .total_count,
        0
    );
}

#[test]
fn versions_rotation_and_reencrypt() {
    use strongroom::{ReEncryptRequest, UpdateRotationPolicyRequest};
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let storage = Arc::new(MemoryStorage::new());
    let kms = open(&clock, &storage);
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    assert_eq!(k.automatic_rotation, "Disabled");
    let old = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"v1".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    let v2 = block_on(kms.create_key_version(&k.key_id)).unwrap();
    assert_ne!(v2.key_version_id, k.primary_key_version);
    assert_eq!(
        block_on(kms.describe_key(&k.key_id))
            .unwrap()
            .primary_key_version,
        v2.key_version_id
    );
    let new = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"v2".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(new.key_version_id, v2.key_version_id);
    // Old blobs still decrypt after rotation.
    assert_eq!(
        block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: old.ciphertext_blob.clone(),
            ..Default::default()
        }))
        .unwrap()
        .plaintext
        .expose(),
        b"v1"
    );
    let l = block_on(kms.list_key_versions(&k.key_id, None, None)).unwrap();
    assert_eq!(l.total_count, 2);
    assert_eq!(l.key_versions[0].key_version_id, k.primary_key_version);
    assert_eq!(
        block_on(kms.describe_key_version(&k.key_id, &v2.key_version_id)).unwrap(),
        v2
    );
    assert_eq!(
        block_on(kms.describe_key_version(&k.key_id, "nope"))
            .unwrap_err()
            .code(),
        "Forbidden.KeyVersionNotFound"
    );

    // ReEncrypt to the current primary of the same key, and to another key with a new context.
    let r = block_on(kms.re_encrypt(ReEncryptRequest {
        ciphertext_blob: old.ciphertext_blob.clone(),
        destination_key_id: k.key_id.clone(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(
        (r.source_key_version_id.as_str(), r.key_version_id.as_str()),
        (k.primary_key_version.as_str(), v2.key_version_id.as_str())
    );
    let other = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let dctx = strongroom::EncryptionContext::from_pairs([("moved", "yes")]).unwrap();
    let r2 = block_on(kms.re_encrypt(ReEncryptRequest {
        ciphertext_blob: old.ciphertext_blob.clone(),
        destination_key_id: other.key_id.clone(),
        destination_encryption_context: dctx.clone(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(r2.key_id, other.key_id);
    assert_eq!(
        block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: r2.ciphertext_blob,
            encryption_context: dctx
        }))
        .unwrap()
        .plaintext
        .expose(),
        b"v1"
    );
    let e = block_on(kms.re_encrypt(ReEncryptRequest {
        ciphertext_blob: old.ciphertext_blob,
        source_encryption_context: strongroom::EncryptionContext::from_pairs([("x", "y")]).unwrap(),
        destination_key_id: other.key_id.clone(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertext");

    // Automatic rotation driven by the clock.
    for bad in [Some("518400s"), Some("31622400s"), Some("7d"), None] {
        let e = block_on(kms.update_rotation_policy(UpdateRotationPolicyRequest {
            key_id: other.key_id.clone(),
            enable_automatic_rotation: true,
            rotation_interval: bad.map(str::to_string),
        }))
        .unwrap_err();
        assert_eq!(e.code(), "InvalidParameter.RotationInterval", "{bad:?}");
    }
    let m = block_on(kms.update_rotation_policy(UpdateRotationPolicyRequest {
        key_id: other.key_id.clone(),
        enable_automatic_rotation: true,
        rotation_interval: Some("604800s".into()),
    }))
    .unwrap();
    assert_eq!(
        (m.automatic_rotation, m.rotation_interval.as_deref()),
        ("Enabled", Some("604800s"))
    );
    assert_eq!(
        m.next_rotation_date.as_deref(),
        Some("2026-11-30T00:00:00Z")
    );
    clock.advance(7 * DAY - 1);
    assert_eq!(
        block_on(kms.list_key_versions(&other.key_id, None, None))
            .unwrap()
            .total_count,
        1
    );
    clock.advance(1);
    let after = block_on(kms.describe_key(&other.key_id)).unwrap();
    assert_ne!(after.primary_key_version, other.primary_key_version);
    assert_eq!(
        after.last_rotation_date.as_deref(),
        Some("2026-11-30T00:00:00Z")
    );
    assert_eq!(
        after.next_rotation_date.as_deref(),
        Some("2026-12-07T00:00:00Z")
    );
    assert_eq!(
        block_on(kms.list_key_versions(&other.key_id, None, None))
            .unwrap()
            .total_count,
        2
    );
    // A disabled key is not rotated; turning the policy off stops rotation.
    block_on(kms.disable_key(&other.key_id)).unwrap();
    clock.advance(30 * DAY);
    assert_eq!(
        block_on(kms.list_key_versions(&other.key_id, None, None))
            .unwrap()
            .total_count,
        2
    );
    block_on(kms.enable_key(&other.key_id)).unwrap();
    block_on(kms.list_keys(ListKeysRequest::default())).unwrap(); // any action runs the due rotation
    assert_eq!(
        block_on(kms.list_key_versions(&other.key_id, None, None))
            .unwrap()
            .total_count,
        3
    );
    let off = block_on(kms.update_rotation_policy(UpdateRotationPolicyRequest {
        key_id: other.key_id.clone(),
        enable_automatic_rotation: false,
        rotation_interval: None,
    }))
    .unwrap();
    assert_eq!(off.automatic_rotation, "Disabled");
    clock.advance(400 * DAY);
    assert_eq!(
        block_on(kms.list_key_versions(&other.key_id, None, None))
            .unwrap()
            .total_count,
        3
    );
    drop(kms);
    // Everything persisted.
    let kms = open(&clock, &storage);
    assert_eq!(
        block_on(kms.list_key_versions(&other.key_id, None, None))
            .unwrap()
            .total_count,
        3
    );
}

#[test]
fn aliases_and_tags() {
    use strongroom::Tag;
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let storage = Arc::new(MemoryStorage::new());
    let kms = open(&clock, &storage);
    let a = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let b = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_alias("alias/lab-envelope", &a.key_id)).unwrap();
    assert_eq!(
        block_on(kms.create_alias("alias/lab-envelope", &b.key_id))
            .unwrap_err()
            .code(),
        "Rejected.AliasExists"
    );
    for bad in ["lab", "alias/", "alias/acs/x", "alias/sp ace"] {
        assert_eq!(
            block_on(kms.create_alias(bad, &a.key_id))
                .unwrap_err()
                .code(),
            "InvalidParameter.AliasName",
            "{bad}"
        );
    }
    // Usable wherever a KeyId is, also as an ARN.
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: "alias/lab-envelope".into(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(e.key_id, a.key_id);
    assert_eq!(
        block_on(kms.describe_key("acs:kms:strongroom:local:alias/lab-envelope"))
            .unwrap()
            .key_id,
        a.key_id
    );
    block_on(kms.update_alias("alias/lab-envelope", &b.key_id)).unwrap();
    assert_eq!(
        block_on(kms.describe_key("alias/lab-envelope"))
            .unwrap()
            .key_id,
        b.key_id
    );
    assert_eq!(
        block_on(kms.update_alias("alias/none", &b.key_id))
            .unwrap_err()
            .code(),
        "Forbidden.AliasNotFound"
    );
    assert_eq!(
        block_on(kms.describe_key("alias/none")).unwrap_err().code(),
        "Forbidden.AliasNotFound"
    );
    block_on(kms.create_alias("alias/second", &b.key_id)).unwrap();
    let all = block_on(kms.list_aliases(None, None)).unwrap();
    assert_eq!(all.total_count, 2);
    assert_eq!(all.aliases[0].alias_name, "alias/lab-envelope");
    assert_eq!(
        all.aliases[0].alias_arn,
        "acs:kms:strongroom:local:alias/lab-envelope"
    );
    assert_eq!(
        block_on(kms.list_aliases_by_key_id(&b.key_id, None, None))
            .unwrap()
            .total_count,
        2
    );
    assert_eq!(
        block_on(kms.list_aliases_by_key_id(&a.key_id, None, None))
            .unwrap()
            .total_count,
        0
    );
    block_on(kms.delete_alias("alias/second")).unwrap();
    assert_eq!(
        block_on(kms.delete_alias("alias/second"))
            .unwrap_err()
            .code(),
        "Forbidden.AliasNotFound"
    );

    let t = |k: &str, v: &str| Tag {
        tag_key: k.into(),
        tag_value: v.into(),
    };
    block_on(kms.tag_resource(&b.key_id, &[t("env", "prod"), t("owner", "sec")])).unwrap();
    block_on(kms.tag_resource("alias/lab-envelope", &[t("env", "staging")])).unwrap();
    assert_eq!(
        block_on(kms.list_resource_tags(&b.key_id)).unwrap(),
        vec![t("env", "staging"), t("owner", "sec")]
    );
    assert_eq!(
        block_on(kms.tag_resource(&b.key_id, &[t("acs:x", "y")]))
            .unwrap_err()
            .code(),
        "InvalidParameter.Tags"
    );
    let many: Vec<Tag> = (0..20).map(|i| t(&format!("k{i}"), "v")).collect();
    assert_eq!(
        block_on(kms.tag_resource(&b.key_id, &many))
            .unwrap_err()
            .code(),
        "InvalidParameter.Tags"
    );
    assert_eq!(
        block_on(kms.list_resource_tags(&b.key_id)).unwrap().len(),
        2,
        "a refused TagResource changes nothing"
    );
    block_on(kms.untag_resource(&b.key_id, &["owner".to_string(), "absent".to_string()])).unwrap();
    assert_eq!(
        block_on(kms.list_resource_tags(&b.key_id)).unwrap(),
        vec![t("env", "staging")]
    );

    // Persisted; deleting the key removes its aliases.
    drop(kms);
    let kms = open(&clock, &storage);
    assert_eq!(
        block_on(kms.describe_key("alias/lab-envelope"))
            .unwrap()
            .key_id,
        b.key_id
    );
    block_on(kms.schedule_key_deletion(&b.key_id, 7)).unwrap();
    clock.advance(7 * DAY);
    assert_eq!(
        block_on(kms.list_aliases(None, None)).unwrap().total_count,
        0
    );
    assert_eq!(
        block_on(kms.describe_key("alias/lab-envelope"))
            .unwrap_err()
            .code(),
        "Forbidden.AliasNotFound"
    );
}

#[test]
fn deletion_protection_blocks_scheduling() {
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let storage = Arc::new(MemoryStorage::new());
    let kms = open(&clock, &storage);
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    assert_eq!(k.deletion_protection, "Disabled");
    let arn = format!("acs:kms:strongroom:local:key/{}", k.key_id);
    let m = block_on(kms.set_deletion_protection(&arn, true, Some("prod data"))).unwrap();
    assert_eq!(
        (
            m.deletion_protection,
            m.deletion_protection_description.as_deref()
        ),
        ("Enabled", Some("prod data"))
    );
    assert_eq!(
        block_on(kms.schedule_key_deletion(&k.key_id, 7))
            .unwrap_err()
            .code(),
        "Forbidden.DeletionProtection"
    );
    drop(kms);
    let kms = open(&clock, &storage);
    assert_eq!(
        block_on(kms.describe_key(&k.key_id))
            .unwrap()
            .deletion_protection,
        "Enabled"
    );
    block_on(kms.set_deletion_protection(&k.key_id, false, None)).unwrap();
    assert_eq!(
        block_on(kms.schedule_key_deletion(&k.key_id, 7))
            .unwrap()
            .key_state,
        KeyState::PendingDeletion
    );
}
