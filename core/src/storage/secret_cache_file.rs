//! The sealed disk copy of a cached secret value (docs/FORMAT.md §Secret cache entry):
//! what a `SecretCache` asked to persist keeps on disk, so that a process restarted
//! while its KMS is unreachable can still serve the last good value for a bounded
//! time. One file per (secret, stage), sealed with AES-256-GCM under a 32-byte key the
//! application holds — never a key of the KMS it is meant to outlive.
//!
//! ```text
//! file      = "SRSC" ‖ version (1 byte, 1) ‖ nonce (12 bytes) ‖ AES-256-GCM(content) ‖ tag (16)
//! AAD       = "SRSC" ‖ version ‖ SecretName ‖ 0x00 ‖ VersionStage
//! file name = hex(SHA-256("strongroom-secret-cache" ‖ 0x00 ‖ SecretName ‖ 0x00 ‖ VersionStage)) ".srsc"
//! content   = UTF-8 JSON: GetSecretValue's answer as Alibaba spells it (SecretName,
//!             VersionId, VersionStages, SecretData — base64 when SecretDataType is
//!             binary —, SecretDataType, SecretType, CreateTime, …) and "FetchedAt"
//!             (Unix ms of the fetch)
//! ```
//!
//! The AAD binds the copy to its secret and stage: a file renamed onto another
//! secret's name does not open. The format is the same in every runtime (the Rust,
//! Node and Python caches read each other's files).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::aead;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// The file's first four bytes.
pub const MAGIC: &[u8; 4] = b"SRSC";
/// The version this build writes and reads.
pub const VERSION: u8 = 1;
/// The cache key's length (AES-256).
pub const KEY_LEN: usize = 32;
/// The file name suffix.
pub const SUFFIX: &str = ".srsc";

fn check_key(key: &[u8]) -> Result<()> {
    if key.len() == KEY_LEN {
        Ok(())
    } else {
        Err(Error::param(
            "CacheKey",
            "the secret cache key is 32 bytes (AES-256)",
        ))
    }
}

fn aad(secret_name: &str, stage: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(6 + secret_name.len() + stage.len());
    a.extend_from_slice(MAGIC);
    a.push(VERSION);
    a.extend_from_slice(secret_name.as_bytes());
    a.push(0);
    a.extend_from_slice(stage.as_bytes());
    a
}

/// The file name of a (secret, stage)'s copy: a hash, so a name with `/` (or any
/// other character) is a plain file in one directory.
#[must_use]
pub fn file_name(secret_name: &str, stage: &str) -> String {
    let mut m = Vec::with_capacity(25 + secret_name.len() + stage.len());
    m.extend_from_slice(b"strongroom-secret-cache\0");
    m.extend_from_slice(secret_name.as_bytes());
    m.push(0);
    m.extend_from_slice(stage.as_bytes());
    let mut s = String::with_capacity(64 + SUFFIX.len());
    for b in crate::vocab::sha256(&m) {
        let _ = write!(s, "{b:02x}");
    }
    s.push_str(SUFFIX);
    s
}

/// Seals `content` (the JSON above) for `secret_name` / `stage` under `key`, with a
/// fresh random nonce.
///
/// # Errors
/// `InvalidParameter.CacheKey` for a key that is not 32 bytes; the entropy source's
/// failure.
pub fn seal(
    env: &Env,
    key: &[u8],
    secret_name: &str,
    stage: &str,
    content: &[u8],
) -> Result<Vec<u8>> {
    check_key(key)?;
    let nonce: [u8; aead::NONCE_LEN] = env.random()?;
    let ct = aead::seal(key, &nonce, content, &aad(secret_name, stage))?;
    let mut out = Vec::with_capacity(5 + nonce.len() + ct.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a copy sealed by [`seal`] for the same secret and stage under the same key.
///
/// # Errors
/// `InvalidParameter.CacheKey` for a key that is not 32 bytes; `InvalidCiphertext` for
/// anything else (another version, another secret or stage, another key, a byte
/// changed, a short file).
pub fn open(key: &[u8], secret_name: &str, stage: &str, file: &[u8]) -> Result<SecretBytes> {
    check_key(key)?;
    let (head, rest) = file.split_at_checked(5).ok_or(Error::InvalidCiphertext)?;
    if head.get(..4) != Some(MAGIC.as_slice()) || head.get(4) != Some(&VERSION) {
        return Err(Error::InvalidCiphertext);
    }
    let (nonce, ct) = rest
        .split_at_checked(aead::NONCE_LEN)
        .ok_or(Error::InvalidCiphertext)?;
    if ct.len() < aead::TAG_LEN {
        return Err(Error::InvalidCiphertext);
    }
    let nonce: [u8; aead::NONCE_LEN] = nonce.try_into().map_err(|_| Error::InvalidCiphertext)?;
    aead::open(key, &nonce, ct, &aad(secret_name, stage))
}

/// A copy's content if it may be served now: it opens for this secret, stage and key,
/// its `SecretName` is `secret_name`, and it was fetched less than `max_age_ms` before
/// `now_ms`. `None` for anything else (no error: a copy that may not be served is
/// ignored). Every runtime's cache asks this one question here.
#[must_use]
pub fn open_fresh(
    key: &[u8],
    secret_name: &str,
    stage: &str,
    file: &[u8],
    now_ms: u64,
    max_age_ms: u64,
) -> Option<SecretBytes> {
    use zeroize::Zeroize as _;
    let content = open(key, secret_name, stage, file).ok()?;
    let mut v: serde_json::Value = serde_json::from_slice(content.expose()).ok()?;
    let fresh = v.get("SecretName").and_then(serde_json::Value::as_str) == Some(secret_name)
        && v.get("FetchedAt")
            .and_then(serde_json::Value::as_u64)
            .is_some_and(|at| now_ms.saturating_sub(at) < max_age_ms);
    // The parsed copy of the value is wiped; the caller gets the sealed bytes' plaintext.
    if let Some(serde_json::Value::String(d)) = v.get_mut("SecretData") {
        d.zeroize();
    }
    fresh.then_some(content)
}
