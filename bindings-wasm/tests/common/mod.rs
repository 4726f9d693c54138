//! The binding's own tests, run by wasm-bindgen-test in Node (tests/node.rs) and in
//! headless Chromium (tests/browser.rs): NativeKms as the npm facade drives it, through
//! the core's one dispatch.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use strongroom_wasm::NativeKms;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// A binding call's value: returned directly, or a Promise of it.
pub async fn settle(v: Result<JsValue, JsValue>) -> Result<JsValue, JsValue> {
    let v = v?;
    match v.dyn_ref::<Promise>() {
        Some(p) => JsFuture::from(p.clone()).await,
        None => Ok(v),
    }
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap()
}

fn code(e: &JsValue) -> String {
    get(e, "code").as_string().unwrap()
}

async fn wire(kms: &NativeKms, action: &str, params: &str) -> Result<serde_json::Value, JsValue> {
    let v = settle(kms.call_wire(action.into(), params.into())).await?;
    Ok(serde_json::from_str(&v.as_string().unwrap()).unwrap())
}

async fn memory() -> NativeKms {
    let k = settle(NativeKms::memory(JsValue::UNDEFINED, JsValue::UNDEFINED))
        .await
        .unwrap();
    // wasm-bindgen hands back the exported class as a JS object: take it back.
    <NativeKms as wasm_bindgen::convert::TryFromJsValue>::try_from_js_value(k).unwrap()
}

pub async fn every_call_goes_through_the_dispatch_and_the_hook_sees_it() {
    let kms = memory().await;
    let seen: Rc<RefCell<Vec<(String, Vec<String>, Option<String>)>>> = Rc::default();
    let sink = seen.clone();
    let hook = Closure::<dyn Fn(JsValue)>::new(move |r: JsValue| {
        let resources = Array::from(&get(&r, "resources"))
            .iter()
            .map(|x| x.as_string().unwrap())
            .collect();
        sink.borrow_mut().push((
            get(&r, "action").as_string().unwrap(),
            resources,
            get(&r, "code").as_string(),
        ));
        assert_eq!(get(&r, "principal").as_string().unwrap(), "owner");
        assert_eq!(get(&r, "requestId").as_string().unwrap().len(), 36);
    });
    kms.set_call_hook(Some(hook.as_ref().unchecked_ref::<Function>().clone()));

    let meta = wire(&kms, "CreateKey", "{}").await.unwrap();
    let key_id = meta["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let enc = settle(kms.encrypt(key_id.clone(), b"hi".to_vec(), JsValue::UNDEFINED))
        .await
        .unwrap();
    let blob = Uint8Array::new(&get(&enc, "ciphertextBlob")).to_vec();
    let dec = settle(kms.decrypt(blob, JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(Uint8Array::new(&get(&dec, "plaintext")).to_vec(), b"hi");
    let e = wire(&kms, "DescribeKey", r#"{"KeyId":"no-such-key"}"#)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "Forbidden.KeyNotFound");
    let s = wire(&kms, "DescribeService", "{}").await.unwrap();
    assert!(
        s["KeySpecs"]["KeySpec"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["Name"] == "EC_P256"),
        "the wasm build has RustCrypto RSA / ECDSA"
    );

    let arn = format!("acs:kms:strongroom:local:key/{key_id}");
    let got = seen.borrow().clone();
    assert_eq!(
        got,
        vec![
            (
                "CreateKey".to_string(),
                vec!["*".to_string(), arn.clone()],
                None
            ),
            ("Encrypt".to_string(), vec![arn.clone()], None),
            ("Decrypt".to_string(), vec![arn.clone()], None),
            (
                "DescribeKey".to_string(),
                vec![],
                Some("Forbidden.KeyNotFound".to_string())
            ),
            ("DescribeService".to_string(), vec!["*".to_string()], None),
        ]
    );
    kms.set_call_hook(None);
    wire(&kms, "DescribeKey", &format!(r#"{{"KeyId":"{key_id}"}}"#))
        .await
        .unwrap();
    assert_eq!(seen.borrow().len(), 5, "no record once the hook is removed");
}

pub async fn the_wire_answers_alibaba_json() {
    let kms = memory().await;
    let k = wire(&kms, "CreateKey", r#"{"Description":"wasm"}"#)
        .await
        .unwrap();
    let key_id = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert_eq!(k["RequestId"].as_str().unwrap().len(), 36);
    let e = wire(
        &kms,
        "Encrypt",
        &format!(r#"{{"KeyId":"{key_id}","Plaintext":"aGk=","EncryptionContext":{{"a":"b"}}}}"#),
    )
    .await
    .unwrap();
    let d = wire(
        &kms,
        "Decrypt",
        &format!(
            r#"{{"CiphertextBlob":"{}","EncryptionContext":"{{\"a\":\"b\"}}"}}"#,
            e["CiphertextBlob"].as_str().unwrap()
        ),
    )
    .await
    .unwrap();
    assert_eq!(d["Plaintext"], "aGk=");
    let err = wire(&kms, "ListKeys", r#"{"PageSize":0}"#)
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidParameter.Limit");
    let err = wire(&kms, "Nope", "{}").await.unwrap_err();
    assert_eq!(code(&err), "InvalidAction.NotFound");
    let err = wire(&kms, "ListKeys", "[]").await.unwrap_err();
    assert_eq!(code(&err), "InvalidParameter.Request");
}

/// A store (or backup) that asks Argon2id for more memory than wasm allows (256 MiB;
/// more aborts the instance instead of failing) is refused with its own code before
/// any work — here 512 MiB, which the format itself allows.
pub async fn a_store_asking_argon2id_for_more_than_the_wasm_cap_is_refused() {
    use std::sync::Arc;
    use strongroom::storage::{KdfParams, MemoryStorage};
    let storage = Arc::new(MemoryStorage::new());
    let env = strongroom::Env::new(
        Arc::new(strongroom::env::PooledOsEntropy::default()),
        Arc::new(strongroom::time::ManualClock::new(1_795_392_000_000)),
    );
    let kms = strongroom::Kms::open(strongroom::KmsOptions {
        env,
        storage: storage.clone(),
        root: strongroom::RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    })
    .await
    .unwrap();
    drop(kms);
    let mut img = storage.image().unwrap();
    // Header: magic, version, derivation id, then m (KiB, big-endian); the last 8 of
    // its 110 bytes are a SHA-256 checksum of the rest.
    img[6..10].copy_from_slice(&(512u32 * 1024).to_be_bytes());
    let sum = strongroom::sha256(&img[..102]);
    img[102..110].copy_from_slice(&sum[..8]);
    let e = settle(NativeKms::open(
        Some(img),
        "pw".into(),
        None,
        JsValue::UNDEFINED,
        None,
        None,
        None,
        None,
        JsValue::UNDEFINED,
        JsValue::UNDEFINED,
    ))
    .await
    .unwrap_err();
    assert_eq!(code(&e), "Rejected.KdfCost");
    assert!(get(&e, "message").as_string().unwrap().contains("256 MiB"));
    // Nor is such a store (or backup) made here.
    let made = strongroom::Kms::open(strongroom::KmsOptions {
        env: strongroom::Env::new(
            Arc::new(strongroom::env::PooledOsEntropy::default()),
            Arc::new(strongroom::time::ManualClock::new(1_795_392_000_000)),
        ),
        storage: Arc::new(MemoryStorage::new()),
        root: strongroom::RootSecret::passphrase("pw"),
        kdf: KdfParams {
            m_cost_kib: 512 * 1024,
            t_cost: 1,
            parallelism: 1,
        },
        backend: None,
    })
    .await;
    assert_eq!(made.map(|_| ()).unwrap_err().code(), "Rejected.KdfCost");
}
