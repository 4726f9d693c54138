//! The one error type, with stable Alibaba-style codes.

use alloc::string::String;
use core::fmt;

/// Result alias used across the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Every failure strongroom reports.
///
/// Each variant has a stable [`code`](Error::code) in Alibaba Cloud KMS style
/// (`Forbidden.KeyNotFound`, `InvalidParameter.KeySpec`, …). Messages never contain
/// key material, plaintext or passphrases. Decryption failures are deliberately
/// opaque: a tampered blob, a wrong EncryptionContext and a blob made under another
/// key material all give [`Error::InvalidCiphertext`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A request parameter is missing or malformed (`InvalidParameter.<Name>`).
    InvalidParameter {
        /// The parameter, in Alibaba's PascalCase (`KeySpec`, `NumberOfBytes`, …).
        name: &'static str,
        /// What is wrong with it (never its value when it is secret).
        reason: String,
    },
    /// Plaintext over the 6 KiB Encrypt limit (`InvalidParameter.PlaintextTooLarge`).
    PlaintextTooLarge {
        /// The size given.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No key with this id or alias (`Forbidden.KeyNotFound`).
    KeyNotFound(String),
    /// The key is not in a state that allows the action (`Forbidden.KeyDisabled`,
    /// `Forbidden.KeyPendingDeletion`, `Forbidden.KeyPendingImport`).
    KeyState {
        /// The key.
        key_id: String,
        /// Its state (Alibaba name).
        state: &'static str,
    },
    /// The key's usage does not allow the action (`Rejected.KeyUsage`).
    KeyUsage {
        /// The key.
        key_id: String,
        /// What the key is for.
        usage: &'static str,
    },
    /// The key has deletion protection on (`Forbidden.DeletionProtection`).
    DeletionProtected(String),
    /// No alias with this name (`Forbidden.AliasNotFound`).
    AliasNotFound(String),
    /// The alias name is taken (`Rejected.AliasExists`).
    AliasExists(String),
    /// The ciphertext blob cannot be decrypted: tampered, truncated, a wrong
    /// EncryptionContext, or not a strongroom blob (`InvalidCiphertext`). Opaque on
    /// purpose.
    InvalidCiphertext,
    /// The ciphertext names a key version this store does not hold
    /// (`Forbidden.KeyVersionNotFound`).
    KeyVersionNotFound {
        /// The key.
        key_id: String,
        /// The version.
        key_version_id: String,
    },
    /// The store image was sealed with another passphrase or root key
    /// (`Forbidden.WrongPassphrase`).
    WrongPassphrase,
    /// A backup was sealed with another backup passphrase (`Forbidden.WrongPassphrase`,
    /// with a message about the backup).
    WrongBackupPassphrase,
    /// A backup is damaged, cut short or not a strongroom backup
    /// (`Rejected.BackupCorrupted`).
    BackupCorrupted(&'static str),
    /// The store image is damaged or was tampered with (`Rejected.StoreCorrupted`).
    StoreCorrupted(&'static str),
    /// The store image is in a format version this build cannot read
    /// (`Rejected.StoreVersion`).
    UnsupportedStoreVersion(u8),
    /// Reading or writing the store failed; nothing was changed (`Rejected.StoreIo`).
    StoreIo(String),
    /// The store already exists where a new one was to be created
    /// (`Rejected.StoreExists`).
    StoreExists,
    /// The store is locked by another writer (`Rejected.StoreLocked`).
    StoreLocked,
    /// The store is locked by another writer, the process with this PID
    /// (`Rejected.StoreLocked`).
    StoreLockedBy(u32),
    /// The instance (or its store) was closed (`Rejected.StoreClosed`): open it again.
    StoreClosed,
    /// No store where one was to be read (`Forbidden.StoreNotFound`): only a first
    /// write (CreateKey, CreateSecret) or `store init` creates one.
    StoreNotFound(String),
    /// A store or backup asks Argon2id for more memory than this runtime allows
    /// (`Rejected.KdfCost`; see `storage::MAX_ARGON2_KIB`).
    KdfCost {
        /// What the file asks for, KiB.
        m_cost_kib: u32,
        /// This runtime's cap, KiB.
        cap_kib: u32,
    },
    /// The disk (or quota, or file-size limit) is full; nothing was changed
    /// (`Rejected.StoreFull`).
    StoreFull(String),
    /// The store holds its maximum number of keys (`Rejected.QuotaExceeded`).
    QuotaExceeded(&'static str),
    /// The key backend or its transport failed (`Rejected.BackendUnavailable`).
    BackendUnavailable(String),
    /// The key backend answered something that breaks the protocol
    /// (`Rejected.BackendProtocol`).
    BackendProtocol(&'static str),
    /// The injected random source failed (`Rejected.EntropyUnavailable`).
    EntropyUnavailable,
    /// The action is not supported by this backend or build (`Rejected.Unsupported`).
    Unsupported(&'static str),
    /// Reading or writing a caller's stream failed (`Rejected.Io`).
    Io(String),
    /// The action needs a key of the other Origin: BYOK actions on a generated key,
    /// versions or rotation on an EXTERNAL key (`Rejected.KeyOrigin`).
    KeyOrigin {
        /// The key.
        key_id: String,
        /// Why the origin does not allow it.
        reason: &'static str,
    },
    /// The ImportToken's 24 hours have passed (`Rejected.ImportTokenExpired`); call
    /// GetParametersForImport again and rewrap the material.
    ImportTokenExpired(String),
    /// The key once held other imported material; only that material may be imported
    /// again (`Rejected.KeyMaterialMismatch`).
    KeyMaterialMismatch(String),
    /// An envelope message cannot be opened; see [`EnvelopeFailure`] for the codes.
    Envelope(EnvelopeFailure),
    /// The caller may not perform this action on this resource
    /// (`Forbidden.NoPermission`).
    AccessDenied {
        /// The action (Alibaba's name).
        action: &'static str,
        /// The resource (an ARN, or `*` for the instance).
        resource: String,
    },
    /// No secret (or secret version, or version stage) by this name
    /// (`Forbidden.ResourceNotFound`).
    ResourceNotFound(String),
    /// A secret by this name, or a version by this VersionId with other data, exists
    /// already (`Rejected.ResourceExist`).
    ResourceExists(String),
    /// The secret is scheduled for deletion: restore it first
    /// (`Rejected.ResourceInDeleteWindow`).
    ResourceInDeleteWindow(String),
    /// A secrets limit (versions, stages, the number of secrets) would be exceeded
    /// (`Rejected.LimitExceeded`).
    LimitExceeded(String),
    /// A step of a secret's rotation failed; ACSCurrent is unchanged and the pending
    /// version is kept for the next attempt (`Rejected.RotationFailed`).
    RotationFailed(String),
    /// No action by this name (`InvalidAction.NotFound`).
    UnknownAction(String),
    /// No RAM user, role, policy or AccessKey by this name
    /// (`EntityNotExist.User`, `EntityNotExist.Role`, `EntityNotExist.Policy`,
    /// `EntityNotExist.AccessKey`).
    EntityNotFound {
        /// `User`, `Role`, `Policy` or `AccessKey`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A RAM user, role or policy by this name exists already
    /// (`EntityAlreadyExists.User`, …).
    EntityExists {
        /// `User`, `Role` or `Policy`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The entity is still in use: a user with AccessKeys or policies, a policy still
    /// attached (`DeleteConflict.<what>`).
    DeleteConflict {
        /// `User.AccessKey`, `User.Policy`, `Role.Policy`, `Policy.User`, `Policy.Role`.
        what: &'static str,
        /// The entity.
        name: String,
    },
    /// The policy would leave the owning account unable to manage the resource's policy
    /// (`Forbidden.PolicyLockout`); nothing was changed.
    PolicyLockout(String),
    /// No active AccessKey by this id (`InvalidAccessKeyId.NotFound`).
    InvalidAccessKeyId(String),
    /// A remote-backend request (wire protocol v2) that does not authenticate: an
    /// unknown client key, a wrong MAC, a timestamp outside the window, a reused nonce
    /// (`Forbidden.WireAuthentication`).
    WireAuthentication(&'static str),
    /// A SecurityToken that this store did not issue, or that is malformed or for
    /// another AccessKeyId (`InvalidSecurityToken.Malformed` /
    /// `InvalidSecurityToken.MismatchWithAccessKey`).
    InvalidSecurityToken(&'static str),
    /// Temporary credentials past their Expiration (`InvalidSecurityToken.Expired`).
    CredentialsExpired,
    /// The audit trail cannot be written (`Rejected.AuditFailed`). For a management
    /// action the change was made but its event is not durable; read-only calls are
    /// refused while events wait that cannot be written.
    AuditFailed(String),
    /// A request for one action met another action's service code, or a response of
    /// the wrong shape: a bug in strongroom, never the caller's fault
    /// (`InternalFailure`).
    Internal(&'static str),
    /// What a gateway answered a connected `Kms` (`Kms::connect`): the server's own
    /// code, family and message.
    Remote(alloc::boxed::Box<RemoteError>),
}

/// Why an envelope message could not be opened. Each has its own code; none tells
/// anything about the plaintext or the key (no oracle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeFailure {
    /// It does not start with the envelope magic (`InvalidCiphertext.NotAnEnvelope`).
    NotAnEnvelope,
    /// A format version this build cannot read (`InvalidCiphertext.EnvelopeVersion`).
    UnsupportedVersion(u8),
    /// An algorithm suite this build does not know (`InvalidCiphertext.EnvelopeSuite`).
    UnsupportedSuite(u16),
    /// A structural error (`InvalidCiphertext.MalformedEnvelope`).
    Malformed(&'static str),
    /// More recipient stanzas than allowed (`InvalidCiphertext.TooManyRecipients`).
    TooManyRecipients(usize),
    /// No stanza names a key in this store (`Forbidden.NoRecipientKey`).
    NoRecipient,
    /// A stanza names a key of this store but a version it does not hold: the stanza
    /// was altered, or the message is newer than this store (restored from an older
    /// backup) (`Forbidden.KeyVersionNotFound`).
    KeyVersionNotFound,
    /// The message's EncryptionContext is not the one expected
    /// (`InvalidCiphertext.ContextMismatch`).
    ContextMismatch,
    /// The unwrapped data key does not match the header's key commitment
    /// (`InvalidCiphertext.KeyCommitment`).
    KeyCommitment,
    /// The header was altered (`InvalidCiphertext.HeaderAuthentication`).
    HeaderAuthentication,
    /// Frame n (from 1) failed authentication: altered, reordered, dropped or
    /// duplicated (`InvalidCiphertext.FrameAuthentication`).
    FrameAuthentication(u64),
    /// The message ends before its final frame (`InvalidCiphertext.Truncated`).
    Truncated,
    /// Bytes follow the final frame (`InvalidCiphertext.TrailingData`).
    TrailingData,
    /// A signed message's signature does not verify with the header's public key
    /// (`InvalidCiphertext.Signature`).
    Signature,
    /// The message is not signed by the signer required, or names a key of this store
    /// with another public key (`InvalidCiphertext.SignerMismatch`).
    SignerMismatch,
}

impl EnvelopeFailure {
    /// The stable code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            EnvelopeFailure::NotAnEnvelope => "InvalidCiphertext.NotAnEnvelope",
            EnvelopeFailure::UnsupportedVersion(_) => "InvalidCiphertext.EnvelopeVersion",
            EnvelopeFailure::UnsupportedSuite(_) => "InvalidCiphertext.EnvelopeSuite",
            EnvelopeFailure::Malformed(_) => "InvalidCiphertext.MalformedEnvelope",
            EnvelopeFailure::TooManyRecipients(_) => "InvalidCiphertext.TooManyRecipients",
            EnvelopeFailure::NoRecipient => "Forbidden.NoRecipientKey",
            EnvelopeFailure::KeyVersionNotFound => "Forbidden.KeyVersionNotFound",
            EnvelopeFailure::ContextMismatch => "InvalidCiphertext.ContextMismatch",
            EnvelopeFailure::KeyCommitment => "InvalidCiphertext.KeyCommitment",
            EnvelopeFailure::HeaderAuthentication => "InvalidCiphertext.HeaderAuthentication",
            EnvelopeFailure::FrameAuthentication(_) => "InvalidCiphertext.FrameAuthentication",
            EnvelopeFailure::Truncated => "InvalidCiphertext.Truncated",
            EnvelopeFailure::TrailingData => "InvalidCiphertext.TrailingData",
            EnvelopeFailure::Signature => "InvalidCiphertext.Signature",
            EnvelopeFailure::SignerMismatch => "InvalidCiphertext.SignerMismatch",
        }
    }
}

impl fmt::Display for EnvelopeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeFailure::NotAnEnvelope => {
                f.write_str("this is not a strongroom envelope message")
            }
            EnvelopeFailure::UnsupportedVersion(v) => {
                write!(
                    f,
                    "envelope format version {v} is not supported by this build"
                )
            }
            EnvelopeFailure::UnsupportedSuite(s) => {
                write!(
                    f,
                    "envelope algorithm suite 0x{s:04x} is not supported by this build"
                )
            }
            EnvelopeFailure::Malformed(what) => write!(f, "the envelope is malformed: {what}"),
            EnvelopeFailure::TooManyRecipients(n) => write!(
                f,
                "the envelope has {n} recipient stanzas; at most {} are accepted",
                crate::envelope::MAX_RECIPIENTS
            ),
            EnvelopeFailure::NoRecipient => {
                f.write_str("none of the envelope's recipients is a key in this store")
            }
            EnvelopeFailure::KeyVersionNotFound => f.write_str(
                "the envelope names a key version this store does not hold (the header was altered, or the message is newer than this store)",
            ),
            EnvelopeFailure::ContextMismatch => {
                f.write_str("the envelope was encrypted with another EncryptionContext")
            }
            EnvelopeFailure::KeyCommitment => {
                f.write_str("the envelope's data key does not match its key commitment")
            }
            EnvelopeFailure::HeaderAuthentication => f.write_str("the envelope header was altered"),
            EnvelopeFailure::FrameAuthentication(n) => write!(
                f,
                "frame {n} of the envelope failed authentication (altered, reordered or dropped)"
            ),
            EnvelopeFailure::Truncated => f.write_str("the envelope ends before its final frame"),
            EnvelopeFailure::TrailingData => f.write_str("bytes follow the envelope's final frame"),
            EnvelopeFailure::Signature => {
                f.write_str("the envelope's signature does not verify (altered, or not made by its signer)")
            }
            EnvelopeFailure::SignerMismatch => f.write_str(
                "the envelope is not signed by the signer required, or names a signing key of this store with another public key",
            ),
        }
    }
}

impl Error {
    /// The stable code, as Alibaba KMS spells its error codes.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidParameter { name, .. } => match *name {
                "KeySpec" => "InvalidParameter.KeySpec",
                "KeyUsage" => "InvalidParameter.KeyUsage",
                "KeyId" => "InvalidParameter.KeyId",
                "EncryptionContext" => "InvalidParameter.EncryptionContext",
                "NumberOfBytes" => "InvalidParameter.NumberOfBytes",
                "Plaintext" => "InvalidParameter.Plaintext",
                "CiphertextBlob" => "InvalidParameter.CiphertextBlob",
                "Description" => "InvalidParameter.Description",
                "Origin" => "InvalidParameter.Origin",
                "ProtectionLevel" => "InvalidParameter.ProtectionLevel",
                "Passphrase" => "InvalidParameter.Passphrase",
                "Limit" | "PageNumber" | "PageSize" => "InvalidParameter.Limit",
                "PendingWindowInDays" => "InvalidParameter.PendingWindowInDays",
                "RotationInterval" => "InvalidParameter.RotationInterval",
                "AliasName" => "InvalidParameter.AliasName",
                "Tags" => "InvalidParameter.Tags",
                "KeyIds" => "InvalidParameter.KeyIds",
                "FrameLength" => "InvalidParameter.FrameLength",
                "SigningKeyId" => "InvalidParameter.SigningKeyId",
                "RequiredSigner" => "InvalidParameter.RequiredSigner",
                "Digest" => "InvalidParameter.Digest",
                "Algorithm" => "InvalidParameter.Algorithm",
                "KeyVersionId" => "InvalidParameter.KeyVersionId",
                "PublicKey" => "InvalidParameter.PublicKey",
                "Filters" => "InvalidParameter.Filters",
                "WrappingKeySpec" => "InvalidParameter.WrappingKeySpec",
                "WrappingAlgorithm" => "InvalidParameter.WrappingAlgorithm",
                "KeyPairSpec" => "InvalidParameter.KeyPairSpec",
                "KeyFormat" => "InvalidParameter.KeyFormat",
                "Length" => "InvalidParameter.Length",
                "ExcludeCharacters" => "InvalidParameter.ExcludeCharacters",
                "ImportToken" => "InvalidParameter.ImportToken",
                "EncryptedKeyMaterial" => "InvalidParameter.EncryptedKeyMaterial",
                "KeyMaterialExpireUnix" => "InvalidParameter.KeyMaterialExpireUnix",
                "ProtectedResourceArn" => "InvalidParameter.ProtectedResourceArn",
                "Request" => "InvalidParameter.Request",
                "SecretName" => "InvalidParameter.SecretName",
                "SecretData" => "InvalidParameter.SecretData",
                "SecretDataType" => "InvalidParameter.SecretDataType",
                "SecretType" => "InvalidParameter.SecretType",
                "VersionId" => "InvalidParameter.VersionId",
                "VersionStage" => "InvalidParameter.VersionStage",
                "VersionStages" => "InvalidParameter.VersionStages",
                "EncryptionKeyId" => "InvalidParameter.EncryptionKeyId",
                "ExtendedConfig" => "InvalidParameter.ExtendedConfig",
                "RecoveryWindowInDays" => "InvalidParameter.RecoveryWindowInDays",
                "RemoveFromVersion" | "MoveToVersion" => "InvalidParameter.VersionId",
                "PolicyDocument" | "Policy" => "InvalidParameter.PolicyDocument",
                "PolicyAction" => "InvalidParameter.PolicyAction",
                "PolicyCondition" => "InvalidParameter.PolicyCondition",
                "PolicyTooLarge" => "InvalidParameter.PolicyTooLarge",
                "PolicyType" => "InvalidParameter.PolicyType",
                "PolicyName" => "InvalidParameter.PolicyName",
                "UserName" => "InvalidParameter.UserName",
                "RoleName" => "InvalidParameter.RoleName",
                "RoleArn" => "InvalidParameter.RoleArn",
                "RoleSessionName" => "InvalidParameter.RoleSessionName",
                "DurationSeconds" => "InvalidParameter.DurationSeconds",
                "MaxSessionDuration" => "InvalidParameter.MaxSessionDuration",
                "AccountId" => "InvalidParameter.AccountId",
                "Status" => "InvalidParameter.Status",
                "AuditLevel" => "InvalidParameter.AuditLevel",
                "Endpoint" => "InvalidParameter.Endpoint",
                "Transit" => "InvalidParameter.Transit",
                "Kmip" => "InvalidParameter.Kmip",
                "Pkcs11" => "InvalidParameter.Pkcs11",
                "Backend" => "InvalidParameter.Backend",
                "Timeout" => "InvalidParameter.Timeout",
                "Retry" => "InvalidParameter.Retry",
                "Message" => "InvalidParameter.Message",
                "AccessKeyId" => "InvalidParameter.AccessKeyId",
                "SecurityToken" => "InvalidParameter.SecurityToken",
                "CacheKey" => "InvalidParameter.CacheKey",
                "CachePath" => "InvalidParameter.CachePath",
                _ => "InvalidParameter",
            },
            Error::PlaintextTooLarge { .. } => "InvalidParameter.PlaintextTooLarge",
            Error::KeyNotFound(_) => "Forbidden.KeyNotFound",
            Error::KeyState { state, .. } => match *state {
                "Disabled" => "Forbidden.KeyDisabled",
                "PendingDeletion" => "Forbidden.KeyPendingDeletion",
                "PendingImport" => "Forbidden.KeyPendingImport",
                "NotPendingDeletion" => "Forbidden.KeyNotPendingDeletion",
                _ => "Forbidden.KeyState",
            },
            Error::KeyUsage { .. } => "Rejected.KeyUsage",
            Error::AliasNotFound(_) => "Forbidden.AliasNotFound",
            Error::DeletionProtected(_) => "Forbidden.DeletionProtection",
            Error::AliasExists(_) => "Rejected.AliasExists",
            Error::InvalidCiphertext => "InvalidCiphertext",
            Error::KeyVersionNotFound { .. } => "Forbidden.KeyVersionNotFound",
            Error::WrongPassphrase | Error::WrongBackupPassphrase => "Forbidden.WrongPassphrase",
            Error::BackupCorrupted(_) => "Rejected.BackupCorrupted",
            Error::StoreCorrupted(_) => "Rejected.StoreCorrupted",
            Error::UnsupportedStoreVersion(_) => "Rejected.StoreVersion",
            Error::StoreIo(_) => "Rejected.StoreIo",
            Error::StoreExists => "Rejected.StoreExists",
            Error::StoreLocked | Error::StoreLockedBy(_) => "Rejected.StoreLocked",
            Error::StoreClosed => "Rejected.StoreClosed",
            Error::StoreNotFound(_) => "Forbidden.StoreNotFound",
            Error::KdfCost { .. } => "Rejected.KdfCost",
            Error::StoreFull(_) => "Rejected.StoreFull",
            Error::QuotaExceeded(_) => "Rejected.QuotaExceeded",
            Error::BackendUnavailable(_) => "Rejected.BackendUnavailable",
            Error::BackendProtocol(_) => "Rejected.BackendProtocol",
            Error::EntropyUnavailable => "Rejected.EntropyUnavailable",
            Error::Unsupported(_) => "Rejected.Unsupported",
            Error::Envelope(f) => f.code(),
            Error::Io(_) => "Rejected.Io",
            Error::KeyOrigin { .. } => "Rejected.KeyOrigin",
            Error::ImportTokenExpired(_) => "Rejected.ImportTokenExpired",
            Error::KeyMaterialMismatch(_) => "Rejected.KeyMaterialMismatch",
            Error::AccessDenied { .. } => "Forbidden.NoPermission",
            Error::ResourceNotFound(_) => "Forbidden.ResourceNotFound",
            Error::ResourceExists(_) => "Rejected.ResourceExist",
            Error::ResourceInDeleteWindow(_) => "Rejected.ResourceInDeleteWindow",
            Error::LimitExceeded(_) => "Rejected.LimitExceeded",
            Error::RotationFailed(_) => "Rejected.RotationFailed",
            Error::UnknownAction(_) => "InvalidAction.NotFound",
            Error::EntityNotFound { kind, .. } => match *kind {
                "User" => "EntityNotExist.User",
                "Role" => "EntityNotExist.Role",
                "Policy" => "EntityNotExist.Policy",
                "AccessKey" => "EntityNotExist.User.AccessKey",
                _ => "EntityNotExist",
            },
            Error::EntityExists { kind, .. } => match *kind {
                "User" => "EntityAlreadyExists.User",
                "Role" => "EntityAlreadyExists.Role",
                "Policy" => "EntityAlreadyExists.Policy",
                "Attachment" => "EntityAlreadyExists.Policy.Attachment",
                _ => "EntityAlreadyExists",
            },
            Error::DeleteConflict { what, .. } => match *what {
                "User.AccessKey" => "DeleteConflict.User.AccessKey",
                "User.Policy" => "DeleteConflict.User.Policy",
                "Role.Policy" => "DeleteConflict.Role.Policy",
                "Policy.User" => "DeleteConflict.Policy.User",
                "Policy.Role" => "DeleteConflict.Policy.Role",
                _ => "DeleteConflict",
            },
            Error::PolicyLockout(_) => "Forbidden.PolicyLockout",
            Error::InvalidAccessKeyId(_) => "InvalidAccessKeyId.NotFound",
            Error::WireAuthentication(_) => "Forbidden.WireAuthentication",
            Error::InvalidSecurityToken(why) => {
                if *why == "issued for another AccessKeyId" {
                    "InvalidSecurityToken.MismatchWithAccessKey"
                } else {
                    "InvalidSecurityToken.Malformed"
                }
            }
            Error::CredentialsExpired => "InvalidSecurityToken.Expired",
            Error::AuditFailed(_) => "Rejected.AuditFailed",
            Error::Internal(_) => "InternalFailure",
            Error::Remote(r) => r.code,
        }
    }

    /// The error's family, which each binding maps to its exception class
    /// (`<kind>Error`): `InvalidParameter`, `KeyNotFound`, `KeyState`,
    /// `InvalidCiphertext`, `WrongPassphrase`, `AccessDenied`, `ResourceNotFound`,
    /// `ResourceState`, `Store`, `Backend` or `Rejected`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidParameter { .. } | Error::PlaintextTooLarge { .. } => "InvalidParameter",
            Error::KeyNotFound(_) | Error::KeyVersionNotFound { .. } | Error::AliasNotFound(_) => {
                "KeyNotFound"
            }
            Error::KeyState { .. } | Error::DeletionProtected(_) => "KeyState",
            Error::InvalidCiphertext => "InvalidCiphertext",
            // A message for other keys cannot be told from one whose stanzas were
            // altered: both are in the InvalidCiphertext family (the code still says
            // which), so `except InvalidCiphertextError` catches every header failure.
            Error::Envelope(_) => "InvalidCiphertext",
            Error::WrongPassphrase | Error::WrongBackupPassphrase => "WrongPassphrase",
            Error::AccessDenied { .. } => "AccessDenied",
            Error::UnknownAction(_) => "InvalidParameter",
            Error::ResourceNotFound(_) | Error::EntityNotFound { .. } => "ResourceNotFound",
            Error::EntityExists { .. } | Error::DeleteConflict { .. } => "Rejected",
            Error::PolicyLockout(_)
            | Error::InvalidAccessKeyId(_)
            | Error::WireAuthentication(_)
            | Error::InvalidSecurityToken(_)
            | Error::CredentialsExpired => "AccessDenied",
            Error::ResourceInDeleteWindow(_) => "ResourceState",
            Error::ResourceExists(_) | Error::LimitExceeded(_) | Error::RotationFailed(_) => {
                "Rejected"
            }
            Error::StoreCorrupted(_)
            | Error::UnsupportedStoreVersion(_)
            | Error::StoreIo(_)
            | Error::StoreExists
            | Error::StoreLocked
            | Error::StoreLockedBy(_)
            | Error::StoreClosed
            | Error::StoreNotFound(_)
            | Error::BackupCorrupted(_)
            | Error::KdfCost { .. }
            | Error::StoreFull(_)
            | Error::AuditFailed(_) => "Store",
            Error::BackendUnavailable(_) | Error::BackendProtocol(_) => "Backend",
            Error::KeyUsage { .. }
            | Error::AliasExists(_)
            | Error::QuotaExceeded(_)
            | Error::EntropyUnavailable
            | Error::Unsupported(_)
            | Error::Io(_)
            | Error::KeyOrigin { .. }
            | Error::ImportTokenExpired(_)
            | Error::KeyMaterialMismatch(_)
            | Error::Internal(_) => "Rejected",
            Error::Remote(r) => r.kind,
        }
    }

    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidParameter { name, reason } => write!(f, "invalid {name}: {reason}"),
            Error::PlaintextTooLarge { size, limit } => write!(
                f,
                "plaintext is {size} bytes; Encrypt takes at most {limit} (use an envelope for larger data)"
            ),
            Error::KeyNotFound(id) => write!(f, "no key {id} in this store"),
            Error::KeyState { key_id, state } if *state == "NotPendingDeletion" => {
                write!(f, "key {key_id} is not pending deletion")
            }
            Error::KeyState { key_id, state } => {
                write!(f, "key {key_id} is {state}, which does not allow this action")
            }
            Error::KeyUsage { key_id, usage } => {
                write!(f, "key {key_id} has usage {usage}, which does not allow this action")
            }
            Error::AliasNotFound(a) => write!(f, "no alias {a} in this store"),
            Error::DeletionProtected(k) => write!(
                f,
                "key {k} has deletion protection on; turn it off with SetDeletionProtection first"
            ),
            Error::AliasExists(a) => write!(f, "alias {a} already exists"),
            Error::InvalidCiphertext => f.write_str(
                "the ciphertext cannot be decrypted (tampered, wrong EncryptionContext, or not a strongroom ciphertext)",
            ),
            Error::KeyVersionNotFound {
                key_id,
                key_version_id,
            } => write!(f, "key {key_id} has no version {key_version_id} in this store"),
            Error::WrongPassphrase => {
                f.write_str("the store was sealed with another passphrase or root key")
            }
            Error::WrongBackupPassphrase => {
                f.write_str("the backup was sealed with another backup passphrase")
            }
            Error::BackupCorrupted(what) => write!(
                f,
                "the backup is damaged, cut short or not a strongroom backup: {what}"
            ),
            Error::StoreCorrupted(what) => write!(f, "the store is damaged or was tampered with: {what}"),
            Error::UnsupportedStoreVersion(v) => {
                write!(f, "store format version {v} is not supported by this build")
            }
            Error::StoreIo(msg) => write!(f, "store I/O failed, nothing was changed: {msg}"),
            Error::StoreExists => f.write_str("a store already exists there"),
            Error::StoreLocked => f.write_str("the store is locked by another writer"),
            Error::StoreLockedBy(pid) => write!(
                f,
                "the store is locked by another writer (process {pid})"
            ),
            Error::StoreClosed => f.write_str("this instance was closed; open the store again"),
            Error::StoreNotFound(path) => write!(
                f,
                "there is no store at {path} (check --store / STRONGROOM_STORE; `strongroom store init` or a first `key create` makes one)"
            ),
            Error::KdfCost {
                m_cost_kib,
                cap_kib,
            } => write!(
                f,
                "the file asks Argon2id for {} MiB of memory; this runtime allows at most {} MiB",
                m_cost_kib / 1024,
                cap_kib / 1024
            ),
            Error::StoreFull(msg) => write!(f, "the disk is full, nothing was changed: {msg}"),
            Error::QuotaExceeded(what) => write!(f, "quota exceeded: {what}"),
            Error::BackendUnavailable(msg) => write!(f, "key backend unavailable: {msg}"),
            Error::BackendProtocol(msg) => write!(f, "key backend protocol error: {msg}"),
            Error::EntropyUnavailable => f.write_str("the random number source failed"),
            Error::Unsupported(what) => write!(f, "not supported: {what}"),
            Error::Envelope(e) => e.fmt(f),
            Error::Io(msg) => write!(f, "I/O failed: {msg}"),
            Error::KeyOrigin { key_id, reason } => write!(f, "key {key_id}: {reason}"),
            Error::ImportTokenExpired(k) => write!(
                f,
                "the import token for key {k} has expired (tokens last 24 hours): call GetParametersForImport again"
            ),
            Error::KeyMaterialMismatch(k) => write!(
                f,
                "key {k} once held other key material: only the same material can be imported again"
            ),
            Error::AccessDenied { action, resource } => {
                write!(f, "the caller may not {action} on {resource}")
            }
            Error::UnknownAction(a) => write!(f, "no action named {a:?}"),
            Error::EntityNotFound { kind, name } => write!(f, "no RAM {kind} named {name:?}"),
            Error::EntityExists { kind, name } => {
                write!(f, "a RAM {kind} named {name:?} exists already")
            }
            Error::DeleteConflict { what, name } => match *what {
                "User.AccessKey" => write!(f, "user {name:?} still has AccessKeys: delete them first"),
                "User.Policy" | "Role.Policy" => {
                    write!(f, "{name:?} still has policies attached: detach them first")
                }
                _ => write!(f, "policy {name:?} is still attached: detach it first"),
            },
            Error::PolicyLockout(r) => write!(
                f,
                "the policy would deny the owning account the right to manage the policy of {r}; nothing was changed"
            ),
            Error::InvalidAccessKeyId(id) => write!(f, "no active AccessKey {id:?} in this store"),
            Error::WireAuthentication(why) => {
                write!(f, "the backend server refused the request: {why}")
            }
            Error::InvalidSecurityToken(why) => write!(f, "the SecurityToken is invalid: {why}"),
            Error::AuditFailed(m) => f.write_str(m),
            Error::CredentialsExpired => f.write_str(
                "the temporary credentials have expired: call AssumeRole again",
            ),
            Error::ResourceNotFound(what) => write!(f, "the resource is not found: {what}"),
            Error::ResourceExists(what) => write!(f, "the resource already exists: {what}"),
            Error::ResourceInDeleteWindow(name) => write!(
                f,
                "secret {name} is scheduled for deletion; restore it with RestoreSecret first"
            ),
            Error::LimitExceeded(what) => write!(f, "limit exceeded: {what}"),
            Error::RotationFailed(why) => write!(
                f,
                "rotation failed, ACSCurrent is unchanged: {why}"
            ),
            Error::Internal(what) => write!(f, "internal failure (a bug in strongroom): {what}"),
            Error::Remote(r) => f.write_str(&r.message),
        }
    }
}

impl core::error::Error for Error {}

/// An error the gateway answered a connected `Kms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// The server's code (`Forbidden.KeyNotFound`, `SignatureDoesNotMatch`, …).
    pub code: &'static str,
    /// Its family (see [`Error::kind`]).
    pub kind: &'static str,
    /// The server's message.
    pub message: String,
    /// The RequestId the server gave the call.
    pub request_id: Option<String>,
    /// The HTTP status it came with.
    pub status: u16,
}

/// Every error family [`Error::kind`] names.
#[cfg(feature = "wire")]
pub const KINDS: &[&str] = &[
    "InvalidParameter",
    "KeyNotFound",
    "KeyState",
    "InvalidCiphertext",
    "WrongPassphrase",
    "AccessDenied",
    "ResourceNotFound",
    "ResourceState",
    "Store",
    "Backend",
    "Rejected",
];

/// The family of a code the gateway itself answers (it sends no `Kind`): signature
/// and credential codes are AccessDenied, malformed requests InvalidParameter, a
/// 503 Backend, anything else Rejected.
#[cfg(feature = "wire")]
#[must_use]
pub fn kind_of_gateway_code(code: &str, status: u16) -> &'static str {
    let prefix = code.split('.').next().unwrap_or_default();
    match prefix {
        "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "InvalidAccessKeyId"
        | "MissingAccessKeyId"
        | "InvalidSecurityToken"
        | "Forbidden"
        | "SignatureNonceUsed"
        | "InvalidTimeStamp" => "AccessDenied",
        "InvalidParameter"
        | "MissingParameter"
        | "InvalidAction"
        | "UnsupportedHTTPMethod"
        | "UnsupportedSignatureMethod"
        | "UnsupportedSignatureVersion" => "InvalidParameter",
        _ if status == 503 => "Backend",
        _ => "Rejected",
    }
}

/// Every stable code [`Error::code`] answers, for the serde form of answers that carry
/// one (`SimulatePolicyResponse::error_code` deserializes to these `&'static str`s).
/// A unit test keeps it equal to the codes written in `code()`.
#[cfg(any(feature = "serde", test))]
pub(crate) const CODES: &[&str] = &[
    "DeleteConflict",
    "DeleteConflict.Policy.Role",
    "DeleteConflict.Policy.User",
    "DeleteConflict.Role.Policy",
    "DeleteConflict.User.AccessKey",
    "DeleteConflict.User.Policy",
    "EntityAlreadyExists",
    "EntityAlreadyExists.Policy",
    "EntityAlreadyExists.Policy.Attachment",
    "EntityAlreadyExists.Role",
    "EntityAlreadyExists.User",
    "EntityNotExist",
    "EntityNotExist.Policy",
    "EntityNotExist.Role",
    "EntityNotExist.User",
    "EntityNotExist.User.AccessKey",
    "Forbidden.AliasNotFound",
    "Forbidden.DeletionProtection",
    "Forbidden.KeyDisabled",
    "Forbidden.KeyNotFound",
    "Forbidden.KeyNotPendingDeletion",
    "Forbidden.KeyPendingDeletion",
    "Forbidden.KeyPendingImport",
    "Forbidden.KeyState",
    "Forbidden.KeyVersionNotFound",
    "Forbidden.NoPermission",
    "Forbidden.PolicyLockout",
    "Forbidden.ResourceNotFound",
    "Forbidden.StoreNotFound",
    "Forbidden.WireAuthentication",
    "Forbidden.WrongPassphrase",
    "InternalFailure",
    "InvalidAccessKeyId.NotFound",
    "InvalidAction.NotFound",
    "InvalidCiphertext",
    "InvalidParameter",
    "InvalidParameter.AccessKeyId",
    "InvalidParameter.AccountId",
    "InvalidParameter.Algorithm",
    "InvalidParameter.AliasName",
    "InvalidParameter.AuditLevel",
    "InvalidParameter.Backend",
    "InvalidParameter.CacheKey",
    "InvalidParameter.CachePath",
    "InvalidParameter.CiphertextBlob",
    "InvalidParameter.Description",
    "InvalidParameter.Digest",
    "InvalidParameter.DurationSeconds",
    "InvalidParameter.EncryptedKeyMaterial",
    "InvalidParameter.EncryptionContext",
    "InvalidParameter.EncryptionKeyId",
    "InvalidParameter.Endpoint",
    "InvalidParameter.ExcludeCharacters",
    "InvalidParameter.ExtendedConfig",
    "InvalidParameter.Filters",
    "InvalidParameter.FrameLength",
    "InvalidParameter.ImportToken",
    "InvalidParameter.KeyFormat",
    "InvalidParameter.KeyId",
    "InvalidParameter.KeyIds",
    "InvalidParameter.KeyMaterialExpireUnix",
    "InvalidParameter.KeyPairSpec",
    "InvalidParameter.KeySpec",
    "InvalidParameter.KeyUsage",
    "InvalidParameter.KeyVersionId",
    "InvalidParameter.Kmip",
    "InvalidParameter.Length",
    "InvalidParameter.Limit",
    "InvalidParameter.MaxSessionDuration",
    "InvalidParameter.Message",
    "InvalidParameter.NumberOfBytes",
    "InvalidParameter.Origin",
    "InvalidParameter.Passphrase",
    "InvalidParameter.PendingWindowInDays",
    "InvalidParameter.Pkcs11",
    "InvalidParameter.Plaintext",
    "InvalidParameter.PlaintextTooLarge",
    "InvalidParameter.PolicyAction",
    "InvalidParameter.PolicyCondition",
    "InvalidParameter.PolicyDocument",
    "InvalidParameter.PolicyName",
    "InvalidParameter.PolicyTooLarge",
    "InvalidParameter.PolicyType",
    "InvalidParameter.ProtectedResourceArn",
    "InvalidParameter.ProtectionLevel",
    "InvalidParameter.PublicKey",
    "InvalidParameter.RecoveryWindowInDays",
    "InvalidParameter.Request",
    "InvalidParameter.RequiredSigner",
    "InvalidParameter.Retry",
    "InvalidParameter.RoleArn",
    "InvalidParameter.RoleName",
    "InvalidParameter.RoleSessionName",
    "InvalidParameter.RotationInterval",
    "InvalidParameter.SecretData",
    "InvalidParameter.SecretDataType",
    "InvalidParameter.SecretName",
    "InvalidParameter.SecretType",
    "InvalidParameter.SecurityToken",
    "InvalidParameter.SigningKeyId",
    "InvalidParameter.Status",
    "InvalidParameter.Tags",
    "InvalidParameter.Timeout",
    "InvalidParameter.Transit",
    "InvalidParameter.UserName",
    "InvalidParameter.VersionId",
    "InvalidParameter.VersionStage",
    "InvalidParameter.VersionStages",
    "InvalidParameter.WrappingAlgorithm",
    "InvalidParameter.WrappingKeySpec",
    "InvalidSecurityToken.Expired",
    "InvalidSecurityToken.Malformed",
    "InvalidSecurityToken.MismatchWithAccessKey",
    "Rejected.AliasExists",
    "Rejected.AuditFailed",
    "Rejected.BackendProtocol",
    "Rejected.BackendUnavailable",
    "Rejected.BackupCorrupted",
    "Rejected.EntropyUnavailable",
    "Rejected.ImportTokenExpired",
    "Rejected.Io",
    "Rejected.KdfCost",
    "Rejected.KeyMaterialMismatch",
    "Rejected.KeyOrigin",
    "Rejected.KeyUsage",
    "Rejected.LimitExceeded",
    "Rejected.QuotaExceeded",
    "Rejected.ResourceExist",
    "Rejected.ResourceInDeleteWindow",
    "Rejected.RotationFailed",
    "Rejected.StoreClosed",
    "Rejected.StoreCorrupted",
    "Rejected.StoreExists",
    "Rejected.StoreFull",
    "Rejected.StoreIo",
    "Rejected.StoreLocked",
    "Rejected.StoreVersion",
    "Rejected.Unsupported",
];

#[cfg(test)]
mod codes_tests {
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    /// CODES lists exactly the codes `Error::code` answers.
    #[test]
    fn codes_lists_every_code_of_error_code() {
        let src = include_str!("error.rs");
        let start = src
            .find("    pub fn code(&self) -> &'static str {")
            .unwrap();
        let body = &src[start..];
        let body = &body[..body.find("\n    }\n").unwrap()];
        let mut found = BTreeSet::new();
        // A code is a literal an arm answers: after `=>`, or alone in an if / else
        // block; literals before `=>` (parameter names) or compared with `==` are not.
        for line in body.lines() {
            let part = match line.split_once("=>") {
                Some((_, answer)) => answer,
                None if line.contains("==") => continue,
                None => line,
            };
            let mut rest = part;
            while let Some(a) = rest.find('"') {
                let after = &rest[a + 1..];
                let Some(b) = after.find('"') else { break };
                found.insert(&after[..b]);
                rest = &after[b + 1..];
            }
        }
        let listed: BTreeSet<&str> = super::CODES.iter().copied().collect();
        let missing: Vec<_> = found.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&found).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing {missing:?}, extra {extra:?}"
        );
    }
}
