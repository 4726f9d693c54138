//! Symmetric cryptography (family Crypto): Encrypt, Decrypt, ReEncrypt, data keys,
//! GetRandomPassword, GenerateRandom and Hash — what a key does once the dispatch has
//! resolved and authorised it.

use alloc::string::String;
use alloc::vec::Vec;

use crate::backend::KeyHandle;
use crate::blob;
use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::kms::*;
use crate::secret::SecretBytes;
use crate::state::KeyRecord;
use crate::vocab::{DataKeySpec, KeyFormat, KeySpec, KeyState, KeyUsage, ProtectionLevel};

/// Largest plaintext Encrypt accepts (6 KiB, as Alibaba KMS).
pub const MAX_ENCRYPT_PLAINTEXT: usize = 6144;
/// ReEncrypt: decrypt under the blob's key, encrypt under a destination key's
/// primary version, without the plaintext leaving the KMS.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReEncryptRequest {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// SourceEncryptionContext.
    pub source_encryption_context: EncryptionContext,
    /// DestinationKeyId (or ARN); the blob's own key to move it to its current primary.
    pub destination_key_id: String,
    /// DestinationEncryptionContext.
    pub destination_encryption_context: EncryptionContext,
}

/// ReEncrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReEncryptResponse {
    /// KeyId (destination).
    pub key_id: String,
    /// KeyVersionId (destination primary).
    pub key_version_id: String,
    /// SourceKeyId.
    pub source_key_id: String,
    /// SourceKeyVersionId.
    pub source_key_version_id: String,
    /// CiphertextBlob under the destination.
    pub ciphertext_blob: Vec<u8>,
}

/// GetRandomPassword (Alibaba's parameters; defaults: 32 characters of every type,
/// at least one of each).
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GetRandomPasswordRequest {
    /// Length: 8–128 (default 32).
    pub length: Option<u32>,
    /// ExcludeCharacters: characters never to use.
    pub exclude_characters: Option<String>,
    /// ExcludeLowercase.
    pub exclude_lowercase: bool,
    /// ExcludeUppercase.
    pub exclude_uppercase: bool,
    /// ExcludeNumbers.
    pub exclude_numbers: bool,
    /// ExcludePunctuation (the 32 ASCII punctuation characters,
    /// [`PASSWORD_PUNCTUATION`]).
    pub exclude_punctuation: bool,
    /// RequireEachIncludedType (default true): at least one character of every type
    /// not excluded.
    pub require_each_included_type: Option<bool>,
}

/// The punctuation GetRandomPassword draws from.
pub const PASSWORD_PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// Encrypt. `Debug` shows the plaintext's length, never its bytes.
#[derive(Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EncryptRequest {
    /// KeyId (or ARN).
    pub key_id: String,
    /// Plaintext, 1 B – 6 KiB.
    pub plaintext: Vec<u8>,
    /// EncryptionContext.
    pub encryption_context: EncryptionContext,
}

/// Encrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EncryptResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId used.
    pub key_version_id: String,
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
}

/// Decrypt (no KeyId: the blob names its key version).
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DecryptRequest {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// EncryptionContext given at encryption.
    pub encryption_context: EncryptionContext,
}

/// Decrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DecryptResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// Plaintext.
    pub plaintext: SecretBytes,
}

/// GenerateDataKey and GenerateDataKeyWithoutPlaintext.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateDataKeyRequest {
    /// KeyId (or ARN) of the CMK that wraps the data key.
    pub key_id: String,
    /// KeySpec (`AES_256` default, `AES_128`).
    pub key_spec: Option<DataKeySpec>,
    /// NumberOfBytes (1–1024); takes precedence over `key_spec`.
    pub number_of_bytes: Option<u32>,
    /// EncryptionContext.
    pub encryption_context: EncryptionContext,
}

/// GenerateDataKey's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateDataKeyResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// Plaintext data key. Use it, then drop it (it is zeroized).
    pub plaintext: SecretBytes,
    /// CiphertextBlob: the data key wrapped by the CMK. Keep this.
    pub ciphertext_blob: Vec<u8>,
}

/// GenerateDataKeyWithoutPlaintext's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateDataKeyWithoutPlaintextResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
}

/// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: a fresh asymmetric
/// key pair for use outside the KMS, its private key encrypted under a symmetric CMK.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateDataKeyPairRequest {
    /// KeyId (or alias, ARN) of the symmetric CMK that encrypts the private key.
    pub key_id: String,
    /// KeyPairSpec (required): `RSA_2048`, `RSA_3072`, `RSA_4096`, `EC_P256` or
    /// `EC_P256K`.
    pub key_pair_spec: Option<KeySpec>,
    /// KeyFormat of both keys: PEM (the default) or DER.
    pub key_format: Option<KeyFormat>,
    /// EncryptionContext of the private key's ciphertext (Decrypt needs it again).
    pub encryption_context: EncryptionContext,
}

/// GenerateDataKeyPair's answer. `Debug` never shows the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateDataKeyPairResponse {
    /// KeyId of the CMK.
    pub key_id: String,
    /// KeyVersionId (the CMK's primary version, which encrypted the private key).
    pub key_version_id: String,
    /// KeyPairSpec.
    pub key_pair_spec: KeySpec,
    /// The private key (PKCS#8, in the KeyFormat asked for). Use it, then drop it (it
    /// is zeroized).
    pub private_key_plaintext: SecretBytes,
    /// The same private key as a ciphertext blob under the CMK: Decrypt, with the
    /// EncryptionContext, gives back `private_key_plaintext`. Keep this.
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The public key (SubjectPublicKeyInfo, in the KeyFormat asked for).
    pub public_key: Vec<u8>,
}

/// GenerateDataKeyPairWithoutPlaintext's answer: the pair without the plaintext
/// private key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateDataKeyPairWithoutPlaintextResponse {
    /// KeyId of the CMK.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// KeyPairSpec.
    pub key_pair_spec: KeySpec,
    /// The private key as a ciphertext blob under the CMK (Decrypt opens it).
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The public key (SubjectPublicKeyInfo, in the KeyFormat asked for).
    pub public_key: Vec<u8>,
}

/// The KeyPairSpecs GenerateDataKeyPair makes.
const KEY_PAIR_SPECS: &str = "RSA_2048, RSA_3072, RSA_4096, EC_P256 or EC_P256K";

/// A KeyPairSpec parameter (the wire's, the CLI's): one of the asymmetric specs.
///
/// # Errors
/// `InvalidParameter.KeyPairSpec` for any other text.
///
/// # Examples
///
/// ```
/// assert_eq!(strongroom::parse_key_pair_spec("EC_P256")?, strongroom::KeySpec::EcP256);
/// assert!(strongroom::parse_key_pair_spec("Aliyun_AES_256").is_err());
/// # Ok::<(), strongroom::Error>(())
/// ```
pub fn parse_key_pair_spec(s: &str) -> Result<KeySpec> {
    let spec = s.parse::<KeySpec>().map_err(|_| {
        Error::param(
            "KeyPairSpec",
            alloc::format!("{s:?} is not one of {KEY_PAIR_SPECS}"),
        )
    })?;
    check_key_pair_spec(Some(spec))
}

/// GenerateDataKeyPair's KeyPairSpec: required, and an asymmetric spec.
pub(crate) fn check_key_pair_spec(spec: Option<KeySpec>) -> Result<KeySpec> {
    const SPECS: &str = KEY_PAIR_SPECS;
    match spec {
        None => Err(Error::param(
            "KeyPairSpec",
            alloc::format!("required: {SPECS}"),
        )),
        Some(s) if s.symmetric_key_len().is_some() => Err(Error::param(
            "KeyPairSpec",
            alloc::format!("{s} is not a key pair: {SPECS}"),
        )),
        Some(s) => Ok(s),
    }
}

/// GenerateRandom's Length: 1 to 1024 bytes (the instance API's bounds).
pub(crate) fn check_random_length(length: u32) -> Result<()> {
    if !(1..=1024).contains(&length) {
        return Err(Error::param(
            "Length",
            "GenerateRandom gives 1 to 1024 bytes",
        ));
    }
    Ok(())
}

/// Hash's Message: at most 4 MiB (a digest of more is the client's to compute).
pub(crate) fn check_hash_message(message: &[u8]) -> Result<()> {
    if message.len() > 4 << 20 {
        return Err(Error::param("Message", "Hash takes at most 4 MiB"));
    }
    Ok(())
}

/// Encrypt's plaintext: 1 byte to 6 KiB.
pub(crate) fn check_encrypt_plaintext(plaintext: &[u8]) -> Result<()> {
    if plaintext.is_empty() {
        return Err(Error::param("Plaintext", "required (1 byte to 6 KiB)"));
    }
    if plaintext.len() > MAX_ENCRYPT_PLAINTEXT {
        return Err(Error::PlaintextTooLarge {
            size: plaintext.len(),
            limit: MAX_ENCRYPT_PLAINTEXT,
        });
    }
    Ok(())
}

impl core::fmt::Debug for EncryptRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptRequest")
            .field("key_id", &self.key_id)
            .field("plaintext", &crate::secret::Redacted(self.plaintext.len()))
            .field("encryption_context", &self.encryption_context)
            .finish()
    }
}

impl Kms {
    /// Whether the key may encrypt and decrypt now.
    pub(crate) fn check_encrypt_usable(&self, key_id: &str) -> Result<()> {
        self.with_key(key_id, Self::usable_for_encrypt)
    }

    pub(crate) fn usable_for_encrypt(k: &KeyRecord) -> Result<()> {
        if k.spec.symmetric_key_len().is_none() {
            return Err(Error::param(
                "KeySpec",
                alloc::format!(
                    "{} is an asymmetric key: use AsymmetricEncrypt / AsymmetricSign",
                    k.spec
                ),
            ));
        }
        if k.usage != KeyUsage::EncryptDecrypt {
            return Err(Error::KeyUsage {
                key_id: k.key_id.clone(),
                usage: k.usage.as_str(),
            });
        }
        if k.state != KeyState::Enabled {
            return Err(Error::KeyState {
                key_id: k.key_id.clone(),
                state: k.state.as_str(),
            });
        }
        Ok(())
    }

    /// ReEncrypt: moves a blob to the destination key's current primary version
    /// (the same key for "after rotation", another key to re-key), with new context.
    ///
    /// # Errors
    /// As [`Kms::decrypt`] for the source and [`Kms::encrypt`] for the destination.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let blob = kms.encrypt(EncryptRequest { key_id: key_id.clone(), plaintext: b"hi".to_vec(), ..Default::default() }).await?.ciphertext_blob;
    /// # let other = kms.create_key(CreateKeyRequest::default()).await?.key_id;
    /// let moved = kms.re_encrypt(ReEncryptRequest { ciphertext_blob: blob, destination_key_id: other, ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn re_encrypt(&self, req: ReEncryptRequest) -> Result<ReEncryptResponse> {
        crate::api::as_owner!(self, ReEncrypt, req)
    }

    pub(crate) async fn re_encrypt_impl(&self, req: ReEncryptRequest) -> Result<ReEncryptResponse> {
        let d = self
            .decrypt_impl(DecryptRequest {
                ciphertext_blob: req.ciphertext_blob,
                encryption_context: req.source_encryption_context,
            })
            .await?;
        let e = self
            .seal_blob(
                &req.destination_key_id,
                d.plaintext.expose(),
                &req.destination_encryption_context,
            )
            .await?;
        Ok(ReEncryptResponse {
            key_id: e.key_id,
            key_version_id: e.key_version_id,
            source_key_id: d.key_id,
            source_key_version_id: d.key_version_id,
            ciphertext_blob: e.ciphertext_blob,
        })
    }

    /// GetRandomPassword: a password from the injected CSPRNG, each character drawn
    /// uniformly (rejection sampling) from the allowed set.
    ///
    /// # Errors
    /// `InvalidParameter.Length` (outside 8–128, or shorter than the number of types
    /// required); `InvalidParameter.ExcludeCharacters` (nothing left to draw from);
    /// `Rejected.EntropyUnavailable`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let password = kms.get_random_password(&GetRandomPasswordRequest { length: Some(24), ..Default::default() })?;
    /// # });
    /// ```
    pub fn get_random_password(&self, req: &GetRandomPasswordRequest) -> Result<SecretBytes> {
        // GetRandomPassword never waits (no sweep, no storage, no backend): its future
        // is ready on the first poll, so this face stays synchronous.
        let caller = crate::api::Caller::owner();
        let fut = self.call(&caller, crate::api::Request::GetRandomPassword(req.clone()));
        let r =
            crate::sync::poll_ready(fut).ok_or(Error::Internal("GetRandomPassword waited"))??;
        crate::api::take!(r, GetRandomPassword).map(|r| r.random_password)
    }

    /// GenerateRandom: `length` (1–1024) bytes from the injected CSPRNG, as the
    /// instance API's GenerateRandom gives them.
    ///
    /// # Errors
    /// `InvalidParameter.Length` (outside 1–1024); `Rejected.EntropyUnavailable`;
    /// `Forbidden.NoPermission` for a principal not allowed `kms:GenerateRandom`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let bytes = kms.generate_random(32).await?;
    /// assert_eq!(bytes.expose().len(), 32);
    /// # });
    /// ```
    pub async fn generate_random(&self, length: u32) -> Result<SecretBytes> {
        crate::api::as_owner!(
            self,
            GenerateRandom,
            crate::api::GenerateRandomRequest { length }
        )
        .map(|r| r.random)
    }

    pub(crate) fn generate_random_impl(&self, length: u32) -> Result<SecretBytes> {
        check_random_length(length)?;
        let mut out = SecretBytes::zeroed(length as usize);
        self.env.fill(out.expose_mut())?;
        Ok(out)
    }

    /// Hash: the SHA-256 (default), SHA-384 or SHA-512 digest of a message, as the
    /// instance API's Hash gives it.
    ///
    /// # Errors
    /// `InvalidParameter.Message` (over 4 MiB); `Forbidden.NoPermission` for a
    /// principal not allowed `kms:Hash`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let d = kms.hash(api::HashRequest { message: SecretBytes::from_slice(b"abc"), ..Default::default() }).await?;
    /// assert_eq!(d.digest.len(), 32);
    /// # });
    /// ```
    pub async fn hash(&self, req: crate::api::HashRequest) -> Result<crate::api::HashResponse> {
        crate::api::as_owner!(self, Hash, req)
    }

    pub(crate) fn hash_impl(req: &crate::api::HashRequest) -> crate::api::HashResponse {
        use sha2::Digest as _;
        let m = req.message.expose();
        let digest = match req.algorithm {
            crate::api::HashAlgorithm::Sha256 => sha2::Sha256::digest(m).to_vec(),
            crate::api::HashAlgorithm::Sha384 => sha2::Sha384::digest(m).to_vec(),
            crate::api::HashAlgorithm::Sha512 => sha2::Sha512::digest(m).to_vec(),
        };
        crate::api::HashResponse {
            algorithm: req.algorithm,
            digest,
        }
    }

    pub(crate) fn get_random_password_impl(
        &self,
        req: &GetRandomPasswordRequest,
    ) -> Result<SecretBytes> {
        let length = req.length.unwrap_or(32);
        if !(8..=128).contains(&length) {
            return Err(Error::param("Length", "8 to 128"));
        }
        let excluded = req.exclude_characters.as_deref().unwrap_or_default();
        let classes: Vec<Vec<u8>> = [
            (req.exclude_lowercase, "abcdefghijklmnopqrstuvwxyz"),
            (req.exclude_uppercase, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            (req.exclude_numbers, "0123456789"),
            (req.exclude_punctuation, PASSWORD_PUNCTUATION),
        ]
        .iter()
        .filter(|(off, _)| !off)
        .map(|(_, set)| {
            set.bytes()
                .filter(|b| !excluded.contains(char::from(*b)))
                .collect::<Vec<u8>>()
        })
        .filter(|set| !set.is_empty())
        .collect();
        let all: Vec<u8> = classes.iter().flatten().copied().collect();
        if all.is_empty() {
            return Err(Error::param(
                "ExcludeCharacters",
                "no characters are left to draw from",
            ));
        }
        let each = req.require_each_included_type.unwrap_or(true);
        if each && (length as usize) < classes.len() {
            return Err(Error::param(
                "Length",
                "shorter than the number of character types required",
            ));
        }
        // Uniform over `all`: bytes at or above the largest multiple of its size are
        // drawn again.
        let n = all.len();
        let limit = 256 - 256 % n;
        let mut out = SecretBytes::zeroed(length as usize);
        let mut pool = SecretBytes::zeroed(64);
        for _ in 0..1000 {
            let mut filled = 0;
            while filled < out.len() {
                self.env.fill(pool.expose_mut())?;
                for b in pool.expose() {
                    if (*b as usize) < limit && filled < out.len() {
                        if let Some(slot) = out.expose_mut().get_mut(filled) {
                            *slot = all.get(*b as usize % n).copied().unwrap_or(b'x');
                        }
                        filled += 1;
                    }
                }
            }
            if !each
                || classes
                    .iter()
                    .all(|c| out.expose().iter().any(|b| c.contains(b)))
            {
                return Ok(out);
            }
        }
        Err(Error::EntropyUnavailable)
    }

    /// The primary version's handle of an Enabled ENCRYPT/DECRYPT key.
    pub(crate) fn primary_for_encrypt(
        &self,
        key_id: &str,
    ) -> Result<(String, String, KeyHandle, ProtectionLevel)> {
        self.with_key(key_id, |k| {
            Self::usable_for_encrypt(k)?;
            let v = k
                .version(&k.primary_version)
                .ok_or(Error::StoreCorrupted("primary version missing"))?;
            Ok((
                k.key_id.clone(),
                v.version_id.clone(),
                v.handle.clone(),
                k.protection,
            ))
        })
    }

    pub(crate) async fn seal_blob(
        &self,
        key_id: &str,
        plaintext: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<EncryptResponse> {
        let (key_id, version_id, handle, level) = self.primary_for_encrypt(key_id)?;
        let header = blob::header(&key_id, &version_id)?;
        let sealed = self
            .key_backend(level)
            .encrypt(&handle, plaintext, &blob::aad(&header, ctx))
            .await?;
        Ok(EncryptResponse {
            ciphertext_blob: blob::assemble(&header, &sealed.nonce, &sealed.ciphertext),
            key_id,
            key_version_id: version_id,
        })
    }

    /// Encrypt: up to 6 KiB under the key's primary version.
    ///
    /// # Errors
    /// `InvalidParameter.PlaintextTooLarge`, `InvalidParameter.Plaintext` (empty),
    /// `Forbidden.KeyNotFound`, `Forbidden.KeyDisabled` (and other states),
    /// `Rejected.KeyUsage`; backend failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let blob = kms.encrypt(EncryptRequest { key_id: key_id.clone(), plaintext: b"hi".to_vec(), ..Default::default() }).await?.ciphertext_blob;
    /// # });
    /// ```
    pub async fn encrypt(&self, req: EncryptRequest) -> Result<EncryptResponse> {
        crate::api::as_owner!(self, Encrypt, req)
    }

    pub(crate) async fn encrypt_impl(&self, req: EncryptRequest) -> Result<EncryptResponse> {
        check_encrypt_plaintext(&req.plaintext)?;
        self.seal_blob(&req.key_id, &req.plaintext, &req.encryption_context)
            .await
    }

    /// Decrypt: the blob names its key and version.
    ///
    /// # Errors
    /// `InvalidCiphertext` (malformed, tampered, wrong context);
    /// `Forbidden.KeyNotFound`, `Forbidden.KeyVersionNotFound`, `Forbidden.KeyDisabled`;
    /// backend failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let blob = kms.encrypt(EncryptRequest { key_id: key_id.clone(), plaintext: b"hi".to_vec(), ..Default::default() }).await?.ciphertext_blob;
    /// let plaintext = kms.decrypt(DecryptRequest { ciphertext_blob: blob, ..Default::default() }).await?.plaintext;
    /// # });
    /// ```
    pub async fn decrypt(&self, req: DecryptRequest) -> Result<DecryptResponse> {
        crate::api::as_owner!(self, Decrypt, req)
    }

    pub(crate) async fn decrypt_impl(&self, req: DecryptRequest) -> Result<DecryptResponse> {
        let parsed = blob::parse(&req.ciphertext_blob)?;
        let (key_id, version_id, handle, level) = self.with_key(&parsed.key_id, |k| {
            Self::usable_for_encrypt(k)?;
            let v = k
                .version(&parsed.key_version_id)
                .ok_or_else(|| Error::KeyVersionNotFound {
                    key_id: k.key_id.clone(),
                    key_version_id: parsed.key_version_id.clone(),
                })?;
            Ok((
                k.key_id.clone(),
                v.version_id.clone(),
                v.handle.clone(),
                k.protection,
            ))
        })?;
        let aad = blob::aad(parsed.header, &req.encryption_context);
        let plaintext = self
            .key_backend(level)
            .decrypt(&handle, &parsed.nonce, parsed.ciphertext, &aad)
            .await?;
        Ok(DecryptResponse {
            key_id,
            key_version_id: version_id,
            plaintext,
        })
    }

    pub(crate) fn data_key_len(req: &GenerateDataKeyRequest) -> Result<usize> {
        match (req.number_of_bytes, req.key_spec) {
            (Some(n), _) if (1..=1024).contains(&n) => Ok(n as usize),
            (Some(_), _) => Err(Error::param("NumberOfBytes", "must be 1-1024")),
            (None, Some(DataKeySpec::Aes128)) => Ok(16),
            (None, _) => Ok(32),
        }
    }

    /// GenerateDataKey: a fresh random data key, returned in plaintext and wrapped.
    ///
    /// # Errors
    /// `InvalidParameter.NumberOfBytes`; as [`Kms::encrypt`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let data_key = kms.generate_data_key(GenerateDataKeyRequest { key_id: key_id.clone(), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn generate_data_key(
        &self,
        req: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse> {
        crate::api::as_owner!(self, GenerateDataKey, req)
    }

    pub(crate) async fn generate_data_key_impl(
        &self,
        req: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse> {
        let len = Self::data_key_len(&req)?;
        // A backend that draws data keys itself (transit's datakey) does, under the
        // blob's AAD; otherwise the key comes from this process's RNG.
        let (key_id, version_id, handle, level) = self.primary_for_encrypt(&req.key_id)?;
        let header = blob::header(&key_id, &version_id)?;
        let aad = blob::aad(&header, &req.encryption_context);
        if let Some((dk, sealed)) = self
            .key_backend(level)
            .generate_data_key(&handle, len, &aad)
            .await?
        {
            if dk.len() != len {
                return Err(Error::BackendProtocol(
                    "the key backend made a data key of another length",
                ));
            }
            return Ok(GenerateDataKeyResponse {
                key_id,
                key_version_id: version_id,
                plaintext: dk,
                ciphertext_blob: blob::assemble(&header, &sealed.nonce, &sealed.ciphertext),
            });
        }
        let mut dk = SecretBytes::zeroed(len);
        self.env.fill(dk.expose_mut())?;
        let r = self
            .seal_blob(&req.key_id, dk.expose(), &req.encryption_context)
            .await?;
        Ok(GenerateDataKeyResponse {
            key_id: r.key_id,
            key_version_id: r.key_version_id,
            plaintext: dk,
            ciphertext_blob: r.ciphertext_blob,
        })
    }

    /// GenerateDataKeyWithoutPlaintext: only the wrapped data key.
    ///
    /// # Errors
    /// As [`Kms::generate_data_key`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let wrapped = kms.generate_data_key_without_plaintext(GenerateDataKeyRequest { key_id: key_id.clone(), ..Default::default() }).await?.ciphertext_blob;
    /// # });
    /// ```
    pub async fn generate_data_key_without_plaintext(
        &self,
        req: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse> {
        crate::api::as_owner!(self, GenerateDataKeyWithoutPlaintext, req)
    }

    pub(crate) async fn generate_data_key_without_plaintext_impl(
        &self,
        req: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse> {
        let r = self.generate_data_key_impl(req).await?;
        Ok(GenerateDataKeyWithoutPlaintextResponse {
            key_id: r.key_id,
            key_version_id: r.key_version_id,
            ciphertext_blob: r.ciphertext_blob,
        })
    }

    /// GenerateDataKeyPair: a fresh RSA or EC key pair for signing or encryption
    /// outside the KMS — the private key in plaintext and encrypted under the CMK's
    /// primary version (a ciphertext blob Decrypt opens), and the public key.
    ///
    /// The pair is drawn in this process (AWS-LC natively, RustCrypto in wasm: RSA
    /// key generation takes a while there), whatever backend holds the CMK.
    ///
    /// # Errors
    /// `InvalidParameter.KeyPairSpec` (missing, or a symmetric spec),
    /// `InvalidParameter.KeyFormat`; as [`Kms::encrypt`] for the CMK;
    /// `Rejected.Unsupported` in a build with no RSA / EC implementation.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let pair = kms.generate_data_key_pair(GenerateDataKeyPairRequest { key_id: key_id.clone(), key_pair_spec: Some(KeySpec::EcP256), ..Default::default() }).await?;
    /// assert!(pair.public_key.starts_with(b"-----BEGIN PUBLIC KEY-----"));
    /// # });
    /// ```
    pub async fn generate_data_key_pair(
        &self,
        req: GenerateDataKeyPairRequest,
    ) -> Result<GenerateDataKeyPairResponse> {
        crate::api::as_owner!(self, GenerateDataKeyPair, req)
    }

    pub(crate) async fn generate_data_key_pair_impl(
        &self,
        req: GenerateDataKeyPairRequest,
    ) -> Result<GenerateDataKeyPairResponse> {
        let spec = check_key_pair_spec(req.key_pair_spec)?;
        // The CMK first: a disabled, missing or asymmetric key fails before a key pair
        // (an RSA one takes time) is drawn.
        self.check_encrypt_usable(&req.key_id)?;
        let pkcs8 = crate::asym::generate(spec)?;
        let spki = crate::asym::KeyCache::default().public_key(spec, pkcs8.expose())?;
        let (private_key, public_key) = match req.key_format.unwrap_or(KeyFormat::Pem) {
            KeyFormat::Der => (pkcs8, spki),
            KeyFormat::Pem => (
                crate::asym::pkcs8_pem(pkcs8.expose())?,
                crate::asym::spki_pem(&spki).into_bytes(),
            ),
        };
        let sealed = self
            .seal_blob(&req.key_id, private_key.expose(), &req.encryption_context)
            .await?;
        Ok(GenerateDataKeyPairResponse {
            key_id: sealed.key_id,
            key_version_id: sealed.key_version_id,
            key_pair_spec: spec,
            private_key_plaintext: private_key,
            private_key_ciphertext_blob: sealed.ciphertext_blob,
            public_key,
        })
    }

    /// GenerateDataKeyPairWithoutPlaintext: as [`Kms::generate_data_key_pair`],
    /// without the plaintext private key (whoever later needs it Decrypts the blob).
    ///
    /// # Errors
    /// As [`Kms::generate_data_key_pair`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let pair = kms.generate_data_key_pair_without_plaintext(GenerateDataKeyPairRequest { key_id: key_id.clone(), key_pair_spec: Some(KeySpec::EcP256), key_format: Some(KeyFormat::Der), ..Default::default() }).await?;
    /// let keep = pair.private_key_ciphertext_blob;
    /// # });
    /// ```
    pub async fn generate_data_key_pair_without_plaintext(
        &self,
        req: GenerateDataKeyPairRequest,
    ) -> Result<GenerateDataKeyPairWithoutPlaintextResponse> {
        crate::api::as_owner!(self, GenerateDataKeyPairWithoutPlaintext, req)
    }

    pub(crate) async fn generate_data_key_pair_without_plaintext_impl(
        &self,
        req: GenerateDataKeyPairRequest,
    ) -> Result<GenerateDataKeyPairWithoutPlaintextResponse> {
        let r = self.generate_data_key_pair_impl(req).await?;
        Ok(GenerateDataKeyPairWithoutPlaintextResponse {
            key_id: r.key_id,
            key_version_id: r.key_version_id,
            key_pair_spec: r.key_pair_spec,
            private_key_ciphertext_blob: r.private_key_ciphertext_blob,
            public_key: r.public_key,
        })
    }
}
