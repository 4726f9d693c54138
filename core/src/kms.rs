//! `Kms`: the actions, in Alibaba Cloud KMS vocabulary.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::backend::software::SoftwareBackend;
use crate::backend::{KeyBackend, KeyHandle};
use crate::blob;
use crate::context::EncryptionContext;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::ids;
use crate::secret::SecretBytes;
use crate::state::{KeyRecord, State, Txn, VersionRecord};
use crate::storage::journal::{self, KIND_DELTA, Opened, Sealer, Tail};
use crate::storage::{KdfParams, MemoryStorage, Storage, StoreInfo};
use crate::sync::AsyncMutex;
use crate::time::iso8601;

pub use crate::storage::image::RootSecret;
pub use crate::vocab::{DataKeySpec, KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel};

/// Largest plaintext Encrypt accepts (6 KiB, as Alibaba KMS).
pub const MAX_ENCRYPT_PLAINTEXT: usize = 6144;
/// Most keys one store holds.
pub const MAX_KEYS: usize = 100_000;
/// Longest key description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 8192;
/// Most versions one key holds.
pub const MAX_VERSIONS: usize = 1000;

/// DescribeKey's `KeyMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    /// KeyId.
    pub key_id: String,
    /// Arn (`acs:kms:strongroom:local:key/<KeyId>`).
    pub arn: String,
    /// CreationDate, ISO 8601 UTC.
    pub creation_date: String,
    /// Creator.
    pub creator: String,
    /// Description.
    pub description: String,
    /// KeyUsage.
    pub key_usage: KeyUsage,
    /// KeyState.
    pub key_state: KeyState,
    /// KeySpec.
    pub key_spec: KeySpec,
    /// Origin.
    pub origin: Origin,
    /// ProtectionLevel.
    pub protection_level: ProtectionLevel,
    /// PrimaryKeyVersion.
    pub primary_key_version: String,
    /// DeleteDate, when PendingDeletion.
    pub delete_date: Option<String>,
    /// AutomaticRotation: `Enabled` or `Disabled`.
    pub automatic_rotation: &'static str,
    /// RotationInterval, e.g. `"604800s"`, when automatic rotation is on.
    pub rotation_interval: Option<String>,
    /// LastRotationDate, when the key was ever rotated.
    pub last_rotation_date: Option<String>,
    /// NextRotationDate, when automatic rotation is on.
    pub next_rotation_date: Option<String>,
    /// DeletionProtection: `Enabled` or `Disabled`.
    pub deletion_protection: &'static str,
    /// DeletionProtectionDescription, when protection is on.
    pub deletion_protection_description: Option<String>,
    /// MaterialExpireTime: when imported key material expires (EXTERNAL keys).
    pub material_expire_time: Option<String>,
}

/// One key version (DescribeKeyVersion, ListKeyVersions, CreateKeyVersion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersion {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// CreationDate, ISO 8601 UTC.
    pub creation_date: String,
}

/// ListKeyVersions' answer (Alibaba's `KeyVersions.KeyVersion[]` → `key_versions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKeyVersionsResponse {
    /// The page of versions, oldest first.
    pub key_versions: Vec<KeyVersion>,
    /// TotalCount.
    pub total_count: u64,
    /// PageNumber.
    pub page_number: u32,
    /// PageSize.
    pub page_size: u32,
}

/// UpdateRotationPolicy.
#[derive(Debug, Clone, Default)]
pub struct UpdateRotationPolicyRequest {
    /// KeyId (or ARN).
    pub key_id: String,
    /// EnableAutomaticRotation.
    pub enable_automatic_rotation: bool,
    /// RotationInterval, `"<seconds>s"`, 7–365 days; required when enabling.
    pub rotation_interval: Option<String>,
}

/// ReEncrypt: decrypt under the blob's key, encrypt under a destination key's
/// primary version, without the plaintext leaving the KMS.
#[derive(Debug, Clone, Default)]
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

/// Parses Alibaba's RotationInterval (`"604800s"`; 7–365 days) into seconds.
fn parse_rotation_interval(s: &str) -> Result<u64> {
    let bad = || {
        Error::param(
            "RotationInterval",
            "must be like \"604800s\": 7-365 days in seconds",
        )
    };
    let secs: u64 = s
        .trim()
        .strip_suffix('s')
        .ok_or_else(bad)?
        .parse()
        .map_err(|_| bad())?;
    if !(7 * 86_400..=365 * 86_400).contains(&secs) {
        return Err(bad());
    }
    Ok(secs)
}

/// CreateKey.
#[derive(Debug, Clone, Default)]
pub struct CreateKeyRequest {
    /// KeySpec (default `Aliyun_AES_256`).
    pub key_spec: Option<KeySpec>,
    /// KeyUsage (default `ENCRYPT/DECRYPT`).
    pub key_usage: Option<KeyUsage>,
    /// Description.
    pub description: Option<String>,
    /// Origin (default `Aliyun_KMS`).
    pub origin: Option<Origin>,
    /// ProtectionLevel (default: the backend's).
    pub protection_level: Option<ProtectionLevel>,
}

/// ListKeys (PageNumber from 1; PageSize 1–100, default 10).
#[derive(Debug, Clone, Default)]
pub struct ListKeysRequest {
    /// PageNumber.
    pub page_number: Option<u32>,
    /// PageSize.
    pub page_size: Option<u32>,
    /// Filters: at most 10 key–values pairs. Different keys are ANDed; the values of
    /// one key (across every pair naming it) are ORed; a pair with no values is
    /// ignored.
    pub filters: Vec<KeyFilter>,
}

/// One ListKeys filter pair, as Alibaba's `Filters` `{"Key": …, "Values": […]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// KeyState, KeySpec, KeyUsage, ProtectionLevel, CreatorType (`User`), KeyId,
    /// AliasName, Creator, TagKey or TagValue.
    pub key: String,
    /// 0–10 values.
    pub values: Vec<String>,
}

/// Filter keys ListKeys understands.
const FILTER_KEYS: &[&str] = &[
    "KeyState",
    "KeySpec",
    "KeyUsage",
    "ProtectionLevel",
    "CreatorType",
    "KeyId",
    "AliasName",
    "Creator",
    "TagKey",
    "TagValue",
];

/// Filters checked and merged per key (values ORed).
fn merge_filters(
    filters: &[KeyFilter],
) -> Result<alloc::collections::BTreeMap<&str, alloc::collections::BTreeSet<&str>>> {
    let bad = |why: String| Error::param("Filters", why);
    if filters.len() > 10 {
        return Err(bad("at most 10 key-values pairs".into()));
    }
    let mut merged: alloc::collections::BTreeMap<&str, alloc::collections::BTreeSet<&str>> =
        alloc::collections::BTreeMap::new();
    for f in filters {
        let key = FILTER_KEYS
            .iter()
            .copied()
            .find(|k| *k == f.key)
            .ok_or_else(|| {
                bad(alloc::format!(
                    "Key {:?} is not one of {}",
                    f.key,
                    FILTER_KEYS.join(", ")
                ))
            })?;
        if f.values.len() > 10 {
            return Err(bad(alloc::format!("{key}: at most 10 Values")));
        }
        for v in &f.values {
            let known = match key {
                "KeyState" => v.parse::<KeyState>().is_ok(),
                "KeySpec" => v.parse::<KeySpec>().is_ok(),
                "KeyUsage" => v.parse::<KeyUsage>().is_ok(),
                "ProtectionLevel" => v.parse::<ProtectionLevel>().is_ok(),
                "CreatorType" => matches!(v.as_str(), "User" | "Service"),
                _ => true,
            };
            if !known {
                return Err(bad(alloc::format!("{v:?} is not a {key}")));
            }
        }
        if !f.values.is_empty() {
            merged
                .entry(key)
                .or_default()
                .extend(f.values.iter().map(String::as_str));
        }
    }
    Ok(merged)
}

/// GetRandomPassword (Alibaba's parameters; defaults: 32 characters of every type,
/// at least one of each).
#[derive(Debug, Clone, Default)]
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

/// One entry of ListKeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListEntry {
    /// KeyId.
    pub key_id: String,
    /// KeyArn.
    pub key_arn: String,
}

/// ListKeys' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListKeysResponse {
    /// The page of keys (Alibaba's `Keys.Key[]`).
    pub keys: Vec<KeyListEntry>,
    /// TotalCount.
    pub total_count: u64,
    /// PageNumber.
    pub page_number: u32,
    /// PageSize.
    pub page_size: u32,
}

/// Encrypt. `Debug` shows the plaintext's length, never its bytes.
#[derive(Clone, Default)]
pub struct EncryptRequest {
    /// KeyId (or ARN).
    pub key_id: String,
    /// Plaintext, 1 B – 6 KiB.
    pub plaintext: Vec<u8>,
    /// EncryptionContext.
    pub encryption_context: EncryptionContext,
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

/// Encrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
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
pub struct DecryptRequest {
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
    /// EncryptionContext given at encryption.
    pub encryption_context: EncryptionContext,
}

/// Decrypt's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
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
pub struct GenerateDataKeyWithoutPlaintextResponse {
    /// KeyId.
    pub key_id: String,
    /// KeyVersionId.
    pub key_version_id: String,
    /// CiphertextBlob.
    pub ciphertext_blob: Vec<u8>,
}

/// How to open a [`Kms`].
pub struct KmsOptions {
    /// Randomness and time.
    pub env: Env,
    /// Where the sealed image is kept.
    pub storage: Arc<dyn Storage>,
    /// What seals it.
    pub root: RootSecret,
    /// Argon2id parameters for a *new* passphrase store (an existing one keeps its own).
    pub kdf: KdfParams,
    /// Where master keys live (default: in-process software backend).
    pub backend: Option<Arc<dyn KeyBackend>>,
}

/// The journal grows to at least this many bytes, and past the snapshot's size,
/// before a mutation compacts the store instead of appending.
pub const COMPACT_MIN_BYTES: u64 = 1 << 20;

/// Where the record chain stands.
struct JournalPos {
    tail: Tail,
    generation: u64,
    info: StoreInfo,
    /// Compact once the journal is at least this long (and longer than the snapshot).
    compact_min_bytes: u64,
}

/// A key management service instance over one store.
pub struct Kms {
    pub(crate) env: Env,
    pub(crate) backend: Arc<dyn KeyBackend>,
    /// Where SOFTWARE keys live: the in-process software backend beside an HSM-level
    /// backend (keys of both levels in one store), else the configured backend itself.
    pub(crate) software: Arc<dyn KeyBackend>,
    storage: Arc<dyn Storage>,
    /// Seals records; replaced by change_root / rekey_store.
    sealer: spin::Mutex<Sealer>,
    /// The root was random and unknown to the caller (an ephemeral memory store).
    ephemeral_root: core::sync::atomic::AtomicBool,
    /// Where the record chain stands, and what the store holds (writer lock held).
    journal: spin::Mutex<JournalPos>,
    /// A flush failed after the change was applied: this instance accepts no more
    /// mutations (reopen the store).
    poisoned: core::sync::atomic::AtomicBool,
    /// Closed by [`Kms::close`].
    closed: core::sync::atomic::AtomicBool,
    pub(crate) state: spin::Mutex<State>,
    /// The policy / audit seam (see [`crate::api::CallHook`]).
    pub(crate) call_hook: spin::Mutex<Option<Arc<dyn crate::api::CallHook>>>,
    /// Who the typed methods act as (the owner unless `act_as` says otherwise).
    pub(crate) default_caller: spin::Mutex<Arc<crate::api::Caller>>,
    /// The audit trail, once a sink is attached.
    pub(crate) audit: spin::Mutex<Option<Arc<crate::audit::Trail>>>,
    /// The level a store that never set one audits at (the runtime's default).
    pub(crate) default_audit_level: spin::Mutex<crate::access::AuditLevel>,
    /// The level in force (the store's, else the default), read on every call.
    pub(crate) audit_level: core::sync::atomic::AtomicU8,
    /// Request ids drawn without a working random source (see `new_request_id`).
    pub(crate) request_seq: core::sync::atomic::AtomicU64,
    /// Earliest PendingDeletion deadline (ms), so the per-call check is O(1).
    next_deletion: spin::Mutex<Option<u64>>,
    /// Earliest automatic rotation due (ms).
    next_rotation: spin::Mutex<Option<u64>>,
    /// Earliest expiry of imported key material (ms).
    pub(crate) next_material_expiry: spin::Mutex<Option<u64>>,
    /// Earliest planned secret deletion (ms).
    pub(crate) next_secret_deletion: spin::Mutex<Option<u64>>,
    /// Earliest automatic secret rotation or retry due (ms).
    pub(crate) next_secret_rotation: spin::Mutex<Option<u64>>,
    /// The installed secret rotator (None: the built-in random-password rotator).
    pub(crate) secret_rotator: spin::Mutex<Option<Arc<dyn crate::service::secrets::SecretRotator>>>,
    /// A round of automatic secret rotation is running (not re-entered).
    pub(crate) rotating_secrets: core::sync::atomic::AtomicBool,
    writer: AsyncMutex,
    /// Mutations applied to `state` (counted under the state lock), the highest of
    /// them known durable, and how many applied mutations were undone after their
    /// write failed: a call that saw state newer than `durable_seq` answers only once
    /// that state is durable (see [`Kms::await_durable`]).
    applied_seq: core::sync::atomic::AtomicU64,
    durable_seq: core::sync::atomic::AtomicU64,
    rollbacks: core::sync::atomic::AtomicU64,
    /// The envelope data-key cache (off unless configured).
    pub(crate) data_key_cache: spin::Mutex<crate::envelope::cache::Cache>,
    /// The gateway a connected instance sends its actions to ([`Kms::connect`]).
    #[cfg(feature = "wire")]
    pub(crate) remote: Option<Arc<crate::service::connect::Connection>>,
    /// Parsed public keys for AsymmetricVerify / AsymmetricEncrypt.
    pub(crate) public_keys: crate::asym::PublicKeyCache,
}

impl core::fmt::Debug for Kms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Kms")
            .field("protection_level", &self.backend.protection_level())
            .finish_non_exhaustive()
    }
}

fn arn(key_id: &str) -> String {
    alloc::format!("acs:kms:strongroom:local:key/{key_id}")
}

fn alias_arn(alias: &str) -> String {
    alloc::format!("acs:kms:strongroom:local:{alias}")
}

/// What a KeyId parameter names: a key (by id or key ARN) or an alias (by
/// `alias/…` or alias ARN).
enum KeyRef<'a> {
    Key(&'a str),
    Alias(&'a str),
}

fn key_ref(input: &str) -> Result<KeyRef<'_>> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::param("KeyId", "required"));
    }
    if let Some(rest) = s.strip_prefix("acs:kms:") {
        if let Some((_, id)) = rest.rsplit_once(":key/").filter(|(_, id)| !id.is_empty()) {
            return Ok(KeyRef::Key(id));
        }
        if let Some(pos) = rest.find(":alias/") {
            return Ok(KeyRef::Alias(rest.get(pos + 1..).unwrap_or_default()));
        }
        return Err(Error::param(
            "KeyId",
            "an ARN must end in :key/<KeyId> or :alias/<name>",
        ));
    }
    if s.starts_with("alias/") {
        return Ok(KeyRef::Alias(s));
    }
    Ok(KeyRef::Key(s))
}

impl State {
    /// The KeyId a KeyId/alias/ARN parameter names.
    pub(crate) fn resolve(&self, input: &str) -> Result<String> {
        self.resolve_ref(input).map(ToString::to_string)
    }

    /// As [`State::resolve`], borrowing the KeyId from the state.
    pub(crate) fn resolve_ref<'s>(&'s self, input: &str) -> Result<&'s str> {
        self.find(input).map(|k| k.key_id.as_str())
    }

    /// The key a KeyId/alias/ARN parameter names (one lookup, no allocation).
    pub(crate) fn find<'s>(&'s self, input: &str) -> Result<&'s KeyRecord> {
        let id = match key_ref(input)? {
            KeyRef::Key(id) => id,
            KeyRef::Alias(a) => self
                .aliases
                .get(a)
                .map(String::as_str)
                .ok_or_else(|| Error::AliasNotFound(a.to_string()))?,
        };
        self.keys
            .get(id)
            .ok_or_else(|| Error::KeyNotFound(id.to_string()))
    }
}

/// Encrypt's plaintext: 1 byte to 6 KiB.
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

/// ScheduleKeyDeletion's PendingWindowInDays: 7–30.
pub(crate) fn check_pending_window(days: u32) -> Result<()> {
    if (7..=30).contains(&days) {
        Ok(())
    } else {
        Err(Error::param("PendingWindowInDays", "must be 7-30"))
    }
}

/// The alias a KeyId parameter names (`alias/…` or an alias ARN), if it names one.
pub(crate) fn alias_named(input: &str) -> Option<String> {
    match key_ref(input) {
        Ok(KeyRef::Alias(a)) => Some(a.to_string()),
        _ => None,
    }
}

/// Most aliases one key may have.
pub const MAX_ALIASES_PER_KEY: usize = 50;
/// Most tags one key may carry.
pub const MAX_TAGS_PER_KEY: usize = 20;

pub(crate) fn check_alias_name(a: &str) -> Result<()> {
    let ok = a.len() <= 255
        && a.strip_prefix("alias/").is_some_and(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b':'))
        })
        && !a.starts_with("alias/acs");
    if ok {
        Ok(())
    } else {
        Err(Error::param(
            "AliasName",
            "must be alias/<name>: 1-249 of [A-Za-z0-9_/:-], not starting with alias/acs",
        ))
    }
}

/// One alias (ListAliases, ListAliasesByKeyId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    /// AliasName (`alias/…`).
    pub alias_name: String,
    /// AliasArn.
    pub alias_arn: String,
    /// KeyId.
    pub key_id: String,
}

/// ListAliases' answer (Alibaba's `Aliases.Alias[]` → `aliases`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAliasesResponse {
    /// The page of aliases, by name.
    pub aliases: Vec<AliasEntry>,
    /// TotalCount.
    pub total_count: u64,
    /// PageNumber.
    pub page_number: u32,
    /// PageSize.
    pub page_size: u32,
}

/// A tag on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// TagKey.
    pub tag_key: String,
    /// TagValue.
    pub tag_value: String,
}

/// Alibaba's tag rules (keys and secrets alike): at least one tag; TagKey 1–128
/// characters, not `acs:`- or `aliyun`-prefixed; TagValue at most 256.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<()> {
    if tags.is_empty() {
        return Err(Error::param("Tags", "at least one tag"));
    }
    for t in tags {
        let n = t.tag_key.chars().count();
        if n == 0
            || n > 128
            || t.tag_key.starts_with("acs:")
            || t.tag_key.starts_with("aliyun")
            || t.tag_value.chars().count() > 256
        {
            return Err(Error::param(
                "Tags",
                "TagKey is 1-128 characters, not acs:/aliyun-prefixed; TagValue at most 256",
            ));
        }
    }
    Ok(())
}

/// One page of `items` (PageNumber from 1, default 1; PageSize 1–100, default 10),
/// with the page number and size actually used. Borrowed: nothing is cloned.
pub(crate) fn page<T>(
    items: &[T],
    page_number: Option<u32>,
    page_size: Option<u32>,
) -> Result<(&[T], u32, u32)> {
    let n = page_number.unwrap_or(1);
    let size = page_size.unwrap_or(10);
    if n == 0 || !(1..=100).contains(&size) {
        return Err(Error::param(
            "Limit",
            "PageNumber starts at 1; PageSize is 1-100",
        ));
    }
    let start = usize::try_from(u64::from(n - 1) * u64::from(size)).unwrap_or(usize::MAX);
    let rest = items.get(start..).unwrap_or_default();
    Ok((
        rest.get(..(size as usize).min(rest.len()))
            .unwrap_or_default(),
        n,
        size,
    ))
}

impl Kms {
    /// Opens the store in `opts.storage`, creating it (sealed under `opts.root`) when
    /// the storage is empty.
    ///
    /// # Errors
    /// `Forbidden.WrongPassphrase`, `Rejected.StoreCorrupted`, `Rejected.StoreVersion`,
    /// `Rejected.StoreIo`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let opts = || -> Result<KmsOptions> { Ok(KmsOptions { env: Env::system(), storage: std::sync::Arc::new(storage::FileStorage::open("store")?), root: storage::RootSecret::passphrase("pw"), kdf: storage::KdfParams::default(), backend: None }) };
    /// let kms = Kms::open(opts()?).await?;
    /// # });
    /// ```
    pub async fn open(opts: KmsOptions) -> Result<Kms> {
        Self::open_inner(opts, false, None).await
    }

    /// A throwaway in-memory instance (software backend unless one is given), sealed under a random
    /// root key (export its image with [`Kms::export_image`] and a passphrase).
    ///
    /// # Errors
    /// `Rejected.EntropyUnavailable`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let kms = Kms::memory(Env::system(), None).await?;
    /// # });
    /// ```
    pub async fn memory(env: Env, backend: Option<Arc<dyn KeyBackend>>) -> Result<Kms> {
        let mut root = SecretBytes::zeroed(32);
        env.fill(root.expose_mut())?;
        let opts = KmsOptions {
            env,
            storage: Arc::new(MemoryStorage::new()),
            root: RootSecret::RawKey(root),
            kdf: KdfParams::default(),
            backend,
        };
        Self::open_inner(opts, true, None).await
    }

    /// Opens `opts.storage` — or, when `written` is given, the store just written to it
    /// (RestoreBackup: a storage need not read back what it was given).
    async fn open_inner(
        opts: KmsOptions,
        ephemeral_root: bool,
        written: Option<Vec<u8>>,
    ) -> Result<Kms> {
        let backend = opts
            .backend
            .unwrap_or_else(|| Arc::new(SoftwareBackend::new(opts.env.clone())));
        // Beside an HSM, SOFTWARE keys (made with ProtectionLevel SOFTWARE, or before
        // the store had an HSM) live in-process, as Alibaba's instances mix them.
        let software: Arc<dyn KeyBackend> = if backend.protection_level() == ProtectionLevel::Hsm {
            Arc::new(SoftwareBackend::new(opts.env.clone()))
        } else {
            backend.clone()
        };
        let existing = match written {
            Some(bytes) => Some(bytes),
            None => opts.storage.load().await?,
        };
        let (opened, fresh) = match existing {
            Some(bytes) => (journal::open(&bytes, &opts.root)?, false),
            None => {
                let sealer = Sealer::create(&opts.root, opts.kdf, &opts.env)?;
                let opened = Opened {
                    sealer,
                    state: State::default(),
                    generation: 0,
                    tail: Tail {
                        seq: 0,
                        tag: [0; 16],
                        len: 0,
                    },
                    info: StoreInfo::default(),
                };
                (opened, true)
            }
        };
        let Opened {
            sealer,
            state,
            generation,
            tail,
            info,
        } = opened;
        let legacy = info.format_version == 1;
        let kms = Kms {
            env: opts.env,
            backend,
            software,
            storage: opts.storage,
            // A version-1 image gets a random store key as it is rewritten below.
            sealer: spin::Mutex::new(sealer),
            ephemeral_root: core::sync::atomic::AtomicBool::new(ephemeral_root),
            journal: spin::Mutex::new(JournalPos {
                tail,
                generation,
                info,
                compact_min_bytes: COMPACT_MIN_BYTES,
            }),
            poisoned: core::sync::atomic::AtomicBool::new(false),
            closed: core::sync::atomic::AtomicBool::new(false),
            next_deletion: spin::Mutex::new(state.next_deletion()),
            next_material_expiry: spin::Mutex::new(state.next_material_expiry()),
            next_rotation: spin::Mutex::new(state.next_rotation()),
            next_secret_deletion: spin::Mutex::new(state.next_secret_deletion()),
            next_secret_rotation: spin::Mutex::new(state.next_secret_rotation()),
            secret_rotator: spin::Mutex::new(None),
            rotating_secrets: core::sync::atomic::AtomicBool::new(false),
            state: spin::Mutex::new(state),
            call_hook: spin::Mutex::new(None),
            default_caller: spin::Mutex::new(Arc::new(crate::api::Caller::owner())),
            audit: spin::Mutex::new(None),
            default_audit_level: spin::Mutex::new(crate::access::AuditLevel::Management),
            audit_level: core::sync::atomic::AtomicU8::new(1),
            request_seq: core::sync::atomic::AtomicU64::new(0),
            writer: AsyncMutex::default(),
            applied_seq: core::sync::atomic::AtomicU64::new(0),
            durable_seq: core::sync::atomic::AtomicU64::new(0),
            rollbacks: core::sync::atomic::AtomicU64::new(0),
            data_key_cache: spin::Mutex::new(crate::envelope::cache::Cache::default()),
            #[cfg(feature = "wire")]
            remote: None,
            public_keys: crate::asym::PublicKeyCache::default(),
        };
        if fresh || legacy {
            let _w = kms.writer.lock().await;
            if legacy {
                let next = kms.sealer.lock().rekeyed(&kms.env)?;
                kms.compact_with(next).await?;
            } else {
                kms.compact().await?;
            }
        }
        kms.sweep().await?;
        Ok(kms)
    }

    /// Opens a store held as bytes (in memory; changes stay in memory until exported
    /// again).
    ///
    /// # Errors
    /// As [`Kms::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let pw = || storage::RootSecret::passphrase("pw");
    /// # let image = kms.export_image(Some((pw(), storage::KdfParams::default()))).await?;
    /// let copy = Kms::open_image(Env::system(), image, pw(), None).await?;
    /// # });
    /// ```
    pub async fn open_image(
        env: Env,
        image: Vec<u8>,
        root: RootSecret,
        backend: Option<Arc<dyn KeyBackend>>,
    ) -> Result<Kms> {
        Self::open(KmsOptions {
            env,
            storage: Arc::new(MemoryStorage::with_image(image)),
            root,
            kdf: KdfParams::default(),
            backend,
        })
        .await
    }

    /// Whether this instance is connected to a gateway (`Kms::connect`, feature
    /// `wire`): its actions run there.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// assert!(!kms.is_connected());
    /// # });
    /// ```
    #[must_use]
    pub fn is_connected(&self) -> bool {
        #[cfg(feature = "wire")]
        return self.remote.is_some();
        #[cfg(not(feature = "wire"))]
        false
    }

    /// Refuses `what` on a connected instance: it has no store of its own.
    pub(crate) fn local_only(&self, what: &'static str) -> Result<()> {
        if self.is_connected() {
            return Err(Error::Unsupported(what));
        }
        Ok(())
    }

    /// The store compacted into one image (header and snapshot), as bytes. With
    /// `reseal`, it is sealed under that new root (fresh salt and store key) instead
    /// of the store's own.
    ///
    /// # Errors
    /// `InvalidParameter.Passphrase` for an in-memory store without a passphrase and
    /// no `reseal` root; `Forbidden.NoPermission` for a caller other than the store's
    /// owner (store operations are the owner's alone, and audited).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let image = kms.export_image(Some((storage::RootSecret::passphrase("pw"), storage::KdfParams::default()))).await?;
    /// # });
    /// ```
    pub async fn export_image(&self, reseal: Option<(RootSecret, KdfParams)>) -> Result<Vec<u8>> {
        crate::api::as_owner!(self, ExportImage, crate::api::ExportImageRequest { reseal })
            .map(|r| r.bytes)
    }

    /// ExportImage's service code (the dispatch has admitted the caller).
    pub(crate) async fn export_image_impl(
        &self,
        reseal: Option<(RootSecret, KdfParams)>,
    ) -> Result<Vec<u8>> {
        self.local_only("a connected Kms has no store of its own: export the gateway's store")?;
        let _w = self.writer.lock().await;
        let state = self.state.lock().encode();
        let (generation, seq) = {
            let j = self.journal.lock();
            (j.generation, j.tail.seq)
        };
        let sealer = match reseal {
            Some((root, kdf)) => Sealer::create(&root, kdf, &self.env)?,
            None if self
                .ephemeral_root
                .load(core::sync::atomic::Ordering::Acquire) =>
            {
                return Err(Error::param(
                    "Passphrase",
                    "this in-memory store has no passphrase: give one to export its image",
                ));
            }
            None => self.sealer.lock().clone(),
        };
        Ok(sealer
            .image(generation, seq.wrapping_add(1), state.expose(), &self.env)?
            .bytes)
    }

    /// CreateBackup: the whole store as one file sealed under its own `passphrase`
    /// (fresh salt and store key), restorable with [`Kms::restore_backup`] into a new
    /// store on any runtime. Keys whose versions live in a remote backend are backed
    /// up as that backend's handles: references, not material
    /// ([`Kms::protection_level`] says which).
    ///
    /// # Errors
    /// `InvalidParameter.Passphrase` (empty, or Argon2id parameters out of range);
    /// `Forbidden.NoPermission` for a caller other than the store's owner.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let backup = kms.create_backup("backup passphrase", storage::KdfParams::default()).await?;
    /// # });
    /// ```
    pub async fn create_backup(&self, passphrase: &str, kdf: KdfParams) -> Result<Vec<u8>> {
        crate::api::as_owner!(
            self,
            CreateBackup,
            crate::api::CreateBackupRequest {
                backup_passphrase: SecretBytes::from_slice(passphrase.as_bytes()),
                kdf,
            }
        )
        .map(|r| r.bytes)
    }

    /// CreateBackup's service code.
    pub(crate) async fn create_backup_impl(
        &self,
        r: crate::api::CreateBackupRequest,
    ) -> Result<Vec<u8>> {
        self.local_only("a connected Kms has no store of its own: back up the gateway's store (`strongroom backup`)")?;
        self.export_image_impl(Some((RootSecret::Passphrase(r.backup_passphrase), r.kdf)))
            .await
    }

    /// RestoreBackup: opens `backup` with its passphrase and writes it as a new store
    /// into `opts.storage` (which must be empty), sealed under `opts.root`.
    ///
    /// # Errors
    /// `Rejected.StoreExists` when `opts.storage` already holds a store;
    /// `Forbidden.WrongPassphrase` (a wrong backup passphrase, said so) /
    /// `Rejected.BackupCorrupted` for the backup; store failures.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let opts = || -> Result<KmsOptions> { Ok(KmsOptions { env: Env::system(), storage: std::sync::Arc::new(storage::FileStorage::open("store")?), root: storage::RootSecret::passphrase("pw"), kdf: storage::KdfParams::default(), backend: None }) };
    /// # let backup = kms.create_backup("backup passphrase", storage::KdfParams::default()).await?;
    /// let restored = Kms::restore_backup(opts()?, &backup, "backup passphrase").await?;
    /// # });
    /// ```
    pub async fn restore_backup(opts: KmsOptions, backup: &[u8], passphrase: &str) -> Result<Kms> {
        if opts.storage.load().await?.is_some() {
            return Err(Error::StoreExists);
        }
        // The backup's own failures say so (not "the store …").
        let restored =
            journal::open(backup, &RootSecret::passphrase(passphrase)).map_err(|e| match e {
                Error::WrongPassphrase => Error::WrongBackupPassphrase,
                Error::StoreCorrupted(what) => Error::BackupCorrupted(what),
                other => other,
            })?;
        if restored.info.torn_bytes > 0 {
            return Err(Error::BackupCorrupted("it is cut short"));
        }
        let sealer = Sealer::create(&opts.root, opts.kdf, &opts.env)?;
        let image = sealer.image(
            1,
            restored.tail.seq.wrapping_add(1),
            restored.state.encode().expose(),
            &opts.env,
        )?;
        opts.storage.save(&image.bytes).await?;
        Self::open_inner(opts, false, Some(image.bytes)).await
    }

    /// ChangeRoot: seals the store under a new passphrase or raw key (fresh salt),
    /// keeping the store key; the whole store is rewritten atomically, and the old
    /// root no longer opens it. Key material is never written in the clear.
    ///
    /// # Errors
    /// `InvalidParameter.Passphrase`; store failures (the store stays as it was);
    /// `Forbidden.NoPermission` for a caller other than the store's owner.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.change_root(storage::RootSecret::passphrase("new passphrase"), storage::KdfParams::default()).await?;
    /// # });
    /// ```
    pub async fn change_root(&self, root: RootSecret, kdf: KdfParams) -> Result<()> {
        crate::api::as_owner!(
            self,
            ChangePassphrase,
            crate::api::ChangePassphraseRequest { root, kdf }
        )
        .map(|_| ())
    }

    /// ChangePassphrase's service code.
    pub(crate) async fn change_root_impl(&self, root: RootSecret, kdf: KdfParams) -> Result<()> {
        self.local_only("a connected Kms has no store passphrase: change the gateway store's")?;
        let _w = self.writer.lock().await;
        self.check_poisoned()?;
        let next = self.sealer.lock().with_root(&root, kdf, false, &self.env)?;
        self.compact_with(next).await?;
        self.ephemeral_root
            .store(false, core::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// RekeyStore: a new random store key (the root stays), and the whole store
    /// rewritten under it atomically.
    ///
    /// # Errors
    /// Store failures (the store stays as it was); `Forbidden.NoPermission` for a
    /// caller other than the store's owner.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.rekey_store().await?;
    /// # });
    /// ```
    pub async fn rekey_store(&self) -> Result<()> {
        crate::api::as_owner!(self, RekeyStore, crate::api::RekeyStoreRequest {}).map(|_| ())
    }

    /// RekeyStore's service code.
    pub(crate) async fn rekey_store_impl(&self) -> Result<()> {
        self.local_only("a connected Kms has no store of its own to rekey")?;
        let _w = self.writer.lock().await;
        self.check_poisoned()?;
        let next = self.sealer.lock().rekeyed(&self.env)?;
        self.compact_with(next).await
    }

    /// Compacts the store now: the journal is rewritten into one snapshot, atomically.
    ///
    /// # Errors
    /// Store failures (the store stays as it was); `Forbidden.NoPermission` for a
    /// caller other than the store's owner.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.compact_store().await?;
    /// # });
    /// ```
    pub async fn compact_store(&self) -> Result<()> {
        crate::api::as_owner!(self, CompactStore, crate::api::CompactStoreRequest {}).map(|_| ())
    }

    /// CompactStore's service code.
    pub(crate) async fn compact_store_impl(&self) -> Result<()> {
        self.local_only("a connected Kms has no store of its own to compact")?;
        let _w = self.writer.lock().await;
        self.check_poisoned()?;
        self.compact().await
    }

    /// What the store holds on disk: format, generation, snapshot and journal sizes,
    /// and any torn tail dropped when it was opened.
    ///
    /// # Errors
    /// `Rejected.Unsupported` on a connected instance: its store is the gateway's.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// let journal_bytes = kms.store_info()?.journal_bytes;
    /// # });
    /// ```
    pub fn store_info(&self) -> Result<StoreInfo> {
        self.local_only("a connected Kms has no store of its own: ask the gateway's host")?;
        Ok(self.journal.lock().info)
    }

    /// Sets how long the journal may grow (at least; it must also outgrow the
    /// snapshot) before a mutation compacts the store. Default
    /// [`COMPACT_MIN_BYTES`]; small values are for tests that want compaction often.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.set_compact_min_bytes(1 << 20);
    /// # });
    /// ```
    pub fn set_compact_min_bytes(&self, bytes: u64) {
        self.journal.lock().compact_min_bytes = bytes;
    }

    /// The backend's protection level.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// assert_eq!(kms.protection_level(), ProtectionLevel::Software);
    /// # });
    /// ```
    #[must_use]
    pub fn protection_level(&self) -> ProtectionLevel {
        self.backend.protection_level()
    }

    /// Whether the key backend's operations leave the process (see
    /// [`KeyBackend::out_of_process`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// assert!(!kms.backend_out_of_process());
    /// # });
    /// ```
    #[must_use]
    pub fn backend_out_of_process(&self) -> bool {
        self.backend.out_of_process()
    }

    /// The configured key backend, for serving it to others (a
    /// [`crate::backend::remote::BackendServer`] in front of this store's HSM).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let backend = kms.backend();
    /// # });
    /// ```
    #[must_use]
    pub fn backend(&self) -> Arc<dyn KeyBackend> {
        self.backend.clone()
    }

    /// Closes the instance: waits for the change being written (if any), then
    /// releases the store (a file store's writer lock and handles) so another process
    /// or instance may open it. Every later call fails with `Rejected.StoreClosed`.
    /// Closing twice is harmless. Dropping the last reference closes it too.
    ///
    /// # Errors
    /// The storage's, when releasing fails (the instance is closed anyway).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.close().await?;
    /// # });
    /// ```
    pub async fn close(&self) -> Result<()> {
        // The trail's last word: a final digest, so a cut-off tail shows.
        let audit = if self.closed.load(Ordering::Acquire) {
            Ok(())
        } else {
            self.detach_audit().await
        };
        let _w = self.writer.lock().await;
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.storage.close().await?;
        audit
    }

    pub(crate) fn check_poisoned(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::StoreClosed);
        }
        if self.poisoned.load(core::sync::atomic::Ordering::Acquire) {
            Err(Error::StoreIo(String::from(
                "an earlier flush of this store failed; reopen it",
            )))
        } else {
            Ok(())
        }
    }

    /// Rewrites the whole store (header and one snapshot) under the current sealer.
    /// The writer lock must be held.
    async fn compact(&self) -> Result<()> {
        let sealer = self.sealer.lock().clone();
        self.compact_with(sealer).await
    }

    /// Rewrites the whole store under `sealer`, which becomes the store's sealer once
    /// the write is durable. The writer lock must be held.
    async fn compact_with(&self, sealer: Sealer) -> Result<()> {
        let state = self.state.lock().encode();
        let (generation, seq) = {
            let j = self.journal.lock();
            (j.generation.wrapping_add(1), j.tail.seq.wrapping_add(1))
        };
        let image = sealer.image(generation, seq, state.expose(), &self.env)?;
        drop(state);
        self.storage.save(&image.bytes).await?;
        *self.sealer.lock() = sealer;
        let mut j = self.journal.lock();
        j.tail = image.tail;
        j.generation = generation;
        j.info = StoreInfo {
            format_version: 2,
            generation,
            snapshot_bytes: image.tail.len.saturating_sub(journal::HEADER_LEN as u64),
            ..StoreInfo::default()
        };
        Ok(())
    }

    /// Applies `change` to the state through a [`Txn`] and makes it durable: one
    /// journal record appended and flushed (the store is compacted instead when the
    /// journal has outgrown the snapshot, or when the storage cannot append). If
    /// `change` fails, or writing fails, every change is undone.
    ///
    /// The writer lock covers the change and the append, not the flush: mutations
    /// that arrive meanwhile append behind it and share its flush (group commit). A
    /// mutation is acknowledged (returns `Ok`) only once durable, and no other call
    /// answers with anything that depends on it before then: the dispatch makes every
    /// call that saw it wait for the flush ([`Kms::await_durable`]), and fail if the
    /// flush fails or the change is undone.
    pub(crate) async fn mutate<T>(
        &self,
        change: impl FnOnce(&mut Txn<'_>) -> Result<T>,
    ) -> Result<T> {
        let w = self.writer.lock().await;
        self.check_poisoned()?;
        let (out, undo, delta, seq) = {
            let mut st = self.state.lock();
            let mut tx = Txn::new(&mut st);
            let out = match change(&mut tx) {
                Ok(out) => out,
                Err(e) => {
                    tx.abort();
                    return Err(e);
                }
            };
            let undo = tx.finish();
            if undo.is_empty() {
                return Ok(out);
            }
            let delta = undo.delta(&st);
            // Counted while the state lock is held, so a reader that saw this change
            // also sees a count that covers it.
            let seq = self.applied_seq.fetch_add(1, Ordering::AcqRel) + 1;
            (out, undo, delta, seq)
        };
        // Undoes the change; calls that saw it meanwhile then fail (`await_durable`).
        let rollback = |undo: crate::state::Undo| {
            let mut st = self.state.lock();
            undo.rollback(&mut st);
            self.rollbacks.fetch_add(1, Ordering::AcqRel);
        };
        let append = {
            let j = self.journal.lock();
            self.storage.supports_append()
                && j.tail.len > 0
                && !(j.info.journal_bytes >= j.compact_min_bytes
                    && j.info.journal_bytes >= j.info.snapshot_bytes)
        };
        if !append {
            if let Err(e) = self.compact().await {
                rollback(undo);
                return Err(e);
            }
            self.durable_seq.fetch_max(seq, Ordering::AcqRel);
            return Ok(out);
        }
        let tail = self.journal.lock().tail;
        let sealed = self
            .sealer
            .lock()
            .seal_record(KIND_DELTA, &tail, delta.expose(), &self.env);
        drop(delta);
        let sealed = match sealed {
            Ok(s) => s,
            Err(e) => {
                rollback(undo);
                return Err(e);
            }
        };
        if let Err(e) = self.storage.append(tail.len, &sealed.bytes).await {
            rollback(undo);
            return Err(e);
        }
        {
            let mut j = self.journal.lock();
            j.tail = sealed.tail;
            j.info.journal_records += 1;
            j.info.journal_bytes += sealed.bytes.len() as u64;
            j.info.torn_bytes = 0;
        }
        drop(w);
        if let Err(e) = self.storage.sync().await {
            // The change is applied and later mutations may build on it, so it cannot
            // be undone; whether it reached the disk is unknown.
            self.poisoned
                .store(true, core::sync::atomic::Ordering::Release);
            return Err(e);
        }
        // Storage::sync made every append so far durable, this one included.
        self.durable_seq.fetch_max(seq, Ordering::AcqRel);
        Ok(out)
    }

    /// Whether every mutation applied so far is known durable; otherwise the
    /// (sequence, rollback count) a call must wait for with [`Kms::await_durable`].
    /// Two atomic loads: the common case costs nothing more.
    #[inline]
    pub(crate) fn pending_durability(&self) -> Option<u64> {
        let seen = self.applied_seq.load(Ordering::Acquire);
        (self.durable_seq.load(Ordering::Acquire) < seen).then_some(seen)
    }

    /// The count of undone mutations, read when a call starts.
    #[inline]
    pub(crate) fn rollback_count(&self) -> u64 {
        self.rollbacks.load(Ordering::Acquire)
    }

    /// Waits until the state a call saw (every mutation up to `seen`) is durable.
    /// Fails — so the call answers nothing that a crash could take back — when the
    /// flush fails (`Rejected.StoreIo`; the instance is then poisoned) or when a
    /// mutation the call may have seen was undone after its write failed since the
    /// call started (`rollbacks_at_start`): retrying the call then sees the state as
    /// it is.
    pub(crate) async fn await_durable(&self, seen: u64, rollbacks_at_start: u64) -> Result<()> {
        // Every mutation up to `seen` appends (or is undone) before it lets go of the
        // writer lock, so once the lock is ours their records are in the storage.
        drop(self.writer.lock().await);
        self.check_poisoned()?;
        if self.durable_seq.load(Ordering::Acquire) < seen {
            if let Err(e) = self.storage.sync().await {
                self.poisoned.store(true, Ordering::Release);
                return Err(e);
            }
            self.check_poisoned()?;
            self.durable_seq.fetch_max(seen, Ordering::AcqRel);
        }
        if self.rollbacks.load(Ordering::Acquire) != rollbacks_at_start {
            return Err(Error::StoreIo(String::from(
                "a change this request saw could not be saved and was undone; retry the request",
            )));
        }
        Ok(())
    }

    fn metadata(k: &KeyRecord) -> KeyMetadata {
        KeyMetadata {
            key_id: k.key_id.clone(),
            arn: arn(&k.key_id),
            creation_date: iso8601(k.creation_ms),
            creator: k.creator.clone(),
            description: k.description.clone(),
            key_usage: k.usage,
            key_state: k.state,
            key_spec: k.spec,
            origin: k.origin,
            protection_level: k.protection,
            primary_key_version: k.primary_version.clone(),
            delete_date: k.delete_ms.map(iso8601),
            automatic_rotation: if k.rotation_interval_secs.is_some() {
                "Enabled"
            } else {
                "Disabled"
            },
            rotation_interval: k.rotation_interval_secs.map(|s| alloc::format!("{s}s")),
            last_rotation_date: k.last_rotation_ms.map(iso8601),
            next_rotation_date: k.next_rotation_ms().map(iso8601),
            deletion_protection: if k.deletion_protection.is_some() {
                "Enabled"
            } else {
                "Disabled"
            },
            deletion_protection_description: k.deletion_protection.clone(),
            material_expire_time: k.material_expire_ms.map(iso8601),
        }
    }

    pub(crate) fn with_key<T>(
        &self,
        key_id: &str,
        f: impl FnOnce(&KeyRecord) -> Result<T>,
    ) -> Result<T> {
        let st = self.state.lock();
        f(st.find(key_id)?)
    }

    /// The KeyId a KeyId/alias/ARN parameter names.
    pub(crate) fn resolve(&self, key_id: &str) -> Result<String> {
        self.state.lock().resolve(key_id)
    }

    /// Whether this store holds the key `key_id` names (by id, ARN or alias).
    pub(crate) fn holds_key(&self, key_id: &str) -> bool {
        self.with_key(key_id, |_| Ok(())).is_ok()
    }

    /// Whether the key may encrypt and decrypt now.
    pub(crate) fn check_encrypt_usable(&self, key_id: &str) -> Result<()> {
        self.with_key(key_id, Self::usable_for_encrypt)
    }

    fn usable_for_encrypt(k: &KeyRecord) -> Result<()> {
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

    /// CreateKey: a new CMK with one key version.
    ///
    /// # Errors
    /// `InvalidParameter.*` for a bad spec/usage pair or description;
    /// `Rejected.Unsupported` for asymmetric specs without AWS-LC, and for EXTERNAL
    /// origin with an asymmetric spec or a backend that cannot import;
    /// `Rejected.QuotaExceeded`; store and backend failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let key = kms.create_key(CreateKeyRequest { description: Some("orders".into()), ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn create_key(&self, req: CreateKeyRequest) -> Result<KeyMetadata> {
        crate::api::as_owner!(self, CreateKey, req).map(|m| *m)
    }

    pub(crate) async fn create_key_impl(&self, req: CreateKeyRequest) -> Result<KeyMetadata> {
        let spec = req.key_spec.unwrap_or(KeySpec::Aes256);
        let usage = req.key_usage.unwrap_or(KeyUsage::EncryptDecrypt);
        if spec.symmetric_key_len().is_some() && usage != KeyUsage::EncryptDecrypt {
            return Err(Error::param(
                "KeyUsage",
                "Aliyun_AES_* keys are ENCRYPT/DECRYPT only",
            ));
        }
        if spec.is_ec() && usage != KeyUsage::SignVerify {
            return Err(Error::param(
                "KeyUsage",
                "EC_P256 / EC_P256K keys are SIGN/VERIFY only",
            ));
        }
        // The backend a key of the requested level lives in (tier rules: docs/TIERS.md).
        let level = req
            .protection_level
            .unwrap_or_else(|| self.backend.protection_level());
        let backend = self.backend_for(level).ok_or_else(|| {
            Error::param(
                "ProtectionLevel",
                alloc::format!(
                    "this instance holds {} keys, not {level} (configure an HSM backend: PKCS#11, or KMIP declared HSM)",
                    self.backend.protection_level()
                ),
            )
        })?;
        if spec.symmetric_key_len().is_none() && !backend.supports_asymmetric() {
            return Err(Error::Unsupported(
                "this store's key backend cannot hold asymmetric keys (RSA_*, EC_* KeySpec; DescribeService lists the ones it makes): the software backend with AWS-LC or rustcrypto-asym, PKCS#11 and transit can",
            ));
        }
        let origin = req.origin.unwrap_or(Origin::AliyunKms);
        if origin != Origin::External && !backend.key_specs().contains(&spec) {
            return Err(Error::Unsupported(
                "this store's key backend does not make keys of this KeySpec (DescribeService lists the ones it does)",
            ));
        }
        if origin == Origin::External
            && !backend.unwraps_imports()
            && (!backend.supports_import() || !crate::asym::AVAILABLE)
        {
            return Err(Error::Unsupported(
                "EXTERNAL origin (BYOK) needs a key backend that imports (software, PKCS#11, KMIP, remote) and, unless the backend unwraps itself, an RSA implementation (AWS-LC, or rustcrypto-asym in wasm)",
            ));
        }
        let description = req.description.unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::param("Description", "at most 8192 characters"));
        }
        if self.state.lock().keys.len() >= MAX_KEYS {
            return Err(Error::QuotaExceeded("a store holds at most 100000 keys"));
        }
        let key_id = ids::uuid_v4(&self.env)?;
        let version_id = ids::uuid_v4(&self.env)?;
        // An EXTERNAL key's one version has no material until ImportKeyMaterial.
        let handle = if origin == Origin::External {
            KeyHandle(SecretBytes::new(Vec::new()))
        } else {
            backend.generate_for(spec, usage).await?
        };
        let now = self.env.now();
        let rec = KeyRecord {
            key_id: key_id.clone(),
            description,
            spec,
            usage,
            state: if origin == Origin::External {
                KeyState::PendingImport
            } else {
                KeyState::Enabled
            },
            material_expire_ms: None,
            material_check: None,
            import: None,
            origin,
            protection: level,
            creation_ms: now,
            creator: "strongroom".into(),
            delete_ms: None,
            rotation_interval_secs: None,
            last_rotation_ms: None,
            tags: alloc::collections::BTreeMap::new(),
            deletion_protection: None,
            primary_version: version_id.clone(),
            versions: alloc::vec![VersionRecord {
                version_id,
                creation_ms: now,
                handle,
            }],
        };
        let meta = Self::metadata(&rec);
        self.mutate(move |tx| {
            if tx.state().keys.len() >= MAX_KEYS {
                return Err(Error::QuotaExceeded("a store holds at most 100000 keys"));
            }
            tx.insert_key(rec);
            Ok(())
        })
        .await?;
        Ok(meta)
    }

    /// Destroys every key whose deletion window has passed (its versions' handles are
    /// dropped and zeroized, and the store is rewritten without them). Runs at open and
    /// before every action, so the injected clock alone drives deletion.
    pub(crate) async fn sweep(&self) -> Result<()> {
        if !self.sweep_due() {
            return Ok(());
        }
        // Boxed: the rare path's large state machine stays out of every action's future.
        let due: crate::backend::BoxFuture<'_, Result<()>> = Box::pin(async move {
            self.delete_due().await?;
            self.expire_material_due().await?;
            self.rotate_due().await?;
            self.delete_due_secrets().await?;
            self.rotate_due_secrets().await
        });
        due.await
    }

    /// Whether a deletion, an expiry or a rotation is due. One clock read when nothing
    /// is due, the common case (in wasm each read is a call into JS).
    fn sweep_due(&self) -> bool {
        let now = self.env.now();
        ![
            &self.next_deletion,
            &self.next_material_expiry,
            &self.next_rotation,
            &self.next_secret_deletion,
            &self.next_secret_rotation,
        ]
        .iter()
        .all(|t| t.lock().is_none_or(|t| t > now))
    }

    pub(crate) fn refresh_schedules(&self) {
        let (d, r, m, sd, sr) = {
            let st = self.state.lock();
            (
                st.next_deletion(),
                st.next_rotation(),
                st.next_material_expiry(),
                st.next_secret_deletion(),
                st.next_secret_rotation(),
            )
        };
        *self.next_secret_deletion.lock() = sd;
        *self.next_secret_rotation.lock() = sr;
        *self.next_deletion.lock() = d;
        *self.next_material_expiry.lock() = m;
        *self.next_rotation.lock() = r;
    }

    /// Automatic rotation: every Enabled key whose RotationInterval has elapsed since
    /// its last rotation (or creation) gets a new primary version.
    async fn rotate_due(&self) -> Result<()> {
        let now = self.env.now();
        if self.next_rotation.lock().is_none_or(|t| t > now) {
            return Ok(());
        }
        let due: Vec<(String, KeySpec, KeyUsage)> = self
            .state
            .lock()
            .keys
            .values()
            .filter(|k| {
                k.state == KeyState::Enabled && k.next_rotation_ms().is_some_and(|t| t <= now)
            })
            .map(|k| (k.key_id.clone(), k.spec, k.usage))
            .collect();
        for (id, spec, usage) in due {
            self.add_version(&id, spec, usage).await?;
            self.rewrap_secrets(&id).await;
        }
        self.refresh_schedules();
        Ok(())
    }

    /// Generates a version in the backend and makes it primary, durably.
    async fn add_version(
        &self,
        key_id: &str,
        spec: KeySpec,
        usage: KeyUsage,
    ) -> Result<KeyVersion> {
        let version_id = ids::uuid_v4(&self.env)?;
        // The primary version's handle, for backends that rotate in place (transit).
        let (current, level) = self
            .state
            .lock()
            .keys
            .get(key_id)
            .map(|k| {
                let h = k
                    .versions
                    .iter()
                    .find(|v| v.version_id == k.primary_version)
                    .map(|v| v.handle.clone());
                (h, k.protection)
            })
            .ok_or_else(|| Error::KeyNotFound(key_id.into()))?;
        let backend = self.key_backend(level);
        let handle = match current {
            Some(h) if !h.0.expose().is_empty() => backend.rotate(&h, spec, usage).await?,
            _ => backend.generate_for(spec, usage).await?,
        };
        let now = self.env.now();
        let kid = key_id.to_string();
        let vid = version_id.clone();
        self.mutate(|tx| {
            let k = tx
                .key_mut(&kid)
                .ok_or_else(|| Error::KeyNotFound(kid.clone()))?;
            if k.state != KeyState::Enabled {
                return Err(Self::state_error(k));
            }
            if k.versions.len() >= MAX_VERSIONS {
                return Err(Error::QuotaExceeded("a key holds at most 1000 versions"));
            }
            k.versions.push(VersionRecord {
                version_id: vid.clone(),
                creation_ms: now,
                handle,
            });
            k.primary_version = vid;
            k.last_rotation_ms = Some(now);
            Ok(())
        })
        .await?;
        Ok(KeyVersion {
            key_id: key_id.to_string(),
            key_version_id: version_id,
            creation_date: iso8601(now),
        })
    }

    async fn delete_due(&self) -> Result<()> {
        let now = self.env.now();
        if self.next_deletion.lock().is_none_or(|t| t > now) {
            return Ok(());
        }
        let handles = self
            .mutate(|tx| {
                let expired: Vec<String> = tx
                    .state()
                    .keys
                    .values()
                    .filter(|k| {
                        k.state == KeyState::PendingDeletion
                            && k.delete_ms.is_some_and(|t| t <= now)
                    })
                    .map(|k| k.key_id.clone())
                    .collect();
                // Every version's handle, for the backend to destroy once this is durable.
                let handles: Vec<(ProtectionLevel, KeyHandle)> = expired
                    .iter()
                    .filter_map(|id| tx.state().keys.get(id))
                    .flat_map(|k| {
                        // Each version's, and a pending import's wrapping key kept in
                        // the backend.
                        let wrapping = k
                            .import
                            .as_ref()
                            .filter(|p| crate::service::import::in_backend(p))
                            .map(|p| (k.protection, KeyHandle(p.private_key.clone())));
                        k.versions
                            .iter()
                            .filter(|v| !v.handle.0.expose().is_empty())
                            .map(|v| (k.protection, v.handle.clone()))
                            .chain(wrapping)
                    })
                    .collect();
                let gone: Vec<String> = tx
                    .state()
                    .aliases
                    .iter()
                    .filter(|(_, id)| expired.contains(id))
                    .map(|(a, _)| a.clone())
                    .collect();
                for a in &gone {
                    tx.remove_alias(a);
                }
                for id in &expired {
                    tx.remove_key(id);
                }
                Ok(handles)
            })
            .await?;
        self.refresh_schedules();
        // The material in a backend that keeps it (an HSM's objects) goes too.
        for (level, h) in &handles {
            let _ = self.key_backend(*level).destroy(h).await;
        }
        self.purge_destroyed().await;
        Ok(())
    }

    /// After key material was destroyed (a deletion carried out, imported material
    /// deleted or expired): the material is still in earlier journal records, so
    /// rewrite the store without it now rather than at the next compaction. The
    /// destruction itself is already durable, so if the rewrite fails (disk full), the
    /// action goes ahead and the material leaves the file at the next compaction
    /// (docs/SECURITY.md).
    pub(crate) async fn purge_destroyed(&self) {
        let _w = self.writer.lock().await;
        if self.journal.lock().info.journal_records > 0 && self.check_poisoned().is_ok() {
            let _ = self.compact().await;
        }
    }

    /// Changes one key record durably; if `f` refuses or the write fails, the record
    /// is as it was.
    pub(crate) async fn mutate_key(
        &self,
        key_id: &str,
        f: impl FnOnce(&mut KeyRecord) -> Result<()>,
    ) -> Result<KeyMetadata> {
        let id = self.state.lock().resolve(key_id)?;
        let meta = self
            .mutate(|tx| {
                let k = tx
                    .key_mut(&id)
                    .ok_or_else(|| Error::KeyNotFound(id.clone()))?;
                f(k)?;
                Ok(Self::metadata(k))
            })
            .await?;
        self.refresh_schedules();
        Ok(meta)
    }

    pub(crate) fn state_error(k: &KeyRecord) -> Error {
        Error::KeyState {
            key_id: k.key_id.clone(),
            state: k.state.as_str(),
        }
    }

    /// EnableKey: Disabled → Enabled (Enabled stays Enabled).
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`; `Forbidden.KeyPendingDeletion` (cancel the deletion
    /// first); `Forbidden.KeyPendingImport`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.enable_key(&key_id).await?;
    /// # });
    /// ```
    pub async fn enable_key(&self, key_id: &str) -> Result<KeyMetadata> {
        crate::api::as_owner!(
            self,
            EnableKey,
            crate::api::EnableKeyRequest {
                key_id: key_id.into(),
            }
        )
        .map(|m| *m)
    }

    pub(crate) async fn enable_key_impl(&self, key_id: &str) -> Result<KeyMetadata> {
        self.mutate_key(key_id, |k| match k.state {
            KeyState::Enabled | KeyState::Disabled => {
                k.state = KeyState::Enabled;
                Ok(())
            }
            _ => Err(Self::state_error(k)),
        })
        .await
    }

    /// DisableKey: Enabled → Disabled; every crypto action then refuses the key with
    /// `Forbidden.KeyDisabled` until EnableKey.
    ///
    /// # Errors
    /// As [`Kms::enable_key`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.disable_key(&key_id).await?;
    /// # });
    /// ```
    pub async fn disable_key(&self, key_id: &str) -> Result<KeyMetadata> {
        crate::api::as_owner!(
            self,
            DisableKey,
            crate::api::DisableKeyRequest {
                key_id: key_id.into(),
            }
        )
        .map(|m| *m)
    }

    pub(crate) async fn disable_key_impl(&self, key_id: &str) -> Result<KeyMetadata> {
        self.mutate_key(key_id, |k| match k.state {
            KeyState::Enabled | KeyState::Disabled => {
                k.state = KeyState::Disabled;
                Ok(())
            }
            _ => Err(Self::state_error(k)),
        })
        .await
    }

    /// ScheduleKeyDeletion: the key becomes PendingDeletion and its material is
    /// destroyed once `pending_window_in_days` (7–30) have passed on the clock.
    ///
    /// # Errors
    /// `InvalidParameter.PendingWindowInDays`; `Forbidden.KeyNotFound`;
    /// `Forbidden.KeyPendingDeletion` when already scheduled; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let meta = kms.schedule_key_deletion(&key_id, 7).await?;
    /// # });
    /// ```
    pub async fn schedule_key_deletion(
        &self,
        key_id: &str,
        pending_window_in_days: u32,
    ) -> Result<KeyMetadata> {
        crate::api::as_owner!(
            self,
            ScheduleKeyDeletion,
            crate::api::ScheduleKeyDeletionRequest {
                key_id: key_id.into(),
                pending_window_in_days,
            }
        )
        .map(|m| *m)
    }

    pub(crate) async fn schedule_key_deletion_impl(
        &self,
        key_id: &str,
        pending_window_in_days: u32,
    ) -> Result<KeyMetadata> {
        check_pending_window(pending_window_in_days)?;
        let at = self
            .env
            .now()
            .saturating_add(u64::from(pending_window_in_days) * 86_400_000);
        self.mutate_key(key_id, |k| match k.state {
            _ if k.deletion_protection.is_some() => Err(Error::DeletionProtected(k.key_id.clone())),
            KeyState::Enabled | KeyState::Disabled | KeyState::PendingImport => {
                k.state = KeyState::PendingDeletion;
                k.delete_ms = Some(at);
                Ok(())
            }
            KeyState::PendingDeletion => Err(Self::state_error(k)),
        })
        .await
    }

    /// CancelKeyDeletion: PendingDeletion → Enabled (PendingImport for an EXTERNAL key
    /// without material).
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`; `Forbidden.KeyNotPendingDeletion`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.schedule_key_deletion(&key_id, 7).await?;
    /// kms.cancel_key_deletion(&key_id).await?;
    /// # });
    /// ```
    pub async fn cancel_key_deletion(&self, key_id: &str) -> Result<KeyMetadata> {
        crate::api::as_owner!(
            self,
            CancelKeyDeletion,
            crate::api::CancelKeyDeletionRequest {
                key_id: key_id.into(),
            }
        )
        .map(|m| *m)
    }

    pub(crate) async fn cancel_key_deletion_impl(&self, key_id: &str) -> Result<KeyMetadata> {
        self.mutate_key(key_id, |k| {
            if k.state != KeyState::PendingDeletion {
                return Err(Error::KeyState {
                    key_id: k.key_id.clone(),
                    state: "NotPendingDeletion",
                });
            }
            // An EXTERNAL key whose material was deleted or expired waits for it again.
            k.state = if k.has_material() {
                KeyState::Enabled
            } else {
                KeyState::PendingImport
            };
            k.delete_ms = None;
            Ok(())
        })
        .await
    }

    /// SetDeletionProtection: while on, ScheduleKeyDeletion is refused with
    /// `Forbidden.DeletionProtection`. Takes a KeyId, alias or ARN (Alibaba's
    /// ProtectedResourceArn).
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `InvalidParameter.Description`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.set_deletion_protection(&key_id, true, Some("payments")).await?;
    /// # });
    /// ```
    pub async fn set_deletion_protection(
        &self,
        key_id: &str,
        enable_deletion_protection: bool,
        deletion_protection_description: Option<&str>,
    ) -> Result<KeyMetadata> {
        crate::api::as_owner!(
            self,
            SetDeletionProtection,
            crate::api::SetDeletionProtectionRequest {
                protected_resource_arn: key_id.into(),
                enable_deletion_protection,
                deletion_protection_description: deletion_protection_description.map(Into::into),
            },
        )
        .map(|m| *m)
    }

    pub(crate) async fn set_deletion_protection_impl(
        &self,
        key_id: &str,
        enable_deletion_protection: bool,
        deletion_protection_description: Option<&str>,
    ) -> Result<KeyMetadata> {
        let d = deletion_protection_description.unwrap_or_default();
        if d.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::param("Description", "at most 8192 characters"));
        }
        self.mutate_key(key_id, |k| {
            k.deletion_protection = enable_deletion_protection.then(|| d.to_string());
            Ok(())
        })
        .await
    }

    /// UpdateKeyDescription.
    ///
    /// # Errors
    /// `InvalidParameter.Description` (over 8192 characters); `Forbidden.KeyNotFound`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.update_key_description(&key_id, "orders, 2027").await?;
    /// # });
    /// ```
    pub async fn update_key_description(
        &self,
        key_id: &str,
        description: &str,
    ) -> Result<KeyMetadata> {
        crate::api::as_owner!(
            self,
            UpdateKeyDescription,
            crate::api::UpdateKeyDescriptionRequest {
                key_id: key_id.into(),
                description: description.into(),
            },
        )
        .map(|m| *m)
    }

    pub(crate) async fn update_key_description_impl(
        &self,
        key_id: &str,
        description: &str,
    ) -> Result<KeyMetadata> {
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::param("Description", "at most 8192 characters"));
        }
        self.mutate_key(key_id, |k| {
            k.description = description.into();
            Ok(())
        })
        .await
    }

    /// CreateKeyVersion: a new version of a symmetric key, made primary. Blobs under
    /// older versions still decrypt.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `Forbidden.KeyDisabled` (…), `Rejected.KeyUsage`,
    /// `Rejected.QuotaExceeded`; backend and store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let version = kms.create_key_version(&key_id).await?;
    /// # });
    /// ```
    pub async fn create_key_version(&self, key_id: &str) -> Result<KeyVersion> {
        crate::api::as_owner!(
            self,
            CreateKeyVersion,
            crate::api::CreateKeyVersionRequest {
                key_id: key_id.into(),
            }
        )
    }

    pub(crate) async fn create_key_version_impl(&self, key_id: &str) -> Result<KeyVersion> {
        let (id, spec, usage) = self.with_key(key_id, |k| {
            if k.state != KeyState::Enabled {
                return Err(Self::state_error(k));
            }
            if k.origin == Origin::External {
                return Err(Error::KeyOrigin {
                    key_id: k.key_id.clone(),
                    reason: "an EXTERNAL key has one version, holding the imported material",
                });
            }
            Ok((k.key_id.clone(), k.spec, k.usage))
        })?;
        let v = self.add_version(&id, spec, usage).await?;
        self.refresh_schedules();
        self.rewrap_secrets(&id).await;
        Ok(v)
    }

    /// DescribeKeyVersion.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `Forbidden.KeyVersionNotFound`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let v = kms.create_key_version(&key_id).await?;
    /// let same = kms.describe_key_version(&key_id, &v.key_version_id).await?;
    /// # });
    /// ```
    pub async fn describe_key_version(
        &self,
        key_id: &str,
        key_version_id: &str,
    ) -> Result<KeyVersion> {
        crate::api::as_owner!(
            self,
            DescribeKeyVersion,
            crate::api::DescribeKeyVersionRequest {
                key_id: key_id.into(),
                key_version_id: key_version_id.into(),
            }
        )
    }

    pub(crate) async fn describe_key_version_impl(
        &self,
        key_id: &str,
        key_version_id: &str,
    ) -> Result<KeyVersion> {
        self.with_key(key_id, |k| {
            let v = k
                .version(key_version_id)
                .ok_or_else(|| Error::KeyVersionNotFound {
                    key_id: k.key_id.clone(),
                    key_version_id: key_version_id.to_string(),
                })?;
            Ok(KeyVersion {
                key_id: k.key_id.clone(),
                key_version_id: v.version_id.clone(),
                creation_date: iso8601(v.creation_ms),
            })
        })
    }

    /// ListKeyVersions, oldest first (PageNumber from 1; PageSize 1–100, default 10).
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `InvalidParameter.Limit`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let page = kms.list_key_versions(&key_id, None, Some(50)).await?;
    /// # });
    /// ```
    pub async fn list_key_versions(
        &self,
        key_id: &str,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListKeyVersionsResponse> {
        crate::api::as_owner!(
            self,
            ListKeyVersions,
            crate::api::ListKeyVersionsRequest {
                key_id: key_id.into(),
                page_number,
                page_size,
            }
        )
    }

    pub(crate) async fn list_key_versions_impl(
        &self,
        key_id: &str,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListKeyVersionsResponse> {
        self.with_key(key_id, |k| {
            let (versions, page_number, page_size) = page(&k.versions, page_number, page_size)?;
            Ok(ListKeyVersionsResponse {
                key_versions: versions
                    .iter()
                    .map(|v| KeyVersion {
                        key_id: k.key_id.clone(),
                        key_version_id: v.version_id.clone(),
                        creation_date: iso8601(v.creation_ms),
                    })
                    .collect(),
                total_count: k.versions.len() as u64,
                page_number,
                page_size,
            })
        })
    }

    /// UpdateRotationPolicy: automatic rotation every RotationInterval (7–365 days),
    /// driven by the injected clock (checked at open and before every action).
    ///
    /// # Errors
    /// `InvalidParameter.RotationInterval`; `Forbidden.KeyNotFound`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.update_rotation_policy(UpdateRotationPolicyRequest { key_id: key_id.clone(), enable_automatic_rotation: true, rotation_interval: Some("604800s".into()) }).await?;
    /// # });
    /// ```
    pub async fn update_rotation_policy(
        &self,
        req: UpdateRotationPolicyRequest,
    ) -> Result<KeyMetadata> {
        crate::api::as_owner!(self, UpdateRotationPolicy, req).map(|m| *m)
    }

    pub(crate) async fn update_rotation_policy_impl(
        &self,
        req: UpdateRotationPolicyRequest,
    ) -> Result<KeyMetadata> {
        let interval = match (
            req.enable_automatic_rotation,
            req.rotation_interval.as_deref(),
        ) {
            (true, Some(s)) => Some(parse_rotation_interval(s)?),
            (true, None) => {
                return Err(Error::param(
                    "RotationInterval",
                    "required when enabling automatic rotation",
                ));
            }
            (false, _) => None,
        };
        let now = self.env.now();
        let m = self
            .mutate_key(&req.key_id, |k| {
                if k.spec.symmetric_key_len().is_none() {
                    return Err(Error::Unsupported(
                        "automatic rotation is for symmetric keys",
                    ));
                }
                if k.origin == Origin::External && interval.is_some() {
                    return Err(Error::KeyOrigin {
                        key_id: k.key_id.clone(),
                        reason: "an EXTERNAL key cannot rotate: its material is imported",
                    });
                }
                if interval.is_some() && k.rotation_interval_secs.is_none() {
                    // The interval counts from when the policy is turned on.
                    k.last_rotation_ms = Some(k.last_rotation_ms.unwrap_or(now).max(now));
                }
                k.rotation_interval_secs = interval;
                Ok(())
            })
            .await?;
        Ok(m)
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

    /// CreateAlias: `alias/<name>` for a key, usable wherever a KeyId is.
    ///
    /// # Errors
    /// `InvalidParameter.AliasName`, `Rejected.AliasExists`, `Forbidden.KeyNotFound`,
    /// `Rejected.QuotaExceeded` (50 per key); store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.create_alias("alias/orders", &key_id).await?;
    /// # });
    /// ```
    pub async fn create_alias(&self, alias_name: &str, key_id: &str) -> Result<()> {
        crate::api::as_owner!(
            self,
            CreateAlias,
            crate::api::AliasRequest {
                alias_name: alias_name.into(),
                key_id: key_id.into(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn create_alias_impl(&self, alias_name: &str, key_id: &str) -> Result<()> {
        self.set_alias(alias_name, key_id, false).await
    }

    /// UpdateAlias: points an existing alias at another key.
    ///
    /// # Errors
    /// `Forbidden.AliasNotFound`, `Forbidden.KeyNotFound`, `Rejected.QuotaExceeded`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_alias("alias/orders", &key_id).await?;
    /// # let other = kms.create_key(CreateKeyRequest::default()).await?.key_id;
    /// kms.update_alias("alias/orders", &other).await?;
    /// # });
    /// ```
    pub async fn update_alias(&self, alias_name: &str, key_id: &str) -> Result<()> {
        crate::api::as_owner!(
            self,
            UpdateAlias,
            crate::api::AliasRequest {
                alias_name: alias_name.into(),
                key_id: key_id.into(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn update_alias_impl(&self, alias_name: &str, key_id: &str) -> Result<()> {
        self.set_alias(alias_name, key_id, true).await
    }

    async fn set_alias(&self, alias_name: &str, key_id: &str, update: bool) -> Result<()> {
        check_alias_name(alias_name)?;
        self.mutate(|tx| {
            let st = tx.state();
            let id = st.resolve(key_id)?;
            match (update, st.aliases.get(alias_name)) {
                (false, Some(_)) => return Err(Error::AliasExists(alias_name.to_string())),
                (true, None) => return Err(Error::AliasNotFound(alias_name.to_string())),
                _ => {}
            }
            if st.aliases.values().filter(|v| **v == id).count() >= MAX_ALIASES_PER_KEY {
                return Err(Error::QuotaExceeded("a key has at most 50 aliases"));
            }
            tx.set_alias(alias_name, id);
            Ok(())
        })
        .await
    }

    /// DeleteAlias (the key is untouched).
    ///
    /// # Errors
    /// `Forbidden.AliasNotFound`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_alias("alias/orders", &key_id).await?;
    /// kms.delete_alias("alias/orders").await?;
    /// # });
    /// ```
    pub async fn delete_alias(&self, alias_name: &str) -> Result<()> {
        crate::api::as_owner!(
            self,
            DeleteAlias,
            crate::api::DeleteAliasRequest {
                alias_name: alias_name.into(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn delete_alias_impl(&self, alias_name: &str) -> Result<()> {
        self.mutate(|tx| {
            tx.remove_alias(alias_name)
                .map(|_| ())
                .ok_or_else(|| Error::AliasNotFound(alias_name.to_string()))
        })
        .await
    }

    fn alias_entries(st: &State, key: Option<&str>) -> Vec<AliasEntry> {
        st.aliases
            .iter()
            .filter(|(_, id)| key.is_none_or(|k| k == id.as_str()))
            .map(|(a, id)| AliasEntry {
                alias_name: a.clone(),
                alias_arn: alias_arn(a),
                key_id: id.clone(),
            })
            .collect()
    }

    /// ListAliases, by name.
    ///
    /// # Errors
    /// `InvalidParameter.Limit`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let page = kms.list_aliases(None, Some(100)).await?;
    /// # });
    /// ```
    pub async fn list_aliases(
        &self,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListAliasesResponse> {
        crate::api::as_owner!(
            self,
            ListAliases,
            crate::api::ListAliasesRequest {
                page_number,
                page_size,
            }
        )
    }

    pub(crate) async fn list_aliases_impl(
        &self,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListAliasesResponse> {
        let all = Self::alias_entries(&self.state.lock(), None);
        let (aliases, page_number, page_size) = page(&all, page_number, page_size)?;
        let aliases = aliases.to_vec();
        Ok(ListAliasesResponse {
            aliases,
            total_count: all.len() as u64,
            page_number,
            page_size,
        })
    }

    /// ListAliasesByKeyId.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `InvalidParameter.Limit`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let page = kms.list_aliases_by_key_id(&key_id, None, None).await?;
    /// # });
    /// ```
    pub async fn list_aliases_by_key_id(
        &self,
        key_id: &str,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListAliasesResponse> {
        crate::api::as_owner!(
            self,
            ListAliasesByKeyId,
            crate::api::ListAliasesByKeyIdRequest {
                key_id: key_id.into(),
                page_number,
                page_size,
            }
        )
    }

    pub(crate) async fn list_aliases_by_key_id_impl(
        &self,
        key_id: &str,
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<ListAliasesResponse> {
        let all = {
            let st = self.state.lock();
            let id = st.resolve(key_id)?;
            Self::alias_entries(&st, Some(&id))
        };
        let (aliases, page_number, page_size) = page(&all, page_number, page_size)?;
        let aliases = aliases.to_vec();
        Ok(ListAliasesResponse {
            aliases,
            total_count: all.len() as u64,
            page_number,
            page_size,
        })
    }

    /// TagResource: adds or overwrites tags (keys 1–128 characters, not starting with
    /// `acs:` or `aliyun`; values up to 256; at most 20 per key).
    ///
    /// # Errors
    /// `InvalidParameter.Tags`, `Forbidden.KeyNotFound`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.tag_resource(&key_id, &[Tag { tag_key: "team".into(), tag_value: "payments".into() }]).await?;
    /// # });
    /// ```
    pub async fn tag_resource(&self, key_id: &str, tags: &[Tag]) -> Result<()> {
        crate::api::as_owner!(
            self,
            TagResource,
            crate::api::TagResourceRequest {
                key_id: key_id.into(),
                tags: tags.to_vec(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn tag_resource_impl(&self, key_id: &str, tags: &[Tag]) -> Result<()> {
        check_tags(tags)?;
        self.mutate_key(key_id, |k| {
            for t in tags {
                k.tags.insert(t.tag_key.clone(), t.tag_value.clone());
            }
            if k.tags.len() > MAX_TAGS_PER_KEY {
                return Err(Error::param("Tags", "a key carries at most 20 tags"));
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// UntagResource: removes the named tags (absent ones are ignored).
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`; store failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.untag_resource(&key_id, &["team".to_string()]).await?;
    /// # });
    /// ```
    pub async fn untag_resource(&self, key_id: &str, tag_keys: &[String]) -> Result<()> {
        crate::api::as_owner!(
            self,
            UntagResource,
            crate::api::UntagResourceRequest {
                key_id: key_id.into(),
                tag_keys: tag_keys.to_vec(),
            }
        )
        .map(|_| ())
    }

    pub(crate) async fn untag_resource_impl(
        &self,
        key_id: &str,
        tag_keys: &[String],
    ) -> Result<()> {
        self.mutate_key(key_id, |k| {
            for t in tag_keys {
                k.tags.remove(t);
            }
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// ListResourceTags, by TagKey.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let tags = kms.list_resource_tags(&key_id).await?;
    /// # });
    /// ```
    pub async fn list_resource_tags(&self, key_id: &str) -> Result<Vec<Tag>> {
        crate::api::as_owner!(
            self,
            ListResourceTags,
            crate::api::ListResourceTagsRequest {
                key_id: key_id.into(),
            }
        )
        .map(|r| r.tags)
    }

    pub(crate) async fn list_resource_tags_impl(&self, key_id: &str) -> Result<Vec<Tag>> {
        self.with_key(key_id, |k| {
            Ok(k.tags
                .iter()
                .map(|(a, b)| Tag {
                    tag_key: a.clone(),
                    tag_value: b.clone(),
                })
                .collect())
        })
    }

    /// DescribeKey.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`, `InvalidParameter.KeyId`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let state = kms.describe_key(&key_id).await?.key_state;
    /// # });
    /// ```
    pub async fn describe_key(&self, key_id: &str) -> Result<KeyMetadata> {
        crate::api::as_owner!(
            self,
            DescribeKey,
            crate::api::DescribeKeyRequest {
                key_id: key_id.into(),
            }
        )
        .map(|m| *m)
    }

    pub(crate) async fn describe_key_impl(&self, key_id: &str) -> Result<KeyMetadata> {
        self.with_key(key_id, |k| Ok(Self::metadata(k)))
    }

    /// ListKeys, in creation order.
    ///
    /// # Errors
    /// `InvalidParameter.Limit` for a page size outside 1–100 or page number 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let page = kms.list_keys(ListKeysRequest { filters: vec![KeyFilter { key: "KeyState".into(), values: vec!["Enabled".into()] }], ..Default::default() }).await?;
    /// # });
    /// ```
    pub async fn list_keys(&self, req: ListKeysRequest) -> Result<ListKeysResponse> {
        crate::api::as_owner!(self, ListKeys, req)
    }

    pub(crate) async fn list_keys_impl(&self, req: ListKeysRequest) -> Result<ListKeysResponse> {
        let filters = merge_filters(&req.filters)?;
        let st = self.state.lock();
        let filtered: Vec<String>;
        let all: &[String] = if filters.is_empty() {
            &st.order
        } else {
            let mut aliases: alloc::collections::BTreeMap<&str, Vec<&str>> =
                alloc::collections::BTreeMap::new();
            if filters.contains_key("AliasName") {
                for (a, id) in &st.aliases {
                    aliases.entry(id.as_str()).or_default().push(a.as_str());
                }
            }
            filtered = st
                .order
                .iter()
                .filter(|id| {
                    st.keys.get(*id).is_some_and(|k| {
                        filters.iter().all(|(key, want)| match *key {
                            "KeyState" => want.contains(k.state.as_str()),
                            "KeySpec" => want.contains(k.spec.as_str()),
                            "KeyUsage" => want.contains(k.usage.as_str()),
                            "ProtectionLevel" => want.contains(k.protection.as_str()),
                            // Every key here was made by a user, none by a cloud service.
                            "CreatorType" => want.contains("User"),
                            "KeyId" => want.contains(k.key_id.as_str()),
                            "Creator" => want.contains(k.creator.as_str()),
                            "TagKey" => k.tags.keys().any(|t| want.contains(t.as_str())),
                            "TagValue" => k.tags.values().any(|t| want.contains(t.as_str())),
                            "AliasName" => aliases
                                .get(k.key_id.as_str())
                                .is_some_and(|a| a.iter().any(|a| want.contains(a))),
                            _ => false,
                        })
                    })
                })
                .cloned()
                .collect();
            &filtered
        };
        let (ids, page_number, page_size) = page(all, req.page_number, req.page_size)?;
        let keys = ids
            .iter()
            .map(|id| KeyListEntry {
                key_id: id.clone(),
                key_arn: arn(id),
            })
            .collect();
        Ok(ListKeysResponse {
            keys,
            total_count: all.len() as u64,
            page_number,
            page_size,
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
    fn primary_for_encrypt(
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

    /// The backend holding keys of `level`: the configured one for its own level, the
    /// in-process software backend for SOFTWARE beside an HSM; `None` for HSM keys
    /// when no HSM is configured.
    pub(crate) fn backend_for(&self, level: ProtectionLevel) -> Option<&Arc<dyn KeyBackend>> {
        if level == self.backend.protection_level() {
            Some(&self.backend)
        } else if level == ProtectionLevel::Software {
            Some(&self.software)
        } else {
            None
        }
    }

    /// The backend an existing key of `level` is used through. An HSM key in a store
    /// opened without its HSM goes to the configured backend, whose error names where
    /// the key lives.
    pub(crate) fn key_backend(&self, level: ProtectionLevel) -> &Arc<dyn KeyBackend> {
        self.backend_for(level).unwrap_or(&self.backend)
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
}
