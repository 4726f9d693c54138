//! The action layer: one table of actions ([`Action`]), one request / response model
//! ([`Request`], [`Response`]) and one entry, [`Kms::call`], that every face — Rust,
//! wasm, Python, the CLI and (later) the gateway — reaches every action through.
//!
//! The caller's identity and the request id travel in a [`Caller`]. The dispatch
//! resolves each action's target resource once, under the state lock (a KeyId, an
//! alias, an ARN, the key named inside a blob, each recipient of an envelope header),
//! asks the installed [`CallHook`] whether the caller may act on it, and rewrites the
//! request to the resolved KeyId, so the service code acts on exactly the key that was
//! authorised (an UpdateAlias racing the call cannot redirect it). When the action
//! ends, the hook is told its outcome. Policy ([access-audit]) and audit plug in there.

pub(crate) mod dispatch;
mod model;
mod table;
#[cfg(feature = "wire")]
pub mod wire;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

pub use model::*;
pub use table::{Action, Family, Target};

use crate::backend::MaybeSendSync;
use crate::envelope::{
    DecryptEnvelopeRequest, DecryptEnvelopeResponse, EncryptEnvelopeRequest, EnvelopeInfo,
    EnvelopeStart,
};
use crate::error::{Error, Result};
use crate::kms::*;
use crate::secret::SecretBytes;
use crate::service::asymmetric::*;
use crate::service::import::*;
use crate::service::secrets::*;

/// The principal the store's owner acts as when a face names no other.
pub const OWNER: &str = "owner";

/// Who is calling, and under which request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The principal (today the store's owner, [`OWNER`]; RAM users, roles and
    /// AccessKeys come with the access-audit work).
    pub principal: String,
    /// The request id (Alibaba's `RequestId`); drawn by the dispatch when `None` and
    /// someone (a hook, a face) needs it.
    pub request_id: Option<String>,
}

impl Caller {
    /// The store's owner, with no request id yet.
    #[must_use]
    pub fn owner() -> Caller {
        Caller {
            principal: String::from(OWNER),
            request_id: None,
        }
    }

    /// A caller acting as `principal`.
    #[must_use]
    pub fn new(principal: impl Into<String>) -> Caller {
        Caller {
            principal: principal.into(),
            request_id: None,
        }
    }

    /// The same caller under request id `id`.
    #[must_use]
    pub fn with_request_id(mut self, id: impl Into<String>) -> Caller {
        self.request_id = Some(id.into());
        self
    }
}

/// A resource an action acts on, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// The instance itself (CreateKey, ListKeys, …).
    Instance,
    /// A key, by its KeyId.
    Key(String),
    /// An alias, by its name (`alias/…`).
    Alias(String),
    /// A secret, by its SecretName.
    Secret(String),
}

impl Resource {
    /// Its ARN, as policies name it (`acs:kms:strongroom:local:key/<KeyId>`,
    /// `acs:kms:strongroom:local:alias/<name>`, `*` for the instance).
    #[must_use]
    pub fn arn(&self) -> String {
        match self {
            Resource::Instance => String::from("*"),
            Resource::Key(id) => alloc::format!("acs:kms:strongroom:local:key/{id}"),
            Resource::Alias(a) => alloc::format!("acs:kms:strongroom:local:{a}"),
            Resource::Secret(n) => secret_arn(n),
        }
    }
}

/// What the hook is told when an action ends.
#[derive(Debug)]
pub struct CallRecord<'a> {
    /// Who called.
    pub caller: &'a Caller,
    /// The request id (drawn by the dispatch when the caller gave none).
    pub request_id: &'a str,
    /// The action.
    pub action: Action,
    /// The resources it resolved and was authorised on, in order (an action that
    /// failed before resolving its target names none).
    pub resources: &'a [Resource],
    /// `Ok` or the error the caller got (its code is stable; its message holds no
    /// secret).
    pub outcome: core::result::Result<(), &'a Error>,
}

/// The seam where policy and audit plug into the one dispatch.
///
/// `authorize` runs under the store's state lock for every resolved resource (so it
/// must be quick and must not call back into the [`crate::Kms`]); `record` runs once
/// per call, after the action, allowed or denied, succeeded or failed.
pub trait CallHook: MaybeSendSync {
    /// Whether `caller` may perform `action` on `resource`.
    ///
    /// # Errors
    /// `Forbidden.NoPermission` ([`Error::AccessDenied`]), or any error to refuse with.
    fn authorize(&self, caller: &Caller, action: Action, resource: &Resource) -> Result<()> {
        let _ = (caller, action, resource);
        Ok(())
    }

    /// One call's outcome.
    fn record(&self, record: &CallRecord<'_>);
}

/// The key and version an opened envelope header named, and its message key.
#[derive(Debug)]
pub struct OpenedEnvelopeKey {
    /// The per-message AES-256-GCM key for the frames.
    pub message_key: SecretBytes,
    /// Who opened it.
    pub info: EnvelopeInfo,
}

macro_rules! model {
    ($($(#[$m:meta])* $v:ident($req:ty) -> $resp:ty => $action:ident),+ $(,)?) => {
        /// One action's request: what [`Kms::call`] takes.
        #[derive(Clone)]
        #[non_exhaustive]
        pub enum Request { $($(#[$m])* $v($req)),+ }

        /// One action's answer: what [`Kms::call`] returns.
        #[non_exhaustive]
        pub enum Response { $($(#[$m])* $v($resp)),+ }

        impl Request {
            /// The action it asks for.
            #[must_use]
            pub fn action(&self) -> Action { match self { $(Request::$v(_) => Action::$action),+ } }
            fn variant(&self) -> &'static str { match self { $(Request::$v(_) => stringify!($v)),+ } }
        }

        impl Response {
            /// The action it answers.
            #[must_use]
            pub fn action(&self) -> Action { match self { $(Response::$v(_) => Action::$action),+ } }
            fn variant(&self) -> &'static str { match self { $(Response::$v(_) => stringify!($v)),+ } }
        }

    };
}

// Requests and responses are printed by variant only: a request or response may hold
// plaintext, key material or a secret value (the table's sensitive fields).
impl core::fmt::Debug for Request {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Request::{} {{ .. }}", self.variant())
    }
}
impl core::fmt::Debug for Response {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Response::{} {{ .. }}", self.variant())
    }
}

/// An action that answers nothing but success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Done;

/// ListResourceTags' answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListResourceTagsResponse {
    /// The key's tags, by TagKey.
    pub tags: Vec<Tag>,
}

/// GetRandomPassword's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRandomPasswordResponse {
    /// RandomPassword (ASCII).
    pub random_password: SecretBytes,
}

model! {
    /// CreateKey.
    CreateKey(CreateKeyRequest) -> Box<KeyMetadata> => CreateKey,
    /// DescribeKey.
    DescribeKey(DescribeKeyRequest) -> Box<KeyMetadata> => DescribeKey,
    /// ListKeys.
    ListKeys(ListKeysRequest) -> ListKeysResponse => ListKeys,
    /// UpdateKeyDescription.
    UpdateKeyDescription(UpdateKeyDescriptionRequest) -> Box<KeyMetadata> => UpdateKeyDescription,
    /// EnableKey.
    EnableKey(EnableKeyRequest) -> Box<KeyMetadata> => EnableKey,
    /// DisableKey.
    DisableKey(DisableKeyRequest) -> Box<KeyMetadata> => DisableKey,
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletion(ScheduleKeyDeletionRequest) -> Box<KeyMetadata> => ScheduleKeyDeletion,
    /// CancelKeyDeletion.
    CancelKeyDeletion(CancelKeyDeletionRequest) -> Box<KeyMetadata> => CancelKeyDeletion,
    /// SetDeletionProtection.
    SetDeletionProtection(SetDeletionProtectionRequest) -> Box<KeyMetadata> => SetDeletionProtection,
    /// CreateKeyVersion.
    CreateKeyVersion(CreateKeyVersionRequest) -> KeyVersion => CreateKeyVersion,
    /// DescribeKeyVersion.
    DescribeKeyVersion(DescribeKeyVersionRequest) -> KeyVersion => DescribeKeyVersion,
    /// ListKeyVersions.
    ListKeyVersions(ListKeyVersionsRequest) -> ListKeyVersionsResponse => ListKeyVersions,
    /// UpdateRotationPolicy.
    UpdateRotationPolicy(UpdateRotationPolicyRequest) -> Box<KeyMetadata> => UpdateRotationPolicy,
    /// CreateAlias.
    CreateAlias(AliasRequest) -> Done => CreateAlias,
    /// UpdateAlias.
    UpdateAlias(AliasRequest) -> Done => UpdateAlias,
    /// DeleteAlias.
    DeleteAlias(DeleteAliasRequest) -> Done => DeleteAlias,
    /// ListAliases.
    ListAliases(ListAliasesRequest) -> ListAliasesResponse => ListAliases,
    /// ListAliasesByKeyId.
    ListAliasesByKeyId(ListAliasesByKeyIdRequest) -> ListAliasesResponse => ListAliasesByKeyId,
    /// TagResource.
    TagResource(TagResourceRequest) -> Done => TagResource,
    /// UntagResource.
    UntagResource(UntagResourceRequest) -> Done => UntagResource,
    /// ListResourceTags.
    ListResourceTags(ListResourceTagsRequest) -> ListResourceTagsResponse => ListResourceTags,
    /// GetParametersForImport.
    GetParametersForImport(GetParametersForImportRequest) -> ImportParameters => GetParametersForImport,
    /// ImportKeyMaterial.
    ImportKeyMaterial(ImportKeyMaterialRequest) -> Box<KeyMetadata> => ImportKeyMaterial,
    /// DeleteKeyMaterial.
    DeleteKeyMaterial(DeleteKeyMaterialRequest) -> Box<KeyMetadata> => DeleteKeyMaterial,
    /// Encrypt.
    Encrypt(EncryptRequest) -> EncryptResponse => Encrypt,
    /// Decrypt.
    Decrypt(DecryptRequest) -> DecryptResponse => Decrypt,
    /// ReEncrypt.
    ReEncrypt(ReEncryptRequest) -> ReEncryptResponse => ReEncrypt,
    /// GenerateDataKey.
    GenerateDataKey(GenerateDataKeyRequest) -> GenerateDataKeyResponse => GenerateDataKey,
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext(GenerateDataKeyRequest) -> GenerateDataKeyWithoutPlaintextResponse => GenerateDataKeyWithoutPlaintext,
    /// ExportDataKey.
    ExportDataKey(ExportDataKeyRequest) -> ExportDataKeyResponse => ExportDataKey,
    /// GenerateAndExportDataKey.
    GenerateAndExportDataKey(GenerateAndExportDataKeyRequest) -> GenerateAndExportDataKeyResponse => GenerateAndExportDataKey,
    /// GetRandomPassword.
    GetRandomPassword(GetRandomPasswordRequest) -> GetRandomPasswordResponse => GetRandomPassword,
    /// GetPublicKey.
    GetPublicKey(GetPublicKeyRequest) -> GetPublicKeyResponse => GetPublicKey,
    /// AsymmetricSign over a digest.
    AsymmetricSign(AsymmetricSignRequest) -> AsymmetricSignResponse => AsymmetricSign,
    /// AsymmetricSign over a message (hashed in the KMS).
    AsymmetricSignMessage(AsymmetricSignMessageRequest) -> AsymmetricSignResponse => AsymmetricSign,
    /// AsymmetricVerify.
    AsymmetricVerify(AsymmetricVerifyRequest) -> AsymmetricVerifyResponse => AsymmetricVerify,
    /// AsymmetricEncrypt.
    AsymmetricEncrypt(AsymmetricEncryptRequest) -> AsymmetricEncryptResponse => AsymmetricEncrypt,
    /// AsymmetricDecrypt.
    AsymmetricDecrypt(AsymmetricDecryptRequest) -> AsymmetricDecryptResponse => AsymmetricDecrypt,
    /// EncryptEnvelope, one-shot.
    EncryptEnvelope(EncryptEnvelopeRequest) -> EncryptEnvelopeResponse => EncryptEnvelope,
    /// DecryptEnvelope, one-shot.
    DecryptEnvelope(DecryptEnvelopeRequest) -> DecryptEnvelopeResponse => DecryptEnvelope,
    /// EncryptEnvelope's KMS part (header and message key) for streams and platform frames.
    BeginEnvelope(BeginEnvelopeRequest) -> EnvelopeStart => EncryptEnvelope,
    /// DecryptEnvelope's KMS part (unwrap and verify a parsed header).
    OpenEnvelope(Box<OpenEnvelopeRequest>) -> OpenedEnvelopeKey => DecryptEnvelope,
    /// CreateSecret.
    CreateSecret(CreateSecretRequest) -> SecretCreated => CreateSecret,
    /// GetSecretValue.
    GetSecretValue(GetSecretValueRequest) -> GetSecretValueResponse => GetSecretValue,
    /// PutSecretValue.
    PutSecretValue(PutSecretValueRequest) -> PutSecretValueResponse => PutSecretValue,
    /// UpdateSecretVersionStage.
    UpdateSecretVersionStage(UpdateSecretVersionStageRequest) -> SecretNameResponse => UpdateSecretVersionStage,
    /// ListSecretVersionIds.
    ListSecretVersionIds(ListSecretVersionIdsRequest) -> ListSecretVersionIdsResponse => ListSecretVersionIds,
    /// DescribeSecret.
    DescribeSecret(DescribeSecretRequest) -> Box<SecretMetadata> => DescribeSecret,
    /// ListSecrets.
    ListSecrets(ListSecretsRequest) -> ListSecretsResponse => ListSecrets,
    /// UpdateSecret.
    UpdateSecret(UpdateSecretRequest) -> SecretNameResponse => UpdateSecret,
    /// DeleteSecret.
    DeleteSecret(DeleteSecretRequest) -> DeleteSecretResponse => DeleteSecret,
    /// RestoreSecret.
    RestoreSecret(RestoreSecretRequest) -> SecretNameResponse => RestoreSecret,
    /// RotateSecret.
    RotateSecret(RotateSecretRequest) -> SecretCreated => RotateSecret,
    /// UpdateSecretRotationPolicy.
    UpdateSecretRotationPolicy(UpdateSecretRotationPolicyRequest) -> SecretNameResponse => UpdateSecretRotationPolicy,
    /// TagResource with a SecretName.
    TagSecret(TagSecretRequest) -> Done => TagResource,
    /// UntagResource with a SecretName.
    UntagSecret(UntagSecretRequest) -> Done => UntagResource,
    /// ListResourceTags with a SecretName.
    ListSecretTags(ListSecretTagsRequest) -> ListResourceTagsResponse => ListResourceTags,
    /// DescribeService.
    DescribeService(DescribeServiceRequest) -> DescribeServiceResponse => DescribeService,
}

/// EncryptEnvelope's answer: the whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptEnvelopeResponse {
    /// The envelope message (docs/FORMAT.md §Envelope message).
    pub ciphertext: Vec<u8>,
}

/// Takes the expected variant out of a [`Response`].
macro_rules! take {
    ($r:expr, $v:ident) => {
        match $r {
            $crate::api::Response::$v(x) => Ok(x),
            _ => Err($crate::Error::Internal("a response of another action")),
        }
    };
}
pub(crate) use take;

/// Runs `Request::$v($req)` through the one dispatch as the store's owner and takes
/// its answer: the body of every public `Kms` method.
macro_rules! as_owner {
    ($kms:expr, $v:ident, $req:expr $(,)?) => {{
        let r = $kms
            .call(
                &$crate::api::Caller::owner(),
                $crate::api::Request::$v($req),
            )
            .await?;
        $crate::api::take!(r, $v)
    }};
}
pub(crate) use as_owner;
