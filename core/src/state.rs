//! The KMS state held in the store, and its binary form (docs/FORMAT.md §State).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::backend::KeyHandle;
use crate::codec::{Reader, Writer};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::vocab::{KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel};

/// The state version this build writes (2 adds the BYOK fields, 3 the secrets
/// table, written only when the store holds a secret); 1 and 2 still read.
const STATE_VERSION: u8 = 2;
const STATE_VERSION_SECRETS: u8 = 3;
/// 4 adds the principals table (users, roles, AccessKeys, policies, key and secret
/// policies, the audit level), written only when the store has one.
const STATE_VERSION_IAM: u8 = 4;
/// 5: secret records in layout 2 (each value inline or a span of the values file),
/// then a principals-table flag; written only when some value is in the values file.
const STATE_VERSION_VALUES: u8 = 5;
/// The longest sealed value a values-file span may name: far above a secret's
/// 30,720-byte limit (+ tag), and low enough that a reader never allocates more.
const MAX_SEALED_VALUE: u32 = 1 << 20;

#[derive(Clone, Debug)]
pub(crate) struct VersionRecord {
    pub(crate) version_id: String,
    pub(crate) creation_ms: u64,
    pub(crate) handle: KeyHandle,
}

#[derive(Clone, Debug)]
pub(crate) struct KeyRecord {
    pub(crate) key_id: String,
    pub(crate) description: String,
    pub(crate) spec: KeySpec,
    pub(crate) usage: KeyUsage,
    pub(crate) state: KeyState,
    pub(crate) origin: Origin,
    pub(crate) protection: ProtectionLevel,
    pub(crate) creation_ms: u64,
    pub(crate) creator: String,
    pub(crate) delete_ms: Option<u64>,
    /// Automatic rotation interval in seconds (None = off).
    pub(crate) rotation_interval_secs: Option<u64>,
    /// When the last rotation (new primary version) happened, ms.
    pub(crate) last_rotation_ms: Option<u64>,
    pub(crate) primary_version: String,
    pub(crate) versions: Vec<VersionRecord>,
    /// TagResource pairs.
    pub(crate) tags: BTreeMap<String, String>,
    /// SetDeletionProtection: Some(description) when on.
    pub(crate) deletion_protection: Option<String>,
    /// EXTERNAL keys: when the imported material expires, ms (None = never).
    pub(crate) material_expire_ms: Option<u64>,
    /// EXTERNAL keys: a fingerprint of the first material imported, so only the same
    /// material can be imported again (service/import.rs).
    pub(crate) material_check: Option<[u8; 32]>,
    /// EXTERNAL keys: the parameters of the latest GetParametersForImport.
    pub(crate) import: Option<ImportParams>,
}

/// The wrapping key and token of one GetParametersForImport.
#[derive(Clone, Debug)]
pub(crate) struct ImportParams {
    /// The token's random id (the ImportToken names it).
    pub(crate) token_id: [u8; 16],
    /// The RSA wrapping private key, PKCS#8 DER.
    pub(crate) private_key: SecretBytes,
    /// The wrapping algorithm's code (`ImportWrappingAlgorithm`).
    pub(crate) algorithm: u8,
    /// The wrapping key's spec (`KeySpec` code).
    pub(crate) spec: u8,
    /// When the token stops being accepted, ms.
    pub(crate) expire_ms: u64,
}

impl KeyRecord {
    /// When automatic rotation is next due, ms.
    pub(crate) fn next_rotation_ms(&self) -> Option<u64> {
        let base = self.last_rotation_ms.unwrap_or(self.creation_ms);
        self.rotation_interval_secs
            .map(|s| base.saturating_add(s.saturating_mul(1000)))
    }

    pub(crate) fn version(&self, id: &str) -> Option<&VersionRecord> {
        self.versions.iter().find(|v| v.version_id == id)
    }

    /// Whether the key holds material: always for generated keys; for EXTERNAL keys
    /// once it is imported and until it is deleted or expires.
    pub(crate) fn has_material(&self) -> bool {
        self.versions
            .iter()
            .any(|v| !v.handle.0.expose().is_empty())
    }
}

#[derive(Default, Debug)]
pub(crate) struct State {
    pub(crate) keys: BTreeMap<String, KeyRecord>,
    /// Key ids in creation order (ListKeys order).
    pub(crate) order: Vec<String>,
    /// Alias name (`alias/…`) → KeyId.
    pub(crate) aliases: BTreeMap<String, String>,
    /// Secrets by SecretName.
    pub(crate) secrets: BTreeMap<String, SecretRecord>,
    /// Principals and policies (None until the owner creates the first).
    pub(crate) iam: Option<alloc::boxed::Box<crate::access::Iam>>,
    /// Which values file is the store's (docs/FORMAT.md §Values file): 0 is
    /// `<store>.values`, n ≥ 1 `<store>.values.<n>`; a values-file compaction moves
    /// the live values to the next generation's file.
    pub(crate) values_generation: u32,
}

/// One version of a secret: its value sealed under a fresh 32-byte data key, which is
/// itself a ciphertext blob of the secret's CMK (docs/FORMAT.md §Secrets).
#[derive(Clone, Debug)]
pub(crate) struct SecretVersionRecord {
    pub(crate) version_id: String,
    pub(crate) creation_ms: u64,
    /// Its stages (ACSCurrent, ACSPrevious, ACSPending, custom), in the order given.
    pub(crate) stages: Vec<String>,
    /// 0 = text, 1 = binary.
    pub(crate) data_type: u8,
    /// The data key: a ciphertext blob under the secret's CMK.
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) nonce: [u8; 12],
    /// AES-256-GCM of the value under the data key (ciphertext ‖ tag), or where the
    /// values file keeps it.
    pub(crate) value: SecretValue,
}

/// Where a secret version's sealed value is (docs/FORMAT.md §Values file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SecretValue {
    /// In the record itself (stores whose storage has no values file: memory,
    /// images, backups, browsers); shared, so that copies of the record (undo
    /// images, reads) do not copy the value.
    Inline(alloc::sync::Arc<[u8]>),
    /// A span of the store's values file.
    Stored(ValueSpan),
}

/// `len` bytes at `offset` of the values file of `generation` (the state's
/// `values_generation` when the span was read from it or placed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ValueSpan {
    /// The values file's generation.
    pub(crate) generation: u32,
    /// Byte offset in the values file.
    pub(crate) offset: u64,
    /// Length (ciphertext ‖ tag).
    pub(crate) len: u32,
}

impl SecretValue {
    /// The span of the values file, if the value is there.
    pub(crate) fn span(&self) -> Option<ValueSpan> {
        match self {
            SecretValue::Stored(s) => Some(*s),
            SecretValue::Inline(_) => None,
        }
    }
}

impl SecretRecord {
    /// The values-file spans its versions use.
    pub(crate) fn spans(&self) -> impl Iterator<Item = ValueSpan> + '_ {
        self.versions.iter().filter_map(|v| v.value.span())
    }
    /// Whether any version's value is in the values file (then the record is written
    /// in layout 2).
    fn has_stored(&self) -> bool {
        self.spans().next().is_some()
    }
    /// The values still inside the record (name, VersionId, sealed bytes): what a
    /// storage with a values file moves there.
    pub(crate) fn inline_values(
        &self,
    ) -> impl Iterator<Item = (String, String, alloc::sync::Arc<[u8]>)> + '_ {
        self.versions.iter().filter_map(|v| match &v.value {
            SecretValue::Inline(b) => Some((self.name.clone(), v.version_id.clone(), b.clone())),
            SecretValue::Stored(_) => None,
        })
    }
    /// Whether any value is inside the record (removing the secret then rewrites the
    /// store, so that value leaves the file).
    pub(crate) fn has_inline(&self) -> bool {
        self.inline_values().next().is_some()
    }
}

/// A secret (metadata in the clear inside the sealed store, as Alibaba documents).
#[derive(Clone, Debug)]
pub(crate) struct SecretRecord {
    pub(crate) name: String,
    /// Generic, Rds, Redis, RAMCredentials or ECS.
    pub(crate) secret_type: String,
    pub(crate) description: String,
    /// The CMK's KeyId.
    pub(crate) encryption_key_id: String,
    pub(crate) creation_ms: u64,
    pub(crate) update_ms: u64,
    pub(crate) planned_delete_ms: Option<u64>,
    pub(crate) tags: BTreeMap<String, String>,
    /// ExtendedConfig, JSON text.
    pub(crate) extended_config: Option<String>,
    /// Automatic rotation's interval (None: off).
    pub(crate) rotation_interval_secs: Option<u64>,
    pub(crate) last_rotation_ms: Option<u64>,
    /// After a failed rotation: when the next attempt is due.
    pub(crate) rotation_retry_ms: Option<u64>,
    /// Failed rotation attempts since the last success.
    pub(crate) rotation_failures: u32,
    /// Versions, oldest first.
    pub(crate) versions: Vec<SecretVersionRecord>,
}

impl SecretRecord {
    /// When automatic rotation is next due (a retry after a failure comes first).
    pub(crate) fn next_rotation_ms(&self) -> Option<u64> {
        let every = self.rotation_interval_secs?;
        if self.planned_delete_ms.is_some() {
            return None;
        }
        if let Some(t) = self.rotation_retry_ms {
            return Some(t);
        }
        let from = self.last_rotation_ms.unwrap_or(self.creation_ms);
        Some(from.saturating_add(every.saturating_mul(1000)))
    }

    /// The version that holds `stage`.
    pub(crate) fn staged(&self, stage: &str) -> Option<&SecretVersionRecord> {
        self.versions
            .iter()
            .find(|v| v.stages.iter().any(|s| s == stage))
    }
}

impl State {
    /// Points version `version_id` of secret `name` at `value` (a value moved to or
    /// from the values file; the bytes are the same).
    pub(crate) fn set_value(&mut self, name: &str, version_id: &str, value: SecretValue) {
        if let Some(v) = self
            .secrets
            .get_mut(name)
            .and_then(|r| r.versions.iter_mut().find(|v| v.version_id == version_id))
        {
            v.value = value;
        }
    }

    /// The bytes of the values file that versions use.
    pub(crate) fn values_live_bytes(&self) -> u64 {
        self.secrets
            .values()
            .flat_map(SecretRecord::spans)
            .map(|s| u64::from(s.len))
            .sum()
    }

    /// Every values-file span the state uses.
    pub(crate) fn spans(&self) -> Vec<ValueSpan> {
        self.secrets
            .values()
            .flat_map(SecretRecord::spans)
            .collect()
    }

    /// The earliest scheduled deletion, if any (O(keys); called on open and after
    /// deletions are scheduled, cancelled or carried out).
    pub(crate) fn next_deletion(&self) -> Option<u64> {
        self.keys.values().filter_map(|k| k.delete_ms).min()
    }

    /// The earliest expiry of imported key material.
    pub(crate) fn next_material_expiry(&self) -> Option<u64> {
        self.keys
            .values()
            .filter_map(|k| k.material_expire_ms)
            .min()
    }

    /// The earliest planned deletion of a secret.
    pub(crate) fn next_secret_deletion(&self) -> Option<u64> {
        self.secrets
            .values()
            .filter_map(|s| s.planned_delete_ms)
            .min()
    }

    /// The earliest automatic rotation (or retry) due among secrets.
    pub(crate) fn next_secret_rotation(&self) -> Option<u64> {
        self.secrets
            .values()
            .filter_map(SecretRecord::next_rotation_ms)
            .min()
    }

    /// The earliest automatic rotation due among Enabled keys.
    pub(crate) fn next_rotation(&self) -> Option<u64> {
        self.keys
            .values()
            .filter(|k| k.state == KeyState::Enabled)
            .filter_map(KeyRecord::next_rotation_ms)
            .min()
    }

    /// The store's snapshot of the state: version 5 when a value is in the values
    /// file or the values file is past generation 0.
    pub(crate) fn encode(&self) -> SecretBytes {
        self.encode_with(&BTreeMap::new(), false)
    }

    /// The state's binary form with the values-file spans found in `values` (by
    /// offset) written inline: what an image or a backup holds, which must open
    /// without the values file (and starts its own at generation 0).
    pub(crate) fn encode_inlined(
        &self,
        values: &BTreeMap<u64, alloc::sync::Arc<[u8]>>,
    ) -> SecretBytes {
        self.encode_with(values, true)
    }

    fn encode_with(
        &self,
        values: &BTreeMap<u64, alloc::sync::Arc<[u8]>>,
        image: bool,
    ) -> SecretBytes {
        let mut w = Writer::secret();
        let stored = self
            .secrets
            .values()
            .flat_map(SecretRecord::spans)
            .any(|s| !values.contains_key(&s.offset));
        let generation = if image && !stored {
            0
        } else {
            self.values_generation
        };
        let version = if stored || generation != 0 {
            STATE_VERSION_VALUES
        } else if self.iam.is_some() {
            STATE_VERSION_IAM
        } else if self.secrets.is_empty() {
            STATE_VERSION
        } else {
            STATE_VERSION_SECRETS
        };
        w.u8(version);
        if version == STATE_VERSION_VALUES {
            w.u32(generation);
        }
        w.u32(u32::try_from(self.order.len()).unwrap_or(u32::MAX));
        for id in &self.order {
            let Some(k) = self.keys.get(id) else { continue };
            encode_key(&mut w, k);
        }
        w.u32(u32::try_from(self.aliases.len()).unwrap_or(u32::MAX));
        for (a, id) in &self.aliases {
            w.str16(a);
            w.str16(id);
        }
        if version >= STATE_VERSION_SECRETS {
            w.u32(u32::try_from(self.secrets.len()).unwrap_or(u32::MAX));
            let layout = if version == STATE_VERSION_VALUES {
                2
            } else {
                1
            };
            for rec in self.secrets.values() {
                encode_secret(&mut w, rec, layout, values);
            }
        }
        if version == STATE_VERSION_VALUES {
            w.u8(u8::from(self.iam.is_some()));
        }
        if let Some(iam) = &self.iam {
            iam.encode(&mut w);
        }
        SecretBytes::new(core::mem::take(&mut w.buf))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<State> {
        let mut r = Reader::new(bytes);
        let version = match r.u8() {
            Some(
                v @ (1
                | STATE_VERSION
                | STATE_VERSION_SECRETS
                | STATE_VERSION_IAM
                | STATE_VERSION_VALUES),
            ) => v,
            Some(v) => return Err(Error::UnsupportedStoreVersion(v)),
            None => return Err(bad("empty state")),
        };
        let mut st = State::default();
        if version == STATE_VERSION_VALUES {
            st.values_generation = r.u32().ok_or(bad("truncated state"))?;
        }
        let n = r.u32().ok_or(bad("truncated state"))?;
        for _ in 0..n {
            let rec = decode_key(&mut r, version)?;
            let key_id = rec.key_id.clone();
            if st.keys.insert(key_id.clone(), rec).is_some() {
                return Err(bad("duplicate key id"));
            }
            st.order.push(key_id);
        }
        let na = r.u32().ok_or(bad("truncated alias table"))?;
        for _ in 0..na {
            let a = r.str16().ok_or(bad("truncated alias"))?;
            let id = r.str16().ok_or(bad("truncated alias"))?;
            st.aliases.insert(a, id);
        }
        if version >= STATE_VERSION_SECRETS {
            let ns = r.u32().ok_or(bad("truncated secret table"))?;
            let layout = if version == STATE_VERSION_VALUES {
                2
            } else {
                1
            };
            for _ in 0..ns {
                let rec = decode_secret(&mut r, layout, st.values_generation)?;
                if st.secrets.insert(rec.name.clone(), rec).is_some() {
                    return Err(bad("duplicate secret name"));
                }
            }
        }
        let has_iam = match version {
            STATE_VERSION_IAM => true,
            STATE_VERSION_VALUES => match r.u8() {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(bad("bad principals-table flag")),
            },
            _ => false,
        };
        if has_iam {
            st.iam = Some(alloc::boxed::Box::new(crate::access::Iam::decode(&mut r)?));
        }
        if r.remaining() != 0 {
            return Err(bad("trailing bytes after state"));
        }
        st.check_aliases()?;
        Ok(st)
    }

    /// Every alias names a key this state holds.
    pub(crate) fn check_aliases(&self) -> Result<()> {
        if self.aliases.values().all(|id| self.keys.contains_key(id)) {
            Ok(())
        } else {
            Err(bad("alias names a missing key"))
        }
    }

    /// Applies one journal record's changes (docs/FORMAT.md §Store journal, delta).
    /// The caller checks [`State::check_aliases`] once the replay is done.
    pub(crate) fn apply_delta(&mut self, bytes: &[u8]) -> Result<()> {
        let mut r = Reader::new(bytes);
        let n = r.u32().ok_or(bad("truncated delta"))?;
        for _ in 0..n {
            match r.u8() {
                Some(op @ (OP_PUT_KEY | OP_PUT_KEY_V2)) => {
                    let rec = decode_key(&mut r, if op == OP_PUT_KEY { 1 } else { 2 })?;
                    let id = rec.key_id.clone();
                    if self.keys.insert(id.clone(), rec).is_none() {
                        self.order.push(id);
                    }
                }
                Some(OP_DELETE_KEY) => {
                    let id = r.str16().ok_or(bad("truncated delta"))?;
                    if self.keys.remove(&id).is_none() {
                        return Err(bad("delta deletes a missing key"));
                    }
                    self.order.retain(|k| *k != id);
                }
                Some(OP_PUT_ALIAS) => {
                    let a = r.str16().ok_or(bad("truncated delta"))?;
                    let id = r.str16().ok_or(bad("truncated delta"))?;
                    self.aliases.insert(a, id);
                }
                Some(OP_DELETE_ALIAS) => {
                    let a = r.str16().ok_or(bad("truncated delta"))?;
                    if self.aliases.remove(&a).is_none() {
                        return Err(bad("delta deletes a missing alias"));
                    }
                }
                Some(op @ (OP_PUT_SECRET | OP_PUT_SECRET_V2)) => {
                    let layout = if op == OP_PUT_SECRET { 1 } else { 2 };
                    let rec = decode_secret(&mut r, layout, self.values_generation)?;
                    self.secrets.insert(rec.name.clone(), rec);
                }
                Some(OP_DELETE_SECRET) => {
                    let name = r.str16().ok_or(bad("truncated delta"))?;
                    if self.secrets.remove(&name).is_none() {
                        return Err(bad("delta deletes a missing secret"));
                    }
                }
                Some(OP_PUT_IAM) => {
                    self.iam = Some(alloc::boxed::Box::new(crate::access::Iam::decode(&mut r)?));
                }
                Some(_) => return Err(bad("unknown delta operation")),
                None => return Err(bad("truncated delta")),
            }
        }
        if r.remaining() != 0 {
            return Err(bad("trailing bytes after delta"));
        }
        // Every alias must name a key; checked once after the whole replay
        // (`check_aliases`), not per record, which made replay O(records × aliases).
        Ok(())
    }
}

fn bad(what: &'static str) -> Error {
    Error::StoreCorrupted(what)
}

const OP_PUT_KEY: u8 = 1;
const OP_DELETE_KEY: u8 = 2;
const OP_PUT_ALIAS: u8 = 3;
const OP_DELETE_ALIAS: u8 = 4;
/// A key record in the version-2 layout (with the BYOK fields); OP_PUT_KEY records
/// (version 1) are still read.
const OP_PUT_KEY_V2: u8 = 5;
const OP_PUT_SECRET: u8 = 6;
const OP_DELETE_SECRET: u8 = 7;
/// The whole principals table, replaced.
const OP_PUT_IAM: u8 = 8;
/// A secret record in layout 2 (values inline or in the values file).
const OP_PUT_SECRET_V2: u8 = 9;

/// A secret record: layout 1 holds every value inline; layout 2 tags each value with
/// where it is (0 inline, 1 a span of the values file). Spans found in `values` are
/// written inline.
fn encode_secret(
    w: &mut Writer,
    s: &SecretRecord,
    layout: u8,
    values: &BTreeMap<u64, alloc::sync::Arc<[u8]>>,
) {
    w.str16(&s.name);
    w.str16(&s.secret_type);
    w.str16(&s.description);
    w.str16(&s.encryption_key_id);
    w.u64(s.creation_ms);
    w.u64(s.update_ms);
    w.u64(s.planned_delete_ms.unwrap_or(0));
    w.u32(u32::try_from(s.tags.len()).unwrap_or(u32::MAX));
    for (k, v) in &s.tags {
        w.str16(k);
        w.str16(v);
    }
    w.u8(u8::from(s.extended_config.is_some()));
    w.bytes32(s.extended_config.as_deref().unwrap_or_default().as_bytes());
    w.u64(s.rotation_interval_secs.unwrap_or(0));
    w.u64(s.last_rotation_ms.unwrap_or(0));
    w.u64(s.rotation_retry_ms.unwrap_or(0));
    w.u32(s.rotation_failures);
    w.u32(u32::try_from(s.versions.len()).unwrap_or(u32::MAX));
    for v in &s.versions {
        w.str16(&v.version_id);
        w.u64(v.creation_ms);
        w.u8(u8::try_from(v.stages.len()).unwrap_or(u8::MAX));
        for st in &v.stages {
            w.str16(st);
        }
        w.u8(v.data_type);
        w.bytes16(&v.wrapped_key);
        w.raw(&v.nonce);
        let inline = match &v.value {
            SecretValue::Inline(b) => Some(&**b),
            SecretValue::Stored(s) => values.get(&s.offset).map(|b| &**b),
        };
        match (layout, inline, &v.value) {
            (1, Some(b), _) => w.bytes32(b),
            (_, Some(b), _) => {
                w.u8(0);
                w.bytes32(b);
            }
            (_, None, SecretValue::Stored(s)) => {
                w.u8(1);
                w.u64(s.offset);
                w.u32(s.len);
            }
            // Unreachable: a value is inline unless it is stored.
            (_, None, SecretValue::Inline(_)) => w.bytes32(&[]),
        }
    }
}

/// `generation`: the values file the record's spans are in (the state's).
fn decode_secret(r: &mut Reader<'_>, layout: u8, generation: u32) -> Result<SecretRecord> {
    let t = || bad("truncated secret record");
    let opt = |v: u64| (v != 0).then_some(v);
    let name = r.str16().ok_or_else(t)?;
    let secret_type = r.str16().ok_or_else(t)?;
    let description = r.str16().ok_or_else(t)?;
    let encryption_key_id = r.str16().ok_or_else(t)?;
    let creation_ms = r.u64().ok_or_else(t)?;
    let update_ms = r.u64().ok_or_else(t)?;
    let planned_delete_ms = opt(r.u64().ok_or_else(t)?);
    let nt = r.u32().ok_or_else(t)?;
    let mut tags = BTreeMap::new();
    for _ in 0..nt {
        let k = r.str16().ok_or_else(t)?;
        let v = r.str16().ok_or_else(t)?;
        tags.insert(k, v);
    }
    let has_config = r.u8().ok_or_else(t)?;
    let config = r.bytes32().ok_or_else(t)?;
    let extended_config = match has_config {
        0 => None,
        1 => Some(
            String::from_utf8(config.to_vec()).map_err(|_| bad("ExtendedConfig is not UTF-8"))?,
        ),
        _ => return Err(bad("bad ExtendedConfig flag")),
    };
    let rotation_interval_secs = opt(r.u64().ok_or_else(t)?);
    let last_rotation_ms = opt(r.u64().ok_or_else(t)?);
    let rotation_retry_ms = opt(r.u64().ok_or_else(t)?);
    let rotation_failures = r.u32().ok_or_else(t)?;
    let nv = r.u32().ok_or_else(t)?;
    let mut versions = Vec::new();
    for _ in 0..nv {
        let version_id = r.str16().ok_or_else(t)?;
        let creation_ms = r.u64().ok_or_else(t)?;
        let ns = r.u8().ok_or_else(t)?;
        let mut stages = Vec::with_capacity(usize::from(ns));
        for _ in 0..ns {
            stages.push(r.str16().ok_or_else(t)?);
        }
        let data_type = r.u8().ok_or_else(t)?;
        if data_type > 1 {
            return Err(bad("unknown SecretDataType"));
        }
        let wrapped_key = r.bytes16().ok_or_else(t)?.to_vec();
        let nonce = r.array::<12>().ok_or_else(t)?;
        let location = if layout == 1 {
            0
        } else {
            r.u8().ok_or_else(t)?
        };
        let value = match location {
            0 => SecretValue::Inline(alloc::sync::Arc::from(r.bytes32().ok_or_else(t)?)),
            1 => {
                let offset = r.u64().ok_or_else(t)?;
                let len = r.u32().ok_or_else(t)?;
                if !(16..=MAX_SEALED_VALUE).contains(&len)
                    || offset.checked_add(u64::from(len)).is_none()
                {
                    return Err(bad("bad values-file span"));
                }
                SecretValue::Stored(ValueSpan {
                    generation,
                    offset,
                    len,
                })
            }
            _ => return Err(bad("unknown secret value location")),
        };
        versions.push(SecretVersionRecord {
            version_id,
            creation_ms,
            stages,
            data_type,
            wrapped_key,
            nonce,
            value,
        });
    }
    Ok(SecretRecord {
        name,
        secret_type,
        description,
        encryption_key_id,
        creation_ms,
        update_ms,
        planned_delete_ms,
        tags,
        extended_config,
        rotation_interval_secs,
        last_rotation_ms,
        rotation_retry_ms,
        rotation_failures,
        versions,
    })
}

fn encode_key(w: &mut Writer, k: &KeyRecord) {
    w.str16(&k.key_id);
    w.str16(&k.description);
    w.u8(k.spec.code());
    w.u8(k.usage.code());
    w.u8(k.state.code());
    w.u8(k.origin.code());
    w.u8(k.protection.code());
    w.u64(k.creation_ms);
    w.str16(&k.creator);
    w.u64(k.delete_ms.unwrap_or(0));
    w.u64(k.rotation_interval_secs.unwrap_or(0));
    w.u64(k.last_rotation_ms.unwrap_or(0));
    w.str16(&k.primary_version);
    w.u32(u32::try_from(k.versions.len()).unwrap_or(u32::MAX));
    for v in &k.versions {
        w.str16(&v.version_id);
        w.u64(v.creation_ms);
        w.bytes16(v.handle.0.expose());
    }
    w.u8(u8::from(k.deletion_protection.is_some()));
    w.str16(k.deletion_protection.as_deref().unwrap_or_default());
    w.u32(u32::try_from(k.tags.len()).unwrap_or(u32::MAX));
    for (tk, tv) in &k.tags {
        w.str16(tk);
        w.str16(tv);
    }
    // Version 2.
    w.u64(k.material_expire_ms.unwrap_or(0));
    w.bytes16(k.material_check.as_ref().map_or(&[][..], |c| &c[..]));
    match &k.import {
        None => w.u8(0),
        Some(p) => {
            w.u8(1);
            w.raw(&p.token_id);
            w.bytes16(p.private_key.expose());
            w.u8(p.algorithm);
            w.u8(p.spec);
            w.u64(p.expire_ms);
        }
    }
}

fn decode_key(r: &mut Reader<'_>, version: u8) -> Result<KeyRecord> {
    let key_id = r.str16().ok_or(bad("truncated key record"))?;
    let description = r.str16().ok_or(bad("truncated key record"))?;
    let spec = r
        .u8()
        .and_then(KeySpec::from_code)
        .ok_or(bad("unknown key spec"))?;
    let usage = r
        .u8()
        .and_then(KeyUsage::from_code)
        .ok_or(bad("unknown key usage"))?;
    let state = r
        .u8()
        .and_then(KeyState::from_code)
        .ok_or(bad("unknown key state"))?;
    let origin = r
        .u8()
        .and_then(Origin::from_code)
        .ok_or(bad("unknown origin"))?;
    let protection = r
        .u8()
        .and_then(ProtectionLevel::from_code)
        .ok_or(bad("unknown protection level"))?;
    let creation_ms = r.u64().ok_or(bad("truncated key record"))?;
    let creator = r.str16().ok_or(bad("truncated key record"))?;
    let delete_ms = r.u64().ok_or(bad("truncated key record"))?;
    let rotation = r.u64().ok_or(bad("truncated key record"))?;
    let last_rotation = r.u64().ok_or(bad("truncated key record"))?;
    let primary_version = r.str16().ok_or(bad("truncated key record"))?;
    let nv = r.u32().ok_or(bad("truncated key record"))?;
    let mut versions = Vec::new();
    for _ in 0..nv {
        let version_id = r.str16().ok_or(bad("truncated version record"))?;
        let vms = r.u64().ok_or(bad("truncated version record"))?;
        let handle = r.bytes16().ok_or(bad("truncated version record"))?;
        versions.push(VersionRecord {
            version_id,
            creation_ms: vms,
            handle: KeyHandle(SecretBytes::from_slice(handle)),
        });
    }
    let protected = r.u8().ok_or(bad("truncated key record"))?;
    let protection_description = r.str16().ok_or(bad("truncated key record"))?;
    let deletion_protection = match protected {
        0 => None,
        1 => Some(protection_description),
        _ => return Err(bad("bad deletion protection flag")),
    };
    let nt = r.u32().ok_or(bad("truncated key record"))?;
    let mut tags = BTreeMap::new();
    for _ in 0..nt {
        let tk = r.str16().ok_or(bad("truncated tag"))?;
        let tv = r.str16().ok_or(bad("truncated tag"))?;
        tags.insert(tk, tv);
    }
    let (mut material_expire_ms, mut material_check, mut import) = (None, None, None);
    if version >= 2 {
        let t = r.u64().ok_or(bad("truncated key record"))?;
        material_expire_ms = (t != 0).then_some(t);
        material_check = match r.bytes16().ok_or(bad("truncated key record"))? {
            [] => None,
            c => Some(<[u8; 32]>::try_from(c).map_err(|_| bad("bad material check"))?),
        };
        import = match r.u8().ok_or(bad("truncated key record"))? {
            0 => None,
            1 => {
                let token_id = r.array::<16>().ok_or(bad("truncated import parameters"))?;
                let private_key = r.bytes16().ok_or(bad("truncated import parameters"))?;
                let algorithm = r.u8().ok_or(bad("truncated import parameters"))?;
                let spec = r.u8().ok_or(bad("truncated import parameters"))?;
                let expire_ms = r.u64().ok_or(bad("truncated import parameters"))?;
                Some(ImportParams {
                    token_id,
                    private_key: SecretBytes::from_slice(private_key),
                    algorithm,
                    spec,
                    expire_ms,
                })
            }
            _ => return Err(bad("bad import parameters flag")),
        };
    }
    Ok(KeyRecord {
        material_expire_ms,
        material_check,
        import,
        tags,
        deletion_protection,
        key_id,
        description,
        spec,
        usage,
        state,
        origin,
        protection,
        creation_ms,
        creator,
        delete_ms: (delete_ms != 0).then_some(delete_ms),
        rotation_interval_secs: (rotation != 0).then_some(rotation),
        last_rotation_ms: (last_rotation != 0).then_some(last_rotation),
        primary_version,
        versions,
    })
}

/// One mutation in progress: every change to the state goes through it, so it knows
/// what it touched. [`Txn::finish`] hands back the [`Undo`] record, which encodes the
/// touched entries for the journal ([`Undo::delta`]) or puts every one back as it was
/// ([`Undo::rollback`]).
pub(crate) struct Txn<'a> {
    st: &'a mut State,
    undo: Undo,
}

/// What a mutation touched, as it was before.
#[derive(Default)]
pub(crate) struct Undo {
    /// Touched keys: their record before the mutation (None = did not exist).
    keys: BTreeMap<String, Option<KeyRecord>>,
    /// Keys removed from `order`, with their positions, in removal order.
    removed: Vec<(usize, String)>,
    /// Touched aliases: their target before the mutation.
    aliases: BTreeMap<String, Option<String>>,
    /// Touched secrets: their record before the mutation.
    secrets: BTreeMap<String, Option<SecretRecord>>,
    /// The principals table before the mutation, when it was touched.
    iam: Option<Option<alloc::boxed::Box<crate::access::Iam>>>,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(st: &'a mut State) -> Self {
        Txn {
            st,
            undo: Undo::default(),
        }
    }

    /// The state as changed so far (read-only).
    pub(crate) fn state(&self) -> &State {
        self.st
    }

    /// Ends the mutation, keeping its changes.
    pub(crate) fn finish(self) -> Undo {
        self.undo
    }

    /// Ends the mutation, undoing its changes.
    pub(crate) fn abort(self) {
        self.undo.rollback(self.st);
    }

    fn touch_key(&mut self, id: &str) {
        if !self.undo.keys.contains_key(id) {
            self.undo
                .keys
                .insert(id.to_string(), self.st.keys.get(id).cloned());
        }
    }

    /// A key to change.
    pub(crate) fn key_mut(&mut self, id: &str) -> Option<&mut KeyRecord> {
        if !self.st.keys.contains_key(id) {
            return None;
        }
        self.touch_key(id);
        self.st.keys.get_mut(id)
    }

    /// Adds a new key (last in creation order).
    pub(crate) fn insert_key(&mut self, rec: KeyRecord) {
        let id = rec.key_id.clone();
        self.touch_key(&id);
        if self.st.keys.insert(id.clone(), rec).is_none() {
            self.st.order.push(id);
        }
    }

    /// Removes a key (its aliases are the caller's to remove).
    pub(crate) fn remove_key(&mut self, id: &str) -> Option<KeyRecord> {
        if self
            .st
            .iam
            .as_ref()
            .is_some_and(|i| i.key_policies.contains_key(id))
            && let Ok(iam) = self.iam_mut(|| Err(Error::Internal("principals table")))
        {
            iam.key_policies.remove(id);
        }
        self.touch_key(id);
        let rec = self.st.keys.remove(id)?;
        if let Some(pos) = self.st.order.iter().position(|k| k == id) {
            self.st.order.remove(pos);
            self.undo.removed.push((pos, id.to_string()));
        }
        Some(rec)
    }

    fn touch_alias(&mut self, a: &str) {
        if !self.undo.aliases.contains_key(a) {
            self.undo
                .aliases
                .insert(a.to_string(), self.st.aliases.get(a).cloned());
        }
    }

    /// Points `alias` at `key_id`; returns its previous target.
    pub(crate) fn set_alias(&mut self, alias: &str, key_id: String) -> Option<String> {
        self.touch_alias(alias);
        self.st.aliases.insert(alias.to_string(), key_id)
    }

    fn touch_secret(&mut self, name: &str) {
        if !self.undo.secrets.contains_key(name) {
            self.undo
                .secrets
                .insert(name.to_string(), self.st.secrets.get(name).cloned());
        }
    }

    /// A secret to change.
    pub(crate) fn secret_mut(&mut self, name: &str) -> Option<&mut SecretRecord> {
        if !self.st.secrets.contains_key(name) {
            return None;
        }
        self.touch_secret(name);
        self.st.secrets.get_mut(name)
    }

    /// Adds (or replaces) a secret.
    pub(crate) fn insert_secret(&mut self, rec: SecretRecord) {
        let name = rec.name.clone();
        self.touch_secret(&name);
        self.st.secrets.insert(name, rec);
    }

    /// Removes a secret.
    pub(crate) fn remove_secret(&mut self, name: &str) -> Option<SecretRecord> {
        // Its policy goes with it: a later secret of the same name starts from the default.
        if self
            .st
            .iam
            .as_ref()
            .is_some_and(|i| i.secret_policies.contains_key(name))
            && let Ok(iam) = self.iam_mut(|| Err(Error::Internal("principals table")))
        {
            iam.secret_policies.remove(name);
        }
        self.touch_secret(name);
        self.st.secrets.remove(name)
    }

    /// The principals table to change, made (with `make`) if the store has none yet.
    pub(crate) fn iam_mut(
        &mut self,
        make: impl FnOnce() -> Result<crate::access::Iam>,
    ) -> Result<&mut crate::access::Iam> {
        if self.undo.iam.is_none() {
            self.undo.iam = Some(self.st.iam.clone());
        }
        if self.st.iam.is_none() {
            self.st.iam = Some(alloc::boxed::Box::new(make()?));
        }
        self.st
            .iam
            .as_deref_mut()
            .ok_or(Error::Internal("principals table"))
    }

    /// Removes `alias`; returns its target.
    pub(crate) fn remove_alias(&mut self, alias: &str) -> Option<String> {
        self.touch_alias(alias);
        self.st.aliases.remove(alias)
    }
}

impl Undo {
    /// Whether the mutation touched nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
            && self.aliases.is_empty()
            && self.secrets.is_empty()
            && self.iam.is_none()
    }

    /// The journal delta: the touched entries as they are in `st` now. Key puts come
    /// first and key deletions last, so an alias never names a missing key mid-record.
    pub(crate) fn delta(&self, st: &State) -> SecretBytes {
        let mut w = Writer::secret();
        w.u32(0); // the operation count, filled in below
        let mut n: u32 = 0;
        for id in self.keys.keys() {
            if let Some(k) = st.keys.get(id) {
                w.u8(OP_PUT_KEY_V2);
                encode_key(&mut w, k);
                n += 1;
            }
        }
        for (a, before) in &self.aliases {
            match (st.aliases.get(a), before) {
                (Some(id), _) => {
                    w.u8(OP_PUT_ALIAS);
                    w.str16(a);
                    w.str16(id);
                }
                (None, Some(_)) => {
                    w.u8(OP_DELETE_ALIAS);
                    w.str16(a);
                }
                (None, None) => continue,
            }
            n += 1;
        }
        for (name, before) in &self.secrets {
            match (st.secrets.get(name), before) {
                (Some(rec), _) if rec.has_stored() => {
                    w.u8(OP_PUT_SECRET_V2);
                    encode_secret(&mut w, rec, 2, &BTreeMap::new());
                }
                (Some(rec), _) => {
                    w.u8(OP_PUT_SECRET);
                    encode_secret(&mut w, rec, 1, &BTreeMap::new());
                }
                (None, Some(_)) => {
                    w.u8(OP_DELETE_SECRET);
                    w.str16(name);
                }
                (None, None) => continue,
            }
            n += 1;
        }
        if self.iam.is_some()
            && let Some(iam) = &st.iam
        {
            w.u8(OP_PUT_IAM);
            iam.encode(&mut w);
            n += 1;
        }
        for (id, before) in &self.keys {
            if before.is_some() && !st.keys.contains_key(id) {
                w.u8(OP_DELETE_KEY);
                w.str16(id);
                n += 1;
            }
        }
        if let Some(count) = w.buf.get_mut(..4) {
            count.copy_from_slice(&n.to_be_bytes());
        }
        SecretBytes::new(core::mem::take(&mut w.buf))
    }

    /// Values-file spans the mutation let go of: a touched secret used them before
    /// and uses them no more (a trimmed, deleted or purged version).
    pub(crate) fn released_spans(&self, st: &State) -> Vec<ValueSpan> {
        let mut out = Vec::new();
        for (name, before) in &self.secrets {
            let Some(before) = before else { continue };
            let now: Vec<ValueSpan> = st
                .secrets
                .get(name)
                .map(|r| r.spans().collect())
                .unwrap_or_default();
            out.extend(before.spans().filter(|s| !now.contains(s)));
        }
        out
    }

    /// The inline values of the secrets the mutation touched (name, VersionId,
    /// bytes): what a storage with a values file moves there before the record is
    /// written.
    pub(crate) fn inline_values(
        &self,
        st: &State,
    ) -> Vec<(String, String, alloc::sync::Arc<[u8]>)> {
        self.secrets
            .keys()
            .filter_map(|name| st.secrets.get(name))
            .flat_map(SecretRecord::inline_values)
            .collect()
    }

    /// Puts every touched entry of `st` back as it was.
    pub(crate) fn rollback(self, st: &mut State) {
        if let Some(before) = self.iam {
            st.iam = before;
        }
        for (name, before) in self.secrets {
            match before {
                Some(rec) => {
                    st.secrets.insert(name, rec);
                }
                None => {
                    st.secrets.remove(&name);
                }
            }
        }
        for (a, before) in self.aliases {
            match before {
                Some(id) => {
                    st.aliases.insert(a, id);
                }
                None => {
                    st.aliases.remove(&a);
                }
            }
        }
        // Keys added by the mutation leave `order`; removed ones go back where they
        // were, undoing the removals last-first.
        for (id, before) in &self.keys {
            if before.is_none() && st.keys.contains_key(id) {
                st.order.retain(|k| k != id);
            }
        }
        for (pos, id) in self.removed.into_iter().rev() {
            let at = pos.min(st.order.len());
            st.order.insert(at, id);
        }
        for (id, before) in self.keys {
            match before {
                Some(rec) => {
                    st.keys.insert(id, rec);
                }
                None => {
                    st.keys.remove(&id);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(len: u32) -> SecretRecord {
        SecretRecord {
            name: "s".into(),
            secret_type: "Generic".into(),
            description: String::new(),
            encryption_key_id: "k".into(),
            creation_ms: 0,
            update_ms: 0,
            planned_delete_ms: None,
            tags: BTreeMap::new(),
            extended_config: None,
            rotation_interval_secs: None,
            last_rotation_ms: None,
            rotation_retry_ms: None,
            rotation_failures: 0,
            versions: alloc::vec![SecretVersionRecord {
                version_id: "v1".into(),
                creation_ms: 0,
                stages: Vec::new(),
                data_type: 0,
                wrapped_key: Vec::new(),
                nonce: [0; 12],
                value: SecretValue::Stored(ValueSpan {
                    generation: 0,
                    offset: 8,
                    len,
                }),
            }],
        }
    }

    fn round_trip(len: u32) -> Result<SecretRecord> {
        let mut w = Writer::secret();
        encode_secret(&mut w, &record(len), 2, &BTreeMap::new());
        decode_secret(&mut Reader::new(&w.buf), 2, 0)
    }

    /// A span names at most 1 MiB: a store cannot make a reader allocate gigabytes
    /// (the length reaches `read_value` as an allocation size).
    #[test]
    fn values_file_spans_are_bounded() {
        assert_eq!(
            round_trip(30_736).unwrap().versions[0].value,
            SecretValue::Stored(ValueSpan {
                generation: 0,
                offset: 8,
                len: 30_736
            })
        );
        assert!(round_trip(1 << 20).is_ok());
        for bad in [0, 15, (1 << 20) + 1, u32::MAX] {
            assert_eq!(
                round_trip(bad).unwrap_err().code(),
                "Rejected.StoreCorrupted"
            );
        }
    }
}
