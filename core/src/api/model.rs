//! Request types for the actions whose Rust methods take positional arguments, and
//! DescribeService's answer. Field names are Alibaba's, in snake_case.

use alloc::string::String;
use alloc::vec::Vec;

use crate::asym::SigningAlgorithm;
use crate::context::EncryptionContext;
use crate::service::aliases::Tag;
use crate::service::import::ImportWrappingAlgorithm;
use crate::vocab::{KeySpec, KeyUsage, ProtectionLevel};

macro_rules! key_id_request {
    ($($(#[$m:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $name {
            /// KeyId (a KeyId, alias, key ARN or alias ARN).
            pub key_id: String,
        }
    )+};
}

key_id_request!(
    /// DescribeKey.
    DescribeKeyRequest,
    /// EnableKey.
    EnableKeyRequest,
    /// DisableKey.
    DisableKeyRequest,
    /// CancelKeyDeletion.
    CancelKeyDeletionRequest,
    /// CreateKeyVersion.
    CreateKeyVersionRequest,
    /// ListResourceTags.
    ListResourceTagsRequest,
    /// DeleteKeyMaterial.
    DeleteKeyMaterialRequest,
);

/// ScheduleKeyDeletion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ScheduleKeyDeletionRequest {
    /// KeyId.
    pub key_id: String,
    /// PendingWindowInDays: 7–30.
    pub pending_window_in_days: u32,
}

/// SetDeletionProtection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetDeletionProtectionRequest {
    /// ProtectedResourceArn: the key's ARN (a KeyId or alias is accepted too).
    pub protected_resource_arn: String,
    /// EnableDeletionProtection.
    pub enable_deletion_protection: bool,
    /// DeletionProtectionDescription.
    pub deletion_protection_description: Option<String>,
}

/// UpdateKeyDescription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UpdateKeyDescriptionRequest {
    /// KeyId.
    pub key_id: String,
    /// Description (up to 8192 characters).
    pub description: String,
}

/// DescribeKeyVersion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DescribeKeyVersionRequest {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
}

/// ListKeyVersions (PageNumber from 1; PageSize 1–100, default 10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListKeyVersionsRequest {
    /// KeyId.
    pub key_id: String,
    /// PageNumber.
    pub page_number: Option<u32>,
    /// PageSize.
    pub page_size: Option<u32>,
}

/// CreateAlias and UpdateAlias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AliasRequest {
    /// AliasName (`alias/…`).
    pub alias_name: String,
    /// KeyId the alias is to name.
    pub key_id: String,
}

/// DeleteAlias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeleteAliasRequest {
    /// AliasName.
    pub alias_name: String,
}

/// ListAliases (PageNumber from 1; PageSize 1–100, default 10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListAliasesRequest {
    /// PageNumber.
    pub page_number: Option<u32>,
    /// PageSize.
    pub page_size: Option<u32>,
}

/// ListAliasesByKeyId.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListAliasesByKeyIdRequest {
    /// KeyId.
    pub key_id: String,
    /// PageNumber.
    pub page_number: Option<u32>,
    /// PageSize.
    pub page_size: Option<u32>,
}

/// TagResource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TagResourceRequest {
    /// KeyId.
    pub key_id: String,
    /// Tags to add or overwrite.
    pub tags: Vec<Tag>,
}

/// UntagResource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UntagResourceRequest {
    /// KeyId.
    pub key_id: String,
    /// TagKeys to remove.
    pub tag_keys: Vec<String>,
}

/// GetPublicKey.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GetPublicKeyRequest {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId (default: the primary version).
    pub key_version_id: Option<String>,
}

/// AsymmetricSign over a whole message, hashed with SHA-256 inside the KMS (and,
/// with a [`crate::PlatformAsym`], possibly signed on the platform).
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AsymmetricSignMessageRequest {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId (default: the primary version).
    pub key_version_id: Option<String>,
    /// Algorithm.
    pub algorithm: SigningAlgorithm,
    /// The message.
    pub message: Vec<u8>,
}

impl core::fmt::Debug for AsymmetricSignMessageRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsymmetricSignMessageRequest")
            .field("key_id", &self.key_id)
            .field("key_version_id", &self.key_version_id)
            .field("algorithm", &self.algorithm)
            .field("message_len", &self.message.len())
            .finish()
    }
}

/// GetParametersForImport.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GetParametersForImportRequest {
    /// KeyId (an EXTERNAL key).
    pub key_id: String,
    /// WrappingAlgorithm.
    pub wrapping_algorithm: ImportWrappingAlgorithm,
    /// WrappingKeySpec (`RSA_2048`, …).
    pub wrapping_key_spec: KeySpec,
}

/// The KMS part of an envelope message: its header and per-message key, for callers
/// that run the frames themselves (streams, platform AES-GCM).
#[derive(Debug, Clone, Default)]
pub struct BeginEnvelopeRequest {
    /// The CMKs that each wrap the data key.
    pub key_ids: Vec<String>,
    /// EncryptionContext, bound to the message and stored in its header.
    pub encryption_context: EncryptionContext,
    /// Plaintext bytes per frame.
    pub frame_length: Option<u32>,
    /// The plaintext's length when known (a one-shot message): lets the data-key cache
    /// count bytes and picks the one-shot frame length.
    pub plaintext_length: Option<u64>,
    /// Sign the message (suite 0x0002) with this EC_P256 SIGN/VERIFY key.
    pub signing_key_id: Option<String>,
}

/// The opening of an envelope message's parsed header.
#[derive(Debug, Clone)]
pub struct OpenEnvelopeRequest {
    /// The parsed header.
    pub header: crate::envelope::EnvelopeHeader,
    /// When given, the header's EncryptionContext must equal it.
    pub expected: Option<EncryptionContext>,
    /// When given, these pairs must be in the header's EncryptionContext.
    pub required: Option<EncryptionContext>,
    /// When given, the message must be signed by this key of the store.
    pub required_signer: Option<String>,
}

/// GenerateRandom: `length` random bytes (1–1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateRandomRequest {
    /// Length: how many bytes.
    pub length: u32,
}

/// GenerateRandom's answer.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GenerateRandomResponse {
    /// Random: the bytes (sensitive: they may become a key).
    pub random: crate::secret::SecretBytes,
}

/// The digests Hash computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HashAlgorithm {
    /// SHA-256 (the default).
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The name answered (`SHA-256`, `SHA-384`, `SHA-512`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha384 => "SHA-384",
            HashAlgorithm::Sha512 => "SHA-512",
        }
    }
}

impl core::str::FromStr for HashAlgorithm {
    type Err = crate::error::Error;
    /// `SHA-256` / `SHA256` / `SHA_256` and the same for 384 and 512 (what the instance
    /// SDK and Alibaba's docs spell); SM3 is not served.
    fn from_str(s: &str) -> crate::error::Result<Self> {
        match s.to_ascii_uppercase().replace(['-', '_'], "").as_str() {
            "SHA256" => Ok(HashAlgorithm::Sha256),
            "SHA384" => Ok(HashAlgorithm::Sha384),
            "SHA512" => Ok(HashAlgorithm::Sha512),
            _ => Err(crate::error::Error::param(
                "Algorithm",
                alloc::format!(
                    "Hash algorithm {s:?} is not served: SHA-256, SHA-384 or SHA-512 (no SM3)"
                ),
            )),
        }
    }
}

/// Hash: the digest of `message`.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HashRequest {
    /// Algorithm (SHA-256 when not given).
    pub algorithm: HashAlgorithm,
    /// Message (sensitive: never printed or audited).
    pub message: crate::secret::SecretBytes,
}

/// Hash's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HashResponse {
    /// The algorithm used.
    pub algorithm: HashAlgorithm,
    /// Digest.
    pub digest: Vec<u8>,
}

/// DescribeService (takes no parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DescribeServiceRequest {}

/// ExportImage: the store compacted into one image.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExportImageRequest {
    /// Seal the image under this root (fresh salt and store key) instead of the
    /// store's own.
    pub reseal: Option<(crate::storage::RootSecret, crate::storage::KdfParams)>,
}

/// CreateBackup: the whole store sealed under its own passphrase.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateBackupRequest {
    /// BackupPassphrase (sensitive).
    pub backup_passphrase: crate::secret::SecretBytes,
    /// The Argon2id parameters of the backup's seal.
    pub kdf: crate::storage::KdfParams,
}

/// ChangePassphrase: the store resealed under a new root (passphrase or raw key).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ChangePassphraseRequest {
    /// The new root (on the wire: NewPassphrase, sensitive).
    pub root: crate::storage::RootSecret,
    /// Its Argon2id parameters.
    pub kdf: crate::storage::KdfParams,
}

/// RekeyStore (takes no parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RekeyStoreRequest {}

/// CompactStore (takes no parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CompactStoreRequest {}

/// VerifyStore (takes no parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VerifyStoreRequest {}

/// VerifyStore's answer: what was opened, and every version that did not open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct VerifyStoreResponse {
    /// Keys in the store (their material authenticated when the store opened).
    pub keys: u64,
    /// Secret versions in the store, deleted secrets in their recovery window included.
    pub secret_versions: u64,
    /// Secret values that opened: read, their data key unwrapped by the CMK, their
    /// AES-GCM tag verified (the plaintexts are wiped at once).
    pub values_opened: u64,
    /// The versions that did not open, with why.
    pub problems: Vec<StoreProblem>,
    /// Key versions probed in the backend that holds their material (every version of
    /// every key but those waiting for imported material): in-process, in a PKCS#11
    /// token, a transit engine, a KMIP server or a remote strongroom alike.
    pub key_versions: u64,
    /// Key versions whose probe round-tripped: a symmetric version encrypted and
    /// decrypted a probe; an asymmetric one signed a probe digest its public key
    /// verifies, or decrypted what its public key encrypted.
    pub key_versions_verified: u64,
    /// The key versions whose probe failed, with why (a token or server that lost the
    /// object, or cannot be reached).
    pub key_problems: Vec<KeyProblem>,
}

/// A key version whose material did not answer a probe (VerifyStore).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyProblem {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// The error's stable code (`Forbidden.KeyNotFound` for an object a PKCS#11 token no
    /// longer holds, `Rejected.BackendUnavailable` for a backend that cannot be reached,
    /// `Rejected.BackendProtocol` for an answer that does not round-trip, …).
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub code: crate::vocab::StaticStr,
    /// The error's message (never key material).
    pub message: String,
}

/// A secret version whose value did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StoreProblem {
    /// SecretName.
    pub secret_name: String,
    /// VersionId.
    pub version_id: String,
    /// The error's stable code (`Rejected.StoreCorrupted` for a value that does not
    /// authenticate, `Forbidden.KeyDisabled` for a CMK that may not decrypt now, …).
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub code: crate::vocab::StaticStr,
    /// The error's message (never a secret value).
    pub message: String,
}

/// ExportImage's and CreateBackup's answer: the sealed image (on the wire: `Image` /
/// `Backup`, base64).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StoreImage {
    /// The image's bytes.
    pub bytes: Vec<u8>,
}

/// One key spec this instance can create.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeySpecInfo {
    /// Name (`Aliyun_AES_256`, `RSA_2048`, …).
    pub name: KeySpec,
    /// SupportedProtectionLevels.
    pub supported_protection_levels: Vec<ProtectionLevel>,
    /// Usages.
    pub usages: Vec<KeyUsage>,
}

/// DescribeService's answer: what this build and its key backend offer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DescribeServiceResponse {
    /// ProtectionLevels this instance's backend holds keys at.
    pub protection_levels: Vec<ProtectionLevel>,
    /// KeySpecs CreateKey accepts here.
    pub key_specs: Vec<KeySpecInfo>,
    /// KeyUsages CreateKey accepts here.
    pub key_usages: Vec<KeyUsage>,
    /// Whether EXTERNAL keys (BYOK) can be created and imported.
    pub supports_import: bool,
    /// Every action this instance serves, by Alibaba's name.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::list")
    )]
    pub actions: Vec<crate::vocab::StaticStr>,
}
