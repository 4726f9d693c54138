//! The envelope data-key cache: reuse a data key (and its wrapped stanzas) for several
//! messages, and remember unwrapped data keys, so that a remote master key is not
//! called per message. Off by default; every limit is enforced on every use.

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use super::format::Stanza;
use crate::context::EncryptionContext;
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

pub(crate) struct EncEntry {
    pub(crate) key_ids: Vec<String>,
    pub(crate) ctx: Vec<u8>,
    pub(crate) data_key: SecretBytes,
    pub(crate) stanzas: Vec<Stanza>,
    pub(crate) created: u64,
    pub(crate) messages: u64,
    pub(crate) bytes: u64,
}

pub(crate) struct DecEntry {
    pub(crate) digest: [u8; 32],
    pub(crate) data_key: SecretBytes,
    pub(crate) key_id: String,
    pub(crate) key_version_id: String,
    pub(crate) created: u64,
    pub(crate) messages: u64,
}

/// The cache's state inside a [`crate::Kms`].
#[derive(Default)]
pub(crate) struct Cache {
    pub(crate) config: Option<DataKeyCacheConfig>,
    pub(crate) enc: Vec<EncEntry>,
    pub(crate) dec: Vec<DecEntry>,
}

impl Cache {
    pub(crate) fn expire(&mut self, now: u64) {
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

pub(crate) fn digest(body: &[u8], ctx: &EncryptionContext) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((body.len() as u64).to_be_bytes());
    h.update(body);
    h.update(ctx.aad());
    let mut out = [0u8; 32];
    out.copy_from_slice(h.finalize().as_slice());
    out
}
