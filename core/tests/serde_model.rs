#![cfg(feature = "serde")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! The action model's serde form (feature `serde`): every request of a mixed workload
//! is written out as JSON, read back, and run through `Kms::call`; every answer is
//! written out and read back to the same JSON. Values with rules (EncryptionContext,
//! the named enums, the `StaticStr` words) are checked when read back.

use pollster::block_on;
use serde_json::{Value, json};
use strongroom::api::{Caller, Request, Response};
use strongroom::env::Env;
use strongroom::{
    CreateKeyRequest, CreateSecretRequest, EncryptRequest, EncryptionContext,
    GetSecretValueRequest, KeySpec, Kms, ListKeysRequest, SecretBytes,
};

/// Through JSON and back, then run; the answer through JSON and back as well.
fn run(kms: &Kms, request: Request) -> Response {
    let text = serde_json::to_string(&request).unwrap();
    let back: Request = serde_json::from_str(&text).unwrap();
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        text,
        "request round trip"
    );
    let answer = block_on(kms.call(&Caller::owner(), back)).unwrap();
    let a = serde_json::to_value(&answer).unwrap();
    let again: Response = serde_json::from_value(a.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        a,
        "answer round trip"
    );
    again
}

#[test]
fn requests_and_answers_go_through_serde_and_back() {
    let kms = block_on(Kms::memory(Env::system(), None)).unwrap();
    let Response::CreateKey(meta) = run(
        &kms,
        Request::CreateKey(CreateKeyRequest {
            description: Some("serde".into()),
            ..Default::default()
        }),
    ) else {
        panic!("CreateKey answers KeyMetadata")
    };
    assert_eq!(meta.key_spec, KeySpec::Aes256);
    assert_eq!(meta.automatic_rotation, "Disabled");
    let ctx = EncryptionContext::from_pairs([("app", "serde")]).unwrap();
    let Response::Encrypt(e) = run(
        &kms,
        Request::Encrypt(EncryptRequest {
            key_id: meta.key_id.clone(),
            plaintext: b"hi".to_vec(),
            encryption_context: ctx.clone(),
        }),
    ) else {
        panic!("Encrypt")
    };
    let Response::Decrypt(d) = run(
        &kms,
        Request::Decrypt(strongroom::DecryptRequest {
            ciphertext_blob: e.ciphertext_blob,
            encryption_context: ctx,
        }),
    ) else {
        panic!("Decrypt")
    };
    assert_eq!(d.plaintext.expose(), b"hi");
    run(&kms, Request::ListKeys(ListKeysRequest::default()));
    run(
        &kms,
        Request::CreateSecret(CreateSecretRequest {
            secret_name: "serde/one".into(),
            version_id: "v1".into(),
            secret_data: SecretBytes::from_slice(b"value"),
            ..Default::default()
        }),
    );
    let Response::GetSecretValue(v) = run(
        &kms,
        Request::GetSecretValue(GetSecretValueRequest {
            secret_name: "serde/one".into(),
            ..Default::default()
        }),
    ) else {
        panic!("GetSecretValue")
    };
    assert_eq!(v.secret_data.expose(), b"value");
    let Response::DescribeService(s) = run(
        &kms,
        Request::DescribeService(strongroom::api::DescribeServiceRequest::default()),
    ) else {
        panic!("DescribeService")
    };
    assert!(s.actions.contains(&"Encrypt"));
    let Response::SimulatePolicy(p) = run(
        &kms,
        Request::SimulatePolicy(strongroom::SimulatePolicyRequest {
            principal_arn: "acs:ram::1234567890123456:user/nobody".into(),
            action_name: "kms:Encrypt".into(),
            resource: Some(meta.key_id.clone()),
            ..Default::default()
        }),
    ) else {
        panic!("SimulatePolicy")
    };
    // A denial's error code is read back as the code's own static string.
    assert_eq!(p.decision, "Deny");
    assert!(
        p.error_code.is_some_and(|c| c.contains('.')),
        "{:?}",
        p.error_code
    );
}

#[test]
fn what_is_read_back_obeys_the_model_s_rules() {
    // The enum variant names the action; the fields are the Rust names.
    let r: Request = serde_json::from_value(json!({
        "DescribeKey": { "key_id": "alias/x" }
    }))
    .unwrap();
    assert_eq!(r.action().name(), "DescribeKey");
    // A named enum takes only Alibaba's names.
    let bad: Result<Request, _> = serde_json::from_value(json!({
        "CreateKey": { "key_spec": "AES_999", "key_usage": null, "description": null,
                       "origin": null, "protection_level": null }
    }));
    assert!(bad.unwrap_err().to_string().contains("AES_999"));
    // An EncryptionContext is read back through its own rules.
    let ok: Value = json!({ "Encrypt": { "key_id": "k", "plaintext": [1],
                                        "encryption_context": { "a": "b" } } });
    serde_json::from_value::<Request>(ok).unwrap();
    let huge = json!({ "Encrypt": { "key_id": "k", "plaintext": [1],
                                   "encryption_context": { "a": "b".repeat(10_000) } } });
    let e = serde_json::from_value::<Request>(huge)
        .unwrap_err()
        .to_string();
    assert!(e.contains("EncryptionContext"), "{e}");
    // A StaticStr field takes only the words it can hold.
    let meta = |rotation: &str| {
        json!({ "DescribeKey": {
            "key_id": "k", "arn": "a", "creation_date": "d", "creator": "c",
            "description": "", "key_usage": "ENCRYPT/DECRYPT", "key_state": "Enabled",
            "key_spec": "Aliyun_AES_256", "origin": "Aliyun_KMS",
            "protection_level": "SOFTWARE", "primary_key_version": "v",
            "delete_date": null, "automatic_rotation": rotation, "rotation_interval": null,
            "last_rotation_date": null, "next_rotation_date": null,
            "deletion_protection": "Disabled", "deletion_protection_description": null,
            "material_expire_time": null } })
    };
    serde_json::from_value::<Response>(meta("Enabled")).unwrap();
    assert!(serde_json::from_value::<Response>(meta("Sometimes")).is_err());
    // The two in-process envelope steps have no serde form.
    let begin = Request::BeginEnvelope(strongroom::api::BeginEnvelopeRequest::default());
    assert!(serde_json::to_string(&begin).is_err());
}
