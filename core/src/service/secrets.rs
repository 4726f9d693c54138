//! Secrets Manager: Alibaba's KMS 2016-01-20 secret actions (CreateSecret,
//! GetSecretValue, PutSecretValue, stages, versions, deletion with a recovery window,
//! rotation) over the store's state.
//!
//! Each version's value is sealed with AES-256-GCM under a fresh 32-byte data key; the
//! data key is a ciphertext blob of the secret's CMK (EncryptionContext
//! `{"SecretName": …, "VersionId": …}`), so a disabled or deleted CMK makes the value
//! unreadable with the key's own error code, and the blob is re-wrapped under the new
//! primary version when the CMK rotates. Names, versions and stages are metadata: only
//! the store's sealing protects them (as Alibaba documents).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::backend::{BoxFuture, MaybeSendSync};
use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::kms::{Kms, page};
use crate::secret::SecretBytes;
use crate::service::aliases::{Tag, check_tags};
use crate::service::crypto::{DecryptRequest, GetRandomPasswordRequest};
use crate::service::keys::{CreateKeyRequest, KeyFilter};
use crate::state::{SecretRecord, SecretValue, SecretVersionRecord};
use crate::time::iso8601;

/// SecretData's limit, bytes (after base64 decoding for binary data).
pub const MAX_SECRET_DATA: usize = 30_720;
/// Versions a secret keeps: past this, the oldest version without a stage goes.
pub const MAX_SECRET_VERSIONS: usize = 10;
/// Secrets a store holds.
pub const MAX_SECRETS: usize = 100_000;
/// Stages one version carries.
pub const MAX_STAGES_PER_VERSION: usize = 10;
/// Tags one secret carries.
pub const MAX_TAGS_PER_SECRET: usize = 20;
/// The stage of the value GetSecretValue answers by default.
pub const ACS_CURRENT: &str = "ACSCurrent";
/// The stage the previous current value moves to.
pub const ACS_PREVIOUS: &str = "ACSPrevious";
/// The stage of a rotation's new value until it is tested and made current.
pub const ACS_PENDING: &str = "ACSPending";
/// The alias of the store-managed key that encrypts secrets created without an
/// EncryptionKeyId (made on first use).
pub const DEFAULT_SECRET_KEY_ALIAS: &str = "alias/strongroom/secrets-default";

named_enum!(
    /// How SecretData is given and returned (`SecretDataType`).
    SecretDataType {
        /// UTF-8 text (the default).
        Text = (0, "text"),
        /// Bytes, base64 on the wire.
        Binary = (1, "binary"),
    }
);

named_enum!(
    /// The kind of secret (`SecretType`). Only Generic secrets rotate here; the dynamic
    /// types keep their ExtendedConfig and refuse rotation (`Rejected.Unsupported`).
    SecretType {
        /// A generic secret (the default).
        Generic = (0, "Generic"),
        /// An ApsaraDB RDS account.
        Rds = (1, "Rds"),
        /// A Redis / Tair account.
        Redis = (2, "Redis"),
        /// A RAM user's AccessKey.
        RamCredentials = (3, "RAMCredentials"),
        /// An ECS instance's login.
        Ecs = (4, "ECS"),
    }
);

/// CreateSecret.
#[derive(Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CreateSecretRequest {
    /// SecretName: up to 192 letters, digits and `_ / + = . - @`; not `acs/…`.
    pub secret_name: String,
    /// VersionId of the first value (up to 64 characters).
    pub version_id: String,
    /// SecretData (up to 30,720 bytes). Sensitive.
    pub secret_data: SecretBytes,
    /// SecretDataType (default text).
    pub secret_data_type: Option<SecretDataType>,
    /// EncryptionKeyId: a symmetric ENCRYPT/DECRYPT key (KeyId, alias or ARN);
    /// the store-managed default key when `None`.
    pub encryption_key_id: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// SecretType (default Generic).
    pub secret_type: Option<SecretType>,
    /// ExtendedConfig, JSON text (required for the dynamic types).
    pub extended_config: Option<String>,
    /// EnableAutomaticRotation.
    pub enable_automatic_rotation: bool,
    /// RotationInterval (`7d`, `604800s`, `12h`: 6 hours to 365 days).
    pub rotation_interval: Option<String>,
}

impl core::fmt::Debug for CreateSecretRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CreateSecretRequest")
            .field("secret_name", &self.secret_name)
            .field("version_id", &self.version_id)
            .field("secret_data", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// CreateSecret's and RotateSecret's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SecretCreated {
    /// Arn.
    pub arn: String,
    /// SecretName.
    pub secret_name: String,
    /// VersionId.
    pub version_id: String,
    /// SecretType.
    pub secret_type: SecretType,
    /// AutomaticRotation: `Enabled` or `Disabled`.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub automatic_rotation: crate::vocab::StaticStr,
    /// RotationInterval (`604800s`).
    pub rotation_interval: Option<String>,
    /// NextRotationDate.
    pub next_rotation_date: Option<String>,
}

/// GetSecretValue (VersionStage ACSCurrent when neither is given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GetSecretValueRequest {
    /// SecretName (or its ARN).
    pub secret_name: String,
    /// VersionId.
    pub version_id: Option<String>,
    /// VersionStage.
    pub version_stage: Option<String>,
    /// FetchExtendedConfig.
    pub fetch_extended_config: bool,
}

/// GetSecretValue's answer. Its Debug never shows the value.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GetSecretValueResponse {
    /// SecretName.
    pub secret_name: String,
    /// SecretType.
    pub secret_type: SecretType,
    /// SecretData (text: UTF-8; binary: the bytes). Sensitive.
    pub secret_data: SecretBytes,
    /// SecretDataType.
    pub secret_data_type: SecretDataType,
    /// VersionId.
    pub version_id: String,
    /// VersionStages.
    pub version_stages: Vec<String>,
    /// CreateTime (of the version).
    pub create_time: String,
    /// ExtendedConfig (when FetchExtendedConfig).
    pub extended_config: Option<String>,
    /// AutomaticRotation.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub automatic_rotation: crate::vocab::StaticStr,
    /// RotationInterval.
    pub rotation_interval: Option<String>,
    /// NextRotationDate.
    pub next_rotation_date: Option<String>,
    /// LastRotationDate.
    pub last_rotation_date: Option<String>,
}

impl core::fmt::Debug for GetSecretValueResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GetSecretValueResponse")
            .field("secret_name", &self.secret_name)
            .field("version_id", &self.version_id)
            .field("version_stages", &self.version_stages)
            .field("secret_data", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// PutSecretValue.
#[derive(Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PutSecretValueRequest {
    /// SecretName.
    pub secret_name: String,
    /// VersionId (unique in the secret; the same VersionId with the same data succeeds
    /// again without a new version).
    pub version_id: String,
    /// SecretData. Sensitive.
    pub secret_data: SecretBytes,
    /// SecretDataType (default text).
    pub secret_data_type: Option<SecretDataType>,
    /// VersionStages (default `["ACSCurrent"]`).
    pub version_stages: Option<Vec<String>>,
}

impl core::fmt::Debug for PutSecretValueRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PutSecretValueRequest")
            .field("secret_name", &self.secret_name)
            .field("version_id", &self.version_id)
            .field("secret_data", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// PutSecretValue's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PutSecretValueResponse {
    /// SecretName.
    pub secret_name: String,
    /// VersionId.
    pub version_id: String,
    /// VersionStages.
    pub version_stages: Vec<String>,
}

/// UpdateSecretVersionStage: moves a stage to a version, removes it, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UpdateSecretVersionStageRequest {
    /// SecretName.
    pub secret_name: String,
    /// VersionStage.
    pub version_stage: String,
    /// RemoveFromVersion.
    pub remove_from_version: Option<String>,
    /// MoveToVersion.
    pub move_to_version: Option<String>,
}

/// The answer of actions that name only the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SecretNameResponse {
    /// SecretName.
    pub secret_name: String,
}

/// ListSecretVersionIds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListSecretVersionIdsRequest {
    /// SecretName.
    pub secret_name: String,
    /// IncludeDeprecated: also versions without a stage.
    pub include_deprecated: bool,
    /// PageNumber.
    pub page_number: Option<u32>,
    /// PageSize.
    pub page_size: Option<u32>,
}

/// One version in ListSecretVersionIds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SecretVersionEntry {
    /// VersionId.
    pub version_id: String,
    /// CreateTime.
    pub create_time: String,
    /// VersionStages.
    pub version_stages: Vec<String>,
}

/// ListSecretVersionIds' answer (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListSecretVersionIdsResponse {
    /// SecretName.
    pub secret_name: String,
    /// VersionIds.
    pub version_ids: Vec<SecretVersionEntry>,
    /// TotalCount.
    pub total_count: u32,
    /// PageNumber.
    pub page_number: u32,
    /// PageSize.
    pub page_size: u32,
}

/// DescribeSecret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DescribeSecretRequest {
    /// SecretName.
    pub secret_name: String,
    /// FetchTags.
    pub fetch_tags: bool,
}

/// A secret's metadata (DescribeSecret).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SecretMetadata {
    /// Arn.
    pub arn: String,
    /// SecretName.
    pub secret_name: String,
    /// SecretType.
    pub secret_type: SecretType,
    /// Description.
    pub description: String,
    /// EncryptionKeyId.
    pub encryption_key_id: String,
    /// CreateTime.
    pub create_time: String,
    /// UpdateTime.
    pub update_time: String,
    /// PlannedDeleteTime.
    pub planned_delete_time: Option<String>,
    /// AutomaticRotation.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub automatic_rotation: crate::vocab::StaticStr,
    /// RotationInterval.
    pub rotation_interval: Option<String>,
    /// LastRotationDate.
    pub last_rotation_date: Option<String>,
    /// NextRotationDate.
    pub next_rotation_date: Option<String>,
    /// ExtendedConfig.
    pub extended_config: Option<String>,
    /// Tags (when FetchTags).
    pub tags: Option<Vec<Tag>>,
}

/// ListSecrets (PageSize 1–100, default 10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListSecretsRequest {
    /// FetchTags.
    pub fetch_tags: bool,
    /// PageNumber.
    pub page_number: Option<u32>,
    /// PageSize.
    pub page_size: Option<u32>,
    /// Filters: SecretName and Description (substring), TagKey and TagValue (exact);
    /// values of one key ORed, keys ANDed.
    pub filters: Vec<KeyFilter>,
}

/// One secret in ListSecrets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SecretListEntry {
    /// SecretName.
    pub secret_name: String,
    /// SecretType.
    pub secret_type: SecretType,
    /// CreateTime.
    pub create_time: String,
    /// UpdateTime.
    pub update_time: String,
    /// PlannedDeleteTime.
    pub planned_delete_time: Option<String>,
    /// Tags (when FetchTags).
    pub tags: Option<Vec<Tag>>,
}

/// ListSecrets' answer (by name).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListSecretsResponse {
    /// SecretList.
    pub secrets: Vec<SecretListEntry>,
    /// TotalCount.
    pub total_count: u32,
    /// PageNumber.
    pub page_number: u32,
    /// PageSize.
    pub page_size: u32,
}

/// UpdateSecret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UpdateSecretRequest {
    /// SecretName.
    pub secret_name: String,
    /// Description.
    pub description: Option<String>,
    /// ExtendedConfig.CustomData: JSON object merged into ExtendedConfig's CustomData.
    pub extended_config_custom_data: Option<String>,
}

/// DeleteSecret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeleteSecretRequest {
    /// SecretName.
    pub secret_name: String,
    /// RecoveryWindowInDays: 7–30 (default 30).
    pub recovery_window_in_days: Option<u32>,
    /// ForceDeleteWithoutRecovery: delete now, with no recovery.
    pub force_delete_without_recovery: bool,
}

/// DeleteSecret's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeleteSecretResponse {
    /// SecretName.
    pub secret_name: String,
    /// PlannedDeleteTime (none when deleted now).
    pub planned_delete_time: Option<String>,
}

/// RestoreSecret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RestoreSecretRequest {
    /// SecretName.
    pub secret_name: String,
}

/// RotateSecret: runs a rotation now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RotateSecretRequest {
    /// SecretName.
    pub secret_name: String,
    /// VersionId of the new value (a random UUID when `None`).
    pub version_id: Option<String>,
}

/// UpdateSecretRotationPolicy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UpdateSecretRotationPolicyRequest {
    /// SecretName.
    pub secret_name: String,
    /// EnableAutomaticRotation.
    pub enable_automatic_rotation: bool,
    /// RotationInterval (required to enable).
    pub rotation_interval: Option<String>,
}

/// TagResource with a SecretName.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TagSecretRequest {
    /// SecretName.
    pub secret_name: String,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// UntagResource with a SecretName.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UntagSecretRequest {
    /// SecretName.
    pub secret_name: String,
    /// TagKeys.
    pub tag_keys: Vec<String>,
}

/// ListResourceTags with a SecretName.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListSecretTagsRequest {
    /// SecretName.
    pub secret_name: String,
}

/// What a rotator is told at each step.
#[derive(Debug)]
pub struct RotationStep<'a> {
    /// The secret.
    pub secret_name: &'a str,
    /// The VersionId the new value gets.
    pub version_id: &'a str,
    /// The secret's type.
    pub secret_type: SecretType,
    /// The secret's ExtendedConfig.
    pub extended_config: Option<&'a str>,
}

/// Makes and installs a secret's next value, in AWS Secrets Manager's steps: `create`
/// the new value (kept as the ACSPending version), `set` it where it is used (a
/// database's password, …), `test` that it works; strongroom then `finish`es by
/// moving ACSCurrent to it. A step that fails leaves ACSCurrent where it was; the
/// pending version stays and the next attempt (automatic rotation retries with
/// backoff) starts again from `set` with the same value.
pub trait SecretRotator: MaybeSendSync {
    /// The new value (`create`).
    fn create<'a>(&'a self, step: &'a RotationStep<'a>) -> BoxFuture<'a, Result<SecretBytes>>;
    /// Installs the new value where it is used (`set`); nothing by default.
    fn set<'a>(
        &'a self,
        step: &'a RotationStep<'a>,
        value: &'a SecretBytes,
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (step, value);
        Box::pin(async { Ok(()) })
    }
    /// Checks that the new value works (`test`); nothing by default.
    fn test<'a>(
        &'a self,
        step: &'a RotationStep<'a>,
        value: &'a SecretBytes,
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (step, value);
        Box::pin(async { Ok(()) })
    }
}

/// The built-in rotator: a new random password by GetRandomPassword's rules, read
/// from the secret's ExtendedConfig `{"PasswordLength": 32, "ExcludeCharacters": "…",
/// "ExcludePunctuation": false, …}` (GetRandomPassword's parameter names; defaults as
/// GetRandomPassword's). Used when no rotator is installed.
pub struct RandomPasswordRotator<'k> {
    kms: &'k Kms,
}

impl RandomPasswordRotator<'_> {
    fn request(extended_config: Option<&str>) -> Result<GetRandomPasswordRequest> {
        let mut req = GetRandomPasswordRequest::default();
        let Some(text) = extended_config else {
            return Ok(req);
        };
        let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(text)
        else {
            return Ok(req);
        };
        let flag = |k: &str| o.get(k).and_then(serde_json::Value::as_bool);
        if let Some(n) = o.get("PasswordLength").and_then(serde_json::Value::as_u64) {
            req.length = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
        req.exclude_characters = o
            .get("ExcludeCharacters")
            .and_then(serde_json::Value::as_str)
            .map(ToString::to_string);
        req.exclude_lowercase = flag("ExcludeLowercase").unwrap_or(false);
        req.exclude_uppercase = flag("ExcludeUppercase").unwrap_or(false);
        req.exclude_numbers = flag("ExcludeNumbers").unwrap_or(false);
        req.exclude_punctuation = flag("ExcludePunctuation").unwrap_or(false);
        req.require_each_included_type = flag("RequireEachIncludedType");
        Ok(req)
    }
}

impl SecretRotator for RandomPasswordRotator<'_> {
    fn create<'a>(&'a self, step: &'a RotationStep<'a>) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move {
            let req = Self::request(step.extended_config)?;
            self.kms.get_random_password_impl(&req)
        })
    }
}

/// Whether a secret's ExtendedConfig asks for the built-in rotator on the clock
/// (`"RotationMethod": "RandomPassword"`).
fn random_password_method(extended_config: Option<&str>) -> bool {
    extended_config
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|v| {
            v.get("RotationMethod")
                .and_then(serde_json::Value::as_str)
                .map(|m| m == "RandomPassword")
        })
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------
// Checks.

/// A SecretName parameter: the name, or the name inside a secret ARN
/// (`acs:kms:<region>:<account>:secret/<name>`).
pub(crate) fn secret_name_of(input: &str) -> &str {
    let t = input.trim();
    if t.starts_with("acs:kms:")
        && let Some(i) = t.find(":secret/")
    {
        return &t[i + ":secret/".len()..];
    }
    t
}

/// The ARN of a secret.
#[must_use]
pub fn secret_arn(name: &str) -> String {
    alloc::format!("acs:kms:strongroom:local:secret/{name}")
}

pub(crate) fn check_secret_name(name: &str, secret_type: SecretType) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_/+=.-@".contains(c);
    if name.is_empty() || name.len() > 192 || !name.chars().all(ok_char) {
        return Err(Error::param(
            "SecretName",
            "1-192 characters: letters, digits and _ / + = . - @",
        ));
    }
    if secret_type == SecretType::Generic && name.starts_with("acs/") {
        return Err(Error::param(
            "SecretName",
            "a Generic secret's name may not start with acs/",
        ));
    }
    Ok(())
}

pub(crate) fn check_version_id(name: &'static str, v: &str) -> Result<()> {
    if v.is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
        return Err(Error::param(name, "1-64 characters"));
    }
    Ok(())
}

fn check_stage(name: &'static str, s: &str) -> Result<()> {
    if s.is_empty() || s.chars().count() > 64 || s.chars().any(char::is_control) {
        return Err(Error::param(name, "a stage is 1-64 characters"));
    }
    Ok(())
}

/// SecretData and its type: the bytes to store (binary data comes base64-decoded by the
/// wire; text must be UTF-8).
pub(crate) fn check_secret_data(data: &[u8], ty: SecretDataType) -> Result<()> {
    if data.is_empty() {
        return Err(Error::param("SecretData", "required"));
    }
    if data.len() > MAX_SECRET_DATA {
        return Err(Error::param(
            "SecretData",
            alloc::format!("{} bytes; at most {MAX_SECRET_DATA}", data.len()),
        ));
    }
    if ty == SecretDataType::Text && core::str::from_utf8(data).is_err() {
        return Err(Error::param(
            "SecretData",
            "text SecretData must be UTF-8 (use SecretDataType binary)",
        ));
    }
    Ok(())
}

/// A secret's RotationInterval: `<n>d`, `<n>h`, `<n>m` or `<n>s`, 6 hours to 365 days.
pub(crate) fn parse_secret_rotation_interval(s: &str) -> Result<u64> {
    let bad = || {
        Error::param(
            "RotationInterval",
            "like \"7d\" or \"604800s\" (units d, h, m, s): 6 hours to 365 days",
        )
    };
    let t = s.trim();
    let (num, mul) = match t.char_indices().last() {
        Some((i, 'd')) => (&t[..i], 86_400),
        Some((i, 'h')) => (&t[..i], 3_600),
        Some((i, 'm')) => (&t[..i], 60),
        Some((i, 's')) => (&t[..i], 1),
        _ => return Err(bad()),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(mul).ok_or_else(bad)?;
    if !(6 * 3_600..=365 * 86_400).contains(&secs) {
        return Err(bad());
    }
    Ok(secs)
}

fn check_extended_config(c: &str) -> Result<()> {
    if c.len() > 4096 {
        return Err(Error::param("ExtendedConfig", "at most 4096 bytes"));
    }
    match serde_json::from_str::<serde_json::Value>(c) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(Error::param("ExtendedConfig", "must be a JSON object")),
    }
}

fn check_description(d: &str) -> Result<()> {
    if d.chars().count() > 8192 {
        return Err(Error::param("Description", "at most 8192 characters"));
    }
    Ok(())
}

/// The stateless checks of CreateSecret (made before anything is resolved).
pub(crate) fn validate_create(r: &CreateSecretRequest) -> Result<()> {
    let ty = r.secret_type.unwrap_or(SecretType::Generic);
    check_secret_name(&r.secret_name, ty)?;
    check_version_id("VersionId", &r.version_id)?;
    check_secret_data(
        r.secret_data.expose(),
        r.secret_data_type.unwrap_or(SecretDataType::Text),
    )?;
    if let Some(d) = &r.description {
        check_description(d)?;
    }
    if !r.tags.is_empty() {
        check_tags(&r.tags)?;
        if r.tags.len() > MAX_TAGS_PER_SECRET {
            return Err(Error::param("Tags", "a secret carries at most 20 tags"));
        }
    }
    match (&r.extended_config, ty) {
        (Some(c), _) => check_extended_config(c)?,
        (None, SecretType::Generic) => {}
        (None, _) => {
            return Err(Error::param(
                "ExtendedConfig",
                "required for Rds, Redis, RAMCredentials and ECS secrets",
            ));
        }
    }
    if r.enable_automatic_rotation {
        let i = r
            .rotation_interval
            .as_deref()
            .ok_or_else(|| Error::param("RotationInterval", "required with automatic rotation"))?;
        parse_secret_rotation_interval(i)?;
    } else if let Some(i) = &r.rotation_interval {
        parse_secret_rotation_interval(i)?;
    }
    Ok(())
}

pub(crate) fn validate_put(r: &PutSecretValueRequest) -> Result<()> {
    check_version_id("VersionId", &r.version_id)?;
    check_secret_data(
        r.secret_data.expose(),
        r.secret_data_type.unwrap_or(SecretDataType::Text),
    )?;
    if let Some(stages) = &r.version_stages {
        check_stages(stages)?;
    }
    Ok(())
}

fn check_stages(stages: &[String]) -> Result<()> {
    if stages.is_empty() || stages.len() > MAX_STAGES_PER_VERSION {
        return Err(Error::param("VersionStages", "1-10 stages"));
    }
    for s in stages {
        check_stage("VersionStages", s)?;
    }
    Ok(())
}

pub(crate) fn validate_delete(r: &DeleteSecretRequest) -> Result<()> {
    if let Some(d) = r.recovery_window_in_days {
        if r.force_delete_without_recovery {
            return Err(Error::param(
                "RecoveryWindowInDays",
                "not with ForceDeleteWithoutRecovery",
            ));
        }
        if !(7..=30).contains(&d) {
            return Err(Error::param("RecoveryWindowInDays", "7 to 30 days"));
        }
    }
    Ok(())
}

pub(crate) fn validate_stage_update(r: &UpdateSecretVersionStageRequest) -> Result<()> {
    check_stage("VersionStage", &r.version_stage)?;
    if r.remove_from_version.is_none() && r.move_to_version.is_none() {
        return Err(Error::param(
            "VersionStage",
            "give RemoveFromVersion, MoveToVersion or both",
        ));
    }
    if let Some(v) = &r.remove_from_version {
        check_version_id("RemoveFromVersion", v)?;
    }
    if let Some(v) = &r.move_to_version {
        check_version_id("MoveToVersion", v)?;
    }
    if r.version_stage == ACS_CURRENT && r.move_to_version.is_none() {
        return Err(Error::param(
            "VersionStage",
            "ACSCurrent cannot be removed from every version: move it with MoveToVersion",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Service code.

fn secret_context(name: &str, version_id: &str) -> Result<EncryptionContext> {
    let mut c = EncryptionContext::new();
    c.insert("SecretName", name)?;
    c.insert("VersionId", version_id)?;
    Ok(c)
}

fn value_aad(name: &str, version_id: &str, data_type: u8) -> Vec<u8> {
    let mut a = Vec::with_capacity(32 + name.len() + version_id.len());
    a.extend_from_slice(b"strongroom secret v1\0");
    a.extend_from_slice(name.as_bytes());
    a.push(0);
    a.extend_from_slice(version_id.as_bytes());
    a.push(0);
    a.push(data_type);
    a
}

fn interval_text(secs: Option<u64>) -> Option<String> {
    secs.map(|s| alloc::format!("{s}s"))
}

fn rotation_text(s: &SecretRecord) -> &'static str {
    if s.rotation_interval_secs.is_some() {
        "Enabled"
    } else {
        "Disabled"
    }
}

fn secret_type_of(s: &SecretRecord) -> SecretType {
    s.secret_type.parse().unwrap_or(SecretType::Generic)
}

fn tags_of(s: &SecretRecord) -> Vec<Tag> {
    s.tags
        .iter()
        .map(|(k, v)| Tag {
            tag_key: k.clone(),
            tag_value: v.clone(),
        })
        .collect()
}

/// Gives `version` the stages `stages`: each stage leaves any other version first;
/// ACSCurrent moving away makes the version it left ACSPrevious (which leaves its
/// holder). A version holds at most [`MAX_STAGES_PER_VERSION`] stages (the store
/// records the count in one byte): more is `Rejected.LimitExceeded`, and the caller's
/// mutation is undone.
fn attach_stages(rec: &mut SecretRecord, version_id: &str, stages: &[String]) -> Result<()> {
    for stage in stages {
        let had_current = stage == ACS_CURRENT
            && rec
                .staged(ACS_CURRENT)
                .is_some_and(|v| v.version_id != version_id);
        let old_current = had_current
            .then(|| rec.staged(ACS_CURRENT).map(|v| v.version_id.clone()))
            .flatten();
        for v in &mut rec.versions {
            if v.version_id != version_id {
                v.stages.retain(|s| s != stage);
            }
        }
        if let Some(old) = old_current {
            for v in &mut rec.versions {
                v.stages.retain(|s| s != ACS_PREVIOUS);
            }
            if let Some(v) = rec.versions.iter_mut().find(|v| v.version_id == old) {
                v.stages.push(String::from(ACS_PREVIOUS));
            }
        }
        if let Some(v) = rec.versions.iter_mut().find(|v| v.version_id == version_id)
            && !v.stages.iter().any(|s| s == stage)
        {
            v.stages.push(stage.clone());
        }
    }
    if rec
        .versions
        .iter()
        .any(|v| v.stages.len() > MAX_STAGES_PER_VERSION)
    {
        return Err(Error::LimitExceeded(alloc::format!(
            "a version of secret {} would hold more than {MAX_STAGES_PER_VERSION} stages",
            rec.name
        )));
    }
    Ok(())
}

/// Keeps at most [`MAX_SECRET_VERSIONS`]: the oldest versions without a stage go.
fn trim_versions(rec: &mut SecretRecord) -> Result<()> {
    while rec.versions.len() > MAX_SECRET_VERSIONS {
        let Some(i) = rec.versions.iter().position(|v| v.stages.is_empty()) else {
            return Err(Error::LimitExceeded(alloc::format!(
                "secret {} would hold more than {MAX_SECRET_VERSIONS} versions, all with stages; remove a stage first",
                rec.name
            )));
        };
        rec.versions.remove(i);
    }
    Ok(())
}

impl Kms {
    /// Installs (or, with `None`, removes) the rotator RotateSecret and automatic
    /// rotation use; without one, the built-in random-password rotator.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.set_secret_rotator(None); // the built-in random-password rotator
    /// # });
    /// ```
    pub fn set_secret_rotator(&self, rotator: Option<Arc<dyn SecretRotator>>) {
        *self.secret_rotator.lock() = rotator;
    }

    /// The CMK to encrypt a new secret under: the named one, or the store-managed
    /// default (made, with its alias, on first use).
    async fn secret_key(&self, requested: Option<&str>) -> Result<String> {
        if let Some(k) = requested {
            return self.resolve(k);
        }
        if let Ok(id) = self.resolve(DEFAULT_SECRET_KEY_ALIAS) {
            return Ok(id);
        }
        let meta = self
            .create_key_impl(CreateKeyRequest {
                description: Some(String::from(
                    "strongroom: encrypts secrets created without an EncryptionKeyId",
                )),
                ..CreateKeyRequest::default()
            })
            .await?;
        match self
            .create_alias_impl(DEFAULT_SECRET_KEY_ALIAS, &meta.key_id)
            .await
        {
            Ok(()) => Ok(meta.key_id),
            // Another call made it first: use that one (this key stays, unused).
            Err(Error::AliasExists(_)) => self.resolve(DEFAULT_SECRET_KEY_ALIAS),
            Err(e) => Err(e),
        }
    }

    /// Seals one version's value under a fresh data key wrapped by `key_id`.
    async fn seal_secret_value(
        &self,
        key_id: &str,
        name: &str,
        version_id: &str,
        data: &[u8],
        data_type: SecretDataType,
    ) -> Result<SecretVersionRecord> {
        let data_key = SecretBytes::new(self.env.random::<32>()?.to_vec());
        let wrapped = self
            .seal_blob(
                key_id,
                data_key.expose(),
                &secret_context(name, version_id)?,
            )
            .await?;
        let nonce = self.env.random::<12>()?;
        let ciphertext = crate::envelope::frames::seal_256(
            data_key.expose(),
            nonce,
            &value_aad(name, version_id, data_type.code()),
            data,
        )?;
        Ok(SecretVersionRecord {
            version_id: String::from(version_id),
            creation_ms: self.env.now(),
            stages: Vec::new(),
            data_type: data_type.code(),
            wrapped_key: wrapped.ciphertext_blob,
            nonce,
            value: SecretValue::Inline(Arc::from(ciphertext)),
        })
    }

    /// Opens one version's value (the CMK's errors surface as they are: a disabled
    /// key is `Forbidden.KeyDisabled`, a deleted one `Forbidden.KeyNotFound`).
    /// VerifyStore's service code: every secret version's value opened as
    /// GetSecretValue opens it (the plaintext wiped at once), then every key version
    /// probed in its backend (`Kms::probe_key_versions`); the failures listed.
    pub(crate) async fn verify_store_impl(&self) -> Result<crate::api::VerifyStoreResponse> {
        self.local_only("a connected Kms has no store of its own to verify")?;
        let (keys, versions) = {
            let st = self.state.lock();
            let versions: Vec<(String, SecretVersionRecord)> = st
                .secrets
                .values()
                .flat_map(|r| r.versions.iter().map(|v| (r.name.clone(), v.clone())))
                .collect();
            (st.keys.len() as u64, versions)
        };
        let mut out = crate::api::VerifyStoreResponse {
            keys,
            secret_versions: versions.len() as u64,
            ..Default::default()
        };
        for (name, v) in versions {
            match self.open_secret_value(&name, &v).await {
                Ok(_value) => out.values_opened += 1,
                // Deleted (or trimmed) since the pass began: nothing to verify.
                Err(Error::ResourceNotFound(_)) => {
                    out.secret_versions = out.secret_versions.saturating_sub(1);
                }
                Err(e) => out.problems.push(crate::api::StoreProblem {
                    secret_name: name,
                    version_id: v.version_id,
                    code: e.code(),
                    message: alloc::format!("{e}"),
                }),
            }
        }
        (
            out.key_versions,
            out.key_versions_verified,
            out.key_problems,
        ) = self.probe_key_versions().await;
        Ok(out)
    }

    async fn open_secret_value(&self, name: &str, v: &SecretVersionRecord) -> Result<SecretBytes> {
        let dk = self
            .decrypt_impl(DecryptRequest {
                ciphertext_blob: v.wrapped_key.clone(),
                encryption_context: secret_context(name, &v.version_id)?,
            })
            .await?;
        let aad = value_aad(name, &v.version_id, v.data_type);
        let mut span = match &v.value {
            SecretValue::Inline(b) => {
                return crate::envelope::frames::open_256(dk.plaintext.expose(), v.nonce, &aad, b)?
                    .ok_or(Error::InvalidCiphertext);
            }
            SecretValue::Stored(s) => *s,
        };
        // A span that does not read or open is looked up again: a values-file
        // compaction may have moved the value since the caller read the record (then
        // it is read where it is now, once), or a change that let go of this version
        // may have erased it (then the version is gone, as if the change came first);
        // otherwise the values file is damaged.
        let mut moved_once = false;
        loop {
            let read = self
                .storage
                .read_value(span.generation, span.offset, span.len)
                .await;
            let opened = match &read {
                Ok(sealed) => {
                    crate::envelope::frames::open_256(dk.plaintext.expose(), v.nonce, &aad, sealed)?
                }
                Err(_) => None,
            };
            if let Some(value) = opened {
                return Ok(value);
            }
            let now = self
                .state
                .lock()
                .secrets
                .get(name)
                .and_then(|r| r.versions.iter().find(|x| x.version_id == v.version_id))
                .filter(|x| x.wrapped_key == v.wrapped_key)
                .map(|x| x.value.span());
            match now {
                Some(Some(s)) if s != span && !moved_once => {
                    moved_once = true;
                    span = s;
                }
                Some(Some(s)) if s == span => {
                    return Err(read.err().unwrap_or(Error::StoreCorrupted(
                        "a secret value in the values file does not authenticate",
                    )));
                }
                Some(_) => {
                    return Err(Error::StoreCorrupted(
                        "a secret value in the values file does not authenticate",
                    ));
                }
                None => {
                    return Err(Error::ResourceNotFound(alloc::format!(
                        "secret {name} version {} (deleted meanwhile)",
                        v.version_id
                    )));
                }
            }
        }
    }

    /// The secret record (a copy), or `Forbidden.ResourceNotFound`.
    fn secret(&self, name: &str) -> Result<SecretRecord> {
        self.state
            .lock()
            .secrets
            .get(name)
            .cloned()
            .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))
    }

    fn secret_usable(rec: &SecretRecord) -> Result<()> {
        if rec.planned_delete_ms.is_some() {
            return Err(Error::ResourceInDeleteWindow(rec.name.clone()));
        }
        Ok(())
    }

    pub(crate) async fn create_secret_impl(&self, r: CreateSecretRequest) -> Result<SecretCreated> {
        validate_create(&r)?;
        let ty = r.secret_type.unwrap_or(SecretType::Generic);
        let data_type = r.secret_data_type.unwrap_or(SecretDataType::Text);
        if self.state.lock().secrets.contains_key(&r.secret_name) {
            return Err(Error::ResourceExists(alloc::format!(
                "secret {}",
                r.secret_name
            )));
        }
        let key_id = self.secret_key(r.encryption_key_id.as_deref()).await?;
        let mut version = self
            .seal_secret_value(
                &key_id,
                &r.secret_name,
                &r.version_id,
                r.secret_data.expose(),
                data_type,
            )
            .await?;
        version.stages.push(String::from(ACS_CURRENT));
        let now = self.env.now();
        let interval = if r.enable_automatic_rotation {
            r.rotation_interval
                .as_deref()
                .map(parse_secret_rotation_interval)
                .transpose()?
        } else {
            None
        };
        let rec = SecretRecord {
            name: r.secret_name.clone(),
            secret_type: String::from(ty.as_str()),
            description: r.description.unwrap_or_default(),
            encryption_key_id: key_id,
            creation_ms: now,
            update_ms: now,
            planned_delete_ms: None,
            tags: r
                .tags
                .iter()
                .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
                .collect(),
            extended_config: r.extended_config,
            rotation_interval_secs: interval,
            last_rotation_ms: None,
            rotation_retry_ms: None,
            rotation_failures: 0,
            versions: alloc::vec![version],
        };
        let out = SecretCreated {
            arn: secret_arn(&rec.name),
            secret_name: rec.name.clone(),
            version_id: r.version_id.clone(),
            secret_type: ty,
            automatic_rotation: rotation_text(&rec),
            rotation_interval: interval_text(rec.rotation_interval_secs),
            next_rotation_date: rec.next_rotation_ms().map(iso8601),
        };
        self.mutate(|tx| {
            if tx.state().secrets.contains_key(&rec.name) {
                return Err(Error::ResourceExists(alloc::format!("secret {}", rec.name)));
            }
            if tx.state().secrets.len() >= MAX_SECRETS {
                return Err(Error::LimitExceeded(alloc::format!(
                    "a store holds at most {MAX_SECRETS} secrets"
                )));
            }
            tx.insert_secret(rec);
            Ok(())
        })
        .await?;
        // O(keys + secrets): only when the new secret has a schedule.
        if out.automatic_rotation == "Enabled" {
            self.refresh_schedules();
        }
        Ok(out)
    }

    pub(crate) async fn get_secret_value_impl(
        &self,
        r: GetSecretValueRequest,
    ) -> Result<GetSecretValueResponse> {
        let name = secret_name_of(&r.secret_name);
        let (rec_meta, version) = {
            let st = self.state.lock();
            let rec = st
                .secrets
                .get(name)
                .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
            Self::secret_usable(rec)?;
            let v = match (&r.version_id, &r.version_stage) {
                (Some(id), stage) => {
                    let v = rec
                        .versions
                        .iter()
                        .find(|v| &v.version_id == id)
                        .ok_or_else(|| {
                            Error::ResourceNotFound(alloc::format!(
                                "secret {name} has no version {id}"
                            ))
                        })?;
                    if let Some(s) = stage
                        && !v.stages.iter().any(|x| x == s)
                    {
                        return Err(Error::ResourceNotFound(alloc::format!(
                            "version {id} of secret {name} does not have stage {s}"
                        )));
                    }
                    v
                }
                (None, stage) => {
                    let s = stage.as_deref().unwrap_or(ACS_CURRENT);
                    rec.staged(s).ok_or_else(|| {
                        Error::ResourceNotFound(alloc::format!(
                            "no version of secret {name} has stage {s}"
                        ))
                    })?
                }
            };
            let meta = (
                String::from(rec.name.as_str()),
                secret_type_of(rec),
                r.fetch_extended_config
                    .then(|| rec.extended_config.clone())
                    .flatten(),
                rotation_text(rec),
                interval_text(rec.rotation_interval_secs),
                rec.next_rotation_ms().map(iso8601),
                rec.last_rotation_ms.map(iso8601),
            );
            (meta, v.clone())
        };
        let value = self.open_secret_value(&rec_meta.0, &version).await?;
        let (secret_name, secret_type, extended_config, ar, ri, next, last) = rec_meta;
        Ok(GetSecretValueResponse {
            secret_name,
            secret_type,
            secret_data: value,
            secret_data_type: SecretDataType::from_code(version.data_type)
                .unwrap_or(SecretDataType::Text),
            version_id: version.version_id,
            version_stages: version.stages,
            create_time: iso8601(version.creation_ms),
            extended_config,
            automatic_rotation: ar,
            rotation_interval: ri,
            next_rotation_date: next,
            last_rotation_date: last,
        })
    }

    pub(crate) async fn put_secret_value_impl(
        &self,
        r: PutSecretValueRequest,
    ) -> Result<PutSecretValueResponse> {
        validate_put(&r)?;
        let name = String::from(secret_name_of(&r.secret_name));
        let data_type = r.secret_data_type.unwrap_or(SecretDataType::Text);
        let stages = r
            .version_stages
            .clone()
            .unwrap_or_else(|| alloc::vec![String::from(ACS_CURRENT)]);
        let rec = self.secret(&name)?;
        Self::secret_usable(&rec)?;
        // The same VersionId again: success without a new version if the data is the
        // same, `Rejected.ResourceExist` if it is not.
        if let Some(v) = rec.versions.iter().find(|v| v.version_id == r.version_id) {
            let old = self.open_secret_value(&name, v).await?;
            if old == r.secret_data && v.data_type == data_type.code() {
                return Ok(PutSecretValueResponse {
                    secret_name: name,
                    version_id: r.version_id,
                    version_stages: v.stages.clone(),
                });
            }
            return Err(Error::ResourceExists(alloc::format!(
                "secret {name} already has version {} with other data",
                r.version_id
            )));
        }
        let version = self
            .seal_secret_value(
                &rec.encryption_key_id,
                &name,
                &r.version_id,
                r.secret_data.expose(),
                data_type,
            )
            .await?;
        let now = self.env.now();
        let vid = r.version_id.clone();
        let out_stages = self
            .mutate(|tx| {
                let s = tx
                    .secret_mut(&name)
                    .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
                Self::secret_usable(s)?;
                if s.versions.iter().any(|v| v.version_id == vid) {
                    return Err(Error::ResourceExists(alloc::format!(
                        "secret {name} already has version {vid}"
                    )));
                }
                s.versions.push(version);
                attach_stages(s, &vid, &stages)?;
                trim_versions(s)?;
                s.update_ms = now;
                Ok(s.versions
                    .iter()
                    .find(|v| v.version_id == vid)
                    .map(|v| v.stages.clone())
                    .unwrap_or_default())
            })
            .await?;
        Ok(PutSecretValueResponse {
            secret_name: name,
            version_id: r.version_id,
            version_stages: out_stages,
        })
    }

    pub(crate) async fn update_secret_version_stage_impl(
        &self,
        r: UpdateSecretVersionStageRequest,
    ) -> Result<SecretNameResponse> {
        validate_stage_update(&r)?;
        let name = String::from(secret_name_of(&r.secret_name));
        let now = self.env.now();
        self.mutate(|tx| {
            let s = tx
                .secret_mut(&name)
                .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
            Self::secret_usable(s)?;
            let has = |s: &SecretRecord, id: &str| s.versions.iter().any(|v| v.version_id == id);
            if let Some(from) = &r.remove_from_version {
                let v = s
                    .versions
                    .iter_mut()
                    .find(|v| &v.version_id == from)
                    .ok_or_else(|| {
                        Error::ResourceNotFound(alloc::format!(
                            "secret {name} has no version {from}"
                        ))
                    })?;
                if !v.stages.contains(&r.version_stage) {
                    return Err(Error::param(
                        "RemoveFromVersion",
                        alloc::format!("that version does not have stage {}", r.version_stage),
                    ));
                }
                v.stages.retain(|x| *x != r.version_stage);
            } else if r.move_to_version.is_some() {
                // Moving a stage some version holds needs RemoveFromVersion naming it.
                if let Some(holder) = s.staged(&r.version_stage)
                    && Some(&holder.version_id) != r.move_to_version.as_ref()
                {
                    return Err(Error::param(
                        "RemoveFromVersion",
                        alloc::format!(
                            "stage {} is attached to version {}: name it in RemoveFromVersion",
                            r.version_stage,
                            holder.version_id
                        ),
                    ));
                }
            }
            if let Some(to) = &r.move_to_version {
                if !has(s, to) {
                    return Err(Error::ResourceNotFound(alloc::format!(
                        "secret {name} has no version {to}"
                    )));
                }
                // Put the stage back where it was for attach_stages' ACSPrevious rule.
                if let Some(from) = &r.remove_from_version
                    && r.version_stage == ACS_CURRENT
                    && let Some(v) = s.versions.iter_mut().find(|v| &v.version_id == from)
                {
                    v.stages.push(String::from(ACS_CURRENT));
                }
                attach_stages(s, to, core::slice::from_ref(&r.version_stage))?;
            }
            if s.staged(ACS_CURRENT).is_none() {
                return Err(Error::param(
                    "VersionStage",
                    "ACSCurrent must stay attached to a version",
                ));
            }
            s.update_ms = now;
            Ok(())
        })
        .await?;
        Ok(SecretNameResponse { secret_name: name })
    }

    pub(crate) async fn list_secret_version_ids_impl(
        &self,
        r: ListSecretVersionIdsRequest,
    ) -> Result<ListSecretVersionIdsResponse> {
        let name = secret_name_of(&r.secret_name);
        let st = self.state.lock();
        let rec = st
            .secrets
            .get(name)
            .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
        let all: Vec<&SecretVersionRecord> = rec
            .versions
            .iter()
            .rev()
            .filter(|v| r.include_deprecated || !v.stages.is_empty())
            .collect();
        let (items, page_number, page_size) = page(&all, r.page_number, r.page_size)?;
        Ok(ListSecretVersionIdsResponse {
            secret_name: rec.name.clone(),
            version_ids: items
                .iter()
                .map(|v| SecretVersionEntry {
                    version_id: v.version_id.clone(),
                    create_time: iso8601(v.creation_ms),
                    version_stages: v.stages.clone(),
                })
                .collect(),
            total_count: u32::try_from(all.len()).unwrap_or(u32::MAX),
            page_number,
            page_size,
        })
    }

    fn secret_metadata(rec: &SecretRecord, fetch_tags: bool) -> SecretMetadata {
        SecretMetadata {
            arn: secret_arn(&rec.name),
            secret_name: rec.name.clone(),
            secret_type: secret_type_of(rec),
            description: rec.description.clone(),
            encryption_key_id: rec.encryption_key_id.clone(),
            create_time: iso8601(rec.creation_ms),
            update_time: iso8601(rec.update_ms),
            planned_delete_time: rec.planned_delete_ms.map(iso8601),
            automatic_rotation: rotation_text(rec),
            rotation_interval: interval_text(rec.rotation_interval_secs),
            last_rotation_date: rec.last_rotation_ms.map(iso8601),
            next_rotation_date: rec.next_rotation_ms().map(iso8601),
            extended_config: rec.extended_config.clone(),
            tags: fetch_tags.then(|| tags_of(rec)),
        }
    }

    pub(crate) fn describe_secret_impl(&self, r: &DescribeSecretRequest) -> Result<SecretMetadata> {
        let name = secret_name_of(&r.secret_name);
        let st = self.state.lock();
        let rec = st
            .secrets
            .get(name)
            .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
        Ok(Self::secret_metadata(rec, r.fetch_tags))
    }

    pub(crate) fn list_secrets_impl(&self, r: &ListSecretsRequest) -> Result<ListSecretsResponse> {
        const KEYS: &[&str] = &["SecretName", "Description", "TagKey", "TagValue"];
        if r.filters.len() > 10 {
            return Err(Error::param("Filters", "at most 10 key-values pairs"));
        }
        let mut merged: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for f in &r.filters {
            let key = KEYS.iter().copied().find(|k| *k == f.key).ok_or_else(|| {
                Error::param(
                    "Filters",
                    alloc::format!("Key {:?} is not one of {}", f.key, KEYS.join(", ")),
                )
            })?;
            if f.values.len() > 10 {
                return Err(Error::param(
                    "Filters",
                    alloc::format!("{key}: at most 10 Values"),
                ));
            }
            if !f.values.is_empty() {
                merged
                    .entry(key)
                    .or_default()
                    .extend(f.values.iter().map(String::as_str));
            }
        }
        let matches = |s: &SecretRecord| {
            merged.iter().all(|(k, vals)| match *k {
                "SecretName" => vals.iter().any(|v| s.name.contains(v)),
                "Description" => vals.iter().any(|v| s.description.contains(v)),
                "TagKey" => vals.iter().any(|v| s.tags.contains_key(*v)),
                _ => vals.iter().any(|v| s.tags.values().any(|t| t == v)),
            })
        };
        let st = self.state.lock();
        let all: Vec<&SecretRecord> = st.secrets.values().filter(|s| matches(s)).collect();
        let (items, page_number, page_size) = page(&all, r.page_number, r.page_size)?;
        Ok(ListSecretsResponse {
            secrets: items
                .iter()
                .map(|s| SecretListEntry {
                    secret_name: s.name.clone(),
                    secret_type: secret_type_of(s),
                    create_time: iso8601(s.creation_ms),
                    update_time: iso8601(s.update_ms),
                    planned_delete_time: s.planned_delete_ms.map(iso8601),
                    tags: r.fetch_tags.then(|| tags_of(s)),
                })
                .collect(),
            total_count: u32::try_from(all.len()).unwrap_or(u32::MAX),
            page_number,
            page_size,
        })
    }

    pub(crate) async fn update_secret_impl(
        &self,
        r: UpdateSecretRequest,
    ) -> Result<SecretNameResponse> {
        if let Some(d) = &r.description {
            check_description(d)?;
        }
        let custom = match &r.extended_config_custom_data {
            None => None,
            Some(c) => match serde_json::from_str::<serde_json::Value>(c) {
                Ok(v @ serde_json::Value::Object(_)) => Some(v),
                _ => {
                    return Err(Error::param(
                        "ExtendedConfig",
                        "ExtendedConfig.CustomData must be a JSON object",
                    ));
                }
            },
        };
        if r.description.is_none() && custom.is_none() {
            return Err(Error::param(
                "Description",
                "give Description or ExtendedConfig.CustomData",
            ));
        }
        let name = String::from(secret_name_of(&r.secret_name));
        let now = self.env.now();
        self.mutate(|tx| {
            let s = tx
                .secret_mut(&name)
                .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
            Self::secret_usable(s)?;
            if let Some(d) = &r.description {
                s.description.clone_from(d);
            }
            if let Some(c) = custom {
                let mut cfg = match s.extended_config.as_deref().map(serde_json::from_str) {
                    Some(Ok(serde_json::Value::Object(o))) => o,
                    _ => serde_json::Map::new(),
                };
                cfg.insert(String::from("CustomData"), c);
                let text = serde_json::Value::Object(cfg).to_string();
                check_extended_config(&text)?;
                s.extended_config = Some(text);
            }
            s.update_ms = now;
            Ok(())
        })
        .await?;
        Ok(SecretNameResponse { secret_name: name })
    }

    pub(crate) async fn delete_secret_impl(
        &self,
        r: DeleteSecretRequest,
    ) -> Result<DeleteSecretResponse> {
        validate_delete(&r)?;
        let name = String::from(secret_name_of(&r.secret_name));
        let now = self.env.now();
        let planned = if r.force_delete_without_recovery {
            None
        } else {
            Some(now + u64::from(r.recovery_window_in_days.unwrap_or(30)) * 86_400_000)
        };
        // Whether a removed value sits inside the store's records (not in a values
        // file, where removal zeroes it): then the store is rewritten without it.
        let mut inline = false;
        let planned_out = self
            .mutate(|tx| {
                if r.force_delete_without_recovery {
                    let gone = tx
                        .remove_secret(&name)
                        .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
                    inline = gone.has_inline();
                    return Ok(None);
                }
                let s = tx
                    .secret_mut(&name)
                    .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
                // Deleting again keeps the first plan, as Alibaba does.
                if s.planned_delete_ms.is_none() {
                    s.planned_delete_ms = planned;
                    s.update_ms = now;
                }
                Ok(s.planned_delete_ms)
            })
            .await?;
        self.refresh_schedules();
        if inline {
            self.purge_destroyed().await;
        }
        Ok(DeleteSecretResponse {
            secret_name: name,
            planned_delete_time: planned_out.map(iso8601),
        })
    }

    pub(crate) async fn restore_secret_impl(
        &self,
        r: RestoreSecretRequest,
    ) -> Result<SecretNameResponse> {
        let name = String::from(secret_name_of(&r.secret_name));
        let now = self.env.now();
        self.mutate(|tx| {
            let s = tx
                .secret_mut(&name)
                .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
            if s.planned_delete_ms.is_none() {
                return Err(Error::param(
                    "SecretName",
                    alloc::format!("secret {name} is not scheduled for deletion"),
                ));
            }
            s.planned_delete_ms = None;
            s.update_ms = now;
            Ok(())
        })
        .await?;
        self.refresh_schedules();
        Ok(SecretNameResponse { secret_name: name })
    }

    pub(crate) async fn update_secret_rotation_policy_impl(
        &self,
        r: UpdateSecretRotationPolicyRequest,
    ) -> Result<SecretNameResponse> {
        let name = String::from(secret_name_of(&r.secret_name));
        let interval = match (&r.rotation_interval, r.enable_automatic_rotation) {
            (Some(i), _) => Some(parse_secret_rotation_interval(i)?),
            (None, true) => {
                return Err(Error::param(
                    "RotationInterval",
                    "required with automatic rotation",
                ));
            }
            (None, false) => None,
        };
        let now = self.env.now();
        self.mutate(|tx| {
            let s = tx
                .secret_mut(&name)
                .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
            Self::secret_usable(s)?;
            if r.enable_automatic_rotation && secret_type_of(s) != SecretType::Generic {
                return Err(Error::Unsupported(
                    "rotation of Rds, Redis, RAMCredentials and ECS secrets (strongroom rotates Generic secrets only)",
                ));
            }
            s.rotation_interval_secs = if r.enable_automatic_rotation {
                interval
            } else {
                None
            };
            s.rotation_retry_ms = None;
            s.rotation_failures = 0;
            s.update_ms = now;
            Ok(())
        })
        .await?;
        self.refresh_schedules();
        Ok(SecretNameResponse { secret_name: name })
    }

    pub(crate) async fn tag_secret_impl(&self, r: TagSecretRequest) -> Result<()> {
        check_tags(&r.tags)?;
        let name = String::from(secret_name_of(&r.secret_name));
        self.mutate(|tx| {
            let s = tx
                .secret_mut(&name)
                .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
            for t in &r.tags {
                s.tags.insert(t.tag_key.clone(), t.tag_value.clone());
            }
            if s.tags.len() > MAX_TAGS_PER_SECRET {
                return Err(Error::param("Tags", "a secret carries at most 20 tags"));
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn untag_secret_impl(&self, r: UntagSecretRequest) -> Result<()> {
        let name = String::from(secret_name_of(&r.secret_name));
        self.mutate(|tx| {
            let s = tx
                .secret_mut(&name)
                .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
            for k in &r.tag_keys {
                s.tags.remove(k);
            }
            Ok(())
        })
        .await
    }

    pub(crate) fn list_secret_tags_impl(&self, r: &ListSecretTagsRequest) -> Result<Vec<Tag>> {
        let name = secret_name_of(&r.secret_name);
        let st = self.state.lock();
        let rec = st
            .secrets
            .get(name)
            .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
        Ok(tags_of(rec))
    }

    /// RotateSecret: runs the rotator's steps now (see [`SecretRotator`]).
    pub(crate) async fn rotate_secret_impl(&self, r: RotateSecretRequest) -> Result<SecretCreated> {
        let name = String::from(secret_name_of(&r.secret_name));
        if let Some(v) = &r.version_id {
            check_version_id("VersionId", v)?;
        }
        let out = self.run_rotation(&name, r.version_id, false).await;
        if out.is_err() {
            // Recorded for DescribeSecret and automatic retries; the caller gets the
            // rotation's own error.
            let _ = self.note_rotation_failure(&name).await;
        }
        out
    }

    /// One rotation. `automatic` (from the clock): without an installed rotator, only
    /// a secret whose ExtendedConfig says `"RotationMethod": "RandomPassword"` gets
    /// the built-in rotator; any other fails the attempt (retried with backoff), so a
    /// process that happens to find a rotation due never replaces a value that some
    /// other system must learn of with a random one. RotateSecret (asked for) always
    /// may use the built-in rotator.
    async fn run_rotation(
        &self,
        name: &str,
        version_id: Option<String>,
        automatic: bool,
    ) -> Result<SecretCreated> {
        let rec = self.secret(name)?;
        Self::secret_usable(&rec)?;
        let ty = secret_type_of(&rec);
        if ty != SecretType::Generic {
            return Err(Error::Unsupported(
                "rotation of Rds, Redis, RAMCredentials and ECS secrets (strongroom rotates Generic secrets only)",
            ));
        }
        let rotator = self.secret_rotator.lock().clone();
        if automatic && rotator.is_none() && !random_password_method(rec.extended_config.as_deref())
        {
            return Err(Error::RotationFailed(String::from(
                "no rotator is installed in this process, and the secret's ExtendedConfig does not ask for RotationMethod RandomPassword",
            )));
        }
        let builtin = RandomPasswordRotator { kms: self };
        let rot: &dyn SecretRotator = match &rotator {
            Some(r) => r.as_ref(),
            None => &builtin,
        };
        // A pending version left by a failed attempt is retried as it is (`set` and
        // `test` again), unless the caller names another VersionId.
        let pending = rec.staged(ACS_PENDING).cloned();
        let (vid, value) = match pending {
            Some(p) if version_id.as_ref().is_none_or(|v| *v == p.version_id) => {
                let value = self.open_secret_value(name, &p).await?;
                (p.version_id, value)
            }
            _ => {
                let vid = match version_id {
                    Some(v) => v,
                    None => crate::ids::uuid_v4(&self.env)?,
                };
                if rec.versions.iter().any(|v| v.version_id == vid) {
                    return Err(Error::ResourceExists(alloc::format!(
                        "secret {name} already has version {vid}"
                    )));
                }
                let step = RotationStep {
                    secret_name: name,
                    version_id: &vid,
                    secret_type: ty,
                    extended_config: rec.extended_config.as_deref(),
                };
                let value = rot.create(&step).await?;
                let data_type = rec
                    .staged(ACS_CURRENT)
                    .and_then(|v| SecretDataType::from_code(v.data_type))
                    .unwrap_or(SecretDataType::Text);
                check_secret_data(value.expose(), data_type)?;
                let version = self
                    .seal_secret_value(
                        &rec.encryption_key_id,
                        name,
                        &vid,
                        value.expose(),
                        data_type,
                    )
                    .await?;
                let v2 = vid.clone();
                self.mutate(|tx| {
                    let s = tx
                        .secret_mut(name)
                        .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
                    Self::secret_usable(s)?;
                    s.versions.push(version);
                    attach_stages(s, &v2, &[String::from(ACS_PENDING)])?;
                    trim_versions(s)
                })
                .await?;
                (vid, value)
            }
        };
        let step = RotationStep {
            secret_name: name,
            version_id: &vid,
            secret_type: ty,
            extended_config: rec.extended_config.as_deref(),
        };
        rot.set(&step, &value).await?;
        rot.test(&step, &value).await?;
        drop(value);
        // finish: ACSCurrent moves to the new version (the old one becomes
        // ACSPrevious) and ACSPending leaves it.
        let now = self.env.now();
        let out = self
            .mutate(|tx| {
                let s = tx
                    .secret_mut(name)
                    .ok_or_else(|| Error::ResourceNotFound(alloc::format!("secret {name}")))?;
                Self::secret_usable(s)?;
                if !s.versions.iter().any(|v| v.version_id == vid) {
                    return Err(Error::ResourceNotFound(alloc::format!(
                        "the pending version {vid} of secret {name} went away during rotation"
                    )));
                }
                attach_stages(s, &vid, &[String::from(ACS_CURRENT)])?;
                if let Some(v) = s.versions.iter_mut().find(|v| v.version_id == vid) {
                    v.stages.retain(|x| x != ACS_PENDING);
                }
                s.last_rotation_ms = Some(now);
                s.rotation_retry_ms = None;
                s.rotation_failures = 0;
                s.update_ms = now;
                trim_versions(s)?;
                Ok(SecretCreated {
                    arn: secret_arn(&s.name),
                    secret_name: s.name.clone(),
                    version_id: vid.clone(),
                    secret_type: ty,
                    automatic_rotation: rotation_text(s),
                    rotation_interval: interval_text(s.rotation_interval_secs),
                    next_rotation_date: s.next_rotation_ms().map(iso8601),
                })
            })
            .await?;
        self.refresh_schedules();
        Ok(out)
    }

    /// Counts a failed rotation and schedules the retry: 1 minute, doubling per
    /// failure, at most 1 hour (or the interval, if shorter).
    async fn note_rotation_failure(&self, name: &str) -> Result<()> {
        let now = self.env.now();
        self.mutate(|tx| {
            if let Some(s) = tx.secret_mut(name) {
                s.rotation_failures = s.rotation_failures.saturating_add(1);
                let backoff = 60_000u64
                    .saturating_mul(1u64 << s.rotation_failures.min(6).saturating_sub(1))
                    .min(3_600_000);
                if s.rotation_interval_secs.is_some() {
                    s.rotation_retry_ms = Some(now + backoff);
                }
            }
            Ok(())
        })
        .await?;
        self.refresh_schedules();
        Ok(())
    }

    /// Automatic rotation of every secret whose interval (or retry) is due, one at a
    /// time; a failure is recorded on the secret and retried with backoff, and never
    /// fails the call that happened to run the sweep. Not re-entered: a rotator that
    /// calls back into this instance does not start another round.
    pub(crate) async fn rotate_due_secrets(&self) -> Result<()> {
        use core::sync::atomic::Ordering;
        let now = self.env.now();
        if self.next_secret_rotation.lock().is_none_or(|t| t > now) {
            return Ok(());
        }
        if self.rotating_secrets.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let due: Vec<String> = self
            .state
            .lock()
            .secrets
            .values()
            .filter(|s| s.next_rotation_ms().is_some_and(|t| t <= now))
            .map(|s| s.name.clone())
            .collect();
        for name in due {
            if self.run_rotation(&name, None, true).await.is_err() {
                let r = self.note_rotation_failure(&name).await;
                if let Err(e) = r {
                    self.rotating_secrets.store(false, Ordering::Release);
                    return Err(e);
                }
            }
        }
        self.rotating_secrets.store(false, Ordering::Release);
        self.refresh_schedules();
        Ok(())
    }

    /// Carries out every secret deletion whose recovery window has passed; the values
    /// then leave the file (zeroed in the values file; values inside the store's
    /// records go by rewriting the store without them).
    pub(crate) async fn delete_due_secrets(&self) -> Result<()> {
        let now = self.env.now();
        if self.next_secret_deletion.lock().is_none_or(|t| t > now) {
            return Ok(());
        }
        let inline = self
            .mutate(|tx| {
                let expired: Vec<String> = tx
                    .state()
                    .secrets
                    .values()
                    .filter(|s| s.planned_delete_ms.is_some_and(|t| t <= now))
                    .map(|s| s.name.clone())
                    .collect();
                let mut inline = false;
                for n in &expired {
                    inline |= tx.remove_secret(n).is_some_and(|r| r.has_inline());
                }
                Ok(inline)
            })
            .await?;
        self.refresh_schedules();
        if inline {
            self.purge_destroyed().await;
        }
        Ok(())
    }

    /// After `key_id` got a new primary version: re-wraps the data keys of the secret
    /// versions it encrypts under that version (ReEncrypt-style; values unchanged).
    /// Best effort: a version that cannot be re-wrapped now keeps its older wrap,
    /// which still opens while that key version exists.
    pub(crate) async fn rewrap_secrets(&self, key_id: &str) {
        let Ok(primary) = self.with_key(key_id, |k| Ok(k.primary_version.clone())) else {
            return;
        };
        let todo: Vec<(String, String, Vec<u8>)> = self
            .state
            .lock()
            .secrets
            .values()
            .filter(|s| s.encryption_key_id == key_id)
            .flat_map(|s| {
                s.versions.iter().filter_map(|v| {
                    let parsed = crate::blob::parse(&v.wrapped_key).ok()?;
                    (parsed.key_version_id != primary)
                        .then(|| (s.name.clone(), v.version_id.clone(), v.wrapped_key.clone()))
                })
            })
            .collect();
        if todo.is_empty() {
            return;
        }
        let mut fresh = Vec::with_capacity(todo.len());
        for (name, vid, old) in todo {
            let Ok(ctx) = secret_context(&name, &vid) else {
                continue;
            };
            let Ok(dk) = self
                .decrypt_impl(DecryptRequest {
                    ciphertext_blob: old.clone(),
                    encryption_context: ctx.clone(),
                })
                .await
            else {
                continue;
            };
            if let Ok(new) = self.seal_blob(key_id, dk.plaintext.expose(), &ctx).await {
                fresh.push((name, vid, old, new.ciphertext_blob));
            }
        }
        let _ = self
            .mutate(|tx| {
                for (name, vid, old, new) in fresh {
                    if let Some(s) = tx.secret_mut(&name)
                        && let Some(v) = s
                            .versions
                            .iter_mut()
                            .find(|v| v.version_id == vid && v.wrapped_key == old)
                    {
                        v.wrapped_key = new;
                    }
                }
                Ok(())
            })
            .await;
    }
}

/// The secret actions as methods, each through the one dispatch as the store's owner.
impl Kms {
    /// CreateSecret: a secret with its first value (stage ACSCurrent).
    ///
    /// # Errors
    /// `InvalidParameter.*` (name, VersionId, SecretData over 30,720 bytes, …);
    /// `Rejected.ResourceExist` (the name is taken); the CMK's errors
    /// (`Forbidden.KeyNotFound`, `Forbidden.KeyDisabled`, `Rejected.KeyUsage`);
    /// `Rejected.LimitExceeded`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn create_secret(&self, req: CreateSecretRequest) -> Result<SecretCreated> {
        crate::api::as_owner!(self, CreateSecret, req)
    }

    /// GetSecretValue: the value at VersionId and / or VersionStage (ACSCurrent by
    /// default).
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound` (no such secret, version or stage);
    /// `Rejected.ResourceInDeleteWindow`; the CMK's errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// let value = kms.get_secret_value(GetSecretValueRequest { secret_name: "db/password".into(), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn get_secret_value(
        &self,
        req: GetSecretValueRequest,
    ) -> Result<GetSecretValueResponse> {
        crate::api::as_owner!(self, GetSecretValue, req)
    }

    /// PutSecretValue: a new version (stages default to ACSCurrent; the old current
    /// becomes ACSPrevious). Idempotent per VersionId.
    ///
    /// # Errors
    /// `Rejected.ResourceExist` (that VersionId with other data); as CreateSecret.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// kms.put_secret_value(PutSecretValueRequest { secret_name: "db/password".into(), version_id: "v2".into(), secret_data: SecretBytes::from_slice(b"n3w"), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn put_secret_value(
        &self,
        req: PutSecretValueRequest,
    ) -> Result<PutSecretValueResponse> {
        crate::api::as_owner!(self, PutSecretValue, req)
    }

    /// UpdateSecretVersionStage: moves a stage (MoveToVersion) and / or removes it
    /// (RemoveFromVersion); ACSCurrent always stays on some version.
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`; `InvalidParameter.*`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// kms.update_secret_version_stage(UpdateSecretVersionStageRequest { secret_name: "db/password".into(), version_stage: "Custom1".into(), move_to_version: Some("v1".into()), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn update_secret_version_stage(
        &self,
        req: UpdateSecretVersionStageRequest,
    ) -> Result<SecretNameResponse> {
        crate::api::as_owner!(self, UpdateSecretVersionStage, req)
    }

    /// ListSecretVersionIds (newest first; versions without a stage only with
    /// IncludeDeprecated).
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`; `InvalidParameter.Limit`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// let versions = kms.list_secret_version_ids(ListSecretVersionIdsRequest { secret_name: "db/password".into(), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn list_secret_version_ids(
        &self,
        req: ListSecretVersionIdsRequest,
    ) -> Result<ListSecretVersionIdsResponse> {
        crate::api::as_owner!(self, ListSecretVersionIds, req)
    }

    /// DescribeSecret: metadata, never the value.
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// let meta = kms.describe_secret(DescribeSecretRequest { secret_name: "db/password".into(), fetch_tags: true }).await?;
    /// # });
    /// ```
    pub async fn describe_secret(&self, req: DescribeSecretRequest) -> Result<SecretMetadata> {
        crate::api::as_owner!(self, DescribeSecret, req).map(|b| *b)
    }

    /// ListSecrets, by name, with Filters.
    ///
    /// # Errors
    /// `InvalidParameter.Filters`, `InvalidParameter.Limit`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let page = kms.list_secrets(ListSecretsRequest { page_size: Some(50), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn list_secrets(&self, req: ListSecretsRequest) -> Result<ListSecretsResponse> {
        crate::api::as_owner!(self, ListSecrets, req)
    }

    /// UpdateSecret: Description and / or ExtendedConfig.CustomData.
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`; `InvalidParameter.*`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// kms.update_secret(UpdateSecretRequest { secret_name: "db/password".into(), description: Some("orders database".into()), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn update_secret(&self, req: UpdateSecretRequest) -> Result<SecretNameResponse> {
        crate::api::as_owner!(self, UpdateSecret, req)
    }

    /// DeleteSecret: after RecoveryWindowInDays (7–30, default 30), or now with
    /// ForceDeleteWithoutRecovery.
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`; `InvalidParameter.RecoveryWindowInDays`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// let planned = kms.delete_secret(DeleteSecretRequest { secret_name: "db/password".into(), recovery_window_in_days: Some(7), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn delete_secret(&self, req: DeleteSecretRequest) -> Result<DeleteSecretResponse> {
        crate::api::as_owner!(self, DeleteSecret, req)
    }

    /// RestoreSecret: cancels a planned deletion.
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`; `InvalidParameter.SecretName` (not scheduled).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// # kms.delete_secret(DeleteSecretRequest { secret_name: "db/password".into(), ..Default::default() }).await?;
    /// kms.restore_secret(RestoreSecretRequest { secret_name: "db/password".into() }).await?;
    /// # });
    /// ```
    pub async fn restore_secret(&self, req: RestoreSecretRequest) -> Result<SecretNameResponse> {
        crate::api::as_owner!(self, RestoreSecret, req)
    }

    /// RotateSecret: rotates now with the installed rotator (or the built-in one).
    ///
    /// # Errors
    /// The rotator's error (ACSCurrent stays); `Rejected.Unsupported` for the dynamic
    /// secret types; as PutSecretValue.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// let rotated = kms.rotate_secret(RotateSecretRequest { secret_name: "db/password".into(), version_id: None }).await?;
    /// # });
    /// ```
    pub async fn rotate_secret(&self, req: RotateSecretRequest) -> Result<SecretCreated> {
        crate::api::as_owner!(self, RotateSecret, req)
    }

    /// UpdateSecretRotationPolicy.
    ///
    /// # Errors
    /// `InvalidParameter.RotationInterval`; `Rejected.Unsupported` for the dynamic types.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// kms.update_secret_rotation_policy(UpdateSecretRotationPolicyRequest { secret_name: "db/password".into(), enable_automatic_rotation: true, rotation_interval: Some("604800s".into()) }).await?;
    /// # });
    /// ```
    pub async fn update_secret_rotation_policy(
        &self,
        req: UpdateSecretRotationPolicyRequest,
    ) -> Result<SecretNameResponse> {
        crate::api::as_owner!(self, UpdateSecretRotationPolicy, req)
    }

    /// TagResource with a SecretName.
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`; `InvalidParameter.Tags`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// kms.tag_secret("db/password", &[Tag { tag_key: "team".into(), tag_value: "payments".into() }]).await?;
    /// # });
    /// ```
    pub async fn tag_secret(&self, secret_name: &str, tags: &[Tag]) -> Result<()> {
        crate::api::as_owner!(
            self,
            TagSecret,
            TagSecretRequest {
                secret_name: secret_name.into(),
                tags: tags.to_vec(),
            }
        )
        .map(|_| ())
    }

    /// UntagResource with a SecretName.
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// kms.untag_secret("db/password", &["team".to_string()]).await?;
    /// # });
    /// ```
    pub async fn untag_secret(&self, secret_name: &str, tag_keys: &[String]) -> Result<()> {
        crate::api::as_owner!(
            self,
            UntagSecret,
            UntagSecretRequest {
                secret_name: secret_name.into(),
                tag_keys: tag_keys.to_vec(),
            }
        )
        .map(|_| ())
    }

    /// ListResourceTags with a SecretName.
    ///
    /// # Errors
    /// `Forbidden.ResourceNotFound`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// let tags = kms.list_secret_tags("db/password").await?;
    /// # });
    /// ```
    pub async fn list_secret_tags(&self, secret_name: &str) -> Result<Vec<Tag>> {
        crate::api::as_owner!(
            self,
            ListSecretTags,
            ListSecretTagsRequest {
                secret_name: secret_name.into(),
            }
        )
        .map(|r| r.tags)
    }
}
