//! The asymmetric actions of [`Kms`]: GetPublicKey, AsymmetricSign / AsymmetricVerify,
//! AsymmetricEncrypt / AsymmetricDecrypt. The private key stays in the backend; the
//! public half is asked of the backend and used here.

use alloc::string::String;
use alloc::vec::Vec;

use crate::asym::{self, EncryptionAlgorithm, SigningAlgorithm};
use crate::backend::KeyHandle;
use crate::error::{Error, Result};
use crate::kms::{KeySpec, KeyState, KeyUsage, Kms};
use crate::secret::SecretBytes;
use crate::state::KeyRecord;

/// GetPublicKey's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPublicKeyResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// PublicKey: SubjectPublicKeyInfo as PEM.
    pub public_key: String,
    /// The same key as DER.
    pub public_key_der: Vec<u8>,
}

/// AsymmetricSign.
#[derive(Debug, Clone)]
pub struct AsymmetricSignRequest {
    /// KeyId (or alias / ARN).
    pub key_id: String,
    /// KeyVersionId (default: the primary version).
    pub key_version_id: Option<String>,
    /// Algorithm.
    pub algorithm: SigningAlgorithm,
    /// Digest: the SHA-256 of the message (32 bytes).
    pub digest: Vec<u8>,
}

/// AsymmetricSign's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsymmetricSignResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// Value: the signature (DER for ECDSA).
    pub value: Vec<u8>,
}

/// AsymmetricVerify.
#[derive(Debug, Clone)]
pub struct AsymmetricVerifyRequest {
    /// KeyId (or alias / ARN).
    pub key_id: String,
    /// KeyVersionId (default: the primary version).
    pub key_version_id: Option<String>,
    /// Algorithm.
    pub algorithm: SigningAlgorithm,
    /// Digest (32 bytes).
    pub digest: Vec<u8>,
    /// Value: the signature.
    pub value: Vec<u8>,
}

/// AsymmetricVerify's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsymmetricVerifyResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// Value: whether the signature verifies.
    pub value: bool,
}

/// AsymmetricEncrypt.
#[derive(Debug, Clone)]
pub struct AsymmetricEncryptRequest {
    /// KeyId (or alias / ARN).
    pub key_id: String,
    /// KeyVersionId (default: the primary version).
    pub key_version_id: Option<String>,
    /// Algorithm.
    pub algorithm: EncryptionAlgorithm,
    /// Plaintext (RSA_2048: at most 190 B with OAEP SHA-256, 214 B with SHA-1).
    pub plaintext: Vec<u8>,
}

/// AsymmetricEncrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsymmetricEncryptResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// CiphertextBlob: the raw RSA-OAEP ciphertext (modulus length).
    pub ciphertext_blob: Vec<u8>,
}

/// AsymmetricDecrypt.
#[derive(Debug, Clone)]
pub struct AsymmetricDecryptRequest {
    /// KeyId (or alias / ARN).
    pub key_id: String,
    /// KeyVersionId (default: the primary version).
    pub key_version_id: Option<String>,
    /// Algorithm.
    pub algorithm: EncryptionAlgorithm,
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
}

/// AsymmetricDecrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsymmetricDecryptResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// Plaintext.
    pub plaintext: SecretBytes,
}

/// The key and version an asymmetric action runs on.
struct Target {
    key_id: String,
    version_id: String,
    spec: KeySpec,
    handle: KeyHandle,
}

impl Kms {
    fn asymmetric_target(
        &self,
        key_id: &str,
        version: Option<&str>,
        usage: Option<KeyUsage>,
    ) -> Result<Target> {
        self.with_key(key_id, |k: &KeyRecord| {
            if k.spec.symmetric_key_len().is_some() {
                return Err(Error::param(
                    "KeySpec",
                    alloc::format!("{} is symmetric: use Encrypt / Decrypt", k.spec),
                ));
            }
            if usage.is_some_and(|u| u != k.usage) {
                return Err(Error::KeyUsage {
                    key_id: k.key_id.clone(),
                    usage: k.usage.as_str(),
                });
            }
            if k.state != KeyState::Enabled {
                return Err(Self::state_error(k));
            }
            let vid = version.unwrap_or(&k.primary_version);
            let v = k.version(vid).ok_or_else(|| Error::KeyVersionNotFound {
                key_id: k.key_id.clone(),
                key_version_id: vid.into(),
            })?;
            Ok(Target {
                key_id: k.key_id.clone(),
                version_id: v.version_id.clone(),
                spec: k.spec,
                handle: v.handle.clone(),
            })
        })
    }

    /// GetPublicKey: the public half of an asymmetric key version, as PEM.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `Forbidden.KeyVersionNotFound`,
    /// `InvalidParameter.KeySpec` (symmetric key), `Forbidden.Key*` (not Enabled).
    pub async fn get_public_key(
        &self,
        key_id: &str,
        key_version_id: Option<&str>,
    ) -> Result<GetPublicKeyResponse> {
        self.sweep().await?;
        let t = self.asymmetric_target(key_id, key_version_id, None)?;
        let der = self.backend.public_key(&t.handle, t.spec).await?;
        Ok(GetPublicKeyResponse {
            key_id: t.key_id,
            key_version_id: t.version_id,
            public_key: asym::spki_pem(&der),
            public_key_der: der,
        })
    }

    /// AsymmetricSign over a SHA-256 digest.
    ///
    /// # Errors
    /// `InvalidParameter.Digest` (not 32 bytes), `InvalidParameter.Algorithm` (does not
    /// fit the key), `Rejected.KeyUsage` (an ENCRYPT/DECRYPT key), and as
    /// [`Kms::get_public_key`].
    pub async fn asymmetric_sign(
        &self,
        req: AsymmetricSignRequest,
    ) -> Result<AsymmetricSignResponse> {
        self.sweep().await?;
        let t = self.asymmetric_target(
            &req.key_id,
            req.key_version_id.as_deref(),
            Some(KeyUsage::SignVerify),
        )?;
        asym::check_signing(t.spec, req.algorithm)?;
        asym::check_digest(&req.digest)?;
        let value = self
            .backend
            .sign(&t.handle, t.spec, req.algorithm, &req.digest)
            .await?;
        Ok(AsymmetricSignResponse {
            key_id: t.key_id,
            key_version_id: t.version_id,
            value,
        })
    }

    /// AsymmetricSign over a message: hashes it with SHA-256 first (a convenience;
    /// the result is the same as signing its digest).
    ///
    /// # Errors
    /// As [`Kms::asymmetric_sign`].
    pub async fn asymmetric_sign_message(
        &self,
        key_id: &str,
        key_version_id: Option<String>,
        algorithm: SigningAlgorithm,
        message: &[u8],
    ) -> Result<AsymmetricSignResponse> {
        self.asymmetric_sign(AsymmetricSignRequest {
            key_id: key_id.into(),
            key_version_id,
            algorithm,
            digest: sha256(message),
        })
        .await
    }

    /// AsymmetricVerify: whether `value` is a signature of the digest by this key
    /// version. A wrong signature is `value: false`, not an error.
    ///
    /// # Errors
    /// As [`Kms::asymmetric_sign`].
    pub async fn asymmetric_verify(
        &self,
        req: AsymmetricVerifyRequest,
    ) -> Result<AsymmetricVerifyResponse> {
        self.sweep().await?;
        let t = self.asymmetric_target(
            &req.key_id,
            req.key_version_id.as_deref(),
            Some(KeyUsage::SignVerify),
        )?;
        asym::check_signing(t.spec, req.algorithm)?;
        asym::check_digest(&req.digest)?;
        let spki = self.backend.public_key(&t.handle, t.spec).await?;
        let value =
            self.public_keys
                .verify(t.spec, &spki, req.algorithm, &req.digest, &req.value)?;
        Ok(AsymmetricVerifyResponse {
            key_id: t.key_id,
            key_version_id: t.version_id,
            value,
        })
    }

    /// AsymmetricEncrypt: RSA-OAEP to an RSA ENCRYPT/DECRYPT key version.
    ///
    /// # Errors
    /// `InvalidParameter.PlaintextTooLarge` (over the OAEP limit),
    /// `InvalidParameter.Plaintext` (empty), `InvalidParameter.Algorithm`,
    /// `Rejected.KeyUsage`, and as [`Kms::get_public_key`].
    pub async fn asymmetric_encrypt(
        &self,
        req: AsymmetricEncryptRequest,
    ) -> Result<AsymmetricEncryptResponse> {
        self.sweep().await?;
        let t = self.asymmetric_target(
            &req.key_id,
            req.key_version_id.as_deref(),
            Some(KeyUsage::EncryptDecrypt),
        )?;
        asym::check_encryption(t.spec, req.algorithm)?;
        if req.plaintext.is_empty() {
            return Err(Error::param("Plaintext", "required"));
        }
        let spki = self.backend.public_key(&t.handle, t.spec).await?;
        let ciphertext_blob = asym::encrypt(&spki, req.algorithm, &req.plaintext)?;
        Ok(AsymmetricEncryptResponse {
            key_id: t.key_id,
            key_version_id: t.version_id,
            ciphertext_blob,
        })
    }

    /// AsymmetricDecrypt: RSA-OAEP decryption by an RSA ENCRYPT/DECRYPT key version.
    /// Every padding or length failure is the same `InvalidCiphertext`.
    ///
    /// # Errors
    /// `InvalidCiphertext`, `InvalidParameter.Algorithm`, `Rejected.KeyUsage`, and as
    /// [`Kms::get_public_key`].
    pub async fn asymmetric_decrypt(
        &self,
        req: AsymmetricDecryptRequest,
    ) -> Result<AsymmetricDecryptResponse> {
        self.sweep().await?;
        let t = self.asymmetric_target(
            &req.key_id,
            req.key_version_id.as_deref(),
            Some(KeyUsage::EncryptDecrypt),
        )?;
        asym::check_encryption(t.spec, req.algorithm)?;
        let plaintext = self
            .backend
            .asymmetric_decrypt(&t.handle, t.spec, req.algorithm, &req.ciphertext_blob)
            .await?;
        Ok(AsymmetricDecryptResponse {
            key_id: t.key_id,
            key_version_id: t.version_id,
            plaintext,
        })
    }
}

/// SHA-256 of `m`.
#[must_use]
pub fn sha256(m: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(m).to_vec()
}
