#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Signed envelope messages (suite 0x0002, docs/FORMAT.md): sender authentication.
//! A message signed by a store's EC_P256 key opens with its signer reported (and
//! known); a required signer is enforced on the header; every tampering with the
//! signature, the trailer or the frames fails with its code, one-shot and streamed in
//! small chunks, and a streamed reader never releases the final frame's plaintext
//! before the signature verifies; a forger who knows the data key (any recipient)
//! cannot pass a message off as the signer's.
//!
//! The vectors (tests/vectors/envelope_signed_v1.json) are made here:
//! `STRONGROOM_REGEN_VECTORS=1 cargo test -p strongroom --features aws-lc --test signed`.

mod common;

use std::sync::Arc;

use common::{Backend, memory};
use pollster::block_on;
use serde_json::{Value, json};
use strongroom::envelope::{self, Stanza};
use strongroom::{
    Action, CallHook, CallRecord, Caller, ContextCheck, CreateKeyRequest, DecryptEnvelopeRequest,
    EncryptEnvelopeRequest, EncryptionContext, KeySpec, KeyUsage, Kms, Resource,
};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/envelope_signed_v1.json"
);
/// Fixed EC P-256 keys (PKCS#8 DER) for the vectors: the signer, and a forger's.
const SIGNER_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104200971b6b9697733185e0c4841d2efec9a26b8fd5bbc05defaac81c865cc2c68dea14403420004b5b6834db2a7aa6aea2a63029dc92733231b21dc178a34e72c139572b77a8a324347b0eff142fe625304dc24943a5b666092d78c0452757da22bed12207ba617";
const FORGER_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b02010104204a1e71d898fd966590a619e74228b1c9d4f2be46d6e528b035ad0412256d31aaa144034200042afcfeaabaccb3f2a4a72c12427d696c43fa2b5166eba472e31926e868e48b662f241b6b33850463f5cde1c3428d979aee4173c4be82e90f36d8fc5c9f7165b6";
const DATA_KEY: &str = "8081828384858687888990919293949596979899a0a1a2a3a4a5a6a7a8a9aaab";
const SIGNER_ID: &str = "5f0c2d3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f";
const SIGNER_VER: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d";

fn sym(kms: &Kms) -> String {
    block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id
}

fn ec(kms: &Kms) -> String {
    block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::EcP256),
        key_usage: Some(KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap()
    .key_id
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn seal(kms: &Kms, to: &str, signer: Option<&str>, pt: &[u8], frame: u32) -> Vec<u8> {
    block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: vec![to.into()],
        plaintext: pt.to_vec(),
        encryption_context: EncryptionContext::from_pairs([("app", "signed")]).unwrap(),
        frame_length: Some(frame),
        signing_key_id: signer.map(String::from),
    }))
    .unwrap()
}

fn open(
    kms: &Kms,
    ct: &[u8],
    required: Option<&str>,
) -> strongroom::Result<strongroom::DecryptEnvelopeResponse> {
    block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: ct.to_vec(),
        required_signer: required.map(String::from),
        ..Default::default()
    }))
}

/// Streams `ct` through `decrypt_stream` in `chunk`-byte reads; the output so far too.
fn stream(
    kms: &Kms,
    ct: &[u8],
    chunk: usize,
    required: Option<&str>,
) -> (strongroom::Result<strongroom::EnvelopeInfo>, Vec<u8>) {
    struct Chunked<'a>(&'a [u8], usize);
    impl std::io::Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut out = Vec::new();
    let check = ContextCheck {
        required_signer: required,
        ..Default::default()
    };
    let r = block_on(kms.decrypt_stream(&mut Chunked(ct, chunk), &mut out, check));
    (r, out)
}

fn code<T: std::fmt::Debug>(r: strongroom::Result<T>) -> &'static str {
    r.expect_err("must fail").code()
}

#[test]
fn a_signed_message_opens_with_its_signer_known() {
    let (kms, _) = memory(Backend::Software);
    let to = sym(&kms);
    let signer = ec(&kms);
    block_on(kms.create_alias("alias/sender", &signer)).unwrap();
    for (n, frame) in [(0, 64), (1, 64), (64, 64), (1000, 64), (100_000, 4096)] {
        let pt = pattern(n);
        let ct = seal(&kms, &to, Some("alias/sender"), &pt, frame);
        let (h, _) = envelope::parse_whole_header(&ct).unwrap();
        assert_eq!(h.suite, envelope::SUITE_SIGNED_ECDSA_P256);
        assert_eq!(
            h.signer.as_ref().unwrap().key_id,
            signer,
            "the header names the KeyId, not the alias"
        );
        let r = open(&kms, &ct, None).unwrap();
        assert_eq!(r.plaintext, pt);
        let s = r.info.signer.unwrap();
        assert!(s.known);
        assert_eq!(s.key_id, signer);
        let pk = block_on(kms.get_public_key(&signer, None)).unwrap();
        assert_eq!(s.public_key, pk.public_key_der);
        assert_eq!(s.key_version_id, pk.key_version_id);
        // Required by KeyId, alias or ARN.
        for req in [signer.as_str(), "alias/sender"] {
            assert_eq!(open(&kms, &ct, Some(req)).unwrap().plaintext, pt);
        }
        // Streamed in awkward chunks, same answer.
        for chunk in [1, 7, 4096] {
            let (r, out) = stream(&kms, &ct, chunk, Some(&signer));
            assert!(r.unwrap().signer.unwrap().known);
            assert_eq!(out, pt, "{n} bytes in {chunk}-byte chunks");
        }
    }
    // An unsigned message still opens, reports no signer, and fails a required signer.
    let plain = seal(&kms, &to, None, b"unsigned", 64);
    assert!(open(&kms, &plain, None).unwrap().info.signer.is_none());
    assert_eq!(
        code(open(&kms, &plain, Some(&signer))),
        "InvalidCiphertext.SignerMismatch"
    );
    // Another key of the store is not the signer.
    let other = ec(&kms);
    let ct = seal(&kms, &to, Some(&signer), b"x", 64);
    assert_eq!(
        code(open(&kms, &ct, Some(&other))),
        "InvalidCiphertext.SignerMismatch"
    );
    assert_eq!(
        code(open(&kms, &ct, Some("alias/none"))),
        "Forbidden.AliasNotFound"
    );
}

#[test]
fn streams_and_the_encryptor_sign_too() {
    let (kms, _) = memory(Backend::Software);
    let to = sym(&kms);
    let signer = ec(&kms);
    let pt = pattern(300_000);
    let req = EncryptEnvelopeRequest {
        key_ids: vec![to],
        signing_key_id: Some(signer.clone()),
        frame_length: Some(65_536),
        ..Default::default()
    };
    let mut ct = Vec::new();
    block_on(kms.encrypt_stream(&req, &mut &pt[..], &mut ct)).unwrap();
    assert_eq!(open(&kms, &ct, Some(&signer)).unwrap().plaintext, pt);
    // The incremental encryptor: `finish` refuses (it cannot sign), finish_envelope signs.
    let mut enc = block_on(kms.envelope_encryptor(&req, None)).unwrap();
    assert_eq!(enc.signer().unwrap().key_id, signer);
    let mut out = Vec::new();
    enc.update(&pt, &mut out).unwrap();
    block_on(kms.finish_envelope(enc, &mut out)).unwrap();
    assert_eq!(open(&kms, &out, None).unwrap().plaintext, pt);
    let enc = block_on(kms.envelope_encryptor(&req, None)).unwrap();
    assert_eq!(
        code(enc.finish(&mut Vec::new())),
        "InvalidParameter.SigningKeyId"
    );
}

#[test]
fn tampering_fails_with_its_code_and_holds_the_final_frame() {
    let (kms, _) = memory(Backend::Software);
    let to = sym(&kms);
    let signer = ec(&kms);
    let pt = pattern(1000);
    let ct = seal(&kms, &to, Some(&signer), &pt, 256);
    let sig_len = {
        // The trailer is the last 2 + s bytes; find s from the end: try each.
        (8..=72)
            .find(|s| {
                let at = ct.len() - 2 - s;
                usize::from(u16::from_be_bytes([ct[at], ct[at + 1]])) == *s
            })
            .unwrap()
    };
    let body_end = ct.len() - 2 - sig_len;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "flipped signature byte",
            {
                let mut c = ct.clone();
                let i = c.len() - 5;
                c[i] ^= 1;
                c
            },
            "InvalidCiphertext.Signature",
        ),
        (
            "no trailer",
            ct[..body_end].to_vec(),
            "InvalidCiphertext.Truncated",
        ),
        (
            "half a trailer",
            ct[..body_end + 10].to_vec(),
            "InvalidCiphertext.Truncated",
        ),
        (
            "bytes after the trailer",
            {
                let mut c = ct.clone();
                c.push(0);
                c
            },
            "InvalidCiphertext.TrailingData",
        ),
        (
            "trailer length out of range",
            {
                let mut c = ct[..body_end].to_vec();
                c.extend_from_slice(&[0, 2, 0x30, 0]);
                c
            },
            "InvalidCiphertext.Signature",
        ),
        (
            "signer block altered",
            {
                let mut c = ct.clone();
                let (_, n) = envelope::parse_whole_header(&ct).unwrap();
                c[n - 48 - 5] ^= 1;
                c
            },
            "InvalidCiphertext.SignerMismatch",
        ),
        // (The signer is checked against the store before any key is used: a public key
        // changed in transit names this store's key with a key it does not have.)
    ];
    for (why, bad, want) in &cases {
        assert_eq!(code(open(&kms, bad, None)), *want, "{why}");
        for chunk in [1, 64] {
            let (r, out) = stream(&kms, bad, chunk, None);
            assert_eq!(
                r.expect_err(why).code(),
                *want,
                "{why}, {chunk}-byte chunks"
            );
            // The final frame's plaintext (the last 1000 % 256 = 232 bytes) never came
            // out — unless the signature verified and only later bytes were wrong.
            if *want != "InvalidCiphertext.TrailingData" {
                assert!(out.len() <= 768, "{why}: {} bytes released", out.len());
            }
        }
    }
}

#[test]
fn a_forger_cannot_pass_as_the_signer() {
    let (kms, _) = memory(Backend::Software);
    let to = sym(&kms);
    let signer = ec(&kms);
    let good = seal(&kms, &to, Some(&signer), b"pay 10 to alice", 64);
    // The forger is a recipient: it unwraps the data key like any reader would.
    let (h, _) = envelope::parse_whole_header(&good).unwrap();
    let dk = block_on(kms.decrypt(strongroom::DecryptRequest {
        ciphertext_blob: h.stanzas[0].body.clone(),
        encryption_context: h.encryption_context.clone(),
    }))
    .unwrap()
    .plaintext;
    let forger = hex::decode(FORGER_PKCS8).unwrap();
    let stanzas = h.stanzas.clone();
    // 1. Naming the real signer's key with its own public key: the store knows better.
    let forged = envelope::seal_signed_with_data_key(
        dk.expose(),
        &h.message_id,
        &stanzas,
        &h.encryption_context,
        64,
        b"pay 10,000 to mallory",
        (&signer, &h.signer.as_ref().unwrap().key_version_id, &forger),
    )
    .unwrap();
    assert_eq!(
        code(open(&kms, &forged, None)),
        "InvalidCiphertext.SignerMismatch"
    );
    // 2. Naming a key this store does not hold: it opens, but the signer is not known,
    //    and a required signer refuses it.
    let forged = envelope::seal_signed_with_data_key(
        dk.expose(),
        &h.message_id,
        &stanzas,
        &h.encryption_context,
        64,
        b"pay 10,000 to mallory",
        ("not-a-key-here", "v1", &forger),
    )
    .unwrap();
    let r = open(&kms, &forged, None).unwrap();
    assert!(!r.info.signer.unwrap().known);
    assert_eq!(
        code(open(&kms, &forged, Some(&signer))),
        "InvalidCiphertext.SignerMismatch"
    );
    // 3. An unsigned message (suite 1) with the same data key: no signer at all.
    let forged = envelope::seal_with_data_key(
        dk.expose(),
        &h.message_id,
        &stanzas,
        &h.encryption_context,
        64,
        b"pay 10,000 to mallory",
    )
    .unwrap();
    assert!(open(&kms, &forged, None).unwrap().info.signer.is_none());
    assert_eq!(
        code(open(&kms, &forged, Some(&signer))),
        "InvalidCiphertext.SignerMismatch"
    );
}

#[test]
fn the_signing_key_is_checked_and_authorised_as_asymmetric_sign() {
    let (kms, _) = memory(Backend::Software);
    let to = sym(&kms);
    let try_sign = |k: &str| {
        block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
            key_ids: vec![to.clone()],
            plaintext: b"x".to_vec(),
            signing_key_id: Some(k.into()),
            ..Default::default()
        }))
    };
    assert_eq!(code(try_sign(&sym(&kms))), "InvalidParameter.SigningKeyId");
    let rsa = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::Rsa2048),
        key_usage: Some(KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    assert_eq!(code(try_sign(&rsa)), "InvalidParameter.SigningKeyId");
    let ec_key = ec(&kms);
    block_on(kms.disable_key(&ec_key)).unwrap();
    assert_eq!(code(try_sign(&ec_key)), "Forbidden.KeyDisabled");
    assert_eq!(code(try_sign("no-such-key")), "Forbidden.KeyNotFound");
    // A hook that refuses AsymmetricSign refuses the signed envelope, naming the key.
    struct NoSign;
    impl CallHook for NoSign {
        fn authorize(
            &self,
            _: &Caller,
            action: Action,
            resource: &Resource,
        ) -> strongroom::Result<()> {
            if action == Action::AsymmetricSign {
                return Err(strongroom::Error::AccessDenied {
                    action: "AsymmetricSign",
                    resource: format!("{resource:?}"),
                });
            }
            Ok(())
        }
        fn record(&self, _: &CallRecord<'_>) {}
    }
    let signer = ec(&kms);
    kms.set_call_hook(Some(Arc::new(NoSign)));
    assert_eq!(code(try_sign(&signer)), "Forbidden.NoPermission");
    // Unsigned messages are not affected.
    block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: vec![to.clone()],
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap();
}

fn h(b: &[u8]) -> Value {
    Value::String(hex::encode(b))
}

/// The shared vectors: made with fixed keys (the signature itself is randomized, so
/// the file is checked by reading, not by remaking it).
#[test]
fn vectors() {
    let dk = hex::decode(DATA_KEY).unwrap();
    let pkcs8 = hex::decode(SIGNER_PKCS8).unwrap();
    let forger = hex::decode(FORGER_PKCS8).unwrap();
    let id = [7u8; 32];
    let stanzas = vec![Stanza { kind: 0x01, body: hex::decode("012430623165376432632d356134662d346333652d396438622d3761366635653464336332622466316532643363342d623561362d343937382d383639352d6134623363326431653066390000000000000000000000008e3d375d31a9053a802139a48abf050c44d4ceca8820c28c243b15246d56f7fdcee8bd71b78da879bc9f6db986382c08").unwrap() }];
    let ctx = EncryptionContext::from_pairs([("vector", "signed")]).unwrap();
    let public_key = strongroom::asym::KeyCache::default()
        .public_key(KeySpec::EcP256, &pkcs8)
        .unwrap();
    if std::env::var_os("STRONGROOM_REGEN_VECTORS").is_some() {
        let mut good = Vec::new();
        for (name, n, frame) in [
            ("empty", 0usize, 64u32),
            ("one-frame", 40, 64),
            ("three-frames", 150, 64),
            ("partial-final", 1000, 256),
        ] {
            let pt = pattern(n);
            let m = envelope::seal_signed_with_data_key(
                &dk,
                &id,
                &stanzas,
                &ctx,
                frame,
                &pt,
                (SIGNER_ID, SIGNER_VER, &pkcs8),
            )
            .unwrap();
            good.push(json!({"name": name, "plaintext": h(&pt), "message": h(&m)}));
        }
        let base = envelope::seal_signed_with_data_key(
            &dk,
            &id,
            &stanzas,
            &ctx,
            64,
            b"signed vector",
            (SIGNER_ID, SIGNER_VER, &pkcs8),
        )
        .unwrap();
        let sig_len = (8..=72)
            .find(|s| {
                let at = base.len() - 2 - s;
                usize::from(u16::from_be_bytes([base[at], base[at + 1]])) == *s
            })
            .unwrap();
        let body_end = base.len() - 2 - sig_len;
        let mut flipped = base.clone();
        let i = flipped.len() - 3;
        flipped[i] ^= 0x01;
        let mut trailing = base.clone();
        trailing.push(0);
        // Signed by another key than the header names (the header is intact).
        let wrong = {
            let mut m = envelope::seal_signed_with_data_key(
                &dk,
                &id,
                &stanzas,
                &ctx,
                64,
                b"signed vector",
                (SIGNER_ID, SIGNER_VER, &pkcs8),
            )
            .unwrap();
            let at = m.len()
                - 2
                - (8..=72)
                    .find(|s| {
                        let at = m.len() - 2 - s;
                        usize::from(u16::from_be_bytes([m[at], m[at + 1]])) == *s
                    })
                    .unwrap();
            m.truncate(at);
            let chain_digest = {
                // Recompute the chain from the message as a reader would.
                use sha2::Digest as _;
                let (_, hl) = envelope::parse_whole_header(&m).unwrap();
                let mut c: [u8; 32] = sha2::Sha256::new()
                    .chain_update(envelope::SIGNATURE_LABEL)
                    .chain_update(&m[..hl])
                    .finalize()
                    .into();
                let mut rest = &m[hl..];
                while !rest.is_empty() {
                    let t = if rest[0] == 0 {
                        1 + 64 + 16
                    } else {
                        5 + usize::from(u16::from_be_bytes([rest[3], rest[4]])) + 16
                    };
                    c = sha2::Sha256::new()
                        .chain_update(c)
                        .chain_update(&rest[..t])
                        .finalize()
                        .into();
                    rest = &rest[t..];
                }
                <[u8; 32]>::from(sha2::Sha256::digest(c))
            };
            let sig = strongroom::asym::KeyCache::default()
                .sign(
                    KeySpec::EcP256,
                    &forger,
                    strongroom::SigningAlgorithm::EcdsaSha256,
                    &chain_digest,
                )
                .unwrap();
            m.extend_from_slice(&u16::try_from(sig.len()).unwrap().to_be_bytes());
            m.extend_from_slice(&sig);
            m
        };
        let negative = vec![
            json!({"name": "flipped-signature", "message": h(&flipped), "error": "InvalidCiphertext.Signature", "why": "a signature byte changed"}),
            json!({"name": "no-trailer", "message": h(&base[..body_end]), "error": "InvalidCiphertext.Truncated", "why": "the message stops after its final frame"}),
            json!({"name": "cut-trailer", "message": h(&base[..base.len() - 1]), "error": "InvalidCiphertext.Truncated", "why": "the signature is one byte short"}),
            json!({"name": "trailing-data", "message": h(&trailing), "error": "InvalidCiphertext.TrailingData", "why": "a byte after the signature"}),
            json!({"name": "signed-by-another-key", "message": h(&wrong), "error": "InvalidCiphertext.Signature", "why": "a valid signature by a key other than the header's"}),
        ];
        let v = json!({
            "format": "strongroom envelope message v1, suite 0x0002 (docs/FORMAT.md)",
            "data_key": DATA_KEY, "message_id": h(&id), "encryption_context": {"vector": "signed"},
            "signer": {"key_id": SIGNER_ID, "key_version_id": SIGNER_VER, "public_key": h(&public_key)},
            "messages": good, "negative": negative,
        });
        std::fs::write(PATH, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    assert_eq!(v["signer"]["public_key"], h(&public_key));
    for m in v["messages"].as_array().unwrap() {
        let ct = hex::decode(m["message"].as_str().unwrap()).unwrap();
        let out = envelope::open_with_data_key(&dk, &ct).unwrap();
        assert_eq!(h(&out), m["plaintext"], "{}", m["name"]);
        let (hd, _) = envelope::parse_whole_header(&ct).unwrap();
        let s = hd.signer.unwrap();
        assert_eq!(
            (s.key_id.as_str(), s.key_version_id.as_str()),
            (SIGNER_ID, SIGNER_VER)
        );
    }
    for n in v["negative"].as_array().unwrap() {
        let ct = hex::decode(n["message"].as_str().unwrap()).unwrap();
        assert_eq!(
            envelope::open_with_data_key(&dk, &ct)
                .expect_err(n["name"].as_str().unwrap())
                .code(),
            n["error"],
            "{}",
            n["why"]
        );
    }
}
