//! The envelope data-key cache: reuse a data key (and its wrapped stanzas) for several
//! messages, and remember unwrapped data keys, so that a remote master key is not
//! called per message. Off by default; every limit is enforced on every use.

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use super::format::Stanza;
use crate::context::EncryptionContext;
use crate::kms::Kms;
use crate::secret::SecretBytes;

/// Limits of the data-key cache. A cached data key is used while all hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataKeyCacheConfig {
    /// Maximum age of an entry, in milliseconds (by the injected clock).
    pub max_age_ms: u64,
    /// Maximum messages encrypted (or decrypted) with one cached data key.
    pub max_messages: u64,
    /// Maximum plaintext bytes encrypted with one cached data key.
    pub max_bytes: u64,
    /// Maximum entries held (oldest evicted first).
    pub capacity: usize,
}

impl Default for DataKeyCacheConfig {
    /// 5 minutes, 1,000 messages, 1 GiB, 64 entries.
    fn default() -> Self {
        DataKeyCacheConfig {
            max_age_ms: 300_000,
            max_messages: 1000,
            max_bytes: 1 << 30,
            capacity: 64,
        }
    }
}

struct EncEntry {
    key_ids: Vec<String>,
    ctx: Vec<u8>,
    data_key: SecretBytes,
    stanzas: Vec<Stanza>,
    created: u64,
    messages: u64,
    bytes: u64,
}

struct DecEntry {
    digest: [u8; 32],
    data_key: SecretBytes,
    key_id: String,
    key_version_id: String,
    created: u64,
    messages: u64,
}

/// The cache's state inside a [`Kms`].
#[derive(Default)]
pub(crate) struct Cache {
    config: Option<DataKeyCacheConfig>,
    enc: Vec<EncEntry>,
    dec: Vec<DecEntry>,
}

impl Cache {
    fn expire(&mut self, now: u64) {
        let Some(c) = self.config else {
            self.enc.clear();
            self.dec.clear();
            return;
        };
        let fresh = |created: u64| now.saturating_sub(created) < c.max_age_ms && now >= created;
        self.enc
            .retain(|e| fresh(e.created) && e.messages < c.max_messages && e.bytes <= c.max_bytes);
        self.dec
            .retain(|e| fresh(e.created) && e.messages < c.max_messages);
    }
}

fn digest(body: &[u8], ctx: &EncryptionContext) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((body.len() as u64).to_be_bytes());
    h.update(body);
    h.update(ctx.aad());
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finalize().as_slice());
    out
}

impl Kms {
    /// Turns the envelope data-key cache on (with these limits) or off (`None`).
    /// Either way every entry held so far is dropped.
    pub fn set_data_key_cache(&self, config: Option<DataKeyCacheConfig>) {
        let mut c = self.data_key_cache.lock();
        c.enc.clear();
        c.dec.clear();
        c.config = config.filter(|c| c.capacity > 0 && c.max_messages > 0 && c.max_age_ms > 0);
    }

    /// The cache's current limits, if it is on.
    #[must_use]
    pub fn data_key_cache(&self) -> Option<DataKeyCacheConfig> {
        self.data_key_cache.lock().config
    }

    pub(crate) fn cache_take_encrypt(
        &self,
        key_ids: &[String],
        ctx: &EncryptionContext,
        bytes: u64,
    ) -> Option<(SecretBytes, Vec<Stanza>)> {
        let now = self.env.now();
        let mut c = self.data_key_cache.lock();
        c.expire(now);
        let cfg = c.config?;
        let aad = ctx.aad();
        let pos = c
            .enc
            .iter()
            .position(|e| e.key_ids == key_ids && e.ctx == aad)?;
        let e = c.enc.get_mut(pos)?;
        if e.messages + 1 > cfg.max_messages || e.bytes.saturating_add(bytes) > cfg.max_bytes {
            c.enc.remove(pos);
            return None;
        }
        e.messages += 1;
        e.bytes += bytes;
        Some((e.data_key.clone(), e.stanzas.clone()))
    }

    pub(crate) fn cache_put_encrypt(
        &self,
        key_ids: &[String],
        ctx: &EncryptionContext,
        data_key: &SecretBytes,
        stanzas: &[Stanza],
        bytes: u64,
    ) {
        let now = self.env.now();
        let mut c = self.data_key_cache.lock();
        let Some(cfg) = c.config else { return };
        if bytes > cfg.max_bytes {
            return;
        }
        let aad = ctx.aad();
        c.enc.retain(|e| !(e.key_ids == key_ids && e.ctx == aad));
        if c.enc.len() >= cfg.capacity {
            c.enc.remove(0);
        }
        c.enc.push(EncEntry {
            key_ids: key_ids.to_vec(),
            ctx: aad,
            data_key: data_key.clone(),
            stanzas: stanzas.to_vec(),
            created: now,
            messages: 1,
            bytes,
        });
    }

    pub(crate) fn cache_get_decrypt(
        &self,
        body: &[u8],
        ctx: &EncryptionContext,
    ) -> Option<(SecretBytes, String, String)> {
        let now = self.env.now();
        let mut c = self.data_key_cache.lock();
        c.expire(now);
        c.config?;
        let d = digest(body, ctx);
        let e = c.dec.iter_mut().find(|e| e.digest == d)?;
        e.messages += 1;
        Some((
            e.data_key.clone(),
            e.key_id.clone(),
            e.key_version_id.clone(),
        ))
    }

    pub(crate) fn cache_put_decrypt(
        &self,
        body: &[u8],
        ctx: &EncryptionContext,
        data_key: &SecretBytes,
        key_id: &str,
        key_version_id: &str,
    ) {
        let now = self.env.now();
        let mut c = self.data_key_cache.lock();
        let Some(cfg) = c.config else { return };
        let d = digest(body, ctx);
        c.dec.retain(|e| e.digest != d);
        if c.dec.len() >= cfg.capacity {
            c.dec.remove(0);
        }
        c.dec.push(DecEntry {
            digest: d,
            data_key: data_key.clone(),
            key_id: key_id.into(),
            key_version_id: key_version_id.into(),
            created: now,
            messages: 1,
        });
    }
}
