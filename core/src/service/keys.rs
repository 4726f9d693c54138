//! Key lifecycle (family Keys): CreateKey, DescribeKey, ListKeys, enabling and
//! disabling, scheduled deletion and its protection, descriptions, versions and rotation
//! (manual and automatic), and how a KeyId / alias / ARN parameter names a key.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::backend::KeyHandle;
use crate::error::{Error, Result};
use crate::ids;
use crate::kms::*;
use crate::secret::SecretBytes;
use crate::state::{KeyRecord, State, VersionRecord};
use crate::time::iso8601;
use crate::vocab::{KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel};

/// Most keys one store holds.
pub const MAX_KEYS: usize = 100_000;
/// Longest key description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 8192;
/// Most versions one key holds.
pub const MAX_VERSIONS: usize = 1000;

/// DescribeKey's `KeyMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub automatic_rotation: crate::vocab::StaticStr,
    /// RotationInterval, e.g. `"604800s"`, when automatic rotation is on.
    pub rotation_interval: Option<String>,
    /// LastRotationDate, when the key was ever rotated.
    pub last_rotation_date: Option<String>,
    /// NextRotationDate, when automatic rotation is on.
    pub next_rotation_date: Option<String>,
    /// DeletionProtection: `Enabled` or `Disabled`.
    #[cfg_attr(
        feature = "serde",
        serde(deserialize_with = "crate::api::serde_static::one")
    )]
    pub deletion_protection: crate::vocab::StaticStr,
    /// DeletionProtectionDescription, when protection is on.
    pub deletion_protection_description: Option<String>,
    /// MaterialExpireTime: when imported key material expires (EXTERNAL keys).
    pub material_expire_time: Option<String>,
}

/// One key version (DescribeKeyVersion, ListKeyVersions, CreateKeyVersion).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UpdateRotationPolicyRequest {
    /// KeyId (or ARN).
    pub key_id: String,
    /// EnableAutomaticRotation.
    pub enable_automatic_rotation: bool,
    /// RotationInterval, `"<seconds>s"`, 7–365 days; required when enabling.
    pub rotation_interval: Option<String>,
}

/// Parses Alibaba's RotationInterval (`"604800s"`; 7–365 days) into seconds.
pub(crate) fn parse_rotation_interval(s: &str) -> Result<u64> {
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyFilter {
    /// KeyState, KeySpec, KeyUsage, ProtectionLevel, CreatorType (`User`), KeyId,
    /// AliasName, Creator, TagKey or TagValue.
    pub key: String,
    /// 0–10 values.
    pub values: Vec<String>,
}

/// Filter keys ListKeys understands.
pub(crate) const FILTER_KEYS: &[&str] = &[
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
pub(crate) fn merge_filters(
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

/// One entry of ListKeys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyListEntry {
    /// KeyId.
    pub key_id: String,
    /// KeyArn.
    pub key_arn: String,
}

/// ListKeys' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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

pub(crate) fn arn(key_id: &str) -> String {
    alloc::format!("acs:kms:strongroom:local:key/{key_id}")
}

/// What a KeyId parameter names: a key (by id or key ARN) or an alias (by
/// `alias/…` or alias ARN).
pub(crate) enum KeyRef<'a> {
    Key(&'a str),
    Alias(&'a str),
}

pub(crate) fn key_ref(input: &str) -> Result<KeyRef<'_>> {
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

/// ScheduleKeyDeletion's PendingWindowInDays: 7–30.
pub(crate) fn check_pending_window(days: u32) -> Result<()> {
    if (7..=30).contains(&days) {
        Ok(())
    } else {
        Err(Error::param("PendingWindowInDays", "must be 7-30"))
    }
}

impl Kms {
    pub(crate) fn metadata(k: &KeyRecord) -> KeyMetadata {
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
    pub(crate) async fn rotate_due(&self) -> Result<()> {
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
    pub(crate) async fn add_version(
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

    pub(crate) async fn delete_due(&self) -> Result<()> {
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
}

/// What VerifyStore encrypts, signs or decrypts to probe a key version: nothing of the
/// caller's, never kept.
const PROBE: &[u8] = b"strongroom VerifyStore probe";

impl Kms {
    /// VerifyStore's key half: every version of every key with material (not those
    /// waiting for an import) probed in the backend that holds it. Returns how many
    /// versions were probed, how many round-tripped, and the failures; a key version
    /// deleted while the pass runs is neither counted nor a problem.
    pub(crate) async fn probe_key_versions(&self) -> (u64, u64, Vec<crate::api::KeyProblem>) {
        let versions: Vec<(
            String,
            String,
            KeySpec,
            KeyUsage,
            ProtectionLevel,
            KeyHandle,
        )> = {
            let st = self.state.lock();
            st.keys
                .values()
                .filter(|k| k.state != KeyState::PendingImport)
                .flat_map(|k| {
                    k.versions.iter().map(move |v| {
                        (
                            k.key_id.clone(),
                            v.version_id.clone(),
                            k.spec,
                            k.usage,
                            k.protection,
                            v.handle.clone(),
                        )
                    })
                })
                .collect()
        };
        let (mut probed, mut verified, mut problems) = (0u64, 0u64, Vec::new());
        for (key_id, version_id, spec, usage, level, handle) in versions {
            match self.probe_key_version(spec, usage, level, &handle).await {
                Ok(()) => {
                    probed += 1;
                    verified += 1;
                }
                Err(e) => {
                    let still_there = self.state.lock().keys.get(&key_id).is_some_and(|k| {
                        k.state != KeyState::PendingImport
                            && k.versions.iter().any(|v| v.version_id == version_id)
                    });
                    if still_there {
                        probed += 1;
                        problems.push(crate::api::KeyProblem {
                            key_id,
                            key_version_id: version_id,
                            code: e.code(),
                            message: alloc::format!("{e}"),
                        });
                    }
                }
            }
        }
        (probed, verified, problems)
    }

    /// One key version's probe: a symmetric version encrypts and decrypts [`PROBE`]; an
    /// asymmetric one gives its public key, then signs the probe's SHA-256 digest (which
    /// the public key must verify) or decrypts what the public key encrypted.
    async fn probe_key_version(
        &self,
        spec: KeySpec,
        usage: KeyUsage,
        level: ProtectionLevel,
        handle: &KeyHandle,
    ) -> Result<()> {
        let backend = self.key_backend(level);
        let wrong =
            || Error::BackendProtocol("the key backend's answer to a probe did not round-trip");
        if spec.symmetric_key_len().is_some() {
            let sealed = backend.encrypt(handle, PROBE, PROBE).await?;
            let back = backend
                .decrypt(handle, &sealed.nonce, &sealed.ciphertext, PROBE)
                .await?;
            return if back.expose() == PROBE {
                Ok(())
            } else {
                Err(wrong())
            };
        }
        let public = backend.public_key(handle, spec).await?;
        match usage {
            KeyUsage::SignVerify => {
                let alg = if spec.is_rsa() {
                    crate::asym::SigningAlgorithm::RsaPssSha256
                } else {
                    crate::asym::SigningAlgorithm::EcdsaSha256
                };
                let digest = crate::vocab::sha256(PROBE);
                let sig = backend.sign(handle, spec, alg, &digest).await?;
                if crate::asym::verify(spec, &public, alg, &digest, &sig)? {
                    Ok(())
                } else {
                    Err(wrong())
                }
            }
            KeyUsage::EncryptDecrypt => {
                // OAEP with SHA-256, or with SHA-1 where the backend has only that
                // (SoftHSM2's token): what the key can decrypt at all is the question.
                let mut last = Error::BackendProtocol("no OAEP hash to probe with");
                for alg in [
                    crate::asym::EncryptionAlgorithm::RsaesOaepSha256,
                    crate::asym::EncryptionAlgorithm::RsaesOaepSha1,
                ] {
                    let ct = crate::asym::encrypt(&public, alg, PROBE)?;
                    match backend.asymmetric_decrypt(handle, spec, alg, &ct).await {
                        Ok(back) if back.expose() == PROBE => return Ok(()),
                        Ok(_) => return Err(wrong()),
                        Err(e @ Error::Unsupported(_)) => last = e,
                        Err(e) => return Err(e),
                    }
                }
                Err(last)
            }
        }
    }
}
