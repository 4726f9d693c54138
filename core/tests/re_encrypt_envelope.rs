#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! ReEncryptEnvelope: a message's data key wrapped again in a new header — after a
//! rotation under the new primary version, or under other keys — with its frames
//! untouched; recipients of other stores kept; every failure a stable code, and a
//! forged header never re-wrapped.

mod common;

use std::sync::{Arc, Mutex};

use common::{Backend, memory};
use pollster::block_on;
use strongroom::api::{Action, CallHook, CallRecord, Caller, Request, Resource, Response};
use strongroom::envelope::{self, STANZA_KMS_BLOB, Stanza};
use strongroom::{
    CreateKeyRequest, DecryptEnvelopeRequest, EncryptEnvelopeRequest, EncryptRequest,
    EncryptionContext, Error, Kms, ReEncryptEnvelopeRequest, ReEncryptEnvelopeResponse,
};

fn ctx() -> EncryptionContext {
    EncryptionContext::from_pairs([("file", "report.pdf")]).unwrap()
}

fn key(kms: &Kms) -> String {
    block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id
}

/// A message of several frames for `keys`.
fn message(kms: &Kms, keys: &[&str], plaintext: &[u8]) -> Vec<u8> {
    block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: keys.iter().map(|k| (*k).to_string()).collect(),
        plaintext: plaintext.to_vec(),
        encryption_context: ctx(),
        frame_length: Some(1000),
        ..Default::default()
    }))
    .unwrap()
}

fn rewrap(kms: &Kms, m: &[u8], to: &[&str]) -> Result<ReEncryptEnvelopeResponse, Error> {
    block_on(kms.re_encrypt_envelope(ReEncryptEnvelopeRequest {
        message_header: m.to_vec(),
        destination_key_ids: to.iter().map(|k| (*k).to_string()).collect(),
        encryption_context: None,
    }))
}

fn moved(m: &[u8], r: &ReEncryptEnvelopeResponse) -> Vec<u8> {
    [&r.header[..], &m[r.replaced_length as usize..]].concat()
}

fn open(kms: &Kms, m: Vec<u8>) -> Result<strongroom::DecryptEnvelopeResponse, Error> {
    block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: m,
        encryption_context: Some(ctx()),
        ..Default::default()
    }))
}

#[test]
fn after_a_rotation_the_header_moves_to_the_new_version_and_the_frames_stay() {
    let (kms, _) = memory(Backend::Software);
    let k = key(&kms);
    let plaintext: Vec<u8> = (0..3500u32).map(|i| (i % 251) as u8).collect();
    let m = message(&kms, &[&k], &plaintext);
    let old = open(&kms, m.clone()).unwrap().info.key_version_id;
    let v2 = block_on(kms.create_key_version(&k)).unwrap().key_version_id;
    // Only the header is needed: what follows it is not read.
    let (h, header_len) = envelope::parse_whole_header(&m).unwrap();
    let r = rewrap(&kms, &m[..header_len], &[]).unwrap();
    assert_eq!(r.replaced_length as usize, header_len);
    assert_eq!(
        (r.source_key_id.as_str(), r.source_key_version_id.as_str()),
        (k.as_str(), old.as_str())
    );
    assert_eq!(r.key_ids, [k.clone()]);
    let n = moved(&m, &r);
    // The frames are byte for byte the old ones; the message id and context too.
    assert_eq!(&n[r.header.len()..], &m[header_len..]);
    let (nh, _) = envelope::parse_whole_header(&n).unwrap();
    assert_eq!(nh.message_id, h.message_id);
    assert_eq!(nh.encryption_context, h.encryption_context);
    assert_eq!(nh.stanzas[0].key(), Some((k.clone(), v2.clone())));
    let d = open(&kms, n).unwrap();
    assert_eq!(d.plaintext, plaintext);
    assert_eq!(d.info.key_version_id, v2);
    // The old message still opens (its version is still there).
    assert_eq!(open(&kms, m).unwrap().plaintext, plaintext);
}

#[test]
fn to_other_keys_the_old_key_is_no_longer_needed() {
    let (kms, _) = memory(Backend::Software);
    let (a, b, c) = (key(&kms), key(&kms), key(&kms));
    let m = message(&kms, &[&a], b"moved off a key to retire");
    let r = rewrap(&kms, &m, &[&b, &c]).unwrap();
    assert_eq!(r.key_ids, [b.clone(), c.clone()]);
    assert_eq!(r.source_key_id, a);
    let n = moved(&m, &r);
    block_on(kms.disable_key(&a)).unwrap();
    assert_eq!(
        open(&kms, n.clone()).unwrap().plaintext,
        b"moved off a key to retire"
    );
    assert_eq!(open(&kms, m).unwrap_err().code(), "Forbidden.KeyDisabled");
    // Either new recipient opens it alone.
    block_on(kms.disable_key(&b)).unwrap();
    assert_eq!(open(&kms, n).unwrap().info.key_id, c);
}

#[test]
fn recipients_of_another_store_are_kept() {
    let (here, _) = memory(Backend::Software);
    let (there, _) = memory(Backend::Software);
    let (a, x) = (key(&here), key(&there));
    // One message for a key of each store (as two stores' clients could agree on).
    let dk = [7u8; 32];
    let wrap = |kms: &Kms, k: &str| Stanza {
        kind: STANZA_KMS_BLOB,
        body: block_on(kms.encrypt(EncryptRequest {
            key_id: k.into(),
            plaintext: dk.to_vec(),
            encryption_context: ctx(),
        }))
        .unwrap()
        .ciphertext_blob,
    };
    let m = envelope::seal_with_data_key(
        &dk,
        &[1u8; 32],
        &[wrap(&there, &x), wrap(&here, &a)],
        &ctx(),
        1000,
        b"two stores",
    )
    .unwrap();
    let v2 = block_on(here.create_key_version(&a))
        .unwrap()
        .key_version_id;
    let r = rewrap(&here, &m, &[]).unwrap();
    assert_eq!(r.key_ids, [x.clone(), a.clone()]);
    let n = moved(&m, &r);
    let (nh, _) = envelope::parse_whole_header(&n).unwrap();
    assert_eq!(nh.stanzas[1].key(), Some((a.clone(), v2)));
    assert_eq!(open(&here, n.clone()).unwrap().plaintext, b"two stores");
    assert_eq!(open(&there, n).unwrap().plaintext, b"two stores");
    // A store holding none of the recipients cannot.
    let (elsewhere, _) = memory(Backend::Software);
    assert_eq!(
        rewrap(&elsewhere, &m, &[]).unwrap_err().code(),
        "Forbidden.NoRecipientKey"
    );
}

#[test]
fn bad_messages_and_keys_have_stable_codes_and_forged_headers_are_not_rewrapped() {
    let (kms, _) = memory(Backend::Software);
    let (a, b) = (key(&kms), key(&kms));
    let m = message(&kms, &[&a], b"x");
    let (_, header_len) = envelope::parse_whole_header(&m).unwrap();
    let code = |m: &[u8], to: &[&str]| rewrap(&kms, m, to).unwrap_err().code();
    assert_eq!(
        code(&m[..header_len - 1], &[]),
        "InvalidCiphertext.Truncated"
    );
    assert_eq!(
        code(b"not an envelope", &[]),
        "InvalidCiphertext.NotAnEnvelope"
    );
    // The context, when given, must be the message's.
    let e = block_on(kms.re_encrypt_envelope(ReEncryptEnvelopeRequest {
        message_header: m.clone(),
        encryption_context: Some(EncryptionContext::from_pairs([("file", "other")]).unwrap()),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertext.ContextMismatch");
    // A header whose authenticated bytes were changed (the frame length) is refused,
    // not re-wrapped with a fresh tag.
    let mut forged = m.clone();
    let at = 41 + ctx().aad().len(); // the frame length
    forged[at + 3] ^= 1;
    assert_eq!(code(&forged, &[]), "InvalidCiphertext.HeaderAuthentication");
    // Destinations.
    assert_eq!(code(&m, &[&b, &b]), "InvalidParameter.KeyIds");
    let many: Vec<String> = (0..17).map(|_| b.clone()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(code(&m, &many), "InvalidParameter.KeyIds");
    assert_eq!(code(&m, &["no-such-key"]), "Forbidden.KeyNotFound");
    block_on(kms.disable_key(&b)).unwrap();
    assert_eq!(code(&m, &[&b]), "Forbidden.KeyDisabled");
    // A signed message: its signature covers the header.
    let signer = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(strongroom::KeySpec::EcP256),
        key_usage: Some(strongroom::KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let signed = block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: vec![a.clone()],
        plaintext: b"signed".to_vec(),
        signing_key_id: Some(signer),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(code(&signed, &[]), "Rejected.Unsupported");
}

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(Action, Vec<Resource>, Option<String>)>>,
    deny: Mutex<Option<String>>,
}

impl CallHook for Recorder {
    fn authorize(&self, _: &Caller, action: Action, resource: &Resource) -> strongroom::Result<()> {
        if let (Resource::Key(id), Some(d)) = (resource, self.deny.lock().unwrap().as_ref())
            && id == d
        {
            return Err(Error::AccessDenied {
                action: action.name(),
                resource: resource.arn(),
            });
        }
        Ok(())
    }
    fn record(&self, r: &CallRecord<'_>) {
        self.seen.lock().unwrap().push((
            r.action,
            r.resources.to_vec(),
            r.outcome.err().map(|e| e.code().to_string()),
        ));
    }
}

#[test]
fn the_source_and_every_destination_are_authorised_and_recorded() {
    let (kms, _) = memory(Backend::Software);
    let (a, b) = (key(&kms), key(&kms));
    let m = message(&kms, &[&a], b"x");
    let rec = Arc::new(Recorder::default());
    kms.set_call_hook(Some(rec.clone()));
    let r = block_on(kms.call(
        &Caller::owner(),
        Request::ReEncryptEnvelope(ReEncryptEnvelopeRequest {
            message_header: m.clone(),
            destination_key_ids: vec![b.clone()],
            encryption_context: None,
        }),
    ))
    .unwrap();
    assert!(matches!(r, Response::ReEncryptEnvelope(_)));
    let seen = std::mem::take(&mut *rec.seen.lock().unwrap());
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, Action::ReEncryptEnvelope);
    assert!(seen[0].1.contains(&Resource::Key(a.clone())), "{seen:?}");
    assert!(seen[0].1.contains(&Resource::Key(b.clone())), "{seen:?}");
    // A destination the caller may not use, and a source it may not open.
    *rec.deny.lock().unwrap() = Some(b.clone());
    assert_eq!(
        rewrap(&kms, &m, &[&b]).unwrap_err().code(),
        "Forbidden.NoPermission"
    );
    *rec.deny.lock().unwrap() = Some(a.clone());
    assert_eq!(
        rewrap(&kms, &m, &[&b]).unwrap_err().code(),
        "Forbidden.NoPermission"
    );
    // Re-wrapping under the same key needs it as a destination too.
    assert_eq!(
        rewrap(&kms, &m, &[]).unwrap_err().code(),
        "Forbidden.NoPermission"
    );
}
