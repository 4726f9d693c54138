//! The framed body: incremental, `no_std`, memory bounded by one frame.
//!
//! ```text
//! regular frame: u8 0x00, F bytes ciphertext, [16] tag
//! final frame:   u8 0x01, u32 L (0 ..= F), L bytes ciphertext, [16] tag
//! ```
//! Frame `i` (counting from 1) is AES-256-GCM under the message key with nonce
//! `[0,0,0] || u64 i || type` and no AAD, so a reordered, dropped, duplicated or
//! re-typed frame fails its tag, and a message that stops before a final frame is
//! truncated.

use alloc::vec::Vec;

use zeroize::{Zeroize, Zeroizing};

use super::format::{
    FRAME_FINAL, FRAME_REGULAR, MAX_FRAMES, NONCE_HEADER, SIGNATURE_LABEL, SIGNATURE_LEN, Signer,
    TAG_LEN, nonce,
};
use crate::error::{EnvelopeFailure, Error, Result};

/// The hash chain a suite-0x0002 signature covers (docs/FORMAT.md §Suite 0x0002):
/// `h_0 = SHA-256(label ‖ header)`, `h_i = SHA-256(h_(i−1) ‖ frame i)`.
#[derive(Clone)]
pub(crate) struct Chain([u8; 32]);

impl Chain {
    pub(crate) fn new(header: &[u8]) -> Chain {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(SIGNATURE_LABEL);
        h.update(header);
        Chain(h.finalize().into())
    }

    pub(crate) fn absorb(&mut self, frame: &[u8]) {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(self.0);
        h.update(frame);
        self.0 = h.finalize().into();
    }

    /// What AsymmetricSign signs: the SHA-256 digest of `h_n`.
    pub(crate) fn digest(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(self.0).into()
    }
}

/// The signature trailer: `u16 len ‖ DER signature`.
pub(crate) fn trailer(signature: &[u8]) -> Result<Vec<u8>> {
    if !SIGNATURE_LEN.contains(&signature.len()) {
        return Err(Error::BackendProtocol(
            "an ECDSA P-256 signature of unexpected length",
        ));
    }
    let mut t = Vec::with_capacity(2 + signature.len());
    t.extend_from_slice(&u16::try_from(signature.len()).unwrap_or(0).to_be_bytes());
    t.extend_from_slice(signature);
    Ok(t)
}

/// How long a whole trailer at the start of `b` is, once its length field is there.
fn trailer_total(b: &[u8]) -> Option<usize> {
    let l = b.get(..2)?;
    Some(
        2 + usize::from(u16::from_be_bytes([
            l.first().copied()?,
            l.get(1).copied()?,
        ])),
    )
}

/// Checks a whole trailer (`u16 len ‖ signature`, nothing more) against the chain.
fn verify_trailer(chain: &Chain, public_key: &[u8], t: &[u8]) -> Result<()> {
    let bad = || Error::Envelope(EnvelopeFailure::Signature);
    let sig = t.get(2..).ok_or_else(bad)?;
    if trailer_total(t) != Some(t.len()) || !SIGNATURE_LEN.contains(&sig.len()) {
        return Err(bad());
    }
    match crate::asym::verify(
        crate::vocab::KeySpec::EcP256,
        public_key,
        crate::asym::SigningAlgorithm::EcdsaSha256,
        &chain.digest(),
        sig,
    ) {
        Ok(true) => Ok(()),
        // No ECDSA in this build: say so rather than blame the message.
        Err(e) if e.code().starts_with("Rejected.") => Err(e),
        Ok(false) | Err(_) => Err(bad()),
    }
}

/// AES-256-GCM with detached tags, in place. With the `aws-lc` feature (native builds)
/// it is AWS-LC's through aws-lc-rs (assembly: AES-NI, VAES with AVX2 or AVX-512,
/// CLMUL); otherwise RustCrypto's `aes-gcm` (wasm32 and `no_std` builds). Both are
/// checked against the same vectors.
struct Gcm {
    #[cfg(feature = "aws-lc")]
    k: aws_lc_rs::aead::LessSafeKey,
    #[cfg(not(feature = "aws-lc"))]
    k: aes_gcm::Aes256Gcm,
    /// The key again, for the host's AES-256-GCM ([`crate::aead::PlatformGcm`]) when
    /// one is installed (long inputs only).
    raw: Zeroizing<[u8; 32]>,
}

impl Gcm {
    fn new(key: &[u8]) -> Result<Self> {
        #[cfg(feature = "aws-lc")]
        let k = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key)
            .map(aws_lc_rs::aead::LessSafeKey::new)
            .map_err(|_| Error::BackendProtocol("message key length"))?;
        #[cfg(not(feature = "aws-lc"))]
        let k = <aes_gcm::Aes256Gcm as aes_gcm::aead::KeyInit>::new_from_slice(key)
            .map_err(|_| Error::BackendProtocol("message key length"))?;
        let mut raw = Zeroizing::new([0u8; 32]);
        raw.copy_from_slice(
            key.get(..32)
                .ok_or(Error::BackendProtocol("message key length"))?,
        );
        Ok(Gcm { k, raw })
    }

    /// Encrypts `buf` in place; returns the tag.
    fn seal(&self, n: [u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        if let Some(tag) = crate::aead::platform_seal(&*self.raw, &n, aad, buf) {
            return Ok(tag);
        }
        #[cfg(feature = "aws-lc")]
        let t = self
            .k
            .seal_in_place_separate_tag(
                aws_lc_rs::aead::Nonce::assume_unique_for_key(n),
                aws_lc_rs::aead::Aad::from(aad),
                buf,
            )
            .map_err(|_| Error::BackendProtocol("frame too large for AES-GCM"))?;
        #[cfg(not(feature = "aws-lc"))]
        let t = aes_gcm::aead::AeadInOut::encrypt_inout_detached(
            &self.k,
            &aes_gcm::Nonce::from(n),
            aad,
            buf.into(),
        )
        .map_err(|_| Error::BackendProtocol("frame too large for AES-GCM"))?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(t.as_ref());
        Ok(out)
    }

    /// Decrypts `buf` in place if `tag` verifies; on failure `buf` is zeroed.
    fn open(&self, n: [u8; 12], aad: &[u8], buf: &mut [u8], tag: [u8; TAG_LEN]) -> bool {
        if let Some(ok) = crate::aead::platform_open(&*self.raw, &n, aad, buf, &tag) {
            return ok;
        }
        #[cfg(feature = "aws-lc")]
        let ok = self
            .k
            .open_in_place_separate_tag(
                aws_lc_rs::aead::Nonce::assume_unique_for_key(n),
                aws_lc_rs::aead::Aad::from(aad),
                &tag,
                buf,
            )
            .is_ok();
        #[cfg(not(feature = "aws-lc"))]
        let ok = aes_gcm::aead::AeadInOut::decrypt_inout_detached(
            &self.k,
            &aes_gcm::Nonce::from(n),
            aad,
            (&mut *buf).into(),
            &aes_gcm::aead::Tag::<aes_gcm::Aes256Gcm>::from(tag),
        )
        .is_ok();
        if !ok {
            buf.zeroize();
        }
        ok
    }
}

/// AES-256-GCM on the frame AEAD (AWS-LC natively): ciphertext ‖ tag. Also the
/// cipher of secret values (`service/secrets.rs`).
pub(crate) fn seal_256(key: &[u8], nonce: [u8; 12], aad: &[u8], pt: &[u8]) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(pt.len() + TAG_LEN);
    buf.extend_from_slice(pt);
    let tag = Gcm::new(key)?.seal(nonce, aad, &mut buf)?;
    buf.extend_from_slice(&tag);
    Ok(buf)
}

/// Opens [`seal_256`]'s ciphertext ‖ tag; `None` when it does not authenticate.
pub(crate) fn open_256(
    key: &[u8],
    nonce: [u8; 12],
    aad: &[u8],
    ct: &[u8],
) -> Result<Option<crate::secret::SecretBytes>> {
    let g = Gcm::new(key)?;
    let Some(split) = ct.len().checked_sub(TAG_LEN) else {
        return Ok(None);
    };
    let (body, t) = ct.split_at(split);
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(t);
    let mut buf = crate::secret::SecretBytes::from_slice(body);
    Ok(g.open(nonce, aad, buf.expose_mut(), tag).then_some(buf))
}

/// The frame AEAD, reachable for the Wycheproof tests (core/tests/wycheproof_aead.rs)
/// only: AES-256-GCM with a 96-bit nonce; `None` when the tag does not verify.
#[doc(hidden)]
pub mod hazmat {
    use alloc::vec::Vec;

    use crate::error::Result;

    /// Seals: ciphertext ‖ tag.
    ///
    /// # Errors
    /// A key that is not 32 bytes.
    pub fn seal(key: &[u8], nonce: [u8; 12], aad: &[u8], pt: &[u8]) -> Result<Vec<u8>> {
        super::seal_256(key, nonce, aad, pt)
    }

    /// Opens ciphertext ‖ tag.
    ///
    /// # Errors
    /// A key that is not 32 bytes.
    pub fn open(key: &[u8], nonce: [u8; 12], aad: &[u8], ct: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(super::open_256(key, nonce, aad, ct)?.map(|b| b.expose().to_vec()))
    }
}

impl Gcm {
    /// Encrypts `input` into `out` (same length) without touching `input`; returns the
    /// tag. AWS-LC does this in one pass; RustCrypto copies and encrypts in place.
    fn seal_to(&self, n: [u8; 12], input: &[u8], out: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        if input.len() != out.len() {
            return Err(Error::BackendProtocol("frame buffer"));
        }
        #[cfg(feature = "aws-lc")]
        {
            let mut tag = [0u8; TAG_LEN];
            self.k
                .seal_out_of_place_scatter(
                    aws_lc_rs::aead::Nonce::assume_unique_for_key(n),
                    aws_lc_rs::aead::Aad::empty(),
                    input,
                    out,
                    &[],
                    &mut tag,
                )
                .map_err(|_| Error::BackendProtocol("frame too large for AES-GCM"))?;
            Ok(tag)
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            out.copy_from_slice(input);
            self.seal(n, &[], out)
        }
    }

    /// Decrypts `input` into `out` (same length) if `tag` verifies; on failure `out`
    /// is zeroed.
    fn open_to(&self, n: [u8; 12], input: &[u8], tag: [u8; TAG_LEN], out: &mut [u8]) -> bool {
        if input.len() != out.len() {
            return false;
        }
        #[cfg(feature = "aws-lc")]
        {
            let ok = self
                .k
                .open_separate_gather(
                    aws_lc_rs::aead::Nonce::assume_unique_for_key(n),
                    aws_lc_rs::aead::Aad::empty(),
                    input,
                    &tag,
                    out,
                )
                .is_ok();
            if !ok {
                out.zeroize();
            }
            ok
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            out.copy_from_slice(input);
            self.open(n, &[], out, tag)
        }
    }
}

fn seal_tail(c: &Gcm, seq: u64, kind: u8, out: &mut Vec<u8>, start: usize) -> Result<()> {
    let tail = out
        .get_mut(start..)
        .ok_or(Error::BackendProtocol("frame buffer"))?;
    let tag = c.seal(nonce(seq, kind), &[], tail)?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// The header tag: AES-256-GCM of nothing, AAD = the header, nonce type 0x02.
pub(crate) fn header_tag(key: &[u8], header: &[u8]) -> Result<[u8; TAG_LEN]> {
    Gcm::new(key)?.seal(nonce(0, NONCE_HEADER), header, &mut [])
}

/// Checks a header tag (the AEAD compares in constant time).
pub(crate) fn check_header_tag(key: &[u8], header: &[u8], tag: &[u8; TAG_LEN]) -> Result<()> {
    if Gcm::new(key)?.open(nonce(0, NONCE_HEADER), header, &mut [], *tag) {
        Ok(())
    } else {
        Err(Error::Envelope(EnvelopeFailure::HeaderAuthentication))
    }
}

/// Encrypts a body incrementally. Get one from [`crate::Kms::envelope_encryptor`];
/// its first output is the header.
pub struct Encryptor {
    cipher: Gcm,
    frame_len: usize,
    header: Option<Vec<u8>>,
    buf: Zeroizing<Vec<u8>>,
    seq: u64,
    /// Suite 0x0002: the signing key version and the chain so far.
    signed: Option<(Signer, Chain)>,
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor")
            .field("frame_len", &self.frame_len)
            .field("frames", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    pub(crate) fn new(
        key: &[u8],
        header: Vec<u8>,
        frame_len: u32,
        signer: Option<Signer>,
    ) -> Result<Self> {
        let frame_len = frame_len as usize;
        let signed = signer.map(|s| {
            let c = Chain::new(&header);
            (s, c)
        });
        Ok(Encryptor {
            cipher: Gcm::new(key)?,
            frame_len,
            header: Some(header),
            // Allocated on first buffering (one frame, never grown, so no plaintext is
            // left behind in a freed reallocation): one-shot `seal_into` never needs it.
            buf: Zeroizing::new(Vec::new()),
            seq: 0,
            signed,
        })
    }

    /// The signer of a signed message (suite 0x0002): finish it with
    /// [`crate::Kms::finish_envelope`], which appends the signature.
    #[must_use]
    pub fn signer(&self) -> Option<&Signer> {
        self.signed.as_ref().map(|(s, _)| s)
    }

    fn absorb(&mut self, frame: &[u8]) {
        if let Some((_, c)) = &mut self.signed {
            c.absorb(frame);
        }
    }

    /// The frame length (plaintext bytes per regular frame).
    #[must_use]
    pub fn frame_length(&self) -> usize {
        self.frame_len
    }

    fn next_seq(&mut self) -> Result<u64> {
        self.seq += 1;
        if self.seq > MAX_FRAMES {
            return Err(Error::param("Plaintext", "too many frames for one message"));
        }
        Ok(self.seq)
    }

    fn emit_header(&mut self, out: &mut Vec<u8>) {
        if let Some(h) = self.header.take() {
            out.extend_from_slice(&h);
        }
    }

    fn regular(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let seq = self.next_seq()?;
        out.reserve(1 + plaintext.len() + TAG_LEN);
        let frame_start = out.len();
        out.push(FRAME_REGULAR);
        let start = out.len();
        out.extend_from_slice(plaintext);
        seal_tail(&self.cipher, seq, FRAME_REGULAR, out, start)?;
        if self.signed.is_some() {
            let frame = out.get(frame_start..).unwrap_or_default().to_vec();
            self.absorb(&frame);
        }
        Ok(())
    }

    /// Encrypts `input`, appending whatever is ready (the header first, then whole
    /// frames) to `out`. At most one frame of plaintext is held back.
    ///
    /// # Errors
    /// `InvalidParameter.Plaintext` past [`MAX_FRAMES`] frames.
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.emit_header(out);
        let f = self.frame_len;
        // Whole frames straight from the input while nothing is buffered; one frame is
        // always kept back, since only `finish` knows which frame is final.
        while self.buf.is_empty() && input.len() > f {
            let (frame, rest) = input.split_at(f);
            self.regular(frame, out)?;
            input = rest;
        }
        while !input.is_empty() {
            if self.buf.len() == f {
                let frame = core::mem::take(&mut *self.buf);
                let r = self.regular(&frame, out);
                *self.buf = frame;
                self.buf.clear();
                r?;
            }
            if self.buf.capacity() < f {
                self.buf.reserve_exact(f);
            }
            let take = (f - self.buf.len()).min(input.len());
            let (head, rest) = input.split_at(take);
            self.buf.extend_from_slice(head);
            input = rest;
        }
        Ok(())
    }

    /// Encrypts what is held back as the final frame and appends it to `out`.
    ///
    /// # Errors
    /// As [`Encryptor::update`]; `InvalidParameter.SigningKeyId` for a signed message,
    /// which [`crate::Kms::finish_envelope`] finishes (it signs).
    pub fn finish(self, out: &mut Vec<u8>) -> Result<()> {
        if self.signed.is_some() {
            return Err(Error::param(
                "SigningKeyId",
                "a signed message is finished by Kms::finish_envelope, which signs it",
            ));
        }
        self.finish_frames(out).map(|_| ())
    }

    /// The final frame; for a signed message, the digest its signature is made over.
    pub(crate) fn finish_frames(mut self, out: &mut Vec<u8>) -> Result<Option<(Signer, [u8; 32])>> {
        self.emit_header(out);
        let seq = self.next_seq()?;
        let len =
            u32::try_from(self.buf.len()).map_err(|_| Error::BackendProtocol("frame length"))?;
        out.reserve(5 + self.buf.len() + TAG_LEN);
        let frame_start = out.len();
        out.push(FRAME_FINAL);
        out.extend_from_slice(&len.to_be_bytes());
        let start = out.len();
        out.extend_from_slice(&self.buf);
        seal_tail(&self.cipher, seq, FRAME_FINAL, out, start)?;
        Ok(self.signed.take().map(|(signer, mut c)| {
            c.absorb(out.get(frame_start..).unwrap_or_default());
            (signer, c.digest())
        }))
    }

    /// The exact length of the whole message for a plaintext of `plaintext_len` bytes,
    /// for a fresh encryptor (nothing passed to `update` yet).
    #[must_use]
    pub fn message_len(&self, plaintext_len: usize) -> usize {
        let f = self.frame_len.max(1);
        let regular = plaintext_len.saturating_sub(1) / f;
        let last = plaintext_len - regular * f;
        self.header.as_ref().map_or(0, Vec::len) + regular * (1 + f + TAG_LEN) + 5 + last + TAG_LEN
    }

    /// One-shot: the whole message for `plaintext` written into `out`, which must be
    /// exactly [`Encryptor::message_len`] bytes (e.g. a buffer owned by a binding, so
    /// nothing is copied twice).
    ///
    /// # Errors
    /// `InvalidParameter.Plaintext` when `out` has the wrong length or past the frame
    /// limit; `Rejected.BackendProtocol` if this encryptor was already fed.
    pub fn seal_into(self, plaintext: &[u8], out: &mut [u8]) -> Result<()> {
        if self.signed.is_some() {
            return Err(Error::param(
                "SigningKeyId",
                "a signed message is finished by Kms::finish_envelope, which signs it",
            ));
        }
        self.seal_frames_into(plaintext, out).map(|_| ())
    }

    /// As [`Encryptor::seal_into`] (frames only); for a signed message, the digest its
    /// signature is made over.
    pub(crate) fn seal_frames_into(
        mut self,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<Option<(Signer, [u8; 32])>> {
        if out.len() != self.message_len(plaintext.len()) || !self.buf.is_empty() {
            return Err(Error::param(
                "Plaintext",
                "output buffer of the wrong length",
            ));
        }
        let header = self
            .header
            .take()
            .ok_or(Error::BackendProtocol("encryptor already used"))?;
        let short = || Error::param("Plaintext", "output buffer of the wrong length");
        let (h, mut rest) = out.split_at_mut_checked(header.len()).ok_or_else(short)?;
        h.copy_from_slice(&header);
        let f = self.frame_len;
        let mut pt = plaintext;
        loop {
            let seq = self.next_seq()?;
            let last = pt.len() <= f;
            let take = pt.len().min(f);
            let (chunk, more) = pt.split_at(take);
            let head = if last { 5 } else { 1 };
            let (frame, tail) = rest
                .split_at_mut_checked(head + take + TAG_LEN)
                .ok_or_else(short)?;
            let (hdr, body) = frame.split_at_mut(head);
            let (ct, tag) = body.split_at_mut(take);
            if let Some((kind, len)) = hdr.split_first_mut() {
                *kind = if last { FRAME_FINAL } else { FRAME_REGULAR };
                let n = u32::try_from(take).map_err(|_| Error::BackendProtocol("frame length"))?;
                len.copy_from_slice(n.to_be_bytes().get(..len.len()).unwrap_or_default());
            }
            let t = self.cipher.seal_to(
                nonce(seq, if last { FRAME_FINAL } else { FRAME_REGULAR }),
                chunk,
                ct,
            )?;
            tag.copy_from_slice(&t);
            if let Some((_, c)) = &mut self.signed {
                c.absorb(frame);
            }
            rest = tail;
            pt = more;
            if last {
                return Ok(self.signed.take().map(|(s, c)| (s, c.digest())));
            }
        }
    }
}

/// Decrypts a body incrementally. Get one from [`crate::Kms::open_envelope`]. No
/// plaintext of a frame is released before the frame's tag has been checked.
pub struct Decryptor {
    cipher: Gcm,
    frame_len: usize,
    buf: Vec<u8>,
    seq: u64,
    done: bool,
    failed: Option<Error>,
    /// Suite 0x0002: the signature still to check.
    sig: Option<SigState>,
}

/// A signed message's reading state: the chain so far, the final frame's plaintext
/// (held until the signature verifies), the trailer as it arrives.
struct SigState {
    chain: Chain,
    public_key: Vec<u8>,
    held: Zeroizing<Vec<u8>>,
    trailer: Vec<u8>,
    verified: bool,
}

impl core::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decryptor")
            .field("frame_len", &self.frame_len)
            .field("frames", &self.seq)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn env_err(f: EnvelopeFailure) -> Error {
    Error::Envelope(f)
}

impl Decryptor {
    /// The body's decryptor for a header whose message key is `key` (a signed header's
    /// signature is checked at the end).
    pub(crate) fn for_header(key: &[u8], header: &super::EnvelopeHeader) -> Result<Self> {
        Ok(Decryptor {
            cipher: Gcm::new(key)?,
            frame_len: header.frame_length as usize,
            buf: Vec::new(),
            seq: 0,
            done: false,
            failed: None,
            sig: header.signer.as_ref().map(|s| SigState {
                chain: Chain::new(&header.to_bytes()),
                public_key: s.public_key.clone(),
                held: Zeroizing::new(Vec::new()),
                trailer: Vec::new(),
                verified: false,
            }),
        })
    }

    /// Whether the message is complete: the final frame authenticated (and, for a
    /// signed message, its signature verified).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done && self.sig.as_ref().is_none_or(|s| s.verified)
    }

    /// The total length of the frame starting at `b`, once it can be known.
    fn frame_total(&self, b: &[u8]) -> Result<Option<usize>> {
        match b.first() {
            None => Ok(None),
            Some(&FRAME_REGULAR) => Ok(Some(1 + self.frame_len + TAG_LEN)),
            Some(&FRAME_FINAL) => {
                let Some(l) = b.get(1..5) else {
                    return Ok(None);
                };
                let mut a = [0u8; 4];
                a.copy_from_slice(l);
                let l = u32::from_be_bytes(a) as usize;
                if l > self.frame_len {
                    return Err(env_err(EnvelopeFailure::Malformed(
                        "final frame longer than the frame length",
                    )));
                }
                Ok(Some(5 + l + TAG_LEN))
            }
            Some(_) => Err(env_err(EnvelopeFailure::Malformed("unknown frame type"))),
        }
    }

    /// Opens one whole frame `f`, appending its plaintext to `out` only if it
    /// authenticates.
    /// The plaintext length of one whole frame `f` (as sized by `frame_total`).
    fn frame_plaintext_len(f: &[u8]) -> usize {
        let head = if f.first() == Some(&FRAME_FINAL) {
            5
        } else {
            1
        };
        f.len().saturating_sub(head + TAG_LEN)
    }

    /// Opens one whole frame `f` into `slot` (exactly its plaintext length): copies the
    /// ciphertext there and decrypts in place only if the tag verifies (on failure the
    /// slot is zeroed). Counts the frame and notes the final one.
    fn open_slot(&mut self, f: &[u8], slot: &mut [u8]) -> Result<()> {
        let kind = f.first().copied().unwrap_or(FRAME_REGULAR);
        let head = if kind == FRAME_FINAL { 5 } else { 1 };
        let malformed = || env_err(EnvelopeFailure::Malformed("frame"));
        let body = f.get(head..).ok_or_else(malformed)?;
        let (ct, tag) = body
            .split_at_checked(body.len().saturating_sub(TAG_LEN))
            .ok_or_else(malformed)?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| malformed())?;
        if slot.len() != ct.len() {
            return Err(malformed());
        }
        self.seq += 1;
        if self.seq > MAX_FRAMES {
            return Err(env_err(EnvelopeFailure::Malformed("too many frames")));
        }
        if !self.cipher.open_to(nonce(self.seq, kind), ct, tag, slot) {
            return Err(env_err(EnvelopeFailure::FrameAuthentication(self.seq)));
        }
        if let Some(sg) = &mut self.sig {
            sg.chain.absorb(f);
        }
        if kind == FRAME_FINAL {
            self.done = true;
        }
        Ok(())
    }

    /// Opens one whole frame `f`, appending its plaintext to `out` only if it
    /// authenticates.
    fn open_frame(&mut self, f: &[u8], out: &mut Vec<u8>) -> Result<()> {
        // A signed message's final frame waits for the signature.
        if self.sig.is_some() && f.first() == Some(&FRAME_FINAL) {
            let mut held = Zeroizing::new(Vec::new());
            self.open_frame_into(f, &mut held)?;
            if let Some(sg) = &mut self.sig {
                sg.held = held;
            }
            return Ok(());
        }
        self.open_frame_into(f, out)
    }

    fn open_frame_into(&mut self, f: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.resize(start + Self::frame_plaintext_len(f), 0);
        let r = match out.get_mut(start..) {
            Some(slot) => self.open_slot(f, slot),
            None => Err(env_err(EnvelopeFailure::Malformed("frame"))),
        };
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn step(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        loop {
            if self.done {
                if let Some(sg) = &mut self.sig
                    && !sg.verified
                {
                    // The trailer: its length, then the signature.
                    let want = trailer_total(&sg.trailer).unwrap_or(2);
                    let take = want.saturating_sub(sg.trailer.len()).min(input.len());
                    let (head, rest) = input.split_at(take);
                    sg.trailer.extend_from_slice(head);
                    input = rest;
                    if trailer_total(&sg.trailer) == Some(sg.trailer.len()) {
                        verify_trailer(&sg.chain, &sg.public_key, &sg.trailer)?;
                        sg.verified = true;
                        out.extend_from_slice(&sg.held);
                        sg.held.zeroize();
                        continue;
                    }
                    if input.is_empty() {
                        return Ok(());
                    }
                    continue;
                }
                if !input.is_empty() || !self.buf.is_empty() {
                    return Err(env_err(EnvelopeFailure::TrailingData));
                }
                return Ok(());
            }
            if input.is_empty() {
                return Ok(());
            }
            if self.buf.is_empty() {
                // Whole frames straight from the input, without copying.
                if let Some(total) = self.frame_total(input)?
                    && input.len() >= total
                {
                    let (frame, rest) = input.split_at(total);
                    self.open_frame(frame, out)?;
                    input = rest;
                    continue;
                }
            }
            // Accumulate: first enough to know the frame's length, then the frame.
            let want = self.frame_total(&self.buf)?.unwrap_or(5);
            let take = want.saturating_sub(self.buf.len()).min(input.len()).max(1);
            let (head, rest) = input.split_at(take.min(input.len()));
            self.buf.extend_from_slice(head);
            input = rest;
            if let Some(total) = self.frame_total(&self.buf)?
                && self.buf.len() == total
            {
                let frame = core::mem::take(&mut self.buf);
                let r = self.open_frame(&frame, out);
                self.buf = frame;
                self.buf.clear();
                r?;
            }
        }
    }

    /// Decrypts `input`, appending the plaintext of every frame that authenticates to
    /// `out`. After an error the decryptor refuses everything.
    ///
    /// # Errors
    /// `InvalidCiphertext.FrameAuthentication` (tampered, reordered or dropped
    /// frame), `InvalidCiphertext.TrailingData` (bytes after the final frame),
    /// `InvalidCiphertext.MalformedEnvelope`.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.step(input, out);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    /// The plaintext length of a whole `body` (everything after the header), read from
    /// its frame structure alone, for a fresh decryptor.
    ///
    /// # Errors
    /// `InvalidCiphertext.Truncated`, `.TrailingData` or `.MalformedEnvelope` when the
    /// structure is wrong (nothing is decrypted).
    pub fn plaintext_len(&self, body: &[u8]) -> Result<usize> {
        let mut rest = body;
        let mut total = 0usize;
        loop {
            let Some(t) = self.frame_total(rest)? else {
                return Err(env_err(EnvelopeFailure::Truncated));
            };
            let Some((frame, more)) = rest.split_at_checked(t) else {
                return Err(env_err(EnvelopeFailure::Truncated));
            };
            let head = if frame.first() == Some(&FRAME_FINAL) {
                5
            } else {
                1
            };
            total += t - head - TAG_LEN;
            rest = more;
            if head == 5 {
                if self.sig.is_some() {
                    match trailer_total(rest) {
                        Some(n) if rest.len() > n => {
                            return Err(env_err(EnvelopeFailure::TrailingData));
                        }
                        Some(n) if rest.len() == n => return Ok(total),
                        _ => return Err(env_err(EnvelopeFailure::Truncated)),
                    }
                }
                if !rest.is_empty() {
                    return Err(env_err(EnvelopeFailure::TrailingData));
                }
                return Ok(total);
            }
        }
    }

    /// One-shot: decrypts a whole `body` into `out`, which must be exactly
    /// [`Decryptor::plaintext_len`] bytes. Each frame is authenticated before the next
    /// is touched; on any failure `out` is zeroed.
    ///
    /// # Errors
    /// As [`Decryptor::plaintext_len`]; `InvalidCiphertext.FrameAuthentication`.
    pub fn open_into(mut self, body: &[u8], out: &mut [u8]) -> Result<()> {
        if out.len() != self.plaintext_len(body)? || self.seq != 0 {
            return Err(env_err(EnvelopeFailure::Malformed(
                "output buffer of the wrong length",
            )));
        }
        let r = self.open_into_inner(body, out);
        if r.is_err() {
            out.zeroize();
        }
        r
    }

    fn open_into_inner(&mut self, body: &[u8], out: &mut [u8]) -> Result<()> {
        let mut rest = body;
        let mut dst = out;
        while let Some(t) = self.frame_total(rest)? {
            let Some((frame, more)) = rest.split_at_checked(t) else {
                return Err(env_err(EnvelopeFailure::Truncated));
            };
            let (slot, after) = core::mem::take(&mut dst)
                .split_at_mut_checked(Self::frame_plaintext_len(frame))
                .ok_or(env_err(EnvelopeFailure::Malformed(
                    "output buffer of the wrong length",
                )))?;
            self.open_slot(frame, slot)?;
            dst = after;
            rest = more;
            if self.done {
                if let Some(sg) = &mut self.sig {
                    // `plaintext_len` checked that `rest` is exactly the trailer.
                    verify_trailer(&sg.chain, &sg.public_key, rest)?;
                    sg.verified = true;
                }
                return Ok(());
            }
        }
        Err(env_err(EnvelopeFailure::Truncated))
    }

    /// Checks that the message ended with its final frame.
    ///
    /// # Errors
    /// `InvalidCiphertext.Truncated` when it did not; an earlier error again.
    pub fn finish(&self) -> Result<()> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if !self.is_done() {
            return Err(env_err(EnvelopeFailure::Truncated));
        }
        Ok(())
    }
}
