//! The envelope message header, byte by byte (docs/FORMAT.md §Envelope message).
//!
//! ```text
//! [4]  magic "SREN"
//! u8   version = 0x01
//! u16  suite = 0x0001 (AES-256-GCM frames, HKDF-SHA-256, key commitment) or 0x0002
//!      (the same, signed by an EC P-256 KMS key)
//! [32] message id (random)
//! u16  n, EncryptionContext in its canonical encoding (n bytes)
//! u32  frame length F (plaintext bytes per regular frame), 1 ..= 16 MiB
//! u16  stanza count (1 ..= MAX_RECIPIENTS)
//!      per stanza: u8 type, u16 len, body (len bytes)
//!      suite 0x0002: u8 + signer KeyId, u8 + KeyVersionId, u16 + SPKI DER public key
//! [32] key commitment
//! [16] header tag
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::blob;
use crate::codec::{Reader, Writer};
use crate::context::EncryptionContext;
use crate::error::{EnvelopeFailure, Error, Result};
use crate::secret::SecretBytes;

/// The four bytes every envelope message starts with.
pub const MAGIC: [u8; 4] = *b"SREN";
/// The envelope format version this build writes and reads.
pub const ENVELOPE_VERSION: u8 = 1;
/// Suite 0x0001: 256-bit data key, HKDF-SHA-256 (salt = message id) to a per-message
/// AES-256-GCM key and a 256-bit key commitment.
pub const SUITE_AES256_GCM_HKDF_SHA256_COMMIT: u16 = 0x0001;
/// Suite 0x0002: suite 0x0001 whose header names a signer (an EC P-256 KMS key) and
/// whose body ends with that key's ECDSA signature over a hash chain of the header and
/// frames (docs/FORMAT.md §Suite 0x0002).
pub const SUITE_SIGNED_ECDSA_P256: u16 = 0x0002;
/// The label of the signature chain's first hash (32 ASCII bytes).
pub const SIGNATURE_LABEL: &[u8] = b"strongroom-envelope-v1 signature";
/// The most bytes a signer's public key may have in a header.
pub const MAX_SIGNER_KEY_LEN: usize = 1024;
/// The shortest and longest DER ECDSA P-256 signature a trailer may hold.
pub const SIGNATURE_LEN: core::ops::RangeInclusive<usize> = 8..=72;
/// Message id length.
pub const MESSAGE_ID_LEN: usize = 32;
/// Key commitment length.
pub const COMMITMENT_LEN: usize = 32;
/// Data key length for suite 0x0001.
pub const DATA_KEY_LEN: usize = 32;
/// GCM tag length.
pub const TAG_LEN: usize = 16;
/// Plaintext bytes per regular frame of a stream (length unknown up front) when the
/// caller does not choose: a stream holds one frame in memory.
pub const DEFAULT_FRAME_LENGTH: u32 = 256 * 1024;
/// The same for one-shot messages (length known): a message up to 1 MiB is one frame,
/// which saves the per-frame cost of platform AES in JS.
pub const ONE_SHOT_FRAME_LENGTH: u32 = 1024 * 1024;
/// The largest frame length a message may declare (bounds decryptor memory).
pub const MAX_FRAME_LENGTH: u32 = 1 << 24;
/// The most recipient stanzas a message may carry, of any type (a DoS bound).
pub const MAX_RECIPIENTS: usize = 16;
/// The most frames one message may have.
pub const MAX_FRAMES: u64 = u32::MAX as u64;
/// Stanza type 0x01: the data key as a strongroom CiphertextBlob (blob v1) under a CMK.
pub const STANZA_KMS_BLOB: u8 = 0x01;
/// Frame type of a regular (non-final) frame.
pub const FRAME_REGULAR: u8 = 0x00;
/// Frame type of the final frame.
pub const FRAME_FINAL: u8 = 0x01;
/// The nonce type byte of the header tag.
pub(crate) const NONCE_HEADER: u8 = 0x02;

const INFO_KEY: &[u8] = b"strongroom-envelope-v1 key";
const INFO_COMMIT: &[u8] = b"strongroom-envelope-v1 commit";

/// The signer a suite-0x0002 header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The signing key's KeyId (as the writer resolved it).
    pub key_id: String,
    /// The key version that signed.
    pub key_version_id: String,
    /// Its public key: SubjectPublicKeyInfo DER of an uncompressed EC P-256 point.
    pub public_key: Vec<u8>,
}

/// The fixed start of an uncompressed EC P-256 SubjectPublicKeyInfo (91 bytes in all):
/// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 04 ‖ x ‖ y }.
const P256_SPKI_PREFIX: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];

/// Whether `spki` has the shape of an uncompressed EC P-256 SubjectPublicKeyInfo (the
/// point itself is checked when a signature is verified).
#[must_use]
pub fn is_p256_spki(spki: &[u8]) -> bool {
    spki.len() == 91 && spki.starts_with(&P256_SPKI_PREFIX)
}

fn visible_id(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|c| (0x21..=0x7e).contains(c))
}

/// One recipient: a data key wrapped for one key, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// The stanza type ([`STANZA_KMS_BLOB`]; other types are skipped by this build).
    pub kind: u8,
    /// The type-specific body.
    pub body: Vec<u8>,
}

impl Stanza {
    /// For a [`STANZA_KMS_BLOB`] stanza, the KeyId and KeyVersionId it names.
    #[must_use]
    pub fn key(&self) -> Option<(String, String)> {
        if self.kind != STANZA_KMS_BLOB {
            return None;
        }
        blob::parse(&self.body)
            .ok()
            .map(|p| (p.key_id, p.key_version_id))
    }
}

/// A parsed envelope header. Parsing does not authenticate it: that happens when a
/// data key is unwrapped and the commitment and header tag are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// Format version.
    pub version: u8,
    /// Algorithm suite.
    pub suite: u16,
    /// Random message id (the HKDF salt).
    pub message_id: [u8; MESSAGE_ID_LEN],
    /// The EncryptionContext bound to the message.
    pub encryption_context: EncryptionContext,
    /// Plaintext bytes per regular frame.
    pub frame_length: u32,
    /// The recipient stanzas, in order.
    pub stanzas: Vec<Stanza>,
    /// Suite 0x0002: who signed (the body ends with the signature).
    pub signer: Option<Signer>,
    /// The key commitment.
    pub commitment: [u8; COMMITMENT_LEN],
    /// The header tag.
    pub header_tag: [u8; TAG_LEN],
    /// Everything before the header tag (the tag's AAD).
    pub(crate) authenticated: Vec<u8>,
}

impl EnvelopeHeader {
    /// The header as bytes, tag included.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.authenticated.clone();
        v.extend_from_slice(&self.header_tag);
        v
    }
}

fn fail(f: EnvelopeFailure) -> Error {
    Error::Envelope(f)
}

/// The per-message key and the key commitment derived from a data key.
pub(crate) struct MessageKeys {
    pub(crate) key: SecretBytes,
    pub(crate) commitment: [u8; COMMITMENT_LEN],
}

/// HKDF-SHA-256(salt = message id, ikm = data key): `info = "strongroom-envelope-v1
/// key" || suite` gives the message key, `"… commit" || suite` the commitment.
pub(crate) fn derive(
    data_key: &[u8],
    message_id: &[u8; MESSAGE_ID_LEN],
    suite: u16,
) -> Result<MessageKeys> {
    if data_key.len() != DATA_KEY_LEN {
        return Err(fail(EnvelopeFailure::Malformed(
            "data key of the wrong length",
        )));
    }
    let hk = Hkdf::<Sha256>::new(Some(message_id), data_key);
    let suite = suite.to_be_bytes();
    let mut key = SecretBytes::zeroed(32);
    let mut commitment = [0u8; COMMITMENT_LEN];
    let ok = hk
        .expand_multi_info(&[INFO_KEY, &suite], key.expose_mut())
        .and_then(|()| hk.expand_multi_info(&[INFO_COMMIT, &suite], &mut commitment));
    ok.map_err(|_| Error::BackendProtocol("HKDF output length"))?;
    Ok(MessageKeys { key, commitment })
}

/// The 96-bit nonce of frame `seq` of type `kind`: `[0,0,0] || u64 seq || kind`.
/// The header tag uses seq 0 and type 0x02; frames count from 1.
#[must_use]
pub(crate) fn nonce(seq: u64, kind: u8) -> [u8; 12] {
    let mut n = [0u8; 12];
    for (d, b) in n.iter_mut().skip(3).zip(seq.to_be_bytes()) {
        *d = b;
    }
    if let Some(b) = n.last_mut() {
        *b = kind;
    }
    n
}

/// Serializes everything before the header tag.
pub(crate) fn encode_unauthenticated(
    message_id: &[u8; MESSAGE_ID_LEN],
    ctx: &EncryptionContext,
    frame_length: u32,
    stanzas: &[Stanza],
    signer: Option<&Signer>,
    commitment: &[u8; COMMITMENT_LEN],
) -> Result<Vec<u8>> {
    let mut w = Writer::new();
    w.raw(&MAGIC);
    w.u8(ENVELOPE_VERSION);
    w.u16(suite_of(signer.is_some()));
    w.raw(message_id);
    let aad = ctx.aad();
    if aad.len() > usize::from(u16::MAX) {
        return Err(Error::param(
            "EncryptionContext",
            "too large for an envelope",
        ));
    }
    w.bytes16(&aad);
    w.u32(frame_length);
    let count = u16::try_from(stanzas.len())
        .map_err(|_| Error::param("KeyIds", "too many recipient stanzas"))?;
    w.u16(count);
    for s in stanzas {
        if s.body.len() > usize::from(u16::MAX) {
            return Err(Error::BackendProtocol("wrapped data key too large"));
        }
        w.u8(s.kind);
        w.bytes16(&s.body);
    }
    if let Some(sg) = signer {
        let id_ok = |b: &str| visible_id(b.as_bytes()) && b.len() <= 255;
        if !id_ok(&sg.key_id) || !id_ok(&sg.key_version_id) || !is_p256_spki(&sg.public_key) {
            return Err(Error::param(
                "SigningKeyId",
                "the signing key must be an EC_P256 key with a well-formed id",
            ));
        }
        w.u8(u8::try_from(sg.key_id.len()).unwrap_or(u8::MAX));
        w.raw(sg.key_id.as_bytes());
        w.u8(u8::try_from(sg.key_version_id.len()).unwrap_or(u8::MAX));
        w.raw(sg.key_version_id.as_bytes());
        w.bytes16(&sg.public_key);
    }
    w.raw(commitment);
    Ok(w.buf)
}

/// The suite a message with (or without) a signer is written in.
#[must_use]
pub fn suite_of(signed: bool) -> u16 {
    if signed {
        SUITE_SIGNED_ECDSA_P256
    } else {
        SUITE_AES256_GCM_HKDF_SHA256_COMMIT
    }
}

/// Parses a header from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` ends before the header does (feed more bytes), and
/// `Ok(Some((header, n)))` with the header's length `n` otherwise.
///
/// # Errors
/// `InvalidCiphertext.NotAnEnvelope` (wrong magic), `InvalidCiphertext.EnvelopeVersion`,
/// `InvalidCiphertext.EnvelopeSuite`, `InvalidCiphertext.TooManyRecipients`,
/// `InvalidCiphertext.MalformedEnvelope`.
pub fn parse_header(buf: &[u8]) -> Result<Option<(EnvelopeHeader, usize)>> {
    Ok(match scan_header(buf)? {
        Scan::Done(h, n) => Some((*h, n)),
        Scan::Need(_) => None,
    })
}

/// How far a header parse got.
enum Scan {
    Done(alloc::boxed::Box<EnvelopeHeader>, usize),
    /// The buffer ends inside the header: nothing can change before it holds at least
    /// this many bytes (so an incremental parser waits for them instead of parsing
    /// again on every byte).
    Need(usize),
}

fn scan_header(buf: &[u8]) -> Result<Scan> {
    let prefix = buf.len().min(MAGIC.len());
    if buf.get(..prefix) != MAGIC.get(..prefix) {
        return Err(fail(EnvelopeFailure::NotAnEnvelope));
    }
    let mut r = Reader::new(buf);
    // Takes `n` bytes, or answers how long the buffer must be for them.
    macro_rules! need {
        ($n:expr) => {{
            let n: usize = $n;
            match r.take(n) {
                Some(v) => v,
                None => return Ok(Scan::Need(buf.len() - r.remaining() + n)),
            }
        }};
    }
    macro_rules! be {
        ($t:ty) => {
            <$t>::from_be_bytes(
                need!(core::mem::size_of::<$t>())
                    .try_into()
                    .unwrap_or_default(),
            )
        };
    }
    need!(MAGIC.len());
    let version = be!(u8);
    if version != ENVELOPE_VERSION {
        return Err(fail(EnvelopeFailure::UnsupportedVersion(version)));
    }
    let suite = be!(u16);
    if suite != SUITE_AES256_GCM_HKDF_SHA256_COMMIT && suite != SUITE_SIGNED_ECDSA_P256 {
        return Err(fail(EnvelopeFailure::UnsupportedSuite(suite)));
    }
    let mut message_id = [0u8; MESSAGE_ID_LEN];
    message_id.copy_from_slice(need!(MESSAGE_ID_LEN));
    let ctx_len = usize::from(be!(u16));
    let ctx_bytes = need!(ctx_len);
    let encryption_context = EncryptionContext::from_aad(ctx_bytes).ok_or(fail(
        EnvelopeFailure::Malformed("EncryptionContext encoding"),
    ))?;
    let frame_length = be!(u32);
    if frame_length == 0 || frame_length > MAX_FRAME_LENGTH {
        return Err(fail(EnvelopeFailure::Malformed(
            "frame length out of range",
        )));
    }
    let count = usize::from(be!(u16));
    if count == 0 {
        return Err(fail(EnvelopeFailure::Malformed("no recipient stanza")));
    }
    if count > MAX_RECIPIENTS {
        return Err(fail(EnvelopeFailure::TooManyRecipients(count)));
    }
    // Where each stanza's kind and body are; copied out once the header is whole.
    let mut stanzas = [(0u8, 0usize, 0usize); MAX_RECIPIENTS];
    for slot in stanzas.iter_mut().take(count) {
        let kind = be!(u8);
        let len = usize::from(be!(u16));
        let at = buf.len() - r.remaining();
        need!(len);
        *slot = (kind, at, len);
    }
    let signer = if suite == SUITE_SIGNED_ECDSA_P256 {
        let malformed = || fail(EnvelopeFailure::Malformed("signer"));
        let n = usize::from(be!(u8));
        let id = need!(n).to_vec();
        let m = usize::from(be!(u8));
        let ver = need!(m).to_vec();
        let p = usize::from(be!(u16));
        if p > MAX_SIGNER_KEY_LEN {
            return Err(malformed());
        }
        let public_key = need!(p).to_vec();
        if !visible_id(&id) || !visible_id(&ver) || !is_p256_spki(&public_key) {
            return Err(malformed());
        }
        Some(Signer {
            key_id: String::from_utf8(id).map_err(|_| malformed())?,
            key_version_id: String::from_utf8(ver).map_err(|_| malformed())?,
            public_key,
        })
    } else {
        None
    };
    let mut commitment = [0u8; COMMITMENT_LEN];
    commitment.copy_from_slice(need!(COMMITMENT_LEN));
    let authenticated_len = buf.len() - r.remaining();
    let mut header_tag = [0u8; TAG_LEN];
    header_tag.copy_from_slice(need!(TAG_LEN));
    let stanzas = stanzas
        .iter()
        .take(count)
        .map(|&(kind, at, len)| Stanza {
            kind,
            body: buf.get(at..at + len).unwrap_or_default().to_vec(),
        })
        .collect();
    let authenticated = buf
        .get(..authenticated_len)
        .ok_or(fail(EnvelopeFailure::Malformed("header")))?
        .to_vec();
    Ok(Scan::Done(
        alloc::boxed::Box::new(EnvelopeHeader {
            version,
            suite,
            message_id,
            encryption_context,
            frame_length,
            stanzas,
            signer,
            commitment,
            header_tag,
            authenticated,
        }),
        authenticated_len + TAG_LEN,
    ))
}

/// How far the header at the start of `buf` is from complete: `Ok(None)` when it is
/// whole (parse it), `Ok(Some(n))` when nothing can change before `buf` holds `n`
/// bytes (`n > buf.len()`). For faces that buffer a header themselves and must not
/// parse it again on every chunk.
///
/// # Errors
/// As [`parse_header`], for what `buf` already shows.
pub fn header_needs(buf: &[u8]) -> Result<Option<usize>> {
    Ok(match scan_header(buf)? {
        Scan::Done(..) => None,
        Scan::Need(n) => Some(n),
    })
}

/// Parses the header of a message that is all there: a header that does not complete
/// is `InvalidCiphertext.Truncated`, and no bytes at all `InvalidCiphertext.NotAnEnvelope`.
///
/// # Errors
/// Those, and as [`parse_header`].
pub fn parse_whole_header(message: &[u8]) -> Result<(EnvelopeHeader, usize)> {
    parse_header(message)?.ok_or(fail(if message.is_empty() {
        EnvelopeFailure::NotAnEnvelope
    } else {
        EnvelopeFailure::Truncated
    }))
}

/// The largest header a valid message can have (a bound for incremental parsing).
pub const MAX_HEADER_LEN: usize = 4
    + 1
    + 2
    + MESSAGE_ID_LEN
    + 2
    + u16::MAX as usize
    + 4
    + 2
    + MAX_RECIPIENTS * (3 + u16::MAX as usize)
    + (1 + 255 + 1 + 255 + 2 + MAX_SIGNER_KEY_LEN)
    + COMMITMENT_LEN
    + TAG_LEN;

/// Accumulates bytes until a whole header has arrived. Fed one byte at a time, it
/// parses again only when a field can have completed (at most a few dozen times for
/// any header), so its cost stays linear in the header's length.
#[derive(Debug, Default)]
pub struct HeaderParser {
    buf: Vec<u8>,
    /// No parse can progress before `buf` holds this many bytes.
    need: usize,
    parses: u32,
}

impl HeaderParser {
    /// A parser that has seen nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the buffered bytes were parsed (for tests of the parser's cost).
    #[doc(hidden)]
    #[must_use]
    pub fn parse_count(&self) -> u32 {
        self.parses
    }

    /// Feeds bytes. Returns the header and how many bytes of `input` it used once the
    /// header is complete; the rest of `input` is body.
    ///
    /// # Errors
    /// As [`parse_header`].
    pub fn feed(&mut self, input: &[u8]) -> Result<Option<(EnvelopeHeader, usize)>> {
        let before = self.buf.len();
        let room = MAX_HEADER_LEN.saturating_sub(before);
        let take = input.len().min(room);
        self.buf
            .extend_from_slice(input.get(..take).unwrap_or_default());
        if self.buf.len() < self.need.max(1) {
            return Ok(None);
        }
        self.parses = self.parses.saturating_add(1);
        match scan_header(&self.buf)? {
            Scan::Done(h, n) => {
                let used = n.saturating_sub(before);
                self.buf = Vec::new();
                self.need = 0;
                Ok(Some((*h, used)))
            }
            Scan::Need(_) if self.buf.len() >= MAX_HEADER_LEN => {
                Err(fail(EnvelopeFailure::Malformed("header too long")))
            }
            Scan::Need(n) => {
                self.need = n;
                Ok(None)
            }
        }
    }

    /// The error for input that ends here, before the header completed:
    /// `InvalidCiphertext.NotAnEnvelope` if nothing came, else `.Truncated`.
    #[must_use]
    pub fn end(&self) -> Error {
        match parse_whole_header(&self.buf) {
            Err(e) => e,
            Ok(_) => fail(EnvelopeFailure::Malformed(
                "a complete header was not taken",
            )),
        }
    }
}
