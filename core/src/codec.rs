//! Length-prefixed binary encoding used by every format (see docs/FORMAT.md).
//! All integers are big-endian. The reader never panics: every read is bounds-checked.

use alloc::string::String;
use alloc::vec::Vec;

/// Lower-case hex of `b` (digests in the audit trail, the request signature).
pub(crate) fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        for n in [x >> 4, x & 15] {
            s.push(char::from(D.get(usize::from(n)).copied().unwrap_or(b'0')));
        }
    }
    s
}

/// Appends fields to a buffer.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
    /// The buffer holds secrets: when it must grow, the old allocation is wiped
    /// before it is freed (a plain `Vec` would leave an unwiped copy behind on every
    /// reallocation). Its owner takes `buf` into a `SecretBytes`, which wipes it.
    secret: bool,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer {
            buf: Vec::new(),
            secret: false,
        }
    }
    /// A writer for bytes that include key material (the state, journal deltas).
    pub(crate) fn secret() -> Self {
        Writer {
            buf: Vec::with_capacity(4096),
            secret: true,
        }
    }
    fn put(&mut self, v: &[u8]) {
        if self.secret && self.buf.len() + v.len() > self.buf.capacity() {
            let want = (self.buf.len() + v.len()).max(self.buf.capacity() * 2);
            let mut grown = Vec::with_capacity(want);
            grown.extend_from_slice(&self.buf);
            zeroize::Zeroize::zeroize(&mut self.buf);
            self.buf = grown;
        }
        self.buf.extend_from_slice(v);
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.put(&v.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.put(&v.to_be_bytes());
    }
    pub(crate) fn raw(&mut self, v: &[u8]) {
        self.put(v);
    }
    /// u8 length + bytes; callers guarantee `v.len() <= 255`.
    pub(crate) fn bytes8(&mut self, v: &[u8]) {
        let n = u8::try_from(v.len()).unwrap_or(u8::MAX);
        self.u8(n);
        self.raw(v.get(..usize::from(n)).unwrap_or_default());
    }
    /// u16 length + bytes; callers guarantee `v.len() <= 65535`.
    pub(crate) fn bytes16(&mut self, v: &[u8]) {
        let n = u16::try_from(v.len()).unwrap_or(u16::MAX);
        self.u16(n);
        self.raw(v.get(..usize::from(n)).unwrap_or_default());
    }
    /// u32 length + bytes.
    pub(crate) fn bytes32(&mut self, v: &[u8]) {
        let n = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.u32(n);
        self.raw(v);
    }
    pub(crate) fn str16(&mut self, v: &str) {
        self.bytes16(v.as_bytes());
    }
}

/// Reads fields from a slice; `None` on any short read.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let r = self.buf;
        self.buf = &[];
        r
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(u8::from_be_bytes(self.array()?))
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.array()?))
    }
    pub(crate) fn bytes8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    pub(crate) fn bytes16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    pub(crate) fn bytes32(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }
    pub(crate) fn str16(&mut self) -> Option<String> {
        let b = self.bytes16()?;
        String::from_utf8(b.to_vec()).ok()
    }
}
