//! `Kms`, the instance: opening a store (file, memory, image, backup), the store's own
//! operations (image, backup, passphrase, rekey, compaction), the write path every
//! mutation takes (`mutate`: journal record, group commit, rollback, durability) and
//! the key backends. What each action does is service code per family in
//! [`crate::service`] (`keys`, `aliases`, `crypto`, `asymmetric`, `import`, `envelope`,
//! `secrets`, `ram`, …), reached through the dispatch ([`crate::api`]).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::backend::KeyBackend;
use crate::backend::software::SoftwareBackend;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::state::{SecretValue, State, Txn, ValueSpan};
use crate::storage::journal::{self, KIND_DELTA, Opened, Sealer, Tail};
use crate::storage::{KdfParams, MemoryStorage, Storage, StoreInfo};
use crate::sync::AsyncMutex;

pub use crate::storage::image::RootSecret;
pub use crate::vocab::{
    DataKeySpec, KeyFormat, KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel,
};

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
    pub(crate) storage: Arc<dyn Storage>,
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
    pub(crate) next_deletion: spin::Mutex<Option<u64>>,
    /// Earliest automatic rotation due (ms).
    pub(crate) next_rotation: spin::Mutex<Option<u64>>,
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
        if kms.storage.supports_values() {
            // The state names its values file's generation: every other one beside
            // the store is what a compaction left (docs/FORMAT.md §Values file).
            // A leftover that cannot be removed now (a directory that cannot be
            // listed, a file that will not go) does not stop the store opening: it is
            // tried again at the next open and names nothing the state uses.
            let generation = kms.state.lock().values_generation;
            let _ = kms.storage.set_values_generation(generation).await;
        }
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
        // Values the values file keeps go into the image: it opens on its own. An
        // image is one sealed record, so they must fit in one (1 GiB).
        let spans = self.state.lock().spans();
        let inline: u64 = spans.iter().map(|s| u64::from(s.len)).sum();
        if inline >= u64::from(journal::MAX_RECORD_LEN) {
            return Err(Error::QuotaExceeded(
                "an image or backup holds its secret values inline, in one record of at most 1 GiB, and this store's values are larger: copy the store file with its values file (the one `strongroom store check` names) instead",
            ));
        }
        let mut values = alloc::collections::BTreeMap::new();
        for s in spans {
            let bytes = self
                .storage
                .read_value(s.generation, s.offset, s.len)
                .await?;
            values.insert(s.offset, Arc::<[u8]>::from(bytes));
        }
        let state = self.state.lock().encode_inlined(&values);
        drop(values);
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
        let kms = Self::open_inner(opts, false, Some(image.bytes)).await?;
        if kms.storage.supports_values() {
            // The restored store is whole with its values inline; moving them out is
            // for open time, so a failure here (no room for the values file) leaves
            // them inline for a later change or `compact_store` to move.
            let _w = kms.writer.lock().await;
            if let Err(e) = kms.move_values_out().await
                && kms.check_poisoned().is_err()
            {
                return Err(e);
            }
        }
        Ok(kms)
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

    /// VerifyStore: opens every secret value of the store through its CMK — read from
    /// the values file or the record, its data key unwrapped, its AES-GCM tag checked —
    /// and lists the versions that do not open. `store check` cannot do this (it has no
    /// CMK); key material needs no such pass: it is authenticated when the store opens.
    /// Plaintexts are wiped as soon as they verify.
    ///
    /// # Errors
    /// `Forbidden.NoPermission` for a caller other than the store's owner;
    /// `Rejected.Unsupported` on a connected Kms. A value that does not open is not an
    /// error: it is in `problems`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let report = kms.verify_store().await?;
    /// assert!(report.problems.is_empty());
    /// # });
    /// ```
    pub async fn verify_store(&self) -> Result<crate::api::VerifyStoreResponse> {
        crate::api::as_owner!(self, VerifyStore, crate::api::VerifyStoreRequest {})
    }

    /// CompactStore's service code.
    pub(crate) async fn compact_store_impl(&self) -> Result<()> {
        self.local_only("a connected Kms has no store of its own to compact")?;
        let _w = self.writer.lock().await;
        self.check_poisoned()?;
        self.move_values_out().await?;
        self.compact_values().await.map(|_| ())
    }

    /// A mutation's compaction (the writer lock held): the values file's too when it is
    /// due, whose snapshot then carries the change; else, or if that fails, the
    /// store's alone.
    async fn compact_for_commit(&self) -> Result<()> {
        if self.values_compaction_due().await && self.compact_values().await.unwrap_or(false) {
            return Ok(());
        }
        self.compact().await
    }

    /// Whether a mutation that compacts the store anyway should compact the values
    /// file too: its dead bytes are at least its live ones and at least 64 times the
    /// journal's compaction threshold (64 MiB by default), so the copy's cost stays
    /// proportional to the space it gives back.
    async fn values_compaction_due(&self) -> bool {
        if !self.storage.supports_values() {
            return false;
        }
        let live = self.state.lock().values_live_bytes();
        let min = self.journal.lock().compact_min_bytes.saturating_mul(64);
        let Ok(dead) = self.values_dead_bytes(live).await else {
            return false;
        };
        dead > 0 && dead >= live && dead >= min
    }

    /// The values file's bytes no version uses, given the `live` ones: zeroed values,
    /// values a crash left unnamed.
    async fn values_dead_bytes(&self, live: u64) -> Result<u64> {
        let bytes = self.storage.values_len().await?;
        Ok(bytes.saturating_sub(crate::storage::VALUES_MAGIC.len() as u64 + live))
    }

    /// Rewrites the values file without the bytes no version uses — zeroed values of
    /// versions that are gone, values a crash left unnamed — when it holds any: the
    /// live values are copied to the next generation's file (durably), a snapshot
    /// naming that file and the new spans is written, and then the old file is
    /// removed. A crash anywhere leaves a store that opens with every value: the
    /// snapshot names one generation, and opening removes the other file
    /// (docs/FORMAT.md §Values file). Reads under way keep working: a span names its
    /// generation. The writer lock must be held; writers wait for the copy.
    ///
    /// Answers whether it compacted (and so wrote a snapshot).
    async fn compact_values(&self) -> Result<bool> {
        if !self.storage.supports_values() {
            return Ok(false);
        }
        let (generation, spans) = {
            let st = self.state.lock();
            (st.values_generation, st.spans())
        };
        let live = spans.iter().map(|s| u64::from(s.len)).sum();
        if self.values_dead_bytes(live).await? == 0 {
            return Ok(false);
        }
        let next = generation
            .checked_add(1)
            .ok_or(Error::Internal("values-file generation"))?;
        let from: Vec<(u64, u32)> = spans.iter().map(|s| (s.offset, s.len)).collect();
        let offsets = self.storage.rewrite_values(next, &from).await?;
        if offsets.len() != spans.len() {
            let _ = self.storage.set_values_generation(generation).await;
            return Err(Error::Internal("values-file rewrite"));
        }
        // The writer lock is held, so the state's spans are as listed above, in the
        // same order: the i-th stored value moves to offsets[i] (or back to spans[i]).
        let relink = |forward: bool| {
            let mut st = self.state.lock();
            let mut i = 0;
            for rec in st.secrets.values_mut() {
                for v in &mut rec.versions {
                    if let SecretValue::Stored(s) = &mut v.value {
                        match (forward, offsets.get(i), spans.get(i)) {
                            (true, Some(&offset), _) => {
                                *s = ValueSpan {
                                    generation: next,
                                    offset,
                                    len: s.len,
                                };
                            }
                            (false, _, Some(old)) => *s = *old,
                            _ => {}
                        }
                        i += 1;
                    }
                }
            }
            st.values_generation = if forward { next } else { generation };
        };
        relink(true);
        if let Err(e) = self.compact().await {
            relink(false);
            // Removes the new file unless the storage cannot tell which snapshot it
            // kept (then it refuses everything until reopened, and the open keeps the
            // file the snapshot names).
            let _ = self.storage.set_values_generation(generation).await;
            return Err(e);
        }
        // A file that cannot be removed now is removed when the store is next opened.
        let _ = self.storage.set_values_generation(next).await;
        Ok(true)
    }

    /// Moves every secret value still inside the store's records (a store written
    /// before values files, a restored backup) to the storage's values file, then
    /// compacts, so the new snapshot names their spans. Without a values file it only
    /// compacts. The writer lock must be held.
    async fn move_values_out(&self) -> Result<()> {
        let moving: Vec<(String, String, Arc<[u8]>)> = if self.storage.supports_values() {
            let st = self.state.lock();
            st.secrets
                .values()
                .flat_map(crate::state::SecretRecord::inline_values)
                .collect()
        } else {
            Vec::new()
        };
        if moving.is_empty() {
            return self.compact().await;
        }
        let placed = self.place_values(&moving).await?;
        let set = |stored: bool| {
            let mut st = self.state.lock();
            for ((name, version_id, bytes), span) in moving.iter().zip(&placed) {
                let value = if stored {
                    SecretValue::Stored(*span)
                } else {
                    SecretValue::Inline(bytes.clone())
                };
                st.set_value(name, version_id, value);
            }
        };
        set(true);
        if let Err(e) = self.compact().await {
            set(false);
            self.erase_values(&placed).await;
            return Err(e);
        }
        Ok(())
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
        let (out, undo, seq) = {
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
            // Counted while the state lock is held, so a reader that saw this change
            // also sees a count that covers it.
            let seq = self.applied_seq.fetch_add(1, Ordering::AcqRel) + 1;
            (out, undo, seq)
        };
        self.commit(w, undo, seq).await?;
        Ok(out)
    }

    /// Makes one applied change durable (the part of [`Kms::mutate`] that does not
    /// depend on the change's result type, so it is compiled once): moves new values
    /// to the values file, appends the journal record (or compacts), flushes, and
    /// erases the values-file spans the change let go of. Undoes the change if
    /// writing fails.
    async fn commit(
        &self,
        w: crate::sync::Guard<'_>,
        undo: crate::state::Undo,
        seq: u64,
    ) -> Result<()> {
        // Values the storage keeps in its values file go there before the record that
        // names them; spans no version uses any more are erased once the record is
        // durable.
        let (moving, released) = if self.storage.supports_values() {
            let st = self.state.lock();
            (undo.inline_values(&st), undo.released_spans(&st))
        } else {
            (Vec::new(), Vec::new())
        };
        // Undoes the change; calls that saw it meanwhile then fail (`await_durable`).
        let rollback = |undo: crate::state::Undo| {
            let mut st = self.state.lock();
            undo.rollback(&mut st);
            self.rollbacks.fetch_add(1, Ordering::AcqRel);
        };
        let placed = match self.place_values(&moving).await {
            Ok(p) => p,
            Err(e) => {
                rollback(undo);
                return Err(e);
            }
        };
        let delta = {
            let mut st = self.state.lock();
            for ((name, version_id, _), span) in moving.iter().zip(&placed) {
                st.set_value(name, version_id, SecretValue::Stored(*span));
            }
            undo.delta(&st)
        };
        drop(moving);
        let append = {
            let j = self.journal.lock();
            self.storage.supports_append()
                && j.tail.len > 0
                && !(j.info.journal_bytes >= j.compact_min_bytes
                    && j.info.journal_bytes >= j.info.snapshot_bytes)
        };
        if !append {
            drop(delta);
            if let Err(e) = Box::pin(self.compact_for_commit()).await {
                rollback(undo);
                self.erase_values(&placed).await;
                return Err(e);
            }
            self.durable_seq.fetch_max(seq, Ordering::AcqRel);
            drop(w);
            self.erase_values(&released).await;
            return Ok(());
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
                self.erase_values(&placed).await;
                return Err(e);
            }
        };
        if let Err(e) = self.storage.append(tail.len, &sealed.bytes).await {
            rollback(undo);
            self.erase_values(&placed).await;
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
        self.erase_values(&released).await;
        Ok(())
    }

    /// Appends `values` to the storage's values file and makes them durable; answers
    /// each one's span. On failure nothing appended stays readable.
    pub(crate) async fn place_values(
        &self,
        values: &[(String, String, Arc<[u8]>)],
    ) -> Result<Vec<ValueSpan>> {
        let mut placed = Vec::with_capacity(values.len());
        if values.is_empty() {
            return Ok(placed);
        }
        // The writer lock is held: the state's generation is the storage's current.
        let generation = self.state.lock().values_generation;
        let mut run = async || -> Result<()> {
            for (_, _, bytes) in values {
                let len = u32::try_from(bytes.len())
                    .map_err(|_| Error::Internal("secret value larger than 4 GiB"))?;
                let offset = self.storage.append_value(bytes).await?;
                placed.push(ValueSpan {
                    generation,
                    offset,
                    len,
                });
            }
            self.storage.sync_values().await
        };
        match run().await {
            Ok(()) => Ok(placed),
            Err(e) => {
                self.erase_values(&placed).await;
                Err(e)
            }
        }
    }

    /// Overwrites values-file spans no version uses with zeros. Best effort: the
    /// change that let go of them is durable already, and a span left behind is
    /// unreadable without the data key its record took along (it goes at the
    /// store's next values-file compaction, [`Kms::compact_store`]).
    pub(crate) async fn erase_values(&self, spans: &[ValueSpan]) {
        for s in spans {
            let _ = self
                .storage
                .erase_value(s.generation, s.offset, s.len)
                .await;
        }
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

    /// Carries out what is due now on the store's clock — scheduled key deletions,
    /// expiries of imported key material, automatic key rotations, planned secret
    /// deletions, automatic secret rotations (through the installed rotator) and their
    /// retries — without waiting for the next action. Every action does this first; a
    /// long-running process that may go idle calls it from a timer (`strongroom serve`
    /// does, every `--sweep-interval-s`). Cheap when nothing is due (one clock read).
    ///
    /// # Errors
    /// Store failures (`Rejected.StoreIo`, …) of the changes it makes; a failed automatic
    /// secret rotation is not an error here (it is retried with backoff and shows in
    /// DescribeSecret), as for the action that would have run it.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.run_due().await?;
    /// # });
    /// ```
    pub async fn run_due(&self) -> Result<()> {
        self.check_poisoned()?;
        self.sweep().await
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
}

#[cfg(all(test, feature = "std", feature = "getrandom"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::state::{SecretRecord, SecretVersionRecord};

    /// An image is one record of at most 1 GiB: a store whose values file holds more
    /// than that cannot be exported or backed up inline, and says so before reading
    /// any value.
    #[test]
    fn an_image_of_values_over_one_gib_is_refused_with_its_reason() {
        let kms = pollster::block_on(Kms::open(KmsOptions {
            env: Env::system(),
            storage: Arc::new(MemoryStorage::with_values_file()),
            root: RootSecret::passphrase("pw"),
            kdf: KdfParams::insecure_fast(),
            backend: None,
        }))
        .unwrap();
        let version = |id: &str, offset: u64| SecretVersionRecord {
            version_id: id.into(),
            creation_ms: 0,
            stages: Vec::new(),
            data_type: 0,
            wrapped_key: Vec::new(),
            nonce: [0; 12],
            value: SecretValue::Stored(crate::state::ValueSpan {
                generation: 0,
                offset,
                len: 1 << 29,
            }),
        };
        kms.state.lock().secrets.insert(
            "big".into(),
            SecretRecord {
                name: "big".into(),
                secret_type: "Generic".into(),
                description: String::new(),
                encryption_key_id: String::new(),
                creation_ms: 0,
                update_ms: 0,
                planned_delete_ms: None,
                tags: alloc::collections::BTreeMap::new(),
                extended_config: None,
                rotation_interval_secs: None,
                last_rotation_ms: None,
                rotation_retry_ms: None,
                rotation_failures: 0,
                versions: alloc::vec![version("v1", 8), version("v2", 8 + (1 << 29))],
            },
        );
        let e = pollster::block_on(kms.export_image(None)).unwrap_err();
        assert_eq!(e.code(), "Rejected.QuotaExceeded");
        assert!(alloc::format!("{e}").contains("values file"), "{e}");
    }
}
