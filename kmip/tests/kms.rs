//! A whole Kms whose master keys live on a KMIP server (PyKMIP): rotation, envelopes,
//! deletion destroying the server's objects, BYOK registered on the server, backups
//! carrying references.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    missing_docs
)]

use std::sync::Arc;

use pollster::block_on;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, Env, GenerateDataKeyRequest,
    ImportKeyMaterialRequest, ImportWrappingAlgorithm, KeySpec, Kms, KmsOptions, Origin,
    ProtectionLevel, RootSecret,
};
use strongroom_kmip::KmipBackend;
use strongroom_kmip::testing::Server;

fn kms(b: &Arc<KmipBackend>, clock: &Arc<ManualClock>) -> Kms {
    block_on(Kms::open(KmsOptions {
        env: Env::new(Arc::new(strongroom::env::OsEntropy), clock.clone()),
        storage: Arc::new(MemoryStorage::new()),
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(b.clone()),
    }))
    .unwrap()
}

fn encrypt(kms: &Kms, key: &str, msg: &[u8]) -> Vec<u8> {
    block_on(kms.encrypt(EncryptRequest {
        key_id: key.into(),
        plaintext: msg.to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob
}

fn decrypt(kms: &Kms, blob: &[u8]) -> strongroom::Result<Vec<u8>> {
    block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        ..Default::default()
    }))
    .map(|r| r.plaintext.expose().to_vec())
}

#[test]
fn keys_rotate_and_deletion_destroys_the_servers_objects() {
    // A server of its own: the object count is this test's.
    let server = Server::start("kms");
    let b = KmipBackend::connect(server.config()).unwrap();
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let kms = kms(&b, &clock);
    assert!(b.object_ids().unwrap().is_empty());
    let key = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    assert_eq!(key.protection_level, ProtectionLevel::Software);
    let old = encrypt(&kms, &key.key_id, b"version one");
    block_on(kms.create_key_version(&key.key_id)).unwrap();
    let new = encrypt(&kms, &key.key_id, b"version two");
    assert_eq!(decrypt(&kms, &old).unwrap(), b"version one");
    assert_eq!(decrypt(&kms, &new).unwrap(), b"version two");
    let dk = block_on(kms.generate_data_key(GenerateDataKeyRequest {
        key_id: key.key_id.clone(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(
        decrypt(&kms, &dk.ciphertext_blob).unwrap(),
        dk.plaintext.expose()
    );
    assert_eq!(b.object_ids().unwrap().len(), 2, "one object per version");
    // Asymmetric specs are refused by name.
    let e = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::EcP256),
        key_usage: Some(strongroom::KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap_err();
    assert!(
        e.code().starts_with("InvalidParameter") || e.code() == "Rejected.Unsupported",
        "{e}"
    );
    block_on(kms.schedule_key_deletion(&key.key_id, 7)).unwrap();
    clock.advance(6 * 86_400_000);
    block_on(kms.describe_key(&key.key_id)).unwrap();
    assert_eq!(b.object_ids().unwrap().len(), 2, "kept within the window");
    clock.advance(2 * 86_400_000);
    assert_eq!(
        block_on(kms.describe_key(&key.key_id)).unwrap_err().code(),
        "Forbidden.KeyNotFound"
    );
    assert!(
        b.object_ids().unwrap().is_empty(),
        "destroyed on the server"
    );
}

#[test]
fn byok_material_is_registered_on_the_server() {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    let b = KmipBackend::connect(strongroom_kmip::testing::shared().config()).unwrap();
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let kms = kms(&b, &clock);
    let key = block_on(kms.create_key(CreateKeyRequest {
        origin: Some(Origin::External),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let p = block_on(kms.get_parameters_for_import(
        &key,
        ImportWrappingAlgorithm::RsaesOaepSha256,
        KeySpec::Rsa2048,
    ))
    .unwrap();
    let material = [0x42u8; 32];
    let wrapped = strongroom::asym::encrypt(
        &p.public_key,
        strongroom::EncryptionAlgorithm::RsaesOaepSha256,
        &material,
    )
    .unwrap();
    block_on(kms.import_key_material(ImportKeyMaterialRequest {
        key_id: key.clone(),
        encrypted_key_material: wrapped,
        import_token: p.import_token,
        key_material_expire_unix: None,
    }))
    .unwrap();
    let blob = encrypt(&kms, &key, b"byok on kmip");
    assert_eq!(decrypt(&kms, &blob).unwrap(), b"byok on kmip");
    // The server's key is the imported material: a local AES-GCM opens the blob.
    let parsed = strongroom::blob::parse(&blob).unwrap();
    let local = aes_gcm::Aes256Gcm::new_from_slice(&material).unwrap();
    let opened = local
        .decrypt(
            (&parsed.nonce).into(),
            Payload {
                msg: parsed.ciphertext,
                aad: &strongroom::blob::aad(
                    parsed.header,
                    &strongroom::EncryptionContext::default(),
                ),
            },
        )
        .unwrap();
    assert_eq!(opened, b"byok on kmip");
}

#[test]
fn backups_carry_kmip_keys_as_references() {
    let b = KmipBackend::connect(strongroom_kmip::testing::shared().config()).unwrap();
    let clock = Arc::new(ManualClock::new(1_795_392_000_000));
    let kms = kms(&b, &clock);
    let key = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let blob = encrypt(&kms, &key, b"kept");
    let backup = block_on(kms.create_backup("backup pw", KdfParams::insecure_fast())).unwrap();
    // The backup holds the server's identifiers, not material: restored beside the
    // same server, the key works.
    let restored = block_on(Kms::restore_backup(
        KmsOptions {
            env: Env::new(Arc::new(strongroom::env::OsEntropy), clock.clone()),
            storage: Arc::new(MemoryStorage::new()),
            root: RootSecret::passphrase("pw2"),
            kdf: KdfParams::insecure_fast(),
            backend: Some(b.clone()),
        },
        &backup,
        "backup pw",
    ))
    .unwrap();
    assert_eq!(decrypt(&restored, &blob).unwrap(), b"kept");
}
