//! The one joint between the KMS logic and where master keys live.
//!
//! A [`KeyBackend`] generates key material and performs operations with it, returning
//! and taking opaque [`KeyHandle`]s that the KMS keeps in its sealed store. The
//! [`software`] backend's handle *is* the material (sealed at rest by the store's root
//! key); an HSM's or a remote gateway's handle is a reference or a blob wrapped by the
//! device, so the material never leaves it.
//!
//! Every method is async (`BoxFuture`, no runtime): backends may sit across a network.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use crate::asym::{EncryptionAlgorithm, SigningAlgorithm};
use crate::error::Result;
use crate::secret::SecretBytes;
use crate::vocab::{KeySpec, ProtectionLevel};

pub mod http;
pub mod remote;
pub mod software;
pub mod transit;

/// `Send + Sync` on native targets, nothing on wasm32 (where JS values are `!Send`).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}
/// `Send + Sync` on native targets, nothing on wasm32 (where JS values are `!Send`).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// `Send` on native targets, nothing on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` on native targets, nothing on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// A boxed future: `Send` on native targets so callers may drive it on any thread
/// (Python releases the GIL around it), not `Send` on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future: `Send` on native targets, not on wasm32.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// An opaque reference to one key version's material inside a backend. Treated as
/// secret: zeroized on drop, redacted in Debug.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyHandle(pub SecretBytes);

/// The result of a symmetric encryption by a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The 96-bit GCM nonce the backend chose.
    pub nonce: [u8; 12],
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// Where master keys live and are used.
pub trait KeyBackend: MaybeSendSync {
    /// The protection level keys made here have (`SOFTWARE` or `HSM`).
    fn protection_level(&self) -> ProtectionLevel;

    /// Whether operations leave the process (a network service, a token's library
    /// talking to a device or a server): a server runs such calls off its event loop,
    /// under a timeout. False for the in-process software backend.
    fn out_of_process(&self) -> bool {
        false
    }

    /// Generates material for one new key version.
    ///
    /// # Errors
    /// `Rejected.Unsupported` for a spec the backend cannot hold; backend failures.
    fn generate<'a>(&'a self, spec: KeySpec) -> BoxFuture<'a, Result<KeyHandle>>;

    /// As [`KeyBackend::generate`], for a key with `usage`: backends that bind a key
    /// to its usage (the remote one seals both into the handle) override this; the
    /// default ignores the usage.
    ///
    /// # Errors
    /// As [`KeyBackend::generate`].
    fn generate_for<'a>(
        &'a self,
        spec: KeySpec,
        usage: crate::vocab::KeyUsage,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        let _ = usage;
        self.generate(spec)
    }

    /// Material for a key's next version, given its current primary version's handle:
    /// backends that version keys themselves (transit) rotate that key; the default
    /// makes a fresh one ([`KeyBackend::generate_for`]).
    ///
    /// # Errors
    /// As [`KeyBackend::generate`].
    fn rotate<'a>(
        &'a self,
        current: &'a KeyHandle,
        spec: KeySpec,
        usage: crate::vocab::KeyUsage,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        let _ = current;
        self.generate_for(spec, usage)
    }

    /// AES-GCM encryption under the key version, with a fresh nonce chosen here.
    ///
    /// # Errors
    /// Backend or transport failures.
    fn encrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Sealed>>;

    /// AES-GCM decryption under the key version.
    ///
    /// # Errors
    /// `InvalidCiphertext` when authentication fails; backend or transport failures.
    fn decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        nonce: &'a [u8; 12],
        ciphertext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>>;

    /// Destroys a key version's material inside the backend, once the key's deletion
    /// is durable in the store (its window passed). Backends whose handle *is* the
    /// material (software: it leaves the file with the record) have nothing to do.
    /// Best effort: the store no longer names the version, so a failure leaves an
    /// orphan in the backend, not a usable key.
    ///
    /// # Errors
    /// Backend failures.
    fn destroy<'a>(&'a self, _handle: &'a KeyHandle) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Whether [`KeyBackend::import`] works (BYOK).
    fn supports_import(&self) -> bool {
        false
    }

    /// Takes imported symmetric key material (BYOK) and returns the handle of a key
    /// version holding it.
    ///
    /// # Errors
    /// `Rejected.Unsupported` when the backend cannot import; backend failures.
    fn import<'a>(
        &'a self,
        _spec: KeySpec,
        _material: &'a SecretBytes,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async {
            Err(crate::error::Error::Unsupported(
                "this key backend cannot import key material",
            ))
        })
    }

    /// As [`KeyBackend::import`], for a key with `usage` (see
    /// [`KeyBackend::generate_for`]); the default ignores the usage.
    ///
    /// # Errors
    /// As [`KeyBackend::import`].
    fn import_for<'a>(
        &'a self,
        spec: KeySpec,
        usage: crate::vocab::KeyUsage,
        material: &'a SecretBytes,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        let _ = usage;
        self.import(spec, material)
    }

    /// A fresh data key of `len` bytes drawn by the backend and encrypted there under
    /// the key version with `aad` (transit's `datakey`), as
    /// [`KeyBackend::encrypt`] would seal it: `Ok(None)` when the backend has no such
    /// operation for this length, and the core draws the key and calls `encrypt`.
    ///
    /// # Errors
    /// As [`KeyBackend::encrypt`].
    fn generate_data_key<'a>(
        &'a self,
        _handle: &'a KeyHandle,
        _len: usize,
        _aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<(SecretBytes, Sealed)>>> {
        Box::pin(async { Ok(None) })
    }

    /// Whether BYOK unwraps inside the backend: GetParametersForImport then asks it
    /// for the wrapping key pair ([`KeyBackend::import_wrapping_key`]) and
    /// ImportKeyMaterial hands it the encrypted material
    /// ([`KeyBackend::unwrap_import`]), so the plaintext material never enters this
    /// process (a PKCS#11 token's C_UnwrapKey). Otherwise the core unwraps it and calls
    /// [`KeyBackend::import_for`].
    fn unwraps_imports(&self) -> bool {
        false
    }

    /// A new RSA wrapping key pair of `spec` made in the backend for one import: its
    /// handle (the private half, usable only to unwrap) and its public key
    /// (SubjectPublicKeyInfo DER).
    ///
    /// # Errors
    /// `Rejected.Unsupported` when the backend does not unwrap imports; backend
    /// failures.
    fn import_wrapping_key<'a>(
        &'a self,
        _spec: KeySpec,
    ) -> BoxFuture<'a, Result<(KeyHandle, Vec<u8>)>> {
        Box::pin(async {
            Err(crate::error::Error::Unsupported(
                "this key backend does not unwrap imported material itself",
            ))
        })
    }

    /// Unwraps `wrapped` with the wrapping key `wrapping` — RSA-OAEP (`oaep`) alone, or
    /// with `key_wrap` around an AES-256 key-wrap-with-padding layer — into a new key
    /// version of `spec` and `usage`, inside the backend. Returns its handle and a check
    /// value computed in the backend (the same material gives the same value), from
    /// which the core derives its same-material fingerprint.
    ///
    /// # Errors
    /// `InvalidParameter.EncryptedKeyMaterial` when it does not unwrap or has the wrong
    /// length for `spec`; `Rejected.Unsupported` naming what the backend lacks; backend
    /// failures.
    fn unwrap_import<'a>(
        &'a self,
        _wrapping: &'a KeyHandle,
        _oaep: EncryptionAlgorithm,
        _key_wrap: bool,
        _wrapped: &'a [u8],
        _spec: KeySpec,
        _usage: crate::vocab::KeyUsage,
    ) -> BoxFuture<'a, Result<(KeyHandle, Vec<u8>)>> {
        Box::pin(async {
            Err(crate::error::Error::Unsupported(
                "this key backend does not unwrap imported material itself",
            ))
        })
    }

    /// The key specs this backend makes, as data: what DescribeService reports and
    /// CreateKey checks before asking the backend (the tier rules of docs/TIERS.md).
    /// The default: every symmetric spec, and every asymmetric one when
    /// [`KeyBackend::supports_asymmetric`]. Backends that hold fewer (a token without a
    /// mechanism, transit without AES-192 or secp256k1) say which.
    fn key_specs(&self) -> Vec<KeySpec> {
        let asymmetric = self.supports_asymmetric();
        KeySpec::ALL
            .iter()
            .copied()
            .filter(|s| s.symmetric_key_len().is_some() || asymmetric)
            .collect()
    }

    /// Whether [`KeyBackend::generate`] makes RSA / EC keys and the asymmetric
    /// operations below work. CreateKey refuses asymmetric specs otherwise.
    fn supports_asymmetric(&self) -> bool {
        false
    }

    /// The SubjectPublicKeyInfo DER of an asymmetric key.
    fn public_key<'a>(
        &'a self,
        _handle: &'a KeyHandle,
        _spec: KeySpec,
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async { Err(no_asymmetric()) })
    }

    /// Signs `message` after hashing it with SHA-256 (DER for ECDSA). The default
    /// hashes and calls [`KeyBackend::sign`]; a backend with a faster path for whole
    /// messages (the software backend with a [`PlatformAsym`]) overrides it.
    fn sign_message<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
        alg: SigningAlgorithm,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let digest = crate::vocab::sha256(message);
            self.sign(handle, spec, alg, &digest).await
        })
    }

    /// Signs a SHA-256 digest (DER for ECDSA).
    fn sign<'a>(
        &'a self,
        _handle: &'a KeyHandle,
        _spec: KeySpec,
        _alg: SigningAlgorithm,
        _digest: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async { Err(no_asymmetric()) })
    }

    /// RSA-OAEP decryption; every failure is `InvalidCiphertext`.
    fn asymmetric_decrypt<'a>(
        &'a self,
        _handle: &'a KeyHandle,
        _spec: KeySpec,
        _alg: EncryptionAlgorithm,
        _ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async { Err(no_asymmetric()) })
    }
}

/// Private-key operations a host platform runs in place of the built-in
/// implementation: the wasm build hands RSA and P-256 to WebCrypto (native code,
/// constant-time RSA, no RUSTSEC-2023-0071). Each method answers `None` for a case it
/// does not handle (a spec, an algorithm, a key it cannot import), and the built-in
/// implementation runs instead.
pub trait PlatformAsym: MaybeSendSync {
    /// RSA-OAEP decryption with a PKCS#8 private key; a failure is `InvalidCiphertext`.
    fn decrypt<'a>(
        &'a self,
        spec: KeySpec,
        pkcs8: &'a [u8],
        alg: EncryptionAlgorithm,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Option<Result<SecretBytes>>>;

    /// Signs `message`, hashing it with SHA-256 itself (ECDSA: DER).
    fn sign_message<'a>(
        &'a self,
        spec: KeySpec,
        pkcs8: &'a [u8],
        alg: SigningAlgorithm,
        message: &'a [u8],
    ) -> BoxFuture<'a, Option<Result<Vec<u8>>>>;
}

fn no_asymmetric() -> crate::error::Error {
    crate::error::Error::Unsupported("this key backend holds symmetric keys only")
}
