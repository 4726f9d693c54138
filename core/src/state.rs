//! The KMS state held in the store, and its binary form (docs/FORMAT.md §State).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::backend::KeyHandle;
use crate::codec::{Reader, Writer};
use crate::error::{Error, Result};
use crate::kms::{KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel};
use crate::secret::SecretBytes;

const STATE_VERSION: u8 = 1;

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
}

#[derive(Default, Debug)]
pub(crate) struct State {
    pub(crate) keys: BTreeMap<String, KeyRecord>,
    /// Key ids in creation order (ListKeys order).
    pub(crate) order: Vec<String>,
    /// Alias name (`alias/…`) → KeyId.
    pub(crate) aliases: BTreeMap<String, String>,
}

impl State {
    /// The earliest scheduled deletion, if any (O(keys); called on open and after
    /// deletions are scheduled, cancelled or carried out).
    pub(crate) fn next_deletion(&self) -> Option<u64> {
        self.keys.values().filter_map(|k| k.delete_ms).min()
    }

    /// The earliest automatic rotation due among Enabled keys.
    pub(crate) fn next_rotation(&self) -> Option<u64> {
        self.keys
            .values()
            .filter(|k| k.state == KeyState::Enabled)
            .filter_map(KeyRecord::next_rotation_ms)
            .min()
    }

    pub(crate) fn encode(&self) -> SecretBytes {
        let mut w = Writer::new();
        w.u8(STATE_VERSION);
        w.u32(u32::try_from(self.order.len()).unwrap_or(u32::MAX));
        for id in &self.order {
            let Some(k) = self.keys.get(id) else { continue };
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
        }
        w.u32(u32::try_from(self.aliases.len()).unwrap_or(u32::MAX));
        for (a, id) in &self.aliases {
            w.str16(a);
            w.str16(id);
        }
        SecretBytes::new(core::mem::take(&mut w.buf))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<State> {
        let bad = |what| Error::StoreCorrupted(what);
        let mut r = Reader::new(bytes);
        match r.u8() {
            Some(STATE_VERSION) => {}
            Some(v) => return Err(Error::UnsupportedStoreVersion(v)),
            None => return Err(bad("empty state")),
        }
        let n = r.u32().ok_or(bad("truncated state"))?;
        let mut st = State::default();
        for _ in 0..n {
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
            let rec = KeyRecord {
                tags,
                deletion_protection,
                key_id: key_id.clone(),
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
            };
            if st.keys.insert(key_id.clone(), rec).is_some() {
                return Err(bad("duplicate key id"));
            }
            st.order.push(key_id);
        }
        let na = r.u32().ok_or(bad("truncated alias table"))?;
        for _ in 0..na {
            let a = r.str16().ok_or(bad("truncated alias"))?;
            let id = r.str16().ok_or(bad("truncated alias"))?;
            if !st.keys.contains_key(&id) {
                return Err(bad("alias names a missing key"));
            }
            st.aliases.insert(a, id);
        }
        if r.remaining() != 0 {
            return Err(bad("trailing bytes after state"));
        }
        Ok(st)
    }
}
