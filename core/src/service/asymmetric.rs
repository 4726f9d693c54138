//! The asymmetric actions of [`Kms`]: GetPublicKey, AsymmetricSign / AsymmetricVerify,
//! AsymmetricEncrypt / AsymmetricDecrypt. The private key stays in the backend; the
//! public half is asked of the backend and used here.

use alloc::string::String;
use alloc::vec::Vec;

use crate::asym::{self, EncryptionAlgorithm, SignInput, SigningAlgorithm};
use crate::backend::KeyHandle;
use crate::error::{Error, Result};
use crate::kms::Kms;
use crate::secret::SecretBytes;
use crate::state::KeyRecord;
use crate::vocab::{KeySpec, KeyState, KeyUsage};

/// GetPublicKey's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AsymmetricVerifyResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// Value: whether the signature verifies.
    pub value: bool,
}

/// AsymmetricEncrypt.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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

impl core::fmt::Debug for AsymmetricEncryptRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsymmetricEncryptRequest")
            .field("key_id", &self.key_id)
            .field("key_version_id", &self.key_version_id)
            .field("algorithm", &self.algorithm)
            .field("plaintext", &crate::secret::Redacted(self.plaintext.len()))
            .finish()
    }
}

/// AsymmetricEncrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    protection: crate::vocab::ProtectionLevel,
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
                protection: k.protection,
            })
        })
    }

    /// GetPublicKey: the public half of an asymmetric key version, as PEM.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `Forbidden.KeyVersionNotFound`,
    /// `InvalidParameter.KeySpec` (symmetric key), `Forbidden.Key*` (not Enabled).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let ec = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::EcP256), key_usage: Some(KeyUsage::SignVerify), ..Default::default() }).await?.key_id;
    /// let pem = kms.get_public_key(&ec, None).await?.public_key;
    /// # });
    /// ```
    pub async fn get_public_key(
        &self,
        key_id: &str,
        key_version_id: Option<&str>,
    ) -> Result<GetPublicKeyResponse> {
        crate::api::as_owner!(
            self,
            GetPublicKey,
            crate::api::GetPublicKeyRequest {
                key_id: key_id.into(),
                key_version_id: key_version_id.map(Into::into),
            }
        )
    }

    pub(crate) async fn get_public_key_impl(
        &self,
        key_id: &str,
        key_version_id: Option<&str>,
    ) -> Result<GetPublicKeyResponse> {
        let t = self.asymmetric_target(key_id, key_version_id, None)?;
        let der = self
            .key_backend(t.protection)
            .public_key(&t.handle, t.spec)
            .await?;
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let ec = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::EcP256), key_usage: Some(KeyUsage::SignVerify), ..Default::default() }).await?.key_id;
    /// let sig = kms.asymmetric_sign(AsymmetricSignRequest { key_id: ec.clone(), key_version_id: None, algorithm: SigningAlgorithm::EcdsaSha256, digest: vec![0u8; 32] }).await?.value;
    /// # });
    /// ```
    pub async fn asymmetric_sign(
        &self,
        req: AsymmetricSignRequest,
    ) -> Result<AsymmetricSignResponse> {
        crate::api::as_owner!(self, AsymmetricSign, req)
    }

    /// AsymmetricSign over a [`SignInput`]: a digest, or a message the backend hashes
    /// (and, with a [`crate::PlatformAsym`], may sign on the platform). For bindings
    /// that take either form.
    ///
    /// # Errors
    /// As [`Kms::asymmetric_sign`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let ec = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::EcP256), key_usage: Some(KeyUsage::SignVerify), ..Default::default() }).await?.key_id;
    /// let sig = kms.asymmetric_sign_input(&ec, None, SigningAlgorithm::EcdsaSha256, SignInput::Message(b"doc")).await?.value;
    /// # });
    /// ```
    pub async fn asymmetric_sign_input(
        &self,
        key_id: &str,
        key_version_id: Option<&str>,
        algorithm: SigningAlgorithm,
        input: SignInput<'_>,
    ) -> Result<AsymmetricSignResponse> {
        let key_id = String::from(key_id);
        let key_version_id = key_version_id.map(String::from);
        let request = match input {
            SignInput::Digest(d) => crate::api::Request::AsymmetricSign(AsymmetricSignRequest {
                key_id,
                key_version_id,
                algorithm,
                digest: d.to_vec(),
            }),
            SignInput::Message(m) => crate::api::Request::AsymmetricSignMessage(
                crate::api::AsymmetricSignMessageRequest {
                    key_id,
                    key_version_id,
                    algorithm,
                    message: m.to_vec(),
                },
            ),
        };
        let r = self.call(&crate::api::Caller::owner(), request).await?;
        match r {
            crate::api::Response::AsymmetricSign(x)
            | crate::api::Response::AsymmetricSignMessage(x) => Ok(x),
            _ => Err(Error::Internal("a response of another action")),
        }
    }

    pub(crate) async fn asymmetric_sign_impl(
        &self,
        key_id: &str,
        key_version_id: Option<&str>,
        algorithm: SigningAlgorithm,
        input: SignInput<'_>,
    ) -> Result<AsymmetricSignResponse> {
        if let SignInput::Digest(d) = input {
            asym::check_digest(d)?;
        }
        let t = self.asymmetric_target(key_id, key_version_id, Some(KeyUsage::SignVerify))?;
        asym::check_signing(t.spec, algorithm)?;
        let value = match input {
            SignInput::Digest(d) => {
                self.key_backend(t.protection)
                    .sign(&t.handle, t.spec, algorithm, d)
                    .await?
            }
            SignInput::Message(m) => {
                self.key_backend(t.protection)
                    .sign_message(&t.handle, t.spec, algorithm, m)
                    .await?
            }
        };
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let ec = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::EcP256), key_usage: Some(KeyUsage::SignVerify), ..Default::default() }).await?.key_id;
    /// let sig = kms.asymmetric_sign_message(&ec, None, SigningAlgorithm::EcdsaSha256, b"doc").await?.value;
    /// # });
    /// ```
    pub async fn asymmetric_sign_message(
        &self,
        key_id: &str,
        key_version_id: Option<String>,
        algorithm: SigningAlgorithm,
        message: &[u8],
    ) -> Result<AsymmetricSignResponse> {
        self.asymmetric_sign_input(
            key_id,
            key_version_id.as_deref(),
            algorithm,
            SignInput::Message(message),
        )
        .await
    }

    /// AsymmetricVerify over a [`SignInput`] (a message is hashed with SHA-256 here).
    ///
    /// # Errors
    /// As [`Kms::asymmetric_verify`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let ec = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::EcP256), key_usage: Some(KeyUsage::SignVerify), ..Default::default() }).await?.key_id;
    /// # let sig = kms.asymmetric_sign_message(&ec, None, SigningAlgorithm::EcdsaSha256, b"doc").await?.value;
    /// let ok = kms.asymmetric_verify_input(&ec, None, SigningAlgorithm::EcdsaSha256, SignInput::Message(b"doc"), &sig).await?.value;
    /// # });
    /// ```
    pub async fn asymmetric_verify_input(
        &self,
        key_id: &str,
        key_version_id: Option<&str>,
        algorithm: SigningAlgorithm,
        input: SignInput<'_>,
        value: &[u8],
    ) -> Result<AsymmetricVerifyResponse> {
        self.asymmetric_verify(AsymmetricVerifyRequest {
            key_id: key_id.into(),
            key_version_id: key_version_id.map(Into::into),
            algorithm,
            digest: input.digest(),
            value: value.to_vec(),
        })
        .await
    }

    /// AsymmetricVerify: whether `value` is a signature of the digest by this key
    /// version. A wrong signature is `value: false`, not an error.
    ///
    /// # Errors
    /// As [`Kms::asymmetric_sign`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let ec = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::EcP256), key_usage: Some(KeyUsage::SignVerify), ..Default::default() }).await?.key_id;
    /// # let sig = vec![0u8; 64];
    /// let ok = kms.asymmetric_verify(AsymmetricVerifyRequest { key_id: ec.clone(), key_version_id: None, algorithm: SigningAlgorithm::EcdsaSha256, digest: vec![0u8; 32], value: sig }).await?.value;
    /// # });
    /// ```
    pub async fn asymmetric_verify(
        &self,
        req: AsymmetricVerifyRequest,
    ) -> Result<AsymmetricVerifyResponse> {
        crate::api::as_owner!(self, AsymmetricVerify, req)
    }

    pub(crate) async fn asymmetric_verify_impl(
        &self,
        req: AsymmetricVerifyRequest,
    ) -> Result<AsymmetricVerifyResponse> {
        let t = self.asymmetric_target(
            &req.key_id,
            req.key_version_id.as_deref(),
            Some(KeyUsage::SignVerify),
        )?;
        asym::check_signing(t.spec, req.algorithm)?;
        asym::check_digest(&req.digest)?;
        let spki = self
            .key_backend(t.protection)
            .public_key(&t.handle, t.spec)
            .await?;
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let rsa = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::Rsa2048), key_usage: Some(KeyUsage::EncryptDecrypt), ..Default::default() }).await?.key_id;
    /// let ct = kms.asymmetric_encrypt(AsymmetricEncryptRequest { key_id: rsa.clone(), key_version_id: None, algorithm: EncryptionAlgorithm::RsaesOaepSha256, plaintext: b"hi".to_vec() }).await?.ciphertext_blob;
    /// # });
    /// ```
    pub async fn asymmetric_encrypt(
        &self,
        req: AsymmetricEncryptRequest,
    ) -> Result<AsymmetricEncryptResponse> {
        crate::api::as_owner!(self, AsymmetricEncrypt, req)
    }

    pub(crate) async fn asymmetric_encrypt_impl(
        &self,
        req: AsymmetricEncryptRequest,
    ) -> Result<AsymmetricEncryptResponse> {
        let t = self.asymmetric_target(
            &req.key_id,
            req.key_version_id.as_deref(),
            Some(KeyUsage::EncryptDecrypt),
        )?;
        asym::check_encryption(t.spec, req.algorithm)?;
        if req.plaintext.is_empty() {
            return Err(Error::param("Plaintext", "required"));
        }
        let spki = self
            .key_backend(t.protection)
            .public_key(&t.handle, t.spec)
            .await?;
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let rsa = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::Rsa2048), key_usage: Some(KeyUsage::EncryptDecrypt), ..Default::default() }).await?.key_id;
    /// # let ct = vec![0u8; 256];
    /// let pt = kms.asymmetric_decrypt(AsymmetricDecryptRequest { key_id: rsa.clone(), key_version_id: None, algorithm: EncryptionAlgorithm::RsaesOaepSha256, ciphertext_blob: ct }).await?.plaintext;
    /// # });
    /// ```
    pub async fn asymmetric_decrypt(
        &self,
        req: AsymmetricDecryptRequest,
    ) -> Result<AsymmetricDecryptResponse> {
        crate::api::as_owner!(self, AsymmetricDecrypt, req)
    }

    pub(crate) async fn asymmetric_decrypt_impl(
        &self,
        req: AsymmetricDecryptRequest,
    ) -> Result<AsymmetricDecryptResponse> {
        let t = self.asymmetric_target(
            &req.key_id,
            req.key_version_id.as_deref(),
            Some(KeyUsage::EncryptDecrypt),
        )?;
        asym::check_encryption(t.spec, req.algorithm)?;
        let plaintext = self
            .key_backend(t.protection)
            .asymmetric_decrypt(&t.handle, t.spec, req.algorithm, &req.ciphertext_blob)
            .await?;
        Ok(AsymmetricDecryptResponse {
            key_id: t.key_id,
            key_version_id: t.version_id,
            plaintext,
        })
    }
}

pub use crate::vocab::sha256;

/// ExportDataKey: a data key (a CiphertextBlob from GenerateDataKey /
/// GenerateDataKeyWithoutPlaintext) re-wrapped under the caller's RSA public key.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExportDataKeyRequest {
    /// CiphertextBlob of the data key.
    pub ciphertext_blob: Vec<u8>,
    /// EncryptionContext the blob was made with.
    pub encryption_context: crate::EncryptionContext,
    /// PublicKeyBlob: the RSA public key (SubjectPublicKeyInfo, DER or PEM).
    pub public_key_blob: Vec<u8>,
    /// WrappingAlgorithm.
    pub wrapping_algorithm: asym::WrappingAlgorithm,
    /// WrappingKeySpec: RSA_2048, RSA_3072 or RSA_4096 (checked against the key).
    pub wrapping_key_spec: KeySpec,
}

/// ExportDataKey's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExportDataKeyResponse {
    /// KeyId of the CMK that wrapped the blob.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// ExportedDataKey: the data key under the public key.
    pub exported_data_key: Vec<u8>,
}

/// The WrappingAlgorithm ExportDataKey and GenerateAndExportDataKey use when a request
/// names none (Alibaba's API requires it; strongroom's faces may leave it out).
pub const DEFAULT_EXPORT_WRAPPING_ALGORITHM: asym::WrappingAlgorithm =
    asym::WrappingAlgorithm::RsaesOaepSha256;
/// The WrappingKeySpec data-key export and GetParametersForImport use when a request
/// names none.
pub const DEFAULT_WRAPPING_KEY_SPEC: KeySpec = KeySpec::Rsa2048;

/// GenerateAndExportDataKey: a new data key, wrapped by a CMK and by the caller's
/// RSA public key.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateAndExportDataKeyRequest {
    /// The data key as GenerateDataKey makes it (KeyId, KeySpec / NumberOfBytes,
    /// EncryptionContext).
    pub data_key: crate::GenerateDataKeyRequest,
    /// PublicKeyBlob (SubjectPublicKeyInfo, DER or PEM).
    pub public_key_blob: Vec<u8>,
    /// WrappingAlgorithm.
    pub wrapping_algorithm: asym::WrappingAlgorithm,
    /// WrappingKeySpec.
    pub wrapping_key_spec: KeySpec,
}

/// GenerateAndExportDataKey's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateAndExportDataKeyResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// CiphertextBlob: the data key under the CMK (keep it to export again).
    pub ciphertext_blob: Vec<u8>,
    /// ExportedDataKey: the data key under the public key.
    pub exported_data_key: Vec<u8>,
}

impl Kms {
    /// ExportDataKey: decrypts the data-key blob with its CMK and wraps the data key
    /// under the caller's public key; the plaintext never leaves this call.
    ///
    /// # Errors
    /// As [`Kms::decrypt`]; `InvalidParameter.PublicKey` / `.WrappingKeySpec` /
    /// `.PlaintextTooLarge`; `Rejected.Unsupported` without AWS-LC (wasm).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let rsa = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::Rsa2048), key_usage: Some(KeyUsage::EncryptDecrypt), ..Default::default() }).await?.key_id;
    /// # let blob = kms.encrypt(EncryptRequest { key_id: key_id.clone(), plaintext: b"hi".to_vec(), ..Default::default() }).await?.ciphertext_blob;
    /// # let spki_der = kms.get_public_key(&rsa, None).await?.public_key_der;
    /// let exported = kms.export_data_key(ExportDataKeyRequest { ciphertext_blob: blob, encryption_context: EncryptionContext::new(), public_key_blob: spki_der, wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256, wrapping_key_spec: KeySpec::Rsa2048 }).await?;
    /// # });
    /// ```
    pub async fn export_data_key(
        &self,
        req: ExportDataKeyRequest,
    ) -> Result<ExportDataKeyResponse> {
        crate::api::as_owner!(self, ExportDataKey, req)
    }

    pub(crate) async fn export_data_key_impl(
        &self,
        req: ExportDataKeyRequest,
    ) -> Result<ExportDataKeyResponse> {
        check_wrapping(&req.public_key_blob, req.wrapping_key_spec)?;
        let d = self
            .decrypt_impl(crate::DecryptRequest {
                ciphertext_blob: req.ciphertext_blob,
                encryption_context: req.encryption_context,
            })
            .await?;
        let exported_data_key = asym::wrap_for_export(
            &req.public_key_blob,
            req.wrapping_key_spec,
            req.wrapping_algorithm,
            d.plaintext.expose(),
        )?;
        Ok(ExportDataKeyResponse {
            key_id: d.key_id,
            key_version_id: d.key_version_id,
            exported_data_key,
        })
    }

    /// GenerateAndExportDataKey: a fresh data key wrapped by the CMK (CiphertextBlob)
    /// and by the caller's public key (ExportedDataKey); its plaintext is not returned.
    ///
    /// # Errors
    /// As [`Kms::generate_data_key`] and [`Kms::export_data_key`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let rsa = kms.create_key(CreateKeyRequest { key_spec: Some(KeySpec::Rsa2048), key_usage: Some(KeyUsage::EncryptDecrypt), ..Default::default() }).await?.key_id;
    /// # let spki_der = kms.get_public_key(&rsa, None).await?.public_key_der;
    /// let both = kms.generate_and_export_data_key(GenerateAndExportDataKeyRequest { data_key: GenerateDataKeyRequest { key_id: key_id.clone(), ..Default::default() }, public_key_blob: spki_der, wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256, wrapping_key_spec: KeySpec::Rsa2048 }).await?;
    /// # });
    /// ```
    pub async fn generate_and_export_data_key(
        &self,
        req: GenerateAndExportDataKeyRequest,
    ) -> Result<GenerateAndExportDataKeyResponse> {
        crate::api::as_owner!(self, GenerateAndExportDataKey, req)
    }

    pub(crate) async fn generate_and_export_data_key_impl(
        &self,
        req: GenerateAndExportDataKeyRequest,
    ) -> Result<GenerateAndExportDataKeyResponse> {
        check_wrapping(&req.public_key_blob, req.wrapping_key_spec)?;
        let g = self.generate_data_key_impl(req.data_key).await?;
        let exported_data_key = asym::wrap_for_export(
            &req.public_key_blob,
            req.wrapping_key_spec,
            req.wrapping_algorithm,
            g.plaintext.expose(),
        )?;
        Ok(GenerateAndExportDataKeyResponse {
            key_id: g.key_id,
            key_version_id: g.key_version_id,
            ciphertext_blob: g.ciphertext_blob,
            exported_data_key,
        })
    }
}

/// Refuses a missing public key or a non-RSA wrapping spec before any key is used.
fn check_wrapping(public_key: &[u8], spec: KeySpec) -> Result<()> {
    if public_key.is_empty() {
        return Err(Error::param("PublicKey", "required"));
    }
    if !spec.is_rsa() {
        return Err(Error::param(
            "WrappingKeySpec",
            "RSA_2048, RSA_3072 or RSA_4096",
        ));
    }
    Ok(())
}
