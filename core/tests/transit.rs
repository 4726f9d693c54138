#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The transit backend beyond the conformance suite (core/tests/kms.rs runs that on
//! it too): asymmetric keys signed and decrypted in OpenBao, public keys read from
//! it, what it cannot do refused by name, deleted keys destroyed in the engine, a
//! store opened without its engine, and an engine that refuses the token or is gone.
#![cfg(any(feature = "aws-lc", feature = "rustcrypto-asym"))]

mod common;

use std::sync::Arc;

use common::{PlainHttp, bao};
use pollster::block_on;
use strongroom::backend::transit::{TransitBackend, TransitConfig};
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::{
    AsymmetricDecryptRequest, AsymmetricEncryptRequest, AsymmetricSignRequest,
    AsymmetricVerifyRequest, CreateKeyRequest, EncryptRequest, EncryptionAlgorithm, Env,
    HttpClient, HttpRequest, KeySpec, KeyUsage, Kms, KmsOptions, RootSecret, SecretBytes,
    SigningAlgorithm,
};

fn transit(env: &Env, token: &str, address: &str) -> Arc<dyn strongroom::KeyBackend> {
    let mut cfg = TransitConfig::new(address, SecretBytes::from_slice(token.as_bytes()));
    // Each test process's keys under their own prefix: the tests run in parallel.
    cfg.key_prefix = PREFIX.with(|p| p.clone());
    Arc::new(TransitBackend::new(cfg, Arc::new(PlainHttp), env.clone()).unwrap())
}

fn open(
    env: Env,
    storage: Arc<MemoryStorage>,
    backend: Option<Arc<dyn strongroom::KeyBackend>>,
) -> strongroom::Result<Kms> {
    block_on(Kms::open(KmsOptions {
        env,
        storage,
        root: RootSecret::passphrase("transit"),
        kdf: KdfParams::insecure_fast(),
        backend,
    }))
}

thread_local! {
    /// The key prefix of the test running on this thread.
    static PREFIX: String = format!("sr-{:?}-", std::thread::current().id()).replace(['(', ')'], "").to_lowercase();
}

/// The names of the transit keys this test's backend made, held by the engine now.
fn transit_keys() -> Vec<String> {
    let b = bao();
    let a = block_on(PlainHttp.send(HttpRequest {
        method: "GET",
        url: format!("{}/v1/transit/keys?list=true", b.address),
        headers: vec![("x-vault-token".into(), b.token.clone())],
        body: Vec::new(),
    }))
    .unwrap();
    if a.status == 404 {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    v["data"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .filter(|k| PREFIX.with(|p| k.starts_with(p.as_str())))
        .collect()
}

/// One transit key's description.
fn transit_key(name: &str) -> serde_json::Value {
    let b = bao();
    let a = block_on(PlainHttp.send(HttpRequest {
        method: "GET",
        url: format!("{}/v1/transit/keys/{name}", b.address),
        headers: vec![("x-vault-token".into(), b.token.clone())],
        body: Vec::new(),
    }))
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    v["data"].clone()
}

#[test]
fn asymmetric_keys_live_and_work_in_the_engine() {
    let env = common::env();
    let b = bao();
    let kms = open(
        env.clone(),
        Arc::new(MemoryStorage::new()),
        Some(transit(&env, &b.token, &b.address)),
    )
    .unwrap();
    let digest = strongroom::sha256(b"signed in OpenBao").to_vec();
    for (spec, alg) in [
        (KeySpec::Rsa2048, SigningAlgorithm::RsaPssSha256),
        (KeySpec::Rsa3072, SigningAlgorithm::RsaPkcs1Sha256),
        (KeySpec::EcP256, SigningAlgorithm::EcdsaSha256),
    ] {
        let k = block_on(kms.create_key(CreateKeyRequest {
            key_spec: Some(spec),
            key_usage: Some(KeyUsage::SignVerify),
            ..Default::default()
        }))
        .unwrap()
        .key_id;
        let pk = block_on(kms.get_public_key(&k, None)).unwrap();
        assert!(pk.public_key.starts_with("-----BEGIN PUBLIC KEY-----"));
        let sig = block_on(kms.asymmetric_sign(AsymmetricSignRequest {
            key_id: k.clone(),
            key_version_id: None,
            algorithm: alg,
            digest: digest.clone(),
        }))
        .unwrap()
        .value;
        // Verified outside the engine, with the public key it gave.
        assert!(
            strongroom::asym::verify_input(
                spec,
                &pk.public_key_der,
                alg,
                strongroom::SignInput::Digest(&digest),
                &sig
            )
            .unwrap(),
            "{spec:?} {alg:?}"
        );
        let mut bad = sig.clone();
        *bad.last_mut().unwrap() ^= 1;
        let v = block_on(kms.asymmetric_verify(AsymmetricVerifyRequest {
            key_id: k,
            key_version_id: None,
            algorithm: alg,
            digest: digest.clone(),
            value: bad,
        }));
        assert!(!matches!(v, Ok(ref r) if r.value));
    }
    // A rotated signing key: version 2 is transit's version 2, with its own public key.
    let ec = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::EcP256),
        key_usage: Some(KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let v1 = block_on(kms.get_public_key(&ec, None)).unwrap();
    let v2_id = block_on(kms.create_key_version(&ec))
        .unwrap()
        .key_version_id;
    let v2 = block_on(kms.get_public_key(&ec, None)).unwrap();
    assert_eq!(v2.key_version_id, v2_id);
    assert_ne!(v1.public_key_der, v2.public_key_der, "a new key pair");
    let sig = block_on(kms.asymmetric_sign(AsymmetricSignRequest {
        key_id: ec.clone(),
        key_version_id: None,
        algorithm: SigningAlgorithm::EcdsaSha256,
        digest: digest.clone(),
    }))
    .unwrap()
    .value;
    assert!(
        strongroom::asym::verify_input(
            KeySpec::EcP256,
            &v2.public_key_der,
            SigningAlgorithm::EcdsaSha256,
            strongroom::SignInput::Digest(&digest),
            &sig
        )
        .unwrap()
    );
    assert!(
        !strongroom::asym::verify_input(
            KeySpec::EcP256,
            &v1.public_key_der,
            SigningAlgorithm::EcdsaSha256,
            strongroom::SignInput::Digest(&digest),
            &sig
        )
        .unwrap()
    );
    let rsa = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::Rsa2048),
        key_usage: Some(KeyUsage::EncryptDecrypt),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let ct = block_on(kms.asymmetric_encrypt(AsymmetricEncryptRequest {
        key_id: rsa.clone(),
        key_version_id: None,
        algorithm: EncryptionAlgorithm::RsaesOaepSha256,
        plaintext: b"to the engine".to_vec(),
    }))
    .unwrap()
    .ciphertext_blob;
    let pt = block_on(kms.asymmetric_decrypt(AsymmetricDecryptRequest {
        key_id: rsa.clone(),
        key_version_id: None,
        algorithm: EncryptionAlgorithm::RsaesOaepSha256,
        ciphertext_blob: ct.clone(),
    }))
    .unwrap();
    assert_eq!(pt.plaintext.expose(), b"to the engine");
    let mut t = ct.clone();
    t[5] ^= 1;
    let e = block_on(kms.asymmetric_decrypt(AsymmetricDecryptRequest {
        key_id: rsa.clone(),
        key_version_id: None,
        algorithm: EncryptionAlgorithm::RsaesOaepSha256,
        ciphertext_blob: t,
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertext");
    // DescribeService says what the engine makes (the tier rules as data).
    let caller = strongroom::api::Caller::owner();
    let d = match block_on(kms.call(
        &caller,
        strongroom::Request::DescribeService(Default::default()),
    ))
    .unwrap()
    {
        strongroom::Response::DescribeService(d) => d,
        _ => panic!(),
    };
    let names: Vec<KeySpec> = d.key_specs.iter().map(|k| k.name).collect();
    assert_eq!(
        names,
        vec![
            KeySpec::Aes256,
            KeySpec::Aes128,
            KeySpec::Rsa2048,
            KeySpec::Rsa3072,
            KeySpec::Rsa4096,
            KeySpec::EcP256
        ]
    );
    // What transit cannot do is refused by name, not attempted.
    let e = block_on(kms.asymmetric_decrypt(AsymmetricDecryptRequest {
        key_id: rsa,
        key_version_id: None,
        algorithm: EncryptionAlgorithm::RsaesOaepSha1,
        ciphertext_blob: ct,
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.Unsupported");
    let e = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::EcP256K),
        key_usage: Some(KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.Unsupported");
}

#[test]
fn deleted_keys_leave_the_engine_and_a_store_needs_its_engine() {
    let clock = common::clock();
    let env = Env::new(Arc::new(strongroom::env::OsEntropy), clock.clone());
    let b = bao();
    let storage = Arc::new(MemoryStorage::new());
    let kms = open(
        env.clone(),
        storage.clone(),
        Some(transit(&env, &b.token, &b.address)),
    )
    .unwrap();
    let before = transit_keys().len();
    let k = block_on(kms.create_key(Default::default())).unwrap().key_id;
    let old_blob = block_on(kms.encrypt(EncryptRequest {
        key_id: k.clone(),
        plaintext: b"v1".to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob;
    block_on(kms.create_key_version(&k)).unwrap();
    // A strongroom key is one transit key; its new version is transit's version 2.
    assert_eq!(
        transit_keys().len(),
        before + 1,
        "one transit key per strongroom key"
    );
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: k.clone(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob;
    let latest: Vec<u64> = transit_keys()
        .iter()
        .map(|n| transit_key(n)["latest_version"].as_u64().unwrap())
        .collect();
    assert!(latest.contains(&2), "{latest:?}");
    // Both versions decrypt: each blob names its version, each version its transit one.
    for (b, want) in [(&old_blob, &b"v1"[..]), (&blob, &b"x"[..])] {
        let d = block_on(kms.decrypt(strongroom::DecryptRequest {
            ciphertext_blob: b.clone(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(d.plaintext.expose(), want);
    }
    block_on(kms.close()).unwrap();
    // Opened without the engine: the keys are named, not usable, and the error says where they are.
    let plain = open(env.clone(), storage.clone(), None).unwrap();
    let e = block_on(plain.decrypt(strongroom::DecryptRequest {
        ciphertext_blob: blob.clone(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    assert!(e.to_string().contains("transit"), "{e}");
    block_on(plain.close()).unwrap();
    // A token the engine refuses, and an engine that is not there.
    let wrong = open(
        env.clone(),
        storage.clone(),
        Some(transit(&env, "not-the-token", &b.address)),
    )
    .unwrap();
    let e = block_on(wrong.decrypt(strongroom::DecryptRequest {
        ciphertext_blob: blob.clone(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    block_on(wrong.close()).unwrap();
    let gone = open(
        env.clone(),
        storage.clone(),
        Some(transit(&env, &b.token, "http://127.0.0.1:9")),
    )
    .unwrap();
    let e = block_on(gone.decrypt(strongroom::DecryptRequest {
        ciphertext_blob: blob.clone(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    block_on(gone.close()).unwrap();
    // Back with the engine: scheduled deletion, the window passes, both versions are destroyed there.
    let kms = open(
        env.clone(),
        storage,
        Some(transit(&env, &b.token, &b.address)),
    )
    .unwrap();
    block_on(kms.schedule_key_deletion(&k, 7)).unwrap();
    clock.advance(8 * 86_400_000);
    let e = block_on(kms.describe_key(&k)).unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound");
    assert_eq!(
        transit_keys().len(),
        before,
        "the engine no longer holds the key's versions"
    );
}

#[test]
fn backups_carry_transit_keys_as_references() {
    let env = common::env();
    let b = bao();
    let kms = open(
        env.clone(),
        Arc::new(MemoryStorage::new()),
        Some(transit(&env, &b.token, &b.address)),
    )
    .unwrap();
    let k = block_on(kms.create_key(Default::default())).unwrap().key_id;
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: k.clone(),
        plaintext: b"kept in bao".to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob;
    // The backup names the transit key; the material stays in the engine.
    let backup =
        block_on(kms.create_backup("backup passphrase", KdfParams::insecure_fast())).unwrap();
    let restore = |backend| {
        block_on(Kms::restore_backup(
            KmsOptions {
                env: env.clone(),
                storage: Arc::new(MemoryStorage::new()),
                root: RootSecret::passphrase("restored"),
                kdf: KdfParams::insecure_fast(),
                backend,
            },
            &backup,
            "backup passphrase",
        ))
        .unwrap()
    };
    let decrypt = |kms: &Kms| {
        block_on(kms.decrypt(strongroom::DecryptRequest {
            ciphertext_blob: blob.clone(),
            ..Default::default()
        }))
    };
    let with = restore(Some(transit(&env, &b.token, &b.address)));
    assert_eq!(decrypt(&with).unwrap().plaintext.expose(), b"kept in bao");
    // Restored without the engine: the key is named, its use says where it lives.
    let without = restore(None);
    let e = decrypt(&without).unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    assert!(e.to_string().contains("transit"), "{e}");
}

/// PlainHttp that records each request's path.
struct Recording(std::sync::Mutex<Vec<String>>);

impl HttpClient for Recording {
    fn send<'a>(
        &'a self,
        req: HttpRequest,
    ) -> strongroom::backend::BoxFuture<'a, strongroom::Result<strongroom::HttpResponse>> {
        self.0.lock().unwrap().push(req.url.clone());
        PlainHttp.send(req)
    }
}

fn bao_call(method: &'static str, path: &str, body: &str) -> u16 {
    let b = bao();
    block_on(PlainHttp.send(HttpRequest {
        method,
        url: format!("{}/v1/{path}", b.address),
        headers: vec![("x-vault-token".into(), b.token.clone())],
        body: body.as_bytes().to_vec(),
    }))
    .unwrap()
    .status
}

#[test]
fn data_keys_come_from_transit_datakey_and_deleted_keys_are_key_not_found() {
    use strongroom::{DecryptRequest, GenerateDataKeyRequest};
    let env = common::env();
    let b = bao();
    let rec = Arc::new(Recording(std::sync::Mutex::new(Vec::new())));
    let mut cfg = TransitConfig::new(
        b.address.clone(),
        SecretBytes::from_slice(b.token.as_bytes()),
    );
    cfg.key_prefix = PREFIX.with(|p| p.clone());
    let backend = Arc::new(TransitBackend::new(cfg, rec.clone(), env.clone()).unwrap());
    let kms = open(env, Arc::new(MemoryStorage::new()), Some(backend)).unwrap();
    let key = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let ctx = strongroom::EncryptionContext::from_pairs([("a", "b")]).unwrap();
    // AES_256 and AES_128 data keys are drawn by the engine (datakey), under the
    // blob's AAD: our Decrypt opens them, and only with the same context.
    for spec in [None, Some("AES_128")] {
        let dk = block_on(kms.generate_data_key(GenerateDataKeyRequest {
            key_id: key.clone(),
            key_spec: spec.map(|s| s.parse().unwrap()),
            number_of_bytes: None,
            encryption_context: ctx.clone(),
        }))
        .unwrap();
        let back = block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: dk.ciphertext_blob.clone(),
            encryption_context: ctx.clone(),
        }))
        .unwrap();
        assert_eq!(back.plaintext.expose(), dk.plaintext.expose());
        assert!(
            block_on(kms.decrypt(DecryptRequest {
                ciphertext_blob: dk.ciphertext_blob,
                encryption_context: strongroom::EncryptionContext::default(),
            }))
            .is_err()
        );
    }
    assert_eq!(
        rec.0
            .lock()
            .unwrap()
            .iter()
            .filter(|u| u.contains("/datakey/plaintext/"))
            .count(),
        2
    );
    // NumberOfBytes 20: no such transit length; drawn here and encrypted.
    let dk = block_on(kms.generate_data_key(GenerateDataKeyRequest {
        key_id: key.clone(),
        key_spec: None,
        number_of_bytes: Some(20),
        encryption_context: ctx.clone(),
    }))
    .unwrap();
    assert_eq!(dk.plaintext.len(), 20);
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: key.clone(),
        plaintext: b"kept".to_vec(),
        encryption_context: ctx.clone(),
    }))
    .unwrap()
    .ciphertext_blob;
    // The key deleted in the engine behind strongroom's back: KeyNotFound, not a
    // generic backend failure. With disable_upsert on the mount, an Encrypt does not
    // silently re-create it either.
    assert_eq!(
        bao_call("POST", "transit/config/keys", r#"{"disable_upsert":true}"#),
        200
    );
    let name = transit_keys().into_iter().next().unwrap();
    assert_eq!(
        bao_call(
            "POST",
            &format!("transit/keys/{name}/config"),
            r#"{"deletion_allowed":true}"#
        ),
        200
    );
    assert_eq!(bao_call("DELETE", &format!("transit/keys/{name}"), ""), 204);
    let e = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: ctx.clone(),
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound", "{e}");
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: key,
        plaintext: b"after".to_vec(),
        encryption_context: ctx,
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound", "{e}");
    assert!(transit_keys().is_empty(), "not re-created");
}
