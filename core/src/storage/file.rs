//! The native single-file store: atomic replace (temp file, fsync, rename, fsync of
//! the directory) and an exclusive OS lock against a second writer.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::Storage;
use crate::backend::BoxFuture;
use crate::error::{Error, Result};

/// A store kept in one file at `path`, locked (`path` + `.lock`) while open.
#[derive(Debug)]
pub struct FileStorage {
    path: PathBuf,
    _lock: File,
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::StoreIo(format!("{what} {}: {e}", path.display()))
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
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| io("creating", dir, &e))?;
        }
        let lock_path = lock_path(&path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io("opening", &lock_path, &e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::StoreLocked),
            Err(std::fs::TryLockError::Error(e)) => return Err(io("locking", &lock_path, &e)),
        }
        Ok(FileStorage { path, _lock: lock })
    }

    /// The store file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn save_now(&self, image: &[u8]) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(image)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                // Make the rename itself durable.
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io("writing", &self.path, &e)
        })
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

impl Storage for FileStorage {
    fn load(&self) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
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
}
