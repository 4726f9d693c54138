//! `std::io` adapters: an encrypting [`Write`], a decrypting [`Read`], and
//! [`Kms::encrypt_stream`](crate::Kms::encrypt_stream) / [`Kms::decrypt_stream`](crate::Kms::decrypt_stream) that copy between the two with
//! memory bounded by the frame length.
//!
//! Errors cross `std::io` as [`io::Error`]s wrapping the [`Error`]; get it back with
//! [`strongroom_error`].

use alloc::vec::Vec;
use std::io::{self, Read, Write};

use super::{Decryptor, Encryptor, EnvelopeHeader, HeaderParser};
use crate::error::{Error, Result};

pub(crate) const CHUNK: usize = 64 * 1024;

fn to_io(e: Error) -> io::Error {
    io::Error::other(e)
}

pub(crate) fn from_io(e: io::Error) -> Error {
    match e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
        Some(inner) => inner.clone(),
        None => Error::Io(alloc::format!("{e}")),
    }
}

/// The strongroom error inside an `io::Error` from these adapters, if any.
#[must_use]
pub fn strongroom_error(e: &io::Error) -> Option<&Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<Error>())
}

/// Encrypts everything written to it into `inner`. Call [`EncryptWriter::finish`] at
/// the end: without it the message has no final frame and will not decrypt.
pub struct EncryptWriter<W: Write> {
    enc: Option<Encryptor>,
    inner: W,
    out: Vec<u8>,
}

impl<W: Write> EncryptWriter<W> {
    /// Wraps `inner`.
    pub fn new(enc: Encryptor, inner: W) -> Self {
        EncryptWriter {
            enc: Some(enc),
            inner,
            out: Vec::new(),
        }
    }

    /// Writes the final frame, flushes, and returns the inner writer.
    ///
    /// # Errors
    /// The inner writer's errors.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(enc) = self.enc.take() {
            enc.finish(&mut self.out).map_err(to_io)?;
            self.inner.write_all(&self.out)?;
            self.out.clear();
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let enc = self
            .enc
            .as_mut()
            .ok_or_else(|| io::Error::other("the envelope is finished"))?;
        enc.update(buf, &mut self.out).map_err(to_io)?;
        self.inner.write_all(&self.out)?;
        self.out.clear();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads an envelope header from `src`. Returns it with the body bytes that were read
/// past it.
///
/// # Errors
/// As [`super::parse_header`]; `InvalidCiphertext.Truncated` (or `NotAnEnvelope` for
/// empty input) when `src` ends first; `Rejected.Io`.
pub fn read_header<R: Read + ?Sized>(src: &mut R) -> Result<(EnvelopeHeader, Vec<u8>)> {
    let mut p = HeaderParser::new();
    let mut chunk = alloc::vec![0u8; 4096];
    loop {
        let n = read_some(src, &mut chunk)?;
        if n == 0 {
            return Err(p.end());
        }
        let got = chunk.get(..n).unwrap_or_default();
        if let Some((h, used)) = p.feed(got)? {
            return Ok((h, got.get(used..).unwrap_or_default().to_vec()));
        }
    }
}

pub(crate) fn read_some<R: Read + ?Sized>(src: &mut R, buf: &mut [u8]) -> Result<usize> {
    loop {
        match src.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(from_io(e)),
        }
    }
}

/// Decrypts a body read from `inner`; yields plaintext only from frames that
/// authenticated, and an error (not end of file) if the message was cut short.
pub struct DecryptReader<R: Read> {
    dec: Decryptor,
    inner: R,
    pending: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    eof: bool,
    chunk: Vec<u8>,
    /// The first failure, answered again by every later read: a message that failed
    /// never reads as a clean end.
    failed: Option<Error>,
}

impl<R: Read> DecryptReader<R> {
    /// Wraps `inner`; `leftover` is body already read (from [`read_header`]).
    pub fn new(dec: Decryptor, leftover: Vec<u8>, inner: R) -> Self {
        DecryptReader {
            dec,
            inner,
            pending: leftover,
            out: Vec::new(),
            pos: 0,
            eof: false,
            chunk: alloc::vec![0u8; CHUNK],
            failed: None,
        }
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(to_io(e.clone()));
        }
        match self.read_more(buf) {
            Err(e) => {
                if let Some(inner) = strongroom_error(&e) {
                    self.failed = Some(inner.clone());
                } else if e.kind() != io::ErrorKind::Interrupted {
                    self.failed = Some(Error::Io(alloc::format!("{e}")));
                }
                Err(e)
            }
            ok => ok,
        }
    }
}

impl<R: Read> DecryptReader<R> {
    fn read_more(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.eof {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            if !self.pending.is_empty() {
                let p = core::mem::take(&mut self.pending);
                self.dec.update(&p, &mut self.out).map_err(to_io)?;
                continue;
            }
            let n = read_some(&mut self.inner, &mut self.chunk).map_err(to_io)?;
            if n == 0 {
                self.eof = true;
                self.dec.finish().map_err(to_io)?;
                continue;
            }
            let got = self.chunk.get(..n).unwrap_or_default();
            self.dec.update(got, &mut self.out).map_err(to_io)?;
        }
        let avail = self.out.get(self.pos..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.pos += n;
        Ok(n)
    }
}
