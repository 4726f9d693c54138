#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc
)]
//! The PKCS#11 backend on a real token: SoftHSM2 (Debian's `softhsm2`, which
//! scripts/ci/setup.sh installs), in a token directory made for this test run.

use std::sync::Arc;

use pollster::block_on;
use strongroom::backend::KeyBackend;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, EncryptionContext, Env, Error,
    GenerateDataKeyRequest, KeySpec, Kms, KmsOptions, ProtectionLevel, RootSecret, SecretBytes,
    Storage,
};
use strongroom_pkcs11::{Pkcs11Backend, Pkcs11Config};

use strongroom_pkcs11::testing;

const LABEL: &str = "strongroom-test";
const DELETION_LABEL: &str = "strongroom-deletion";
const MODULE: &str = testing::MODULE;
const PIN: &str = testing::PIN;

fn token() {
    let _ = testing::token(LABEL);
}

fn backend() -> Arc<Pkcs11Backend> {
    Pkcs11Backend::open(&testing::token(LABEL)).unwrap()
}

fn kms_on(storage: Arc<dyn Storage>, b: Arc<Pkcs11Backend>) -> Kms {
    block_on(Kms::open(KmsOptions {
        env: Env::system(),
        storage,
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(b),
    }))
    .unwrap()
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    EncryptionContext::from_pairs(pairs.iter().copied()).unwrap()
}

#[test]
fn keys_live_and_work_in_the_token() {
    let storage = Arc::new(MemoryStorage::new());
    let kms = kms_on(storage.clone(), backend());
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    assert_eq!(k.protection_level, ProtectionLevel::Hsm);
    let c = ctx(&[("app", "billing")]);
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"in the token".to_vec(),
        encryption_context: c.clone(),
    }))
    .unwrap();
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: e.ciphertext_blob.clone(),
        encryption_context: c.clone(),
    }))
    .unwrap();
    assert_eq!(d.plaintext.expose(), b"in the token");
    // Another context, a flipped byte: InvalidCiphertext, from the token's GCM check.
    let wrong = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: e.ciphertext_blob.clone(),
        encryption_context: ctx(&[("app", "other")]),
    }))
    .unwrap_err();
    assert_eq!(wrong.code(), "InvalidCiphertext", "{wrong}");
    let mut t = e.ciphertext_blob.clone();
    let n = t.len() - 1;
    t[n] ^= 1;
    let tampered = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: t,
        encryption_context: c.clone(),
    }))
    .unwrap_err();
    assert_eq!(tampered.code(), "InvalidCiphertext");
    // Data keys and a rotation: the old version still decrypts.
    let g = block_on(kms.generate_data_key(GenerateDataKeyRequest {
        key_id: k.key_id.clone(),
        ..Default::default()
    }))
    .unwrap();
    let v2 = block_on(kms.create_key_version(&k.key_id)).unwrap();
    assert_ne!(v2.key_version_id, k.primary_key_version);
    let back = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: g.ciphertext_blob.clone(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(back.plaintext, g.plaintext);
    let e2 = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"v2".to_vec(),
        encryption_context: EncryptionContext::default(),
    }))
    .unwrap();
    assert_eq!(e2.key_version_id, v2.key_version_id);
    // The store keeps references only: reopened with a new backend instance (a new
    // process would do the same), every version still works.
    block_on(kms.close()).unwrap();
    let again = kms_on(storage, backend());
    let d = block_on(again.decrypt(DecryptRequest {
        ciphertext_blob: e.ciphertext_blob,
        encryption_context: c,
    }))
    .unwrap();
    assert_eq!(d.plaintext.expose(), b"in the token");
}

#[test]
fn material_is_sensitive_and_not_extractable() {
    let b = backend();
    let h = block_on(b.generate(KeySpec::Aes256)).unwrap();
    assert!(b.is_locked_in(&h).unwrap());
    // The handle holds a reference, not 32 bytes of key.
    assert_eq!(h.0.expose().len(), 4 + 16);
}

#[test]
fn a_key_deleted_behind_strongroom_s_back_is_a_clear_error() {
    let b = backend();
    let h = block_on(b.generate(KeySpec::Aes128)).unwrap();
    block_on(b.encrypt(&h, b"x", b"")).unwrap();
    b.destroy_now(&h).unwrap();
    let e = block_on(b.encrypt(&h, b"x", b"")).unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound", "{e}");
}

#[test]
fn a_cached_handle_whose_object_was_destroyed_outside_is_not_used() {
    // The backend keeps found handles (C_FindObjects costs more than AES-GCM); an
    // object destroyed by another application must still be a clear KeyNotFound on the
    // next call, inside the check interval too.
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let b = backend();
    b.set_handle_check(std::time::Duration::from_secs(3600));
    let h = block_on(b.generate(KeySpec::Aes256)).unwrap();
    let s = block_on(b.encrypt(&h, b"cached", b"")).unwrap();
    assert_eq!(
        block_on(b.decrypt(&h, &s.nonce, &s.ciphertext, b""))
            .unwrap()
            .expose(),
        b"cached"
    );
    // Another application on the same token destroys the object.
    let ctx = Pkcs11::new(MODULE).unwrap();
    let _ = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == LABEL)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    let _ = session.login(UserType::User, Some(&AuthPin::new(PIN.into())));
    let id = h.0.expose()[4..].to_vec();
    let objects = session
        .find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::Id(id)])
        .unwrap();
    assert_eq!(objects.len(), 1);
    session.destroy_object(objects[0]).unwrap();
    let e = block_on(b.encrypt(&h, b"after", b"")).unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound", "{e}");
    let e = block_on(b.decrypt(&h, &s.nonce, &s.ciphertext, b"")).unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound", "{e}");
}

#[test]
fn a_wrong_pin_or_token_fails_at_open() {
    token();
    let open = |label: &str, pin: &str| {
        Pkcs11Backend::open(&Pkcs11Config {
            module: MODULE.into(),
            token_label: label.into(),
            pin: SecretBytes::from_slice(pin.as_bytes()),
            sessions: 1,
        })
    };
    let e = open(LABEL, "0000").unwrap_err();
    assert!(
        matches!(e, Error::BackendUnavailable(_)) && e.to_string().contains("PIN"),
        "{e}"
    );
    let e = open("no-such-token", PIN).unwrap_err();
    assert!(e.to_string().contains("no-such-token"), "{e}");
    let e = Pkcs11Backend::open(&Pkcs11Config {
        module: "/nonexistent/libpkcs11.so".into(),
        token_label: LABEL.into(),
        pin: SecretBytes::from_slice(PIN.as_bytes()),
        sessions: 1,
    })
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
}

#[test]
fn rsa_and_ec_keys_sign_and_decrypt_in_the_token() {
    use strongroom::{
        AsymmetricDecryptRequest, AsymmetricEncryptRequest, AsymmetricSignRequest,
        AsymmetricVerifyRequest, EncryptionAlgorithm as E, KeyUsage, SigningAlgorithm as S,
    };
    let kms = kms_on(Arc::new(MemoryStorage::new()), backend());
    let create = |spec, usage| {
        block_on(kms.create_key(CreateKeyRequest {
            key_spec: Some(spec),
            key_usage: Some(usage),
            ..Default::default()
        }))
    };
    let digest = strongroom::vocab::sha256(b"signed in the token");
    let other = strongroom::vocab::sha256(b"something else");
    for (spec, algs) in [
        (KeySpec::Rsa2048, &[S::RsaPssSha256, S::RsaPkcs1Sha256][..]),
        (KeySpec::Rsa3072, &[S::RsaPssSha256][..]),
        (KeySpec::EcP256, &[S::EcdsaSha256][..]),
    ] {
        let k = create(spec, KeyUsage::SignVerify).unwrap();
        assert_eq!(k.protection_level, ProtectionLevel::Hsm);
        // The public key comes from the token's attributes, as SPKI.
        let pk = block_on(kms.get_public_key(&k.key_id, None)).unwrap();
        assert!(
            pk.public_key.starts_with("-----BEGIN PUBLIC KEY-----"),
            "{spec}"
        );
        for &alg in algs {
            let sig = block_on(kms.asymmetric_sign(AsymmetricSignRequest {
                key_id: k.key_id.clone(),
                key_version_id: None,
                algorithm: alg,
                digest: digest.clone(),
            }))
            .unwrap()
            .value;
            let verify = |d: &[u8], sig: &[u8]| {
                // Verified by the core with the public key: the token's signature and
                // the SPKI built from its attributes agree.
                block_on(kms.asymmetric_verify(AsymmetricVerifyRequest {
                    key_id: k.key_id.clone(),
                    key_version_id: None,
                    algorithm: alg,
                    digest: d.to_vec(),
                    value: sig.to_vec(),
                }))
                .unwrap()
                .value
            };
            assert!(verify(&digest, &sig), "{spec} {alg}");
            assert!(!verify(&other, &sig), "{spec} {alg}: other digest");
            assert!(
                strongroom::asym::verify(spec, &pk.public_key_der, alg, &digest, &sig).unwrap(),
                "{spec} {alg}: offline verification"
            );
        }
    }
    // RSA-OAEP: encrypted by the core to the token's public key, decrypted in the
    // token. SoftHSM2 may lack OAEP with SHA-256: then a clear Rejected.Unsupported.
    let k = create(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt).unwrap();
    for alg in [E::RsaesOaepSha1, E::RsaesOaepSha256] {
        let ct = block_on(kms.asymmetric_encrypt(AsymmetricEncryptRequest {
            key_id: k.key_id.clone(),
            key_version_id: None,
            algorithm: alg,
            plaintext: b"for the token".to_vec(),
        }))
        .unwrap()
        .ciphertext_blob;
        let out = block_on(kms.asymmetric_decrypt(AsymmetricDecryptRequest {
            key_id: k.key_id.clone(),
            key_version_id: None,
            algorithm: alg,
            ciphertext_blob: ct.clone(),
        }));
        match out {
            Ok(p) => assert_eq!(p.plaintext.expose(), b"for the token", "{alg}"),
            Err(e) => {
                assert_eq!(alg, E::RsaesOaepSha256, "{e}");
                assert_eq!(e.code(), "Rejected.Unsupported", "{e}");
                assert!(e.to_string().contains("OAEP"), "{e}");
            }
        }
        if alg == E::RsaesOaepSha1 {
            let mut bad = ct;
            bad[10] ^= 1;
            let e = block_on(kms.asymmetric_decrypt(AsymmetricDecryptRequest {
                key_id: k.key_id.clone(),
                key_version_id: None,
                algorithm: alg,
                ciphertext_blob: bad,
            }))
            .unwrap_err();
            assert_eq!(e.code(), "InvalidCiphertext", "{e}");
        }
    }
    // secp256k1: made in the token where it can be, else refused clearly.
    match create(KeySpec::EcP256K, KeyUsage::SignVerify) {
        Ok(k) => {
            let sig = block_on(kms.asymmetric_sign(AsymmetricSignRequest {
                key_id: k.key_id.clone(),
                key_version_id: None,
                algorithm: S::EcdsaSha256,
                digest: digest.clone(),
            }))
            .unwrap()
            .value;
            let pk = block_on(kms.get_public_key(&k.key_id, None)).unwrap();
            assert!(
                strongroom::asym::verify(
                    KeySpec::EcP256K,
                    &pk.public_key_der,
                    S::EcdsaSha256,
                    &digest,
                    &sig
                )
                .unwrap()
            );
        }
        Err(e) => assert_eq!(e.code(), "Rejected.Unsupported", "{e}"),
    }
}

#[test]
fn deleting_a_key_destroys_its_objects_in_the_token() {
    token();
    let b = Pkcs11Backend::open(&testing::token(DELETION_LABEL)).unwrap();
    let clock = Arc::new(strongroom::time::ManualClock::new(1_795_392_000_000));
    let kms = block_on(Kms::open(KmsOptions {
        env: Env::new(Arc::new(strongroom::env::OsEntropy), clock.clone()),
        storage: Arc::new(MemoryStorage::new()),
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(b.clone()),
    }))
    .unwrap();
    let before = b.object_ids().unwrap();
    let aes = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_key_version(&aes.key_id)).unwrap();
    let rsa = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::Rsa2048),
        key_usage: Some(strongroom::KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap();
    let made = b.object_ids().unwrap();
    assert_eq!(
        made.len(),
        before.len() + 3,
        "two AES versions and one key pair"
    );
    block_on(kms.schedule_key_deletion(&aes.key_id, 7)).unwrap();
    block_on(kms.schedule_key_deletion(&rsa.key_id, 7)).unwrap();
    // Within the window the objects stay (CancelKeyDeletion could bring the keys back).
    clock.advance(6 * 86_400_000);
    block_on(kms.describe_key(&rsa.key_id)).unwrap();
    assert_eq!(b.object_ids().unwrap().len(), made.len());
    // Past it, the next call carries the deletion out and the token forgets them.
    clock.advance(2 * 86_400_000);
    let gone = block_on(kms.describe_key(&aes.key_id)).unwrap_err();
    assert_eq!(gone.code(), "Forbidden.KeyNotFound");
    assert_eq!(b.object_ids().unwrap(), before);
}

#[test]
fn concurrent_calls_share_the_session_pool() {
    let b = backend();
    let h = Arc::new(block_on(b.generate(KeySpec::Aes256)).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (b, h) = (b.clone(), h.clone());
            std::thread::spawn(move || {
                for j in 0..50 {
                    let msg = format!("thread {i} message {j}");
                    let s = block_on(b.encrypt(&h, msg.as_bytes(), b"aad")).unwrap();
                    let p = block_on(b.decrypt(&h, &s.nonce, &s.ciphertext, b"aad")).unwrap();
                    assert_eq!(p.expose(), msg.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn the_token_s_mechanisms_say_which_key_specs_it_makes() {
    // SoftHSM2 has AES key generation, RSA and EC pair generation, PSS / PKCS#1 / OAEP
    // and ECDSA: every spec, which DescribeService then lists.
    let b = backend();
    assert_eq!(b.key_specs(), strongroom::KeySpec::ALL.to_vec());
    let kms = kms_on(Arc::new(strongroom::storage::MemoryStorage::new()), b);
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
    assert_eq!(d.key_specs.len(), strongroom::KeySpec::ALL.len());
    // SOFTWARE too: beside the token, keys can be made in-process.
    assert_eq!(
        d.protection_levels,
        vec![
            strongroom::ProtectionLevel::Software,
            strongroom::ProtectionLevel::Hsm
        ]
    );
    assert!(d.key_specs.iter().all(|k| {
        k.supported_protection_levels
            .contains(&strongroom::ProtectionLevel::Hsm)
    }));
}

#[test]
fn backups_carry_token_keys_as_references() {
    let b = backend();
    let kms = kms_on(Arc::new(MemoryStorage::new()), b.clone());
    let k = block_on(kms.create_key(Default::default())).unwrap().key_id;
    let blob = block_on(kms.encrypt(strongroom::EncryptRequest {
        key_id: k,
        plaintext: b"kept in the token".to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob;
    let backup =
        block_on(kms.create_backup("backup passphrase", KdfParams::insecure_fast())).unwrap();
    let restore = |backend: Option<Arc<dyn KeyBackend>>| {
        block_on(Kms::restore_backup(
            KmsOptions {
                env: strongroom::Env::system(),
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
    let with = restore(Some(b));
    assert_eq!(
        decrypt(&with).unwrap().plaintext.expose(),
        b"kept in the token"
    );
    let without = restore(None);
    let e = decrypt(&without).unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    assert!(e.to_string().contains("PKCS#11"), "{e}");
}

#[test]
fn software_and_hsm_keys_in_one_store() {
    // A store made in software, later given a token: its old keys keep working
    // in-process, new keys go to the token by default, and ProtectionLevel SOFTWARE
    // still makes software keys. DescribeKey tells each key's level.
    use strongroom::{DecryptEnvelopeRequest, EncryptEnvelopeRequest, ListKeysRequest};
    let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
    let open = |b: Option<Arc<dyn KeyBackend>>| {
        block_on(Kms::open(KmsOptions {
            env: Env::system(),
            storage: storage.clone(),
            root: RootSecret::passphrase("pw"),
            kdf: KdfParams::insecure_fast(),
            backend: b,
        }))
        .unwrap()
    };
    let enc = |kms: &Kms, key: &str| {
        block_on(kms.encrypt(EncryptRequest {
            key_id: key.into(),
            plaintext: b"mixed".to_vec(),
            ..Default::default()
        }))
        .map(|r| r.ciphertext_blob)
    };
    let dec = |kms: &Kms, blob: &[u8]| {
        block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: blob.to_vec(),
            ..Default::default()
        }))
        .map(|r| r.plaintext.expose().to_vec())
    };
    let soft = open(None);
    let old = block_on(soft.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let old_blob = enc(&soft, &old).unwrap();
    // An HSM level asked of a software-only instance is refused by name.
    let e = block_on(soft.create_key(CreateKeyRequest {
        protection_level: Some(ProtectionLevel::Hsm),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.ProtectionLevel");
    block_on(soft.close()).unwrap();

    let token = Pkcs11Backend::open(&testing::token("strongroom-mixed")).unwrap();
    let before = token.object_ids().unwrap().len();
    let mixed = open(Some(token.clone()));
    assert_eq!(
        dec(&mixed, &old_blob).unwrap(),
        b"mixed",
        "the old software key"
    );
    let hsm = block_on(mixed.create_key(CreateKeyRequest::default())).unwrap();
    assert_eq!(hsm.protection_level, ProtectionLevel::Hsm);
    let sw = block_on(mixed.create_key(CreateKeyRequest {
        protection_level: Some(ProtectionLevel::Software),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(sw.protection_level, ProtectionLevel::Software);
    let sw_ec = block_on(mixed.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::EcP256),
        key_usage: Some(strongroom::KeyUsage::SignVerify),
        protection_level: Some(ProtectionLevel::Software),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(
        token.object_ids().unwrap().len(),
        before + 1,
        "only the HSM key is in the token"
    );
    for (id, level) in [
        (&old, ProtectionLevel::Software),
        (&hsm.key_id, ProtectionLevel::Hsm),
        (&sw.key_id, ProtectionLevel::Software),
        (&sw_ec.key_id, ProtectionLevel::Software),
    ] {
        assert_eq!(
            block_on(mixed.describe_key(id)).unwrap().protection_level,
            level
        );
    }
    // Each key's own backend, also across a rotation and in one envelope.
    block_on(mixed.create_key_version(&sw.key_id)).unwrap();
    block_on(mixed.create_key_version(&hsm.key_id)).unwrap();
    assert_eq!(token.object_ids().unwrap().len(), before + 2);
    let hsm_blob = enc(&mixed, &hsm.key_id).unwrap();
    let sw_blob = enc(&mixed, &sw.key_id).unwrap();
    assert_eq!(dec(&mixed, &hsm_blob).unwrap(), b"mixed");
    assert_eq!(dec(&mixed, &sw_blob).unwrap(), b"mixed");
    let d = strongroom::vocab::sha256(b"m");
    let sig = block_on(mixed.asymmetric_sign(strongroom::AsymmetricSignRequest {
        key_id: sw_ec.key_id.clone(),
        algorithm: strongroom::SigningAlgorithm::EcdsaSha256,
        digest: d.to_vec(),
        key_version_id: None,
    }))
    .unwrap();
    assert!(!sig.value.is_empty());
    let env = block_on(mixed.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: vec![sw.key_id.clone(), hsm.key_id.clone()],
        plaintext: b"both".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    // ListKeys filters by level.
    let listed = block_on(mixed.list_keys(ListKeysRequest {
        filters: vec![strongroom::KeyFilter {
            key: "ProtectionLevel".into(),
            values: vec!["HSM".into()],
        }],
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(listed.keys.len(), 1);
    // DescribeService lists both levels, and for each spec the levels that make it.
    let caller = strongroom::api::Caller::owner();
    let strongroom::Response::DescribeService(svc) = block_on(mixed.call(
        &caller,
        strongroom::Request::DescribeService(Default::default()),
    ))
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        svc.protection_levels,
        vec![ProtectionLevel::Software, ProtectionLevel::Hsm]
    );
    let aes = svc
        .key_specs
        .iter()
        .find(|k| k.name == KeySpec::Aes256)
        .unwrap();
    assert_eq!(
        aes.supported_protection_levels,
        vec![ProtectionLevel::Software, ProtectionLevel::Hsm]
    );
    block_on(mixed.close()).unwrap();

    // Opened without the token: software keys work, the HSM key names its token.
    let again = open(None);
    assert_eq!(dec(&again, &sw_blob).unwrap(), b"mixed");
    assert_eq!(dec(&again, &old_blob).unwrap(), b"mixed");
    let e = dec(&again, &hsm_blob).unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    assert!(e.to_string().contains("PKCS#11"), "{e}");
    // The envelope opens through its software recipient.
    let opened = block_on(again.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: env,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(opened.plaintext, b"both");
    block_on(again.close()).unwrap();
}

#[test]
fn byok_material_is_unwrapped_inside_the_token() {
    // GetParametersForImport makes the RSA wrapping key in the token; ImportKeyMaterial
    // hands the wrapped material to C_UnwrapKey: the plaintext never enters strongroom.
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use strongroom::{ImportKeyMaterialRequest, ImportWrappingAlgorithm, Origin};
    let b = Pkcs11Backend::open(&testing::token("strongroom-byok")).unwrap();
    let clock = Arc::new(strongroom::time::ManualClock::new(1_795_392_000_000));
    let kms = block_on(Kms::open(KmsOptions {
        env: Env::new(Arc::new(strongroom::env::OsEntropy), clock.clone()),
        storage: Arc::new(MemoryStorage::new()),
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(b.clone()),
    }))
    .unwrap();
    let keys_before = b.object_ids().unwrap().len();
    let key = block_on(kms.create_key(CreateKeyRequest {
        origin: Some(Origin::External),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(key.protection_level, ProtectionLevel::Hsm);
    let params =
        |alg| block_on(kms.get_parameters_for_import(&key.key_id, alg, KeySpec::Rsa2048)).unwrap();
    let import = |p: &strongroom::ImportParameters, wrapped: Vec<u8>| {
        block_on(kms.import_key_material(ImportKeyMaterialRequest {
            key_id: key.key_id.clone(),
            encrypted_key_material: wrapped,
            import_token: p.import_token.clone(),
            key_material_expire_unix: None,
        }))
    };
    let material = [0x42u8; 32];
    // A superseded wrapping key is destroyed in the token.
    let _first = params(ImportWrappingAlgorithm::RsaesOaepSha1);
    let p = params(ImportWrappingAlgorithm::RsaesOaepSha1);
    assert_eq!(b.wrapping_key_ids().unwrap().len(), 1);
    // Bytes that do not unwrap: one clear code, nothing made.
    let e = import(&p, vec![0u8; 256]).unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.EncryptedKeyMaterial", "{e}");
    // Material of the wrong length for the spec (key-wrapped, whose length shows even
    // where the token does not report CKA_VALUE_LEN): refused, the object destroyed.
    let pk = params(ImportWrappingAlgorithm::RsaAesKeyWrapSha1);
    let kek = [9u8; 32];
    let mut short = strongroom::asym::encrypt(
        &pk.public_key,
        strongroom::EncryptionAlgorithm::RsaesOaepSha1,
        &kek,
    )
    .unwrap();
    short.extend(strongroom::asym::kwp_wrap(&kek, &[1u8; 16]).unwrap());
    let e = import(&pk, short).unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.EncryptedKeyMaterial", "{e}");
    assert_eq!(b.object_ids().unwrap().len(), keys_before);
    let p = params(ImportWrappingAlgorithm::RsaesOaepSha1);
    let wrapped = strongroom::asym::encrypt(
        &p.public_key,
        strongroom::EncryptionAlgorithm::RsaesOaepSha1,
        &material,
    )
    .unwrap();
    import(&p, wrapped).unwrap();
    assert_eq!(b.object_ids().unwrap().len(), keys_before + 1);
    assert!(
        b.wrapping_key_ids().unwrap().is_empty(),
        "the used wrapping key is destroyed"
    );
    let blob = block_on(kms.encrypt(EncryptRequest {
        key_id: key.key_id.clone(),
        plaintext: b"byok in the token".to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob;
    // The token's key is the imported material: a local AES-GCM opens the blob.
    let parsed = strongroom::blob::parse(&blob).unwrap();
    let opened = aes_gcm::Aes256Gcm::new_from_slice(&material)
        .unwrap()
        .decrypt(
            (&parsed.nonce).into(),
            Payload {
                msg: parsed.ciphertext,
                aad: &strongroom::blob::aad(parsed.header, &EncryptionContext::default()),
            },
        )
        .unwrap();
    assert_eq!(opened, b"byok in the token");
    // DeleteKeyMaterial destroys the token's object; the same material comes back
    // (same key check value, computed in the token), other material does not.
    block_on(kms.delete_key_material(&key.key_id)).unwrap();
    assert_eq!(b.object_ids().unwrap().len(), keys_before);
    let p = params(ImportWrappingAlgorithm::RsaAesKeyWrapSha1);
    let mut kek = [0u8; 32];
    getrandom::fill(&mut kek).unwrap();
    let kw = |m: &[u8]| {
        let mut w = strongroom::asym::encrypt(
            &p.public_key,
            strongroom::EncryptionAlgorithm::RsaesOaepSha1,
            &kek,
        )
        .unwrap();
        w.extend(strongroom::asym::kwp_wrap(&kek, m).unwrap());
        w
    };
    let e = import(&p, kw(&[0x43u8; 32])).unwrap_err();
    assert_eq!(e.code(), "Rejected.KeyMaterialMismatch", "{e}");
    assert_eq!(
        b.object_ids().unwrap().len(),
        keys_before,
        "the mismatched object is destroyed"
    );
    let p2 = params(ImportWrappingAlgorithm::RsaAesKeyWrapSha1);
    let mut w = strongroom::asym::encrypt(
        &p2.public_key,
        strongroom::EncryptionAlgorithm::RsaesOaepSha1,
        &kek,
    )
    .unwrap();
    w.extend(strongroom::asym::kwp_wrap(&kek, &material).unwrap());
    import(&p2, w).unwrap();
    let back = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(back.plaintext.expose(), b"byok in the token");
    // OAEP with SHA-256: where the token lacks it (SoftHSM2 2.6), a clear refusal.
    let p3 = params(ImportWrappingAlgorithm::RsaesOaepSha256);
    let w = strongroom::asym::encrypt(
        &p3.public_key,
        strongroom::EncryptionAlgorithm::RsaesOaepSha256,
        &material,
    )
    .unwrap();
    match import(&p3, w) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.code(), "Rejected.Unsupported", "{e}"),
    }
    // Deleting the key destroys its object and any pending wrapping key.
    let _pending = params(ImportWrappingAlgorithm::RsaesOaepSha1);
    assert_eq!(b.wrapping_key_ids().unwrap().len(), 1);
    block_on(kms.schedule_key_deletion(&key.key_id, 7)).unwrap();
    clock.advance(8 * 86_400_000);
    assert_eq!(
        block_on(kms.describe_key(&key.key_id)).unwrap_err().code(),
        "Forbidden.KeyNotFound"
    );
    assert_eq!(b.object_ids().unwrap().len(), keys_before);
    assert!(b.wrapping_key_ids().unwrap().is_empty());
}

#[test]
fn an_rsa_private_key_is_imported_into_the_token() {
    // RSA_AES_KEY_WRAP: the PKCS#8 key is unwrapped by C_UnwrapKey into a sensitive
    // private key object; its public half is made from what the token reads from it.
    use strongroom::{
        AsymmetricDecryptRequest, EncryptionAlgorithm, ImportKeyMaterialRequest,
        ImportWrappingAlgorithm, KeyUsage, Origin,
    };
    let b = Pkcs11Backend::open(&testing::token("strongroom-byok-rsa")).unwrap();
    let kms = kms_on(Arc::new(MemoryStorage::new()), b.clone());
    let key = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::Rsa2048),
        key_usage: Some(KeyUsage::EncryptDecrypt),
        origin: Some(Origin::External),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let material = strongroom::asym::generate(KeySpec::Rsa2048).unwrap();
    let p = block_on(kms.get_parameters_for_import(
        &key,
        ImportWrappingAlgorithm::RsaAesKeyWrapSha1,
        KeySpec::Rsa2048,
    ))
    .unwrap();
    let mut kek = [0u8; 32];
    getrandom::fill(&mut kek).unwrap();
    let mut wrapped =
        strongroom::asym::encrypt(&p.public_key, EncryptionAlgorithm::RsaesOaepSha1, &kek).unwrap();
    wrapped.extend(strongroom::asym::kwp_wrap(&kek, material.expose()).unwrap());
    let before = b.object_ids().unwrap().len();
    block_on(kms.import_key_material(ImportKeyMaterialRequest {
        key_id: key.clone(),
        encrypted_key_material: wrapped,
        import_token: p.import_token,
        key_material_expire_unix: None,
    }))
    .unwrap();
    assert_eq!(b.object_ids().unwrap().len(), before + 1);
    // The token's public key is the material's (the material decrypts what it encrypts),
    // and the token's private key decrypts it too: they are the same key.
    let spki = block_on(kms.get_public_key(&key, None))
        .unwrap()
        .public_key_der;
    let ct =
        strongroom::asym::encrypt(&spki, EncryptionAlgorithm::RsaesOaepSha1, b"rsa byok").unwrap();
    assert_eq!(
        strongroom::asym::decrypt(material.expose(), EncryptionAlgorithm::RsaesOaepSha1, &ct)
            .unwrap()
            .expose(),
        b"rsa byok"
    );
    let out = block_on(kms.asymmetric_decrypt(AsymmetricDecryptRequest {
        key_id: key.clone(),
        key_version_id: None,
        algorithm: EncryptionAlgorithm::RsaesOaepSha1,
        ciphertext_blob: ct,
    }))
    .unwrap();
    assert_eq!(out.plaintext.expose(), b"rsa byok");
    // EC keys into the token: refused by name.
    let ec = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::EcP256),
        key_usage: Some(KeyUsage::SignVerify),
        origin: Some(Origin::External),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let p = block_on(kms.get_parameters_for_import(
        &ec,
        ImportWrappingAlgorithm::RsaAesKeyWrapSha1,
        KeySpec::Rsa2048,
    ))
    .unwrap();
    let e = block_on(kms.import_key_material(ImportKeyMaterialRequest {
        key_id: ec,
        encrypted_key_material: vec![0; 300],
        import_token: p.import_token,
        key_material_expire_unix: None,
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.Unsupported", "{e}");
}
