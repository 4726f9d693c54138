//! The native audit sink: one append-only file beside the store (`<store>.audit`,
//! 0600). Records are appended with `write`; `sync` is `fdatasync`. A record torn
//! by a crash mid-write (bytes after the last newline) is cut off when the file is
//! opened again, so the chain continues from the last whole record. Rotation renames
//! the file and starts a new one that continues the same chain.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::audit::AuditSink;
use crate::error::{Error, Result};

/// An audit trail kept in one file.
#[derive(Debug)]
pub struct FileAuditSink {
    path: PathBuf,
    file: Mutex<File>,
    last: Mutex<Option<String>>,
}

fn err(what: &str, path: &Path, e: &std::io::Error) -> Error {
    Error::AuditFailed(format!("audit trail {what} {}: {e}", path.display()))
}

impl FileAuditSink {
    /// The trail beside a store file: `<store>.audit`.
    #[must_use]
    pub fn beside(store: &Path) -> PathBuf {
        let mut s = store.as_os_str().to_os_string();
        s.push(".audit");
        PathBuf::from(s)
    }

    /// Opens (or creates, 0600) the trail at `path`, cutting off a torn last record.
    ///
    /// # Errors
    /// `Rejected.AuditFailed` with the I/O error; a symbolic link is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<FileAuditSink> {
        let path = path.as_ref().to_path_buf();
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::AuditFailed(format!(
                "audit trail {} is a symbolic link",
                path.display()
            )));
        }
        let mut o = OpenOptions::new();
        o.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f = o.open(&path).map_err(|e| err("open", &path, &e))?;
        let (last, keep) = last_line(&mut f).map_err(|e| err("read", &path, &e))?;
        let len = f.metadata().map_err(|e| err("stat", &path, &e))?.len();
        if keep < len {
            f.set_len(keep).map_err(|e| err("repair", &path, &e))?;
            f.sync_data().map_err(|e| err("sync", &path, &e))?;
        }
        Ok(FileAuditSink {
            path,
            file: Mutex::new(f),
            last: Mutex::new(last),
        })
    }

    /// Where it writes.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the current file to `to` and continues the chain in a fresh file at
    /// the same path (a verifier checks the two in order: the new file's first record
    /// follows the old file's last).
    ///
    /// # Errors
    /// `Rejected.AuditFailed`.
    pub fn rotate(&self, to: &Path) -> Result<()> {
        let mut f = self
            .file
            .lock()
            .map_err(|_| Error::Internal("audit file lock"))?;
        f.sync_data().map_err(|e| err("sync", &self.path, &e))?;
        fs::rename(&self.path, to).map_err(|e| err("rotate", &self.path, &e))?;
        let mut o = OpenOptions::new();
        o.read(true).append(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        *f = o
            .open(&self.path)
            .map_err(|e| err("open", &self.path, &e))?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// The last whole line and the length of the file up to its end (bytes after it are
/// a torn record).
fn last_line(f: &mut File) -> std::io::Result<(Option<String>, u64)> {
    let len = f.seek(SeekFrom::End(0))?;
    let mut chunk = 64 * 1024u64;
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let start = len.saturating_sub(chunk);
        f.seek(SeekFrom::Start(start))?;
        tail.clear();
        Read::by_ref(f).take(len - start).read_to_end(&mut tail)?;
        if let Some(nl) = tail.iter().rposition(|&b| b == b'\n') {
            let keep = start + nl as u64 + 1;
            let body = tail.get(..nl).unwrap_or_default();
            match body.iter().rposition(|&b| b == b'\n') {
                Some(p) => {
                    return Ok((
                        Some(
                            String::from_utf8_lossy(body.get(p + 1..).unwrap_or_default())
                                .into_owned(),
                        ),
                        keep,
                    ));
                }
                None if start == 0 => {
                    let line =
                        (!body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned());
                    return Ok((line, keep));
                }
                None => {}
            }
        } else if start == 0 {
            return Ok((None, 0));
        }
        chunk = chunk.saturating_mul(4);
    }
}

/// The last line of `b`, as `str::lines().last()` gives it (without its `\n` or
/// `\r\n`), found from the end.
fn last_line_of(b: &[u8]) -> Option<&[u8]> {
    if b.is_empty() {
        return None;
    }
    let body = b.strip_suffix(b"\n").unwrap_or(b);
    let body = if body.len() < b.len() {
        body.strip_suffix(b"\r").unwrap_or(body)
    } else {
        body
    };
    let start = body.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
    body.get(start..)
}

/// The size of each write(2) of a batch up to [`PIECED_UP_TO`] bytes.
const WRITE_PIECE: usize = 64 << 10;
/// Batches larger than this are written in one call.
const PIECED_UP_TO: usize = 2 << 20;

impl AuditSink for FileAuditSink {
    fn append(&self, lines: &[u8]) -> Result<()> {
        let mut f = self
            .file
            .lock()
            .map_err(|_| Error::Internal("audit file lock"))?;
        // A server's batches (up to a couple of MiB) in pieces of 64 KiB: one write(2)
        // of a megabyte went 4-6x slower into the page cache than the same bytes in
        // 64 KiB writes (ext4 on this project's VMs), and bench/gateway.sh's Encrypt
        // gained ~10 % QPS. The in-process rates' much larger batches go in one write:
        // pieced, `strongroom-bench --access-only` cost 1.29-1.40x instead of ~1.25x.
        // The bytes in the file are the same either way.
        if lines.len() <= PIECED_UP_TO {
            for piece in lines.chunks(WRITE_PIECE) {
                f.write_all(piece)
                    .map_err(|e| err("write", &self.path, &e))?;
            }
        } else {
            f.write_all(lines)
                .map_err(|e| err("write", &self.path, &e))?;
        }
        // The last line only (a batch can be megabytes): found from the end.
        if let Some(l) = last_line_of(lines) {
            *self
                .last
                .lock()
                .map_err(|_| Error::Internal("audit file lock"))? =
                Some(String::from_utf8_lossy(l).into_owned());
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        let f = self
            .file
            .lock()
            .map_err(|_| Error::Internal("audit file lock"))?;
        f.sync_data().map_err(|e| err("sync", &self.path, &e))
    }

    fn last_line(&self) -> Result<Option<String>> {
        Ok(self
            .last
            .lock()
            .map_err(|_| Error::Internal("audit file lock"))?
            .clone())
    }
}

#[cfg(test)]
mod tests {
    use super::last_line_of;
    use super::{AuditSink, FileAuditSink, WRITE_PIECE};
    use alloc::format;
    use alloc::string::String;

    /// A batch longer than a write piece lands whole and in order, its last line kept.
    #[test]
    fn a_long_batch_is_written_whole_in_pieces() {
        let dir = std::env::temp_dir().join(format!("sr-audit-pieces-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("trail.audit");
        let sink = FileAuditSink::open(&path).expect("open");
        let mut batch = String::new();
        let mut i = 0;
        while batch.len() < 3 * WRITE_PIECE + 123 {
            batch.push_str(&format!(
                "{{\"seq\":{i},\"pad\":\"{}\"}}\n",
                "x".repeat(i % 700)
            ));
            i += 1;
        }
        sink.append(batch.as_bytes()).expect("append");
        // And one over the pieced size, in one write.
        let mut big = String::new();
        while big.len() <= super::PIECED_UP_TO {
            big.push_str(&format!("{{\"big\":{}}}\n", big.len()));
        }
        sink.append(big.as_bytes()).expect("append");
        sink.append(b"{\"seq\":\"last\"}\n").expect("append");
        let mut want = batch.clone();
        want.push_str(&big);
        want.push_str("{\"seq\":\"last\"}\n");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), want);
        assert_eq!(
            sink.last_line().expect("last").as_deref(),
            Some("{\"seq\":\"last\"}")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn last_line_is_what_lines_last_gives() {
        for t in [
            "",
            "a",
            "a\n",
            "a\nb",
            "a\nb\n",
            "a\r\nb\r\n",
            "a\n\n",
            "\n",
            "x\ny\nz",
        ] {
            let want = t.lines().last().map(str::as_bytes);
            assert_eq!(last_line_of(t.as_bytes()), want, "{t:?}");
        }
    }
}
