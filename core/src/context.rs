//! EncryptionContext: string pairs bound to a ciphertext as AAD, order-insensitive.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::codec::Writer;
use crate::error::{Error, Result};

/// The most characters the canonical JSON form may have (Alibaba's limit).
pub const MAX_CONTEXT_CHARS: usize = 8192;

/// A JSON object of string values bound to a ciphertext as additional authenticated
/// data. Never stored in the ciphertext: Decrypt must be given the same pairs (in any
/// order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a context from pairs, checking its size.
    ///
    /// # Errors
    /// `InvalidParameter.EncryptionContext` when a key repeats or the canonical JSON
    /// form exceeds [`MAX_CONTEXT_CHARS`].
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            let k = k.into();
            if map.insert(k, v.into()).is_some() {
                return Err(Error::param("EncryptionContext", "a key appears twice"));
            }
        }
        let ctx = EncryptionContext(map);
        ctx.check()?;
        Ok(ctx)
    }

    /// Adds a pair.
    ///
    /// # Errors
    /// `InvalidParameter.EncryptionContext` when the context grows past the limit.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<()> {
        self.0.insert(key.into(), value.into());
        self.check()
    }

    /// A copy of its pairs.
    pub(crate) fn to_map(&self) -> BTreeMap<String, String> {
        self.0.clone()
    }

    /// Whether it has no pair.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `key`, if the context has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The pairs in canonical (byte-wise key) order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn check(&self) -> Result<()> {
        let n = self.canonical_json().chars().count();
        if n > MAX_CONTEXT_CHARS {
            return Err(Error::param(
                "EncryptionContext",
                alloc::format!("{n} characters; at most {MAX_CONTEXT_CHARS}"),
            ));
        }
        Ok(())
    }

    /// The canonical JSON form: keys sorted byte-wise, no whitespace, minimal escapes.
    #[must_use]
    pub fn canonical_json(&self) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json_string(&mut s, k);
            s.push(':');
            json_string(&mut s, v);
        }
        s.push('}');
        s
    }

    /// Parses the canonical encoding written by [`EncryptionContext::aad`]. Only the
    /// canonical form is accepted (keys strictly increasing, exact length), so one
    /// context has exactly one encoding.
    #[must_use]
    pub fn from_aad(bytes: &[u8]) -> Option<Self> {
        let mut r = crate::codec::Reader::new(bytes);
        let n = r.u16()?;
        let mut map = BTreeMap::new();
        let mut last: Option<String> = None;
        for _ in 0..n {
            let k = r.str16()?;
            let v = r.str16()?;
            if last.as_ref().is_some_and(|l| l.as_bytes() >= k.as_bytes()) {
                return None;
            }
            last = Some(k.clone());
            map.insert(k, v);
        }
        if r.remaining() != 0 {
            return None;
        }
        let ctx = EncryptionContext(map);
        ctx.check().ok()?;
        Some(ctx)
    }

    /// The AAD bytes: `u16 count`, then for each pair in canonical order
    /// `u16 len, key UTF-8, u16 len, value UTF-8` (docs/FORMAT.md §EncryptionContext).
    #[must_use]
    pub fn aad(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u16(u16::try_from(self.0.len()).unwrap_or(u16::MAX));
        for (k, v) in &self.0 {
            w.str16(k);
            w.str16(v);
        }
        w.buf
    }
}

/// A JSON string literal of `s` (quotes, backslashes and control characters escaped),
/// appended to `out`: the one JSON string writer of the core's hand-written JSON.
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of bytes that need no escape are copied whole (the audit writer formats
    // every event's fields through here); only `"`, `\` and C0 controls are escaped,
    // all ASCII, so every run boundary is a char boundary.
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b != b'"' && b != b'\\' && b >= 0x20 {
            continue;
        }
        out.push_str(s.get(start..i).unwrap_or_default());
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{:04x}", c);
            }
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_escapes_as_serde_json_does() {
        let samples = [
            "",
            "plain",
            "quote\" and \\ backslash",
            "tab\tnew\nline\rret",
            "\u{1}\u{1f}\u{7f}",
            "héllo wörld ✓ 🔑",
            "\"",
            "\\",
            "a\u{0}b",
            "end\\",
            "ünïcödé \"mixed\" \u{8}\u{c}",
        ];
        for s in samples {
            let mut ours = String::new();
            json_string(&mut ours, s);
            // The same string back, and the escapes serde_json would write.
            assert_eq!(
                serde_json::from_str::<String>(&ours).ok().as_deref(),
                Some(s),
                "{ours}"
            );
            // serde_json writes \b and \f; the canonical form writes \u0008 and \u000c
            // (docs/FORMAT.md counts escapes as written: those are 6 characters).
            let theirs = serde_json::to_string(s)
                .unwrap_or_default()
                .replace("\\b", "\\u0008")
                .replace("\\f", "\\u000c");
            assert_eq!(ours, theirs, "{s:?}");
        }
    }

    #[test]
    fn order_insensitive_and_canonical() {
        let a = EncryptionContext::from_pairs([("b", "2"), ("a", "1")]).unwrap_or_default();
        let b = EncryptionContext::from_pairs([("a", "1"), ("b", "2")]).unwrap_or_default();
        assert_eq!(a.aad(), b.aad());
        assert_eq!(a.canonical_json(), r#"{"a":"1","b":"2"}"#);
        assert_eq!(
            a.aad(),
            [0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2']
        );
    }

    #[test]
    fn too_large_is_refused() {
        let big = "x".repeat(MAX_CONTEXT_CHARS);
        let e = EncryptionContext::from_pairs([("k", big)]);
        assert_eq!(
            e.map(|_| ()).map_err(|e| e.code()),
            Err("InvalidParameter.EncryptionContext")
        );
    }
}

/// The serde form is a map of strings; reading it back applies
/// [`EncryptionContext::from_pairs`]'s rules.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for EncryptionContext {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let pairs = <BTreeMap<String, String> as serde::Deserialize>::deserialize(d)?;
        EncryptionContext::from_pairs(pairs).map_err(<D::Error as serde::de::Error>::custom)
    }
}
