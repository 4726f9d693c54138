//! Rust benchmarks: Encrypt (64 B) and GenerateDataKey against the raw aes-gcm crate;
//! envelope bulk against `openssl speed -evp aes-256-gcm`; AsymmetricSign / Verify /
//! OAEP decrypt against `openssl speed rsa2048 / ecdsap256` (`--asymmetric-only`);
//! the file store at 100,000 keys — open time, CreateKey latency against a bare
//! write + fdatasync of the same bytes, and group commit (`--store-only`); secrets at
//! 100,000 keys and 100,000 secrets (`--secrets-only`, STRONGROOM_BENCH_SECRETS); a
//! policy check with 100 statements and Encrypt with audit all against audit off
//! (`--access-only`).
//! Prints one JSON object per comparison.
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

/// `openssl speed` for one public-key algorithm (`rsa2048`, `ecdsap256`, `ecdsak256`):
/// (sign ns, verify ns) from its summary line, median of three runs.
fn openssl_pk_ns(alg: &str) -> Option<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = (0..3)
        .filter_map(|_| {
            let out = std::process::Command::new("openssl")
                .args(["speed", "-elapsed", "-seconds", "2", alg])
                .stderr(std::process::Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            // "rsa 2048 bits 0.000321s 0.000011s   3115.2  90000.1" /
            // "256 bits ecdsa (nistp256)   0.0000s   0.0001s  45000.0  15000.0"
            let line = text.lines().rev().find(|l| {
                (l.starts_with("rsa ") || l.contains("ecdsa ("))
                    && l.trim_end().ends_with(|c: char| c.is_ascii_digit())
            })?;
            let nums: Vec<f64> = line
                .split_whitespace()
                .rev()
                .take(2)
                .filter_map(|x| x.parse().ok())
                .collect();
            let (verify_per_s, sign_per_s) = (*nums.first()?, *nums.get(1)?);
            Some((1e9 / sign_per_s, 1e9 / verify_per_s))
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.get(v.len() / 2).copied()
}

/// AsymmetricSign / AsymmetricVerify through the core (AWS-LC, parsed-key cache), and
/// OAEP decrypt, against `openssl speed` on the same algorithm.
fn asymmetric(kms: &Kms) {
    use strongroom::{
        AsymmetricDecryptRequest, AsymmetricEncryptRequest, AsymmetricSignRequest,
        AsymmetricVerifyRequest, EncryptionAlgorithm, KeySpec, KeyUsage, SigningAlgorithm,
    };
    let digest = strongroom::sha256(b"bench");
    for (spec, alg, name) in [
        (
            KeySpec::Rsa2048,
            SigningAlgorithm::RsaPkcs1Sha256,
            "rsa2048",
        ),
        (KeySpec::EcP256, SigningAlgorithm::EcdsaSha256, "ecdsap256"),
        (KeySpec::EcP256K, SigningAlgorithm::EcdsaSha256, "ecdsak256"),
    ] {
        let id = block_on(kms.create_key(CreateKeyRequest {
            key_spec: Some(spec),
            key_usage: Some(KeyUsage::SignVerify),
            ..Default::default()
        }))
        .unwrap()
        .key_id;
        let sign = || {
            block_on(kms.asymmetric_sign(AsymmetricSignRequest {
                key_id: id.clone(),
                key_version_id: None,
                algorithm: alg,
                digest: digest.clone(),
            }))
            .unwrap()
            .value
        };
        let sig = sign();
        let s = median_ns(11, 50, || {
            black_box(sign());
        });
        let v = median_ns(11, 200, || {
            black_box(
                block_on(kms.asymmetric_verify(AsymmetricVerifyRequest {
                    key_id: id.clone(),
                    key_version_id: None,
                    algorithm: alg,
                    digest: digest.clone(),
                    value: sig.clone(),
                }))
                .unwrap(),
            );
        });
        if let Some((ps, pv)) = openssl_pk_ns(name) {
            report(
                &format!("AsymmetricSign-{spec}-{alg}"),
                s,
                &format!("openssl speed {name} sign"),
                ps,
            );
            report(
                &format!("AsymmetricVerify-{spec}-{alg}"),
                v,
                &format!("openssl speed {name} verify"),
                pv,
            );
        }
    }
    // OAEP decrypt has no `openssl speed` row; its peer is the RSA-2048 private-key
    // operation `openssl speed rsa2048` times for signing (the same modular exponentiation).
    let id = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::Rsa2048),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let ct = block_on(kms.asymmetric_encrypt(AsymmetricEncryptRequest {
        key_id: id.clone(),
        key_version_id: None,
        algorithm: EncryptionAlgorithm::RsaesOaepSha256,
        plaintext: vec![7; 32],
    }))
    .unwrap()
    .ciphertext_blob;
    let d = median_ns(11, 50, || {
        black_box(
            block_on(kms.asymmetric_decrypt(AsymmetricDecryptRequest {
                key_id: id.clone(),
                key_version_id: None,
                algorithm: EncryptionAlgorithm::RsaesOaepSha256,
                ciphertext_blob: ct.clone(),
            }))
            .unwrap(),
        );
    });
    if let Some((ps, _)) = openssl_pk_ns("rsa2048") {
        report(
            "AsymmetricDecrypt-RSA_2048-OAEP",
            d,
            "openssl speed rsa2048 private-key op",
            ps,
        );
    }
}

/// Signed envelope messages (suite 0x0002) against unsigned ones, one-shot, on the same
/// instance: what one AsymmetricSign (encrypt) or one ECDSA verification and the hash
/// chain (decrypt) add per message.
fn signed(kms: &Kms, key_id: &str) {
    let signer = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(strongroom::KeySpec::EcP256),
        key_usage: Some(strongroom::KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    for (label, size) in [("1KiB", 1usize << 10), ("1MiB", 1 << 20)] {
        let req = |sign: bool| EncryptEnvelopeRequest {
            key_ids: vec![key_id.to_string()],
            plaintext: vec![0x5au8; size],
            signing_key_id: sign.then(|| signer.clone()),
            ..Default::default()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..31 {
            for (sign, out) in [(true, &mut a), (false, &mut b)] {
                let r = req(sign);
                let t = Instant::now();
                black_box(block_on(kms.encrypt_envelope(r)).unwrap());
                out.push(t.elapsed().as_nanos() as f64);
            }
        }
        a.sort_by(|x, y| x.total_cmp(y));
        b.sort_by(|x, y| x.total_cmp(y));
        report(
            &format!("EnvelopeEncrypt-{label}-signed"),
            a[15],
            "EnvelopeEncrypt unsigned",
            b[15],
        );
        let signed_ct = block_on(kms.encrypt_envelope(req(true))).unwrap();
        let plain_ct = block_on(kms.encrypt_envelope(req(false))).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..31 {
            for (ct, out) in [(&signed_ct, &mut a), (&plain_ct, &mut b)] {
                let c = ct.clone();
                let t = Instant::now();
                black_box(
                    block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
                        ciphertext: c,
                        ..Default::default()
                    }))
                    .unwrap(),
                );
                out.push(t.elapsed().as_nanos() as f64);
            }
        }
        a.sort_by(|x, y| x.total_cmp(y));
        b.sort_by(|x, y| x.total_cmp(y));
        report(
            &format!("EnvelopeDecrypt-{label}-signed"),
            a[15],
            "EnvelopeDecrypt unsigned",
            b[15],
        );
    }
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
            ..Default::default()
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
        // One-shot, allocating the whole output, against the aes-gcm crate one-shot. The
        // requests own their plaintext / ciphertext, so each call gets its own copy,
        // made before the clock starts (a caller moves its buffer in; the peer borrows).
        let mut reqs: Vec<EncryptEnvelopeRequest> = (0..=rounds).map(|_| req.clone()).collect();
        let one_enc = median_ns(rounds, 1, || {
            let r = reqs.pop().expect("one request per call");
            black_box(block_on(kms.encrypt_envelope(r)).unwrap());
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
        let mut cts: Vec<Vec<u8>> = (0..=rounds).map(|_| ct.clone()).collect();
        let one_dec = median_ns(rounds, 1, || {
            let ciphertext = cts.pop().expect("one ciphertext per call");
            black_box(
                block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
                    ciphertext,
                    encryption_context: None,
                    ..Default::default()
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The file store at scale: a 100,000-key store (built in memory, written out),
/// opened from disk; CreateKey latency on it, each acknowledged only once durable,
/// against a bare write + fdatasync of the same record size on the same disk; and
/// 4 concurrent writers against 1 (group commit).
fn store() {
    use std::io::Write as _;
    use std::sync::Arc;
    use strongroom::storage::{FileStorage, KdfParams};
    use strongroom::{KmsOptions, RootSecret};

    let n: usize = std::env::var("STRONGROOM_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // Descriptions padded to this many bytes (STRONGROOM_BENCH_RECORD_BYTES, default
    // none) stand in for larger records, e.g. secret-sized ones.
    let pad: usize = std::env::var("STRONGROOM_BENCH_RECORD_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        .min(8192);
    // Built whole, then 4,500 CreateKeys below bring it to `n` (the store's quota).
    let (m, per) = (2000, 500);
    let built = n - m - 5 * per;
    let dir = std::env::current_dir().unwrap().join("build/bench-store");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.srs");
    let root = || RootSecret::passphrase("bench passphrase");
    let t = Instant::now();
    {
        let kms = block_on(Kms::open(KmsOptions {
            env: Env::system(),
            storage: Arc::new(strongroom::storage::MemoryStorage::new()),
            root: root(),
            kdf: KdfParams::default(),
            backend: None,
        }))
        .unwrap();
        for i in 0..built {
            let mut description = format!("bench key {i} ");
            while description.len() < pad {
                description.push('x');
            }
            let k = block_on(kms.create_key(CreateKeyRequest {
                description: Some(description),
                ..CreateKeyRequest::default()
            }))
            .unwrap();
            // Every tenth key gets an alias: open checks every alias once.
            if i % 10 == 0 {
                block_on(kms.create_alias(&format!("alias/bench-{i}"), &k.key_id)).unwrap();
            }
        }
        std::fs::write(&path, block_on(kms.export_image(None)).unwrap()).unwrap();
    }
    let build_s = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path).unwrap().len();
    let open = || {
        block_on(Kms::open(KmsOptions {
            env: Env::system(),
            storage: Arc::new(FileStorage::open(&path).unwrap()),
            root: root(),
            kdf: KdfParams::default(),
            backend: None,
        }))
        .unwrap()
    };
    let opens = |what: &str, keys: usize| {
        let mut v: Vec<(f64, strongroom::storage::StoreInfo)> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let kms = open();
                let s = t.elapsed().as_secs_f64();
                (s, kms.store_info().unwrap())
            })
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        let info = v[2].1;
        println!(
            "{}",
            serde_json::json!({
                "runtime": "rust", "op": format!("store open, {what} (Argon2id default, replay)"), "keys": keys,
                "store_bytes": std::fs::metadata(&path).unwrap().len(),
                "journal_records": info.journal_records,
                "open_median_ms": (v[2].0 * 1e4).round() / 10.0, "open_max_ms": (v[4].0 * 1e4).round() / 10.0,
                "goal_ms": 1000,
            })
        );
    };
    println!(
        "{}",
        serde_json::json!({"runtime": "rust", "op": "store build (in memory, written out)", "keys": built, "store_bytes": bytes, "build_s": (build_s * 10.0).round() / 10.0})
    );
    opens("snapshot only", built);

    let kms = open();
    let record = kms.store_info().unwrap().snapshot_bytes; // for the size of one key record below
    let before = kms.store_info().unwrap().journal_bytes;
    let mut lat: Vec<f64> = (0..m)
        .map(|_| {
            let t = Instant::now();
            block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    let per_record = ((kms.store_info().unwrap().journal_bytes - before) / m as u64) as usize;
    lat.sort_by(f64::total_cmp);
    // The floor: the same bytes appended and fdatasync'd on the same file system.
    let mut f = std::fs::File::create(dir.join("peer.bin")).unwrap();
    let buf = vec![0x5a_u8; per_record];
    let mut peer: Vec<f64> = (0..m)
        .map(|_| {
            let t = Instant::now();
            f.write_all(&buf).unwrap();
            f.sync_data().unwrap();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    peer.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    let (q50, q99) = (percentile(&peer, 0.5), percentile(&peer, 0.99));
    println!(
        "{}",
        serde_json::json!({
            "runtime": "rust", "op": "CreateKey on a ~100k-key file store (durable)", "keys_before": built,
            "record_bytes": per_record, "snapshot_bytes": record,
            "strongroom_median_ns": p50.round(), "strongroom_p99_ns": p99.round(),
            "strongroom_max_ns": lat[lat.len() - 1].round(),
            "peer": "write + fdatasync of the same bytes", "peer_median_ns": q50.round(), "peer_p99_ns": q99.round(),
            "ratio_vs_peer": (q50 / p50 * 1000.0).round() / 1000.0,
            "goal_p99_ns": 2_000_000,
        })
    );

    // Group commit: 4 threads creating at once against 1.
    let kms = Arc::new(kms);
    let t = Instant::now();
    for _ in 0..per {
        block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    }
    let one = per as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let kms = kms.clone();
            std::thread::spawn(move || {
                for _ in 0..per {
                    block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let four = (4 * per) as f64 / t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "runtime": "rust", "op": "CreateKey throughput, 4 writers vs 1 (group commit)",
            "one_writer_per_s": one.round(), "four_writers_per_s": four.round(),
            "ratio": (four / one * 100.0).round() / 100.0,
        })
    );
    drop(kms);
    opens("snapshot + journal", n);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Secrets at scale: a store with STRONGROOM_BENCH_SECRETS keys and as many secrets
/// (default 100,000 each), every secret with 3 versions of 1-30 KiB (uniform), built
/// through the file store (every write durable; values in the values file) and
/// compacted; its open time; CreateSecret and PutSecretValue latency on it,
/// each durable, against a bare write + fdatasync of the same bytes; GetSecretValue
/// latency against a raw AES-256-GCM open of the same value size; and a cached get
/// through SecretCache against a bare `HashMap::get` + `Arc` clone.
fn secrets() {
    use std::collections::HashMap;
    use std::io::Write as _;
    use std::sync::Arc;
    use strongroom::storage::{FileStorage, KdfParams};
    use strongroom::{
        CreateSecretRequest, GetSecretValueRequest, KmsOptions, PutSecretValueRequest, RootSecret,
        SecretBytes, SecretCache,
    };

    let n: usize = std::env::var("STRONGROOM_BENCH_SECRETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::current_dir().unwrap().join("build/bench-secrets");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.srs");
    let root = || RootSecret::passphrase("bench passphrase");
    // A cheap deterministic size stream: 1-30 KiB.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut size = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        1024 + (x % (29 * 1024 + 1)) as usize
    };
    let t = Instant::now();
    let mut total_bytes = 0usize;
    // The CMK every secret uses (the store is at its 100,000-key quota at full scale:
    // no default secret key can be made).
    let cmk;
    {
        let kms = block_on(Kms::open(KmsOptions {
            env: Env::system(),
            storage: Arc::new(FileStorage::open(&path).unwrap()),
            root: root(),
            kdf: KdfParams::default(),
            backend: None,
        }))
        .unwrap();
        // Appends only while building: one snapshot at the end.
        kms.set_compact_min_bytes(u64::MAX);
        cmk = block_on(kms.create_key(CreateKeyRequest::default()))
            .unwrap()
            .key_id;
        for _ in 1..n {
            block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
        }
        let buf = vec![b'x'; 30 * 1024];
        for i in 0..n {
            let name = format!("bench/secret-{i:06}");
            let s = size();
            total_bytes += s;
            block_on(kms.create_secret(CreateSecretRequest {
                secret_name: name.clone(),
                version_id: "v1".into(),
                secret_data: SecretBytes::from_slice(&buf[..s]),
                encryption_key_id: Some(cmk.clone()),
                ..Default::default()
            }))
            .unwrap();
            for v in 2..=3 {
                let s = size();
                total_bytes += s;
                block_on(kms.put_secret_value(PutSecretValueRequest {
                    secret_name: name.clone(),
                    version_id: format!("v{v}"),
                    secret_data: SecretBytes::from_slice(&buf[..s]),
                    ..Default::default()
                }))
                .unwrap();
            }
        }
        block_on(kms.compact_store()).unwrap();
        block_on(kms.close()).unwrap();
    }
    let build_s = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path).unwrap().len();
    let values_bytes = std::fs::metadata(dir.join("store.srs.values"))
        .unwrap()
        .len();
    println!(
        "{}",
        serde_json::json!({"runtime": "rust", "op": "secrets store build (file store, each write durable, then compacted)", "keys": n, "secrets": n,
            "versions": 3 * n, "value_bytes": total_bytes, "store_bytes": bytes, "values_file_bytes": values_bytes, "build_s": (build_s * 10.0).round() / 10.0})
    );
    let open = || {
        block_on(Kms::open(KmsOptions {
            env: Env::system(),
            storage: Arc::new(FileStorage::open(&path).unwrap()),
            root: root(),
            kdf: KdfParams::default(),
            backend: None,
        }))
        .unwrap()
    };
    let mut opens: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            drop(black_box(open()));
            t.elapsed().as_secs_f64()
        })
        .collect();
    opens.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({"runtime": "rust", "op": "secrets store open (Argon2id default, snapshot)", "keys": n, "secrets": n,
            "store_bytes": bytes, "values_file_bytes": values_bytes, "open_median_ms": (opens[1] * 1e4).round() / 10.0, "open_max_ms": (opens[2] * 1e4).round() / 10.0, "goal_ms": 1000})
    );

    let kms = open();
    let m = 1000;
    let value = vec![b'v'; 4096];
    // The store is at the 100,000-secret quota at full scale: the first m secrets go
    // (deleted without recovery) to make room for the m created below.
    for i in 0..m.min(n) {
        block_on(kms.delete_secret(strongroom::DeleteSecretRequest {
            secret_name: format!("bench/secret-{i:06}"),
            force_delete_without_recovery: true,
            ..Default::default()
        }))
        .unwrap();
    }
    let before = kms.store_info().unwrap().journal_bytes;
    let mut create: Vec<f64> = (0..m)
        .map(|i| {
            let t = Instant::now();
            block_on(kms.create_secret(CreateSecretRequest {
                secret_name: format!("bench/new-{i}"),
                version_id: "v1".into(),
                secret_data: SecretBytes::from_slice(&value),
                encryption_key_id: Some(cmk.clone()),
                ..Default::default()
            }))
            .unwrap();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    let per_record = ((kms.store_info().unwrap().journal_bytes - before) / m as u64) as usize;
    let mut put: Vec<f64> = (0..m)
        .map(|i| {
            let t = Instant::now();
            block_on(kms.put_secret_value(PutSecretValueRequest {
                secret_name: format!("bench/new-{i}"),
                version_id: "v2".into(),
                secret_data: SecretBytes::from_slice(&value),
                ..Default::default()
            }))
            .unwrap();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    create.sort_by(f64::total_cmp);
    put.sort_by(f64::total_cmp);
    // The peer does the same two durable writes a secret version costs: the sealed
    // value to one file, then the record naming it to another.
    let mut f = std::fs::File::create(dir.join("peer.bin")).unwrap();
    let mut fv = std::fs::File::create(dir.join("peer-values.bin")).unwrap();
    let pbuf = vec![0x5a_u8; per_record];
    let vbuf = vec![0x5a_u8; value.len() + 16];
    let mut peer: Vec<f64> = (0..m)
        .map(|_| {
            let t = Instant::now();
            fv.write_all(&vbuf).unwrap();
            fv.sync_data().unwrap();
            f.write_all(&pbuf).unwrap();
            f.sync_data().unwrap();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    peer.sort_by(f64::total_cmp);
    for (op, lat) in [("CreateSecret", &create), ("PutSecretValue", &put)] {
        let (p50, p99) = (percentile(lat, 0.5), percentile(lat, 0.99));
        println!(
            "{}",
            serde_json::json!({"runtime": "rust", "op": format!("{op} (4 KiB, durable) on the secrets store"), "record_bytes": per_record,
                "strongroom_median_ns": p50.round(), "strongroom_p99_ns": p99.round(),
                "peer": "write + fdatasync of the sealed value, then of the record, to two files", "peer_median_ns": percentile(&peer, 0.5).round(), "peer_p99_ns": percentile(&peer, 0.99).round(),
                "ratio_vs_peer": (percentile(&peer, 0.5) / p50 * 1000.0).round() / 1000.0, "goal_p99_ns": 2_000_000})
        );
    }
    // GetSecretValue on random secrets of the big store: twice over the same 20,000
    // picks — the first read of each value since it was written (from the values file:
    // on this VM a page first read after its write costs a miss), then the same reads
    // again (page cache warm, the steady state of a service reading its secrets).
    let picks: Vec<String> = {
        let mut y: u64 = 88_172_645_463_325_252;
        (0..20_000)
            .map(|_| {
                y ^= y << 13;
                y ^= y >> 7;
                y ^= y << 17;
                format!(
                    "bench/secret-{:06}",
                    m + (y % (n - m.min(n - 1)) as u64) as usize
                )
            })
            .collect()
    };
    let mut sizes = 0usize;
    let mut pass = || -> Vec<f64> {
        let mut get: Vec<f64> = Vec::with_capacity(picks.len());
        sizes = 0;
        for name in &picks {
            let t = Instant::now();
            let v = block_on(kms.get_secret_value(GetSecretValueRequest {
                secret_name: name.clone(),
                ..Default::default()
            }))
            .unwrap();
            get.push(t.elapsed().as_nanos() as f64);
            sizes += v.secret_data.len();
        }
        get.sort_by(f64::total_cmp);
        get
    };
    let cold = pass();
    let warm = pass();
    let avg = sizes / warm.len();
    let raw = Aes256Gcm::new_from_slice(&[9u8; 32]).unwrap();
    let sealed = raw
        .encrypt(&Nonce::from([1u8; 12]), vec![7u8; avg].as_slice())
        .unwrap();
    let peer_open = median_ns(11, 200, || {
        black_box(
            raw.decrypt(&Nonce::from([1u8; 12]), sealed.as_slice())
                .unwrap(),
        );
    });
    for (what, get) in [
        ("first read of each value since it was written", &cold),
        ("values read before: page cache warm", &warm),
    ] {
        println!(
            "{}",
            serde_json::json!({"runtime": "rust", "op": format!("GetSecretValue (random secret of the big store, in-process; {what})"), "secrets": n,
                "avg_value_bytes": avg, "strongroom_median_ns": percentile(get, 0.5).round(), "strongroom_p99_ns": percentile(get, 0.99).round(),
                "peer": "aes-gcm crate open of the same size", "peer_median_ns": peer_open.round(),
                "ratio_vs_peer": (peer_open / percentile(get, 0.5) * 1000.0).round() / 1000.0, "goal_p99_ns": 50_000})
        );
    }
    // A cached get through SecretCache against a bare map lookup.
    let cache = SecretCache::new(&kms).refresh_interval_ms(3_600_000);
    let names: Vec<String> = (m..m + 1000)
        .map(|i| format!("bench/secret-{:06}", i % n))
        .collect();
    for nm in &names {
        block_on(cache.get(nm)).unwrap();
    }
    let mut map: HashMap<String, Arc<Vec<u8>>> = HashMap::new();
    for nm in &names {
        map.insert(nm.clone(), Arc::new(vec![0u8; 16]));
    }
    let mut i = 0usize;
    let ours = median_ns(21, 100_000, || {
        i = (i + 1) % names.len();
        black_box(block_on(cache.get(&names[i])).unwrap());
    });
    let mut j = 0usize;
    let peer = median_ns(21, 100_000, || {
        j = (j + 1) % names.len();
        black_box(map.get(&names[j]).cloned());
    });
    println!(
        "{}",
        serde_json::json!({"runtime": "rust", "op": "SecretCache cached get", "strongroom_median_ns": (ours * 10.0).round() / 10.0,
            "per_s": (1e9 / ours).round(), "peer": "HashMap::get + Arc clone", "peer_median_ns": (peer * 10.0).round() / 10.0,
            "ratio_vs_peer": (peer / ours * 1000.0).round() / 1000.0, "goal_per_s": 1_000_000})
    );
    drop(cache);
    drop(kms);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Access and audit: one policy check against a 100-statement policy (compiled), with
/// a goal of 2 µs; Encrypt 64 B as a RAM user whose policy has 100 statements against
/// the owner with no principals; Encrypt 64 B with the audit level at all (to a file
/// trail, as the CLI and Python keep it) against the same call with audit off
/// (goal ≤ 1.3×).
fn access() {
    use strongroom::access::{PolicyKind, policy};
    let stmts: Vec<String> = (0..99)
        .map(|i| {
            format!(
                r#"{{"Effect":"Allow","Action":["kms:Describe*","kms:List*","kms:Get*"],"Resource":"acs:kms:*:*:key/k-{i}-*","Condition":{{"StringEquals":{{"kms:tag/team":"t{i}"}}}}}}"#
            )
        })
        .chain(std::iter::once(
            r#"{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}"#.to_string(),
        ))
        .collect();
    let doc = format!(r#"{{"Version":"1","Statement":[{}]}}"#, stmts.join(","));
    let compiled = strongroom::access::compile(&doc, PolicyKind::Identity).unwrap();
    let tags = std::collections::BTreeMap::from([("team".to_string(), "pay".to_string())]);
    let cx = policy::RequestContext {
        source_ip: Some("10.1.2.3".parse().unwrap()),
        now_ms: 1_795_392_000_000,
        secure_transport: true,
        tags: Some(&tags),
        ..Default::default()
    };
    let q = policy::Question {
        principal: policy::PrincipalView {
            arn: "acs:ram::1234567890123456:user/app",
            role_arn: None,
        },
        action: "kms:Encrypt",
        action_index: strongroom::api::Action::ALL
            .iter()
            .position(|a| *a == strongroom::api::Action::Encrypt),
        resource: "acs:kms:strongroom:1234567890123456:key/0b6c0d39-9f43-4bb0-a66b-4d1f2b6f1f0e",
        context: &cx,
    };
    let check = median_ns(31, 20_000, || {
        black_box(compiled.evaluate(black_box(&q)));
    });
    println!(
        "{}",
        serde_json::json!({"runtime": "rust", "op": "policy-check-100-statements",
            "strongroom_median_ns": check.round(), "goal_ns": 2000, "within_goal": check <= 2000.0})
    );

    let ctx = EncryptionContext::from_pairs([("app", "bench")]).unwrap();
    let enc = |kms: &Kms, key: &str| {
        black_box(
            block_on(kms.encrypt(EncryptRequest {
                key_id: key.to_string(),
                plaintext: vec![7u8; 64],
                encryption_context: ctx.clone(),
            }))
            .unwrap(),
        );
    };
    // A RAM user with the 100-statement policy against the owner of a store without
    // principals (no policy evaluated at all).
    let plain = block_on(Kms::memory(Env::system(), None)).unwrap();
    let plain_key = block_on(plain.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let kms = block_on(Kms::memory(Env::system(), None)).unwrap();
    let key = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let owner = strongroom::api::Caller::owner();
    let wire = |a: &str, v: serde_json::Value| {
        let serde_json::Value::Object(m) = v else {
            unreachable!()
        };
        block_on(kms.call_wire(&owner, a.parse().unwrap(), &m)).unwrap()
    };
    let user = wire("CreateUser", serde_json::json!({"UserName": "app"}));
    wire(
        "CreatePolicy",
        serde_json::json!({"PolicyName": "big", "PolicyDocument": doc}),
    );
    wire(
        "AttachPolicyToUser",
        serde_json::json!({"PolicyType": "Custom", "PolicyName": "big", "UserName": "app"}),
    );
    kms.act_as(
        strongroom::api::Caller::new(user["User"]["Arn"].as_str().unwrap()).with_origin(
            Some("10.1.2.3".parse().unwrap()),
            true,
            None,
        ),
    )
    .unwrap();
    let ours = median_ns(31, 2000, || enc(&kms, &key));
    let peer = median_ns(31, 2000, || enc(&plain, &plain_key));
    println!(
        "{}",
        serde_json::json!({"runtime": "rust", "op": "Encrypt-64B-as-ram-user-100-statements",
            "strongroom_median_ns": ours.round(), "peer": "Encrypt-64B as the owner, no principals",
            "peer_median_ns": peer.round(), "cost_ratio": (ours / peer * 1000.0).round() / 1000.0})
    );

    // Audit all (a file trail) against audit off, same instance kind.
    let dir = std::env::temp_dir().join(format!("sr-bench-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audited = block_on(Kms::memory(Env::system(), None)).unwrap();
    let akey = block_on(audited.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let sink = strongroom::storage::FileAuditSink::open(dir.join("trail.audit")).unwrap();
    audited
        .attach_audit(
            std::sync::Arc::new(sink),
            strongroom::audit::AuditOptions::default(),
        )
        .unwrap();
    audited.set_default_audit_level(strongroom::access::AuditLevel::All);
    // Alternating blocks, so both see the same drift.
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..31 {
        for (k, key, out) in [(&audited, &akey, &mut a), (&plain, &plain_key, &mut b)] {
            let t = Instant::now();
            for _ in 0..2000 {
                enc(k, key);
            }
            out.push(t.elapsed().as_nanos() as f64 / 2000.0);
        }
    }
    a.sort_by(|x, y| x.total_cmp(y));
    b.sort_by(|x, y| x.total_cmp(y));
    let (ours, peer) = (a[a.len() / 2], b[b.len() / 2]);
    println!(
        "{}",
        serde_json::json!({"runtime": "rust", "op": "Encrypt-64B-audit-all",
            "strongroom_median_ns": ours.round(), "peer": "Encrypt-64B audit off",
            "peer_median_ns": peer.round(), "cost_ratio": (ours / peer * 1000.0).round() / 1000.0,
            "goal_cost_ratio": 1.3})
    );
    block_on(audited.close()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    if std::env::args().any(|a| a == "--access-only") {
        access();
        return;
    }
    if std::env::args().any(|a| a == "--secrets-only") {
        secrets();
        return;
    }
    let kms = block_on(Kms::memory(Env::system(), None)).unwrap();
    let key = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    if std::env::args().any(|a| a == "--signed-only") {
        signed(&kms, &key.key_id);
        return;
    }
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
        signed(&kms, &key.key_id);
        return;
    }
    if std::env::args().any(|a| a == "--asymmetric-only") {
        asymmetric(&kms);
        return;
    }
    if std::env::args().any(|a| a == "--store-only") {
        store();
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
    signed(&kms, &key.key_id);
    asymmetric(&kms);
    store();
    secrets();
    access();
}
