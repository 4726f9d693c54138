#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The remote backend's serving end: handles that survive a restart (the server keeps
//! its handle key in a store) and handles bound to their key's spec and usage.

mod common;

use std::sync::Arc;

use pollster::block_on;
use strongroom::backend::remote::{BackendServer, LoopbackTransport, RemoteBackend};
use strongroom::backend::software::SoftwareBackend;
use strongroom::storage::{FileStorage, KdfParams};
use strongroom::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, EncryptionContext, KeyBackend, Kms,
    KmsOptions, RootSecret,
};
#[cfg(any(feature = "aws-lc", feature = "rustcrypto-asym"))]
use strongroom::{EncryptionAlgorithm, KeySpec, KeyUsage, SigningAlgorithm};

fn server_store(path: &std::path::Path) -> Kms {
    block_on(Kms::open(KmsOptions {
        env: common::env(),
        storage: Arc::new(FileStorage::open(path).unwrap()),
        root: RootSecret::passphrase("server pass"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap()
}

fn client(
    server: Arc<BackendServer>,
    image: Option<Vec<u8>>,
) -> (Kms, Arc<strongroom::storage::MemoryStorage>) {
    let remote = block_on(RemoteBackend::connect(Arc::new(LoopbackTransport(server)))).unwrap();
    let storage = Arc::new(match image {
        Some(i) => strongroom::storage::MemoryStorage::with_image(i),
        None => strongroom::storage::MemoryStorage::new(),
    });
    let kms = block_on(Kms::open(KmsOptions {
        env: common::env(),
        storage: storage.clone(),
        root: RootSecret::passphrase("client pass"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(Arc::new(remote)),
    }))
    .unwrap();
    (kms, storage)
}

#[test]
fn a_restarted_server_opens_every_handle_it_issued() {
    let dir = std::env::temp_dir().join(format!("sr-remote-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("server.store");
    let env = common::env();

    let server_kms = Arc::new(server_store(&path));
    let server = BackendServer::with_store(
        Arc::new(SoftwareBackend::new(env.clone())),
        server_kms.clone(),
    );
    let server = Arc::new(block_on(server).unwrap());
    let (kms, storage) = client(server.clone(), None);
    let id = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: id.clone(),
        plaintext: b"before the restart".to_vec(),
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap()
    .ciphertext_blob;
    let image = storage.image().unwrap();
    drop((kms, server, server_kms));

    // The server process restarts: same store, new instance.
    let server_kms = Arc::new(server_store(&path));
    let server = Arc::new(
        block_on(BackendServer::with_store(
            Arc::new(SoftwareBackend::new(env.clone())),
            server_kms.clone(),
        ))
        .unwrap(),
    );
    let (kms, _) = client(server, Some(image));
    let back = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: EncryptionContext::new(),
    }))
    .unwrap();
    assert_eq!(back.plaintext.expose(), b"before the restart");
    // One handle key, made once.
    assert_eq!(
        block_on(server_kms.list_keys(strongroom::ListKeysRequest::default()))
            .unwrap()
            .total_count,
        1
    );
    drop(kms);

    // A server on another store cannot open those handles.
    let other = Arc::new(server_store(&dir.join("other.store")));
    let server = BackendServer::with_store(Arc::new(SoftwareBackend::new(env.clone())), other);
    let server = Arc::new(block_on(server).unwrap());
    let remote = block_on(RemoteBackend::connect(Arc::new(LoopbackTransport(server)))).unwrap();
    let stranger = block_on(remote.encrypt(
        &strongroom::KeyHandle(strongroom::SecretBytes::from_slice(b"forged")),
        b"x",
        b"",
    ))
    .unwrap_err();
    assert_eq!(stranger.code(), "Rejected.BackendUnavailable");
    assert!(
        stranger.to_string().contains("not issued by this server"),
        "{stranger}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(any(feature = "aws-lc", feature = "rustcrypto-asym"))]
#[test]
fn a_handle_works_only_for_what_its_key_is_for() {
    let env = common::env();
    let server = BackendServer::with_handle_key(
        Arc::new(SoftwareBackend::new(env.clone())),
        env,
        strongroom::SecretBytes::from_slice(&[9; 32]),
    )
    .unwrap();
    let remote = block_on(RemoteBackend::connect(Arc::new(LoopbackTransport(
        Arc::new(server),
    ))))
    .unwrap();
    let signing = block_on(remote.generate_for(KeySpec::Rsa2048, KeyUsage::SignVerify)).unwrap();
    let der = block_on(remote.public_key(&signing, KeySpec::Rsa2048)).unwrap();
    let ct =
        strongroom::asym::encrypt(&der, EncryptionAlgorithm::RsaesOaepSha256, b"secret").unwrap();
    // A signing handle is refused for decryption (before: it decrypted).
    let e = block_on(remote.asymmetric_decrypt(
        &signing,
        KeySpec::Rsa2048,
        EncryptionAlgorithm::RsaesOaepSha256,
        &ct,
    ))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyUsage");
    // …and named as another spec.
    let e = block_on(remote.public_key(&signing, KeySpec::Rsa3072)).unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyUsage");
    // It signs, as issued.
    let digest = strongroom::sha256(b"m");
    block_on(remote.sign(
        &signing,
        KeySpec::Rsa2048,
        SigningAlgorithm::RsaPssSha256,
        &digest,
    ))
    .unwrap();
    // An encryption handle cannot sign; a symmetric handle cannot sign or decrypt asymmetrically.
    let decrypting =
        block_on(remote.generate_for(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt)).unwrap();
    let e = block_on(remote.sign(
        &decrypting,
        KeySpec::Rsa2048,
        SigningAlgorithm::RsaPssSha256,
        &digest,
    ))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyUsage");
    let aes = block_on(remote.generate(KeySpec::Aes256)).unwrap();
    let e = block_on(remote.sign(
        &aes,
        KeySpec::Rsa2048,
        SigningAlgorithm::RsaPssSha256,
        &digest,
    ))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyUsage");
    // An asymmetric handle cannot be used as an AES key.
    let e = block_on(remote.encrypt(&decrypting, b"x", b"")).unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyUsage");
    // And an RSA key must say what it is for.
    assert_eq!(
        block_on(remote.generate(KeySpec::Rsa2048))
            .unwrap_err()
            .code(),
        "InvalidParameter.KeyUsage"
    );
}
