//! The action table: every action strongroom serves, once, with what the dispatch,
//! policy, audit and every face need to know about it.
//!
//! Adding an action: one line here, its request / response in the model
//! ([`super::Request`], [`super::Response`]), its service code, tests and docs.

/// An action's family (the service code that carries it out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// Key lifecycle: create, describe, list, enable/disable, deletion, versions, rotation.
    Keys,
    /// Aliases and tags.
    Aliases,
    /// BYOK: import parameters, import and deletion of key material.
    Import,
    /// Symmetric crypto: Encrypt, Decrypt, ReEncrypt, data keys, random passwords.
    Crypto,
    /// Asymmetric crypto: public keys, sign / verify, RSA encrypt / decrypt.
    Asymmetric,
    /// Envelope messages.
    Envelope,
    /// Secrets Manager: secrets, their versions, stages, deletion and rotation.
    Secrets,
    /// RAM: users, roles, AccessKeys, policies and their attachments (`ram:` actions).
    Ram,
    /// STS: AssumeRole (`sts:` actions).
    Sts,
    /// Key and secret policies, the audit trail's settings.
    Access,
    /// The audit trail (kms: actions strongroom adds).
    Audit,
    /// The instance itself.
    Service,
    /// The store as a whole: its image, backups, passphrase, store key and compaction
    /// (strongroom's own actions; the store's owner only, never served over the network).
    Store,
}

impl Family {
    /// The family's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Keys => "Keys",
            Family::Aliases => "Aliases",
            Family::Import => "Import",
            Family::Crypto => "Crypto",
            Family::Asymmetric => "Asymmetric",
            Family::Envelope => "Envelope",
            Family::Secrets => "Secrets",
            Family::Ram => "Ram",
            Family::Sts => "Sts",
            Family::Access => "Access",
            Family::Audit => "Audit",
            Family::Service => "Service",
            Family::Store => "Store",
        }
    }
}

/// How the dispatch finds an action's target resource (resolved once, under the state
/// lock, where authorisation happens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// No single resource: the instance (CreateKey, ListKeys, GetRandomPassword, …).
    Instance,
    /// The key a `KeyId` parameter names (KeyId, alias, key ARN or alias ARN).
    KeyId,
    /// The key that `ProtectedResourceArn` names (SetDeletionProtection; a KeyId or
    /// alias is accepted too).
    ProtectedResourceArn,
    /// An alias (`AliasName`) and the key it points to or is to point to (`KeyId`).
    Alias,
    /// The key named inside a ciphertext blob (Decrypt, ExportDataKey).
    Blob,
    /// The blob's key and the `DestinationKeyId` (ReEncrypt).
    BlobAndDestination,
    /// Every key of `KeyIds` (EncryptEnvelope).
    KeyIds,
    /// The secret a `SecretName` parameter names (a name or a secret ARN).
    SecretName,
    /// A key (`KeyId`) or a secret (`SecretName`), whichever is given (the tag actions).
    KeyIdOrSecretName,
    /// Each recipient stanza's key in an envelope header, tried in order
    /// (DecryptEnvelope): a stanza whose key the caller may not use is skipped.
    EnvelopeHeader,
    /// A RAM user (`UserName`).
    UserName,
    /// A RAM role (`RoleName`, or the role an ARN names).
    RoleName,
    /// A RAM policy (`PolicyName`), and for attachments the user or role too.
    PolicyName,
}

macro_rules! action_table {
    ($($(#[$m:meta])* $v:ident = ($name:literal, $family:ident, $mutates:literal, $target:ident, [$($sens:literal),*])),+ $(,)?) => {
        /// Every action, by Alibaba's name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Action { $($(#[$m])* $v),+ }

        impl Action {
            /// Every action, in table order.
            pub const ALL: &'static [Action] = &[$(Action::$v),+];

            /// Alibaba's name (`Encrypt`, `ListKeys`, …): the wire's `Action` parameter,
            /// the policy's `kms:<Name>`.
            #[must_use]
            pub fn name(self) -> &'static str { match self { $(Action::$v => $name),+ } }

            /// The family whose service code carries it out.
            #[must_use]
            pub fn family(self) -> Family { match self { $(Action::$v => Family::$family),+ } }

            /// The OpenAPI version it is called with: RAM's `2015-05-01`, STS's
            /// `2015-04-01`, KMS's `2016-01-20` for everything else.
            #[must_use]
            pub fn api_version(self) -> &'static str {
                match self.family() {
                    Family::Ram => "2015-05-01",
                    Family::Sts => "2015-04-01",
                    _ => "2016-01-20",
                }
            }

            /// Whether it changes the store.
            #[must_use]
            pub fn mutates(self) -> bool { match self { $(Action::$v => $mutates),+ } }

            /// How its target resource is found.
            #[must_use]
            pub fn target(self) -> Target { match self { $(Action::$v => Target::$target),+ } }

            /// The request and response fields (Alibaba's names) that hold plaintext, key
            /// material or secret values: never printed, logged or audited.
            #[must_use]
            pub fn sensitive_fields(self) -> &'static [&'static str] {
                match self { $(Action::$v => &[$($sens),*]),+ }
            }
        }
    };
}

action_table! {
    /// CreateKey.
    CreateKey = ("CreateKey", Keys, true, Instance, []),
    /// DescribeKey.
    DescribeKey = ("DescribeKey", Keys, false, KeyId, []),
    /// ListKeys.
    ListKeys = ("ListKeys", Keys, false, Instance, []),
    /// UpdateKeyDescription.
    UpdateKeyDescription = ("UpdateKeyDescription", Keys, true, KeyId, []),
    /// EnableKey.
    EnableKey = ("EnableKey", Keys, true, KeyId, []),
    /// DisableKey.
    DisableKey = ("DisableKey", Keys, true, KeyId, []),
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletion = ("ScheduleKeyDeletion", Keys, true, KeyId, []),
    /// CancelKeyDeletion.
    CancelKeyDeletion = ("CancelKeyDeletion", Keys, true, KeyId, []),
    /// SetDeletionProtection.
    SetDeletionProtection = ("SetDeletionProtection", Keys, true, ProtectedResourceArn, []),
    /// CreateKeyVersion.
    CreateKeyVersion = ("CreateKeyVersion", Keys, true, KeyId, []),
    /// DescribeKeyVersion.
    DescribeKeyVersion = ("DescribeKeyVersion", Keys, false, KeyId, []),
    /// ListKeyVersions.
    ListKeyVersions = ("ListKeyVersions", Keys, false, KeyId, []),
    /// UpdateRotationPolicy.
    UpdateRotationPolicy = ("UpdateRotationPolicy", Keys, true, KeyId, []),
    /// CreateAlias.
    CreateAlias = ("CreateAlias", Aliases, true, Alias, []),
    /// UpdateAlias.
    UpdateAlias = ("UpdateAlias", Aliases, true, Alias, []),
    /// DeleteAlias.
    DeleteAlias = ("DeleteAlias", Aliases, true, Alias, []),
    /// ListAliases.
    ListAliases = ("ListAliases", Aliases, false, Instance, []),
    /// ListAliasesByKeyId.
    ListAliasesByKeyId = ("ListAliasesByKeyId", Aliases, false, KeyId, []),
    /// TagResource.
    TagResource = ("TagResource", Aliases, true, KeyIdOrSecretName, []),
    /// UntagResource.
    UntagResource = ("UntagResource", Aliases, true, KeyIdOrSecretName, []),
    /// ListResourceTags.
    ListResourceTags = ("ListResourceTags", Aliases, false, KeyIdOrSecretName, []),
    /// GetParametersForImport.
    GetParametersForImport = ("GetParametersForImport", Import, true, KeyId, []),
    /// ImportKeyMaterial.
    ImportKeyMaterial = ("ImportKeyMaterial", Import, true, KeyId, ["EncryptedKeyMaterial"]),
    /// DeleteKeyMaterial.
    DeleteKeyMaterial = ("DeleteKeyMaterial", Import, true, KeyId, []),
    /// Encrypt.
    Encrypt = ("Encrypt", Crypto, false, KeyId, ["Plaintext"]),
    /// Decrypt.
    Decrypt = ("Decrypt", Crypto, false, Blob, ["Plaintext"]),
    /// ReEncrypt.
    ReEncrypt = ("ReEncrypt", Crypto, false, BlobAndDestination, []),
    /// GenerateDataKey.
    GenerateDataKey = ("GenerateDataKey", Crypto, false, KeyId, ["Plaintext"]),
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext = ("GenerateDataKeyWithoutPlaintext", Crypto, false, KeyId, []),
    /// GenerateDataKeyPair: a key pair for use outside the KMS, its private key
    /// encrypted under the CMK.
    GenerateDataKeyPair = ("GenerateDataKeyPair", Crypto, false, KeyId, ["PrivateKeyPlaintext"]),
    /// GenerateDataKeyPairWithoutPlaintext.
    GenerateDataKeyPairWithoutPlaintext = ("GenerateDataKeyPairWithoutPlaintext", Crypto, false, KeyId, []),
    /// ExportDataKey.
    ExportDataKey = ("ExportDataKey", Crypto, false, Blob, []),
    /// GenerateAndExportDataKey.
    GenerateAndExportDataKey = ("GenerateAndExportDataKey", Crypto, false, KeyId, []),
    /// GetRandomPassword.
    GetRandomPassword = ("GetRandomPassword", Crypto, false, Instance, ["RandomPassword"]),
    /// GenerateRandom: 1–1024 random bytes from the CSPRNG (the instance API's).
    GenerateRandom = ("GenerateRandom", Crypto, false, Instance, ["Random"]),
    /// Hash: SHA-256 / -384 / -512 of a message (the instance API's).
    Hash = ("Hash", Crypto, false, Instance, ["Message"]),
    /// GetPublicKey.
    GetPublicKey = ("GetPublicKey", Asymmetric, false, KeyId, []),
    /// AsymmetricSign (a digest, or a message hashed in the KMS).
    AsymmetricSign = ("AsymmetricSign", Asymmetric, false, KeyId, []),
    /// AsymmetricVerify.
    AsymmetricVerify = ("AsymmetricVerify", Asymmetric, false, KeyId, []),
    /// AsymmetricEncrypt.
    AsymmetricEncrypt = ("AsymmetricEncrypt", Asymmetric, false, KeyId, ["Plaintext"]),
    /// AsymmetricDecrypt.
    AsymmetricDecrypt = ("AsymmetricDecrypt", Asymmetric, false, KeyId, ["Plaintext"]),
    /// EncryptEnvelope (also the header and message key of a streamed or
    /// platform-framed message).
    EncryptEnvelope = ("EncryptEnvelope", Envelope, false, KeyIds, ["Plaintext"]),
    /// DecryptEnvelope (also the opening of a streamed or platform-framed message).
    DecryptEnvelope = ("DecryptEnvelope", Envelope, false, EnvelopeHeader, ["Plaintext"]),
    /// ReEncryptEnvelope: a message's data key wrapped again in a new header (under
    /// the recipients' current primary versions, or under `DestinationKeyIds`), its
    /// frames untouched. Authorised on the stanza's key it opens, as DecryptEnvelope,
    /// and on every key it wraps under.
    ReEncryptEnvelope = ("ReEncryptEnvelope", Envelope, false, EnvelopeHeader, []),
    /// CreateSecret.
    CreateSecret = ("CreateSecret", Secrets, true, SecretName, ["SecretData"]),
    /// GetSecretValue.
    GetSecretValue = ("GetSecretValue", Secrets, false, SecretName, ["SecretData"]),
    /// PutSecretValue.
    PutSecretValue = ("PutSecretValue", Secrets, true, SecretName, ["SecretData"]),
    /// UpdateSecretVersionStage.
    UpdateSecretVersionStage = ("UpdateSecretVersionStage", Secrets, true, SecretName, []),
    /// ListSecretVersionIds.
    ListSecretVersionIds = ("ListSecretVersionIds", Secrets, false, SecretName, []),
    /// DescribeSecret.
    DescribeSecret = ("DescribeSecret", Secrets, false, SecretName, []),
    /// ListSecrets.
    ListSecrets = ("ListSecrets", Secrets, false, Instance, []),
    /// UpdateSecret.
    UpdateSecret = ("UpdateSecret", Secrets, true, SecretName, []),
    /// DeleteSecret.
    DeleteSecret = ("DeleteSecret", Secrets, true, SecretName, []),
    /// RestoreSecret.
    RestoreSecret = ("RestoreSecret", Secrets, true, SecretName, []),
    /// RotateSecret (the rotator's value is sensitive; it is never answered).
    RotateSecret = ("RotateSecret", Secrets, true, SecretName, []),
    /// UpdateSecretRotationPolicy.
    UpdateSecretRotationPolicy = ("UpdateSecretRotationPolicy", Secrets, true, SecretName, []),
    /// DescribeService: what this instance's build and backend offer.
    DescribeService = ("DescribeService", Service, false, Instance, []),
    /// ExportImage: the whole store as one image, sealed under its own root or a new
    /// passphrase.
    ExportImage = ("ExportImage", Store, false, Instance, ["Passphrase"]),
    /// CreateBackup: the whole store sealed under a backup passphrase.
    CreateBackup = ("CreateBackup", Store, false, Instance, ["BackupPassphrase"]),
    /// ChangePassphrase: the store resealed under a new root.
    ChangePassphrase = ("ChangePassphrase", Store, true, Instance, ["NewPassphrase"]),
    /// RekeyStore: a new store key, the store rewritten under it.
    RekeyStore = ("RekeyStore", Store, true, Instance, []),
    /// CompactStore: the journal rewritten into one snapshot.
    CompactStore = ("CompactStore", Store, true, Instance, []),
    /// VerifyStore: every secret value opened through its CMK (what `store check`,
    /// which has no CMK, cannot do); the problems listed.
    VerifyStore = ("VerifyStore", Store, false, Instance, []),
    /// CreateUser.
    CreateUser = ("CreateUser", Ram, true, UserName, []),
    /// GetUser.
    GetUser = ("GetUser", Ram, false, UserName, []),
    /// ListUsers.
    ListUsers = ("ListUsers", Ram, false, Instance, []),
    /// DeleteUser.
    DeleteUser = ("DeleteUser", Ram, true, UserName, []),
    /// CreateRole.
    CreateRole = ("CreateRole", Ram, true, RoleName, []),
    /// GetRole.
    GetRole = ("GetRole", Ram, false, RoleName, []),
    /// ListRoles.
    ListRoles = ("ListRoles", Ram, false, Instance, []),
    /// DeleteRole.
    DeleteRole = ("DeleteRole", Ram, true, RoleName, []),
    /// CreateAccessKey (its AccessKeySecret is answered once, never stored in the clear).
    CreateAccessKey = ("CreateAccessKey", Ram, true, UserName, ["AccessKeySecret"]),
    /// UpdateAccessKey (Active / Inactive).
    UpdateAccessKey = ("UpdateAccessKey", Ram, true, UserName, []),
    /// DeleteAccessKey.
    DeleteAccessKey = ("DeleteAccessKey", Ram, true, UserName, []),
    /// CreateClientKey: registers a client key's public key for a user (the
    /// dedicated-instance API's credential; the store never sees the private key).
    CreateClientKey = ("CreateClientKey", Ram, true, UserName, []),
    /// ListAccessKeys.
    ListAccessKeys = ("ListAccessKeys", Ram, false, UserName, []),
    /// CreatePolicy.
    CreatePolicy = ("CreatePolicy", Ram, true, PolicyName, []),
    /// GetPolicy.
    GetPolicy = ("GetPolicy", Ram, false, PolicyName, []),
    /// ListPolicies.
    ListPolicies = ("ListPolicies", Ram, false, Instance, []),
    /// DeletePolicy.
    DeletePolicy = ("DeletePolicy", Ram, true, PolicyName, []),
    /// AttachPolicyToUser.
    AttachPolicyToUser = ("AttachPolicyToUser", Ram, true, PolicyName, []),
    /// DetachPolicyFromUser.
    DetachPolicyFromUser = ("DetachPolicyFromUser", Ram, true, PolicyName, []),
    /// AttachPolicyToRole.
    AttachPolicyToRole = ("AttachPolicyToRole", Ram, true, PolicyName, []),
    /// DetachPolicyFromRole.
    DetachPolicyFromRole = ("DetachPolicyFromRole", Ram, true, PolicyName, []),
    /// ListPoliciesForUser.
    ListPoliciesForUser = ("ListPoliciesForUser", Ram, false, UserName, []),
    /// ListPoliciesForRole.
    ListPoliciesForRole = ("ListPoliciesForRole", Ram, false, RoleName, []),
    /// AssumeRole: temporary credentials for a role session.
    AssumeRole = ("AssumeRole", Sts, false, RoleName, ["AccessKeySecret", "SecurityToken"]),
    /// SetKeyPolicy.
    SetKeyPolicy = ("SetKeyPolicy", Access, true, KeyId, []),
    /// GetKeyPolicy.
    GetKeyPolicy = ("GetKeyPolicy", Access, false, KeyId, []),
    /// SetSecretPolicy.
    SetSecretPolicy = ("SetSecretPolicy", Access, true, SecretName, []),
    /// GetSecretPolicy.
    GetSecretPolicy = ("GetSecretPolicy", Access, false, SecretName, []),
    /// SimulatePolicy (strongroom's, after AWS's SimulatePrincipalPolicy): what the
    /// store's policies decide for a principal, action, resource and request context,
    /// without carrying the action out.
    SimulatePolicy = ("SimulatePolicy", Access, false, Instance, []),
    /// SetAuditLevel (strongroom's): off, management or all, for this store.
    SetAuditLevel = ("SetAuditLevel", Audit, true, Instance, []),
    /// DescribeAuditConfig (strongroom's): the level and the audit key.
    DescribeAuditConfig = ("DescribeAuditConfig", Audit, false, Instance, []),
}

impl core::fmt::Display for Action {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Action {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.name() == s)
            .ok_or_else(|| crate::Error::UnknownAction(alloc::string::String::from(s)))
    }
}
