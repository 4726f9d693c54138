#![cfg(any(feature = "aws-lc", feature = "rustcrypto-asym"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! GenerateDataKeyPair / GenerateDataKeyPairWithoutPlaintext: every KeyPairSpec in both
//! formats, checked by the OpenSSL command line (which no one here wrote): the private
//! key is a PKCS#8 key of that spec, the public key is its public half, what one signs
//! the other verifies; the private key's ciphertext opens with Decrypt and the context;
//! the error codes; the hook and the audit trail (never the private key).

mod common;

use std::sync::{Arc, Mutex};

use common::{Backend, memory, openssl};
use pollster::block_on;
use strongroom::api::{Action, CallHook, CallRecord, Caller, Request, Resource};
use strongroom::{
    CreateKeyRequest, DecryptRequest, EncryptionContext, GenerateDataKeyPairRequest, KeyFormat,
    KeySpec, KeyUsage,
};

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("purpose", "outside")]).unwrap()
}

#[test]
fn every_spec_and_format_is_a_working_pair_openssl_agrees() {
    let (kms, _) = memory(Backend::Software);
    let key_id = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let dir = std::env::temp_dir().join(format!("strongroom-dkp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    std::fs::write(p("msg"), b"signed outside the KMS").unwrap();
    for (spec, format, what) in [
        (KeySpec::EcP256, KeyFormat::Pem, "prime256v1"),
        (KeySpec::EcP256K, KeyFormat::Der, "secp256k1"),
        (KeySpec::Rsa2048, KeyFormat::Der, "2048 bit"),
        (KeySpec::Rsa3072, KeyFormat::Pem, "3072 bit"),
        (KeySpec::Rsa4096, KeyFormat::Pem, "4096 bit"),
    ] {
        let pair = block_on(kms.generate_data_key_pair(GenerateDataKeyPairRequest {
            key_id: key_id.clone(),
            key_pair_spec: Some(spec),
            key_format: Some(format),
            encryption_context: ctx(),
        }))
        .unwrap();
        assert_eq!(pair.key_pair_spec, spec);
        assert_eq!(pair.key_id, key_id);
        let form = if format == KeyFormat::Pem {
            assert!(
                pair.private_key_plaintext
                    .expose()
                    .starts_with(b"-----BEGIN PRIVATE KEY-----\n")
                    && pair
                        .private_key_plaintext
                        .expose()
                        .ends_with(b"-----END PRIVATE KEY-----\n")
            );
            assert!(pair.public_key.starts_with(b"-----BEGIN PUBLIC KEY-----\n"));
            "PEM"
        } else {
            "DER"
        };
        std::fs::write(p("key"), pair.private_key_plaintext.expose()).unwrap();
        std::fs::write(p("pub"), &pair.public_key).unwrap();
        // The private key parses as that spec.
        let (ok, text) = openssl(&["pkey", "-inform", form, "-in", &p("key"), "-noout", "-text"]);
        assert!(ok && text.contains(what), "{spec}: {text}");
        // Its public half is the public key answered.
        let (ok, derived) = openssl(&["pkey", "-inform", form, "-in", &p("key"), "-pubout"]);
        assert!(ok);
        let (ok, given) = openssl(&[
            "pkey",
            "-pubin",
            "-inform",
            form,
            "-in",
            &p("pub"),
            "-pubout",
        ]);
        assert!(ok);
        assert_eq!(
            derived, given,
            "{spec}: the public key is not the private key's"
        );
        // What the private key signs, the public key verifies.
        let (ok, _) = openssl(&[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-digest",
            "sha256",
            "-keyform",
            form,
            "-inkey",
            &p("key"),
            "-in",
            &p("msg"),
            "-out",
            &p("sig"),
        ]);
        assert!(ok, "{spec}: openssl cannot sign with the private key");
        let (ok, _) = openssl(&[
            "pkeyutl",
            "-verify",
            "-rawin",
            "-digest",
            "sha256",
            "-pubin",
            "-keyform",
            form,
            "-inkey",
            &p("pub"),
            "-in",
            &p("msg"),
            "-sigfile",
            &p("sig"),
        ]);
        assert!(
            ok,
            "{spec}: the signature does not verify with the public key"
        );
        // The private key's ciphertext opens with the context, to the same bytes.
        let d = block_on(kms.decrypt(DecryptRequest {
            ciphertext_blob: pair.private_key_ciphertext_blob.clone(),
            encryption_context: ctx(),
        }))
        .unwrap();
        assert_eq!(d.plaintext, pair.private_key_plaintext);
        assert_eq!(
            block_on(kms.decrypt(DecryptRequest {
                ciphertext_blob: pair.private_key_ciphertext_blob.clone(),
                ..Default::default()
            }))
            .unwrap_err()
            .code(),
            "InvalidCiphertext"
        );
        // Debug never shows the private key.
        let shown = format!("{pair:?}");
        assert!(
            shown.contains("SecretBytes([REDACTED; ") && !shown.contains("PRIVATE KEY"),
            "{shown}"
        );
    }
    // The default format is PEM; without plaintext, only the blob and the public key.
    let w = block_on(
        kms.generate_data_key_pair_without_plaintext(GenerateDataKeyPairRequest {
            key_id: key_id.clone(),
            key_pair_spec: Some(KeySpec::EcP256),
            ..Default::default()
        }),
    )
    .unwrap();
    assert!(w.public_key.starts_with(b"-----BEGIN PUBLIC KEY-----\n"));
    let opened = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: w.private_key_ciphertext_blob,
        ..Default::default()
    }))
    .unwrap();
    std::fs::write(p("key"), opened.plaintext.expose()).unwrap();
    std::fs::write(p("pub"), &w.public_key).unwrap();
    let (_, derived) = openssl(&["pkey", "-in", &p("key"), "-pubout"]);
    let (_, given) = openssl(&["pkey", "-pubin", "-in", &p("pub"), "-pubout"]);
    assert!(derived.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(derived, given);
    // Each call draws a new pair.
    let again = block_on(kms.generate_data_key_pair_without_plaintext(
        GenerateDataKeyPairRequest {
            key_id,
            key_pair_spec: Some(KeySpec::EcP256),
            ..Default::default()
        },
    ))
    .unwrap();
    assert_ne!(again.public_key, w.public_key);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_and_unusable_keys_have_stable_codes() {
    let (kms, _) = memory(Backend::Software);
    let key_id = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let code = |key_id: &str, spec: Option<KeySpec>| {
        block_on(kms.generate_data_key_pair(GenerateDataKeyPairRequest {
            key_id: key_id.into(),
            key_pair_spec: spec,
            ..Default::default()
        }))
        .unwrap_err()
        .code()
    };
    assert_eq!(code(&key_id, None), "InvalidParameter.KeyPairSpec");
    assert_eq!(
        code(&key_id, Some(KeySpec::Aes256)),
        "InvalidParameter.KeyPairSpec"
    );
    // The parameter is checked before the key is looked up.
    assert_eq!(code("no-such-key", None), "InvalidParameter.KeyPairSpec");
    assert_eq!(
        code("no-such-key", Some(KeySpec::EcP256)),
        "Forbidden.KeyNotFound"
    );
    let signer = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::EcP256),
        key_usage: Some(KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    assert_eq!(
        code(&signer, Some(KeySpec::EcP256)),
        "InvalidParameter.KeySpec"
    );
    block_on(kms.disable_key(&key_id)).unwrap();
    assert_eq!(
        code(&key_id, Some(KeySpec::EcP256)),
        "Forbidden.KeyDisabled"
    );
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(Action, Vec<Resource>, Option<String>)>>);

impl CallHook for Recorder {
    fn authorize(&self, _: &Caller, _: Action, _: &Resource) -> strongroom::Result<()> {
        Ok(())
    }
    fn record(&self, r: &CallRecord<'_>) {
        self.0.lock().unwrap().push((
            r.action,
            r.resources.to_vec(),
            r.outcome.err().map(|e| e.code().to_string()),
        ));
    }
}

#[test]
fn the_hook_sees_the_cmk_and_the_model_marks_the_private_key_sensitive() {
    let (kms, _) = memory(Backend::Software);
    let key_id = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    block_on(kms.create_alias("alias/pairs", &key_id)).unwrap();
    let rec = Arc::new(Recorder::default());
    kms.set_call_hook(Some(rec.clone()));
    let r = block_on(kms.call(
        &Caller::owner(),
        Request::GenerateDataKeyPair(GenerateDataKeyPairRequest {
            key_id: "alias/pairs".into(),
            key_pair_spec: Some(KeySpec::EcP256K),
            ..Default::default()
        }),
    ))
    .unwrap();
    assert_eq!(format!("{r:?}"), "Response::GenerateDataKeyPair { .. }");
    let seen = rec.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, Action::GenerateDataKeyPair);
    assert!(seen[0].1.contains(&Resource::Key(key_id)), "{seen:?}");
    assert_eq!(seen[0].2, None);
    assert_eq!(
        Action::GenerateDataKeyPair.sensitive_fields(),
        ["PrivateKeyPlaintext"]
    );
    assert!(
        Action::GenerateDataKeyPairWithoutPlaintext
            .sensitive_fields()
            .is_empty()
    );
    assert!(!Action::GenerateDataKeyPair.mutates());
}
