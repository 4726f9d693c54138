#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Rust's `Kms::connect` (`strongroom_gateway::client::connect`, the native client)
//! against a real gateway in this process: the embedded API served, envelopes framed
//! in the client, the caller's policies, and a gateway that is gone.
#![cfg(all(feature = "server", feature = "client"))]

use std::sync::Arc;

use pollster::block_on;
use serde_json::{Value, json};
use strongroom::api::{Action, Caller};
use strongroom::{Endpoint, Kms, SecretBytes};
use strongroom_gateway::client::{ClientOptions, connect};
use strongroom_gateway::{Config, Gateway};

fn owner(kms: &Kms, action: &str, params: Value) -> Value {
    let Value::Object(p) = params else { panic!() };
    let a: Action = action.parse().unwrap();
    block_on(kms.call_wire(&Caller::owner(), a, &p)).unwrap()
}

/// A served store with RAM users `app` (AliyunKMSFullAccess) and `reader`
/// (AliyunKMSReadOnlyAccess); their AccessKeys; the gateway's URL.
fn served() -> (
    String,
    Vec<(String, String)>,
    tokio::sync::oneshot::Sender<()>,
) {
    served_with(Config::default())
}

/// As [`served`], with the gateway configured as `base` says (its address aside).
fn served_with(
    base: Config,
) -> (
    String,
    Vec<(String, String)>,
    tokio::sync::oneshot::Sender<()>,
) {
    let kms = Arc::new(block_on(Kms::memory(strongroom::Env::system(), None)).unwrap());
    let mut keys = Vec::new();
    for (user, policy) in [
        ("app", "AliyunKMSFullAccess"),
        ("reader", "AliyunKMSReadOnlyAccess"),
    ] {
        owner(&kms, "CreateUser", json!({"UserName": user}));
        owner(
            &kms,
            "AttachPolicyToUser",
            json!({"PolicyType": "System", "PolicyName": policy, "UserName": user}),
        );
        let ak = owner(&kms, "CreateAccessKey", json!({"UserName": user}));
        keys.push((
            ak["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string(),
            ak["AccessKey"]["AccessKeySecret"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let cfg = Config {
                listen: "127.0.0.1:0".parse().unwrap(),
                ..base
            };
            let bound = Gateway::bind(kms, cfg, None).await.unwrap();
            addr_tx.send(bound.local_addr().unwrap()).unwrap();
            bound
                .serve(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    (format!("http://{addr}"), keys, tx)
}

fn client(url: &str, key: &(String, String)) -> Kms {
    block_on(connect(
        Endpoint {
            url: url.to_string(),
            access_key_id: key.0.clone(),
            access_key_secret: SecretBytes::from_slice(key.1.as_bytes()),
            security_token: None,
        },
        &ClientOptions::default(),
    ))
    .unwrap()
}

#[test]
fn the_embedded_api_served_to_a_rust_client() {
    let (url, keys, stop) = served();
    let app = client(&url, &keys[0]);
    assert!(app.is_connected());
    let k = block_on(app.create_key(Default::default())).unwrap().key_id;
    let ctx = strongroom::EncryptionContext::from_pairs([("t", "1")]).unwrap();
    let e = block_on(app.encrypt(strongroom::EncryptRequest {
        key_id: k.clone(),
        plaintext: b"rust".to_vec(),
        encryption_context: ctx.clone(),
    }))
    .unwrap();
    let d = block_on(app.decrypt(strongroom::DecryptRequest {
        ciphertext_blob: e.ciphertext_blob.clone(),
        encryption_context: ctx.clone(),
    }))
    .unwrap();
    assert_eq!(d.plaintext.expose(), b"rust");
    let msg = block_on(app.encrypt_envelope(strongroom::EncryptEnvelopeRequest {
        key_ids: vec![k.clone()],
        plaintext: vec![9; 200_000],
        encryption_context: ctx.clone(),
        frame_length: None,
        ..Default::default()
    }))
    .unwrap();
    let out = block_on(app.decrypt_envelope(strongroom::DecryptEnvelopeRequest {
        ciphertext: msg,
        encryption_context: Some(ctx),
        required_encryption_context: None,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(out.plaintext, vec![9; 200_000]);
    // The reader may describe, not encrypt: the gateway's policy decides.
    let reader = client(&url, &keys[1]);
    assert_eq!(block_on(reader.describe_key(&k)).unwrap().key_id, k);
    let e = block_on(reader.encrypt(strongroom::EncryptRequest {
        key_id: k.clone(),
        plaintext: b"x".to_vec(),
        encryption_context: Default::default(),
    }))
    .unwrap_err();
    assert_eq!(
        (e.code(), e.kind()),
        ("Forbidden.NoPermission", "AccessDenied")
    );
    // A wrong secret is the gateway's own refusal.
    let wrong = client(&url, &(keys[0].0.clone(), "nope".into()));
    let e = block_on(wrong.list_keys(Default::default())).unwrap_err();
    assert_eq!(
        (e.code(), e.kind()),
        ("SignatureDoesNotMatch", "AccessDenied")
    );
    // The gateway stops: calls fail clearly.
    stop.send(()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let e = block_on(app.describe_key(&k)).unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
}

/// A gateway that throttles the AccessKey (10 requests a second, bursts of 10): the
/// native client waits as `x-acs-retry-after` says and resends, so 25 calls in a row
/// all succeed (a mutation among them is made once); with `max_attempts: 1` the
/// refusal is the caller's, with Alibaba's code.
#[test]
fn a_throttled_client_backs_off_and_gets_through() {
    let (url, keys, stop) = served_with(Config {
        rate_per_key: 10.0,
        ..Config::default()
    });
    let endpoint = || Endpoint {
        url: url.clone(),
        access_key_id: keys[0].0.clone(),
        access_key_secret: SecretBytes::from_slice(keys[0].1.as_bytes()),
        security_token: None,
    };
    let kms = block_on(connect(endpoint(), &ClientOptions::default())).unwrap();
    let started = std::time::Instant::now();
    let key = block_on(kms.create_key(strongroom::CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    for i in 0..24 {
        block_on(kms.encrypt(strongroom::EncryptRequest {
            key_id: key.clone(),
            plaintext: vec![i],
            ..Default::default()
        }))
        .unwrap_or_else(|e| panic!("call {i}: {}", e.code()));
    }
    // 25 calls against a bucket of 10 refilled at 10 a second take over a second.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1_000));
    assert_eq!(
        block_on(kms.list_keys(Default::default()))
            .unwrap()
            .total_count,
        1,
        "the throttled CreateKey was made once"
    );
    let impatient = block_on(connect(
        endpoint(),
        &ClientOptions {
            retry: Some(strongroom::RetryPolicy {
                max_attempts: 1,
                ..Default::default()
            }),
            ..ClientOptions::default()
        },
    ))
    .unwrap();
    let refused = (0..30)
        .filter_map(|_| block_on(impatient.describe_key(&key)).err())
        .map(|e| e.code().to_string())
        .collect::<Vec<_>>();
    assert!(!refused.is_empty());
    assert!(
        refused.iter().all(|c| c == "Throttling.User"),
        "{refused:?}"
    );
    let _ = stop.send(());
}
