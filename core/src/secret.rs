//! Secret bytes: zeroized on drop, redacted in Debug, compared in constant time.

use alloc::vec::Vec;
use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes that must not leak: key material, plaintext data keys, root keys.
///
/// The buffer is wiped when dropped, `Debug` prints only the length, and equality is
/// constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`.
    #[must_use]
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }
    /// Copies `bytes`.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Self {
        SecretBytes(bytes.to_vec())
    }
    /// A zero-filled buffer of `len` bytes, to be filled in place.
    #[must_use]
    pub fn zeroed(len: usize) -> Self {
        SecretBytes(alloc::vec![0u8; len])
    }
    /// The secret, for handing to a cipher. Do not log it.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// Mutable access, for filling in place.
    pub fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether it is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {}])", self.0.len())
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for SecretBytes {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::from_slice(b"hunter2-hunter2");
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2"));
        assert_eq!(d, "SecretBytes([REDACTED; 15])");
    }
}

/// Prints as `<redacted N bytes>`: what `Debug` shows in place of plaintext.
pub(crate) struct Redacted(pub(crate) usize);

impl core::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "<redacted {} bytes>", self.0)
    }
}
