#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The shared vectors in tests/vectors/blob_v1.json: fixed material and nonce → exact
//! blob bytes; negative cases with their expected error; and a store image built with
//! deterministic randomness whose blob every runtime must decrypt.
//! `STRONGROOM_REGEN_VECTORS=1 cargo test --test vectors` rewrites the file.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use common::Deterministic;

use pollster::block_on;
use serde_json::{Value, json};
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{
    CreateKeyRequest, DecryptRequest, EncryptRequest, EncryptionContext, Env, Kms, KmsOptions,
    RootSecret,
};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/blob_v1.json");

fn ctx(v: &Value) -> EncryptionContext {
    EncryptionContext::from_pairs(
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())),
    )
    .unwrap()
}

fn seal(material: &str, nonce: &str, key_id: &str, ver: &str, pt: &[u8], c: &Value) -> String {
    let nonce: [u8; 12] = hex::decode(nonce).unwrap().try_into().unwrap();
    hex::encode(
        strongroom::blob::seal_with_material(
            &hex::decode(material).unwrap(),
            &nonce,
            key_id,
            ver,
            pt,
            &ctx(c),
        )
        .unwrap(),
    )
}

fn generate() -> Value {
    let key_id = "0b1e7d2c-5a4f-4c3e-9d8b-7a6f5e4d3c2b";
    let ver = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9";
    let m256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    let m128 = "00112233445566778899aabbccddeeff";
    let m192 = "000102030405060708090a0b0c0d0e0f1011121314151617";
    let nonce = "cafebabefacedbaddecaf888";
    let cases = [
        (
            "aes256-empty-context",
            m256,
            json!({}),
            b"strongroom vector plaintext".to_vec(),
        ),
        (
            "aes256-context",
            m256,
            json!({"purpose": "vector", "app": "billing"}),
            b"strongroom vector plaintext".to_vec(),
        ),
        (
            "aes256-unicode-context",
            m256,
            json!({"r\u{e9}gion": "\u{6771}\u{4eac}", "q\"uote": "back\\slash"}),
            vec![0u8; 1],
        ),
        (
            "aes128",
            m128,
            json!({"k": "v"}),
            b"data key sized plaintext 32 byte".to_vec(),
        ),
        ("aes192", m192, json!({}), b"x".repeat(100)),
    ];
    let blobs: Vec<Value> = cases
        .iter()
        .map(|(name, m, c, pt)| {
            json!({"name": name, "material": m, "nonce": nonce, "key_id": key_id, "key_version_id": ver,
                   "plaintext": hex::encode(pt), "encryption_context": c, "blob": seal(m, nonce, key_id, ver, pt, c)})
        })
        .collect();
    let good = hex::decode(blobs[1]["blob"].as_str().unwrap()).unwrap();
    let flip = |i: usize| {
        let mut b = good.clone();
        b[i] ^= 0x01;
        hex::encode(b)
    };
    let gctx = json!({"purpose": "vector", "app": "billing"});
    let negative = json!([
        {"name": "wrong-context-value", "material": m256, "blob": hex::encode(&good), "encryption_context": {"purpose": "vector", "app": "payroll"}, "error": "InvalidCiphertext", "why": "the EncryptionContext is AAD"},
        {"name": "missing-context", "material": m256, "blob": hex::encode(&good), "encryption_context": {}, "error": "InvalidCiphertext", "why": "the EncryptionContext is AAD"},
        {"name": "flipped-tag-bit", "material": m256, "blob": flip(good.len() - 1), "encryption_context": gctx, "error": "InvalidCiphertext", "why": "GCM tag mismatch"},
        {"name": "flipped-ciphertext-bit", "material": m256, "blob": flip(good.len() - 20), "encryption_context": gctx, "error": "InvalidCiphertext", "why": "GCM tag mismatch"},
        {"name": "flipped-nonce-bit", "material": m256, "blob": flip(good.len() - 27 - 16), "encryption_context": gctx, "error": "InvalidCiphertext", "why": "the nonce feeds GCM"},
        {"name": "flipped-version-id", "material": m256, "blob": flip(1 + 1 + 36 + 1 + 3), "encryption_context": gctx, "error": "InvalidCiphertext", "why": "the header is AAD"},
        {"name": "unknown-format-version", "material": m256, "blob": format!("02{}", &hex::encode(&good)[2..]), "encryption_context": gctx, "error": "InvalidCiphertext", "why": "only version 1 exists"},
        {"name": "truncated", "material": m256, "blob": hex::encode(&good[..good.len() - 17]), "encryption_context": gctx, "error": "InvalidCiphertext", "why": "shorter than a tag after the nonce"},
        {"name": "wrong-material", "material": m128, "blob": hex::encode(&good), "encryption_context": gctx, "error": "InvalidCiphertext", "why": "another key"}
    ]);

    // A store image made with deterministic randomness and a fixed clock.
    let env = Env::new(
        Arc::new(Deterministic(AtomicU64::new(0))),
        Arc::new(ManualClock::new(1_795_392_000_000)),
    );
    let storage = Arc::new(MemoryStorage::new());
    let kms = block_on(Kms::open(KmsOptions {
        env,
        storage: storage.clone(),
        root: RootSecret::passphrase("strongroom-vector-passphrase"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap();
    let k = block_on(kms.create_key(CreateKeyRequest {
        description: Some("vector key".into()),
        ..Default::default()
    }))
    .unwrap();
    let sctx = json!({"vector": "store"});
    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: k.key_id.clone(),
        plaintext: b"decrypted from a store image".to_vec(),
        encryption_context: ctx(&sctx),
    }))
    .unwrap();
    json!({
        "format": "strongroom ciphertext blob v1 (docs/FORMAT.md)",
        "blobs": blobs,
        "negative": negative,
        "store": {
            "passphrase": "strongroom-vector-passphrase",
            "image": hex::encode(storage.image().unwrap()),
            "key_id": k.key_id,
            "key_version_id": e.key_version_id,
            "creation_date": k.creation_date,
            "blob": hex::encode(&e.ciphertext_blob),
            "encryption_context": sctx,
            "plaintext": hex::encode(b"decrypted from a store image"),
        }
    })
}

#[test]
fn vectors_match() {
    let fresh = generate();
    let on_disk =
        common::check_vectors(PATH, &fresh, "formats changed: the vectors no longer match");

    // And each vector checked through the public paths.
    for v in on_disk["blobs"].as_array().unwrap() {
        let pt = strongroom::blob::open_with_material(
            &hex::decode(v["material"].as_str().unwrap()).unwrap(),
            &hex::decode(v["blob"].as_str().unwrap()).unwrap(),
            &ctx(&v["encryption_context"]),
        )
        .unwrap();
        assert_eq!(hex::encode(pt.expose()), v["plaintext"].as_str().unwrap());
    }
    for v in on_disk["negative"].as_array().unwrap() {
        let r = strongroom::blob::open_with_material(
            &hex::decode(v["material"].as_str().unwrap()).unwrap(),
            &hex::decode(v["blob"].as_str().unwrap()).unwrap(),
            &ctx(&v["encryption_context"]),
        );
        assert_eq!(
            r.unwrap_err().code(),
            v["error"].as_str().unwrap(),
            "{}",
            v["name"]
        );
    }
    let s = &on_disk["store"];
    let kms = block_on(Kms::open_image(
        Env::system(),
        hex::decode(s["image"].as_str().unwrap()).unwrap(),
        RootSecret::passphrase(s["passphrase"].as_str().unwrap()),
        None,
    ))
    .unwrap();
    let d = block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: hex::decode(s["blob"].as_str().unwrap()).unwrap(),
        encryption_context: ctx(&s["encryption_context"]),
    }))
    .unwrap();
    assert_eq!(
        hex::encode(d.plaintext.expose()),
        s["plaintext"].as_str().unwrap()
    );
}
