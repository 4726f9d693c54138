#![cfg(any(feature = "aws-lc", feature = "rustcrypto-asym"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! BYOK: GetParametersForImport / ImportKeyMaterial / DeleteKeyMaterial, the 24-hour
//! token and the material's expiry on the injected clock, same-material re-import, and
//! that the imported material is the key (a blob opened with plain AES-GCM under it).
//! Interop with wrapping done by OpenSSL and pyca/cryptography is in cli/tests and
//! bindings-python/tests.

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use pollster::block_on;
use strongroom::env::OsEntropy;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, EncryptionAlgorithm, Env,
    ImportKeyMaterialRequest, ImportParameters, ImportWrappingAlgorithm, KeySpec, KeyState, Kms,
    KmsOptions, Origin, RootSecret, UpdateRotationPolicyRequest,
};

const HOUR: u64 = 3_600_000;
const T0: u64 = 1_795_392_000_000;

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

fn external(kms: &Kms, spec: KeySpec) -> String {
    let m = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(spec),
        origin: Some(Origin::External),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(m.key_state, KeyState::PendingImport);
    assert_eq!(m.origin, Origin::External);
    m.key_id
}

fn params(kms: &Kms, key: &str, alg: ImportWrappingAlgorithm) -> ImportParameters {
    block_on(kms.get_parameters_for_import(key, alg, KeySpec::Rsa2048)).unwrap()
}

fn wrap(p: &ImportParameters, alg: EncryptionAlgorithm, material: &[u8]) -> Vec<u8> {
    strongroom::asym::encrypt(&p.public_key, alg, material).unwrap()
}

fn import(
    kms: &Kms,
    key: &str,
    p: &ImportParameters,
    wrapped: Vec<u8>,
    expire: Option<u64>,
) -> strongroom::Result<strongroom::KeyMetadata> {
    block_on(kms.import_key_material(ImportKeyMaterialRequest {
        key_id: key.into(),
        encrypted_key_material: wrapped,
        import_token: p.import_token.clone(),
        key_material_expire_unix: expire,
    }))
}

fn encrypt(kms: &Kms, key: &str) -> strongroom::Result<Vec<u8>> {
    block_on(kms.encrypt(EncryptRequest {
        key_id: key.into(),
        plaintext: b"byok secret".to_vec(),
        ..Default::default()
    }))
    .map(|r| r.ciphertext_blob)
}

fn decrypt(kms: &Kms, blob: &[u8]) -> strongroom::Result<Vec<u8>> {
    block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob.to_vec(),
        ..Default::default()
    }))
    .map(|r| r.plaintext.expose().to_vec())
}

/// Opens a blob (docs/FORMAT.md §Blob, empty EncryptionContext) with RustCrypto's aes-gcm
/// under `material`: the imported material really is the key.
fn open_blob_with(material: &[u8; 32], blob: &[u8]) -> Vec<u8> {
    let p = strongroom::blob::parse(blob).unwrap();
    let c = aes_gcm::Aes256Gcm::new_from_slice(material).unwrap();
    c.decrypt(
        (&p.nonce).into(),
        Payload {
            msg: p.ciphertext,
            aad: &strongroom::blob::aad(p.header, &strongroom::EncryptionContext::default()),
        },
    )
    .unwrap()
}

#[test]
fn import_then_use_then_delete_and_reimport_the_same_material() {
    let clock = Arc::new(ManualClock::new(T0));
    let storage = Arc::new(MemoryStorage::new());
    let kms = open(&clock, &storage);
    let key = external(&kms, KeySpec::Aes256);
    // PendingImport: every crypto action refuses it, and so does EnableKey.
    assert_eq!(
        encrypt(&kms, &key).unwrap_err().code(),
        "Forbidden.KeyPendingImport"
    );
    assert_eq!(
        block_on(kms.enable_key(&key)).unwrap_err().code(),
        "Forbidden.KeyPendingImport"
    );

    let material: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5c);
    let p = params(&kms, &key, ImportWrappingAlgorithm::RsaesOaepSha256);
    assert_eq!(p.key_id, key);
    assert_eq!(
        p.token_expire_time,
        strongroom::time::iso8601(T0 + 24 * HOUR)
    );
    let m = import(
        &kms,
        &key,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &material),
        None,
    )
    .unwrap();
    assert_eq!(m.key_state, KeyState::Enabled);
    assert_eq!(m.material_expire_time, None);

    let blob = encrypt(&kms, &key).unwrap();
    assert_eq!(open_blob_with(&material, &blob), b"byok secret");
    // The token is used up.
    let e = import(
        &kms,
        &key,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &material),
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.ImportToken");

    // Survives a reopen (state version 2 in the journal and the snapshot).
    drop(kms);
    let kms = open(&clock, &storage);
    assert_eq!(decrypt(&kms, &blob).unwrap(), b"byok secret");
    block_on(kms.compact_store()).unwrap();
    let kms = {
        drop(kms);
        open(&clock, &storage)
    };

    // DeleteKeyMaterial: PendingImport, blobs refuse until the same material returns.
    let m = block_on(kms.delete_key_material(&key)).unwrap();
    assert_eq!(m.key_state, KeyState::PendingImport);
    assert_eq!(
        decrypt(&kms, &blob).unwrap_err().code(),
        "Forbidden.KeyPendingImport"
    );
    let p = params(&kms, &key, ImportWrappingAlgorithm::RsaesOaepSha1);
    let other = [7u8; 32];
    let e = import(
        &kms,
        &key,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha1, &other),
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyMaterialMismatch");
    // The refused import did not use up the token.
    import(
        &kms,
        &key,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha1, &material),
        None,
    )
    .unwrap();
    assert_eq!(decrypt(&kms, &blob).unwrap(), b"byok secret");
}

#[test]
fn material_expiry_and_token_lifetime_follow_the_clock() {
    let clock = Arc::new(ManualClock::new(T0));
    let storage = Arc::new(MemoryStorage::new());
    let kms = open(&clock, &storage);
    let key = external(&kms, KeySpec::Aes128);
    let material = [0x42u8; 16];

    // A token expires after 24 hours.
    let p = params(&kms, &key, ImportWrappingAlgorithm::RsaesOaepSha256);
    clock.advance(24 * HOUR);
    let e = import(
        &kms,
        &key,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &material),
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.ImportTokenExpired");

    // A newer GetParametersForImport supersedes the older token.
    let p1 = params(&kms, &key, ImportWrappingAlgorithm::RsaesOaepSha256);
    let p2 = params(&kms, &key, ImportWrappingAlgorithm::RsaesOaepSha256);
    let e = import(
        &kms,
        &key,
        &p1,
        wrap(&p1, EncryptionAlgorithm::RsaesOaepSha256, &material),
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.ImportToken");

    // Expiry in the past is refused; one in two hours is kept and honoured.
    let now_s = strongroom::Clock::now_millis(&*clock) / 1000;
    let e = import(
        &kms,
        &key,
        &p2,
        wrap(&p2, EncryptionAlgorithm::RsaesOaepSha256, &material),
        Some(now_s - 1),
    )
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.KeyMaterialExpireUnix");
    let m = import(
        &kms,
        &key,
        &p2,
        wrap(&p2, EncryptionAlgorithm::RsaesOaepSha256, &material),
        Some(now_s + 7200),
    )
    .unwrap();
    assert_eq!(
        m.material_expire_time.as_deref(),
        Some(strongroom::time::iso8601((now_s + 7200) * 1000).as_str())
    );
    let blob = encrypt(&kms, &key).unwrap();
    clock.advance(2 * HOUR - 1000);
    assert_eq!(decrypt(&kms, &blob).unwrap(), b"byok secret");
    clock.advance(1000);
    // Expired: the material is destroyed and the key is PendingImport again, also
    // after a reopen.
    assert_eq!(
        decrypt(&kms, &blob).unwrap_err().code(),
        "Forbidden.KeyPendingImport"
    );
    drop(kms);
    let kms = open(&clock, &storage);
    let d = block_on(kms.describe_key(&key)).unwrap();
    assert_eq!(d.key_state, KeyState::PendingImport);
    assert_eq!(d.material_expire_time, None);
    // The same material brings the old blobs back.
    let p = params(&kms, &key, ImportWrappingAlgorithm::RsaesOaepSha256);
    import(
        &kms,
        &key,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &material),
        None,
    )
    .unwrap();
    assert_eq!(decrypt(&kms, &blob).unwrap(), b"byok secret");
}

#[test]
fn bad_input_gets_its_own_code() {
    let clock = Arc::new(ManualClock::new(T0));
    let kms = open(&clock, &Arc::new(MemoryStorage::new()));
    let key = external(&kms, KeySpec::Aes256);
    let generated = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;

    // BYOK on a generated key; versions and rotation on an EXTERNAL one.
    let e = block_on(kms.get_parameters_for_import(
        &generated,
        ImportWrappingAlgorithm::RsaesOaepSha256,
        KeySpec::Rsa2048,
    ))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyOrigin");
    assert_eq!(
        block_on(kms.delete_key_material(&generated))
            .unwrap_err()
            .code(),
        "Rejected.KeyOrigin"
    );

    // Only an RSA_2048 wrapping key; PKCS#1 v1.5 is not offered for import.
    let e = block_on(kms.get_parameters_for_import(
        &key,
        ImportWrappingAlgorithm::RsaesOaepSha256,
        KeySpec::Rsa4096,
    ))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.WrappingKeySpec");
    let e = "RSAES_PKCS1_V1_5"
        .parse::<ImportWrappingAlgorithm>()
        .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.WrappingAlgorithm");

    let p = params(&kms, &key, ImportWrappingAlgorithm::RsaesOaepSha256);
    // Wrapped with the other OAEP hash, garbage, or material of the wrong length.
    for (wrapped, why) in [
        (
            wrap(&p, EncryptionAlgorithm::RsaesOaepSha1, &[1u8; 32]),
            "other hash",
        ),
        (vec![0u8; 256], "zeros"),
        (vec![1, 2, 3], "short"),
        (
            wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &[1u8; 16]),
            "16 bytes for AES-256",
        ),
    ] {
        let e = import(&kms, &key, &p, wrapped, None).unwrap_err();
        assert_eq!(e.code(), "InvalidParameter.EncryptedKeyMaterial", "{why}");
    }
    // A malformed token, and another key's token.
    let mut q = p.clone();
    q.import_token = "not a token".into();
    let e = import(
        &kms,
        &key,
        &q,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &[1u8; 32]),
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.ImportToken");
    let key2 = external(&kms, KeySpec::Aes256);
    let e = block_on(kms.import_key_material(ImportKeyMaterialRequest {
        key_id: key2.clone(),
        encrypted_key_material: wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &[1u8; 32]),
        import_token: p.import_token.clone(),
        key_material_expire_unix: None,
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.ImportToken");

    // After the import: no new versions, no rotation.
    import(
        &kms,
        &key,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &[1u8; 32]),
        None,
    )
    .unwrap();
    assert_eq!(
        block_on(kms.create_key_version(&key)).unwrap_err().code(),
        "Rejected.KeyOrigin"
    );
    let e = block_on(kms.update_rotation_policy(UpdateRotationPolicyRequest {
        key_id: key.clone(),
        enable_automatic_rotation: true,
        rotation_interval: Some("604800s".into()),
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyOrigin");
}

#[test]
fn deletion_window_and_cancel_respect_missing_material() {
    let clock = Arc::new(ManualClock::new(T0));
    let kms = open(&clock, &Arc::new(MemoryStorage::new()));
    let key = external(&kms, KeySpec::Aes192);
    // Cancelling the deletion of a key that never got material leaves it PendingImport.
    block_on(kms.schedule_key_deletion(&key, 7)).unwrap();
    let m = block_on(kms.cancel_key_deletion(&key)).unwrap();
    assert_eq!(m.key_state, KeyState::PendingImport);
    // Import, schedule deletion, and let the window pass: the key is gone.
    let p = params(&kms, &key, ImportWrappingAlgorithm::RsaesOaepSha256);
    import(
        &kms,
        &key,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &[9u8; 24]),
        None,
    )
    .unwrap();
    let blob = encrypt(&kms, &key).unwrap();
    block_on(kms.schedule_key_deletion(&key, 7)).unwrap();
    let e = block_on(kms.get_parameters_for_import(
        &key,
        ImportWrappingAlgorithm::RsaesOaepSha256,
        KeySpec::Rsa2048,
    ))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyPendingDeletion");
    block_on(kms.cancel_key_deletion(&key)).unwrap();
    assert_eq!(decrypt(&kms, &blob).unwrap(), b"byok secret");
    block_on(kms.schedule_key_deletion(&key, 7)).unwrap();
    clock.advance(7 * 24 * HOUR);
    assert_eq!(
        block_on(kms.describe_key(&key)).unwrap_err().code(),
        "Forbidden.KeyNotFound"
    );
}

/// RSA_AES_KEY_WRAP_SHA_256 / _SHA_1: RSA-OAEP of a fresh AES-256 key, then KWP of the
/// material under it.
fn wrap_kw(p: &ImportParameters, oaep: EncryptionAlgorithm, material: &[u8]) -> Vec<u8> {
    let eph: [u8; 32] = std::array::from_fn(|i| (i as u8) ^ 0xa5);
    let mut out = strongroom::asym::encrypt(&p.public_key, oaep, &eph).unwrap();
    out.extend(strongroom::asym::kwp_wrap(&eph, material).unwrap());
    out
}

fn external_asym(kms: &Kms, spec: KeySpec, usage: strongroom::KeyUsage) -> String {
    block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(spec),
        key_usage: Some(usage),
        origin: Some(Origin::External),
        ..Default::default()
    }))
    .unwrap()
    .key_id
}

#[test]
fn asymmetric_key_material_imports_with_rsa_aes_key_wrap() {
    use strongroom::{AsymmetricSignRequest, KeyUsage, SigningAlgorithm};
    let clock = Arc::new(ManualClock::new(T0));
    let kms = open(&clock, &Arc::new(MemoryStorage::new()));

    // EC_P256: the signature made with the imported key verifies under the public key
    // of the material we made.
    let key = external_asym(&kms, KeySpec::EcP256, KeyUsage::SignVerify);
    let e = block_on(kms.get_parameters_for_import(
        &key,
        ImportWrappingAlgorithm::RsaesOaepSha256,
        KeySpec::Rsa2048,
    ))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.WrappingAlgorithm");
    let material = strongroom::asym::generate(KeySpec::EcP256).unwrap();
    let spki = strongroom::asym::KeyCache::default()
        .public_key(KeySpec::EcP256, material.expose())
        .unwrap();
    let p = params(&kms, &key, ImportWrappingAlgorithm::RsaAesKeyWrapSha256);
    let m = import(
        &kms,
        &key,
        &p,
        wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha256, material.expose()),
        None,
    )
    .unwrap();
    assert_eq!(m.key_state, KeyState::Enabled);
    assert_eq!(
        block_on(kms.get_public_key(&key, None))
            .unwrap()
            .public_key_der,
        spki
    );
    let digest = strongroom::sha256(b"imported EC key");
    let sig = block_on(kms.asymmetric_sign(AsymmetricSignRequest {
        key_id: key.clone(),
        key_version_id: None,
        algorithm: SigningAlgorithm::EcdsaSha256,
        digest: digest.clone(),
    }))
    .unwrap()
    .value;
    assert!(
        strongroom::asym::verify(
            KeySpec::EcP256,
            &spki,
            SigningAlgorithm::EcdsaSha256,
            &digest,
            &sig
        )
        .unwrap()
    );

    // RSA_2048 ENCRYPT/DECRYPT with the SHA-1 variant; wrong-spec material, a tampered
    // key-wrap layer and other material after a deletion are refused.
    let rsa = external_asym(&kms, KeySpec::Rsa2048, KeyUsage::EncryptDecrypt);
    let material = strongroom::asym::generate(KeySpec::Rsa2048).unwrap();
    let p = params(&kms, &rsa, ImportWrappingAlgorithm::RsaAesKeyWrapSha1);
    let ec = strongroom::asym::generate(KeySpec::EcP256).unwrap();
    let e = import(
        &kms,
        &rsa,
        &p,
        wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha1, ec.expose()),
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.EncryptedKeyMaterial");
    let mut bad = wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha1, material.expose());
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        import(&kms, &rsa, &p, bad, None).unwrap_err().code(),
        "InvalidParameter.EncryptedKeyMaterial"
    );
    let short = wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha1, material.expose())[..256].to_vec();
    assert_eq!(
        import(&kms, &rsa, &p, short, None).unwrap_err().code(),
        "InvalidParameter.EncryptedKeyMaterial"
    );
    import(
        &kms,
        &rsa,
        &p,
        wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha1, material.expose()),
        None,
    )
    .unwrap();
    let ct = block_on(
        kms.asymmetric_encrypt(strongroom::AsymmetricEncryptRequest {
            key_id: rsa.clone(),
            key_version_id: None,
            algorithm: EncryptionAlgorithm::RsaesOaepSha256,
            plaintext: b"to the imported RSA key".to_vec(),
        }),
    )
    .unwrap()
    .ciphertext_blob;
    // The material's own private key opens it: the key in the KMS is the one imported.
    assert_eq!(
        strongroom::asym::decrypt(material.expose(), EncryptionAlgorithm::RsaesOaepSha256, &ct)
            .unwrap()
            .expose(),
        b"to the imported RSA key"
    );
    block_on(kms.delete_key_material(&rsa)).unwrap();
    let p = params(&kms, &rsa, ImportWrappingAlgorithm::RsaAesKeyWrapSha256);
    let other = strongroom::asym::generate(KeySpec::Rsa2048).unwrap();
    let e = import(
        &kms,
        &rsa,
        &p,
        wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha256, other.expose()),
        None,
    )
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyMaterialMismatch");
    import(
        &kms,
        &rsa,
        &p,
        wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha256, material.expose()),
        None,
    )
    .unwrap();

    // Symmetric material may take the key-wrap form too.
    let aes = external(&kms, KeySpec::Aes256);
    let p = params(&kms, &aes, ImportWrappingAlgorithm::RsaAesKeyWrapSha256);
    import(
        &kms,
        &aes,
        &p,
        wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha256, &[3u8; 32]),
        None,
    )
    .unwrap();
    let blob = encrypt(&kms, &aes).unwrap();
    assert_eq!(open_blob_with(&[3u8; 32], &blob), b"byok secret");
}

#[test]
fn byok_through_a_remote_backend() {
    use strongroom::backend::remote::{BackendServer, LoopbackTransport, RemoteBackend};
    use strongroom::{KeyUsage, SigningAlgorithm};
    let clock = Arc::new(ManualClock::new(T0));
    let env = Env::new(Arc::new(OsEntropy), clock.clone());
    let server = BackendServer::with_handle_key(
        Arc::new(strongroom::backend::software::SoftwareBackend::new(
            env.clone(),
        )),
        env.clone(),
        strongroom::SecretBytes::from_slice(&[2; 32]),
    )
    .unwrap();
    let server = Arc::new(server);
    let key = server.create_client().unwrap();
    let remote = block_on(RemoteBackend::connect_with_key(
        Arc::new(LoopbackTransport(server)),
        key,
        env.clone(),
    ))
    .unwrap();
    let kms = block_on(Kms::open(KmsOptions {
        env,
        storage: Arc::new(MemoryStorage::new()),
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(Arc::new(remote)),
    }))
    .unwrap();
    let aes = external(&kms, KeySpec::Aes256);
    let p = params(&kms, &aes, ImportWrappingAlgorithm::RsaesOaepSha256);
    import(
        &kms,
        &aes,
        &p,
        wrap(&p, EncryptionAlgorithm::RsaesOaepSha256, &[8u8; 32]),
        None,
    )
    .unwrap();
    let blob = encrypt(&kms, &aes).unwrap();
    assert_eq!(decrypt(&kms, &blob).unwrap(), b"byok secret");
    let ec = external_asym(&kms, KeySpec::EcP256, KeyUsage::SignVerify);
    let material = strongroom::asym::generate(KeySpec::EcP256).unwrap();
    let spki = strongroom::asym::KeyCache::default()
        .public_key(KeySpec::EcP256, material.expose())
        .unwrap();
    let p = params(&kms, &ec, ImportWrappingAlgorithm::RsaAesKeyWrapSha256);
    import(
        &kms,
        &ec,
        &p,
        wrap_kw(&p, EncryptionAlgorithm::RsaesOaepSha256, material.expose()),
        None,
    )
    .unwrap();
    let d = strongroom::sha256(b"remote import");
    let sig = block_on(kms.asymmetric_sign(strongroom::AsymmetricSignRequest {
        key_id: ec,
        key_version_id: None,
        algorithm: SigningAlgorithm::EcdsaSha256,
        digest: d.clone(),
    }))
    .unwrap()
    .value;
    assert!(
        strongroom::asym::verify(
            KeySpec::EcP256,
            &spki,
            SigningAlgorithm::EcdsaSha256,
            &d,
            &sig
        )
        .unwrap()
    );
}
