#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Secret values in the values file beside the store (docs/FORMAT.md §Values file):
//! opening reads none of them; a version that goes (trimmed, deleted, purged, or
//! never acknowledged) is zeroed there; images and backups carry values inline and a
//! restore or a compaction moves inline values out; damage is reported, not served.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod common;

use pollster::block_on;
use strongroom::env::OsEntropy;
use strongroom::storage::{FileStorage, KdfParams, MemoryStorage, Storage};
use strongroom::time::ManualClock;
use strongroom::{
    BoxFuture, CreateSecretRequest, DeleteSecretRequest, DescribeSecretRequest, Env,
    GetSecretValueRequest, Kms, KmsOptions, PutSecretValueRequest, RootSecret, SecretBytes,
};

const DAY: u64 = 86_400_000;
const T0: u64 = 1_795_392_000_000;
const MAGIC: &[u8] = b"SRSV\x01\0\0\0";

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sr-values-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn open_with(storage: Arc<dyn Storage>, clock: &Arc<ManualClock>) -> Kms {
    block_on(Kms::open(KmsOptions {
        env: Env::new(Arc::new(OsEntropy), clock.clone()),
        storage,
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap()
}

fn open(path: &Path, clock: &Arc<ManualClock>) -> Kms {
    open_with(Arc::new(FileStorage::open(path).unwrap()), clock)
}

fn values_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_os_string();
    s.push(".values");
    PathBuf::from(s)
}

/// A value of `len` bytes that differs from any other this file makes.
fn value(tag: &str, len: usize) -> String {
    let mut v = format!("{tag}:");
    while v.len() < len {
        v.push_str(tag);
    }
    v.truncate(len);
    v
}

fn create(kms: &Kms, name: &str, data: &str) {
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: name.into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(data.as_bytes()),
        ..Default::default()
    }))
    .unwrap();
}

fn put(kms: &Kms, name: &str, vid: &str, data: &str) -> strongroom::Result<()> {
    block_on(kms.put_secret_value(PutSecretValueRequest {
        secret_name: name.into(),
        version_id: vid.into(),
        secret_data: SecretBytes::from_slice(data.as_bytes()),
        ..Default::default()
    }))
    .map(|_| ())
}

fn get(kms: &Kms, name: &str, vid: Option<&str>) -> strongroom::Result<String> {
    block_on(kms.get_secret_value(GetSecretValueRequest {
        secret_name: name.into(),
        version_id: vid.map(Into::into),
        ..Default::default()
    }))
    .map(|r| String::from_utf8(r.secret_data.expose().to_vec()).unwrap())
}

fn code<T>(r: strongroom::Result<T>) -> String {
    match r {
        Ok(_) => String::from("ok"),
        Err(e) => e.code().to_string(),
    }
}

#[test]
fn values_live_in_the_values_file_and_opening_reads_none() {
    let dir = tempdir("live");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    let v1 = value("first", 4096);
    let v2 = value("second", 20_000);
    {
        let kms = open(&path, &clock);
        create(&kms, "db", &v1);
        put(&kms, "db", "v2", &v2).unwrap();
        assert_eq!(get(&kms, "db", None).unwrap(), v2);
    }
    let values = std::fs::read(values_path(&path)).unwrap();
    assert_eq!(&values[..8], MAGIC);
    // Each value once, sealed (plaintext + 16-byte tag), in order of writing.
    assert_eq!(values.len(), 8 + (4096 + 16) + (20_000 + 16));
    // The store holds names and spans, not values.
    let store_len = std::fs::metadata(&path).unwrap().len();
    assert!(store_len < 4096, "store is {store_len} bytes");

    // The journal's layout-2 records replay; then the version-5 snapshot opens.
    for compact in [false, true] {
        let kms = open(&path, &clock);
        assert_eq!(get(&kms, "db", None).unwrap(), v2);
        assert_eq!(get(&kms, "db", Some("v1")).unwrap(), v1);
        if compact {
            block_on(kms.compact_store()).unwrap();
            assert_eq!(kms.store_info().unwrap().journal_records, 0);
        }
    }
    let kms = open(&path, &clock);
    assert_eq!(get(&kms, "db", Some("v1")).unwrap(), v1);
    drop(kms);

    // Opening reads no value: without the values file the store opens, its metadata
    // answers, and a value read says the store is damaged.
    let aside = dir.join("aside");
    std::fs::rename(values_path(&path), &aside).unwrap();
    {
        let kms = open(&path, &clock);
        block_on(kms.describe_secret(DescribeSecretRequest {
            secret_name: "db".into(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(code(get(&kms, "db", None)), "Rejected.StoreCorrupted");
    }
    // A flipped bit in a value: refused, never served.
    let mut bad = std::fs::read(&aside).unwrap();
    bad[8 + 100] ^= 1;
    std::fs::write(values_path(&path), &bad).unwrap();
    {
        let kms = open(&path, &clock);
        assert_eq!(code(get(&kms, "db", Some("v1"))), "Rejected.StoreCorrupted");
        assert_eq!(get(&kms, "db", Some("v2")).unwrap(), v2);
    }
    // A file that is not a values file.
    std::fs::write(values_path(&path), b"something else entirely").unwrap();
    {
        let kms = open(&path, &clock);
        assert_eq!(code(get(&kms, "db", None)), "Rejected.StoreCorrupted");
    }
    // Cut short.
    std::fs::write(values_path(&path), &bad[..8 + 4096]).unwrap();
    {
        let kms = open(&path, &clock);
        assert_eq!(code(get(&kms, "db", Some("v2"))), "Rejected.StoreCorrupted");
    }
    std::fs::rename(&aside, values_path(&path)).unwrap();
    let kms = open(&path, &clock);
    assert_eq!(get(&kms, "db", None).unwrap(), v2);
    drop(kms);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bytes of the values file at `span`, and whether they are all zero.
fn zeroed(path: &Path, at: usize, len: usize) -> bool {
    let values = std::fs::read(values_path(path)).unwrap();
    values[at..at + len].iter().all(|b| *b == 0)
}

#[test]
fn versions_that_go_are_zeroed_in_the_values_file() {
    let dir = tempdir("zero");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    let kms = open(&path, &clock);
    // Version v1 is the first value: at offset 8, 1000 + 16 bytes.
    create(&kms, "a", &value("a1", 1000));
    for i in 2..=11 {
        put(&kms, "a", &format!("v{i}"), &value(&format!("a{i}"), 1000)).unwrap();
    }
    // Eleven versions: the oldest without a stage (v1) went, and with it its value.
    assert_eq!(
        code(get(&kms, "a", Some("v1"))),
        "Forbidden.ResourceNotFound"
    );
    assert!(zeroed(&path, 8, 1016));
    assert!(!zeroed(&path, 8 + 1016, 1016));
    assert_eq!(get(&kms, "a", Some("v2")).unwrap(), value("a2", 1000));

    // ForceDeleteWithoutRecovery: every value of the secret leaves the file.
    block_on(kms.delete_secret(DeleteSecretRequest {
        secret_name: "a".into(),
        force_delete_without_recovery: true,
        ..Default::default()
    }))
    .unwrap();
    assert!(zeroed(&path, 8, 11 * 1016));

    // A recovery window: the value stays while the secret can be restored, and
    // leaves when the window passes (on the clock, no call needed but run_due).
    create(&kms, "b", &value("b1", 500));
    let at = 8 + 11 * 1016;
    block_on(kms.delete_secret(DeleteSecretRequest {
        secret_name: "b".into(),
        recovery_window_in_days: Some(7),
        ..Default::default()
    }))
    .unwrap();
    assert!(!zeroed(&path, at, 516));
    clock.advance(8 * DAY);
    block_on(kms.run_due()).unwrap();
    assert!(zeroed(&path, at, 516));
    drop(kms);

    // The idempotent put of the same data writes nothing new; other data is refused
    // and leaves nothing readable behind.
    let kms = open(&path, &clock);
    create(&kms, "c", &value("c1", 300));
    let len = std::fs::metadata(values_path(&path)).unwrap().len();
    put(&kms, "c", "v1", &value("c1", 300)).unwrap();
    assert_eq!(std::fs::metadata(values_path(&path)).unwrap().len(), len);
    assert_eq!(
        code(put(&kms, "c", "v1", &value("other", 300))),
        "Rejected.ResourceExist"
    );
    drop(kms);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn images_and_backups_carry_values_inline_and_restores_move_them_out() {
    let dir = tempdir("image");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    let big = value("big", 30 * 1024);
    let kms = open(&path, &clock);
    create(&kms, "big", &big);
    create(&kms, "small", "s");

    // An image opens on its own (a browser, another machine): the values are in it.
    let image = block_on(kms.export_image(None)).unwrap();
    assert!(image.len() > 30 * 1024);
    let copy = block_on(Kms::open_image(
        Env::new(Arc::new(OsEntropy), clock.clone()),
        image,
        RootSecret::passphrase("pw"),
        None,
    ))
    .unwrap();
    assert_eq!(get(&copy, "big", None).unwrap(), big);
    assert_eq!(get(&copy, "small", None).unwrap(), "s");

    // A backup too; restored into a file store, its values move to the values file.
    let backup = block_on(kms.create_backup("backup pw", KdfParams::insecure_fast())).unwrap();
    let path2 = dir.join("restored.srs");
    let restored = block_on(Kms::restore_backup(
        KmsOptions {
            env: Env::new(Arc::new(OsEntropy), clock.clone()),
            storage: Arc::new(FileStorage::open(&path2).unwrap()),
            root: RootSecret::passphrase("pw2"),
            kdf: KdfParams::insecure_fast(),
            backend: None,
        },
        &backup,
        "backup pw",
    ))
    .unwrap();
    assert_eq!(get(&restored, "big", None).unwrap(), big);
    drop(restored);
    assert!(std::fs::metadata(&path2).unwrap().len() < 8 * 1024);
    assert_eq!(
        std::fs::metadata(values_path(&path2)).unwrap().len(),
        8 + 30 * 1024 + 16 + 1 + 16
    );
    let restored = block_on(Kms::open(KmsOptions {
        env: Env::new(Arc::new(OsEntropy), clock.clone()),
        storage: Arc::new(FileStorage::open(&path2).unwrap()),
        root: RootSecret::passphrase("pw2"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap();
    assert_eq!(get(&restored, "big", None).unwrap(), big);
    drop((kms, copy, restored));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_store_from_before_values_files_moves_them_out_when_compacted() {
    let dir = tempdir("migrate");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    // A store whose values are inline, as every store before values files.
    let old = open_with(Arc::new(MemoryStorage::new()), &clock);
    create(&old, "x", &value("x1", 10_000));
    create(&old, "y", &value("y1", 10_000));
    std::fs::write(
        &path,
        block_on(old.export_image(Some((
            RootSecret::passphrase("pw"),
            KdfParams::insecure_fast(),
        ))))
        .unwrap(),
    )
    .unwrap();
    drop(old);
    let before = std::fs::metadata(&path).unwrap().len();

    let kms = open(&path, &clock);
    assert_eq!(get(&kms, "x", None).unwrap(), value("x1", 10_000));
    // A change to one secret moves that secret's values out with it.
    put(&kms, "x", "v2", &value("x2", 10_000)).unwrap();
    assert_eq!(
        std::fs::metadata(values_path(&path)).unwrap().len(),
        8 + 2 * 10_016
    );
    // Compaction moves the rest.
    block_on(kms.compact_store()).unwrap();
    assert_eq!(
        std::fs::metadata(values_path(&path)).unwrap().len(),
        8 + 3 * 10_016
    );
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(before > 20_000 && after < 2_000, "{before} -> {after}");
    drop(kms);
    let kms = open(&path, &clock);
    assert_eq!(get(&kms, "x", Some("v1")).unwrap(), value("x1", 10_000));
    assert_eq!(get(&kms, "x", None).unwrap(), value("x2", 10_000));
    assert_eq!(get(&kms, "y", None).unwrap(), value("y1", 10_000));
    drop(kms);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A memory store with a values file whose journal appends fail on demand.
#[derive(Default)]
struct FailingAppend {
    inner: MemoryStorage,
    fail: AtomicBool,
    fail_save: AtomicBool,
    hold_reads: AtomicBool,
}

impl FailingAppend {
    fn new() -> Self {
        FailingAppend {
            inner: MemoryStorage::with_values_file(),
            fail: AtomicBool::new(false),
            fail_save: AtomicBool::new(false),
            hold_reads: AtomicBool::new(false),
        }
    }
}

impl Storage for FailingAppend {
    fn load(&self) -> BoxFuture<'_, strongroom::Result<Option<Vec<u8>>>> {
        self.inner.load()
    }
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        if self.fail_save.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(strongroom::Error::StoreFull(
                    "no space left on device".into(),
                ))
            });
        }
        self.inner.save(image)
    }
    fn supports_append(&self) -> bool {
        true
    }
    fn append<'a>(&'a self, at: u64, record: &'a [u8]) -> BoxFuture<'a, strongroom::Result<()>> {
        if self.fail.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(strongroom::Error::StoreFull(
                    "no space left on device".into(),
                ))
            });
        }
        self.inner.append(at, record)
    }
    fn supports_values(&self) -> bool {
        true
    }
    fn append_value<'a>(&'a self, value: &'a [u8]) -> BoxFuture<'a, strongroom::Result<u64>> {
        self.inner.append_value(value)
    }
    fn read_value(
        &self,
        generation: u32,
        offset: u64,
        len: u32,
    ) -> BoxFuture<'_, strongroom::Result<Vec<u8>>> {
        Box::pin(async move {
            // Held: waits (yielding) until released, then reads.
            std::future::poll_fn(|cx| {
                if self.hold_reads.load(Ordering::SeqCst) {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                } else {
                    std::task::Poll::Ready(())
                }
            })
            .await;
            self.inner.read_value(generation, offset, len).await
        })
    }
    fn erase_value(
        &self,
        generation: u32,
        offset: u64,
        len: u32,
    ) -> BoxFuture<'_, strongroom::Result<()>> {
        self.inner.erase_value(generation, offset, len)
    }
    fn set_values_generation(&self, generation: u32) -> BoxFuture<'_, strongroom::Result<()>> {
        self.inner.set_values_generation(generation)
    }
    fn rewrite_values<'a>(
        &'a self,
        generation: u32,
        spans: &'a [(u64, u32)],
    ) -> BoxFuture<'a, strongroom::Result<Vec<u64>>> {
        self.inner.rewrite_values(generation, spans)
    }
    fn values_len(&self) -> BoxFuture<'_, strongroom::Result<u64>> {
        self.inner.values_len()
    }
}

#[test]
fn a_version_whose_record_is_not_written_leaves_nothing_readable() {
    let clock = Arc::new(ManualClock::new(T0));
    let st = Arc::new(FailingAppend::new());
    let kms = open_with(st.clone(), &clock);
    create(&kms, "s", "kept");
    let kept = st.inner.values_file().len();
    st.fail.store(true, Ordering::SeqCst);
    assert_eq!(
        code(put(&kms, "s", "v2", &value("lost", 2000))),
        "Rejected.StoreFull"
    );
    let values = st.inner.values_file();
    // The value was written before its record, and zeroed when the record failed.
    assert_eq!(values.len(), kept + 2016);
    assert!(values[kept..].iter().all(|b| *b == 0));
    st.fail.store(false, Ordering::SeqCst);
    assert_eq!(get(&kms, "s", None).unwrap(), "kept");
    assert_eq!(
        code(get(&kms, "s", Some("v2"))),
        "Forbidden.ResourceNotFound"
    );
    put(&kms, "s", "v2", &value("again", 2000)).unwrap();
    assert_eq!(get(&kms, "s", None).unwrap(), value("again", 2000));
}

/// tests/vectors/secrets_values_v1.json: a file store and its values file, made
/// deterministically: a version-5 snapshot (layout-2 secret records naming spans)
/// followed by op-0x09 journal records, with what each version opens to. Written to
/// files and opened through the file store, as every runtime's file store must.
#[test]
fn values_file_vector() {
    let entropy = Arc::new(common::Deterministic(std::sync::atomic::AtomicU64::new(0)));
    let clock = Arc::new(ManualClock::new(T0));
    let storage = Arc::new(MemoryStorage::with_values_file());
    let kms = block_on(Kms::open(KmsOptions {
        env: Env::new(entropy, clock.clone()),
        storage: storage.clone(),
        root: RootSecret::passphrase("strongroom-vector-passphrase"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap();
    create(&kms, "vector/db", "first");
    clock.advance(1000);
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "vector/binary".into(),
        version_id: "b1".into(),
        secret_data: SecretBytes::new((0u8..=255).collect()),
        secret_data_type: Some(strongroom::SecretDataType::Binary),
        ..Default::default()
    }))
    .unwrap();
    // The snapshot: state version 5.
    block_on(kms.compact_store()).unwrap();
    clock.advance(1000);
    // Journal records: op 0x09.
    put(&kms, "vector/db", "v2", "second").unwrap();
    put(&kms, "vector/db", "v3", "third").unwrap();
    // A value deleted with its secret: zeroed in the file (the store is not rewritten
    // for it: the journal records stay).
    create(&kms, "vector/gone", "erased");
    block_on(kms.delete_secret(DeleteSecretRequest {
        secret_name: "vector/gone".into(),
        force_delete_without_recovery: true,
        ..Default::default()
    }))
    .unwrap();
    let store = storage.image().unwrap();
    let values = storage.values_file();
    let seed = strongroom::storage::fuzz_seed_plaintexts(
        &store,
        &RootSecret::passphrase("strongroom-vector-passphrase"),
    )
    .unwrap();
    let fresh = serde_json::json!({
        "format": "a strongroom file store (docs/FORMAT.md §Store) whose snapshot is state version 5 and whose journal holds op-0x09 records (§Secrets, layout 2), and its values file (§Values file: `<store>.values`); each version's value opens as listed; vector/gone was deleted, its span is zeros",
        "passphrase": "strongroom-vector-passphrase",
        "store": hex::encode(&store),
        "values": hex::encode(&values),
        "secrets": [
            {"name": "vector/db", "version_id": "v1", "stages": [], "data_type": "text", "value_hex": hex::encode("first")},
            {"name": "vector/db", "version_id": "v2", "stages": ["ACSPrevious"], "data_type": "text", "value_hex": hex::encode("second")},
            {"name": "vector/db", "version_id": "v3", "stages": ["ACSCurrent"], "data_type": "text", "value_hex": hex::encode("third")},
            {"name": "vector/binary", "version_id": "b1", "stages": ["ACSCurrent"], "data_type": "binary", "value_hex": hex::encode((0u8..=255).collect::<Vec<u8>>())},
        ],
        "fuzz_seed_hex": hex::encode(&seed),
    });
    let v = common::check_vectors(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/secrets_values_v1.json"
        ),
        &fresh,
        "the values-file vector changed",
    );
    let values = hex::decode(v["values"].as_str().unwrap()).unwrap();
    assert_eq!(&values[..8], MAGIC);
    // vector/gone's value ("erased": 6 + 16 bytes) was the last written: zeros now.
    assert!(values[values.len() - 22..].iter().all(|b| *b == 0));
    let dir = tempdir("vector");
    let path = dir.join("store.srs");
    std::fs::write(&path, hex::decode(v["store"].as_str().unwrap()).unwrap()).unwrap();
    std::fs::write(values_path(&path), &values).unwrap();
    let kms = block_on(Kms::open(KmsOptions {
        env: Env::new(Arc::new(OsEntropy), Arc::new(ManualClock::new(T0 + DAY))),
        storage: Arc::new(FileStorage::open(&path).unwrap()),
        root: RootSecret::passphrase(v["passphrase"].as_str().unwrap()),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap();
    for s in v["secrets"].as_array().unwrap() {
        let r = block_on(kms.get_secret_value(GetSecretValueRequest {
            secret_name: s["name"].as_str().unwrap().into(),
            version_id: Some(s["version_id"].as_str().unwrap().into()),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(hex::encode(r.secret_data.expose()), s["value_hex"]);
        assert_eq!(
            serde_json::to_value(&r.version_stages).unwrap(),
            s["stages"],
            "{}",
            s["version_id"]
        );
    }
    drop(kms);
    let _ = std::fs::remove_dir_all(&dir);
}

/// On Linux the blocks of erased values go back to the file system (a punched hole):
/// a values file does not keep the space of every version ever written.
#[cfg(target_os = "linux")]
#[test]
fn erased_values_give_their_space_back() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempdir("punch");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    let kms = open(&path, &clock);
    for i in 0..20 {
        create(&kms, &format!("s{i}"), &value(&format!("v{i}"), 30_000));
    }
    let blocks = || std::fs::metadata(values_path(&path)).unwrap().blocks();
    let before = blocks();
    assert!(before >= 20 * 30_000 / 512, "{before} blocks");
    for i in 0..20 {
        block_on(kms.delete_secret(DeleteSecretRequest {
            secret_name: format!("s{i}"),
            force_delete_without_recovery: true,
            ..Default::default()
        }))
        .unwrap();
    }
    let after = blocks();
    assert!(after < before / 4, "{before} -> {after} blocks");
    // The file keeps its size (spans are never reused) and reads as zeros.
    let values = std::fs::read(values_path(&path)).unwrap();
    assert_eq!(values.len(), 8 + 20 * 30_016);
    assert!(values[8..].iter().all(|b| *b == 0));
    drop(kms);
    let _ = std::fs::remove_dir_all(&dir);
}

fn values_gen_path(store: &Path, generation: u32) -> PathBuf {
    strongroom::storage::values_path(store, generation)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

fn delete(kms: &Kms, name: &str) {
    block_on(kms.delete_secret(DeleteSecretRequest {
        secret_name: name.into(),
        force_delete_without_recovery: true,
        ..Default::default()
    }))
    .unwrap();
}

/// `store compact` rewrites the values file without the bytes no version uses: the
/// live values go to the next generation's file (`<store>.values.1`, …), a snapshot
/// names it, and the old file is removed — on every platform, where zeroing alone
/// gives space back on Linux only. A values file with nothing dead is left alone.
#[test]
fn compaction_rewrites_the_values_file_without_dead_bytes() {
    let dir = tempdir("compact");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    let keep = value("keep", 3000);
    let kms = open(&path, &clock);
    create(&kms, "keep", &keep);
    create(&kms, "gone", &value("gone", 8000));
    put(&kms, "keep", "v2", &value("keep2", 5000)).unwrap();
    // Nothing dead: no rewrite.
    block_on(kms.compact_store()).unwrap();
    assert!(values_path(&path).exists());
    assert!(!values_gen_path(&path, 1).exists());
    delete(&kms, "gone");
    let before = file_len(&values_path(&path));
    block_on(kms.compact_store()).unwrap();
    assert!(
        !values_path(&path).exists(),
        "the old generation is removed"
    );
    let live = (3000 + 16) + (5000 + 16);
    assert_eq!(file_len(&values_gen_path(&path, 1)), 8 + live);
    assert!(file_len(&values_gen_path(&path, 1)) < before);
    assert_eq!(get(&kms, "keep", Some("v1")).unwrap(), keep);
    assert_eq!(get(&kms, "keep", None).unwrap(), value("keep2", 5000));
    // New values go to the new file; a second compaction moves on to generation 2.
    put(&kms, "keep", "v3", &value("keep3", 2000)).unwrap();
    assert_eq!(file_len(&values_gen_path(&path, 1)), 8 + live + 2016);
    drop(kms);
    let kms = open(&path, &clock);
    assert_eq!(get(&kms, "keep", Some("v2")).unwrap(), value("keep2", 5000));
    assert_eq!(get(&kms, "keep", None).unwrap(), value("keep3", 2000));
    create(&kms, "tmp", &value("tmp", 1000));
    delete(&kms, "tmp");
    block_on(kms.compact_store()).unwrap();
    assert!(!values_gen_path(&path, 1).exists());
    assert_eq!(file_len(&values_gen_path(&path, 2)), 8 + live + 2016);
    assert_eq!(get(&kms, "keep", Some("v1")).unwrap(), keep);
    drop(kms);
    // `store check`'s view names the current file.
    let (_, _, generation, spans) = strongroom::storage::inspect_values(
        &std::fs::read(&path).unwrap(),
        &RootSecret::passphrase("pw"),
    )
    .unwrap();
    assert_eq!(generation, 2);
    let check = strongroom::storage::check_values_file(&path, generation, &spans).unwrap();
    assert_eq!(check.path, values_gen_path(&path, 2));
    assert_eq!(check.values, 3);
}

/// A crash in a values-file compaction loses nothing: before its snapshot the new
/// generation's file is a leftover, after it the old one is; the snapshot names one,
/// and opening removes the other. Other files that only look alike stay.
#[test]
fn a_crash_in_a_values_compaction_leaves_a_store_that_opens_with_every_value() {
    let dir = tempdir("compact-crash");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    let keep = value("keep", 3000);
    {
        let kms = open(&path, &clock);
        create(&kms, "keep", &keep);
        create(&kms, "gone", &value("gone", 4000));
        delete(&kms, "gone");
    }
    let old_values = std::fs::read(values_path(&path)).unwrap();
    let old_store = std::fs::read(&path).unwrap();
    // Crash after the new file, before the snapshot: the store still names
    // generation 0, and generation 1's file is junk to be removed.
    std::fs::write(values_gen_path(&path, 1), b"SRSV\x01\0\0\0half-written").unwrap();
    let lookalikes = [
        dir.join("store.srs.values.01"),
        dir.join("store.srs.values.bak"),
        dir.join("other.values.1"),
    ];
    for p in &lookalikes {
        std::fs::write(p, b"mine").unwrap();
    }
    {
        let kms = open(&path, &clock);
        assert!(!values_gen_path(&path, 1).exists());
        assert_eq!(get(&kms, "keep", None).unwrap(), keep);
        // The compaction, whole this time.
        block_on(kms.compact_store()).unwrap();
    }
    for p in &lookalikes {
        assert!(
            p.exists(),
            "{} is not a values file of this store",
            p.display()
        );
    }
    assert!(!values_path(&path).exists());
    // Crash after the snapshot, before the old file went: the old file is back.
    std::fs::write(values_path(&path), &old_values).unwrap();
    {
        let kms = open(&path, &clock);
        assert!(
            !values_path(&path).exists(),
            "opening removes the old generation"
        );
        assert_eq!(get(&kms, "keep", None).unwrap(), keep);
    }
    // And the store from before the compaction, with its own file, still opens (a
    // snapshot that never reached the disk).
    std::fs::write(&path, &old_store).unwrap();
    std::fs::write(values_path(&path), &old_values).unwrap();
    let kms = open(&path, &clock);
    assert!(!values_gen_path(&path, 1).exists());
    assert_eq!(get(&kms, "keep", None).unwrap(), keep);
}

/// A compaction whose snapshot cannot be written changes nothing: the state keeps
/// the old generation and its spans, the new file is removed, and a later
/// compaction succeeds.
#[test]
fn a_failed_values_compaction_changes_nothing() {
    let clock = Arc::new(ManualClock::new(T0));
    let st = Arc::new(FailingAppend::new());
    let kms = open_with(st.clone(), &clock);
    let keep = value("keep", 3000);
    create(&kms, "keep", &keep);
    create(&kms, "gone", &value("gone", 4000));
    delete(&kms, "gone");
    let before = st.inner.values_file();
    st.fail_save.store(true, Ordering::SeqCst);
    assert_eq!(code(block_on(kms.compact_store())), "Rejected.StoreFull");
    st.fail_save.store(false, Ordering::SeqCst);
    assert_eq!(
        st.inner.values_file(),
        before,
        "generation 0 is still current"
    );
    assert_eq!(get(&kms, "keep", None).unwrap(), keep);
    put(&kms, "keep", "v2", &value("keep2", 1000)).unwrap();
    assert_eq!(get(&kms, "keep", Some("v1")).unwrap(), keep);
    block_on(kms.compact_store()).unwrap();
    assert_eq!(st.inner.values_file().len(), 8 + 3016 + 1016);
    assert_eq!(get(&kms, "keep", Some("v1")).unwrap(), keep);
    assert_eq!(get(&kms, "keep", None).unwrap(), value("keep2", 1000));
}

/// A read that looked its span up before a compaction moved the value reads it where
/// it is now (the span names its generation; the old file may be gone).
#[test]
fn a_read_across_a_values_compaction_finds_the_value_where_it_moved() {
    use std::future::Future;
    use std::task::{Context, Poll};
    let clock = Arc::new(ManualClock::new(T0));
    let st = Arc::new(FailingAppend::new());
    let kms = open_with(st.clone(), &clock);
    let keep = value("keep", 3000);
    create(&kms, "keep", &keep);
    create(&kms, "gone", &value("gone", 4000));
    delete(&kms, "gone");
    // The read stops at the values file...
    st.hold_reads.store(true, Ordering::SeqCst);
    let mut read = Box::pin(kms.get_secret_value(GetSecretValueRequest {
        secret_name: "keep".into(),
        ..Default::default()
    }));
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(read.as_mut().poll(&mut cx).is_pending());
    // ...while the compaction moves the value and drops generation 0 (the in-memory
    // storage forgets it at once, as a platform without open-after-unlink would).
    block_on(kms.compact_store()).unwrap();
    st.hold_reads.store(false, Ordering::SeqCst);
    let r = block_on(read).unwrap();
    assert_eq!(r.secret_data.expose(), keep.as_bytes());
}

/// A mutation that compacts the store anyway also compacts the values file once its
/// dead bytes reach its live ones and 64 times the journal's threshold: nobody has to
/// run `store compact` for the space of deleted values to come back.
#[test]
fn the_values_file_is_compacted_with_the_store_once_dead_bytes_dominate() {
    let dir = tempdir("auto-compact");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    let kms = open(&path, &clock);
    // Journal compaction from 1 KiB; values-file compaction from 64 KiB dead.
    kms.set_compact_min_bytes(1024);
    let keep = value("keep", 2000);
    create(&kms, "keep", &keep);
    // 30 KB of dead bytes: below the threshold, nothing moves however often the
    // journal compacts.
    create(&kms, "a", &value("a", 30_000));
    delete(&kms, "a");
    for i in 0..20 {
        put(&kms, "keep", &format!("w{i}"), &value("w", 100)).unwrap();
    }
    assert!(values_path(&path).exists());
    assert!(!values_gen_path(&path, 1).exists());
    // 90 KB dead, more than what is live: the next journal compaction takes the
    // values file along.
    for n in ["b", "c"] {
        create(&kms, n, &value(n, 30_000));
        delete(&kms, n);
    }
    for i in 20..40 {
        put(&kms, "keep", &format!("w{i}"), &value("w", 100)).unwrap();
    }
    assert!(
        !values_path(&path).exists(),
        "compacted to the next generation"
    );
    let live = file_len(&values_gen_path(&path, 1));
    assert!(live < 10_000, "{live} bytes: only what versions still use");
    assert_eq!(get(&kms, "keep", Some("w39")).unwrap(), value("w", 100));
    drop(kms);
    let kms = open(&path, &clock);
    assert_eq!(get(&kms, "keep", Some("w39")).unwrap(), value("w", 100));
}

/// VerifyStore opens every value through its CMK: a damaged value, a missing tail and
/// a CMK that may not decrypt are each named, with their code; the rest opens; nothing
/// is changed. What `store check` cannot see (it has no CMK), this does.
#[test]
fn verify_store_names_every_version_that_does_not_open() {
    let dir = tempdir("verify");
    let path = dir.join("store.srs");
    let clock = Arc::new(ManualClock::new(T0));
    let (v1, v2, v3) = (value("one", 3000), value("two", 5000), value("three", 700));
    let own = {
        let kms = open(&path, &clock);
        create(&kms, "db", &v1);
        put(&kms, "db", "v2", &v2).unwrap();
        let k = block_on(kms.create_key(Default::default())).unwrap().key_id;
        block_on(kms.create_secret(CreateSecretRequest {
            secret_name: "api".into(),
            version_id: "v1".into(),
            secret_data: SecretBytes::from_slice(v3.as_bytes()),
            encryption_key_id: Some(k.clone()),
            ..Default::default()
        }))
        .unwrap();
        let r = block_on(kms.verify_store()).unwrap();
        assert_eq!((r.secret_versions, r.values_opened), (3, 3));
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert!(r.keys >= 1);
        k
    };
    // One bit of db/v1's value flipped (the first value in the file).
    let mut bytes = std::fs::read(values_path(&path)).unwrap();
    bytes[8 + 10] ^= 1;
    std::fs::write(values_path(&path), &bytes).unwrap();
    let kms = open(&path, &clock);
    block_on(kms.disable_key(&own)).unwrap();
    let r = block_on(kms.verify_store()).unwrap();
    assert_eq!((r.secret_versions, r.values_opened), (3, 1));
    let mut found: Vec<(String, String, &str)> = r
        .problems
        .iter()
        .map(|p| (p.secret_name.clone(), p.version_id.clone(), p.code))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("api".to_string(), "v1".to_string(), "Forbidden.KeyDisabled"),
            (
                "db".to_string(),
                "v1".to_string(),
                "Rejected.StoreCorrupted"
            ),
        ]
    );
    // No message holds a value.
    for p in &r.problems {
        assert!(
            !p.message.contains("one:") && !p.message.contains("three"),
            "{}",
            p.message
        );
    }
    // Nothing changed: the good version still reads, the file is as it was.
    assert_eq!(get(&kms, "db", Some("v2")).unwrap(), v2);
    assert_eq!(std::fs::read(values_path(&path)).unwrap(), bytes);
    drop(kms);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A version deleted while VerifyStore is reading it is not reported as a problem (it
/// went; nothing is damaged): the pass is held at the values file while the secret is
/// deleted without recovery (its value zeroed), then let go.
#[test]
fn verify_store_does_not_report_a_version_deleted_during_the_pass() {
    use std::future::Future;
    use std::task::Context;
    let clock = Arc::new(ManualClock::new(T0));
    let st = Arc::new(FailingAppend::new());
    let kms = open_with(st.clone(), &clock);
    create(&kms, "going", &value("going", 2000));
    st.hold_reads.store(true, Ordering::SeqCst);
    let mut pass = Box::pin(kms.verify_store());
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(pass.as_mut().poll(&mut cx).is_pending());
    delete(&kms, "going");
    st.hold_reads.store(false, Ordering::SeqCst);
    let r = block_on(pass).unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!((r.secret_versions, r.values_opened), (0, 0));
}
