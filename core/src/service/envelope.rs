//! Envelope service code: [`Kms::envelope_begin`] / [`Kms::open_envelope_key`] (the
//! KMS part of every envelope message: data key, recipients, header, commitment),
//! the one-shot [`Kms::encrypt_envelope`] / [`Kms::decrypt_envelope`], the streaming
//! starts, and the data-key cache. The byte format lives in `crate::envelope`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::context::EncryptionContext;
use crate::envelope::cache::{DataKeyCacheConfig, DecEntry, EncEntry, digest};
use crate::envelope::*;
use crate::error::{EnvelopeFailure, Error, Result};
use crate::kms::Kms;
use crate::secret::SecretBytes;

/// A new message's frame length (the one-shot default when its length is known, the
/// streaming one otherwise) and its recipients' count, checked as every
/// BeginEnvelope checks them, embedded or connected.
pub(crate) fn begin_checks(req: &crate::api::BeginEnvelopeRequest) -> Result<u32> {
    let default = if req.plaintext_length.is_some() {
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
    Ok(frame_length)
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
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let mut enc = kms.envelope_encryptor(&EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], ..Default::default() }, None).await?;
    /// # });
    /// ```
    pub async fn envelope_encryptor(
        &self,
        req: &EncryptEnvelopeRequest,
        plaintext_length: Option<u64>,
    ) -> Result<Encryptor> {
        let b = self.envelope_begin(req, plaintext_length).await?;
        Encryptor::new(b.message_key.expose(), b.header, b.frame_length, b.signer)
    }

    /// Ends a message begun by [`Kms::envelope_encryptor`]: the final frame, and for a
    /// signed message (`signing_key_id`) the signature trailer, made by AsymmetricSign
    /// with the header's key version.
    ///
    /// # Errors
    /// As [`Encryptor::update`]; for a signed message what AsymmetricSign gives
    /// (`Forbidden.KeyDisabled` if the signing key was disabled meanwhile, backend
    /// failures).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let mut enc = kms.envelope_encryptor(&EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], ..Default::default() }, None).await?;
    /// # let mut out = Vec::new();
    /// # enc.update(b"streamed", &mut out)?;
    /// kms.finish_envelope(enc, &mut out).await?;
    /// # });
    /// ```
    pub async fn finish_envelope(&self, enc: Encryptor, out: &mut Vec<u8>) -> Result<()> {
        if let Some((signer, digest)) = enc.finish_frames(out)? {
            let sig = self.sign_envelope(&signer, &digest).await?;
            out.extend_from_slice(&crate::envelope::frames::trailer(&sig)?);
        }
        Ok(())
    }

    /// The signature of a signed message's chain digest, by the header's key version.
    pub(crate) async fn sign_envelope(
        &self,
        signer: &Signer,
        digest: &[u8; 32],
    ) -> Result<Vec<u8>> {
        #[cfg(feature = "wire")]
        if let Some(c) = &self.remote {
            return self.remote_sign(c, signer, digest).await;
        }
        Ok(self
            .asymmetric_sign_impl(
                &signer.key_id,
                Some(&signer.key_version_id),
                crate::asym::SigningAlgorithm::EcdsaSha256,
                crate::asym::SignInput::Digest(digest),
            )
            .await?
            .value)
    }

    /// A signed message's signer: an EC_P256 SIGN/VERIFY key's primary version and its
    /// public key (the key was resolved and authorised as AsymmetricSign).
    pub(crate) async fn envelope_signer(&self, key_id: &str) -> Result<Signer> {
        let bad = |why: &str| Error::param("SigningKeyId", String::from(why));
        let (spec, usage) = self.with_key(key_id, |k| Ok((k.spec, k.usage)))?;
        if spec != crate::vocab::KeySpec::EcP256 {
            return Err(bad("the signing key must be an EC_P256 key"));
        }
        if usage != crate::vocab::KeyUsage::SignVerify {
            return Err(bad("the signing key must have usage SIGN/VERIFY"));
        }
        let pk = self.get_public_key_impl(key_id, None).await?;
        Ok(Signer {
            key_id: pk.key_id,
            key_version_id: pk.key_version_id,
            public_key: pk.public_key_der,
        })
    }

    /// The signer a reader reports for `header`, after checking it against the
    /// reader's store: a KeyId of this store with another public key (or a version it
    /// does not hold) is `InvalidCiphertext.SignerMismatch`; so is a message not signed
    /// by `required` (a key of this store) when one is required.
    pub(crate) async fn reader_signer(
        &self,
        header: &EnvelopeHeader,
        required: Option<&str>,
    ) -> Result<Option<EnvelopeSigner>> {
        let Some(s) = &header.signer else {
            return judge_signer(header, None, required.map(|_| false));
        };
        let required_id = match required {
            Some(r) => Some(self.resolve(r)?),
            None => None,
        };
        let held = self.resolve(&s.key_id).ok().filter(|id| self.holds_key(id));
        let store_pk = match &held {
            Some(id) => match self.get_public_key_impl(id, Some(&s.key_version_id)).await {
                Ok(r) => Some(r.public_key_der),
                Err(Error::KeyVersionNotFound { .. }) => {
                    return Err(fail(EnvelopeFailure::SignerMismatch));
                }
                // Not Enabled, or not an asymmetric key: it does not vouch.
                Err(_) => None,
            },
            None => None,
        };
        let same = required_id.map(|r| held.as_deref() == Some(r.as_str()));
        judge_signer(header, store_pk.as_deref(), same)
    }

    /// The header and per-message key of a new envelope message, for bindings that
    /// run the frame layer (docs/FORMAT.md §Frames) on a platform AES-GCM. Prefer
    /// [`Kms::envelope_encryptor`].
    ///
    /// # Errors
    /// As [`Kms::envelope_encryptor`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let start = kms.envelope_begin(&EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], ..Default::default() }, Some(5)).await?;
    /// # });
    /// ```
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
            signing_key_id: req.signing_key_id.clone(),
        };
        crate::api::as_owner!(self, BeginEnvelope, begin)
    }

    pub(crate) async fn envelope_begin_impl(
        &self,
        req: crate::api::BeginEnvelopeRequest,
    ) -> Result<EnvelopeStart> {
        let plaintext_length = req.plaintext_length;
        let frame_length = begin_checks(&req)?;
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
        let signer = match &req.signing_key_id {
            Some(k) => Some(self.envelope_signer(k).await?),
            None => None,
        };
        begin_with(
            &self.env,
            data_key.expose(),
            &stanzas,
            ctx,
            frame_length,
            signer,
        )
    }

    /// EncryptEnvelope: the whole message for `req.plaintext`.
    ///
    /// # Errors
    /// As [`Kms::envelope_encryptor`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let message = kms.encrypt_envelope(EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], plaintext: b"any size".to_vec(), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn encrypt_envelope(&self, req: EncryptEnvelopeRequest) -> Result<Vec<u8>> {
        crate::api::as_owner!(self, EncryptEnvelope, req).map(|r| r.ciphertext)
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
                signing_key_id: req.signing_key_id,
            })
            .await?;
        let enc = Encryptor::new(b.message_key.expose(), b.header, b.frame_length, b.signer)?;
        let mut out = alloc::vec![0u8; enc.message_len(req.plaintext.len())];
        if let Some((signer, digest)) = enc.seal_frames_into(&req.plaintext, &mut out)? {
            let sig = self.sign_envelope(&signer, &digest).await?;
            out.extend_from_slice(&crate::envelope::frames::trailer(&sig)?);
        }
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
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let message = kms.encrypt_envelope(EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], plaintext: b"any size".to_vec(), ..Default::default() }).await?;
    /// let (decryptor, info) = kms.open_envelope(&envelope::parse_whole_header(&message)?.0, None::<&EncryptionContext>).await?;
    /// # });
    /// ```
    pub async fn open_envelope(
        &self,
        header: &EnvelopeHeader,
        expected: impl Into<ContextCheck<'_>>,
    ) -> Result<(Decryptor, EnvelopeInfo)> {
        let (key, info) = self.open_envelope_key(header, expected).await?;
        Ok((Decryptor::for_header(key.expose(), header)?, info))
    }

    /// As [`Kms::open_envelope`], but returns the per-message key, for bindings that
    /// run the frame layer on a platform AES-GCM. The header is authenticated.
    ///
    /// # Errors
    /// As [`Kms::open_envelope`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let message = kms.encrypt_envelope(EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], plaintext: b"any size".to_vec(), ..Default::default() }).await?;
    /// let (message_key, info) = kms.open_envelope_key(&envelope::parse_whole_header(&message)?.0, None::<&EncryptionContext>).await?;
    /// # });
    /// ```
    pub async fn open_envelope_key(
        &self,
        header: &EnvelopeHeader,
        expected: impl Into<ContextCheck<'_>>,
    ) -> Result<(SecretBytes, EnvelopeInfo)> {
        let check = expected.into();
        let open = crate::api::OpenEnvelopeRequest {
            header: header.clone(),
            expected: check.exact.cloned(),
            required: check.required.cloned(),
            required_signer: check.required_signer.map(String::from),
        };
        crate::api::as_owner!(self, OpenEnvelope, Box::new(open)).map(|o| (o.message_key, o.info))
    }

    /// Opens a header for the call `cx`: each stanza's key is resolved and admitted
    /// (authorised) in turn; a key the caller may not use counts as that stanza's
    /// failure, and the next stanza is tried.
    pub(crate) async fn open_envelope_key_in(
        &self,
        cx: &crate::api::dispatch::Cx<'_>,
        header: &EnvelopeHeader,
        check: ContextCheck<'_>,
    ) -> Result<(SecretBytes, EnvelopeInfo)> {
        let ctx = &header.encryption_context;
        check.check(ctx)?;
        // The signer is checked on the header, before any data key is unwrapped.
        let signer = self.reader_signer(header, check.required_signer).await?;
        let (dk, key_id, key_version_id) = self.unwrap_data_key_in(cx, header).await?;
        Ok((
            verify_header(dk.expose(), header)?,
            EnvelopeInfo {
                key_id,
                key_version_id,
                encryption_context: ctx.clone(),
                message_id: header.message_id,
                signer,
            },
        ))
    }

    /// The data key of a header from the first stanza this store can open for the
    /// call `cx` (with its key and version): each stanza's key is resolved and
    /// admitted in turn; a key the caller may not use counts as that stanza's failure,
    /// and the next stanza is tried. The header is not yet authenticated.
    async fn unwrap_data_key_in(
        &self,
        cx: &crate::api::dispatch::Cx<'_>,
        header: &EnvelopeHeader,
    ) -> Result<(SecretBytes, String, String)> {
        let ctx = &header.encryption_context;
        cx.set_context(ctx);
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
                Ok(opened) => return Ok(opened),
                Err(e) => {
                    if first_failure.is_none() {
                        // Every failure to open a message is in the InvalidCiphertext
                        // family: a missing key version is one too (its code stays).
                        first_failure = Some(match e {
                            Error::KeyVersionNotFound { .. } => {
                                fail(EnvelopeFailure::KeyVersionNotFound)
                            }
                            other => other,
                        });
                    }
                }
            }
        }
        Err(first_failure.unwrap_or(fail(EnvelopeFailure::NoRecipient)))
    }

    /// ReEncryptEnvelope: the message's data key, unwrapped with the first recipient
    /// stanza this store (and caller) can open, wrapped again — under the destination
    /// keys' current primary versions, or, with none given, under each recipient key
    /// of this store again (stanzas for keys elsewhere kept) — in a new header with
    /// the same message id, context, frame length and commitment. The frames are not
    /// read: the new message is the new header followed by the old one's bytes after
    /// `replaced_length`. After a rotation this moves messages to the new key version;
    /// with other keys, it moves them off a key to be retired.
    ///
    /// # Errors
    /// As [`Kms::decrypt_envelope`] for the header (`InvalidCiphertext.Truncated` when
    /// `message_header` ends inside it); `Rejected.Unsupported` for a signed message
    /// (suite 0x0002: its signature covers the header; decrypt and encrypt it again);
    /// `InvalidParameter.KeyIds` (more than 16, or a key twice); as [`Kms::encrypt`]
    /// for each destination key.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let message = kms.encrypt_envelope(EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], plaintext: b"any size".to_vec(), ..Default::default() }).await?;
    /// kms.create_key_version(&key_id).await?;
    /// let r = kms.re_encrypt_envelope(ReEncryptEnvelopeRequest { message_header: message.clone(), ..Default::default() }).await?;
    /// let moved = [&r.header[..], &message[r.replaced_length as usize..]].concat();
    /// # });
    /// ```
    pub async fn re_encrypt_envelope(
        &self,
        req: ReEncryptEnvelopeRequest,
    ) -> Result<ReEncryptEnvelopeResponse> {
        crate::api::as_owner!(self, ReEncryptEnvelope, req)
    }

    pub(crate) async fn re_encrypt_envelope_in(
        &self,
        cx: &crate::api::dispatch::Cx<'_>,
        req: ReEncryptEnvelopeRequest,
    ) -> Result<ReEncryptEnvelopeResponse> {
        let (header, old_len) = parse_whole_header(&req.message_header)?;
        if header.signer.is_some() {
            return Err(Error::Unsupported(
                "a signed message's signature covers its header, so its recipients cannot change: decrypt it and encrypt it again",
            ));
        }
        let ctx = &header.encryption_context;
        ContextCheck::from(req.encryption_context.as_ref()).check(ctx)?;
        let (dk, source_key_id, source_key_version_id) =
            self.unwrap_data_key_in(cx, &header).await?;
        // Only an authentic header is wrapped again.
        verify_header(dk.expose(), &header)?;
        let mut stanzas = Vec::new();
        let mut key_ids = Vec::new();
        if req.destination_key_ids.is_empty() {
            for s in &header.stanzas {
                match s.key() {
                    Some((key_id, _)) if self.holds_key(&key_id) => {
                        {
                            let st = self.state.lock();
                            cx.admit_key(&st, &key_id)?;
                        }
                        let r = self.seal_blob(&key_id, dk.expose(), ctx).await?;
                        key_ids.push(r.key_id);
                        stanzas.push(Stanza {
                            kind: STANZA_KMS_BLOB,
                            body: r.ciphertext_blob,
                        });
                    }
                    other => {
                        if let Some((key_id, _)) = other {
                            key_ids.push(key_id);
                        }
                        stanzas.push(s.clone());
                    }
                }
            }
        } else {
            // The dispatch resolved and admitted each destination (`KeyIds`).
            for id in &req.destination_key_ids {
                if key_ids.contains(id) {
                    return Err(Error::param("KeyIds", "a key appears twice"));
                }
                let r = self.seal_blob(id, dk.expose(), ctx).await?;
                key_ids.push(r.key_id);
                stanzas.push(Stanza {
                    kind: STANZA_KMS_BLOB,
                    body: r.ciphertext_blob,
                });
            }
        }
        // The same message id, context, frame length — so the same message key and
        // commitment, and the frames stay valid —, the new stanzas, a new header tag.
        let rebuilt = build_header(
            dk.expose(),
            &header.message_id,
            &stanzas,
            ctx,
            header.frame_length,
            None,
        )?;
        Ok(ReEncryptEnvelopeResponse {
            header: rebuilt.header,
            replaced_length: u32::try_from(old_len)
                .map_err(|_| fail(EnvelopeFailure::Malformed("a header over 4 GiB")))?,
            source_key_id,
            source_key_version_id,
            key_ids,
        })
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
            .decrypt_impl(crate::service::crypto::DecryptRequest {
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
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let message = kms.encrypt_envelope(EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], plaintext: b"any size".to_vec(), ..Default::default() }).await?;
    /// let opened = kms.decrypt_envelope(DecryptEnvelopeRequest { ciphertext: message, ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn decrypt_envelope(
        &self,
        req: DecryptEnvelopeRequest,
    ) -> Result<DecryptEnvelopeResponse> {
        crate::api::as_owner!(self, DecryptEnvelope, req)
    }

    pub(crate) async fn decrypt_envelope_in(
        &self,
        cx: &crate::api::dispatch::Cx<'_>,
        req: DecryptEnvelopeRequest,
    ) -> Result<DecryptEnvelopeResponse> {
        let (header, body_offset) = parse_whole_header(&req.ciphertext)?;
        let check = ContextCheck {
            exact: req.encryption_context.as_ref(),
            required: req.required_encryption_context.as_ref(),
            required_signer: req.required_signer.as_deref(),
        };
        let (key, info) = self.open_envelope_key_in(cx, &header, check).await?;
        let decryptor = Decryptor::for_header(key.expose(), &header)?;
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
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let message = kms.encrypt_envelope(EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], plaintext: b"any size".to_vec(), ..Default::default() }).await?;
    /// let opened = kms.open_message(&message, None::<&EncryptionContext>).await?;
    /// # });
    /// ```
    pub async fn open_message(
        &self,
        ciphertext: &[u8],
        expected: impl Into<ContextCheck<'_>>,
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

impl Kms {
    /// Turns the envelope data-key cache on (with these limits) or off (`None`).
    /// Either way every entry held so far is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.set_data_key_cache(Some(DataKeyCacheConfig::default()));
    /// # });
    /// ```
    pub fn set_data_key_cache(&self, config: Option<DataKeyCacheConfig>) {
        let mut c = self.data_key_cache.lock();
        c.enc.clear();
        c.dec.clear();
        c.config = config.filter(|c| c.capacity > 0 && c.max_messages > 0 && c.max_age_ms > 0);
    }

    /// The cache's current limits, if it is on.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// assert!(kms.data_key_cache().is_none());
    /// # });
    /// ```
    #[must_use]
    pub fn data_key_cache(&self) -> Option<DataKeyCacheConfig> {
        self.data_key_cache.lock().config
    }

    pub(crate) fn cache_take_encrypt(
        &self,
        key_ids: &[String],
        ctx: &EncryptionContext,
        bytes: u64,
    ) -> Option<(SecretBytes, Vec<Stanza>)> {
        let now = self.env.now();
        let mut c = self.data_key_cache.lock();
        c.expire(now);
        let cfg = c.config?;
        let aad = ctx.aad();
        let pos = c
            .enc
            .iter()
            .position(|e| e.key_ids == key_ids && e.ctx == aad)?;
        let e = c.enc.get_mut(pos)?;
        if e.messages + 1 > cfg.max_messages || e.bytes.saturating_add(bytes) > cfg.max_bytes {
            c.enc.remove(pos);
            return None;
        }
        e.messages += 1;
        e.bytes += bytes;
        Some((e.data_key.clone(), e.stanzas.clone()))
    }

    pub(crate) fn cache_put_encrypt(
        &self,
        key_ids: &[String],
        ctx: &EncryptionContext,
        data_key: &SecretBytes,
        stanzas: &[Stanza],
        bytes: u64,
    ) {
        let now = self.env.now();
        let mut c = self.data_key_cache.lock();
        let Some(cfg) = c.config else { return };
        if bytes > cfg.max_bytes {
            return;
        }
        let aad = ctx.aad();
        c.enc.retain(|e| !(e.key_ids == key_ids && e.ctx == aad));
        if c.enc.len() >= cfg.capacity {
            c.enc.remove(0);
        }
        c.enc.push(EncEntry {
            key_ids: key_ids.to_vec(),
            ctx: aad,
            data_key: data_key.clone(),
            stanzas: stanzas.to_vec(),
            created: now,
            messages: 1,
            bytes,
        });
    }

    pub(crate) fn cache_get_decrypt(
        &self,
        body: &[u8],
        ctx: &EncryptionContext,
    ) -> Option<(SecretBytes, String, String)> {
        let now = self.env.now();
        let mut c = self.data_key_cache.lock();
        c.expire(now);
        c.config?;
        let d = digest(body, ctx);
        let e = c.dec.iter_mut().find(|e| e.digest == d)?;
        e.messages += 1;
        Some((
            e.data_key.clone(),
            e.key_id.clone(),
            e.key_version_id.clone(),
        ))
    }

    pub(crate) fn cache_put_decrypt(
        &self,
        body: &[u8],
        ctx: &EncryptionContext,
        data_key: &SecretBytes,
        key_id: &str,
        key_version_id: &str,
    ) {
        let now = self.env.now();
        let mut c = self.data_key_cache.lock();
        let Some(cfg) = c.config else { return };
        let d = digest(body, ctx);
        c.dec.retain(|e| e.digest != d);
        if c.dec.len() >= cfg.capacity {
            c.dec.remove(0);
        }
        c.dec.push(DecEntry {
            digest: d,
            data_key: data_key.clone(),
            key_id: key_id.into(),
            key_version_id: key_version_id.into(),
            created: now,
            messages: 1,
        });
    }
}
