//! Where the sealed store is kept.
//!
//! The store (docs/FORMAT.md §Store, version 2) is one byte string: a header, a
//! snapshot record and journal records appended after it. A [`Storage`] keeps those
//! bytes and never sees a key in the clear. It can always replace the whole store
//! atomically ([`Storage::save`]: creation, compaction, rekey); a storage that can
//! also append ([`Storage::append`] + [`Storage::sync`]) gets one small record per
//! mutation instead of a rewrite. [`MemoryStorage`] is for tests and throwaway
//! instances; [`FileStorage`] (feature `std`) is the native single-file store with
//! group commit; bindings plug their own (the Node facade writes files from JS,
//! browsers keep the store as bytes). A storage may also keep secret values apart,
//! in a values file ([`Storage::supports_values`], docs/FORMAT.md §Values file), so
//! that opening a store reads metadata only.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::backend::{BoxFuture, MaybeSendSync};
use crate::error::Result;

#[cfg(feature = "std")]
mod audit_file;
#[cfg(feature = "std")]
mod file;
pub(crate) mod image;
pub(crate) mod journal;
pub mod secret_cache_file;

#[cfg(feature = "std")]
pub use audit_file::FileAuditSink;
#[cfg(feature = "std")]
pub use file::{FileStorage, ValuesFileCheck, check_values_file, create_private, values_path};
pub use image::{KdfParams, MAX_ARGON2_KIB, RootSecret};
pub use journal::{
    Span, StoreInfo, fuzz_seed_plaintexts, inspect, inspect_values, replay_plaintexts,
};

/// The store format version this build writes (docs/FORMAT.md §Store; CHANGELOG.md's
/// compatibility table).
pub const STORE_VERSION: u8 = journal::VERSION;
/// The store format versions this build opens (version 1 is rewritten as version 2 on
/// its first change).
pub const STORE_VERSIONS_READ: &[u8] = &[1, journal::VERSION];

/// The first bytes of a values file (docs/FORMAT.md §Values file).
pub const VALUES_MAGIC: &[u8; 8] = b"SRSV\x01\0\0\0";

/// Keeps one sealed store.
pub trait Storage: MaybeSendSync {
    /// The store's bytes, or `None` when there is no store yet.
    ///
    /// # Errors
    /// `Rejected.StoreIo` when reading fails.
    fn load(&self) -> BoxFuture<'_, Result<Option<Vec<u8>>>>;

    /// Replaces the whole store, durably and atomically: after `Ok` the new bytes
    /// survive a crash; after `Err` (or a crash before `Ok`) the old ones are intact.
    ///
    /// # Errors
    /// `Rejected.StoreIo` or `Rejected.StoreFull` when writing fails.
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, Result<()>>;

    /// Whether [`Storage::append`] works. When it does not, every mutation saves the
    /// whole store.
    fn supports_append(&self) -> bool {
        false
    }

    /// Writes `record` at byte offset `at` — the end of the store as the caller last
    /// read or wrote it, so anything after it (a torn tail) is dropped. The bytes need
    /// not be durable until [`Storage::sync`]. After `Err`, nothing past `at` is kept.
    ///
    /// # Errors
    /// `Rejected.StoreIo` or `Rejected.StoreFull`; `Rejected.Unsupported` when
    /// [`Storage::supports_append`] is false.
    fn append<'a>(&'a self, at: u64, record: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let _ = (at, record);
        Box::pin(async { Err(crate::Error::Unsupported("this storage cannot append")) })
    }

    /// Releases the store — its writer lock and handles — for another opener; every
    /// later read or write fails with `Rejected.StoreClosed`. The default does
    /// nothing (in-memory stores hold nothing to release).
    ///
    /// # Errors
    /// Releasing failed; the store is closed anyway.
    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Whether this storage keeps secret values in a values file beside the store
    /// (docs/FORMAT.md §Values file). When it does, each new secret version's sealed
    /// value is appended there ([`Storage::append_value`], [`Storage::sync_values`])
    /// before the journal record that names its span, so opening the store reads no
    /// value; when it does not, values stay inside the store's records.
    fn supports_values(&self) -> bool {
        false
    }

    /// Appends `value` (a sealed secret value) to the values file and answers its
    /// byte offset. Not durable until [`Storage::sync_values`].
    ///
    /// # Errors
    /// `Rejected.StoreIo` or `Rejected.StoreFull`; `Rejected.Unsupported` when
    /// [`Storage::supports_values`] is false.
    fn append_value<'a>(&'a self, value: &'a [u8]) -> BoxFuture<'a, Result<u64>> {
        let _ = value;
        Box::pin(async {
            Err(crate::Error::Unsupported(
                "this storage keeps no values file",
            ))
        })
    }

    /// Makes every value appended so far durable.
    ///
    /// # Errors
    /// `Rejected.StoreIo`.
    fn sync_values(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Reads the `len` bytes at `offset` of the values file of `generation` (the
    /// current one, or one a compaction has just replaced, which calls already under
    /// way may still read).
    ///
    /// # Errors
    /// `Rejected.StoreCorrupted` when the values file is missing or shorter than the
    /// span; `Rejected.StoreIo` when reading fails; `Rejected.Unsupported` when this
    /// storage keeps no values file (a store that names one opened elsewhere: move
    /// it with `exportImage` or a backup, which carry the values inline).
    fn read_value(&self, generation: u32, offset: u64, len: u32) -> BoxFuture<'_, Result<Vec<u8>>> {
        let _ = (generation, offset, len);
        Box::pin(async {
            Err(crate::Error::Unsupported(
                "this storage cannot read a values file (move stores with exportImage or a backup)",
            ))
        })
    }

    /// Overwrites the span with zeros, durably: the value of a version that is gone
    /// leaves the file. A span of another generation than the current one is left
    /// alone (its file is on its way out whole).
    ///
    /// # Errors
    /// `Rejected.StoreIo`; `Rejected.Unsupported` as for [`Storage::read_value`].
    fn erase_value(&self, generation: u32, offset: u64, len: u32) -> BoxFuture<'_, Result<()>> {
        let _ = (generation, offset, len);
        Box::pin(async {
            Err(crate::Error::Unsupported(
                "this storage keeps no values file",
            ))
        })
    }

    /// Makes the values file of `generation` the current one — where values are
    /// appended — and removes the values files of every other generation: those a
    /// values-file compaction leaves behind, or that a crash left when it interrupted
    /// one before or after its snapshot (docs/FORMAT.md §Values file). Called when the
    /// store is opened (with the state's generation) and once a compaction's snapshot
    /// is durable. A file removed here stays readable to calls already under way
    /// where the platform allows.
    ///
    /// # Errors
    /// `Rejected.StoreIo` when a file cannot be removed (it is tried again at the next
    /// open); the generation is current even then.
    fn set_values_generation(&self, generation: u32) -> BoxFuture<'_, Result<()>> {
        let _ = generation;
        Box::pin(async { Ok(()) })
    }

    /// Writes the values file of `generation` (not the current one) holding the bytes
    /// of `spans` of the current values file back to back, in the order given, and
    /// makes it durable; answers each span's offset in the new file. The current file
    /// is not changed. After `Err` the new file is gone.
    ///
    /// # Errors
    /// `Rejected.StoreIo` / `Rejected.StoreFull` when writing fails;
    /// `Rejected.StoreCorrupted` when a span is not in the current file;
    /// `Rejected.Unsupported` as for [`Storage::read_value`].
    fn rewrite_values<'a>(
        &'a self,
        generation: u32,
        spans: &'a [(u64, u32)],
    ) -> BoxFuture<'a, Result<Vec<u64>>> {
        let _ = (generation, spans);
        Box::pin(async {
            Err(crate::Error::Unsupported(
                "this storage keeps no values file",
            ))
        })
    }

    /// The current values file's length in bytes, header included (0 when there is
    /// none yet).
    ///
    /// # Errors
    /// `Rejected.StoreIo`.
    fn values_len(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async { Ok(0) })
    }

    /// Makes every append made so far durable. Callers that sync at the same time may
    /// share one flush (group commit).
    ///
    /// # Errors
    /// `Rejected.StoreIo`: the appended bytes may not be durable, and the storage
    /// refuses further appends until reopened.
    fn sync(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// A store image in memory.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    image: spin::Mutex<Option<Vec<u8>>>,
    /// Values files in memory ([`MemoryStorage::with_values_file`]).
    values: Option<spin::Mutex<MemoryValues>>,
}

/// The in-memory values files: the current one (generation, bytes) and others a
/// compaction wrote or replaced.
#[derive(Debug)]
struct MemoryValues {
    current: u32,
    file: Vec<u8>,
    others: Vec<(u32, Vec<u8>)>,
}

impl Default for MemoryValues {
    fn default() -> Self {
        MemoryValues {
            current: 0,
            file: VALUES_MAGIC.to_vec(),
            others: Vec::new(),
        }
    }
}

impl MemoryStorage {
    /// Empty: opening a Kms on it creates a new store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Holding an existing image.
    #[must_use]
    pub fn with_image(image: Vec<u8>) -> Self {
        MemoryStorage {
            image: spin::Mutex::new(Some(image)),
            values: None,
        }
    }
    /// Empty, and keeping secret values apart from the store as a file store does
    /// ([`Storage::supports_values`]): for tests of that path. Its
    /// [`MemoryStorage::image`] then names values it does not hold; export images
    /// with `Kms::export_image`, which puts them back inline.
    #[must_use]
    pub fn with_values_file() -> Self {
        MemoryStorage {
            image: spin::Mutex::new(None),
            values: Some(spin::Mutex::new(MemoryValues::default())),
        }
    }
    /// The image currently held.
    #[must_use]
    pub fn image(&self) -> Option<Vec<u8>> {
        self.image.lock().clone()
    }
    /// The current in-memory values file (empty without
    /// [`MemoryStorage::with_values_file`]).
    #[must_use]
    pub fn values_file(&self) -> Vec<u8> {
        self.values
            .as_ref()
            .map(|v| v.lock().file.clone())
            .unwrap_or_default()
    }
}

impl Storage for MemoryStorage {
    fn load(&self) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        let v = self.image.lock().clone();
        Box::pin(async move { Ok(v) })
    }
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        *self.image.lock() = Some(image.to_vec());
        Box::pin(async move { Ok(()) })
    }
    fn supports_append(&self) -> bool {
        true
    }
    fn append<'a>(&'a self, at: u64, record: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let r = match self.image.lock().as_mut() {
            Some(v) if at <= v.len() as u64 => {
                v.truncate(usize::try_from(at).unwrap_or(usize::MAX));
                v.extend_from_slice(record);
                Ok(())
            }
            _ => Err(crate::Error::StoreIo(alloc::string::String::from(
                "append past the end of the in-memory store",
            ))),
        };
        Box::pin(async move { r })
    }
    fn supports_values(&self) -> bool {
        self.values.is_some()
    }
    fn append_value<'a>(&'a self, value: &'a [u8]) -> BoxFuture<'a, Result<u64>> {
        let r = match &self.values {
            Some(v) => {
                let mut v = v.lock();
                let at = v.file.len() as u64;
                v.file.extend_from_slice(value);
                Ok(at)
            }
            None => Err(crate::Error::Unsupported(
                "this storage keeps no values file",
            )),
        };
        Box::pin(async move { r })
    }
    fn read_value(&self, generation: u32, offset: u64, len: u32) -> BoxFuture<'_, Result<Vec<u8>>> {
        let r = match &self.values {
            Some(v) => {
                let v = v.lock();
                let empty = Vec::new();
                let f = if generation == v.current {
                    &v.file
                } else {
                    v.others
                        .iter()
                        .find(|f| f.0 == generation)
                        .map_or(&empty, |f| &f.1)
                };
                usize::try_from(offset)
                    .ok()
                    .and_then(|o| f.get(o..o.checked_add(len as usize)?))
                    .map(<[u8]>::to_vec)
                    .ok_or(crate::Error::StoreCorrupted(
                        "the values file is shorter than the store says",
                    ))
            }
            None => Err(crate::Error::Unsupported(
                "this storage cannot read a values file (move stores with exportImage or a backup)",
            )),
        };
        Box::pin(async move { r })
    }
    fn erase_value(&self, generation: u32, offset: u64, len: u32) -> BoxFuture<'_, Result<()>> {
        if let Some(v) = &self.values {
            let mut v = v.lock();
            if generation == v.current {
                let f = &mut v.file;
                let o = usize::try_from(offset).unwrap_or(usize::MAX);
                let end = o.saturating_add(len as usize).min(f.len());
                if let Some(span) = f.get_mut(o.min(end)..end) {
                    span.fill(0);
                }
            }
        }
        Box::pin(async { Ok(()) })
    }
    fn set_values_generation(&self, generation: u32) -> BoxFuture<'_, Result<()>> {
        if let Some(v) = &self.values {
            let mut v = v.lock();
            if v.current != generation {
                let next = v
                    .others
                    .iter_mut()
                    .find(|f| f.0 == generation)
                    .map(|f| core::mem::take(&mut f.1))
                    .unwrap_or_else(|| VALUES_MAGIC.to_vec());
                v.file = next;
                v.current = generation;
            }
            v.others.clear();
        }
        Box::pin(async { Ok(()) })
    }
    fn rewrite_values<'a>(
        &'a self,
        generation: u32,
        spans: &'a [(u64, u32)],
    ) -> BoxFuture<'a, Result<Vec<u64>>> {
        let r = match &self.values {
            Some(v) => {
                let mut v = v.lock();
                let mut out = VALUES_MAGIC.to_vec();
                let mut at = Vec::with_capacity(spans.len());
                let from = &v.file;
                let mut r = Ok(());
                for &(o, l) in spans {
                    match usize::try_from(o)
                        .ok()
                        .and_then(|o| from.get(o..o.checked_add(l as usize)?))
                    {
                        Some(b) => {
                            at.push(out.len() as u64);
                            out.extend_from_slice(b);
                        }
                        None => {
                            r = Err(crate::Error::StoreCorrupted(
                                "the values file is shorter than the store says",
                            ));
                            break;
                        }
                    }
                }
                r.map(|()| {
                    v.others.retain(|f| f.0 != generation);
                    v.others.push((generation, out));
                    at
                })
            }
            None => Err(crate::Error::Unsupported(
                "this storage keeps no values file",
            )),
        };
        Box::pin(async move { r })
    }
    fn values_len(&self) -> BoxFuture<'_, Result<u64>> {
        let n = self
            .values
            .as_ref()
            .map_or(0, |v| v.lock().file.len() as u64);
        Box::pin(async move { Ok(n) })
    }
}
