//! The native single-file store: records appended in place and made durable with
//! `fdatasync` (group commit: callers that sync at once share one flush); whole-store
//! replacement (creation, compaction, rekey) through a temp file, fsync, rename and
//! an fsync of the directory; and an exclusive OS lock against a second writer.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Storage, VALUES_MAGIC};
use crate::backend::BoxFuture;
use crate::error::{Error, Result};

/// A store kept in one file at `path`, locked (`path` + `.lock`) while open.
#[derive(Debug)]
pub struct FileStorage {
    path: PathBuf,
    /// The lock file (flock + PID mark); `None` once closed.
    lock: Mutex<Option<File>>,
    /// Closed by [`Storage::close`]: nothing more is read or written.
    closed: AtomicBool,
    /// Directories this open created, outermost first.
    made_dirs: Vec<PathBuf>,
    /// Whether this open created the lock file.
    made_lock: bool,
    /// The append handle (opened on first use and after every replacement) and the
    /// count of bytes ever appended through this storage.
    file: Mutex<Appender>,
    /// Appended bytes known durable (same counter as `Appender::appended`).
    durable: Mutex<u64>,
    /// A flush failed: appended bytes may be lost, so nothing more is accepted.
    poisoned: AtomicBool,
    syncs: AtomicU64,
    /// The values file (`path` + `.values`, or `.values.<n>` past generation 0),
    /// opened on first use.
    values: Mutex<Values>,
}

/// The current values file's generation, handle, length, and whether appends await a
/// flush; and the file a compaction just replaced, still open for reads under way.
#[derive(Debug, Default)]
struct Values {
    generation: u32,
    file: Option<alloc::sync::Arc<File>>,
    end: u64,
    dirty: bool,
    previous: Option<(u32, alloc::sync::Arc<File>)>,
}

/// The values file of `generation` beside the store at `store` (docs/FORMAT.md
/// §Values file): `<store>.values`, then `<store>.values.<n>`.
#[must_use]
pub fn values_path(store: &Path, generation: u32) -> PathBuf {
    if generation == 0 {
        suffixed(store, ".values")
    } else {
        suffixed(store, &alloc::format!(".values.{generation}"))
    }
}

/// The generation a file named `name` is the values file of, for the store file
/// named `base` (`None`: not one of its values files).
fn values_generation_of(base: &std::ffi::OsStr, name: &std::ffi::OsStr) -> Option<u32> {
    let (base, name) = (base.to_str()?, name.to_str()?);
    let rest = name.strip_prefix(base)?.strip_prefix(".values")?;
    if rest.is_empty() {
        return Some(0);
    }
    let n = rest.strip_prefix('.')?;
    // Canonical decimal only (no sign, no leading zero), so one name per generation.
    if n.is_empty() || n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().filter(|g| *g != 0)
}

/// Gives the blocks of an erased span back to the file system (Linux: fallocate
/// PUNCH_HOLE, the file keeping its size; the span already reads as zeros, so where
/// holes are not supported nothing changes but the space). Elsewhere a no-op.
#[cfg(target_os = "linux")]
fn punch_hole(f: &File, offset: u64, len: u64) {
    use rustix::fs::{FallocateFlags, fallocate};
    let _ = fallocate(
        f,
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        offset,
        len,
    );
}
#[cfg(not(target_os = "linux"))]
fn punch_hole(_: &File, _: u64, _: u64) {}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, at)
}
#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, at)
}
/// Positioned reads and writes: `seek_read` / `seek_write` (Windows moves the file
/// cursor, but each call names its offset, so concurrent readers stay correct).
#[cfg(windows)]
fn read_at(f: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_read(buf, at)? {
            0 => return Err(std::io::Error::from(ErrorKind::UnexpectedEof)),
            n => {
                buf = core::mem::take(&mut buf).get_mut(n..).unwrap_or_default();
                at += n as u64;
            }
        }
    }
    Ok(())
}
#[cfg(windows)]
fn write_at(f: &File, mut buf: &[u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_write(buf, at)? {
            0 => return Err(std::io::Error::from(ErrorKind::WriteZero)),
            n => {
                buf = buf.get(n..).unwrap_or_default();
                at += n as u64;
            }
        }
    }
    Ok(())
}

/// Elsewhere (WASI): through the cursor; the values file's callers hold no lock while
/// reading, so concurrent reads there may interleave (not a supported target).
#[cfg(not(any(unix, windows)))]
fn read_at(mut f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    use std::io::Read;
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(buf)
}
#[cfg(not(any(unix, windows)))]
fn write_at(mut f: &File, buf: &[u8], at: u64) -> std::io::Result<()> {
    f.seek(SeekFrom::Start(at))?;
    f.write_all(buf)
}

#[derive(Debug, Default)]
struct Appender {
    file: Option<File>,
    appended: u64,
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> Error {
    let msg = format!("{what} {}: {e}", path.display());
    if is_full(e) {
        Error::StoreFull(msg)
    } else {
        Error::StoreIo(msg)
    }
}

/// ENOSPC, EDQUOT and EFBIG (a file-size limit) all mean "no room".
fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    )
}

impl FileStorage {
    /// Opens (or prepares to create) the store file, taking the writer lock.
    /// Creates the parent directory if needed.
    ///
    /// # Errors
    /// `Rejected.StoreLocked` when another process holds the store;
    /// `Rejected.StoreIo` when the directory or lock file cannot be made.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        // The directories this open makes (innermost last), so that a store never
        // written leaves none of them behind (`Drop`).
        let mut made = Vec::new();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut d = Some(dir);
            while let Some(x) = d.filter(|x| !x.as_os_str().is_empty() && !x.exists()) {
                made.push(x.to_path_buf());
                d = x.parent();
            }
            made.reverse();
            fs::create_dir_all(dir).map_err(|e| io("creating", dir, &e))?;
        }
        let lock_existed = lock_path(&path).exists();
        refuse_link(&path).map_err(|e| io("opening", &path, &e))?;
        let lock_path = lock_path(&path);
        refuse_link(&lock_path).map_err(|e| io("opening", &lock_path, &e))?;
        let lock = private_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io("opening", &lock_path, &e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder wrote its PID into the lock file: name it.
                let pid = fs::read_to_string(&lock_path)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok());
                return Err(pid.map_or(Error::StoreLocked, Error::StoreLockedBy));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("locking", &lock_path, &e)),
        }
        // Node has no flock: it marks its hold with `<store>.node-lock` (its PID) and
        // looks for ours as the PID written into the lock file. Each side writes its
        // own mark first and then looks for the other's, so two openers can both fail
        // but never both succeed.
        let mut marked = &lock;
        marked
            .set_len(0)
            .and_then(|()| marked.write_all(format!("{}", std::process::id()).as_bytes()))
            .map_err(|e| io("writing", &lock_path, &e))?;
        if node_holds(&path) {
            let _ = marked.set_len(0);
            let pid = fs::read_to_string(suffixed(&path, ".node-lock"))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok());
            return Err(pid.map_or(Error::StoreLocked, Error::StoreLockedBy));
        }
        Ok(FileStorage {
            path,
            lock: Mutex::new(Some(lock)),
            closed: AtomicBool::new(false),
            made_dirs: made,
            made_lock: !lock_existed,
            file: Mutex::new(Appender::default()),
            durable: Mutex::new(0),
            poisoned: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
            values: Mutex::new(Values::default()),
        })
    }

    /// The store file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many times appended records were flushed (`fdatasync`) since opening: with
    /// group commit, fewer than the appends when writers overlap.
    #[must_use]
    pub fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn check_poisoned(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::StoreClosed);
        }
        if self.poisoned.load(Ordering::Acquire) {
            Err(Error::StoreIo(format!(
                "{}: an earlier write could not be confirmed on disk; reopen the store",
                self.path.display()
            )))
        } else {
            Ok(())
        }
    }

    fn save_now(&self, image: &[u8]) -> Result<()> {
        self.check_poisoned()?;
        // `<store>.tmp`: its own per store (the writer lock makes it ours alone).
        let tmp = suffixed(&self.path, ".tmp");
        // Hold the append lock so no append lands in the file being replaced.
        let mut app = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut renamed = false;
        let mut write = || -> std::io::Result<File> {
            // Whatever a crash left there goes; the new file is made afresh, 0600,
            // never through a link planted at that name.
            match fs::remove_file(&tmp) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let mut f = private_options().write(true).create_new(true).open(&tmp)?;
            f.write_all(image)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            renamed = true;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                // Make the rename itself durable.
                File::open(dir)?.sync_all()?;
            }
            Ok(f)
        };
        let r = write();
        if r.is_err() && renamed {
            // The new file is in place but maybe not durable, and the append handle
            // points at the old, unlinked one: appending there would lose records.
            // Accept nothing more until the store is reopened.
            app.file = None;
            self.poisoned.store(true, Ordering::Release);
        }
        match r {
            Ok(f) => {
                // The new file holds everything appended so far, durably.
                app.file = Some(f);
                *self
                    .durable
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = app.appended;
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(io("writing", &self.path, &e))
            }
        }
    }

    fn append_now(&self, at: u64, record: &[u8]) -> Result<()> {
        self.check_poisoned()?;
        let mut app = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if app.file.is_none() {
            let f = OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(|e| io("opening", &self.path, &e))?;
            app.file = Some(f);
        }
        let Some(f) = app.file.as_mut() else {
            return Err(Error::StoreIo(String::from("no append handle")));
        };
        let write = |f: &mut File| -> std::io::Result<()> {
            if f.metadata()?.len() != at {
                // Drop a torn tail (or anything else past the valid end).
                f.set_len(at)?;
            }
            f.seek(SeekFrom::Start(at))?;
            f.write_all(record)
        };
        match write(f) {
            Ok(()) => {
                app.appended += record.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Keep nothing of a partial write; if even that fails, the next append
                // (which truncates to its own `at`) or the next open drops it.
                if f.set_len(at).is_err() {
                    app.file = None;
                }
                Err(io("appending to", &self.path, &e))
            }
        }
    }

    /// The current values file, opened (and made, with its header, when `create`) if
    /// it is not yet; `None` when it does not exist and `create` is false.
    fn values_file(&self, v: &mut Values, create: bool) -> Result<Option<alloc::sync::Arc<File>>> {
        if let Some(f) = &v.file {
            return Ok(Some(f.clone()));
        }
        let path = values_path(&self.path, v.generation);
        let existing = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(io("opening", &path, &e)),
        };
        let f = match existing {
            Some(f) => {
                let len = f.metadata().map_err(|e| io("reading", &path, &e))?.len();
                if !has_values_header(&f, len) {
                    return Err(Error::StoreCorrupted(
                        "the values file beside the store has no values-file header",
                    ));
                }
                v.end = len;
                f
            }
            None if !create => return Ok(None),
            None => {
                let make = || -> std::io::Result<File> {
                    refuse_link(&path)?;
                    let f = private_options()
                        .read(true)
                        .write(true)
                        .create_new(true)
                        .open(&path)?;
                    write_at(&f, VALUES_MAGIC, 0)?;
                    f.sync_all()?;
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        File::open(dir)?.sync_all()?;
                    }
                    Ok(f)
                };
                let f = make().map_err(|e| io("creating", &path, &e))?;
                v.end = VALUES_MAGIC.len() as u64;
                f
            }
        };
        let f = alloc::sync::Arc::new(f);
        v.file = Some(f.clone());
        Ok(Some(f))
    }

    fn lock_values(&self) -> std::sync::MutexGuard<'_, Values> {
        self.values
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn append_value_now(&self, value: &[u8]) -> Result<u64> {
        self.check_poisoned()?;
        let mut v = self.lock_values();
        let f = self
            .values_file(&mut v, true)?
            .ok_or(Error::Internal("values file"))?;
        let at = v.end;
        if let Err(e) = write_at(&f, value, at) {
            // Keep nothing of a partial write.
            let _ = f.set_len(at);
            return Err(io(
                "appending to",
                &values_path(&self.path, v.generation),
                &e,
            ));
        }
        v.end = at + value.len() as u64;
        v.dirty = true;
        Ok(at)
    }

    fn sync_values_now(&self) -> Result<()> {
        self.check_poisoned()?;
        let mut v = self.lock_values();
        if !v.dirty {
            return Ok(());
        }
        let Some(f) = v.file.clone() else {
            return Ok(());
        };
        if let Err(e) = f.sync_data() {
            // As for the store: after a failed flush nothing unflushed is trusted.
            self.poisoned.store(true, Ordering::Release);
            return Err(io("flushing", &values_path(&self.path, v.generation), &e));
        }
        v.dirty = false;
        Ok(())
    }

    fn read_value_now(&self, generation: u32, offset: u64, len: u32) -> Result<Vec<u8>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::StoreClosed);
        }
        let path = values_path(&self.path, generation);
        let f = {
            let mut v = self.lock_values();
            if generation == v.generation {
                self.values_file(&mut v, false)?
            } else if let Some((_, f)) = v.previous.as_ref().filter(|(g, _)| *g == generation) {
                Some(f.clone())
            } else {
                // Neither current nor just replaced: only a reader that looked its
                // span up before two compactions gets here.
                match File::open(&path) {
                    Ok(f) => Some(alloc::sync::Arc::new(f)),
                    Err(e) if e.kind() == ErrorKind::NotFound => None,
                    Err(e) => return Err(io("opening", &path, &e)),
                }
            }
        };
        let Some(f) = f else {
            return Err(Error::StoreCorrupted(
                "the store names values in its values file, which is missing",
            ));
        };
        let mut buf = alloc::vec![0u8; len as usize];
        match read_at(&f, &mut buf, offset) {
            Ok(()) => Ok(buf),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Err(Error::StoreCorrupted(
                "the values file is shorter than the store says",
            )),
            Err(e) => Err(io("reading", &path, &e)),
        }
    }

    fn erase_value_now(&self, generation: u32, offset: u64, len: u32) -> Result<()> {
        self.check_poisoned()?;
        let v = &mut *self.lock_values();
        if generation != v.generation {
            return Ok(());
        }
        let Some(f) = self.values_file(v, false)? else {
            return Ok(());
        };
        let end = offset.saturating_add(u64::from(len)).min(v.end);
        if offset < VALUES_MAGIC.len() as u64 || end <= offset {
            return Ok(());
        }
        let zeros = alloc::vec![0u8; usize::try_from(end - offset).unwrap_or(0)];
        let path = values_path(&self.path, v.generation);
        write_at(&f, &zeros, offset).map_err(|e| io("erasing in", &path, &e))?;
        punch_hole(&f, offset, end - offset);
        f.sync_data().map_err(|e| io("flushing", &path, &e))
    }

    fn set_values_generation_now(&self, generation: u32) -> Result<()> {
        // The switch comes first and always happens: appends must go to the file the
        // state names even when removing the others fails below.
        {
            let mut v = self.lock_values();
            if v.generation != generation {
                let old = v.generation;
                v.previous = v.file.take().map(|f| (old, f));
                v.generation = generation;
                v.end = 0;
                v.dirty = false;
            }
        }
        self.check_poisoned()?;
        // Every other generation's values file goes: what a compaction replaced, or
        // left behind when a crash interrupted it (before its snapshot: the new file;
        // after: the old one).
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(base) = self.path.file_name() else {
            return Ok(());
        };
        let entries = fs::read_dir(&dir).map_err(|e| io("listing", &dir, &e))?;
        let mut first_err = None;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if values_generation_of(base, &name).is_some_and(|g| g != generation) {
                let p = dir.join(&name);
                if let Err(e) = fs::remove_file(&p)
                    && e.kind() != ErrorKind::NotFound
                {
                    first_err.get_or_insert_with(|| io("removing", &p, &e));
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn rewrite_values_now(&self, generation: u32, spans: &[(u64, u32)]) -> Result<Vec<u64>> {
        self.check_poisoned()?;
        let from = {
            let mut v = self.lock_values();
            if v.generation == generation {
                return Err(Error::Internal(
                    "a values file cannot be rewritten onto itself",
                ));
            }
            self.values_file(&mut v, false)?
        };
        let path = values_path(&self.path, generation);
        let write = || -> std::io::Result<Vec<u64>> {
            refuse_link(&path)?;
            // A file of this generation can only be a leftover no store names.
            match fs::remove_file(&path) {
                Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let f = private_options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, &f);
            std::io::Write::write_all(&mut out, VALUES_MAGIC)?;
            let mut at = VALUES_MAGIC.len() as u64;
            let mut offsets = Vec::with_capacity(spans.len());
            let mut buf = Vec::new();
            for &(offset, len) in spans {
                let src = from.as_deref().ok_or_else(|| {
                    std::io::Error::new(ErrorKind::UnexpectedEof, "the values file is missing")
                })?;
                buf.resize(len as usize, 0);
                read_at(src, &mut buf, offset)?;
                std::io::Write::write_all(&mut out, &buf)?;
                offsets.push(at);
                at += u64::from(len);
            }
            std::io::Write::flush(&mut out)?;
            drop(out);
            f.sync_all()?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(offsets)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&path);
            if e.kind() == ErrorKind::UnexpectedEof {
                Error::StoreCorrupted("the values file is shorter than the store says")
            } else {
                io("writing", &path, &e)
            }
        })
    }

    fn values_len_now(&self) -> Result<u64> {
        let mut v = self.lock_values();
        Ok(match self.values_file(&mut v, false)? {
            Some(_) => v.end,
            None => 0,
        })
    }

    fn sync_now(&self) -> Result<()> {
        self.check_poisoned()?;
        let target = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .appended;
        let mut durable = self
            .durable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *durable >= target {
            // Another caller's flush covered this append (group commit).
            return Ok(());
        }
        // Flush everything appended up to now, including appends that arrived while
        // this caller waited for the lock.
        let (upto, handle) = {
            let app = self
                .file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let h = app.file.as_ref().map(File::try_clone).transpose();
            (app.appended, h)
        };
        let r = handle.and_then(|h| match h {
            Some(h) => h.sync_data(),
            // Appended bytes and no handle to flush them through (an append failed
            // and could not even be cut back): they cannot be confirmed.
            None if upto > *durable => Err(std::io::Error::other(
                "appended records have no open handle to flush",
            )),
            None => Ok(()),
        });
        self.syncs.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(()) => {
                *durable = (*durable).max(upto);
                Ok(())
            }
            Err(e) => {
                // After a failed fsync the kernel may have dropped the dirty pages:
                // nothing appended since the last good flush can be trusted.
                self.poisoned.store(true, Ordering::Release);
                Err(io("flushing", &self.path, &e))
            }
        }
    }
}

/// Whether the values file `f` (of `len` bytes) starts with the values-file header.
fn has_values_header(f: &File, len: u64) -> bool {
    let mut head = [0u8; 8];
    len >= 8 && read_at(f, &mut head, 0).is_ok() && &head == VALUES_MAGIC
}

/// What [`check_values_file`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuesFileCheck {
    /// The values file's path (`<store>.values`, or `<store>.values.<n>` past
    /// generation 0).
    pub path: PathBuf,
    /// Its length in bytes (0 when there is none).
    pub bytes: u64,
    /// How many values the store names there.
    pub values: usize,
    /// Their bytes: the rest is the header, zeroed spans of versions that are gone,
    /// and values a crash or a failed write left unnamed.
    pub live_bytes: u64,
}

/// Holds the values file of `generation` beside the store at `store` against the spans the store
/// names (from [`crate::storage::inspect_values`]): the file is there, starts with the
/// values-file header and holds every span. It reads nothing else of the file (a
/// value's bytes are checked when it is opened, with its data key).
///
/// # Errors
/// `Rejected.StoreCorrupted` naming what is wrong (missing, no header, shorter than a
/// span); `Rejected.StoreIo` when it cannot be read.
pub fn check_values_file(
    store: &Path,
    generation: u32,
    spans: &[(u64, u32)],
) -> Result<ValuesFileCheck> {
    let path = values_path(store, generation);
    let mut out = ValuesFileCheck {
        path: path.clone(),
        bytes: 0,
        values: spans.len(),
        live_bytes: spans.iter().map(|s| u64::from(s.1)).sum(),
    };
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound && spans.is_empty() => return Ok(out),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::StoreCorrupted(
                "the store names values in its values file, which is missing",
            ));
        }
        Err(e) => return Err(io("opening", &path, &e)),
    };
    out.bytes = f.metadata().map_err(|e| io("reading", &path, &e))?.len();
    if !has_values_header(&f, out.bytes) {
        return Err(Error::StoreCorrupted(
            "the values file beside the store has no values-file header",
        ));
    }
    let end = spans
        .iter()
        .map(|&(o, l)| o.saturating_add(u64::from(l)))
        .max()
        .unwrap_or(0);
    if end > out.bytes {
        return Err(Error::StoreCorrupted(
            "the values file is shorter than the store says",
        ));
    }
    Ok(out)
}

/// Options that create a file readable and writable by its owner only (0600 on Unix).
fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// `Err` when `path` is a symbolic link: secrets are not written through links.
fn refuse_link(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "is a symbolic link; strongroom does not write secrets through links (give the real path)",
        )),
        _ => Ok(()),
    }
}

/// Opens `path` to write secrets into it (plaintext, key material, a backup, a
/// password): a new file is created 0600; an existing one is truncated and set to
/// 0600 whatever its mode was; a symbolic link is refused (`InvalidInput`).
///
/// # Errors
/// The I/O error, or `InvalidInput` for a link.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    refuse_link(path)?;
    let f = private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

fn lock_path(path: &Path) -> PathBuf {
    suffixed(path, ".lock")
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether a Node process holds the store (`<store>.node-lock`). A mark naming a PID
/// that is gone is stale (checked through `/proc` where there is one; elsewhere a mark
/// is taken as live: delete a stale `.node-lock` by hand). A mark that exists but is
/// empty or unreadable is never stale: Node places its mark whole, so such a mark is
/// damage to look at, not a writer to ignore.
fn node_holds(path: &Path) -> bool {
    let mark = suffixed(path, ".node-lock");
    let text = match fs::read_to_string(&mark) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return true;
    };
    let proc_root = Path::new("/proc/self");
    !proc_root.exists() || Path::new(&format!("/proc/{pid}")).exists()
}

impl FileStorage {
    /// Clears the PID mark and lets go of the lock file (the flock goes with it).
    fn release(&self) {
        let mut lock = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = lock.take() {
            let _ = f.set_len(0);
        }
    }
}

impl Drop for FileStorage {
    fn drop(&mut self) {
        // Never written (a failed open or restore): leave nothing behind — the lock
        // file and the directories this open made (only if still empty). The lock file
        // is unlinked while its lock is still held, so no other opener can have locked
        // the inode that disappears (it would then hold a lock nobody else sees).
        let unused = !self.path.exists();
        if unused && self.made_lock {
            let _ = fs::remove_file(lock_path(&self.path));
        }
        self.release();
        if unused {
            for d in self.made_dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
        }
    }
}

impl Storage for FileStorage {
    fn close(&self) -> BoxFuture<'_, Result<()>> {
        self.closed.store(true, Ordering::Release);
        // Drop the append handle under its lock (no append is in flight then), then
        // the writer lock.
        self.file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .file = None;
        {
            let mut v = self.lock_values();
            v.file = None;
            v.previous = None;
        }
        self.release();
        Box::pin(async { Ok(()) })
    }

    fn load(&self) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        if self.closed.load(Ordering::Acquire) {
            return Box::pin(async { Err(Error::StoreClosed) });
        }
        let r = match fs::read(&self.path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &self.path, &e)),
        };
        Box::pin(async move { r })
    }

    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let r = self.save_now(image);
        Box::pin(async move { r })
    }

    fn supports_append(&self) -> bool {
        true
    }

    fn append<'a>(&'a self, at: u64, record: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let r = self.append_now(at, record);
        Box::pin(async move { r })
    }

    fn sync(&self) -> BoxFuture<'_, Result<()>> {
        let r = self.sync_now();
        Box::pin(async move { r })
    }

    fn supports_values(&self) -> bool {
        true
    }

    fn append_value<'a>(&'a self, value: &'a [u8]) -> BoxFuture<'a, Result<u64>> {
        let r = self.append_value_now(value);
        Box::pin(async move { r })
    }

    fn sync_values(&self) -> BoxFuture<'_, Result<()>> {
        let r = self.sync_values_now();
        Box::pin(async move { r })
    }

    fn read_value(&self, generation: u32, offset: u64, len: u32) -> BoxFuture<'_, Result<Vec<u8>>> {
        let r = self.read_value_now(generation, offset, len);
        Box::pin(async move { r })
    }

    fn erase_value(&self, generation: u32, offset: u64, len: u32) -> BoxFuture<'_, Result<()>> {
        let r = self.erase_value_now(generation, offset, len);
        Box::pin(async move { r })
    }

    fn set_values_generation(&self, generation: u32) -> BoxFuture<'_, Result<()>> {
        let r = self.set_values_generation_now(generation);
        Box::pin(async move { r })
    }

    fn rewrite_values<'a>(
        &'a self,
        generation: u32,
        spans: &'a [(u64, u32)],
    ) -> BoxFuture<'a, Result<Vec<u64>>> {
        let r = self.rewrite_values_now(generation, spans);
        Box::pin(async move { r })
    }

    fn values_len(&self) -> BoxFuture<'_, Result<u64>> {
        let r = self.values_len_now();
        Box::pin(async move { r })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Appends that lost their handle are never acknowledged by a flush.
    #[test]
    fn a_flush_without_a_handle_for_its_appends_fails() {
        let dir = std::env::temp_dir().join(format!("sr-sync-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let st = FileStorage::open(dir.join("s")).unwrap();
        st.save_now(b"base").unwrap();
        st.append_now(4, b"record").unwrap();
        st.file.lock().unwrap().file = None;
        let e = st.sync_now().unwrap_err();
        assert_eq!(e.code(), "Rejected.StoreIo");
        // And the storage accepts nothing more until reopened.
        assert!(st.append_now(10, b"more").is_err());
        drop(st);
        let _ = fs::remove_dir_all(&dir);
    }
}
