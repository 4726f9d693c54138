//! The in-process backend: key material lives in the process, sealed at rest in the
//! store under the root key. Protection level `SOFTWARE`.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{BoxFuture, KeyBackend, KeyHandle, PlatformAsym, Sealed};
use crate::aead;
use crate::asym::{self, EncryptionAlgorithm, SigningAlgorithm};
use crate::env::Env;
use crate::error::Result;
use crate::secret::SecretBytes;
use crate::vocab::{KeySpec, ProtectionLevel};

/// In-process key backend. Its [`KeyHandle`] is the key material itself.
#[derive(Clone)]
pub struct SoftwareBackend {
    env: Env,
    keys: alloc::sync::Arc<asym::KeyCache>,
    platform: Option<alloc::sync::Arc<dyn PlatformAsym>>,
}

impl core::fmt::Debug for SoftwareBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SoftwareBackend")
            .field("platform_asym", &self.platform.is_some())
            .finish_non_exhaustive()
    }
}

impl SoftwareBackend {
    /// A backend drawing material and nonces from `env`'s CSPRNG.
    #[must_use]
    pub fn new(env: Env) -> Self {
        SoftwareBackend {
            env,
            keys: alloc::sync::Arc::default(),
            platform: None,
        }
    }

    /// Runs RSA-OAEP decryption and whole-message signing on `platform` where it
    /// handles the case (see [`PlatformAsym`]); digest signing and everything else stay
    /// on the built-in implementation.
    #[must_use]
    pub fn with_platform_asym(mut self, platform: alloc::sync::Arc<dyn PlatformAsym>) -> Self {
        self.platform = Some(platform);
        self
    }

    fn generate_now(&self, spec: KeySpec) -> Result<KeyHandle> {
        let Some(len) = spec.symmetric_key_len() else {
            return Ok(KeyHandle(asym::generate(spec)?));
        };
        let mut material = SecretBytes::zeroed(len);
        self.env.fill(material.expose_mut())?;
        Ok(KeyHandle(material))
    }

    fn encrypt_now(&self, handle: &KeyHandle, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        not_elsewhere(handle)?;
        let nonce: [u8; aead::NONCE_LEN] = self.env.random()?;
        let ciphertext = aead::seal(handle.0.expose(), &nonce, plaintext, aad)?;
        Ok(Sealed { nonce, ciphertext })
    }
}

/// A handle another backend made (a PKCS#11 object reference starts `P11\x01`, a
/// transit key's name `TRN\x01`, a KMIP object's identifier `KMP\x01`): a store whose
/// keys live in a token, a transit engine or a KMIP server was opened without it.
fn not_elsewhere(handle: &KeyHandle) -> Result<()> {
    if handle.0.expose().starts_with(b"P11\x01") {
        return Err(crate::error::Error::BackendUnavailable(
            alloc::string::String::from(
                "this key lives in a PKCS#11 token: open the store with that token (STRONGROOM_PKCS11_MODULE, _TOKEN, _PIN)",
            ),
        ));
    }
    if handle.0.expose().starts_with(b"KMP\x01") {
        return Err(crate::error::Error::BackendUnavailable(
            alloc::string::String::from(
                "this key lives on a KMIP server: open the store with that server (STRONGROOM_KMIP_ADDR, _CA_FILE, _CERT_FILE, _KEY_FILE)",
            ),
        ));
    }
    if handle.0.expose().starts_with(super::transit::HANDLE_PREFIX) {
        return Err(crate::error::Error::BackendUnavailable(
            alloc::string::String::from(
                "this key lives in an OpenBao / Vault transit engine: open the store with that engine (STRONGROOM_TRANSIT_ADDR, _TOKEN)",
            ),
        ));
    }
    Ok(())
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
        Box::pin(async move {
            not_elsewhere(handle)?;
            aead::open(handle.0.expose(), nonce, ciphertext, aad)
        })
    }

    fn supports_import(&self) -> bool {
        true
    }

    fn import<'a>(
        &'a self,
        spec: KeySpec,
        material: &'a SecretBytes,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        // The handle is the material, as for generated keys: an asymmetric key's PKCS#8
        // is checked against its spec and stored in canonical form (also when it comes
        // from a remote client through a BackendServer).
        let r = match spec.symmetric_key_len() {
            None => asym::canonical_private_key(spec, material.expose()).map(KeyHandle),
            Some(n) if n == material.expose().len() => Ok(KeyHandle(material.clone())),
            Some(_) => Err(crate::error::Error::param(
                "EncryptedKeyMaterial",
                "the key material's length does not match the key spec",
            )),
        };
        Box::pin(async move { r })
    }

    fn supports_asymmetric(&self) -> bool {
        asym::AVAILABLE
    }

    fn public_key<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move { self.keys.public_key(spec, handle.0.expose()) })
    }

    fn sign<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
        alg: SigningAlgorithm,
        digest: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move { self.keys.sign(spec, handle.0.expose(), alg, digest) })
    }

    fn sign_message<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
        alg: SigningAlgorithm,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            if let Some(p) = &self.platform
                && let Some(r) = p.sign_message(spec, handle.0.expose(), alg, message).await
            {
                return r;
            }
            let digest = crate::vocab::sha256(message);
            self.keys.sign(spec, handle.0.expose(), alg, &digest)
        })
    }

    fn asymmetric_decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
        alg: EncryptionAlgorithm,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move {
            if let Some(p) = &self.platform
                && let Some(r) = p.decrypt(spec, handle.0.expose(), alg, ciphertext).await
            {
                return r.map_err(|_| crate::error::Error::InvalidCiphertext);
            }
            self.keys.decrypt(spec, handle.0.expose(), alg, ciphertext)
        })
    }
}
