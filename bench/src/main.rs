//! Rust side of the first benchmark: Encrypt (64 B) and GenerateDataKey through the
//! strongroom core, against the raw aes-gcm crate doing the equivalent AES-256-GCM
//! work in the same run. Prints one JSON object per comparison.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use pollster::block_on;
use strongroom::{
    CreateKeyRequest, DecryptEnvelopeRequest, EncryptEnvelopeRequest, EncryptRequest,
    EncryptionContext, Env, GenerateDataKeyRequest, Kms,
};

/// `openssl speed -evp aes-256-gcm` on `bytes`-sized buffers: median ns per buffer
/// over three runs, or None when openssl is missing.
fn openssl_ns(bytes: usize) -> Option<f64> {
    let mut v: Vec<f64> = (0..3)
        .filter_map(|_| {
            let out = std::process::Command::new("openssl")
                .args(["speed", "-elapsed", "-seconds", "2", "-bytes"])
                .arg(bytes.to_string())
                .args(["-evp", "aes-256-gcm"])
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().rev().find(|l| l.starts_with("AES-256-GCM"))?;
            let kbps: f64 = line
                .split_whitespace()
                .last()?
                .trim_end_matches('k')
                .parse()
                .ok()?;
            Some(bytes as f64 / (kbps * 1000.0) * 1e9)
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied()
}

fn bulk(kms: &Kms, key_id: &str) {
    let ctx = EncryptionContext::from_pairs([("bench", "bulk")]).unwrap();
    for (label, size, rounds) in [("1MiB", 1usize << 20, 31), ("64MiB", 64 << 20, 5)] {
        let pt = vec![0x5au8; size];
        let req = EncryptEnvelopeRequest {
            key_ids: vec![key_id.to_string()],
            plaintext: pt.clone(),
            encryption_context: ctx.clone(),
            frame_length: None,
        };
        let ct = block_on(kms.encrypt_envelope(req.clone())).unwrap();
        // Streaming, as files and pipes go: 1 MiB chunks in, output buffer reused
        // (what `openssl speed` measures too: no allocation per operation).
        let mut out = Vec::with_capacity(2 << 20);
        let enc = median_ns(rounds, 1, || {
            let mut e = block_on(kms.envelope_encryptor(&req, None)).unwrap();
            for chunk in pt.chunks(1 << 20) {
                e.update(chunk, &mut out).unwrap();
                black_box(&out);
                out.clear();
            }
            e.finish(&mut out).unwrap();
            out.clear();
        });
        let (header, hlen) = strongroom::envelope::parse_header(&ct).unwrap().unwrap();
        let dec = median_ns(rounds, 1, || {
            let (mut d, _) = block_on(kms.open_envelope(&header, Some(&ctx))).unwrap();
            for chunk in ct[hlen..].chunks(1 << 20) {
                d.update(chunk, &mut out).unwrap();
                black_box(&out);
                out.clear();
            }
            d.finish().unwrap();
        });
        if let Some(peer) = openssl_ns(size) {
            report(
                &format!("EnvelopeEncryptStream-{label}"),
                enc,
                "openssl speed -evp aes-256-gcm",
                peer,
            );
            report(
                &format!("EnvelopeDecryptStream-{label}"),
                dec,
                "openssl speed -evp aes-256-gcm",
                peer,
            );
        }
        // One-shot, allocating the whole output, against the aes-gcm crate one-shot.
        let one_enc = median_ns(rounds, 1, || {
            black_box(block_on(kms.encrypt_envelope(req.clone())).unwrap());
        });
        let raw = Aes256Gcm::new_from_slice(&[9u8; 32]).unwrap();
        let crate_ns = median_ns(rounds, 1, || {
            black_box(raw.encrypt(&Nonce::from([1u8; 12]), pt.as_slice()).unwrap());
        });
        report(
            &format!("EnvelopeEncrypt-{label}"),
            one_enc,
            "aes-gcm crate one-shot (RustCrypto)",
            crate_ns,
        );
        let one_dec = median_ns(rounds, 1, || {
            black_box(
                block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
                    ciphertext: ct.clone(),
                    encryption_context: None,
                }))
                .unwrap(),
            );
        });
        let sealed = raw.encrypt(&Nonce::from([1u8; 12]), pt.as_slice()).unwrap();
        let crate_dec = median_ns(rounds, 1, || {
            black_box(
                raw.decrypt(&Nonce::from([1u8; 12]), sealed.as_slice())
                    .unwrap(),
            );
        });
        report(
            &format!("EnvelopeDecrypt-{label}"),
            one_dec,
            "aes-gcm crate one-shot (RustCrypto)",
            crate_dec,
        );
    }
}

/// Median nanoseconds per operation over `rounds` batches of `batch` operations.
fn median_ns(rounds: usize, batch: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..batch {
        f();
    }
    let mut v: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            t.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn report(op: &str, ours: f64, peer_name: &str, peer: f64) {
    println!(
        "{}",
        serde_json::json!({
            "runtime": "rust", "op": op,
            "strongroom_median_ns": ours.round(), "peer": peer_name, "peer_median_ns": peer.round(),
            "ratio_vs_peer": (peer / ours * 1000.0).round() / 1000.0,
        })
    );
}

fn main() {
    let kms = block_on(Kms::memory(Env::system(), None)).unwrap();
    let key = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let ctx = EncryptionContext::from_pairs([("app", "bench")]).unwrap();
    let pt = [7u8; 64];
    let raw = Aes256Gcm::new_from_slice(&[9u8; 32]).unwrap();
    let aad = ctx.aad();
    let raw_op = |n: usize| {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).unwrap();
        black_box(
            raw.encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &pt[..n],
                    aad: &aad,
                },
            )
            .unwrap(),
        );
    };
    let (rounds, batch) = (31, 2000);
    if std::env::args().any(|a| a == "--bulk-only") {
        bulk(&kms, &key.key_id);
        return;
    }

    let ours = median_ns(rounds, batch, || {
        black_box(
            block_on(kms.encrypt(EncryptRequest {
                key_id: key.key_id.clone(),
                plaintext: pt.to_vec(),
                encryption_context: ctx.clone(),
            }))
            .unwrap(),
        );
    });
    let peer = median_ns(rounds, batch, || raw_op(64));
    report(
        "Encrypt-64B",
        ours,
        "aes-gcm crate AES-256-GCM (64 B)",
        peer,
    );

    let ours = median_ns(rounds, batch, || {
        black_box(
            block_on(kms.generate_data_key(GenerateDataKeyRequest {
                key_id: key.key_id.clone(),
                encryption_context: ctx.clone(),
                ..Default::default()
            }))
            .unwrap(),
        );
    });
    let peer = median_ns(rounds, batch, || {
        let mut dk = [0u8; 32];
        getrandom::fill(&mut dk).unwrap();
        raw_op(32);
    });
    report(
        "GenerateDataKey",
        ours,
        "getrandom 32 B + aes-gcm crate wrap",
        peer,
    );
    bulk(&kms, &key.key_id);
}
