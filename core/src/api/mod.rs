//! The action layer: one table of actions ([`Action`]), one request / response model
//! ([`Request`], [`Response`]) and one entry, [`Kms::call`](crate::Kms::call), that every face — Rust,
//! wasm, Python, the CLI and (later) the gateway — reaches every action through.
//!
//! The caller's identity and the request id travel in a [`Caller`]. The dispatch
//! resolves each action's target resource once, under the state lock (a KeyId, an
//! alias, an ARN, the key named inside a blob, each recipient of an envelope header),
//! asks the installed [`CallHook`] whether the caller may act on it, and rewrites the
//! request to the resolved KeyId, so the service code acts on exactly the key that was
//! authorised (an UpdateAlias racing the call cannot redirect it). When the action
//! ends, the hook is told its outcome. Policy ([access-audit]) and audit plug in there.

#[cfg(feature = "wire")]
pub mod client;
pub(crate) mod dispatch;
mod facts;
mod model;
#[cfg(feature = "serde")]
pub(crate) mod serde_static;
#[cfg(feature = "wire")]
pub mod sign;
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
    EnvelopeStart, ReEncryptEnvelopeRequest, ReEncryptEnvelopeResponse,
};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::service::aliases::*;
use crate::service::asymmetric::*;
use crate::service::crypto::*;
use crate::service::import::*;
use crate::service::keys::*;
use crate::service::ram::*;
use crate::service::secrets::*;

/// The principal the store's owner acts as when a face names no other.
pub const OWNER: &str = "owner";

/// Who is calling, and under which request id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Caller {
    /// The principal's ARN: [`OWNER`] (the owning account, the store's owner),
    /// `acs:ram::<account>:user/<name>`, or a role session
    /// `acs:ram::<account>:assumed-role/<role>/<session>` (see [`crate::access`]).
    pub principal: String,
    /// The request id (Alibaba's `RequestId`); drawn by the dispatch when `None` and
    /// someone (a hook, the audit trail, a face) needs it.
    pub request_id: Option<String>,
    /// The AccessKeyId the request was authenticated with, if any.
    pub access_key_id: Option<String>,
    /// Where the request came from (`acs:SourceIp`; the audit's sourceIpAddress).
    pub source_ip: Option<core::net::IpAddr>,
    /// The client's User-Agent (audit's userAgent).
    pub user_agent: Option<String>,
    /// Whether it came over TLS (`acs:SecureTransport`); in-process calls are.
    pub secure_transport: bool,
    /// When the caller's temporary credentials expire, ms (role sessions).
    pub expires_ms: Option<u64>,
}

impl Caller {
    /// The store's owner, with no request id yet.
    #[must_use]
    pub fn owner() -> Caller {
        Caller::new(OWNER)
    }

    /// A caller acting as `principal` (an ARN; see [`Caller::principal`]). In-process,
    /// this is trusted as given: across a network, [`crate::Kms::authenticate`] makes
    /// the caller from its credentials.
    #[must_use]
    pub fn new(principal: impl Into<String>) -> Caller {
        Caller {
            principal: principal.into(),
            request_id: None,
            access_key_id: None,
            source_ip: None,
            user_agent: None,
            secure_transport: true,
            expires_ms: None,
        }
    }

    /// The same caller under request id `id`.
    #[must_use]
    pub fn with_request_id(mut self, id: impl Into<String>) -> Caller {
        self.request_id = Some(id.into());
        self
    }

    /// The same caller, from `ip` (over TLS or not), with this User-Agent.
    #[must_use]
    pub fn with_origin(
        mut self,
        ip: Option<core::net::IpAddr>,
        secure_transport: bool,
        user_agent: Option<String>,
    ) -> Caller {
        self.source_ip = ip;
        self.secure_transport = secure_transport;
        self.user_agent = user_agent;
        self
    }

    /// Whether it is the owning account.
    #[must_use]
    pub fn is_owner(&self) -> bool {
        self.principal == OWNER
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
    /// A RAM user, by name.
    User(String),
    /// A RAM role, by name.
    Role(String),
    /// A RAM policy, by name.
    Policy(String),
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
            Resource::User(n) => alloc::format!("acs:ram::local:user/{n}"),
            Resource::Role(n) => alloc::format!("acs:ram::local:role/{n}"),
            Resource::Policy(n) => alloc::format!("acs:ram::local:policy/{n}"),
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
        /// One action's request: what [`Kms::call`](crate::Kms::call) takes.
        #[derive(Clone)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[non_exhaustive]
        pub enum Request { $($(#[$m])* $v($req)),+ }

        /// One action's answer: what [`Kms::call`](crate::Kms::call) returns.
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Done;

/// ListResourceTags' answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListResourceTagsResponse {
    /// The key's tags, by TagKey.
    pub tags: Vec<Tag>,
}

/// GetRandomPassword's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// GenerateDataKeyPair.
    GenerateDataKeyPair(GenerateDataKeyPairRequest) -> GenerateDataKeyPairResponse => GenerateDataKeyPair,
    /// GenerateDataKeyPairWithoutPlaintext.
    GenerateDataKeyPairWithoutPlaintext(GenerateDataKeyPairRequest) -> GenerateDataKeyPairWithoutPlaintextResponse => GenerateDataKeyPairWithoutPlaintext,
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
    /// ReEncryptEnvelope: a message's header with its data key wrapped again.
    ReEncryptEnvelope(ReEncryptEnvelopeRequest) -> ReEncryptEnvelopeResponse => ReEncryptEnvelope,
    /// EncryptEnvelope's KMS part (header and message key) for streams and platform frames.
    /// In-process only: it holds a message key, so serde skips it.
    #[cfg_attr(feature = "serde", serde(skip))]
    BeginEnvelope(BeginEnvelopeRequest) -> EnvelopeStart => EncryptEnvelope,
    /// DecryptEnvelope's KMS part (unwrap and verify a parsed header). In-process only
    /// (serde skips it).
    #[cfg_attr(feature = "serde", serde(skip))]
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
    /// GenerateRandom.
    GenerateRandom(GenerateRandomRequest) -> GenerateRandomResponse => GenerateRandom,
    /// Hash.
    Hash(HashRequest) -> HashResponse => Hash,
    /// DescribeService.
    DescribeService(DescribeServiceRequest) -> DescribeServiceResponse => DescribeService,
    /// ExportImage.
    ExportImage(ExportImageRequest) -> StoreImage => ExportImage,
    /// CreateBackup.
    CreateBackup(CreateBackupRequest) -> StoreImage => CreateBackup,
    /// ChangePassphrase.
    ChangePassphrase(ChangePassphraseRequest) -> Done => ChangePassphrase,
    /// RekeyStore.
    RekeyStore(RekeyStoreRequest) -> Done => RekeyStore,
    /// CompactStore.
    CompactStore(CompactStoreRequest) -> Done => CompactStore,
    /// VerifyStore.
    VerifyStore(VerifyStoreRequest) -> VerifyStoreResponse => VerifyStore,
    /// CreateUser.
    CreateUser(CreateUserRequest) -> User => CreateUser,
    /// GetUser.
    GetUser(UserNameRequest) -> User => GetUser,
    /// ListUsers.
    ListUsers(ListEntitiesRequest) -> ListUsersResponse => ListUsers,
    /// DeleteUser.
    DeleteUser(UserNameRequest) -> Done => DeleteUser,
    /// CreateRole.
    CreateRole(CreateRoleRequest) -> Role => CreateRole,
    /// GetRole.
    GetRole(RoleNameRequest) -> Role => GetRole,
    /// ListRoles.
    ListRoles(ListEntitiesRequest) -> ListRolesResponse => ListRoles,
    /// DeleteRole.
    DeleteRole(RoleNameRequest) -> Done => DeleteRole,
    /// CreateAccessKey.
    CreateAccessKey(UserNameRequest) -> AccessKey => CreateAccessKey,
    /// UpdateAccessKey.
    UpdateAccessKey(AccessKeyRequest) -> Done => UpdateAccessKey,
    /// DeleteAccessKey.
    DeleteAccessKey(AccessKeyRequest) -> Done => DeleteAccessKey,
    /// CreateClientKey.
    CreateClientKey(CreateClientKeyRequest) -> ClientKey => CreateClientKey,
    /// ListAccessKeys.
    ListAccessKeys(UserNameRequest) -> ListAccessKeysResponse => ListAccessKeys,
    /// CreatePolicy.
    CreatePolicy(CreatePolicyRequest) -> PolicyInfo => CreatePolicy,
    /// GetPolicy.
    GetPolicy(PolicyNameRequest) -> PolicyInfo => GetPolicy,
    /// ListPolicies.
    ListPolicies(ListPoliciesRequest) -> ListPoliciesResponse => ListPolicies,
    /// DeletePolicy.
    DeletePolicy(PolicyNameRequest) -> Done => DeletePolicy,
    /// AttachPolicyToUser.
    AttachPolicyToUser(AttachPolicyRequest) -> Done => AttachPolicyToUser,
    /// DetachPolicyFromUser.
    DetachPolicyFromUser(AttachPolicyRequest) -> Done => DetachPolicyFromUser,
    /// AttachPolicyToRole.
    AttachPolicyToRole(AttachPolicyRequest) -> Done => AttachPolicyToRole,
    /// DetachPolicyFromRole.
    DetachPolicyFromRole(AttachPolicyRequest) -> Done => DetachPolicyFromRole,
    /// ListPoliciesForUser.
    ListPoliciesForUser(UserNameRequest) -> ListPoliciesResponse => ListPoliciesForUser,
    /// ListPoliciesForRole.
    ListPoliciesForRole(RoleNameRequest) -> ListPoliciesResponse => ListPoliciesForRole,
    /// AssumeRole.
    AssumeRole(AssumeRoleRequest) -> crate::access::TemporaryCredentials => AssumeRole,
    /// SetKeyPolicy.
    SetKeyPolicy(KeyPolicyRequest) -> Done => SetKeyPolicy,
    /// GetKeyPolicy.
    GetKeyPolicy(KeyPolicyRequest) -> PolicyText => GetKeyPolicy,
    /// SetSecretPolicy.
    SetSecretPolicy(SecretPolicyRequest) -> Done => SetSecretPolicy,
    /// GetSecretPolicy.
    GetSecretPolicy(SecretPolicyRequest) -> PolicyText => GetSecretPolicy,
    /// SimulatePolicy.
    SimulatePolicy(SimulatePolicyRequest) -> SimulatePolicyResponse => SimulatePolicy,
    /// SetAuditLevel.
    SetAuditLevel(SetAuditLevelRequest) -> Done => SetAuditLevel,
    /// DescribeAuditConfig.
    DescribeAuditConfig(DescribeAuditConfigRequest) -> AuditConfig => DescribeAuditConfig,
}

/// EncryptEnvelope's answer: the whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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

/// Runs `Request::$v($req)` through the one dispatch as the instance's default caller
/// (the store's owner unless [`crate::Kms::act_as`] said otherwise) and takes its
/// answer: the body of every public `Kms` method.
macro_rules! as_owner {
    ($kms:expr, $v:ident, $req:expr $(,)?) => {{
        let caller = $kms.default_caller();
        let r = $kms.call(&caller, $crate::api::Request::$v($req)).await?;
        $crate::api::take!(r, $v)
    }};
}
pub(crate) use as_owner;
