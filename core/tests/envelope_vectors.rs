#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The shared envelope vectors in tests/vectors/envelope_v1.json, run here and by
//! Node, Chromium and Python:
//! - `data_key`: a fixed data key, message id and stanzas → exact message bytes;
//! - `negative`: messages that must fail with the data key given, each with its code
//!   and why;
//! - `store`: a store image (deterministic randomness) and messages made through the
//!   KMS that every runtime must decrypt, plus KMS-level failures.
//!
//! `STRONGROOM_REGEN_VECTORS=1 cargo test --test envelope_vectors` rewrites the file.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use common::Deterministic;
use pollster::block_on;
use serde_json::{Value, json};
use strongroom::envelope::{self, Stanza};
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{
    CreateKeyRequest, DecryptEnvelopeRequest, EncryptEnvelopeRequest, EncryptionContext, Env, Kms,
    KmsOptions, RootSecret,
};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/envelope_v1.json"
);

fn ctx(v: &Value) -> EncryptionContext {
    EncryptionContext::from_pairs(
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())),
    )
    .unwrap()
}

fn h(b: &[u8]) -> Value {
    Value::String(hex::encode(b))
}

fn unh(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

const DATA_KEY: &str = "8081828384858687888990919293949596979899a0a1a2a3a4a5a6a7a8a9aaab";
const CMK: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const CMK_ID: &str = "0b1e7d2c-5a4f-4c3e-9d8b-7a6f5e4d3c2b";
const CMK_VER: &str = "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9";

fn stanza(c: &EncryptionContext, nonce: u8) -> Stanza {
    Stanza {
        kind: envelope::STANZA_KMS_BLOB,
        body: strongroom::blob::seal_with_material(
            &hex::decode(CMK).unwrap(),
            &[nonce; 12],
            CMK_ID,
            CMK_VER,
            &hex::decode(DATA_KEY).unwrap(),
            c,
        )
        .unwrap(),
    }
}

fn generate() -> Value {
    let dk = hex::decode(DATA_KEY).unwrap();
    let mid = |b: u8| [b; 32];
    let cases: Vec<(&str, Value, u32, Vec<u8>, bool)> = vec![
        ("empty-plaintext", json!({}), 64, vec![], false),
        ("one-byte", json!({"app": "billing"}), 64, vec![0x42], false),
        (
            "exactly-one-frame",
            json!({"app": "billing"}),
            16,
            (0..16).collect(),
            false,
        ),
        ("two-frames-exact", json!({}), 16, (0..32).collect(), false),
        (
            "three-frames-partial-final",
            json!({"purpose": "vector"}),
            16,
            b"strongroom envelope vector, forty bytes!".to_vec(),
            false,
        ),
        (
            "unicode-context",
            json!({"r\u{e9}gion": "\u{6771}\u{4eac}", "q\"uote": "back\\slash"}),
            32,
            b"unicode".to_vec(),
            false,
        ),
        (
            "unknown-stanza-first",
            json!({"grease": "yes"}),
            32,
            b"the unknown stanza is skipped".to_vec(),
            true,
        ),
    ];
    let mut data_key = Vec::new();
    for (i, (name, c, frame, pt, grease)) in cases.iter().enumerate() {
        let cx = ctx(c);
        let mut stanzas = Vec::new();
        if *grease {
            stanzas.push(Stanza {
                kind: 0x7f,
                body: b"a recipient type from the future".to_vec(),
            });
        }
        stanzas.push(stanza(&cx, i as u8));
        let m =
            envelope::seal_with_data_key(&dk, &mid(i as u8), &stanzas, &cx, *frame, pt).unwrap();
        data_key.push(json!({
            "name": name, "data_key": DATA_KEY, "message_id": h(&mid(i as u8)), "frame_length": frame,
            "encryption_context": c,
            "stanzas": stanzas.iter().map(|s| json!({"type": s.kind, "body": h(&s.body)})).collect::<Vec<_>>(),
            "plaintext": h(pt), "message": h(&m),
        }));
    }

    // Negative cases, all from "three-frames-partial-final" (F = 16, 40 bytes).
    let good = unh(&data_key[4]["message"]);
    let (_, hlen) = envelope::parse_header(&good).unwrap().unwrap();
    let body = good[hlen..].to_vec();
    let f = 1 + 16 + 16; // regular frame bytes
    let with_body = |b: &[u8]| h(&[&good[..hlen], b].concat());
    let flip = |i: usize| {
        let mut b = good.clone();
        b[i] ^= 0x01;
        h(&b)
    };
    let c4 = ctx(&data_key[4]["encryption_context"]);
    let many: Vec<Stanza> = (0..17).map(|_| stanza(&c4, 9)).collect();
    let too_many = envelope::seal_with_data_key(&dk, &mid(4), &many[..16], &c4, 16, b"x").unwrap();
    // Rewrite the count to 17 and append one more stanza: parse must refuse it.
    let mut tm = too_many.clone();
    let (th, _) = envelope::parse_header(&too_many).unwrap().unwrap();
    let count_at = 4 + 1 + 2 + 32 + 2 + th.encryption_context.aad().len() + 4;
    tm[count_at..count_at + 2].copy_from_slice(&17u16.to_be_bytes());
    let no_stanza = {
        let mut b = good[..count_at].to_vec();
        b.extend_from_slice(&0u16.to_be_bytes());
        b.extend_from_slice(&good[count_at + 2..]);
        b
    };
    let mut bad_frame_len = good.clone();
    bad_frame_len[count_at - 4..count_at].copy_from_slice(&0u32.to_be_bytes());
    let reg_final = {
        let mut b = body.clone();
        b[0] = 0x01;
        with_body(&b)
    };
    let final_reg = {
        let mut b = body.clone();
        b[2 * f] = 0x00;
        with_body(&b)
    };
    let negative = json!([
        {"name": "not-an-envelope", "message": h(b"\x01not an envelope at all"), "error": "InvalidCiphertext.NotAnEnvelope", "why": "no SREN magic (this is what a v1 blob looks like)"},
        {"name": "empty", "message": "", "error": "InvalidCiphertext.NotAnEnvelope", "why": "no bytes at all"},
        {"name": "unsupported-version", "message": flip(4), "error": "InvalidCiphertext.EnvelopeVersion", "why": "version byte 0x00 is not 0x01"},
        {"name": "unsupported-suite", "message": flip(6), "error": "InvalidCiphertext.EnvelopeSuite", "why": "suite 0x0000 is not 0x0001"},
        {"name": "zero-frame-length", "message": h(&bad_frame_len), "error": "InvalidCiphertext.MalformedEnvelope", "why": "the frame length must be 1..16 MiB"},
        {"name": "no-stanza", "message": h(&no_stanza), "error": "InvalidCiphertext.MalformedEnvelope", "why": "a message needs at least one recipient"},
        {"name": "too-many-recipients", "message": h(&tm), "error": "InvalidCiphertext.TooManyRecipients", "why": "17 stanzas; the cap is 16, checked before any key is used"},
        {"name": "header-truncated", "message": h(&good[..hlen - 1]), "error": "InvalidCiphertext.Truncated", "why": "the header tag is cut"},
        {"name": "flipped-message-id", "message": flip(10), "error": "InvalidCiphertext.KeyCommitment", "why": "the message id salts the derivation, so the commitment no longer matches"},
        {"name": "flipped-commitment", "message": flip(hlen - 17), "error": "InvalidCiphertext.KeyCommitment", "why": "the commitment is compared before anything is decrypted"},
        {"name": "flipped-header-tag", "message": flip(hlen - 1), "error": "InvalidCiphertext.HeaderAuthentication", "why": "the header tag covers every header byte"},
        {"name": "flipped-stanza-byte", "message": flip(count_at + 2 + 3 + 60), "error": "InvalidCiphertext.HeaderAuthentication", "why": "a stanza is header; with the data key given, only the tag catches it"},
        {"name": "flipped-frame-byte", "message": flip(hlen + 5), "error": "InvalidCiphertext.FrameAuthentication", "why": "GCM tag of frame 1"},
        {"name": "flipped-final-tag", "message": flip(good.len() - 1), "error": "InvalidCiphertext.FrameAuthentication", "why": "GCM tag of the final frame"},
        {"name": "frames-reordered", "message": with_body(&[&body[f..2 * f], &body[..f], &body[2 * f..]].concat()), "error": "InvalidCiphertext.FrameAuthentication", "why": "the sequence number is in the nonce"},
        {"name": "frame-dropped", "message": with_body(&[&body[..f], &body[2 * f..]].concat()), "error": "InvalidCiphertext.FrameAuthentication", "why": "the final frame arrives as frame 2"},
        {"name": "frame-duplicated", "message": with_body(&[&body[..f], &body[..f], &body[f..]].concat()), "error": "InvalidCiphertext.FrameAuthentication", "why": "frame 1 replayed as frame 2"},
        {"name": "final-frame-dropped", "message": with_body(&body[..2 * f]), "error": "InvalidCiphertext.Truncated", "why": "no final frame"},
        {"name": "cut-inside-frame", "message": with_body(&body[..f + 10]), "error": "InvalidCiphertext.Truncated", "why": "the stream ends mid-frame"},
        {"name": "regular-marked-final", "message": reg_final, "error": "InvalidCiphertext.MalformedEnvelope", "why": "frame 1's type byte set to final: its length field (ciphertext bytes) then exceeds the frame length"},
        {"name": "final-marked-regular", "message": final_reg, "error": "InvalidCiphertext.Truncated", "why": "read as a regular frame, the final frame is short of its 33 bytes"},
        {"name": "trailing-data", "message": h(&[&good[..], b"\x00"].concat()), "error": "InvalidCiphertext.TrailingData", "why": "bytes after the final frame"},
        {"name": "wrong-data-key", "message": h(&good), "data_key": "00".repeat(32), "error": "InvalidCiphertext.KeyCommitment", "why": "key commitment: another key cannot open it"}
    ]);

    // Messages made through a KMS over a deterministic store image.
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
    let a = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let b = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    block_on(kms.create_alias("alias/vector-b", &b)).unwrap();
    let msgs: Vec<(&str, Vec<String>, Value, Vec<u8>, Option<u32>)> = vec![
        (
            "one-recipient",
            vec![a.clone()],
            json!({"vector": "store"}),
            b"decrypted from a store image".to_vec(),
            None,
        ),
        (
            "two-recipients-by-alias",
            vec![a.clone(), "alias/vector-b".into()],
            json!({"tenant": "42"}),
            (0..=255).collect(),
            Some(100),
        ),
    ];
    let mut messages = Vec::new();
    for (name, keys, c, pt, frame) in msgs {
        let m = block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
            key_ids: keys.clone(),
            plaintext: pt.clone(),
            encryption_context: ctx(&c),
            frame_length: frame,
            ..Default::default()
        }))
        .unwrap();
        messages.push(json!({"name": name, "key_ids": keys, "encryption_context": c, "plaintext": h(&pt), "message": h(&m)}));
    }
    let first = unh(&messages[0]["message"]);
    // A message whose only stanza names a key this store does not hold.
    let foreign = envelope::seal_with_data_key(
        &dk,
        &mid(7),
        &[stanza(&EncryptionContext::new(), 7)],
        &EncryptionContext::new(),
        64,
        b"x",
    )
    .unwrap();
    let store_negative = json!([
        {"name": "context-mismatch", "message": h(&first), "encryption_context": {"vector": "other"}, "error": "InvalidCiphertext.ContextMismatch", "why": "the expected context is compared with the header's before any key is used"},
        {"name": "context-missing-pair", "message": h(&first), "encryption_context": {}, "error": "InvalidCiphertext.ContextMismatch", "why": "an expected context must match exactly"},
        {"name": "no-recipient-key", "message": h(&foreign), "encryption_context": {}, "error": "Forbidden.NoRecipientKey", "why": "the one stanza names a key this store does not hold"}
    ]);
    json!({
        "format": "strongroom envelope message v1 (docs/FORMAT.md)",
        "data_key": data_key,
        "negative": negative,
        "store": {
            "passphrase": "strongroom-vector-passphrase",
            "image": h(&storage.image().unwrap()),
            "key_ids": [a, b],
            "messages": messages,
            "negative": store_negative,
        }
    })
}

#[test]
fn envelope_vectors_match() {
    let fresh = generate();
    let on_disk = common::check_vectors(
        PATH,
        &fresh,
        "the envelope format changed: vectors no longer match",
    );

    for v in on_disk["data_key"].as_array().unwrap() {
        let pt = envelope::open_with_data_key(&unh(&v["data_key"]), &unh(&v["message"])).unwrap();
        assert_eq!(h(&pt), v["plaintext"], "{}", v["name"]);
    }
    for v in on_disk["negative"].as_array().unwrap() {
        let dk = v
            .get("data_key")
            .map_or_else(|| hex::decode(DATA_KEY).unwrap(), unh);
        let r = envelope::open_with_data_key(&dk, &unh(&v["message"]));
        assert!(r.is_err(), "{}", v["name"]);
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
        unh(&s["image"]),
        RootSecret::passphrase(s["passphrase"].as_str().unwrap()),
        None,
    ))
    .unwrap();
    for v in s["messages"].as_array().unwrap() {
        let r = block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
            ciphertext: unh(&v["message"]),
            encryption_context: Some(ctx(&v["encryption_context"])),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(h(&r.plaintext), v["plaintext"], "{}", v["name"]);
    }
    for v in s["negative"].as_array().unwrap() {
        let r = block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
            ciphertext: unh(&v["message"]),
            encryption_context: Some(ctx(&v["encryption_context"])),
            ..Default::default()
        }));
        assert_eq!(
            r.unwrap_err().code(),
            v["error"].as_str().unwrap(),
            "{}",
            v["name"]
        );
    }
}
