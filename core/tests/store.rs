#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The journal store (docs/FORMAT.md §Store, version 2): replay, torn tails,
//! tampering, compaction, faults, rekeying, backups, the version-1 upgrade, and the
//! native file store's group commit.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use common::{Backend, open_with};
use pollster::block_on;
use serde_json::Value;
use strongroom::storage::{FileStorage, KdfParams, MemoryStorage};
use strongroom::{
    BoxFuture, CreateKeyRequest, DecryptRequest, EncryptRequest, EncryptionContext, Kms,
    KmsOptions, ListKeysRequest, RootSecret, Storage, Tag,
};

const PASS: &str = "correct horse";

/// Everything a store holds that a user can see, in a comparable form.
fn snapshot(kms: &Kms) -> Vec<String> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let l = block_on(kms.list_keys(ListKeysRequest {
            page_number: Some(page),
            page_size: Some(100),
            ..ListKeysRequest::default()
        }))
        .unwrap();
        for k in &l.keys {
            let d = block_on(kms.describe_key(&k.key_id)).unwrap();
            let tags = block_on(kms.list_resource_tags(&k.key_id)).unwrap();
            let versions = block_on(kms.list_key_versions(&k.key_id, None, Some(100))).unwrap();
            out.push(format!("{d:?} {tags:?} {versions:?}"));
        }
        if u64::from(page) * 100 >= l.total_count {
            break;
        }
        page += 1;
    }
    let aliases = block_on(kms.list_aliases(Some(1), Some(100))).unwrap();
    out.push(format!("{:?}", aliases.aliases));
    out
}

/// A store with a few of every kind of mutation in its journal.
fn busy(kms: &Kms) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..6 {
        let k = block_on(kms.create_key(CreateKeyRequest {
            description: Some(format!("key {i}")),
            ..CreateKeyRequest::default()
        }))
        .unwrap();
        ids.push(k.key_id);
    }
    block_on(kms.create_alias("alias/a", &ids[0])).unwrap();
    block_on(kms.create_alias("alias/b", &ids[1])).unwrap();
    block_on(kms.update_alias("alias/b", &ids[2])).unwrap();
    block_on(kms.delete_alias("alias/a")).unwrap();
    block_on(kms.tag_resource(
        &ids[3],
        &[Tag {
            tag_key: "team".into(),
            tag_value: "payments".into(),
        }],
    ))
    .unwrap();
    block_on(kms.disable_key(&ids[4])).unwrap();
    block_on(kms.create_key_version(&ids[5])).unwrap();
    block_on(kms.schedule_key_deletion(&ids[1], 7)).unwrap();
    ids
}

#[test]
fn the_journal_replays_to_the_same_state() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
    busy(&kms);
    let info = kms.store_info().unwrap();
    assert_eq!(info.format_version, 2);
    assert_eq!(info.journal_records, 14, "{info:?}");
    let before = snapshot(&kms);
    drop(kms);
    let again = open_with(Backend::Software, storage, PASS).unwrap();
    assert_eq!(again.store_info().unwrap().journal_records, 14);
    assert_eq!(snapshot(&again), before);
}

#[test]
fn compaction_rewrites_the_journal_into_a_snapshot() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
    kms.set_compact_min_bytes(4096);
    let mut generations = std::collections::BTreeSet::new();
    for _ in 0..60 {
        block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
        let info = kms.store_info().unwrap();
        generations.insert(info.generation);
        assert!(
            info.journal_bytes < 4096 + 1024 || info.journal_bytes < info.snapshot_bytes + 1024
        );
    }
    assert!(generations.len() >= 3, "compacted only {generations:?}");
    let before = snapshot(&kms);
    drop(kms);
    let again = open_with(Backend::Software, storage, PASS).unwrap();
    assert_eq!(snapshot(&again), before);
}

#[test]
fn a_torn_tail_is_dropped_at_every_cut_and_the_next_write_replaces_it() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
    let first = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let good_len = storage.image().unwrap().len();
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    let image = storage.image().unwrap();
    let mut zero_tail = image[..good_len].to_vec();
    zero_tail.extend_from_slice(&[0; 300]);
    let cuts = (good_len..image.len()).map(|n| image[..n].to_vec());
    for (i, torn) in cuts.chain([zero_tail]).enumerate() {
        let torn_len = torn.len();
        let s = Arc::new(MemoryStorage::with_image(torn));
        let kms = open_with(Backend::Software, s.clone(), PASS).unwrap();
        assert_eq!(
            kms.store_info().unwrap().torn_bytes,
            (torn_len - good_len) as u64,
            "cut {i}"
        );
        let l = block_on(kms.list_keys(ListKeysRequest::default())).unwrap();
        assert_eq!(l.total_count, 1, "cut {i}");
        assert_eq!(l.keys[0].key_id, first.key_id);
        // The next mutation overwrites the torn bytes, and both survive a reopen.
        let second = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
        drop(kms);
        let kms = open_with(Backend::Software, s, PASS).unwrap();
        assert_eq!(kms.store_info().unwrap().torn_bytes, 0);
        block_on(kms.describe_key(&second.key_id)).unwrap();
        assert_eq!(
            block_on(kms.list_keys(ListKeysRequest::default()))
                .unwrap()
                .total_count,
            2
        );
    }
}

/// Splits a version-2 store into its header and records.
fn records(image: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut pos = 110;
    let mut out = Vec::new();
    while pos < image.len() {
        let len = u32::from_be_bytes(image[pos..pos + 4].try_into().unwrap()) as usize;
        out.push(image[pos..pos + 29 + len].to_vec());
        pos += 29 + len;
    }
    (image[..110].to_vec(), out)
}

#[test]
fn every_bit_flip_and_every_removed_or_reordered_record_is_refused() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_alias("alias/x", &k.key_id)).unwrap();
    let before_last = snapshot(&kms);
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    let image = storage.image().unwrap();
    // The final record past its length fields: damage there is what a crash mid-append
    // leaves, so the record is dropped as torn (as truncation would drop it); damage
    // anywhere else is refused.
    // (Past length, length check, kind and sequence number: 8 + 1 + 8 bytes.)
    let final_len = records(&image).1.last().unwrap().len();
    let final_body = image.len() - final_len + 17;
    let mut codes = std::collections::BTreeMap::new();
    let mut torn = 0;
    for i in 0..image.len() * 8 {
        let mut t = image.clone();
        t[i / 8] ^= 1 << (i % 8);
        let opened = open_with(
            Backend::Software,
            Arc::new(MemoryStorage::with_image(t)),
            PASS,
        );
        if i / 8 >= final_body {
            let kms = opened.unwrap_or_else(|e| panic!("bit {i} in the final record: {e}"));
            assert_eq!(kms.store_info().unwrap().torn_bytes, final_len as u64);
            assert_eq!(snapshot(&kms), before_last, "bit {i}");
            torn += 1;
            continue;
        }
        let Err(e) = opened else {
            panic!("bit {i} of {}: the store opened", image.len() * 8)
        };
        *codes.entry(e.code()).or_insert(0) += 1;
        assert!(
            matches!(
                e.code(),
                "Rejected.StoreCorrupted" | "Rejected.StoreVersion"
            ),
            "bit {i}: {}",
            e.code()
        );
    }
    assert!(torn > 0);
    println!(
        "{} bit flips: {torn} dropped a torn final record, the rest refused: {codes:?}",
        image.len() * 8
    );

    let (header, recs) = records(&image);
    assert_eq!(recs.len(), 4);
    let join = |rs: &[&Vec<u8>]| {
        let mut v = header.clone();
        for r in rs {
            v.extend_from_slice(r);
        }
        v
    };
    let bad = [
        (
            "middle record removed",
            join(&[&recs[0], &recs[1], &recs[3]]),
        ),
        ("first delta removed", join(&[&recs[0], &recs[2], &recs[3]])),
        (
            "records swapped",
            join(&[&recs[0], &recs[2], &recs[1], &recs[3]]),
        ),
        (
            "record repeated",
            join(&[&recs[0], &recs[1], &recs[1], &recs[2]]),
        ),
        ("snapshot removed", join(&[&recs[1], &recs[2], &recs[3]])),
    ];
    for (why, img) in bad {
        let e = open_with(
            Backend::Software,
            Arc::new(MemoryStorage::with_image(img)),
            PASS,
        )
        .map(|_| ())
        .unwrap_err();
        assert_eq!(e.code(), "Rejected.StoreCorrupted", "{why}");
        println!("{why}: {e}");
    }
    // Records from another store with the same passphrase do not splice in.
    let other = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, other.clone(), PASS).unwrap();
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    let (_, theirs) = records(&other.image().unwrap());
    let e = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(join(&[
            &recs[0], &theirs[1], &recs[2],
        ]))),
        PASS,
    )
    .map(|_| ())
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreCorrupted");
    // As the final record it is dropped like a torn append, never applied.
    let kms = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(join(&[&recs[0], &theirs[1]]))),
        PASS,
    )
    .unwrap();
    assert_eq!(kms.store_info().unwrap().torn_bytes, theirs[1].len() as u64);
    assert_eq!(kms.store_info().unwrap().journal_records, 0);
    drop(kms);
    // The wrong passphrase is told apart from damage.
    let e = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(image)),
        "nope",
    )
    .map(|_| ())
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.WrongPassphrase");
}

/// Storage that fails on demand: 1 = appends fail with disk full, 2 = flushes fail,
/// 3 = whole-store saves fail with an I/O error.
struct Faulty {
    inner: MemoryStorage,
    mode: AtomicU8,
}

impl Storage for Faulty {
    fn load(&self) -> BoxFuture<'_, strongroom::Result<Option<Vec<u8>>>> {
        self.inner.load()
    }
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        if self.mode.load(Ordering::SeqCst) == 3 {
            return Box::pin(async { Err(strongroom::Error::StoreIo("injected: EIO".into())) });
        }
        self.inner.save(image)
    }
    fn supports_append(&self) -> bool {
        true
    }
    fn append<'a>(&'a self, at: u64, record: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        if self.mode.load(Ordering::SeqCst) == 1 {
            // A partial write, then the error: the storage contract says nothing past
            // `at` is kept, which the next open must not need.
            let _ = block_on(self.inner.append(at, &record[..record.len() / 2]));
            return Box::pin(async {
                Err(strongroom::Error::StoreFull("injected: ENOSPC".into()))
            });
        }
        self.inner.append(at, record)
    }
    fn sync(&self) -> BoxFuture<'_, strongroom::Result<()>> {
        if self.mode.load(Ordering::SeqCst) == 2 {
            return Box::pin(async {
                Err(strongroom::Error::StoreIo("injected: fsync EIO".into()))
            });
        }
        Box::pin(async { Ok(()) })
    }
}

#[test]
fn disk_full_and_io_errors_change_nothing_and_lose_nothing() {
    let faulty = Arc::new(Faulty {
        inner: MemoryStorage::new(),
        mode: AtomicU8::new(0),
    });
    let kms = open_with(Backend::Software, faulty.clone(), PASS).unwrap();
    kms.set_compact_min_bytes(2048);
    let ids = busy(&kms);
    let before = snapshot(&kms);

    // Disk full while appending: every kind of mutation fails cleanly.
    faulty.mode.store(1, Ordering::SeqCst);
    let e = block_on(kms.create_key(CreateKeyRequest::default())).unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreFull");
    assert_eq!(
        block_on(kms.create_alias("alias/new", &ids[0]))
            .unwrap_err()
            .code(),
        "Rejected.StoreFull"
    );
    assert_eq!(
        block_on(kms.schedule_key_deletion(&ids[0], 7))
            .unwrap_err()
            .code(),
        "Rejected.StoreFull"
    );
    assert_eq!(
        block_on(kms.disable_key(&ids[0])).unwrap_err().code(),
        "Rejected.StoreFull"
    );
    assert_eq!(snapshot(&kms), before, "a failed write changed the state");
    // Reads and crypto keep working.
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: ids[0].clone(),
        plaintext: b"still here".to_vec(),
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap()
    .ciphertext_blob;

    // Space again: writes resume, and a reopen sees exactly what was acknowledged.
    faulty.mode.store(0, Ordering::SeqCst);
    block_on(kms.create_alias("alias/new", &ids[0])).unwrap();
    let after = snapshot(&kms);
    drop(kms);
    let kms = open_with(Backend::Software, faulty.clone(), PASS).unwrap();
    assert_eq!(snapshot(&kms), after);
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap();
    assert_eq!(d.plaintext.expose(), b"still here");

    // A compaction that fails leaves the store as it was.
    kms.set_compact_min_bytes(2048);
    faulty.mode.store(3, Ordering::SeqCst);
    let mut failed = 0;
    for _ in 0..40 {
        match block_on(kms.create_key(CreateKeyRequest::default())) {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.code(), "Rejected.StoreIo");
                failed += 1;
            }
        }
    }
    assert!(failed > 0, "no compaction was attempted");
    let mid = snapshot(&kms);
    faulty.mode.store(0, Ordering::SeqCst);
    drop(kms);
    let kms = open_with(Backend::Software, faulty.clone(), PASS).unwrap();
    assert_eq!(snapshot(&kms), mid);

    // A failed flush: the change may or may not be on disk, so the instance refuses
    // further mutations until reopened; reopening finds a consistent store.
    faulty.mode.store(2, Ordering::SeqCst);
    let e = block_on(kms.create_key(CreateKeyRequest::default())).unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreIo");
    faulty.mode.store(0, Ordering::SeqCst);
    let e = block_on(kms.create_key(CreateKeyRequest::default())).unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreIo");
    assert!(e.to_string().contains("reopen"), "{e}");
    // Every action, not only mutations: a key version the failed flush may have lost
    // must not be used to encrypt.
    let encrypt = block_on(kms.encrypt(EncryptRequest {
        key_id: ids[0].clone(),
        plaintext: b"x".to_vec(),
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap_err();
    assert_eq!(encrypt.code(), "Rejected.StoreIo");
    assert_eq!(
        block_on(kms.describe_key(&ids[0])).unwrap_err().code(),
        "Rejected.StoreIo"
    );
    drop(kms);
    let kms = open_with(Backend::Software, faulty, PASS).unwrap();
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
}

#[test]
fn change_root_and_rekey_keep_every_key() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
    let ids = busy(&kms);
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: ids[0].clone(),
        plaintext: b"across rekeys".to_vec(),
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap()
    .ciphertext_blob;
    let before = snapshot(&kms);
    let old_image = storage.image().unwrap();

    block_on(kms.change_root(
        RootSecret::passphrase("new pass"),
        KdfParams::insecure_fast(),
    ))
    .unwrap();
    let changed = storage.image().unwrap();
    assert_ne!(changed[18..34], old_image[18..34], "the salt is fresh");
    block_on(kms.rekey_store()).unwrap();
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let after = snapshot(&kms);
    assert_eq!(after[..before.len() - 1], before[..before.len() - 1]);
    drop(kms);

    let e = open_with(Backend::Software, storage.clone(), PASS)
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.code(), "Forbidden.WrongPassphrase");
    let kms = open_with(Backend::Software, storage.clone(), "new pass").unwrap();
    assert_eq!(snapshot(&kms), after);
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap();
    assert_eq!(d.plaintext.expose(), b"across rekeys");

    // After a rekey, records sealed under the old store key cannot be spliced in.
    let (_, old_recs) = records(&old_image);
    let mut spliced = storage.image().unwrap();
    spliced.extend_from_slice(&old_recs[1]);
    // Its sequence number does not follow on: refused, at the end as anywhere.
    let e = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(spliced.clone())),
        "new pass",
    )
    .map(|_| ())
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreCorrupted");
    // With a record after it, it is refused.
    block_on(
        open_with(
            Backend::Software,
            Arc::new(MemoryStorage::with_image(storage.image().unwrap())),
            "new pass",
        )
        .unwrap()
        .create_key(CreateKeyRequest::default()),
    )
    .unwrap();
    let img = storage.image().unwrap();
    let (hdr, new_recs) = records(&img);
    let mut spliced = hdr;
    spliced.extend_from_slice(&new_recs[0]);
    spliced.extend_from_slice(&old_recs[1]);
    spliced.extend_from_slice(&new_recs[1]);
    let e = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(spliced)),
        "new pass",
    )
    .map(|_| ())
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreCorrupted");
}

#[test]
fn a_backup_restores_into_a_fresh_store_under_another_root() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, storage, PASS).unwrap();
    let ids = busy(&kms);
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: ids[2].clone(),
        plaintext: b"backed up".to_vec(),
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap()
    .ciphertext_blob;
    let before = snapshot(&kms);
    let backup = block_on(kms.create_backup("backup pass", KdfParams::insecure_fast())).unwrap();

    let opts = |storage: Arc<dyn Storage>| KmsOptions {
        env: common::env(),
        storage,
        root: RootSecret::RawKey(strongroom::SecretBytes::from_slice(&[9; 32])),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    };
    let fresh = Arc::new(MemoryStorage::new());
    let e = block_on(Kms::restore_backup(opts(fresh.clone()), &backup, "wrong"))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.code(), "Forbidden.WrongPassphrase");
    // #15 item 5: about the backup, not "the store".
    assert!(e.to_string().contains("backup passphrase"), "{e}");
    assert!(fresh.image().is_none(), "a failed restore wrote something");
    for cut in [backup.len() - 1, backup.len() / 2, 20] {
        let e = block_on(Kms::restore_backup(
            opts(fresh.clone()),
            &backup[..cut],
            "backup pass",
        ))
        .map(|_| ())
        .unwrap_err();
        assert_eq!(e.code(), "Rejected.BackupCorrupted", "cut at {cut}: {e}");
        assert!(e.to_string().contains("backup"), "{e}");
        assert!(fresh.image().is_none(), "a failed restore wrote something");
    }
    let restored = block_on(Kms::restore_backup(
        opts(fresh.clone()),
        &backup,
        "backup pass",
    ))
    .unwrap();
    assert_eq!(snapshot(&restored), before);
    let d = block_on(restored.decrypt(DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap();
    assert_eq!(d.plaintext.expose(), b"backed up");
    drop(restored);
    let e = block_on(Kms::restore_backup(opts(fresh), &backup, "backup pass"))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreExists");
}

/// tests/vectors/store_v1.json: a version-1 image made before the journal store.
fn store_v1() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/store_v1.json"
        ))
        .unwrap(),
    )
    .unwrap()
}

#[test]
fn a_version_1_image_opens_and_is_upgraded() {
    let v = store_v1();
    let image = hex::decode(v["image"].as_str().unwrap()).unwrap();
    assert_eq!(image[4], 1);
    let storage = Arc::new(MemoryStorage::with_image(image));
    let kms = open_with(
        Backend::Software,
        storage.clone(),
        v["passphrase"].as_str().unwrap(),
    )
    .unwrap();
    for id in v["key_ids"].as_array().unwrap() {
        block_on(kms.describe_key(id.as_str().unwrap())).unwrap();
    }
    assert_eq!(
        block_on(kms.describe_key("alias/vector-b")).unwrap().key_id,
        v["key_ids"][1].as_str().unwrap()
    );
    let upgraded = storage.image().unwrap();
    assert_eq!(upgraded[4], 2, "rewritten as version 2");
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    let kms = open_with(
        Backend::Software,
        storage,
        v["passphrase"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(
        block_on(kms.list_keys(ListKeysRequest::default()))
            .unwrap()
            .total_count,
        3
    );
}

/// tests/vectors/store_v2_state1.json: a journal store whose records hold state version 1
/// (before the BYOK fields): it opens, its envelopes decrypt, and a mutation appends a
/// version-2 key record after the version-1 ones.
#[test]
fn a_store_with_version_1_state_records_opens_and_takes_new_records() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/store_v2_state1.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let storage = Arc::new(MemoryStorage::with_image(
        hex::decode(v["image"].as_str().unwrap()).unwrap(),
    ));
    let pass = v["passphrase"].as_str().unwrap();
    let kms = open_with(Backend::Software, storage.clone(), pass).unwrap();
    assert!(
        kms.store_info().unwrap().journal_records > 0,
        "the vector has version-1 deltas"
    );
    let check = |kms: &Kms| {
        for m in v["messages"].as_array().unwrap() {
            let ctx: std::collections::BTreeMap<String, String> =
                serde_json::from_value(m["encryption_context"].clone()).unwrap();
            let r = block_on(kms.decrypt_envelope(strongroom::DecryptEnvelopeRequest {
                ciphertext: hex::decode(m["message"].as_str().unwrap()).unwrap(),
                encryption_context: Some(EncryptionContext::from_pairs(ctx).unwrap()),
                ..Default::default()
            }))
            .unwrap();
            assert_eq!(hex::encode(&r.plaintext), m["plaintext"].as_str().unwrap());
        }
    };
    check(&kms);
    let id = v["key_ids"][0].as_str().unwrap();
    block_on(kms.update_key_description(id, "changed after the upgrade")).unwrap();
    drop(kms);
    let kms = open_with(Backend::Software, storage, pass).unwrap();
    check(&kms);
    assert_eq!(
        block_on(kms.describe_key(id)).unwrap().description,
        "changed after the upgrade"
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("strongroom-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_file_store_group_commits_concurrent_writers() {
    let dir = tempdir("group");
    let path = dir.join("store.srs");
    let storage = Arc::new(FileStorage::open(&path).unwrap());
    let kms = Arc::new(open_with(Backend::Software, storage.clone(), PASS).unwrap());
    let base = storage.sync_count();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let kms = kms.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|_| {
                        block_on(kms.create_key(CreateKeyRequest::default()))
                            .unwrap()
                            .key_id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    // How much the threads overlapped is up to the scheduler, so it is reported, not
    // asserted; the coalescing itself is checked deterministically in
    // one_flush_covers_every_append_before_it.
    println!(
        "200 concurrent CreateKeys: {} flushes",
        storage.sync_count() - base
    );
    assert_eq!(kms.store_info().unwrap().journal_records, 200);
    drop(kms);
    drop(storage);
    let storage = Arc::new(FileStorage::open(&path).unwrap());
    let kms = open_with(Backend::Software, storage, PASS).unwrap();
    for id in &ids {
        block_on(kms.describe_key(id)).unwrap();
    }
    // A second writer is refused while the first holds the store.
    assert_eq!(
        FileStorage::open(&path).unwrap_err().code(),
        "Rejected.StoreLocked"
    );
    drop(kms);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_file_store_drops_a_torn_tail_on_disk() {
    let dir = tempdir("torn");
    let path = dir.join("store.srs");
    let kms = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        PASS,
    )
    .unwrap();
    let a = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    let good = std::fs::metadata(&path).unwrap().len();
    // A crash mid-append: half a record, then zeros the file system never filled.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, &[0x00, 0x00, 0x01, 0x20, 0xff, 0xff, 0xfe]).unwrap();
    drop(f);
    let kms = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        PASS,
    )
    .unwrap();
    assert_eq!(kms.store_info().unwrap().torn_bytes, 7);
    let b = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    let kms = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        PASS,
    )
    .unwrap();
    assert_eq!(kms.store_info().unwrap().torn_bytes, 0);
    assert!(std::fs::metadata(&path).unwrap().len() > good);
    block_on(kms.describe_key(&a.key_id)).unwrap();
    block_on(kms.describe_key(&b.key_id)).unwrap();
    drop(kms);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_store_naming_a_huge_argon2id_cost_is_refused_before_any_work() {
    use sha2::Digest;
    // Found by the store fuzzer: a version-1 image naming m = 2.7 GiB made the opener
    // allocate it. Both versions now refuse m > 1 GiB, t > 16 as corrupted.
    let v = store_v1();
    let v1 = hex::decode(v["image"].as_str().unwrap()).unwrap();
    let storage = Arc::new(MemoryStorage::new());
    drop(open_with(Backend::Software, storage.clone(), PASS).unwrap());
    let v2 = storage.image().unwrap();
    for (m, t) in [(0x0020_0000_u32, 1_u32), (0x002a_0040, 1), (64, 17)] {
        for img in [&v1, &v2] {
            let mut bad = img.clone();
            bad[6..10].copy_from_slice(&m.to_be_bytes());
            bad[10..14].copy_from_slice(&t.to_be_bytes());
            if bad[4] == 2 {
                // Keep the header checksum right, so the range check itself is hit.
                let sum = sha2::Sha256::digest(&bad[..102]);
                bad[102..110].copy_from_slice(&sum[..8]);
            }
            let t0 = std::time::Instant::now();
            let e = open_with(
                Backend::Software,
                Arc::new(MemoryStorage::with_image(bad)),
                PASS,
            )
            .map(|_| ())
            .unwrap_err();
            assert_eq!(
                e.code(),
                "Rejected.StoreCorrupted",
                "v{} m={m} t={t}",
                img[4]
            );
            assert!(e.to_string().contains("Argon2id"), "{e}");
            assert!(t0.elapsed() < std::time::Duration::from_secs(1));
        }
    }
}

#[test]
fn the_file_store_honours_a_live_node_writer_mark_and_ignores_a_stale_one() {
    let dir = tempdir("nodelock");
    let path = dir.join("store.srs");
    let mark = dir.join("store.srs.node-lock");
    // A live holder (this very process's PID stands in for a Node process).
    std::fs::write(&mark, std::process::id().to_string()).unwrap();
    assert_eq!(
        FileStorage::open(&path).unwrap_err().code(),
        "Rejected.StoreLocked"
    );
    // A dead one (no such PID) is stale.
    std::fs::write(&mark, "999999999").unwrap();
    let storage = FileStorage::open(&path).unwrap();
    // While open, the lock file carries our PID for Node to see; cleared on drop.
    let lock = dir.join("store.srs.lock");
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        std::process::id().to_string()
    );
    drop(storage);
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn one_flush_covers_every_append_before_it() {
    let dir = tempdir("coalesce");
    let path = dir.join("raw.bin");
    let s = FileStorage::open(&path).unwrap();
    block_on(s.save(b"base")).unwrap();
    block_on(s.append(4, b"one")).unwrap();
    block_on(s.append(7, b"two")).unwrap();
    let before = s.sync_count();
    // The first sync flushes both appends; the second has nothing left to flush.
    block_on(s.sync()).unwrap();
    assert_eq!(s.sync_count(), before + 1);
    block_on(s.sync()).unwrap();
    assert_eq!(s.sync_count(), before + 1);
    block_on(s.append(10, b"three")).unwrap();
    block_on(s.sync()).unwrap();
    assert_eq!(s.sync_count(), before + 2);
    // An append at an earlier offset drops what followed (a torn tail).
    block_on(s.append(7, b"TWO")).unwrap();
    assert_eq!(block_on(s.load()).unwrap().unwrap(), b"baseoneTWO");
    drop(s);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A storage whose flushes wait on a gate the test opens or fails. Appends are held
/// apart until a flush succeeds; a failed flush drops them (what a crash after a
/// failed fsync leaves) and fails every later flush.
struct Gated {
    durable: std::sync::Mutex<Option<Vec<u8>>>,
    pending: std::sync::Mutex<Vec<(u64, Vec<u8>)>>,
    /// 0: flushes wait; 1: they succeed; 2: they fail.
    gate: AtomicU8,
    /// 0: appends wait; 1: they succeed; 2: they fail with disk full.
    append_gate: AtomicU8,
    failed: std::sync::atomic::AtomicBool,
}

impl Gated {
    fn new() -> Self {
        Gated {
            durable: std::sync::Mutex::new(None),
            pending: std::sync::Mutex::new(Vec::new()),
            gate: AtomicU8::new(1),
            append_gate: AtomicU8::new(1),
            failed: std::sync::atomic::AtomicBool::new(false),
        }
    }
    fn image(&self) -> Vec<u8> {
        self.durable.lock().unwrap().clone().unwrap()
    }
}

impl Storage for Gated {
    fn load(&self) -> BoxFuture<'_, strongroom::Result<Option<Vec<u8>>>> {
        let v = self.durable.lock().unwrap().clone();
        Box::pin(async move { Ok(v) })
    }
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        *self.durable.lock().unwrap() = Some(image.to_vec());
        self.pending.lock().unwrap().clear();
        Box::pin(async { Ok(()) })
    }
    fn supports_append(&self) -> bool {
        true
    }
    fn append<'a>(&'a self, at: u64, record: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        Box::pin(std::future::poll_fn(move |_| {
            match self.append_gate.load(Ordering::SeqCst) {
                0 => std::task::Poll::Pending,
                1 => {
                    self.pending.lock().unwrap().push((at, record.to_vec()));
                    std::task::Poll::Ready(Ok(()))
                }
                _ => std::task::Poll::Ready(Err(strongroom::Error::StoreFull(
                    "injected: ENOSPC".into(),
                ))),
            }
        }))
    }
    fn sync(&self) -> BoxFuture<'_, strongroom::Result<()>> {
        Box::pin(std::future::poll_fn(move |_| {
            if self.failed.load(Ordering::SeqCst) {
                return std::task::Poll::Ready(Err(strongroom::Error::StoreIo(
                    "injected: fsync failed earlier".into(),
                )));
            }
            match self.gate.load(Ordering::SeqCst) {
                0 => std::task::Poll::Pending,
                1 => {
                    let mut d = self.durable.lock().unwrap();
                    let img = d.as_mut().unwrap();
                    for (at, rec) in self.pending.lock().unwrap().drain(..) {
                        img.truncate(usize::try_from(at).unwrap());
                        img.extend_from_slice(&rec);
                    }
                    std::task::Poll::Ready(Ok(()))
                }
                _ => {
                    self.pending.lock().unwrap().clear();
                    self.failed.store(true, Ordering::SeqCst);
                    std::task::Poll::Ready(Err(strongroom::Error::StoreIo(
                        "injected: fsync EIO".into(),
                    )))
                }
            }
        }))
    }
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: std::future::Future + ?Sized>(
    f: std::pin::Pin<&mut F>,
) -> std::task::Poll<F::Output> {
    f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

/// A change is used only once durable: while CreateKeyVersion waits for its flush,
/// an Encrypt (which would pick the new primary version) does not answer; when the
/// flush fails, both fail, and after reopening (the new version is gone) nothing
/// that was answered is unreadable. When the flush succeeds, both answer.
#[test]
fn nothing_is_answered_from_a_change_before_it_is_durable() {
    for flush_ok in [false, true] {
        let storage = Arc::new(Gated::new());
        let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
        let id = block_on(kms.create_key(CreateKeyRequest::default()))
            .unwrap()
            .key_id;
        block_on(kms.create_alias("alias/k", &id)).unwrap();
        let enc = || {
            kms.encrypt(EncryptRequest {
                key_id: "alias/k".into(),
                plaintext: b"after rotation".to_vec(),
                encryption_context: EncryptionContext::new(),
            })
        };

        storage.gate.store(0, Ordering::SeqCst);
        let mut rotate = Box::pin(kms.create_key_version(&id));
        assert!(
            poll_once(rotate.as_mut()).is_pending(),
            "the flush is gated"
        );
        let mut encrypt = Box::pin(enc());
        assert!(
            poll_once(encrypt.as_mut()).is_pending(),
            "Encrypt answered from a key version that is not durable yet"
        );
        // A read that saw the change waits too.
        let mut describe = Box::pin(kms.describe_key(&id));
        assert!(poll_once(describe.as_mut()).is_pending());

        storage
            .gate
            .store(if flush_ok { 1 } else { 2 }, Ordering::SeqCst);
        let rotated = block_on(rotate.as_mut());
        let encrypted = block_on(encrypt.as_mut());
        let described = block_on(describe.as_mut());
        if flush_ok {
            let v = rotated.unwrap().key_version_id;
            let blob = encrypted.unwrap();
            assert_eq!(blob.key_version_id, v);
            assert_eq!(described.unwrap().primary_key_version, v);
        } else {
            assert_eq!(rotated.unwrap_err().code(), "Rejected.StoreIo");
            assert_eq!(encrypted.unwrap_err().code(), "Rejected.StoreIo");
            assert_eq!(described.unwrap_err().code(), "Rejected.StoreIo");
        }
        drop((rotate, encrypt, describe));
        drop(kms);

        // What a crash leaves: only what was flushed.
        let kms = open_with(
            Backend::Software,
            Arc::new(MemoryStorage::with_image(storage.image())),
            PASS,
        )
        .unwrap();
        let versions = block_on(kms.list_key_versions(&id, None, None)).unwrap();
        assert_eq!(versions.total_count, if flush_ok { 2 } else { 1 });
    }
}

/// A write that fails is undone; a call that saw the change meanwhile fails rather
/// than answer from it, and a retry sees the state as it is.
#[test]
fn a_call_that_saw_an_undone_change_fails_and_a_retry_succeeds() {
    let storage = Arc::new(Gated::new());
    let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
    let id = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let enc = || {
        kms.encrypt(EncryptRequest {
            key_id: id.clone(),
            plaintext: b"x".to_vec(),
            encryption_context: EncryptionContext::new(),
        })
    };
    // CreateKeyVersion is applied in memory and waits in its append…
    storage.append_gate.store(0, Ordering::SeqCst);
    let mut rotate = Box::pin(kms.create_key_version(&id));
    assert!(poll_once(rotate.as_mut()).is_pending());
    // …an Encrypt sees the new primary version and waits for it to be durable…
    let mut encrypt = Box::pin(enc());
    assert!(poll_once(encrypt.as_mut()).is_pending());
    // …the append fails (disk full) and the change is undone: the Encrypt fails too,
    // instead of answering with a blob under a version that no longer exists.
    storage.append_gate.store(2, Ordering::SeqCst);
    assert_eq!(
        block_on(rotate.as_mut()).unwrap_err().code(),
        "Rejected.StoreFull"
    );
    let e = block_on(encrypt.as_mut()).unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreIo");
    assert!(e.to_string().contains("retry"), "{e}");
    drop((rotate, encrypt));
    // The retry answers from the state as it is: the one version there is.
    storage.append_gate.store(1, Ordering::SeqCst);
    let blob = block_on(enc()).unwrap();
    let versions = block_on(kms.list_key_versions(&id, None, None)).unwrap();
    assert_eq!(versions.total_count, 1);
    assert_eq!(blob.key_version_id, versions.key_versions[0].key_version_id);
}

/// The store, its lock and its temp file are 0600 whatever the umask; each store has
/// its own temp name; a store path that is a symbolic link is refused.
#[cfg(unix)]
#[test]
fn the_file_store_keeps_its_files_private_and_apart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("sr-modes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Another store's temp file under the name `x.a` and `x.b` once shared.
    std::fs::write(dir.join("x.tmp"), b"someone else's").unwrap();
    let path = dir.join("x.a");
    let kms = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        PASS,
    )
    .unwrap();
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.compact_store()).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.join("x.a.lock")), 0o600);
    assert_eq!(std::fs::read(dir.join("x.tmp")).unwrap(), b"someone else's");
    drop(kms);

    // A planted link where the temp file goes is replaced, never written through.
    let victim = dir.join("victim");
    std::fs::write(&victim, b"untouched").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("x.a.tmp")).unwrap();
    let kms = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        PASS,
    )
    .unwrap();
    block_on(kms.compact_store()).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    drop(kms);

    std::os::unix::fs::symlink(&path, dir.join("link")).unwrap();
    let e = FileStorage::open(dir.join("link")).unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreIo");
    assert!(e.to_string().contains("symbolic link"), "{e}");

    // create_private: 0600 for a new file, and re-applied to an existing 0644 one.
    let out = dir.join("plain");
    std::fs::write(&out, b"old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(strongroom::storage::create_private(&out).unwrap());
    assert_eq!(mode(&out), 0o600);
    assert!(strongroom::storage::create_private(&dir.join("link")).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A final record whose length field reached the disk but whose last bytes did not
/// (zeros) is a torn append: the store opens without it and says how much it dropped;
/// the next write replaces it. `strongroom store check` reports the same.
#[test]
fn a_final_record_with_a_zeroed_tail_is_torn_not_corruption() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
    let a = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let before_last = snapshot(&kms);
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    let mut image = storage.image().unwrap();
    let last_len = records(&image).1.last().unwrap().len();
    let n = image.len();
    image[n - 20..].fill(0);
    let damaged = image.clone();
    let kms = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(image)),
        PASS,
    )
    .unwrap();
    assert_eq!(kms.store_info().unwrap().torn_bytes, last_len as u64);
    assert_eq!(snapshot(&kms), before_last);
    block_on(kms.describe_key(&a.key_id)).unwrap();
    // inspect (what `store check` runs) reports the same without writing.
    let (info, _, _) =
        strongroom::storage::inspect(&damaged, &RootSecret::passphrase(PASS)).unwrap();
    assert_eq!(info.torn_bytes, last_len as u64);
    // The same zeros in a record that has another after it are damage, not a crash.
    let storage = Arc::new(MemoryStorage::new());
    let kms = open_with(Backend::Software, storage.clone(), PASS).unwrap();
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    let mut image = storage.image().unwrap();
    let (_, recs) = records(&image);
    let end_of_middle = image.len() - recs.last().unwrap().len();
    image[end_of_middle - 20..end_of_middle].fill(0);
    let e = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(image)),
        PASS,
    )
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreCorrupted");
}

/// Kms::close releases a file store's writer lock at once (not when the last reference
/// goes): the same process can open the store again while the closed instance still
/// exists, and every call on the closed instance is `Rejected.StoreClosed`.
#[test]
fn close_releases_the_lock_and_refuses_later_calls() {
    let dir = std::env::temp_dir().join(format!("sr-close-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store");
    let first = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        "pw",
    )
    .unwrap();
    let k = block_on(first.create_key(CreateKeyRequest::default())).unwrap();
    let locked = FileStorage::open(&path).unwrap_err();
    assert_eq!(locked.code(), "Rejected.StoreLocked");
    // #15 item 6: the holder is named by its PID (here, this process).
    assert!(
        locked
            .to_string()
            .contains(&format!("process {}", std::process::id())),
        "{locked}"
    );
    block_on(first.close()).unwrap();
    block_on(first.close()).unwrap();
    assert_eq!(
        block_on(first.describe_key(&k.key_id)).unwrap_err().code(),
        "Rejected.StoreClosed"
    );
    assert_eq!(
        block_on(first.create_key(CreateKeyRequest::default()))
            .unwrap_err()
            .code(),
        "Rejected.StoreClosed"
    );
    let second = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        "pw",
    )
    .unwrap();
    assert_eq!(
        block_on(second.describe_key(&k.key_id)).unwrap().key_id,
        k.key_id
    );
    drop(first);
    block_on(second.create_key(CreateKeyRequest::default())).unwrap();
    drop(second);
    std::fs::remove_dir_all(dir).unwrap();
}

/// #15 item 13: a store never written — a failed restore, a failed open — leaves no
/// debris: not the lock file, not the directories the open made.
#[test]
fn a_failed_open_or_restore_leaves_nothing_behind() {
    let base = std::env::temp_dir().join(format!("sr-debris-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let path = base.join("new/deeper/store");
    // A failed restore (wrong backup passphrase) into a new path.
    let (src, _) = common::memory(Backend::Software);
    block_on(src.create_key(CreateKeyRequest::default())).unwrap();
    let backup = block_on(src.create_backup("right", KdfParams::insecure_fast())).unwrap();
    let e = block_on(Kms::restore_backup(
        KmsOptions {
            env: common::env(),
            storage: Arc::new(FileStorage::open(&path).unwrap()),
            root: RootSecret::passphrase("pw"),
            kdf: KdfParams::insecure_fast(),
            backend: None,
        },
        &backup,
        "wrong",
    ))
    .map(|_| ())
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.WrongPassphrase");
    assert!(!base.join("new").exists(), "debris after a failed restore");
    // Opening and dropping without a write leaves nothing either; an existing
    // directory stays.
    std::fs::create_dir_all(base.join("kept")).unwrap();
    drop(FileStorage::open(base.join("kept/a/store")).unwrap());
    assert!(base.join("kept").exists());
    assert!(!base.join("kept/a").exists());
    // A store that was written keeps its lock file and directory.
    let good = base.join("good/store");
    let kms = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&good).unwrap()),
        "pw",
    )
    .unwrap();
    drop(kms);
    assert!(good.exists());
    std::fs::remove_dir_all(base).unwrap();
}
