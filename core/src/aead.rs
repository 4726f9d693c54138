//! AES-GCM through the `aes-gcm` crate, for 128/192/256-bit keys. No primitive is
//! implemented here: this only picks the key size and keeps errors opaque.

use alloc::vec::Vec;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AesGcm, Nonce};

use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// The GCM nonce length (96 bits).
pub const NONCE_LEN: usize = 12;
/// The GCM tag length (128 bits).
pub const TAG_LEN: usize = 16;

fn cipher_op<F>(key: &[u8], f: F) -> Result<Vec<u8>>
where
    F: FnOnce(&dyn AeadDyn) -> core::result::Result<Vec<u8>, aes_gcm::Error>,
{
    let r = match key.len() {
        16 => AesGcm::<Aes128, U12>::new_from_slice(key).map(|c| f(&c)),
        24 => AesGcm::<Aes192, U12>::new_from_slice(key).map(|c| f(&c)),
        32 => AesGcm::<Aes256, U12>::new_from_slice(key).map(|c| f(&c)),
        _ => return Err(Error::BackendProtocol("AES key of unsupported length")),
    };
    match r {
        Ok(Ok(v)) => Ok(v),
        _ => Err(Error::InvalidCiphertext),
    }
}

/// Object-safe view of the three AES-GCM instantiations.
trait AeadDyn {
    fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        msg: &[u8],
        aad: &[u8],
    ) -> core::result::Result<Vec<u8>, aes_gcm::Error>;
    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        msg: &[u8],
        aad: &[u8],
    ) -> core::result::Result<Vec<u8>, aes_gcm::Error>;
}

impl<T: Aead + aes_gcm::AeadCore<NonceSize = U12>> AeadDyn for T {
    fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        msg: &[u8],
        aad: &[u8],
    ) -> core::result::Result<Vec<u8>, aes_gcm::Error> {
        self.encrypt(&Nonce::<U12>::from(*nonce), Payload { msg, aad })
    }
    fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        msg: &[u8],
        aad: &[u8],
    ) -> core::result::Result<Vec<u8>, aes_gcm::Error> {
        self.decrypt(&Nonce::<U12>::from(*nonce), Payload { msg, aad })
    }
}

/// AES-256-GCM offered by the host runtime, used instead of the portable software
/// AES-GCM for inputs of at least [`PLATFORM_GCM_MIN`] bytes once installed with
/// [`set_platform_gcm`]: store records, secret values and envelope frames. The npm
/// package installs node:crypto's in Node (OpenSSL with AES-NI), where the wasm
/// build's software AES-GCM is more than ten times slower on a 4 KiB value; browsers
/// and native builds install none (WebCrypto is asynchronous only; native builds have
/// AWS-LC's). The bytes are the same either way: it is the same AES-256-GCM.
///
/// An implementation works in place with detached tags, and may decline any call
/// (`None`): the software AES-GCM then does it.
pub trait PlatformGcm: Sync {
    /// Encrypts `buf` in place under `key` and `nonce` with `aad`; returns the tag, or
    /// `None` to leave the call to the software AES-GCM (`buf` untouched).
    fn seal(
        &self,
        key: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Option<[u8; TAG_LEN]>;
    /// Decrypts `buf` in place when `tag` verifies: `Some(true)`; `Some(false)` when it
    /// does not (the caller zeroes `buf`); `None` to leave the call to the software
    /// AES-GCM (`buf` untouched).
    fn open(
        &self,
        key: &[u8; 32],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Option<bool>;
}

/// The shortest input [`PlatformGcm`] is asked to seal or open: below it, one call
/// into the host costs more than the software AES-GCM (Node: ~3 µs a call).
pub const PLATFORM_GCM_MIN: usize = 1024;

static PLATFORM_GCM: spin::Once<&'static dyn PlatformGcm> = spin::Once::new();

/// Installs the host's AES-256-GCM for this process (see [`PlatformGcm`]). The first
/// installation stays; returns whether `p` is the one installed.
///
/// # Examples
///
/// ```
/// struct Host; // a host that declines every call: the software AES-GCM does them
/// impl strongroom::PlatformGcm for Host {
///     fn seal(&self, _: &[u8; 32], _: &[u8; 12], _: &[u8], _: &mut [u8]) -> Option<[u8; 16]> { None }
///     fn open(&self, _: &[u8; 32], _: &[u8; 12], _: &[u8], _: &mut [u8], _: &[u8; 16]) -> Option<bool> { None }
/// }
/// static HOST: Host = Host;
/// assert!(strongroom::set_platform_gcm(&HOST));
/// ```
pub fn set_platform_gcm(p: &'static dyn PlatformGcm) -> bool {
    let mut installed = false;
    PLATFORM_GCM.call_once(|| {
        installed = true;
        p
    });
    installed
}

/// The host's AES-256-GCM for an input of `len` bytes under a key of `key_len` bytes.
pub(crate) fn platform_gcm(key_len: usize, len: usize) -> Option<&'static dyn PlatformGcm> {
    if key_len != 32 || len < PLATFORM_GCM_MIN {
        return None;
    }
    PLATFORM_GCM.get().copied()
}

/// Seals `buf` in place on the host's AES-256-GCM when one is installed and `buf` is
/// long enough; `None` otherwise (or when the host declines).
pub(crate) fn platform_seal(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Option<[u8; TAG_LEN]> {
    let p = platform_gcm(key.len(), buf.len())?;
    p.seal(key.try_into().ok()?, nonce, aad, buf)
}

/// Opens `buf` in place on the host's AES-256-GCM (see [`platform_seal`]): whether the
/// tag verified (`buf` zeroed when not), or `None` for the software AES-GCM to do it.
pub(crate) fn platform_open(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Option<bool> {
    let p = platform_gcm(key.len(), buf.len())?;
    let ok = p.open(key.try_into().ok()?, nonce, aad, buf, tag)?;
    if !ok {
        zeroize::Zeroize::zeroize(buf);
    }
    Some(ok)
}

/// AES-GCM encryption: returns ciphertext || 16-byte tag.
pub(crate) fn seal(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>> {
    if platform_gcm(key.len(), plaintext.len()).is_some() {
        let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
        buf.extend_from_slice(plaintext);
        if let Some(tag) = platform_seal(key, nonce, aad, &mut buf) {
            buf.extend_from_slice(&tag);
            return Ok(buf);
        }
    }
    cipher_op(key, |c| c.seal(nonce, plaintext, aad))
}

/// AES-GCM decryption of ciphertext || tag. Any failure is [`Error::InvalidCiphertext`].
pub(crate) fn open(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<SecretBytes> {
    if let Some(split) = ciphertext.len().checked_sub(TAG_LEN)
        && platform_gcm(key.len(), split).is_some()
    {
        let (body, t) = ciphertext.split_at(split);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(t);
        let mut buf = SecretBytes::from_slice(body);
        match platform_open(key, nonce, aad, buf.expose_mut(), &tag) {
            Some(true) => return Ok(buf),
            Some(false) => return Err(Error::InvalidCiphertext),
            None => {}
        }
    }
    cipher_op(key, |c| c.open(nonce, ciphertext, aad)).map(SecretBytes::new)
}

/// The blob and store AEAD (AES-128/192/256-GCM), reachable for the Wycheproof tests
/// (core/tests/wycheproof_aead.rs) only.
#[doc(hidden)]
pub mod hazmat {
    use alloc::vec::Vec;

    use crate::error::Result;

    /// Seals: ciphertext ‖ tag.
    ///
    /// # Errors
    /// A key that is not 16, 24 or 32 bytes.
    pub fn seal(key: &[u8], nonce: &[u8; 12], aad: &[u8], pt: &[u8]) -> Result<Vec<u8>> {
        super::seal(key, nonce, pt, aad)
    }

    /// Opens ciphertext ‖ tag; `None` when it does not authenticate.
    #[must_use]
    pub fn open(key: &[u8], nonce: &[u8; 12], aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
        super::open(key, nonce, ct, aad)
            .ok()
            .map(|p| p.expose().to_vec())
    }
}
