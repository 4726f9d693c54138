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
