//! The ciphertext blob returned by Encrypt and GenerateDataKey (docs/FORMAT.md §Blob).
//!
//! ```text
//! u8  version = 0x01
//! u8  n, KeyId (n ASCII bytes)
//! u8  m, KeyVersionId (m ASCII bytes)
//! [12] nonce
//! ciphertext || 16-byte GCM tag
//! ```
//! AAD = the header bytes (version through KeyVersionId) followed by the canonical
//! EncryptionContext encoding. The blob names its key version, so Decrypt needs no
//! KeyId and keeps working after rotation.

use alloc::string::String;
use alloc::vec::Vec;

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::codec::{Reader, Writer};
use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// The blob format version this build writes.
pub const BLOB_VERSION: u8 = 1;

/// A parsed (not yet authenticated) blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBlob<'a> {
    /// The key it claims to be under.
    pub key_id: String,
    /// The key version it claims to be under.
    pub key_version_id: String,
    /// The header bytes, bound as AAD.
    pub header: &'a [u8],
    /// The GCM nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext and tag.
    pub ciphertext: &'a [u8],
}

fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// The header for a blob under `key_id` / `key_version_id`.
///
/// # Errors
/// `InvalidParameter.KeyId` when an id is empty, longer than 255 bytes or not
/// printable ASCII.
pub fn header(key_id: &str, key_version_id: &str) -> Result<Vec<u8>> {
    if !valid_id(key_id) || !valid_id(key_version_id) {
        return Err(Error::param(
            "KeyId",
            "ids must be 1-255 printable ASCII characters",
        ));
    }
    let mut w = Writer::new();
    w.u8(BLOB_VERSION);
    w.bytes8(key_id.as_bytes());
    w.bytes8(key_version_id.as_bytes());
    Ok(w.buf)
}

/// The AAD for a blob: header || canonical context.
#[must_use]
pub fn aad(header: &[u8], ctx: &EncryptionContext) -> Vec<u8> {
    let mut v = header.to_vec();
    v.extend_from_slice(&ctx.aad());
    v
}

/// Assembles a blob from its header and a backend's nonce and ciphertext.
#[must_use]
pub fn assemble(header: &[u8], nonce: &[u8; NONCE_LEN], ciphertext: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(header.len() + NONCE_LEN + ciphertext.len());
    v.extend_from_slice(header);
    v.extend_from_slice(nonce);
    v.extend_from_slice(ciphertext);
    v
}

/// Parses a blob's structure. Anything that is not a well-formed v1 blob is
/// [`Error::InvalidCiphertext`] (opaque on purpose).
///
/// # Errors
/// `InvalidCiphertext`.
pub fn parse(blob: &[u8]) -> Result<ParsedBlob<'_>> {
    let mut r = Reader::new(blob);
    if r.u8() != Some(BLOB_VERSION) {
        return Err(Error::InvalidCiphertext);
    }
    let key_id = r
        .bytes8()
        .and_then(|b| core::str::from_utf8(b).ok())
        .filter(|s| valid_id(s));
    let ver = r
        .bytes8()
        .and_then(|b| core::str::from_utf8(b).ok())
        .filter(|s| valid_id(s));
    let (Some(key_id), Some(ver)) = (key_id, ver) else {
        return Err(Error::InvalidCiphertext);
    };
    let header_len = blob.len() - r.remaining();
    let header = blob.get(..header_len).ok_or(Error::InvalidCiphertext)?;
    let nonce = r.array::<NONCE_LEN>().ok_or(Error::InvalidCiphertext)?;
    let ciphertext = r.rest();
    if ciphertext.len() < TAG_LEN {
        return Err(Error::InvalidCiphertext);
    }
    Ok(ParsedBlob {
        key_id: key_id.into(),
        key_version_id: ver.into(),
        header,
        nonce,
        ciphertext,
    })
}

/// Hazmat, for test vectors only: seals a blob with explicit key material and nonce.
/// Real encryption goes through [`crate::Kms::encrypt`], which draws a fresh nonce.
///
/// # Errors
/// `InvalidParameter.KeyId` for bad ids; `Rejected.BackendProtocol` for a key of the
/// wrong length.
pub fn seal_with_material(
    material: &[u8],
    nonce: &[u8; NONCE_LEN],
    key_id: &str,
    key_version_id: &str,
    plaintext: &[u8],
    ctx: &EncryptionContext,
) -> Result<Vec<u8>> {
    let h = header(key_id, key_version_id)?;
    let ct = aead::seal(material, nonce, plaintext, &aad(&h, ctx))?;
    Ok(assemble(&h, nonce, &ct))
}

/// Hazmat, for test vectors only: opens a blob with explicit key material.
///
/// # Errors
/// `InvalidCiphertext`.
pub fn open_with_material(
    material: &[u8],
    blob: &[u8],
    ctx: &EncryptionContext,
) -> Result<SecretBytes> {
    let p = parse(blob)?;
    aead::open(material, &p.nonce, p.ciphertext, &aad(p.header, ctx))
}
