#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The backend conformance suite: the KMS actions, run against the software backend,
//! the same backend behind the wire protocol (loopback transport), a PKCS#11 token
//! (SoftHSM2) and an OpenBao transit engine: all must behave identically.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Backend, memory, open_with};
use pollster::block_on;
use strongroom::storage::MemoryStorage;
use strongroom::{
    BoxFuture, CreateKeyRequest, DataKeySpec, DecryptRequest, EncryptRequest, EncryptionContext,
    Error, GenerateDataKeyPairRequest, GenerateDataKeyRequest, KeyFormat, KeySpec, KeyState,
    KeyUsage, ListKeysRequest, ProtectionLevel, Storage,
};

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    EncryptionContext::from_pairs(pairs.iter().copied()).unwrap()
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod software { $( #[test] fn $name() { super::$name(super::Backend::Software) } )* }
        mod loopback { $( #[test] fn $name() { super::$name(super::Backend::Loopback) } )* }
        mod pkcs11 { $( #[test] fn $name() { super::$name(super::Backend::Pkcs11) } )* }
        mod transit { $( #[test] fn $name() { super::$name(super::Backend::Transit) } )* }
        mod kmip { $( #[test] fn $name() { super::$name(super::Backend::Kmip) } )* }
    };
}

both_backends!(
    create_describe_list,
    encrypt_decrypt_round_trip,
    decrypt_rejects_wrong_context_and_tampering,
    data_keys,
    data_key_pairs,
    bad_input_codes,
    reopen_keeps_keys,
    all_aes_specs,
    verify_store_probes_every_key_version,
);

fn create_describe_list(b: Backend) {
    let (kms, _) = memory(b);
    let m = block_on(kms.create_key(CreateKeyRequest {
        description: Some("lab key".into()),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(m.key_spec, KeySpec::Aes256);
    assert_eq!(m.key_usage, KeyUsage::EncryptDecrypt);
    assert_eq!(m.key_state, KeyState::Enabled);
    assert_eq!(m.protection_level, b.protection_level());
    assert_eq!(m.creation_date, "2026-11-23T00:00:00Z");
    assert_eq!(m.arn, format!("acs:kms:strongroom:local:key/{}", m.key_id));
    assert_eq!(m.key_id.len(), 36);
    let d = block_on(kms.describe_key(&m.key_id)).unwrap();
    assert_eq!(d, m);
    let by_arn = block_on(kms.describe_key(&m.arn)).unwrap();
    assert_eq!(by_arn.key_id, m.key_id);
    for _ in 0..11 {
        block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    }
    let p1 = block_on(kms.list_keys(ListKeysRequest::default())).unwrap();
    assert_eq!(
        (p1.total_count, p1.keys.len(), p1.page_number, p1.page_size),
        (12, 10, 1, 10)
    );
    assert_eq!(p1.keys[0].key_id, m.key_id);
    let p2 = block_on(kms.list_keys(ListKeysRequest {
        page_number: Some(2),
        page_size: None,
        ..ListKeysRequest::default()
    }))
    .unwrap();
    assert_eq!(p2.keys.len(), 2);
    let e = block_on(kms.list_keys(ListKeysRequest {
        page_number: None,
        page_size: Some(101),
        ..ListKeysRequest::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.Limit");
}

fn encrypt_decrypt_round_trip(b: Backend) {
    let (kms, _) = memory(b);
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let c = ctx(&[("app", "billing"), ("env", "prod")]);
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"hello strongroom".to_vec(),
        encryption_context: c.clone(),
    }))
    .unwrap();
    assert_eq!(e.key_id, k.key_id);
    assert_eq!(e.key_version_id, k.primary_key_version);
    // Same pairs, other insertion order: still decrypts (canonical form).
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: e.ciphertext_blob.clone(),
        encryption_context: ctx(&[("env", "prod"), ("app", "billing")]),
    }))
    .unwrap();
    assert_eq!(d.plaintext.expose(), b"hello strongroom");
    assert_eq!(d.key_id, k.key_id);
    // Fresh nonce each time.
    let e2 = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"hello strongroom".to_vec(),
        encryption_context: c,
    }))
    .unwrap();
    assert_ne!(e.ciphertext_blob, e2.ciphertext_blob);
    // 6 KiB exactly is fine.
    block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: vec![7u8; 6144],
        ..Default::default()
    }))
    .unwrap();
}

fn decrypt_rejects_wrong_context_and_tampering(b: Backend) {
    let (kms, _) = memory(b);
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"secret".to_vec(),
        encryption_context: ctx(&[("a", "1")]),
    }))
    .unwrap();
    for wrong in [ctx(&[]), ctx(&[("a", "2")]), ctx(&[("a", "1"), ("b", "1")])] {
        let err = block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: e.ciphertext_blob.clone(),
            encryption_context: wrong,
        }))
        .unwrap_err();
        assert_eq!(err, Error::InvalidCiphertext);
    }
    // Every single-bit flip is rejected, with a clear code and no panic.
    let blob = &e.ciphertext_blob;
    for i in 0..blob.len() * 8 {
        let mut t = blob.clone();
        t[i / 8] ^= 1 << (i % 8);
        let err = block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: t,
            encryption_context: ctx(&[("a", "1")]),
        }))
        .unwrap_err();
        assert!(
            matches!(
                err.code(),
                "InvalidCiphertext" | "Forbidden.KeyNotFound" | "Forbidden.KeyVersionNotFound"
            ),
            "bit {i}: {err:?}"
        );
    }
    // Truncations.
    for n in 0..blob.len() {
        let err = block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: blob[..n].to_vec(),
            encryption_context: ctx(&[("a", "1")]),
        }))
        .unwrap_err();
        assert!(matches!(
            err.code(),
            "InvalidCiphertext" | "Forbidden.KeyNotFound" | "Forbidden.KeyVersionNotFound"
        ));
    }
}

fn data_keys(b: Backend) {
    let (kms, _) = memory(b);
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let g = block_on(kms.generate_data_key(GenerateDataKeyRequest {
        key_id: k.key_id.clone(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(g.plaintext.len(), 32);
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: g.ciphertext_blob.clone(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(d.plaintext, g.plaintext);
    let g16 = block_on(kms.generate_data_key(GenerateDataKeyRequest {
        key_id: k.key_id.clone(),
        key_spec: Some(DataKeySpec::Aes128),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(g16.plaintext.len(), 16);
    let g7 = block_on(kms.generate_data_key(GenerateDataKeyRequest {
        key_id: k.key_id.clone(),
        key_spec: Some(DataKeySpec::Aes128),
        number_of_bytes: Some(7),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(g7.plaintext.len(), 7);
    let w = block_on(
        kms.generate_data_key_without_plaintext(GenerateDataKeyRequest {
            key_id: k.key_id.clone(),
            encryption_context: ctx(&[("file", "x")]),
            ..Default::default()
        }),
    )
    .unwrap();
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: w.ciphertext_blob,
        encryption_context: ctx(&[("file", "x")]),
    }))
    .unwrap();
    assert_eq!(d.plaintext.len(), 32);
    for n in [0, 1025] {
        let e = block_on(kms.generate_data_key(GenerateDataKeyRequest {
            key_id: k.key_id.clone(),
            number_of_bytes: Some(n),
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(e.code(), "InvalidParameter.NumberOfBytes");
    }
}

/// A key pair drawn in the process, its private key under a CMK of every backend.
fn data_key_pairs(b: Backend) {
    let (kms, _) = memory(b);
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let p = block_on(kms.generate_data_key_pair(GenerateDataKeyPairRequest {
        key_id: k.key_id.clone(),
        key_pair_spec: Some(KeySpec::EcP256),
        key_format: Some(KeyFormat::Der),
        encryption_context: ctx(&[("pair", "x")]),
    }))
    .unwrap();
    assert_eq!(p.key_id, k.key_id);
    let spki = strongroom::asym::KeyCache::default()
        .public_key(KeySpec::EcP256, p.private_key_plaintext.expose())
        .unwrap();
    assert_eq!(spki, p.public_key);
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: p.private_key_ciphertext_blob.clone(),
        encryption_context: ctx(&[("pair", "x")]),
    }))
    .unwrap();
    assert_eq!(d.plaintext, p.private_key_plaintext);
    let e = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: p.private_key_ciphertext_blob,
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertext");
}

/// VerifyStore probes each key version in the backend that holds it: every one
/// round-trips here (symmetric versions, and the asymmetric specs the backend makes).
fn verify_store_probes_every_key_version(b: Backend) {
    let (kms, _) = memory(b);
    let aes = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_key_version(&aes.key_id)).unwrap();
    let mut expected = 2;
    for (spec, usage) in [
        (KeySpec::EcP256, KeyUsage::SignVerify),
        (KeySpec::Rsa2048, KeyUsage::SignVerify),
        (KeySpec::Rsa2048, KeyUsage::EncryptDecrypt),
    ] {
        match block_on(kms.create_key(CreateKeyRequest {
            key_spec: Some(spec),
            key_usage: Some(usage),
            ..Default::default()
        })) {
            Ok(_) => expected += 1,
            // A backend without asymmetric keys (or this spec) says so at CreateKey.
            Err(e) => assert!(
                e.code().starts_with("Rejected.Unsupported")
                    || e.code() == "InvalidParameter.KeySpec",
                "{b:?} {spec:?}: {}",
                e.code()
            ),
        }
    }
    // A key waiting for its material has nothing to probe (where BYOK exists).
    if let Err(e) = block_on(kms.create_key(CreateKeyRequest {
        origin: Some(strongroom::Origin::External),
        ..Default::default()
    })) {
        assert_eq!(e.code(), "Rejected.Unsupported", "{b:?}");
    }
    let r = block_on(kms.verify_store()).unwrap();
    assert_eq!(r.key_problems, vec![], "{b:?}");
    assert_eq!(
        (r.key_versions, r.key_versions_verified),
        (expected, expected),
        "{b:?}"
    );
}

fn bad_input_codes(b: Backend) {
    let (kms, _) = memory(b);
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let code = |r: strongroom::Result<strongroom::EncryptResponse>| r.unwrap_err().code();
    assert_eq!(
        code(block_on(kms.encrypt(EncryptRequest {
            key_id: k.key_id.clone(),
            plaintext: vec![0; 6145],
            ..Default::default()
        }))),
        "InvalidParameter.PlaintextTooLarge"
    );
    assert_eq!(
        code(block_on(kms.encrypt(EncryptRequest {
            key_id: k.key_id.clone(),
            ..Default::default()
        }))),
        "InvalidParameter.Plaintext"
    );
    assert_eq!(
        code(block_on(kms.encrypt(EncryptRequest {
            key_id: "00000000-0000-4000-8000-000000000000".into(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        }))),
        "Forbidden.KeyNotFound"
    );
    assert_eq!(
        code(block_on(kms.encrypt(EncryptRequest {
            key_id: " ".into(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        }))),
        "InvalidParameter.KeyId"
    );
    let e = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::Aes256),
        key_usage: Some(KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.KeyUsage");
    // EC keys sign only; the default usage is ENCRYPT/DECRYPT.
    let e = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::EcP256),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.KeyUsage");
    // A protection level the instance does not give: HSM without an HSM backend.
    // Beside an HSM, SOFTWARE keys are made in-process (one store mixes both).
    let r = block_on(kms.create_key(CreateKeyRequest {
        protection_level: Some(ProtectionLevel::Hsm),
        ..Default::default()
    }));
    match b.protection_level() {
        ProtectionLevel::Hsm => assert_eq!(r.unwrap().protection_level, ProtectionLevel::Hsm),
        _ => assert_eq!(r.unwrap_err().code(), "InvalidParameter.ProtectionLevel"),
    }
    let sw = block_on(kms.create_key(CreateKeyRequest {
        protection_level: Some(ProtectionLevel::Software),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(sw.protection_level, ProtectionLevel::Software);
    let e = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: b"not a blob".to_vec(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertext");
    assert_eq!(
        "Aliyun_RSA".parse::<KeySpec>().unwrap_err().code(),
        "InvalidParameter.KeySpec"
    );
    // Messages never carry the plaintext.
    let secret = b"TOP-SECRET-PAYLOAD".repeat(400);
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: secret,
        ..Default::default()
    }))
    .unwrap_err();
    assert!(!format!("{e} {e:?}").contains("TOP-SECRET"));
}

fn reopen_keeps_keys(b: Backend) {
    // The loopback server's handle key lives as long as the server: reopen with the
    // same backend instance, as a real gateway would keep its keys.
    let storage = Arc::new(MemoryStorage::new());
    let env = common::env();
    let backend = common::backend(b, &env);
    let open = |pass: &str| {
        block_on(strongroom::Kms::open(strongroom::KmsOptions {
            env: env.clone(),
            storage: storage.clone(),
            root: strongroom::RootSecret::passphrase(pass),
            kdf: strongroom::storage::KdfParams::insecure_fast(),
            backend: Some(backend.clone()),
        }))
    };
    let kms = open("pw-1").unwrap();
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"p".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    drop(kms);
    assert_eq!(open("pw-2").unwrap_err(), Error::WrongPassphrase);
    let kms = open("pw-1").unwrap();
    assert_eq!(block_on(kms.describe_key(&k.key_id)).unwrap(), k);
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: e.ciphertext_blob,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(d.plaintext.expose(), b"p");
}

fn all_aes_specs(b: Backend) {
    let (kms, _) = memory(b);
    for spec in [KeySpec::Aes128, KeySpec::Aes192, KeySpec::Aes256] {
        if matches!(b, Backend::Transit) && spec == KeySpec::Aes192 {
            // Transit has no 192-bit AES key type: refused, clearly.
            let e = block_on(kms.create_key(CreateKeyRequest {
                key_spec: Some(spec),
                ..Default::default()
            }))
            .unwrap_err();
            assert_eq!(e.code(), "Rejected.Unsupported");
            continue;
        }
        let k = block_on(kms.create_key(CreateKeyRequest {
            key_spec: Some(spec),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(k.key_spec, spec);
        let e = block_on(kms.encrypt(EncryptRequest {
            key_id: k.key_id,
            plaintext: b"x".to_vec(),
            ..Default::default()
        }))
        .unwrap();
        let d = block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: e.ciphertext_blob,
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(d.plaintext.expose(), b"x");
    }
}

/// A storage whose saves fail on demand: a failed write must change nothing.
struct Flaky {
    inner: MemoryStorage,
    fail: AtomicBool,
}

impl Storage for Flaky {
    fn load(&self) -> BoxFuture<'_, strongroom::Result<Option<Vec<u8>>>> {
        self.inner.load()
    }
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        if self.fail.load(Ordering::SeqCst) {
            Box::pin(async { Err(Error::StoreIo("disk full (injected)".into())) })
        } else {
            self.inner.save(image)
        }
    }
}

#[test]
fn failed_save_changes_nothing() {
    let flaky = Arc::new(Flaky {
        inner: MemoryStorage::new(),
        fail: AtomicBool::new(false),
    });
    let kms = open_with(Backend::Software, flaky.clone(), "pw").unwrap();
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    flaky.fail.store(true, Ordering::SeqCst);
    let e = block_on(kms.create_key(CreateKeyRequest::default())).unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreIo");
    let l = block_on(kms.list_keys(ListKeysRequest::default())).unwrap();
    assert_eq!(l.total_count, 1);
    flaky.fail.store(false, Ordering::SeqCst);
    drop(kms);
    let kms = open_with(Backend::Software, flaky, "pw").unwrap();
    let l = block_on(kms.list_keys(ListKeysRequest::default())).unwrap();
    assert_eq!(
        l.keys.iter().map(|k| k.key_id.clone()).collect::<Vec<_>>(),
        vec![k.key_id]
    );
}

#[test]
fn store_image_tampering_is_detected() {
    let (kms, storage) = memory(Backend::Software);
    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let snapshot_bytes = kms.store_info().unwrap().snapshot_bytes;
    assert_eq!(kms.store_info().unwrap().journal_records, 1);
    drop(kms);
    let image = storage.image().unwrap();
    // Past the final record's length, kind and sequence fields: a flip there is what a
    // torn append looks like, so the record is dropped (docs/FORMAT.md §Opening).
    let final_body = 110 + snapshot_bytes as usize + 17;
    for i in 0..image.len() * 8 {
        let mut t = image.clone();
        t[i / 8] ^= 1 << (i % 8);
        let r = open_with(
            Backend::Software,
            Arc::new(MemoryStorage::with_image(t)),
            "correct horse",
        );
        if i / 8 >= final_body {
            let kms = r.unwrap_or_else(|e| panic!("bit {i}: {e}"));
            assert_eq!(kms.store_info().unwrap().journal_records, 0);
            assert!(kms.store_info().unwrap().torn_bytes > 0);
            continue;
        }
        let Err(e) = r else {
            panic!("bit {i} of {}: opened", image.len() * 8)
        };
        let code = e.code();
        assert!(
            matches!(
                code,
                "Rejected.StoreCorrupted" | "Forbidden.WrongPassphrase" | "Rejected.StoreVersion"
            ),
            "bit {i}: {code}"
        );
    }
    // Cut inside the header or the snapshot: refused. Cut inside the last journal
    // record (the CreateKey): a torn tail, dropped — the store opens without it.
    let snapshot_end = 110 + snapshot_bytes as usize;
    assert!(snapshot_end < image.len());
    for n in [0, 3, 20, 69, 70, 85, 109, 110, 130, snapshot_end - 1] {
        let r = open_with(
            Backend::Software,
            Arc::new(MemoryStorage::with_image(image[..n].to_vec())),
            "correct horse",
        );
        assert_eq!(
            r.map(|_| ()).unwrap_err().code(),
            "Rejected.StoreCorrupted",
            "len {n}"
        );
    }
    for n in [snapshot_end, snapshot_end + 5, image.len() - 1] {
        let kms = open_with(
            Backend::Software,
            Arc::new(MemoryStorage::with_image(image[..n].to_vec())),
            "correct horse",
        )
        .unwrap();
        assert_eq!(
            kms.store_info().unwrap().torn_bytes,
            (n - snapshot_end) as u64
        );
        assert_eq!(
            block_on(kms.list_keys(ListKeysRequest::default()))
                .unwrap()
                .total_count,
            0
        );
    }
}

#[test]
fn memory_kms_exports_only_with_a_passphrase() {
    let kms = block_on(strongroom::Kms::memory(common::env(), None)).unwrap();
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    assert_eq!(
        block_on(kms.export_image(None)).unwrap_err().code(),
        "InvalidParameter.Passphrase"
    );
    let img = block_on(kms.export_image(Some((
        strongroom::RootSecret::passphrase("exported"),
        strongroom::storage::KdfParams::insecure_fast(),
    ))))
    .unwrap();
    let back = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(img)),
        "exported",
    )
    .unwrap();
    assert_eq!(
        block_on(back.describe_key(&k.key_id)).unwrap().key_id,
        k.key_id
    );
}

#[test]
fn concurrent_creates_all_persist() {
    let (kms, storage) = memory(Backend::Software);
    let kms = Arc::new(kms);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let kms = kms.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(kms);
    let reopened = open_with(
        Backend::Software,
        Arc::new(MemoryStorage::with_image(storage.image().unwrap())),
        "correct horse",
    )
    .unwrap();
    assert_eq!(
        block_on(reopened.list_keys(ListKeysRequest::default()))
            .unwrap()
            .total_count,
        100
    );
}

#[test]
fn file_store_is_locked_and_atomic() {
    use strongroom::storage::FileStorage;
    let dir = std::env::temp_dir().join(format!("sr-file-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("nested/store");
    let fs1 = Arc::new(FileStorage::open(&path).unwrap());
    assert_eq!(
        FileStorage::open(&path).unwrap_err().code(),
        "Rejected.StoreLocked"
    );
    let kms = open_with(Backend::Software, fs1, "pw").unwrap();
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    drop(kms);
    assert!(!path.with_extension("tmp").exists());
    let kms = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        "pw",
    )
    .unwrap();
    assert_eq!(
        block_on(kms.describe_key(&k.key_id)).unwrap().key_id,
        k.key_id
    );
    drop(kms);
    assert_eq!(
        open_with(
            Backend::Software,
            Arc::new(FileStorage::open(&path).unwrap()),
            "nope"
        )
        .unwrap_err(),
        Error::WrongPassphrase
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn list_keys_filters_and_them_across_keys_or_within_one() {
    use strongroom::{KeyFilter, KeySpec};
    let (kms, _) = memory(Backend::Software);
    let a = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let b = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::Aes128),
        ..CreateKeyRequest::default()
    }))
    .unwrap()
    .key_id;
    let c = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    block_on(kms.disable_key(&b)).unwrap();
    block_on(kms.schedule_key_deletion(&c, 7)).unwrap();
    block_on(kms.create_alias("alias/filtered", &a)).unwrap();
    block_on(kms.tag_resource(
        &c,
        &[strongroom::Tag {
            tag_key: "team".into(),
            tag_value: "payments".into(),
        }],
    ))
    .unwrap();
    let f = |k: &str, v: &[&str]| KeyFilter {
        key: k.into(),
        values: v.iter().map(|s| (*s).to_string()).collect(),
    };
    let ids = |filters: Vec<KeyFilter>| {
        let r = block_on(kms.list_keys(ListKeysRequest {
            filters,
            ..ListKeysRequest::default()
        }))
        .unwrap();
        assert_eq!(r.total_count as usize, r.keys.len());
        r.keys.into_iter().map(|k| k.key_id).collect::<Vec<_>>()
    };
    assert_eq!(ids(vec![f("KeyState", &["Enabled"])]), vec![a.clone()]);
    assert_eq!(
        ids(vec![f("KeyState", &["Enabled", "Disabled"])]),
        vec![a.clone(), b.clone()]
    );
    // The same key twice: its values are ORed.
    assert_eq!(
        ids(vec![
            f("KeyState", &["Disabled"]),
            f("KeyState", &["PendingDeletion"])
        ]),
        vec![b.clone(), c.clone()]
    );
    // Different keys: ANDed.
    assert_eq!(
        ids(vec![
            f("KeyState", &["Enabled", "Disabled"]),
            f("KeySpec", &["Aliyun_AES_128"])
        ]),
        vec![b.clone()]
    );
    assert_eq!(
        ids(vec![f("AliasName", &["alias/filtered"])]),
        vec![a.clone()]
    );
    assert_eq!(
        ids(vec![f("TagKey", &["team"]), f("TagValue", &["payments"])]),
        vec![c.clone()]
    );
    assert_eq!(ids(vec![f("KeyId", &[b.as_str()])]), vec![b.clone()]);
    assert_eq!(
        ids(vec![f("CreatorType", &["Service"])]),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(vec![
            f("CreatorType", &["User"]),
            f("KeyUsage", &["ENCRYPT/DECRYPT"])
        ])
        .len(),
        3
    );
    assert_eq!(
        ids(vec![f("KeyState", &[])]).len(),
        3,
        "a pair with no values is ignored"
    );
    for bad in [
        vec![f("Color", &["red"])],
        vec![f("KeyState", &["Sleeping"])],
        vec![f("KeySpec", &["AES"])],
        (0..11).map(|_| f("KeyState", &["Enabled"])).collect(),
        vec![f("KeyId", &["x"; 11])],
    ] {
        let e = block_on(kms.list_keys(ListKeysRequest {
            filters: bad,
            ..ListKeysRequest::default()
        }))
        .unwrap_err();
        assert_eq!(e.code(), "InvalidParameter.Filters");
    }
}

#[test]
fn get_random_password_follows_the_rules_and_is_uniform_enough() {
    use strongroom::{GetRandomPasswordRequest, PASSWORD_PUNCTUATION};
    let (kms, _) = memory(Backend::Software);
    let p = kms
        .get_random_password(&GetRandomPasswordRequest::default())
        .unwrap();
    assert_eq!(p.len(), 32);
    let s = std::str::from_utf8(p.expose()).unwrap();
    assert!(s.bytes().any(|b| b.is_ascii_lowercase()));
    assert!(s.bytes().any(|b| b.is_ascii_uppercase()));
    assert!(s.bytes().any(|b| b.is_ascii_digit()));
    assert!(
        s.bytes()
            .any(|b| PASSWORD_PUNCTUATION.as_bytes().contains(&b))
    );
    assert_eq!(
        format!("{p:?}").contains(s),
        false,
        "Debug must not print the password"
    );
    // Exclusions hold on every draw; counts over many draws are near uniform.
    let req = GetRandomPasswordRequest {
        length: Some(128),
        exclude_characters: Some("abc012".into()),
        exclude_punctuation: true,
        exclude_uppercase: true,
        ..GetRandomPasswordRequest::default()
    };
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..200 {
        let p = kms.get_random_password(&req).unwrap();
        assert_eq!(p.len(), 128);
        for b in p.expose() {
            assert!(b.is_ascii_lowercase() || b.is_ascii_digit(), "{b}");
            assert!(!b"abc012".contains(b));
            *counts.entry(*b).or_insert(0u32) += 1;
        }
    }
    assert_eq!(counts.len(), 23 + 7);
    let expected = 200.0 * 128.0 / 30.0;
    for (b, n) in &counts {
        let dev = (f64::from(*n) - expected).abs() / expected;
        assert!(
            dev < 0.15,
            "{} drawn {n} times, expected ~{expected:.0}",
            char::from(*b)
        );
    }
    for (req, code) in [
        (
            GetRandomPasswordRequest {
                length: Some(7),
                ..Default::default()
            },
            "InvalidParameter.Length",
        ),
        (
            GetRandomPasswordRequest {
                length: Some(129),
                ..Default::default()
            },
            "InvalidParameter.Length",
        ),
        (
            GetRandomPasswordRequest {
                exclude_lowercase: true,
                exclude_uppercase: true,
                exclude_punctuation: true,
                exclude_characters: Some("0123456789".into()),
                ..Default::default()
            },
            "InvalidParameter.ExcludeCharacters",
        ),
    ] {
        assert_eq!(kms.get_random_password(&req).unwrap_err().code(), code);
    }
}

/// Requests and answers that carry plaintext print its length, never its bytes.
#[test]
fn debug_never_prints_plaintext() {
    let secret = b"very secret bytes".to_vec();
    let as_debug = format!("{:?}", secret); // what a derived Debug would print
    let e = format!(
        "{:?}",
        strongroom::EncryptRequest {
            key_id: "k".into(),
            plaintext: secret.clone(),
            encryption_context: strongroom::EncryptionContext::new(),
        }
    );
    let ee = format!(
        "{:?}",
        strongroom::EncryptEnvelopeRequest {
            key_ids: vec!["k".into()],
            plaintext: secret.clone(),
            ..Default::default()
        }
    );
    for s in [&e, &ee] {
        assert!(!s.contains(&as_debug[1..20]), "{s}");
        assert!(s.contains("<redacted 17 bytes>"), "{s}");
    }
}
