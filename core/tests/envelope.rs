#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Envelope messages through the KMS: round trips at frame boundaries, streaming in
//! odd chunk sizes, multi-recipient, every distinct failure, every single-bit flip,
//! the data-key cache, and the std::io adapters.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Backend, memory};
use pollster::block_on;
use strongroom::envelope::{
    self, DEFAULT_FRAME_LENGTH, HeaderParser, MAX_RECIPIENTS, ONE_SHOT_FRAME_LENGTH,
};
use strongroom::{
    BoxFuture, CreateKeyRequest, DataKeyCacheConfig, DecryptEnvelopeRequest,
    EncryptEnvelopeRequest, EncryptionContext, Error, KeyBackend, KeyHandle, Kms,
};

fn key(kms: &Kms) -> String {
    block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    EncryptionContext::from_pairs(pairs.iter().map(|(k, v)| (*k, *v))).unwrap()
}

fn enc(kms: &Kms, keys: &[&str], pt: &[u8], c: &EncryptionContext, frame: Option<u32>) -> Vec<u8> {
    block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: keys.iter().map(|s| s.to_string()).collect(),
        plaintext: pt.to_vec(),
        encryption_context: c.clone(),
        frame_length: frame,
        ..Default::default()
    }))
    .unwrap()
}

fn dec(kms: &Kms, ct: &[u8], c: Option<&EncryptionContext>) -> strongroom::Result<Vec<u8>> {
    block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: ct.to_vec(),
        encryption_context: c.cloned(),
        ..Default::default()
    }))
    .map(|r| r.plaintext)
}

fn code<T: std::fmt::Debug>(r: strongroom::Result<T>) -> &'static str {
    r.unwrap_err().code()
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

#[test]
fn round_trips_at_frame_boundaries_on_both_backends() {
    for b in [Backend::Software, Backend::Loopback] {
        let (kms, _) = memory(b);
        let k = key(&kms);
        let c = ctx(&[("file", "report.pdf")]);
        for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 48, 64, 65, 1000] {
            let pt = pattern(n);
            let ct = enc(&kms, &[&k], &pt, &c, Some(16));
            assert_eq!(dec(&kms, &ct, Some(&c)).unwrap(), pt, "{b:?} n={n}");
            // Without an expected context the header's is accepted and returned.
            let r = block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
                ciphertext: ct,
                encryption_context: None,
                ..Default::default()
            }))
            .unwrap();
            assert_eq!(r.info.encryption_context, c);
            assert_eq!(r.info.key_id, k);
        }
    }
}

#[test]
fn default_frame_and_large_message() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let pt = pattern(3 * ONE_SHOT_FRAME_LENGTH as usize + 123);
    // One-shot messages default to 1 MiB frames …
    let ct = enc(&kms, &[&k], &pt, &EncryptionContext::new(), None);
    let (h, _) = envelope::parse_header(&ct).unwrap().unwrap();
    assert_eq!(h.frame_length, ONE_SHOT_FRAME_LENGTH);
    assert_eq!(dec(&kms, &ct, None).unwrap(), pt);
    // … streams (length unknown) to 256 KiB, so they hold less.
    let req = EncryptEnvelopeRequest {
        key_ids: vec![k.clone()],
        ..Default::default()
    };
    let mut streamed = Vec::new();
    block_on(kms.encrypt_stream(&req, &mut std::io::Cursor::new(&pt), &mut streamed)).unwrap();
    let (h, _) = envelope::parse_header(&streamed).unwrap().unwrap();
    assert_eq!(h.frame_length, DEFAULT_FRAME_LENGTH);
    assert_eq!(dec(&kms, &streamed, None).unwrap(), pt);
}

#[test]
fn streaming_in_odd_chunks_matches_one_shot() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = ctx(&[("a", "b")]);
    let pt = pattern(1000);
    let req = EncryptEnvelopeRequest {
        key_ids: vec![k.clone()],
        encryption_context: c.clone(),
        frame_length: Some(64),
        ..Default::default()
    };
    for chunk in [1usize, 7, 63, 64, 65, 999] {
        let mut e = block_on(kms.envelope_encryptor(&req, None)).unwrap();
        let mut ct = Vec::new();
        for part in pt.chunks(chunk) {
            e.update(part, &mut ct).unwrap();
        }
        e.finish(&mut ct).unwrap();
        // The one-shot reader (Decryptor::open_into) agrees with the streaming writer.
        assert_eq!(dec(&kms, &ct, Some(&c)).unwrap(), pt, "chunk {chunk}");
        // Decrypt feeding the same odd chunks, header included.
        let mut parser = HeaderParser::new();
        let mut rest = &ct[..];
        let (header, used) = loop {
            let take = chunk.min(rest.len());
            let (now, later) = rest.split_at(take);
            if let Some((h, used)) = parser.feed(now).unwrap() {
                rest = &now[used..];
                let body_rest = later;
                let mut body = rest.to_vec();
                body.extend_from_slice(body_rest);
                break (h, body);
            }
            rest = later;
        };
        let (mut d, _) = block_on(kms.open_envelope(&header, Some(&c))).unwrap();
        let mut out = Vec::new();
        let mut max_step = 0;
        for part in used.chunks(chunk) {
            let before = out.len();
            d.update(part, &mut out).unwrap();
            max_step = max_step.max(out.len() - before);
        }
        d.finish().unwrap();
        assert_eq!(out, pt, "chunk {chunk}");
        // Bounded: one call never releases more than the input could complete.
        assert!(
            max_step <= 64 * (chunk / 64 + 2),
            "chunk {chunk}: {max_step}"
        );
    }
}

#[test]
fn multi_recipient_any_one_decrypts() {
    let (kms, _) = memory(Backend::Software);
    let (other, _) = memory(Backend::Loopback);
    let a = key(&kms);
    let b = key(&kms);
    block_on(kms.create_alias("alias/b", &b)).unwrap();
    let c = ctx(&[("tenant", "42")]);
    let ct = enc(&kms, &[&a, "alias/b"], b"for two keys", &c, None);
    let (h, _) = envelope::parse_header(&ct).unwrap().unwrap();
    assert_eq!(h.stanzas.len(), 2);
    assert_eq!(h.stanzas[1].key().unwrap().0, b);
    // Disable the first: the second opens it.
    block_on(kms.disable_key(&a)).unwrap();
    let r = block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: ct.clone(),
        encryption_context: Some(c.clone()),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(r.plaintext, b"for two keys");
    assert_eq!(r.info.key_id, b);
    // Both disabled: the error of our own key, not "no recipient".
    block_on(kms.disable_key(&b)).unwrap();
    assert_eq!(code(dec(&kms, &ct, Some(&c))), "Forbidden.KeyDisabled");
    // A store holding neither key.
    assert_eq!(code(dec(&other, &ct, Some(&c))), "Forbidden.NoRecipientKey");
}

#[test]
fn bad_requests_have_their_own_codes() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = EncryptionContext::new();
    let req = |keys: Vec<String>, frame: Option<u32>| EncryptEnvelopeRequest {
        key_ids: keys,
        plaintext: b"x".to_vec(),
        encryption_context: c.clone(),
        frame_length: frame,
        ..Default::default()
    };
    let e = |r| block_on(kms.encrypt_envelope(r)).unwrap_err().code();
    assert_eq!(e(req(vec![], None)), "InvalidParameter.KeyIds");
    assert_eq!(e(req(vec![k.clone(); 2], None)), "InvalidParameter.KeyIds");
    let many: Vec<String> = (0..=MAX_RECIPIENTS).map(|_| key(&kms)).collect();
    assert_eq!(e(req(many, None)), "InvalidParameter.KeyIds");
    assert_eq!(
        e(req(vec![k.clone()], Some(0))),
        "InvalidParameter.FrameLength"
    );
    assert_eq!(
        e(req(vec![k.clone()], Some((1 << 24) + 1))),
        "InvalidParameter.FrameLength"
    );
    assert_eq!(e(req(vec!["nope".into()], None)), "Forbidden.KeyNotFound");
    block_on(kms.disable_key(&k)).unwrap();
    assert_eq!(e(req(vec![k.clone()], None)), "Forbidden.KeyDisabled");
    // Not an envelope at all, and empty input.
    assert_eq!(
        code(dec(&kms, b"hello world, not an envelope", None)),
        "InvalidCiphertext.NotAnEnvelope"
    );
    assert_eq!(
        code(dec(&kms, b"", None)),
        "InvalidCiphertext.NotAnEnvelope"
    );
    assert_eq!(code(dec(&kms, b"SRE", None)), "InvalidCiphertext.Truncated");
}

#[test]
fn every_failure_is_distinct() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = ctx(&[("purpose", "test")]);
    let pt = pattern(100);
    let ct = enc(&kms, &[&k], &pt, &c, Some(32));
    let (h, hlen) = envelope::parse_header(&ct).unwrap().unwrap();
    let body = &ct[hlen..];
    // Frames: 3 regular (1+32+16 = 49 bytes), final with 4 bytes (1+4+4+16 = 25).
    assert_eq!(body.len(), 3 * 49 + 25);
    let with_body = |b: &[u8]| [&ct[..hlen], b].concat();

    assert_eq!(
        code(dec(&kms, &ct, Some(&ctx(&[("purpose", "other")])))),
        "InvalidCiphertext.ContextMismatch"
    );
    // Truncation: final frame gone; cut inside a frame; header cut.
    assert_eq!(
        code(dec(&kms, &with_body(&body[..3 * 49]), Some(&c))),
        "InvalidCiphertext.Truncated"
    );
    assert_eq!(
        code(dec(&kms, &with_body(&body[..100]), Some(&c))),
        "InvalidCiphertext.Truncated"
    );
    assert_eq!(
        code(dec(&kms, &ct[..hlen - 1], Some(&c))),
        "InvalidCiphertext.Truncated"
    );
    // Reordering and dropping: frame authentication, naming the frame.
    let swapped = [&body[49..98], &body[..49], &body[98..]].concat();
    let r = dec(&kms, &with_body(&swapped), Some(&c));
    assert_eq!(
        r.unwrap_err(),
        Error::Envelope(strongroom::EnvelopeFailure::FrameAuthentication(1))
    );
    let dropped = [&body[..49], &body[98..]].concat();
    let r = dec(&kms, &with_body(&dropped), Some(&c));
    assert_eq!(
        r.unwrap_err(),
        Error::Envelope(strongroom::EnvelopeFailure::FrameAuthentication(2))
    );
    // Trailing bytes after the final frame.
    assert_eq!(
        code(dec(&kms, &[&ct[..], b"x"].concat(), Some(&c))),
        "InvalidCiphertext.TrailingData"
    );
    // A message whose header commits to another data key: re-header with the same
    // stanza but a fresh commitment for a different key.
    let forged =
        envelope::seal_with_data_key(&[9u8; 32], &h.message_id, &h.stanzas, &c, 32, &pt).unwrap();
    assert_eq!(
        code(dec(&kms, &forged, Some(&c))),
        "InvalidCiphertext.KeyCommitment"
    );
    // Header tag altered.
    let mut t = ct.clone();
    t[hlen - 1] ^= 1;
    assert_eq!(
        code(dec(&kms, &t, Some(&c))),
        "InvalidCiphertext.HeaderAuthentication"
    );
    // Version and suite.
    let mut t = ct.clone();
    t[4] = 2;
    assert_eq!(
        code(dec(&kms, &t, Some(&c))),
        "InvalidCiphertext.EnvelopeVersion"
    );
    let mut t = ct.clone();
    t[6] = 3; // (2 is the signed suite)
    assert_eq!(
        code(dec(&kms, &t, Some(&c))),
        "InvalidCiphertext.EnvelopeSuite"
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = ctx(&[("k", "v")]);
    let ct = enc(&kms, &[&k], b"small message, two frames", &c, Some(16));
    let mut codes = std::collections::BTreeSet::new();
    for i in 0..ct.len() * 8 {
        let mut t = ct.clone();
        t[i / 8] ^= 1 << (i % 8);
        for expected in [Some(&c), None] {
            match dec(&kms, &t, expected) {
                Ok(p) => panic!("bit {i} accepted: {p:?}"),
                Err(e) => {
                    // #15 item 14: every tampered byte, header included, lands in the
                    // InvalidCiphertext family (JS / Python InvalidCiphertextError),
                    // whatever its code — Forbidden.NoRecipientKey when a stanza's
                    // KeyId is altered.
                    assert_eq!(e.kind(), "InvalidCiphertext", "bit {i}: {} {e}", e.code());
                    codes.insert(e.code());
                }
            }
        }
    }
    // Flips land in every part: magic, version, context, stanza, commitment, frames.
    for c in [
        "InvalidCiphertext.NotAnEnvelope",
        "InvalidCiphertext.EnvelopeVersion",
        "InvalidCiphertext.KeyCommitment",
        "InvalidCiphertext.HeaderAuthentication",
        "InvalidCiphertext.FrameAuthentication",
    ] {
        assert!(codes.contains(c), "{c} not seen in {codes:?}");
    }
}

#[test]
fn unknown_stanzas_are_skipped() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = EncryptionContext::new();
    let ct = enc(&kms, &[&k], b"grease", &c, None);
    let (h, hlen) = envelope::parse_header(&ct).unwrap().unwrap();
    // Rebuild the message with an unknown stanza first, using the real data key.
    let dk = block_on(kms.decrypt(strongroom::DecryptRequest {
        ciphertext_blob: h.stanzas[0].body.clone(),
        encryption_context: c.clone(),
    }))
    .unwrap()
    .plaintext;
    let mut stanzas = vec![envelope::Stanza {
        kind: 0x7f,
        body: b"some future recipient".to_vec(),
    }];
    stanzas.extend(h.stanzas.clone());
    let greased = envelope::seal_with_data_key(
        dk.expose(),
        &h.message_id,
        &stanzas,
        &c,
        h.frame_length,
        b"grease",
    )
    .unwrap();
    assert_ne!(greased[..hlen], ct[..hlen]);
    assert_eq!(dec(&kms, &greased, Some(&c)).unwrap(), b"grease");
    // Seventeen stanzas are refused before any key is used.
    let many = vec![
        envelope::Stanza {
            kind: 0x7f,
            body: vec![]
        };
        MAX_RECIPIENTS + 1
    ];
    let m = envelope::seal_with_data_key(dk.expose(), &h.message_id, &many, &c, 16, b"x").unwrap();
    assert_eq!(
        code(dec(&kms, &m, None)),
        "InvalidCiphertext.TooManyRecipients"
    );
    // Only unknown stanzas: nothing of ours.
    let none =
        envelope::seal_with_data_key(dk.expose(), &h.message_id, &many[..2], &c, 16, b"x").unwrap();
    assert_eq!(code(dec(&kms, &none, None)), "Forbidden.NoRecipientKey");
}

#[test]
fn decrypt_works_across_rotation() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = EncryptionContext::new();
    let ct = enc(&kms, &[&k], b"before rotation", &c, None);
    block_on(kms.create_key_version(&k)).unwrap();
    let ct2 = enc(&kms, &[&k], b"after rotation", &c, None);
    let v1 = envelope::parse_header(&ct).unwrap().unwrap().0.stanzas[0]
        .key()
        .unwrap()
        .1;
    let v2 = envelope::parse_header(&ct2).unwrap().unwrap().0.stanzas[0]
        .key()
        .unwrap()
        .1;
    assert_ne!(v1, v2);
    assert_eq!(dec(&kms, &ct, None).unwrap(), b"before rotation");
    assert_eq!(dec(&kms, &ct2, None).unwrap(), b"after rotation");
}

/// A backend that counts calls, to see the cache at work.
struct Counting {
    inner: Arc<dyn KeyBackend>,
    encrypts: AtomicUsize,
    decrypts: AtomicUsize,
}

impl KeyBackend for Counting {
    fn protection_level(&self) -> strongroom::ProtectionLevel {
        self.inner.protection_level()
    }
    fn generate(&self, spec: strongroom::KeySpec) -> BoxFuture<'_, strongroom::Result<KeyHandle>> {
        self.inner.generate(spec)
    }
    fn encrypt<'a>(
        &'a self,
        h: &'a KeyHandle,
        pt: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, strongroom::Result<strongroom::backend::Sealed>> {
        self.encrypts.fetch_add(1, Ordering::SeqCst);
        self.inner.encrypt(h, pt, aad)
    }
    fn decrypt<'a>(
        &'a self,
        h: &'a KeyHandle,
        nonce: &'a [u8; 12],
        ct: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, strongroom::Result<strongroom::SecretBytes>> {
        self.decrypts.fetch_add(1, Ordering::SeqCst);
        self.inner.decrypt(h, nonce, ct, aad)
    }
}

#[test]
fn data_key_cache_limits_hold() {
    let env = common::env();
    let counting = Arc::new(Counting {
        inner: common::backend(Backend::Software, &env),
        encrypts: AtomicUsize::new(0),
        decrypts: AtomicUsize::new(0),
    });
    let clock = common::clock();
    let env = strongroom::Env::new(Arc::new(strongroom::env::OsEntropy), clock.clone());
    let kms = block_on(Kms::memory(env, Some(counting.clone()))).unwrap();
    let k = key(&kms);
    let c = EncryptionContext::new();
    let e0 = counting.encrypts.load(Ordering::SeqCst);
    // Off by default: one wrap per message.
    enc(&kms, &[&k], b"a", &c, None);
    enc(&kms, &[&k], b"b", &c, None);
    assert_eq!(counting.encrypts.load(Ordering::SeqCst) - e0, 2);
    kms.set_data_key_cache(Some(DataKeyCacheConfig {
        max_age_ms: 60_000,
        max_messages: 3,
        max_bytes: 10,
        capacity: 8,
    }));
    let e0 = counting.encrypts.load(Ordering::SeqCst);
    let m: Vec<Vec<u8>> = (0..3).map(|i| enc(&kms, &[&k], &[i], &c, None)).collect();
    assert_eq!(
        counting.encrypts.load(Ordering::SeqCst) - e0,
        1,
        "three messages, one wrap"
    );
    // Same data key, different message ids: different messages.
    assert_eq!(m[0][100..120], m[1][100..120]);
    assert_ne!(m[0][7..39], m[1][7..39]);
    enc(&kms, &[&k], b"4", &c, None);
    assert_eq!(
        counting.encrypts.load(Ordering::SeqCst) - e0,
        2,
        "max_messages"
    );
    enc(&kms, &[&k], &[0; 10], &c, None);
    assert_eq!(
        counting.encrypts.load(Ordering::SeqCst) - e0,
        3,
        "max_bytes"
    );
    clock.advance(60_001);
    enc(&kms, &[&k], b"x", &c, None);
    enc(&kms, &[&k], b"y", &c, None);
    assert_eq!(counting.encrypts.load(Ordering::SeqCst) - e0, 4, "max_age");
    // Decrypt side: one unwrap for the three messages sharing a stanza.
    let d0 = counting.decrypts.load(Ordering::SeqCst);
    for (i, ct) in m.iter().enumerate() {
        assert_eq!(dec(&kms, ct, None).unwrap(), [i as u8]);
    }
    assert_eq!(counting.decrypts.load(Ordering::SeqCst) - d0, 1);
    // A cached data key still obeys the key's state.
    block_on(kms.disable_key(&k)).unwrap();
    assert_eq!(code(dec(&kms, &m[0], None)), "Forbidden.KeyDisabled");
    block_on(kms.enable_key(&k)).unwrap();
    // Off again: nothing kept.
    kms.set_data_key_cache(None);
    let d0 = counting.decrypts.load(Ordering::SeqCst);
    dec(&kms, &m[0], None).unwrap();
    assert_eq!(counting.decrypts.load(Ordering::SeqCst) - d0, 1);
}

#[test]
fn io_adapters_stream_with_bounded_buffers() {
    use std::io::{Read, Write};
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = ctx(&[("stream", "yes")]);
    let pt = pattern(200_000);
    let req = EncryptEnvelopeRequest {
        key_ids: vec![k.clone()],
        encryption_context: c.clone(),
        frame_length: Some(4096),
        ..Default::default()
    };
    // encrypt_stream / decrypt_stream.
    let mut ct = Vec::new();
    let n = block_on(kms.encrypt_stream(&req, &mut &pt[..], &mut ct)).unwrap();
    assert_eq!(n, pt.len() as u64);
    let mut out = Vec::new();
    let info = block_on(kms.decrypt_stream(&mut &ct[..], &mut out, Some(&c))).unwrap();
    assert_eq!(out, pt);
    assert_eq!(info.key_id, k);
    // The Write / Read adapters agree with the one-shot form.
    let e = block_on(kms.envelope_encryptor(&req, None)).unwrap();
    let mut w = envelope::io::EncryptWriter::new(e, Vec::new());
    for part in pt.chunks(1000) {
        w.write_all(part).unwrap();
    }
    let ct2 = w.finish().unwrap();
    assert_eq!(dec(&kms, &ct2, Some(&c)).unwrap(), pt);
    let mut src = &ct2[..];
    let (h, left) = envelope::io::read_header(&mut src).unwrap();
    let (d, _) = block_on(kms.open_envelope(&h, Some(&c))).unwrap();
    let mut r = envelope::io::DecryptReader::new(d, left, src);
    let mut back = Vec::new();
    r.read_to_end(&mut back).unwrap();
    assert_eq!(back, pt);
    // A truncated stream is an error, not a short file.
    let cut = &ct2[..ct2.len() - 30];
    let mut src = cut;
    let (h, left) = envelope::io::read_header(&mut src).unwrap();
    let (d, _) = block_on(kms.open_envelope(&h, Some(&c))).unwrap();
    let mut r = envelope::io::DecryptReader::new(d, left, src);
    let err = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(
        envelope::io::strongroom_error(&err).unwrap().code(),
        "InvalidCiphertext.Truncated"
    );
    // Every later read fails the same way: a failed message never reads as a clean end.
    for _ in 0..3 {
        let again = r.read(&mut [0u8; 64]).unwrap_err();
        assert_eq!(
            envelope::io::strongroom_error(&again).unwrap().code(),
            "InvalidCiphertext.Truncated"
        );
    }
    // decrypt_stream on a tampered stream fails at the frame, after earlier frames.
    let mut t = ct.clone();
    let last = t.len() - 100;
    t[last] ^= 1;
    let mut out = Vec::new();
    let e = block_on(kms.decrypt_stream(&mut &t[..], &mut out, Some(&c))).unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertext.FrameAuthentication");
    assert!(out.len() < pt.len());
}

/// A maximal header (16 stanzas of 65,535 bytes, a context near its limit) fed one byte
/// at a time is parsed a bounded number of times, not once per byte.
#[test]
fn a_maximal_header_fed_byte_by_byte_is_parsed_a_bounded_number_of_times() {
    use strongroom::envelope::{HeaderParser, MAX_HEADER_LEN, MAX_RECIPIENTS};
    let mut h = Vec::new();
    h.extend_from_slice(b"SREN");
    h.push(1);
    h.extend_from_slice(&1u16.to_be_bytes());
    h.extend_from_slice(&[7u8; 32]);
    // A context near the 8,192-character limit: one pair.
    let value = "v".repeat(8_000);
    let mut ctx = Vec::new();
    ctx.extend_from_slice(&1u16.to_be_bytes());
    ctx.extend_from_slice(&1u16.to_be_bytes());
    ctx.push(b'k');
    ctx.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
    ctx.extend_from_slice(value.as_bytes());
    h.extend_from_slice(&u16::try_from(ctx.len()).unwrap().to_be_bytes());
    h.extend_from_slice(&ctx);
    h.extend_from_slice(&4096u32.to_be_bytes());
    h.extend_from_slice(&u16::try_from(MAX_RECIPIENTS).unwrap().to_be_bytes());
    for _ in 0..MAX_RECIPIENTS {
        h.push(1);
        h.extend_from_slice(&u16::MAX.to_be_bytes());
        h.extend_from_slice(&vec![0xAB; 65_535]);
    }
    h.extend_from_slice(&[1u8; 32]);
    h.extend_from_slice(&[2u8; 16]);
    assert!(h.len() <= MAX_HEADER_LEN);
    let mut p = HeaderParser::new();
    let mut done = None;
    for (i, b) in h.iter().enumerate() {
        if let Some(r) = p.feed(std::slice::from_ref(b)).unwrap() {
            done = Some((i, r));
            break;
        }
    }
    let (at, (header, used)) = done.expect("the header completed");
    assert_eq!(at, h.len() - 1);
    assert_eq!(used, 1);
    assert_eq!(header.stanzas.len(), MAX_RECIPIENTS);
    // One parse per field boundary: a few dozen, against 1,114,000 bytes fed.
    assert!(p.parse_count() < 64, "{} parses", p.parse_count());
}

/// docs/FORMAT.md §What readers accept: the same key in two stanzas, and an empty final
/// frame after full regular frames — neither made by strongroom's writer, both opened.
#[test]
fn reader_leniencies_are_what_format_md_says() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = EncryptionContext::new();
    let ct = enc(&kms, &[&k], b"x", &c, None);
    let (h, _) = envelope::parse_header(&ct).unwrap().unwrap();
    let dk = block_on(kms.decrypt(strongroom::DecryptRequest {
        ciphertext_blob: h.stanzas[0].body.clone(),
        encryption_context: c.clone(),
    }))
    .unwrap()
    .plaintext;
    // The same stanza twice.
    let twice = vec![h.stanzas[0].clone(), h.stanzas[0].clone()];
    let m =
        envelope::seal_with_data_key(dk.expose(), &h.message_id, &twice, &c, 16, b"dup").unwrap();
    assert_eq!(dec(&kms, &m, None).unwrap(), b"dup");
    // 16 bytes at frame length 16: the writer makes one full *final* frame. Rebuild it
    // as a regular frame followed by an empty final frame.
    let m = envelope::seal_with_data_key(dk.expose(), &h.message_id, &h.stanzas, &c, 16, &[7; 16])
        .unwrap();
    let (key, _, hlen) = envelope::header_key_with_data_key(dk.expose(), &m).unwrap();
    let nonce = |i: u64, t: u8| {
        let mut n = [0u8; 12];
        n[3..11].copy_from_slice(&i.to_be_bytes());
        n[11] = t;
        n
    };
    let mut alt = m[..hlen].to_vec();
    alt.push(0x00);
    alt.extend(envelope::frame_seal(key.expose(), &nonce(1, 0x00), &[7; 16]).unwrap());
    alt.push(0x01);
    alt.extend(0u32.to_be_bytes());
    alt.extend(envelope::frame_seal(key.expose(), &nonce(2, 0x01), &[]).unwrap());
    assert_ne!(alt, m);
    assert_eq!(dec(&kms, &alt, None).unwrap(), vec![7; 16]);
}

/// #15 item 8: a required EncryptionContext — the listed pairs must be present with
/// those values, others allowed — on the one-shot, streamed and wire decrypts; refused
/// before any plaintext.
#[test]
fn a_required_encryption_context() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let c = ctx(&[("tenant", "t1"), ("purpose", "backup"), ("extra", "x")]);
    let ct = enc(&kms, &[&k], b"required pairs", &c, Some(8));
    let req = |pairs: &[(&str, &str)]| {
        block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
            ciphertext: ct.clone(),
            required_encryption_context: Some(ctx(pairs)),
            ..Default::default()
        }))
        .map(|r| r.plaintext)
    };
    assert_eq!(req(&[("tenant", "t1")]).unwrap(), b"required pairs");
    assert_eq!(
        req(&[("tenant", "t1"), ("purpose", "backup")]).unwrap(),
        b"required pairs"
    );
    assert_eq!(req(&[]).unwrap(), b"required pairs");
    assert_eq!(
        code(req(&[("tenant", "t2")])),
        "InvalidCiphertext.ContextMismatch"
    );
    assert_eq!(
        code(req(&[("owner", "t1")])),
        "InvalidCiphertext.ContextMismatch"
    );
    // Streamed: nothing is written when the requirement fails.
    let mut out = Vec::new();
    let check = strongroom::ContextCheck {
        exact: None,
        required: Some(&ctx(&[("tenant", "t2")])),
        required_signer: None,
    };
    let e = block_on(kms.decrypt_stream(&mut ct.as_slice(), &mut out, check)).unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertext.ContextMismatch");
    assert!(out.is_empty());
    let good = ctx(&[("purpose", "backup")]);
    let check = strongroom::ContextCheck {
        exact: None,
        required: Some(&good),
        required_signer: None,
    };
    block_on(kms.decrypt_stream(&mut ct.as_slice(), &mut out, check)).unwrap();
    assert_eq!(out, b"required pairs");
    // The wire form: RequiredEncryptionContext.
    #[cfg(feature = "wire")]
    {
        use base64ct::Encoding as _;
        let b64 = base64ct::Base64::encode_string(&ct);
        let wire = |req: &str| {
            let mut m = serde_json::Map::new();
            m.insert("Ciphertext".into(), serde_json::Value::String(b64.clone()));
            m.insert(
                "RequiredEncryptionContext".into(),
                serde_json::Value::String(req.into()),
            );
            let r =
                strongroom::Request::from_wire(strongroom::Action::DecryptEnvelope, &m).unwrap();
            block_on(kms.call(&strongroom::Caller::owner(), r)).map(|_| ())
        };
        wire(r#"{"tenant":"t1"}"#).unwrap();
        assert_eq!(
            code(wire(r#"{"tenant":"nope"}"#)),
            "InvalidCiphertext.ContextMismatch"
        );
    }
}
