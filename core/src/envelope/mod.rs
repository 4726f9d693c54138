//! Envelope messages: data of any size encrypted under a fresh data key that one or
//! more CMKs wrap (docs/FORMAT.md §Envelope message).
//!
//! One-shot: [`Kms::encrypt_envelope`](crate::Kms::encrypt_envelope) / [`Kms::decrypt_envelope`](crate::Kms::decrypt_envelope). Streaming without
//! `std`: [`Kms::envelope_encryptor`](crate::Kms::envelope_encryptor) gives an [`Encryptor`]; a [`HeaderParser`] reads
//! a header, [`Kms::open_envelope`](crate::Kms::open_envelope) unwraps its data key and gives a [`Decryptor`].
//! With `std`, [`io`] wraps those in `Read` / `Write`.

pub(crate) mod cache;
mod format;
pub(crate) mod frames;
#[cfg(feature = "std")]
pub mod io;

use alloc::string::String;
use alloc::vec::Vec;

pub use cache::DataKeyCacheConfig;
pub use format::{
    COMMITMENT_LEN, DATA_KEY_LEN, DEFAULT_FRAME_LENGTH, ENVELOPE_VERSION, EnvelopeHeader,
    FRAME_FINAL, FRAME_REGULAR, HeaderParser, MAGIC, MAX_FRAME_LENGTH, MAX_FRAMES, MAX_HEADER_LEN,
    MAX_RECIPIENTS, MAX_SIGNER_KEY_LEN, MESSAGE_ID_LEN, ONE_SHOT_FRAME_LENGTH, SIGNATURE_LABEL,
    SIGNATURE_LEN, STANZA_KMS_BLOB, SUITE_AES256_GCM_HKDF_SHA256_COMMIT, SUITE_SIGNED_ECDSA_P256,
    Signer, Stanza, TAG_LEN, header_needs, is_p256_spki, parse_header, parse_whole_header,
};
pub use frames::{Decryptor, Encryptor};

use crate::context::EncryptionContext;
use crate::error::{EnvelopeFailure, Error, Result};
use crate::secret::SecretBytes;

/// EncryptEnvelope. `Debug` shows the plaintext's length, never its bytes.
#[derive(Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EncryptEnvelopeRequest {
    /// The CMKs (KeyId, ARN or alias) that each wrap the data key: 1 ..=
    /// [`MAX_RECIPIENTS`]. Any one of them decrypts.
    pub key_ids: Vec<String>,
    /// The plaintext (one-shot form only).
    pub plaintext: Vec<u8>,
    /// EncryptionContext, bound to the message and stored in its header.
    pub encryption_context: EncryptionContext,
    /// Plaintext bytes per frame (default [`ONE_SHOT_FRAME_LENGTH`] for one-shot
    /// messages, [`DEFAULT_FRAME_LENGTH`] for streams).
    pub frame_length: Option<u32>,
    /// Sign the message (suite 0x0002, docs/FORMAT.md) with this key: an Enabled
    /// EC_P256 key of usage SIGN/VERIFY (KeyId, alias or ARN), authorised as
    /// AsymmetricSign. Readers verify the signature and report the signer.
    pub signing_key_id: Option<String>,
}

/// DecryptEnvelope.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DecryptEnvelopeRequest {
    /// The whole message.
    pub ciphertext: Vec<u8>,
    /// When given, the message's EncryptionContext must equal it exactly
    /// (`InvalidCiphertext.ContextMismatch` otherwise). When `None`, any context is
    /// accepted and returned for the caller to check.
    pub encryption_context: Option<EncryptionContext>,
    /// When given, each of these pairs must be in the message's EncryptionContext with
    /// that value; other pairs are allowed (AWS Encryption SDK's "required encryption
    /// context"). `InvalidCiphertext.ContextMismatch` otherwise, before any plaintext.
    pub required_encryption_context: Option<EncryptionContext>,
    /// When given, the message must be signed by this key of the store (KeyId, alias
    /// or ARN): `InvalidCiphertext.SignerMismatch` otherwise, before any key is used.
    pub required_signer: Option<String>,
}

/// ReEncryptEnvelope: a message's data key wrapped again — under each recipient key's
/// current primary version, or under other keys — in a new header; the frames are not
/// touched, nor decrypted.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReEncryptEnvelopeRequest {
    /// The message, or any start of it that holds its whole header (what follows the
    /// header is not read).
    pub message_header: Vec<u8>,
    /// The keys (KeyId, alias or ARN; 1 ..= [`MAX_RECIPIENTS`]) to wrap the data key
    /// under, replacing every recipient. Empty: every recipient key of this store
    /// again, under its current primary version (recipients this store does not hold
    /// are kept as they are).
    pub destination_key_ids: Vec<String>,
    /// When given, the message's EncryptionContext must equal it exactly
    /// (`InvalidCiphertext.ContextMismatch` otherwise).
    pub encryption_context: Option<EncryptionContext>,
}

/// ReEncryptEnvelope's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReEncryptEnvelopeResponse {
    /// The new header. The new message is this followed by the old message from byte
    /// `replaced_length` on.
    pub header: Vec<u8>,
    /// The length of the old header (the bytes `header` replaces).
    pub replaced_length: u32,
    /// The key whose recipient stanza was opened.
    pub source_key_id: String,
    /// That key's version.
    pub source_key_version_id: String,
    /// The recipients of the new header, in order (KeyIds).
    pub key_ids: Vec<String>,
}

/// What a reader demands of a message's EncryptionContext, checked once the header is
/// parsed and before any key is used or any plaintext released. From an
/// `Option<&EncryptionContext>` it is the exact-match check.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContextCheck<'a> {
    /// The context must equal this.
    pub exact: Option<&'a EncryptionContext>,
    /// These pairs must be present with these values; others are allowed.
    pub required: Option<&'a EncryptionContext>,
    /// The message must be signed (suite 0x0002) by this key of the reader's store
    /// (KeyId, alias or ARN), checked on the header before any data key is unwrapped.
    pub required_signer: Option<&'a str>,
}

impl<'a> From<Option<&'a EncryptionContext>> for ContextCheck<'a> {
    fn from(exact: Option<&'a EncryptionContext>) -> Self {
        ContextCheck {
            exact,
            required: None,
            required_signer: None,
        }
    }
}

impl ContextCheck<'_> {
    /// `InvalidCiphertext.ContextMismatch` unless `ctx` passes.
    ///
    /// # Errors
    /// As above.
    pub fn check(&self, ctx: &EncryptionContext) -> Result<()> {
        let exact_ok = self.exact.is_none_or(|e| e == ctx);
        let required_ok = self
            .required
            .is_none_or(|r| r.iter().all(|(k, v)| ctx.get(k) == Some(v)));
        if exact_ok && required_ok {
            Ok(())
        } else {
            Err(Error::Envelope(EnvelopeFailure::ContextMismatch))
        }
    }
}

/// Which recipient opened a message, and what it was bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EnvelopeInfo {
    /// The KeyId whose stanza was unwrapped.
    pub key_id: String,
    /// Its KeyVersionId.
    pub key_version_id: String,
    /// The message's EncryptionContext.
    pub encryption_context: EncryptionContext,
    /// The message id.
    pub message_id: [u8; MESSAGE_ID_LEN],
    /// Suite 0x0002: who signed it (the signature verifies with `public_key`; `known`
    /// says whether this reader's store holds that key version with that public key).
    pub signer: Option<EnvelopeSigner>,
}

/// The signer of a signed message, as a reader reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EnvelopeSigner {
    /// The signing key's KeyId, as the header names it.
    pub key_id: String,
    /// The key version that signed.
    pub key_version_id: String,
    /// Its public key (SubjectPublicKeyInfo DER), from the header.
    pub public_key: Vec<u8>,
    /// This reader's store holds that key version and its public key is the header's:
    /// the message was made by that key of this account. Without it, only "whoever holds
    /// this public key" signed.
    pub known: bool,
}

/// A new message's header and per-message key (see [`Kms::envelope_begin`](crate::Kms::envelope_begin)).
#[derive(Debug)]
pub struct EnvelopeStart {
    /// The whole header, tag included: the message's first bytes.
    pub header: Vec<u8>,
    /// The per-message AES-256-GCM key for the frames.
    pub message_key: SecretBytes,
    /// Plaintext bytes per regular frame.
    pub frame_length: u32,
    /// Suite 0x0002: the signer the header names; the body ends with its signature
    /// ([`Kms::finish_envelope`](crate::Kms::finish_envelope) makes it).
    pub signer: Option<Signer>,
}

/// A message opened by [`Kms::open_message`](crate::Kms::open_message), ready to decrypt in one go.
#[derive(Debug)]
pub struct OpenedMessage {
    /// The body's decryptor.
    pub decryptor: Decryptor,
    /// Who opened it.
    pub info: EnvelopeInfo,
    /// Where the body starts in the ciphertext.
    pub body_offset: usize,
    /// The plaintext's exact length.
    pub plaintext_len: usize,
}

/// DecryptEnvelope's answer. `Debug` shows the plaintext's length, never its bytes.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DecryptEnvelopeResponse {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// Who opened it.
    pub info: EnvelopeInfo,
}

impl core::fmt::Debug for EncryptEnvelopeRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptEnvelopeRequest")
            .field("key_ids", &self.key_ids)
            .field("plaintext", &crate::secret::Redacted(self.plaintext.len()))
            .field("encryption_context", &self.encryption_context)
            .field("frame_length", &self.frame_length)
            .field("signing_key_id", &self.signing_key_id)
            .finish()
    }
}

impl core::fmt::Debug for DecryptEnvelopeResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecryptEnvelopeResponse")
            .field("plaintext", &crate::secret::Redacted(self.plaintext.len()))
            .field("info", &self.info)
            .finish()
    }
}

pub(crate) fn fail(f: EnvelopeFailure) -> Error {
    Error::Envelope(f)
}

pub(crate) fn check_frame_length(f: u32) -> Result<u32> {
    if f == 0 || f > MAX_FRAME_LENGTH {
        return Err(Error::param(
            "FrameLength",
            alloc::format!("must be 1 to {MAX_FRAME_LENGTH} bytes"),
        ));
    }
    Ok(f)
}

/// Derives the message key and commitment and writes the authenticated header.
pub(crate) fn build_header(
    data_key: &[u8],
    message_id: &[u8; MESSAGE_ID_LEN],
    stanzas: &[Stanza],
    ctx: &EncryptionContext,
    frame_length: u32,
    signer: Option<Signer>,
) -> Result<EnvelopeStart> {
    let keys = format::derive(data_key, message_id, format::suite_of(signer.is_some()))?;
    let mut header = format::encode_unauthenticated(
        message_id,
        ctx,
        frame_length,
        stanzas,
        signer.as_ref(),
        &keys.commitment,
    )?;
    let tag = frames::header_tag(keys.key.expose(), &header)?;
    header.extend_from_slice(&tag);
    Ok(EnvelopeStart {
        header,
        message_key: keys.key,
        frame_length,
        signer,
    })
}

/// The end of every BeginEnvelope (embedded or connected): a fresh message id, then
/// the header built and authenticated.
pub(crate) fn begin_with(
    env: &crate::env::Env,
    data_key: &[u8],
    stanzas: &[Stanza],
    ctx: &EncryptionContext,
    frame_length: u32,
    signer: Option<Signer>,
) -> Result<EnvelopeStart> {
    let mut message_id = [0u8; MESSAGE_ID_LEN];
    env.fill(&mut message_id)?;
    build_header(data_key, &message_id, stanzas, ctx, frame_length, signer)
}

/// The one judgement of a signed header's signer, embedded or connected, from what the
/// reader's store says: `store_public_key` is its copy of that key version's public key
/// (`None`: it does not hold it, or it cannot vouch), `required` whether the signer
/// required (when one is) is the header's key. A header naming a key of the store with
/// another public key, an unsigned message when a signer is required, or another
/// signer than the one required, is `InvalidCiphertext.SignerMismatch`.
pub(crate) fn judge_signer(
    header: &EnvelopeHeader,
    store_public_key: Option<&[u8]>,
    required: Option<bool>,
) -> Result<Option<EnvelopeSigner>> {
    let mismatch = || fail(EnvelopeFailure::SignerMismatch);
    let Some(s) = &header.signer else {
        return if required.is_some() {
            Err(mismatch())
        } else {
            Ok(None)
        };
    };
    if store_public_key.is_some_and(|p| p != s.public_key.as_slice()) {
        return Err(mismatch());
    }
    let reported = reported_signer(header, store_public_key);
    let known = reported.as_ref().is_some_and(|x| x.known);
    if required.is_some_and(|same| !same || !known) {
        return Err(mismatch());
    }
    Ok(reported)
}

/// The signer a reader reports for `header`: `known` when `store_public_key` (the
/// reader's copy of that key version's public key, if it holds it) is the header's.
pub(crate) fn reported_signer(
    header: &EnvelopeHeader,
    store_public_key: Option<&[u8]>,
) -> Option<EnvelopeSigner> {
    header.signer.as_ref().map(|s| EnvelopeSigner {
        key_id: s.key_id.clone(),
        key_version_id: s.key_version_id.clone(),
        public_key: s.public_key.clone(),
        known: store_public_key.is_some_and(|p| p == s.public_key.as_slice()),
    })
}

/// Derives the message key from a data key and checks the header against it: the key
/// commitment (constant time), then the header tag. Returns the message key.
pub(crate) fn verify_header(data_key: &[u8], header: &EnvelopeHeader) -> Result<SecretBytes> {
    let keys = format::derive(data_key, &header.message_id, header.suite)?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &keys.commitment[..],
        &header.commitment[..],
    )) {
        return Err(fail(EnvelopeFailure::KeyCommitment));
    }
    frames::check_header_tag(keys.key.expose(), &header.authenticated, &header.header_tag)?;
    Ok(keys.key)
}

/// Hazmat, for test vectors only: an envelope with an explicit data key, message id
/// and stanzas (no CMK involved).
///
/// # Errors
/// `InvalidParameter.FrameLength`; `InvalidCiphertext.MalformedEnvelope` for a data key
/// of the wrong length.
pub fn seal_with_data_key(
    data_key: &[u8],
    message_id: &[u8; MESSAGE_ID_LEN],
    stanzas: &[Stanza],
    ctx: &EncryptionContext,
    frame_length: u32,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let b = build_header(
        data_key,
        message_id,
        stanzas,
        ctx,
        check_frame_length(frame_length)?,
        None,
    )?;
    let mut enc = Encryptor::new(b.message_key.expose(), b.header, b.frame_length, None)?;
    let mut out = Vec::new();
    enc.update(plaintext, &mut out)?;
    enc.finish(&mut out)?;
    Ok(out)
}

/// Hazmat, for test vectors only: a signed message (suite 0x0002) with an explicit
/// data key, message id and stanzas, signed with the EC P-256 private key `pkcs8`
/// (whose public key the header names with `key_id` / `key_version_id`).
///
/// # Errors
/// As [`seal_with_data_key`]; `InvalidParameter.*` for a key that is not EC P-256.
#[allow(clippy::too_many_arguments)]
pub fn seal_signed_with_data_key(
    data_key: &[u8],
    message_id: &[u8; MESSAGE_ID_LEN],
    stanzas: &[Stanza],
    ctx: &EncryptionContext,
    frame_length: u32,
    plaintext: &[u8],
    signer: (&str, &str, &[u8]),
) -> Result<Vec<u8>> {
    let (key_id, key_version_id, pkcs8) = signer;
    let cache = crate::asym::KeyCache::default();
    let public_key = cache.public_key(crate::vocab::KeySpec::EcP256, pkcs8)?;
    let signer = Signer {
        key_id: key_id.into(),
        key_version_id: key_version_id.into(),
        public_key,
    };
    let b = build_header(
        data_key,
        message_id,
        stanzas,
        ctx,
        check_frame_length(frame_length)?,
        Some(signer),
    )?;
    let mut enc = Encryptor::new(b.message_key.expose(), b.header, b.frame_length, b.signer)?;
    let mut out = Vec::new();
    enc.update(plaintext, &mut out)?;
    if let Some((_, digest)) = enc.finish_frames(&mut out)? {
        let sig = cache.sign(
            crate::vocab::KeySpec::EcP256,
            pkcs8,
            crate::asym::SigningAlgorithm::EcdsaSha256,
            &digest,
        )?;
        out.extend_from_slice(&frames::trailer(&sig)?);
    }
    Ok(out)
}

/// Hazmat, for test vectors only: opens an envelope with an explicit data key.
///
/// # Errors
/// As [`Kms::decrypt_envelope`](crate::Kms::decrypt_envelope) after the stanza step.
pub fn open_with_data_key(data_key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let (key, header, n) = header_key_with_data_key(data_key, message)?;
    let mut dec = Decryptor::for_header(key.expose(), &header)?;
    let mut out = Vec::new();
    dec.update(message.get(n..).unwrap_or_default(), &mut out)?;
    dec.finish()?;
    Ok(out)
}

/// Hazmat, for test vectors only: checks a message's commitment and header tag with an
/// explicit data key; returns the per-message key and the header's length.
///
/// # Errors
/// As [`open_with_data_key`] for the header.
pub fn header_key_with_data_key(
    data_key: &[u8],
    message: &[u8],
) -> Result<(SecretBytes, EnvelopeHeader, usize)> {
    let (header, n) = parse_whole_header(message)?;
    let key = verify_header(data_key, &header)?;
    Ok((key, header, n))
}

/// One frame's AES-256-GCM under a per-message key: `ciphertext || tag`. For bindings
/// without a platform AES-GCM; the nonce layout is in docs/FORMAT.md §Frames.
///
/// # Errors
/// `Rejected.BackendProtocol` for a key that is not 32 bytes.
pub fn frame_seal(key: &[u8], nonce: &[u8; 12], plaintext: &[u8]) -> Result<Vec<u8>> {
    if key.len() != DATA_KEY_LEN {
        return Err(Error::BackendProtocol("message key length"));
    }
    crate::aead::seal(key, nonce, plaintext, &[])
}

/// Opens one frame sealed by [`frame_seal`].
///
/// # Errors
/// `InvalidCiphertext` when the tag does not verify.
pub fn frame_open(key: &[u8], nonce: &[u8; 12], ciphertext: &[u8]) -> Result<SecretBytes> {
    if key.len() != DATA_KEY_LEN {
        return Err(Error::BackendProtocol("message key length"));
    }
    crate::aead::open(key, nonce, ciphertext, &[])
}
