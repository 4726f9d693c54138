//! A connected [`Kms`] ([`Kms::connect`], feature `wire`): the same API as an embedded
//! one, every action carried out by a strongroom gateway (`strongroom serve`) that the
//! client reaches over HTTPS with Alibaba's ACS3-HMAC-SHA256 signature under an
//! AccessKey (or STS credentials from AssumeRole). Moving from embedded to served is
//! one line: the faces call the same methods.
//!
//! What runs in the client: the envelope's frames (a message's plaintext and body
//! never leave it; each recipient's data key is wrapped by the gateway's Encrypt and
//! unwrapped by its Decrypt, so the client never holds a CMK), hashing for
//! AsymmetricSign over a message, GetRandomPassword, and the envelope data-key cache
//! when turned on. Authorisation, audit and the keys themselves stay in the gateway.
//! The HTTP exchange is the runtime's ([`HttpClient`]: `fetch` in JS, a native client
//! elsewhere); this file builds and signs the request and reads the answer.

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::api::sign::{
    Acs3Request, acs3_canonical_request, acs3_signature, payload_hash, percent_encode,
};
use crate::api::{OpenedEnvelopeKey, Request, Response};
use crate::backend::http::{HttpClient, HttpRequest};
use crate::context::EncryptionContext;
use crate::envelope::*;
use crate::error::{EnvelopeFailure, Error, Result};
use crate::kms::Kms;
use crate::secret::SecretBytes;

/// Where the gateway is and who the client is.
#[derive(Clone)]
pub struct Endpoint {
    /// `https://host[:port]` (or `http://` for a gateway on loopback).
    pub url: String,
    /// The AccessKeyId (a RAM user's, or the temporary one from AssumeRole).
    pub access_key_id: String,
    /// Its AccessKeySecret.
    pub access_key_secret: SecretBytes,
    /// The STS SecurityToken that comes with temporary credentials.
    pub security_token: Option<SecretBytes>,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A connected instance's gateway, credentials and HTTP client.
pub(crate) struct Connection {
    url: String,
    host: String,
    access_key_id: String,
    access_key_secret: SecretBytes,
    security_token: Option<String>,
    http: Arc<dyn HttpClient>,
    retry: RetryPolicy,
}

/// How a connected [`Kms`] resends a request the gateway refused for load. The
/// strongroom gateway answers `Throttling.User` (a per-AccessKey rate) and
/// `ServiceUnavailable` (too many requests in flight, or draining) before the action
/// runs, so every action, mutations included, is resent: after the wait the gateway
/// asks for (`x-acs-retry-after` / `Retry-After`), else after `base_delay_ms` doubled
/// at each attempt up to `max_delay_ms`, each wait plus up to half again at random
/// (so that many throttled clients do not come back together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never resend); at most 10.
    pub max_attempts: u32,
    /// The first wait when the gateway names none, ms.
    pub base_delay_ms: u64,
    /// The longest wait, ms (a wait the gateway asks for included).
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    /// 4 attempts; 100 ms, 200 ms, 400 ms (each up to half again) when the gateway
    /// names no wait; no wait over 5 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay_ms: 100,
            max_delay_ms: 5_000,
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `next` (2 for the first resend), without the jitter.
    fn delay_ms(&self, next: u32, asked: Option<u64>) -> u64 {
        let doubled = self
            .base_delay_ms
            .saturating_mul(1u64 << next.saturating_sub(2).min(20));
        asked.unwrap_or(doubled).min(self.max_delay_ms)
    }

    fn check(&self) -> Result<()> {
        if !(1..=10).contains(&self.max_attempts) {
            return Err(Error::param("Retry", "max_attempts must be 1 to 10"));
        }
        if self.max_delay_ms > 60_000 {
            return Err(Error::param("Retry", "max_delay_ms must be at most 60000"));
        }
        Ok(())
    }
}

/// Whether an answered error is a refusal for load, made before the action ran.
fn refused_for_load(e: &Error) -> bool {
    let code = e.code();
    code == "ServiceUnavailable" || code == "Throttling" || code.starts_with("Throttling.")
}

/// `scheme://authority` → (`scheme://authority/`, the Host header a client sends).
fn parse_url(url: &str) -> Result<(String, String)> {
    let bad = |why: &str| Error::param("Endpoint", why.to_string());
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("must be https://host[:port] (or http:// on loopback)"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(bad("must start with https:// or http://"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad(
            "must be scheme://host[:port] with no path, query or user",
        ));
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let host = rest
        .strip_suffix(default_port)
        .unwrap_or(rest)
        .to_ascii_lowercase();
    Ok((alloc::format!("{scheme}://{rest}/"), host))
}

/// `k=v&…`, every name and value percent-encoded as the signature expects.
fn form(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| alloc::format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Kms {
    /// A `Kms` whose actions run in the strongroom gateway at `endpoint.url`, signed
    /// with `endpoint`'s credentials and sent through `http`. It has the embedded
    /// API; what it may do is what the gateway's policies let those credentials do.
    /// Store operations (backups, passphrases, the audit sink) belong to the gateway
    /// and are refused here with `Rejected.Unsupported`.
    ///
    /// # Errors
    /// `InvalidParameter.Endpoint` for a URL that is not `https://host[:port]` or
    /// `http://host[:port]`; `InvalidParameter.AccessKeyId` when it is empty.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let http: std::sync::Arc<dyn HttpClient> = unimplemented!();
    /// let remote = Kms::connect(Env::system(), Endpoint { url: "https://kms.example:8443".into(), access_key_id: "LTAI…".into(), access_key_secret: SecretBytes::from_slice(b"secret"), security_token: None }, http).await?;
    /// # });
    /// ```
    pub async fn connect(
        env: crate::env::Env,
        endpoint: Endpoint,
        http: Arc<dyn HttpClient>,
    ) -> Result<Kms> {
        Kms::connect_with(env, endpoint, http, RetryPolicy::default()).await
    }

    /// As [`Kms::connect`], resending requests refused for load as `retry` says.
    ///
    /// # Errors
    /// As [`Kms::connect`]; `InvalidParameter.Retry` for a policy out of range.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let http: std::sync::Arc<dyn HttpClient> = unimplemented!();
    /// # let endpoint: Endpoint = unimplemented!();
    /// let remote = Kms::connect_with(Env::system(), endpoint, http, RetryPolicy { max_attempts: 6, ..RetryPolicy::default() }).await?;
    /// # });
    /// ```
    pub async fn connect_with(
        env: crate::env::Env,
        endpoint: Endpoint,
        http: Arc<dyn HttpClient>,
        retry: RetryPolicy,
    ) -> Result<Kms> {
        retry.check()?;
        let (url, host) = parse_url(&endpoint.url)?;
        if endpoint.access_key_id.trim().is_empty() {
            return Err(Error::param("AccessKeyId", "required"));
        }
        let security_token = match endpoint.security_token {
            Some(t) => Some(
                core::str::from_utf8(t.expose())
                    .map_err(|_| Error::param("SecurityToken", "must be text"))?
                    .to_string(),
            ),
            None => None,
        };
        let mut kms = Kms::memory(env, None).await?;
        kms.remote = Some(Arc::new(Connection {
            url,
            host,
            access_key_id: endpoint.access_key_id,
            access_key_secret: endpoint.access_key_secret,
            security_token,
            http,
            retry,
        }));
        Ok(kms)
    }

    /// One action on a connected instance.
    pub(crate) async fn call_remote(&self, c: &Connection, request: Request) -> Result<Response> {
        if request.action().family() == crate::api::Family::Store {
            return Err(Error::Unsupported(
                "a connected Kms has no store of its own: store operations (backups, images, passphrase, rekey, compaction) run where the gateway's store is",
            ));
        }
        match request {
            Request::BeginEnvelope(r) => self.remote_begin(c, r).await.map(Response::BeginEnvelope),
            Request::OpenEnvelope(r) => {
                let check = ContextCheck {
                    exact: r.expected.as_ref(),
                    required: r.required.as_ref(),
                    required_signer: r.required_signer.as_deref(),
                };
                self.remote_open(c, &r.header, check)
                    .await
                    .map(Response::OpenEnvelope)
            }
            Request::EncryptEnvelope(r) => {
                let plaintext = r.plaintext;
                let b = self
                    .remote_begin(
                        c,
                        crate::api::BeginEnvelopeRequest {
                            key_ids: r.key_ids,
                            encryption_context: r.encryption_context,
                            frame_length: r.frame_length,
                            plaintext_length: Some(plaintext.len() as u64),
                            signing_key_id: r.signing_key_id,
                        },
                    )
                    .await?;
                let enc =
                    Encryptor::new(b.message_key.expose(), b.header, b.frame_length, b.signer)?;
                let mut out = alloc::vec![0u8; enc.message_len(plaintext.len())];
                if let Some((signer, digest)) = enc.seal_frames_into(&plaintext, &mut out)? {
                    let sig = self.remote_sign(c, &signer, &digest).await?;
                    out.extend_from_slice(&crate::envelope::frames::trailer(&sig)?);
                }
                Ok(Response::EncryptEnvelope(
                    crate::api::EncryptEnvelopeResponse { ciphertext: out },
                ))
            }
            Request::DecryptEnvelope(r) => {
                let (header, body_offset) = parse_whole_header(&r.ciphertext)?;
                let check = ContextCheck {
                    exact: r.encryption_context.as_ref(),
                    required: r.required_encryption_context.as_ref(),
                    required_signer: r.required_signer.as_deref(),
                };
                let opened = self.remote_open(c, &header, check).await?;
                let decryptor = Decryptor::for_header(opened.message_key.expose(), &header)?;
                let body = r.ciphertext.get(body_offset..).unwrap_or_default();
                let mut plaintext = alloc::vec![0u8; decryptor.plaintext_len(body)?];
                decryptor.open_into(body, &mut plaintext)?;
                Ok(Response::DecryptEnvelope(DecryptEnvelopeResponse {
                    plaintext,
                    info: opened.info,
                }))
            }
            // The message is hashed here, as the embedded KMS hashes it (every
            // signing algorithm is over SHA-256); the gateway signs the digest.
            Request::AsymmetricSignMessage(r) => {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(&r.message).to_vec();
                let sign = Request::AsymmetricSign(crate::AsymmetricSignRequest {
                    key_id: r.key_id,
                    key_version_id: r.key_version_id,
                    algorithm: r.algorithm,
                    digest,
                });
                match self.send(c, &sign).await? {
                    Response::AsymmetricSign(s) => Ok(Response::AsymmetricSignMessage(s)),
                    _ => Err(Error::Internal("a response of another action")),
                }
            }
            other => self.send(c, &other).await,
        }
    }

    /// Sends one wire action and reads its answer.
    ///
    /// - An action that changes nothing (Encrypt, Decrypt, GenerateDataKey, Describe*,
    ///   List*, …) is sent once more, freshly signed, when the transport fails before
    ///   an answer arrives (a connection the gateway closed, a reset, a restart):
    ///   repeating it is harmless. A mutation is not — its first attempt may have been
    ///   carried out — and that failure is the caller's to judge.
    /// - Any action refused for load (`Throttling.*`, `ServiceUnavailable`: answered
    ///   before the action runs) is resent after a wait, as the connection's
    ///   [`RetryPolicy`] says, when the HTTP client can wait. Every attempt is signed
    ///   afresh (a new nonce and time).
    async fn send(&self, c: &Connection, request: &Request) -> Result<Response> {
        let mut transport_resent = request.action().mutates();
        let mut attempt = 1u32;
        loop {
            match self.send_once(c, request).await {
                Ok(r) => return Ok(r),
                Err(Sent::Transport(e)) if transport_resent => return Err(e),
                Err(Sent::Transport(_)) => transport_resent = true,
                Err(Sent::Answered(e, asked)) => {
                    if !refused_for_load(&e) || attempt >= c.retry.max_attempts {
                        return Err(e);
                    }
                    attempt += 1;
                    let wait = c.retry.delay_ms(attempt, asked);
                    let jitter = self.jitter_ms(wait / 2);
                    let Some(sleep) = c.http.sleep(wait.saturating_add(jitter)) else {
                        return Err(e);
                    };
                    sleep.await;
                }
            }
        }
    }

    /// A random wait of 0 to `max` ms (0 when the random source fails).
    fn jitter_ms(&self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut b = [0u8; 8];
        match self.env.fill(&mut b) {
            Ok(()) => u64::from_le_bytes(b) % (max + 1),
            Err(_) => 0,
        }
    }

    /// Signs and sends one wire action once.
    async fn send_once(
        &self,
        c: &Connection,
        request: &Request,
    ) -> core::result::Result<Response, Sent> {
        let (action, params) = request.to_wire().map_err(Sent::answered)?;
        let body = form(&params).into_bytes();
        let payload = payload_hash(&body);
        let date = crate::time::iso8601(self.env.now());
        let nonce = crate::ids::uuid_v4(&self.env).map_err(Sent::answered)?;
        let mut signed: Vec<(&str, String)> = alloc::vec![
            ("host", c.host.clone()),
            ("x-acs-action", action.name().to_string()),
            ("x-acs-content-sha256", payload.clone()),
            ("x-acs-date", date),
        ];
        if let Some(t) = &c.security_token {
            signed.push(("x-acs-security-token", t.clone()));
        }
        signed.push(("x-acs-signature-nonce", nonce));
        signed.push(("x-acs-version", action.api_version().to_string()));
        let header_values: Vec<(&str, Vec<&str>)> = signed
            .iter()
            .map(|(k, v)| (*k, alloc::vec![v.as_str()]))
            .collect();
        let canonical = acs3_canonical_request(&Acs3Request {
            method: "POST",
            path: "/",
            query: &[],
            headers: &header_values,
            payload_hash: &payload,
        });
        let signature = acs3_signature(c.access_key_secret.expose(), &canonical);
        let names: Vec<&str> = signed.iter().map(|(k, _)| *k).collect();
        let mut headers: Vec<(String, String)> = signed
            .iter()
            .filter(|(k, _)| *k != "host")
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        headers.push((
            "authorization".into(),
            alloc::format!(
                "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={signature}",
                c.access_key_id,
                names.join(";")
            ),
        ));
        headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        headers.push(("accept".into(), "application/json".into()));
        let answer = c
            .http
            .send(HttpRequest {
                method: "POST",
                url: c.url.clone(),
                headers,
                body,
            })
            .await
            .map_err(Sent::Transport)?;
        let json: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
            Sent::answered(Error::BackendProtocol(crate::api::client::intern(
                &alloc::format!(
                    "the gateway answered HTTP {} with a body that is not JSON",
                    answer.status
                ),
            )))
        })?;
        if answer.status != 200 {
            return Err(Sent::Answered(
                Error::from_wire(answer.status, &json),
                answer.retry_after_ms,
            ));
        }
        Response::from_wire(request, &json).map_err(Sent::answered)
    }

    /// The envelope's KMS part on a connected instance: a fresh data key (or the
    /// cache's) wrapped by the gateway's Encrypt under each recipient.
    async fn remote_begin(
        &self,
        c: &Connection,
        req: crate::api::BeginEnvelopeRequest,
    ) -> Result<EnvelopeStart> {
        let frame_length = crate::service::envelope::begin_checks(&req)?;
        for (i, k) in req.key_ids.iter().enumerate() {
            if req.key_ids.iter().skip(i + 1).any(|o| o == k) {
                return Err(Error::param("KeyIds", "a key appears twice"));
            }
        }
        let ctx = &req.encryption_context;
        let cached = req
            .plaintext_length
            .and_then(|n| self.cache_take_encrypt(&req.key_ids, ctx, n));
        let (data_key, stanzas) = match cached {
            Some(hit) => hit,
            None => {
                let mut dk = SecretBytes::zeroed(DATA_KEY_LEN);
                self.env.fill(dk.expose_mut())?;
                // One Encrypt per recipient, all in flight together; the first error
                // (in recipient order) is the answer.
                let wraps: Vec<Request> = req
                    .key_ids
                    .iter()
                    .map(|id| {
                        Request::Encrypt(crate::EncryptRequest {
                            key_id: id.clone(),
                            plaintext: dk.expose().to_vec(),
                            encryption_context: ctx.clone(),
                        })
                    })
                    .collect();
                let mut wraps = wraps;
                let answers =
                    crate::sync::join_all(wraps.iter().map(|w| self.send(c, w)).collect()).await;
                // The requests' copies of the data key go now, not with the allocator.
                for w in &mut wraps {
                    if let Request::Encrypt(r) = w {
                        zeroize::Zeroize::zeroize(&mut r.plaintext);
                    }
                }
                let mut stanzas = Vec::with_capacity(answers.len());
                for a in answers {
                    let Response::Encrypt(r) = a? else {
                        return Err(Error::Internal("a response of another action"));
                    };
                    stanzas.push(Stanza {
                        kind: STANZA_KMS_BLOB,
                        body: r.ciphertext_blob,
                    });
                }
                if let Some(n) = req.plaintext_length {
                    self.cache_put_encrypt(&req.key_ids, ctx, &dk, &stanzas, n);
                }
                (dk, stanzas)
            }
        };
        let signer = match &req.signing_key_id {
            Some(k) => Some(self.remote_signer(c, k).await?),
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

    /// A signed message's signer, from the gateway's GetPublicKey of its primary
    /// version (the gateway authorises GetPublicKey; AsymmetricSign at the end).
    async fn remote_signer(&self, c: &Connection, key_id: &str) -> Result<Signer> {
        let get = Request::GetPublicKey(crate::api::GetPublicKeyRequest {
            key_id: key_id.into(),
            key_version_id: None,
        });
        let Response::GetPublicKey(pk) = self.send(c, &get).await? else {
            return Err(Error::Internal("a response of another action"));
        };
        if !crate::envelope::is_p256_spki(&pk.public_key_der) {
            return Err(Error::param(
                "SigningKeyId",
                "the signing key must be an EC_P256 key",
            ));
        }
        Ok(Signer {
            key_id: pk.key_id,
            key_version_id: pk.key_version_id,
            public_key: pk.public_key_der,
        })
    }

    /// The gateway's AsymmetricSign of a signed message's chain digest.
    pub(crate) async fn remote_sign(
        &self,
        c: &Connection,
        signer: &Signer,
        digest: &[u8; 32],
    ) -> Result<Vec<u8>> {
        let sign = Request::AsymmetricSign(crate::AsymmetricSignRequest {
            key_id: signer.key_id.clone(),
            key_version_id: Some(signer.key_version_id.clone()),
            algorithm: crate::asym::SigningAlgorithm::EcdsaSha256,
            digest: digest.to_vec(),
        });
        match self.send(c, &sign).await? {
            Response::AsymmetricSign(s) => Ok(s.value),
            _ => Err(Error::Internal("a response of another action")),
        }
    }

    /// As [`Kms::reader_signer`] on a connected instance: the gateway's GetPublicKey
    /// tells whether the signer is a key of that account (a key it does not hold, or
    /// that this caller may not read, is not known).
    async fn remote_reader_signer(
        &self,
        c: &Connection,
        header: &EnvelopeHeader,
        required: Option<&str>,
    ) -> Result<Option<crate::envelope::EnvelopeSigner>> {
        let mismatch = || fail(EnvelopeFailure::SignerMismatch);
        let Some(s) = &header.signer else {
            return crate::envelope::judge_signer(header, None, required.map(|_| false));
        };
        let get = Request::GetPublicKey(crate::api::GetPublicKeyRequest {
            key_id: s.key_id.clone(),
            key_version_id: Some(s.key_version_id.clone()),
        });
        let store_pk = match self.send(c, &get).await {
            Ok(Response::GetPublicKey(pk)) => Some(pk.public_key_der),
            Err(e) if e.code() == "Forbidden.KeyVersionNotFound" => return Err(mismatch()),
            Err(e) if e.kind() == "Backend" => return Err(e),
            _ => None,
        };
        let mut same = None;
        if let Some(r) = required {
            // The required key as the gateway resolves it (an alias or ARN included).
            let get = Request::GetPublicKey(crate::api::GetPublicKeyRequest {
                key_id: r.into(),
                key_version_id: Some(s.key_version_id.clone()),
            });
            same = Some(match self.send(c, &get).await {
                Ok(Response::GetPublicKey(pk)) => {
                    pk.key_id == s.key_id && pk.public_key_der == s.public_key
                }
                Err(e) if e.kind() == "Backend" => return Err(e),
                _ => false,
            });
        }
        crate::envelope::judge_signer(header, store_pk.as_deref(), same)
    }

    /// Opens a header on a connected instance: each stanza the gateway has a key for
    /// is unwrapped by its Decrypt (a key it does not hold is not this reader's; an
    /// unreachable gateway fails the call at once).
    async fn remote_open(
        &self,
        c: &Connection,
        header: &EnvelopeHeader,
        check: ContextCheck<'_>,
    ) -> Result<OpenedEnvelopeKey> {
        let ctx: &EncryptionContext = &header.encryption_context;
        check.check(ctx)?;
        let signer = self
            .remote_reader_signer(c, header, check.required_signer)
            .await?;
        let mut first_failure: Option<Error> = None;
        for s in &header.stanzas {
            if s.key().is_none() {
                continue;
            }
            let opened = match self.cache_get_decrypt(&s.body, ctx) {
                Some(hit) => Ok(hit),
                None => {
                    let unwrap = Request::Decrypt(crate::DecryptRequest {
                        ciphertext_blob: s.body.clone(),
                        encryption_context: ctx.clone(),
                    });
                    match self.send(c, &unwrap).await {
                        Ok(Response::Decrypt(r)) if r.plaintext.len() == DATA_KEY_LEN => {
                            self.cache_put_decrypt(
                                &s.body,
                                ctx,
                                &r.plaintext,
                                &r.key_id,
                                &r.key_version_id,
                            );
                            Ok((r.plaintext, r.key_id, r.key_version_id))
                        }
                        Ok(_) => Err(Error::InvalidCiphertext),
                        Err(e) => Err(e),
                    }
                }
            };
            match opened {
                Ok((dk, key_id, key_version_id)) => {
                    return Ok(OpenedEnvelopeKey {
                        message_key: verify_header(dk.expose(), header)?,
                        info: EnvelopeInfo {
                            key_id,
                            key_version_id,
                            encryption_context: ctx.clone(),
                            message_id: header.message_id,
                            signer,
                        },
                    });
                }
                // Not a key the gateway holds: another reader's stanza.
                Err(e) if e.code() == "Forbidden.KeyNotFound" => {}
                Err(e) if e.kind() == "Backend" => return Err(e),
                Err(e) => {
                    if first_failure.is_none() {
                        first_failure = Some(if e.code() == "Forbidden.KeyVersionNotFound" {
                            fail(EnvelopeFailure::KeyVersionNotFound)
                        } else {
                            e
                        });
                    }
                }
            }
        }
        Err(first_failure.unwrap_or(fail(EnvelopeFailure::NoRecipient)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls() {
        let ok = |u: &str| parse_url(u).map_err(|e| e.code());
        assert_eq!(
            ok("https://127.0.0.1:8443"),
            Ok(("https://127.0.0.1:8443/".into(), "127.0.0.1:8443".into()))
        );
        assert_eq!(
            ok("https://KMS.example:443/"),
            Ok(("https://KMS.example:443/".into(), "kms.example".into()))
        );
        assert_eq!(
            ok("http://localhost:80"),
            Ok(("http://localhost:80/".into(), "localhost".into()))
        );
        for bad in [
            "kms.example",
            "ftp://x",
            "https://",
            "https://h/path",
            "https://u@h",
        ] {
            assert_eq!(ok(bad), Err("InvalidParameter.Endpoint"), "{bad}");
        }
    }
}

/// How one attempt failed: before any answer (the transport), or with one (and the
/// wait the gateway asked for, if it did).
enum Sent {
    Transport(Error),
    Answered(Error, Option<u64>),
}

impl Sent {
    fn answered(e: Error) -> Sent {
        Sent::Answered(e, None)
    }
}
