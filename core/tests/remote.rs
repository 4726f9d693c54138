#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The remote backend's serving end: handles that survive a restart (the server keeps
//! its handle key in a store) and handles bound to their key's spec and usage.

mod common;

use std::sync::Arc;

use pollster::block_on;
use strongroom::backend::remote::{
    BackendServer, LoopbackTransport, RemoteBackend, Transport, WireClientKey,
};
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
    let remote = common::remote_to(server, &common::env());
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
    let remote = common::remote_to(server, &env);
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
    let remote = common::remote_to(Arc::new(server), &common::env());
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

// ---- Wire protocol version 2: every request and answer authenticated ----

fn v2_server(env: &strongroom::Env) -> Arc<BackendServer> {
    Arc::new(
        BackendServer::with_handle_key(
            Arc::new(SoftwareBackend::new(env.clone())),
            env.clone(),
            strongroom::SecretBytes::from_slice(&[7; 32]),
        )
        .unwrap(),
    )
}

/// A transport that lets a test see and alter what crosses it.
struct Tap {
    server: Arc<BackendServer>,
    requests: std::sync::Mutex<Vec<Vec<u8>>>,
    flip_request: std::sync::atomic::AtomicBool,
    flip_response: std::sync::atomic::AtomicBool,
}

impl Transport for Tap {
    fn round_trip<'a>(
        &'a self,
        mut request: Vec<u8>,
    ) -> strongroom::backend::BoxFuture<'a, strongroom::Result<Vec<u8>>> {
        Box::pin(async move {
            if self.flip_request.load(std::sync::atomic::Ordering::SeqCst) {
                let n = request.len() - 40;
                request[n] ^= 1;
            }
            self.requests.lock().unwrap().push(request.clone());
            let mut out = self.server.handle(&request).await;
            if self.flip_response.load(std::sync::atomic::Ordering::SeqCst) {
                out[6] ^= 1;
            }
            Ok(out)
        })
    }
}

fn tap(server: &Arc<BackendServer>) -> Arc<Tap> {
    Arc::new(Tap {
        server: server.clone(),
        requests: std::sync::Mutex::new(Vec::new()),
        flip_request: false.into(),
        flip_response: false.into(),
    })
}

#[test]
fn version_1_is_refused_by_default_with_a_clear_error() {
    let env = common::env();
    let server = v2_server(&env);
    let e = block_on(RemoteBackend::connect(Arc::new(LoopbackTransport(
        server.clone(),
    ))))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    assert!(e.to_string().contains("version 1"), "{e}");
    // An operator who carries it over an authenticated channel may allow it.
    server.set_accept_v1(true);
    let v1 = block_on(RemoteBackend::connect(Arc::new(LoopbackTransport(server)))).unwrap();
    let h = block_on(v1.generate(KeySpec::Aes256)).unwrap();
    let s = block_on(v1.encrypt(&h, b"v1", b"")).unwrap();
    assert_eq!(
        block_on(v1.decrypt(&h, &s.nonce, &s.ciphertext, b""))
            .unwrap()
            .expose(),
        b"v1"
    );
}

#[test]
fn requests_authenticate_with_the_client_key() {
    let env = common::env();
    let server = v2_server(&env);
    let key = server.create_client().unwrap();
    assert!(key.id.starts_with("wk-") && key.secret.len() == 32);
    assert!(
        !format!("{key:?}").contains("secret: "),
        "Debug hides the secret"
    );
    let connect = |k: WireClientKey| {
        block_on(RemoteBackend::connect_with_key(
            Arc::new(LoopbackTransport(server.clone())),
            k,
            env.clone(),
        ))
    };
    let good = connect(key.clone()).unwrap();
    let h = block_on(good.generate(KeySpec::Aes256)).unwrap();
    // An id the server never admitted; the right id with another secret.
    let e = connect(WireClientKey {
        id: "wk-stranger".into(),
        secret: strongroom::SecretBytes::from_slice(&[1; 32]),
    })
    .unwrap_err();
    assert!(e.to_string().contains("InvalidAccessKeyId.NotFound"), "{e}");
    let e = connect(WireClientKey {
        id: key.id.clone(),
        secret: strongroom::SecretBytes::from_slice(&[1; 32]),
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("Forbidden.WireAuthentication"),
        "{e}"
    );
    // Malformed keys never leave the client.
    let e = connect(WireClientKey {
        id: "bad id!".into(),
        secret: strongroom::SecretBytes::from_slice(&[1; 32]),
    })
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter");
    // A withdrawn key is refused on its next request.
    assert!(server.remove_client(&key.id));
    let e = block_on(good.encrypt(&h, b"x", b"")).unwrap_err();
    assert!(e.to_string().contains("InvalidAccessKeyId.NotFound"), "{e}");
}

#[test]
fn replays_altered_requests_and_forged_answers_are_caught() {
    let env = common::env();
    let server = v2_server(&env);
    let key = server.create_client().unwrap();
    let t = tap(&server);
    let remote = block_on(RemoteBackend::connect_with_key(
        t.clone(),
        key.clone(),
        env.clone(),
    ))
    .unwrap();
    let h = block_on(remote.generate(KeySpec::Aes256)).unwrap();
    let sealed = block_on(remote.encrypt(&h, b"once", b"aad")).unwrap();
    // The Encrypt request sent again, byte for byte: refused, nothing served.
    let replay = t.requests.lock().unwrap().last().unwrap().clone();
    let answer = block_on(server.handle(&replay));
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.contains("Forbidden.WireAuthentication") && text.contains("replay"),
        "{text}"
    );
    // A request altered in transit (a byte of its body).
    t.flip_request
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let e = block_on(remote.encrypt(&h, b"altered", b"")).unwrap_err();
    assert!(
        e.to_string().contains("Forbidden.WireAuthentication"),
        "{e}"
    );
    t.flip_request
        .store(false, std::sync::atomic::Ordering::SeqCst);
    // An answer altered in transit: not believed.
    t.flip_response
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let e = block_on(remote.decrypt(&h, &sealed.nonce, &sealed.ciphertext, b"aad")).unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendProtocol", "{e}");
    t.flip_response
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        block_on(remote.decrypt(&h, &sealed.nonce, &sealed.ciphertext, b"aad"))
            .unwrap()
            .expose(),
        b"once"
    );
}

#[test]
fn timestamps_outside_five_minutes_are_refused() {
    let server_clock = common::clock();
    let server_env =
        strongroom::Env::new(Arc::new(strongroom::env::OsEntropy), server_clock.clone());
    let server = v2_server(&server_env);
    let key = server.create_client().unwrap();
    let client_clock = common::clock();
    let client_env =
        strongroom::Env::new(Arc::new(strongroom::env::OsEntropy), client_clock.clone());
    let remote = block_on(RemoteBackend::connect_with_key(
        Arc::new(LoopbackTransport(server)),
        key,
        client_env,
    ))
    .unwrap();
    client_clock.advance(4 * 60_000);
    let h = block_on(remote.generate(KeySpec::Aes256)).unwrap();
    client_clock.advance(2 * 60_000 + 1);
    let e = block_on(remote.encrypt(&h, b"late", b"")).unwrap_err();
    assert!(e.to_string().contains("5 minutes"), "{e}");
    // The server's clock catches up: accepted again.
    server_clock.advance(6 * 60_000);
    block_on(remote.encrypt(&h, b"now", b"")).unwrap();
}

#[test]
fn the_documented_layout_is_what_the_server_checks() {
    // docs/FORMAT.md §wire v2, built by hand with the hmac crate: a Describe request
    // under a known key, timestamp and nonce, and the answer's tag.
    use hmac::{KeyInit, Mac};
    type H = hmac::Hmac<sha2::Sha256>;
    let env = common::env();
    let server = v2_server(&env);
    let secret = [0x5Au8; 32];
    server
        .add_client(WireClientKey {
            id: "wk-vector".into(),
            secret: strongroom::SecretBytes::from_slice(&secret),
        })
        .unwrap();
    let mut req = b"SRW\x02".to_vec();
    req.push(9);
    req.extend_from_slice(b"wk-vector");
    req.extend_from_slice(&1_795_392_000_000u64.to_be_bytes());
    req.extend_from_slice(&[0x11; 16]);
    req.push(1); // Describe
    let mut m = <H as KeyInit>::new_from_slice(&secret).unwrap();
    m.update(b"strongroom wire v2 request\0");
    m.update(&req);
    let tag: [u8; 32] = m.finalize().into_bytes().into();
    req.extend_from_slice(&tag);
    let answer = block_on(server.handle(&req));
    let (body, atag) = answer.split_at(answer.len() - 32);
    assert_eq!(&body[..5], b"SRW\x02\x00", "version 2, status ok");
    // SOFTWARE (its code) and the capabilities: asymmetric, import, destroy.
    assert_eq!(body[5], strongroom::ProtectionLevel::Software.code());
    assert_eq!(body[6] & 4, 4);
    let mut m = <H as KeyInit>::new_from_slice(&secret).unwrap();
    m.update(b"strongroom wire v2 response\0");
    m.update(&tag);
    m.update(body);
    m.verify_slice(atag).unwrap();
}

/// An inner backend that records what the server asks it to destroy.
struct Recording {
    inner: SoftwareBackend,
    destroyed: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl strongroom::KeyBackend for Recording {
    fn protection_level(&self) -> strongroom::ProtectionLevel {
        self.inner.protection_level()
    }
    fn generate<'a>(
        &'a self,
        spec: KeySpec,
    ) -> strongroom::backend::BoxFuture<'a, strongroom::Result<strongroom::KeyHandle>> {
        self.inner.generate(spec)
    }
    fn encrypt<'a>(
        &'a self,
        h: &'a strongroom::KeyHandle,
        p: &'a [u8],
        a: &'a [u8],
    ) -> strongroom::backend::BoxFuture<'a, strongroom::Result<strongroom::backend::Sealed>> {
        self.inner.encrypt(h, p, a)
    }
    fn decrypt<'a>(
        &'a self,
        h: &'a strongroom::KeyHandle,
        n: &'a [u8; 12],
        c: &'a [u8],
        a: &'a [u8],
    ) -> strongroom::backend::BoxFuture<'a, strongroom::Result<strongroom::SecretBytes>> {
        self.inner.decrypt(h, n, c, a)
    }
    fn destroy<'a>(
        &'a self,
        h: &'a strongroom::KeyHandle,
    ) -> strongroom::backend::BoxFuture<'a, strongroom::Result<()>> {
        self.destroyed.lock().unwrap().push(h.0.expose().to_vec());
        Box::pin(async { Ok(()) })
    }
}

#[test]
fn a_deletion_destroys_the_key_on_the_serving_end() {
    let clock = common::clock();
    let env = strongroom::Env::new(Arc::new(strongroom::env::OsEntropy), clock.clone());
    let rec = Arc::new(Recording {
        inner: SoftwareBackend::new(env.clone()),
        destroyed: std::sync::Mutex::new(Vec::new()),
    });
    let server = Arc::new(
        BackendServer::with_handle_key(
            rec.clone(),
            env.clone(),
            strongroom::SecretBytes::from_slice(&[3; 32]),
        )
        .unwrap(),
    );
    let remote = common::remote_to(server, &env);
    let kms = block_on(Kms::memory(env, Some(Arc::new(remote)))).unwrap();
    let id = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    block_on(kms.create_key_version(&id)).unwrap();
    block_on(kms.schedule_key_deletion(&id, 7)).unwrap();
    clock.advance(8 * 86_400_000);
    assert_eq!(
        block_on(kms.describe_key(&id)).unwrap_err().code(),
        "Forbidden.KeyNotFound"
    );
    // Both versions reached the inner backend's destroy, as its own handles.
    let d = rec.destroyed.lock().unwrap();
    assert_eq!(d.len(), 2);
    assert!(
        d.iter().all(|h| h.len() == 32),
        "inner (software) handles, unsealed"
    );
}
