//! Envelope messages: data of any size encrypted under a fresh data key that one or
//! more CMKs wrap (docs/FORMAT.md §Envelope message).
//!
//! One-shot: [`Kms::encrypt_envelope`] / [`Kms::decrypt_envelope`]. Streaming without
//! `std`: [`Kms::envelope_encryptor`] gives an [`Encryptor`]; a [`HeaderParser`] reads
//! a header, [`Kms::open_envelope`] unwraps its data key and gives a [`Decryptor`].
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
    MAX_RECIPIENTS, MESSAGE_ID_LEN, ONE_SHOT_FRAME_LENGTH, STANZA_KMS_BLOB,
    SUITE_AES256_GCM_HKDF_SHA256_COMMIT, Stanza, TAG_LEN, parse_header, parse_whole_header,
};
pub use frames::{Decryptor, Encryptor};

use crate::context::EncryptionContext;
use crate::error::{EnvelopeFailure, Error, Result};
use crate::kms::Kms;
use crate::secret::SecretBytes;

/// EncryptEnvelope.
#[derive(Debug, Clone, Default)]
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
}

/// DecryptEnvelope.
#[derive(Debug, Clone, Default)]
pub struct DecryptEnvelopeRequest {
    /// The whole message.
    pub ciphertext: Vec<u8>,
    /// When given, the message's EncryptionContext must equal it exactly
    /// (`InvalidCiphertext.ContextMismatch` otherwise). When `None`, any context is
    /// accepted and returned for the caller to check.
    pub encryption_context: Option<EncryptionContext>,
}

/// Which recipient opened a message, and what it was bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeInfo {
    /// The KeyId whose stanza was unwrapped.
    pub key_id: String,
    /// Its KeyVersionId.
    pub key_version_id: String,
    /// The message's EncryptionContext.
    pub encryption_context: EncryptionContext,
    /// The message id.
    pub message_id: [u8; MESSAGE_ID_LEN],
}

/// A new message's header and per-message key (see [`Kms::envelope_begin`]).
#[derive(Debug)]
pub struct EnvelopeStart {
    /// The whole header, tag included: the message's first bytes.
    pub header: Vec<u8>,
    /// The per-message AES-256-GCM key for the frames.
    pub message_key: SecretBytes,
    /// Plaintext bytes per regular frame.
    pub frame_length: u32,
}

/// A message opened by [`Kms::open_message`], ready to decrypt in one go.
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

/// DecryptEnvelope's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptEnvelopeResponse {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// Who opened it.
    pub info: EnvelopeInfo,
}

fn fail(f: EnvelopeFailure) -> Error {
    Error::Envelope(f)
}

fn check_frame_length(f: u32) -> Result<u32> {
    if f == 0 || f > MAX_FRAME_LENGTH {
        return Err(Error::param(
            "FrameLength",
            alloc::format!("must be 1 to {MAX_FRAME_LENGTH} bytes"),
        ));
    }
    Ok(f)
}

/// Derives the message key and commitment and writes the authenticated header.
fn build_header(
    data_key: &[u8],
    message_id: &[u8; MESSAGE_ID_LEN],
    stanzas: &[Stanza],
    ctx: &EncryptionContext,
    frame_length: u32,
) -> Result<EnvelopeStart> {
    let keys = format::derive(data_key, message_id, SUITE_AES256_GCM_HKDF_SHA256_COMMIT)?;
    let mut header =
        format::encode_unauthenticated(message_id, ctx, frame_length, stanzas, &keys.commitment)?;
    let tag = frames::header_tag(keys.key.expose(), &header)?;
    header.extend_from_slice(&tag);
    Ok(EnvelopeStart {
        header,
        message_key: keys.key,
        frame_length,
    })
}

/// Derives the message key from a data key and checks the header against it: the key
/// commitment (constant time), then the header tag. Returns the message key.
fn verify_header(data_key: &[u8], header: &EnvelopeHeader) -> Result<SecretBytes> {
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

impl Kms {
    /// Starts an envelope message to `key_ids` (`req.plaintext` is ignored): draws a
    /// data key (or takes one from the data-key cache), wraps it under every CMK and
    /// returns an [`Encryptor`] whose first output is the header.
    ///
    /// `plaintext_length`, when known, lets the data-key cache count bytes; without it
    /// the cache is not used.
    ///
    /// # Errors
    /// `InvalidParameter.KeyIds` (none, too many, repeated), `InvalidParameter.FrameLength`;
    /// what Encrypt gives for each key (`Forbidden.KeyNotFound`, `Forbidden.KeyDisabled`,
    /// `Rejected.KeyUsage`, backend failures).
    pub async fn envelope_encryptor(
        &self,
        req: &EncryptEnvelopeRequest,
        plaintext_length: Option<u64>,
    ) -> Result<Encryptor> {
        let b = self.envelope_begin(req, plaintext_length).await?;
        Encryptor::new(b.message_key.expose(), b.header, b.frame_length)
    }

    /// The header and per-message key of a new envelope message, for bindings that
    /// run the frame layer (docs/FORMAT.md §Frames) on a platform AES-GCM. Prefer
    /// [`Kms::envelope_encryptor`].
    ///
    /// # Errors
    /// As [`Kms::envelope_encryptor`].
    pub async fn envelope_begin(
        &self,
        req: &EncryptEnvelopeRequest,
        plaintext_length: Option<u64>,
    ) -> Result<EnvelopeStart> {
        let begin = crate::api::BeginEnvelopeRequest {
            key_ids: req.key_ids.clone(),
            encryption_context: req.encryption_context.clone(),
            frame_length: req.frame_length,
            plaintext_length,
        };
        let r = self
            .call(
                &crate::api::Caller::owner(),
                crate::api::Request::BeginEnvelope(begin),
            )
            .await?;
        crate::api::take!(r, BeginEnvelope)
    }

    pub(crate) async fn envelope_begin_impl(
        &self,
        req: crate::api::BeginEnvelopeRequest,
    ) -> Result<EnvelopeStart> {
        let plaintext_length = req.plaintext_length;
        let default = if plaintext_length.is_some() {
            ONE_SHOT_FRAME_LENGTH
        } else {
            DEFAULT_FRAME_LENGTH
        };
        let frame_length = check_frame_length(req.frame_length.unwrap_or(default))?;
        if req.key_ids.is_empty() {
            return Err(Error::param("KeyIds", "at least one key is required"));
        }
        if req.key_ids.len() > MAX_RECIPIENTS {
            return Err(Error::param(
                "KeyIds",
                alloc::format!("at most {MAX_RECIPIENTS} keys per message"),
            ));
        }
        let mut resolved: Vec<String> = Vec::with_capacity(req.key_ids.len());
        for k in &req.key_ids {
            let id = self.resolve(k)?;
            if resolved.contains(&id) {
                return Err(Error::param("KeyIds", "a key appears twice"));
            }
            resolved.push(id);
        }
        let ctx = &req.encryption_context;
        let cached = plaintext_length.and_then(|n| self.cache_take_encrypt(&resolved, ctx, n));
        let (data_key, stanzas) = match cached {
            Some(hit) => {
                // The keys must still be usable, as for a fresh data key.
                for id in &resolved {
                    self.check_encrypt_usable(id)?;
                }
                hit
            }
            None => {
                let mut dk = SecretBytes::zeroed(DATA_KEY_LEN);
                self.env.fill(dk.expose_mut())?;
                let mut stanzas = Vec::with_capacity(resolved.len());
                for id in &resolved {
                    let r = self.seal_blob(id, dk.expose(), ctx).await?;
                    stanzas.push(Stanza {
                        kind: STANZA_KMS_BLOB,
                        body: r.ciphertext_blob,
                    });
                }
                if let Some(n) = plaintext_length {
                    self.cache_put_encrypt(&resolved, ctx, &dk, &stanzas, n);
                }
                (dk, stanzas)
            }
        };
        let mut message_id = [0u8; MESSAGE_ID_LEN];
        self.env.fill(&mut message_id)?;
        build_header(data_key.expose(), &message_id, &stanzas, ctx, frame_length)
    }

    /// EncryptEnvelope: the whole message for `req.plaintext`.
    ///
    /// # Errors
    /// As [`Kms::envelope_encryptor`].
    pub async fn encrypt_envelope(&self, req: EncryptEnvelopeRequest) -> Result<Vec<u8>> {
        let r = self
            .call(
                &crate::api::Caller::owner(),
                crate::api::Request::EncryptEnvelope(req),
            )
            .await?;
        crate::api::take!(r, EncryptEnvelope).map(|r| r.ciphertext)
    }

    pub(crate) async fn encrypt_envelope_impl(
        &self,
        req: EncryptEnvelopeRequest,
    ) -> Result<Vec<u8>> {
        let b = self
            .envelope_begin_impl(crate::api::BeginEnvelopeRequest {
                key_ids: req.key_ids,
                encryption_context: req.encryption_context,
                frame_length: req.frame_length,
                plaintext_length: Some(req.plaintext.len() as u64),
            })
            .await?;
        let enc = Encryptor::new(b.message_key.expose(), b.header, b.frame_length)?;
        let mut out = alloc::vec![0u8; enc.message_len(req.plaintext.len())];
        enc.seal_into(&req.plaintext, &mut out)?;
        Ok(out)
    }

    /// Unwraps the data key of a parsed header with the first stanza this store can
    /// open, checks the key commitment and the header tag, and returns a
    /// [`Decryptor`] for the body.
    ///
    /// # Errors
    /// `InvalidCiphertext.ContextMismatch` (`expected` differs from the header's);
    /// `Forbidden.NoRecipientKey` (no stanza names a key in this store); the error of
    /// the stanza that named one of our keys and failed (`Forbidden.KeyDisabled`,
    /// `InvalidCiphertext`, …); `InvalidCiphertext.KeyCommitment`;
    /// `InvalidCiphertext.HeaderAuthentication`.
    pub async fn open_envelope(
        &self,
        header: &EnvelopeHeader,
        expected: Option<&EncryptionContext>,
    ) -> Result<(Decryptor, EnvelopeInfo)> {
        let (key, info) = self.open_envelope_key(header, expected).await?;
        Ok((Decryptor::new(key.expose(), header.frame_length)?, info))
    }

    /// As [`Kms::open_envelope`], but returns the per-message key, for bindings that
    /// run the frame layer on a platform AES-GCM. The header is authenticated.
    ///
    /// # Errors
    /// As [`Kms::open_envelope`].
    pub async fn open_envelope_key(
        &self,
        header: &EnvelopeHeader,
        expected: Option<&EncryptionContext>,
    ) -> Result<(SecretBytes, EnvelopeInfo)> {
        let open = crate::api::OpenEnvelopeRequest {
            header: header.clone(),
            expected: expected.cloned(),
        };
        let r = self
            .call(
                &crate::api::Caller::owner(),
                crate::api::Request::OpenEnvelope(open),
            )
            .await?;
        crate::api::take!(r, OpenEnvelope).map(|o| (o.message_key, o.info))
    }

    /// Opens a header for the call `cx`: each stanza's key is resolved and admitted
    /// (authorised) in turn; a key the caller may not use counts as that stanza's
    /// failure, and the next stanza is tried.
    pub(crate) async fn open_envelope_key_in(
        &self,
        cx: &crate::api::dispatch::Cx<'_>,
        header: &EnvelopeHeader,
        expected: Option<&EncryptionContext>,
    ) -> Result<(SecretBytes, EnvelopeInfo)> {
        let ctx = &header.encryption_context;
        if let Some(e) = expected
            && e != ctx
        {
            return Err(fail(EnvelopeFailure::ContextMismatch));
        }
        let mut first_failure: Option<Error> = None;
        for s in &header.stanzas {
            let Some((key_id, _)) = s.key() else {
                continue; // an unknown stanza type, or not a blob: not ours
            };
            if !self.holds_key(&key_id) {
                continue;
            }
            let admitted = {
                let st = self.state.lock();
                cx.admit_key(&st, &key_id)
            };
            if let Err(e) = admitted {
                if first_failure.is_none() {
                    first_failure = Some(e);
                }
                continue;
            }
            match self.unwrap_stanza(&s.body, ctx).await {
                Ok((dk, key_id, key_version_id)) => {
                    return Ok((
                        verify_header(dk.expose(), header)?,
                        EnvelopeInfo {
                            key_id,
                            key_version_id,
                            encryption_context: ctx.clone(),
                            message_id: header.message_id,
                        },
                    ));
                }
                Err(e) => {
                    if first_failure.is_none() {
                        first_failure = Some(e);
                    }
                }
            }
        }
        Err(first_failure.unwrap_or(fail(EnvelopeFailure::NoRecipient)))
    }

    async fn unwrap_stanza(
        &self,
        body: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<(SecretBytes, String, String)> {
        if let Some(hit) = self.cache_get_decrypt(body, ctx) {
            // A cached data key still needs a key that may decrypt now.
            self.check_encrypt_usable(&hit.1)?;
            return Ok(hit);
        }
        let r = self
            .decrypt_impl(crate::kms::DecryptRequest {
                ciphertext_blob: body.to_vec(),
                encryption_context: ctx.clone(),
            })
            .await?;
        if r.plaintext.len() != DATA_KEY_LEN {
            return Err(Error::InvalidCiphertext);
        }
        self.cache_put_decrypt(body, ctx, &r.plaintext, &r.key_id, &r.key_version_id);
        Ok((r.plaintext, r.key_id, r.key_version_id))
    }

    /// DecryptEnvelope: a whole message.
    ///
    /// # Errors
    /// `InvalidCiphertext.NotAnEnvelope`, `InvalidCiphertext.EnvelopeVersion`,
    /// `InvalidCiphertext.MalformedEnvelope`, `InvalidCiphertext.TooManyRecipients`,
    /// `InvalidCiphertext.Truncated`, `InvalidCiphertext.TrailingData`,
    /// `InvalidCiphertext.FrameAuthentication`; as [`Kms::open_envelope`].
    pub async fn decrypt_envelope(
        &self,
        req: DecryptEnvelopeRequest,
    ) -> Result<DecryptEnvelopeResponse> {
        let r = self
            .call(
                &crate::api::Caller::owner(),
                crate::api::Request::DecryptEnvelope(req),
            )
            .await?;
        crate::api::take!(r, DecryptEnvelope)
    }

    pub(crate) async fn decrypt_envelope_in(
        &self,
        cx: &crate::api::dispatch::Cx<'_>,
        req: DecryptEnvelopeRequest,
    ) -> Result<DecryptEnvelopeResponse> {
        let (header, body_offset) = parse_whole_header(&req.ciphertext)?;
        let (key, info) = self
            .open_envelope_key_in(cx, &header, req.encryption_context.as_ref())
            .await?;
        let decryptor = Decryptor::new(key.expose(), header.frame_length)?;
        let body = req.ciphertext.get(body_offset..).unwrap_or_default();
        let mut plaintext = alloc::vec![0u8; decryptor.plaintext_len(body)?];
        decryptor.open_into(body, &mut plaintext)?;
        Ok(DecryptEnvelopeResponse { plaintext, info })
    }

    /// The first half of a one-shot DecryptEnvelope: parses the whole message's header,
    /// unwraps and verifies it, and checks the body's frame structure. Decrypt with
    /// `decryptor.open_into(&ciphertext[body_offset..], buf)` into a buffer of
    /// `plaintext_len` bytes (for bindings that own that buffer).
    ///
    /// # Errors
    /// As [`Kms::decrypt_envelope`], except frame authentication.
    pub async fn open_message(
        &self,
        ciphertext: &[u8],
        expected: Option<&EncryptionContext>,
    ) -> Result<OpenedMessage> {
        let (header, body_offset) = parse_whole_header(ciphertext)?;
        let (decryptor, info) = self.open_envelope(&header, expected).await?;
        let plaintext_len =
            decryptor.plaintext_len(ciphertext.get(body_offset..).unwrap_or_default())?;
        Ok(OpenedMessage {
            decryptor,
            info,
            body_offset,
            plaintext_len,
        })
    }
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
    )?;
    let mut enc = Encryptor::new(b.message_key.expose(), b.header, b.frame_length)?;
    let mut out = Vec::new();
    enc.update(plaintext, &mut out)?;
    enc.finish(&mut out)?;
    Ok(out)
}

/// Hazmat, for test vectors only: opens an envelope with an explicit data key.
///
/// # Errors
/// As [`Kms::decrypt_envelope`] after the stanza step.
pub fn open_with_data_key(data_key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    let (key, header, n) = header_key_with_data_key(data_key, message)?;
    let mut dec = Decryptor::new(key.expose(), header.frame_length)?;
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
