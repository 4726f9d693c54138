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

/// AES-GCM encryption: returns ciphertext || 16-byte tag.
pub(crate) fn seal(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>> {
    cipher_op(key, |c| c.seal(nonce, plaintext, aad))
}

/// AES-GCM decryption of ciphertext || tag. Any failure is [`Error::InvalidCiphertext`].
pub(crate) fn open(
    key: &[u8],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<SecretBytes> {
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
