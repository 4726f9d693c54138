//! The in-process backend: key material lives in the process, sealed at rest in the
//! store under the root key. Protection level `SOFTWARE`.

use alloc::boxed::Box;

use super::{BoxFuture, KeyBackend, KeyHandle, Sealed};
use crate::aead;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::kms::{KeySpec, ProtectionLevel};
use crate::secret::SecretBytes;

/// In-process key backend. Its [`KeyHandle`] is the key material itself.
#[derive(Debug, Clone)]
pub struct SoftwareBackend {
    env: Env,
}

impl SoftwareBackend {
    /// A backend drawing material and nonces from `env`'s CSPRNG.
    #[must_use]
    pub fn new(env: Env) -> Self {
        SoftwareBackend { env }
    }

    fn generate_now(&self, spec: KeySpec) -> Result<KeyHandle> {
        let len = spec.symmetric_key_len().ok_or(Error::Unsupported(
            "this backend holds symmetric (Aliyun_AES_*) keys only for now",
        ))?;
        let mut material = SecretBytes::zeroed(len);
        self.env.fill(material.expose_mut())?;
        Ok(KeyHandle(material))
    }

    fn encrypt_now(&self, handle: &KeyHandle, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        let nonce: [u8; aead::NONCE_LEN] = self.env.random()?;
        let ciphertext = aead::seal(handle.0.expose(), &nonce, plaintext, aad)?;
        Ok(Sealed { nonce, ciphertext })
    }
}

impl KeyBackend for SoftwareBackend {
    fn protection_level(&self) -> ProtectionLevel {
        ProtectionLevel::Software
    }

    fn generate<'a>(&'a self, spec: KeySpec) -> BoxFuture<'a, Result<KeyHandle>> {
        let r = self.generate_now(spec);
        Box::pin(async move { r })
    }

    fn encrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Sealed>> {
        Box::pin(async move { self.encrypt_now(handle, plaintext, aad) })
    }

    fn decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        nonce: &'a [u8; 12],
        ciphertext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move { aead::open(handle.0.expose(), nonce, ciphertext, aad) })
    }
}
