//! KMIP's TTLV encoding (KMIP 1.x §9.1): every item is a 3-byte tag, a 1-byte type, a
//! 4-byte big-endian length and the value, padded with zeros to a multiple of 8 bytes.
//! Only what the backend sends and reads is named here; unknown items decode too and
//! are skipped by the reader.

use zeroize::Zeroize;

/// The largest message read from a server (a guard against a hostile length).
pub const MAX_MESSAGE: usize = 1 << 20;
/// How deep structures may nest in an answer.
const MAX_DEPTH: usize = 16;

/// Tags (KMIP 1.4 §9.1.3.1).
#[allow(missing_docs)]
pub mod tag {
    pub const ATTRIBUTE: u32 = 0x42_0008;
    pub const ATTRIBUTE_NAME: u32 = 0x42_000A;
    pub const ATTRIBUTE_VALUE: u32 = 0x42_000B;
    pub const BATCH_COUNT: u32 = 0x42_000D;
    pub const BATCH_ITEM: u32 = 0x42_000F;
    pub const BLOCK_CIPHER_MODE: u32 = 0x42_0011;
    pub const CRYPTOGRAPHIC_ALGORITHM: u32 = 0x42_0028;
    pub const CRYPTOGRAPHIC_LENGTH: u32 = 0x42_002A;
    pub const CRYPTOGRAPHIC_PARAMETERS: u32 = 0x42_002B;
    pub const CRYPTOGRAPHIC_USAGE_MASK: u32 = 0x42_002C;
    pub const IV_COUNTER_NONCE: u32 = 0x42_003D;
    pub const KEY_BLOCK: u32 = 0x42_0040;
    pub const KEY_FORMAT_TYPE: u32 = 0x42_0042;
    pub const KEY_MATERIAL: u32 = 0x42_0043;
    pub const KEY_VALUE: u32 = 0x42_0045;
    pub const NAME: u32 = 0x42_0053;
    pub const NAME_TYPE: u32 = 0x42_0054;
    pub const NAME_VALUE: u32 = 0x42_0055;
    pub const OBJECT_TYPE: u32 = 0x42_0057;
    pub const OPERATION: u32 = 0x42_005C;
    pub const PROTOCOL_VERSION: u32 = 0x42_0069;
    pub const PROTOCOL_VERSION_MAJOR: u32 = 0x42_006A;
    pub const PROTOCOL_VERSION_MINOR: u32 = 0x42_006B;
    pub const REQUEST_HEADER: u32 = 0x42_0077;
    pub const REQUEST_MESSAGE: u32 = 0x42_0078;
    pub const REQUEST_PAYLOAD: u32 = 0x42_0079;
    pub const RESPONSE_HEADER: u32 = 0x42_007A;
    pub const RESPONSE_MESSAGE: u32 = 0x42_007B;
    pub const RESPONSE_PAYLOAD: u32 = 0x42_007C;
    pub const RESULT_MESSAGE: u32 = 0x42_007D;
    pub const RESULT_REASON: u32 = 0x42_007E;
    pub const RESULT_STATUS: u32 = 0x42_007F;
    pub const REVOCATION_REASON: u32 = 0x42_0081;
    pub const REVOCATION_REASON_CODE: u32 = 0x42_0082;
    pub const SYMMETRIC_KEY: u32 = 0x42_008F;
    pub const TEMPLATE_ATTRIBUTE: u32 = 0x42_0091;
    pub const UNIQUE_IDENTIFIER: u32 = 0x42_0094;
    pub const DATA: u32 = 0x42_00C2;
    pub const TAG_LENGTH: u32 = 0x42_00CE;
    pub const AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA: u32 = 0x42_00FE;
    pub const AUTHENTICATED_ENCRYPTION_TAG: u32 = 0x42_00FF;
}

/// An item's value.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// Nested items (type 0x01).
    Structure(Vec<Item>),
    /// 32-bit signed (0x02).
    Integer(i32),
    /// 64-bit signed (0x03).
    LongInteger(i64),
    /// Big-endian two's complement (0x04).
    BigInteger(Vec<u8>),
    /// 32-bit enumeration (0x05).
    Enumeration(u32),
    /// (0x06).
    Boolean(bool),
    /// UTF-8 (0x07).
    Text(String),
    /// Octets (0x08): key material, plaintext and ciphertext travel here.
    Bytes(Vec<u8>),
    /// Seconds since the epoch (0x09).
    DateTime(i64),
    /// Seconds (0x0A).
    Interval(u32),
}

impl Drop for Value {
    fn drop(&mut self) {
        // Plaintext data keys travel as byte strings: wiped, whatever held them.
        if let Value::Bytes(b) = self {
            b.zeroize();
        }
    }
}

impl core::fmt::Debug for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Structure(items) => f.debug_list().entries(items).finish(),
            Value::Integer(v) => write!(f, "Integer({v})"),
            Value::LongInteger(v) => write!(f, "LongInteger({v})"),
            Value::BigInteger(v) => write!(f, "BigInteger({} bytes)", v.len()),
            Value::Enumeration(v) => write!(f, "Enumeration({v:#x})"),
            Value::Boolean(v) => write!(f, "Boolean({v})"),
            Value::Text(v) => write!(f, "Text({v:?})"),
            Value::Bytes(v) => write!(f, "Bytes({} bytes, redacted)", v.len()),
            Value::DateTime(v) => write!(f, "DateTime({v})"),
            Value::Interval(v) => write!(f, "Interval({v})"),
        }
    }
}

/// A tagged item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The 24-bit tag.
    pub tag: u32,
    /// Its value.
    pub value: Value,
}

/// `Item { tag, value }`.
#[must_use]
pub fn item(tag: u32, value: Value) -> Item {
    Item { tag, value }
}

/// A structure of `items`.
#[must_use]
pub fn structure(tag: u32, items: Vec<Item>) -> Item {
    item(tag, Value::Structure(items))
}

/// Why an answer could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl Item {
    /// Appends the item's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let t = self.tag.to_be_bytes();
        out.extend_from_slice(t.get(1..).unwrap_or_default());
        let (ty, body): (u8, Vec<u8>) = match &self.value {
            Value::Structure(items) => {
                let mut b = Vec::new();
                for i in items {
                    i.encode(&mut b);
                }
                (0x01, b)
            }
            Value::Integer(v) => (0x02, v.to_be_bytes().to_vec()),
            Value::LongInteger(v) => (0x03, v.to_be_bytes().to_vec()),
            Value::BigInteger(v) => (0x04, v.clone()),
            Value::Enumeration(v) => (0x05, v.to_be_bytes().to_vec()),
            Value::Boolean(v) => (0x06, u64::from(*v).to_be_bytes().to_vec()),
            Value::Text(v) => (0x07, v.as_bytes().to_vec()),
            Value::Bytes(v) => (0x08, v.clone()),
            Value::DateTime(v) => (0x09, v.to_be_bytes().to_vec()),
            Value::Interval(v) => (0x0A, v.to_be_bytes().to_vec()),
        };
        out.push(ty);
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&body);
        let mut body = body;
        body.zeroize();
        out.resize(out.len() + (8 - len as usize % 8) % 8, 0);
    }

    /// The whole encoding.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one item that fills `buf` exactly.
    ///
    /// # Errors
    /// A malformed encoding.
    pub fn decode(buf: &[u8]) -> Result<Item, DecodeError> {
        let (item, used) = decode_at(buf, 0)?;
        if used != buf.len() {
            return Err(DecodeError("bytes after the message"));
        }
        Ok(item)
    }

    /// The first child with `tag` of a structure.
    #[must_use]
    pub fn child(&self, tag: u32) -> Option<&Item> {
        match &self.value {
            Value::Structure(items) => items.iter().find(|i| i.tag == tag),
            _ => None,
        }
    }

    /// The children of a structure (none for other types).
    #[must_use]
    pub fn children(&self) -> &[Item] {
        match &self.value {
            Value::Structure(items) => items,
            _ => &[],
        }
    }

    /// An enumeration or integer child's value.
    #[must_use]
    pub fn enumeration(&self, tag: u32) -> Option<u32> {
        match self.child(tag).map(|i| &i.value) {
            Some(Value::Enumeration(v)) => Some(*v),
            Some(Value::Integer(v)) => u32::try_from(*v).ok(),
            _ => None,
        }
    }

    /// A text child's value.
    #[must_use]
    pub fn text(&self, tag: u32) -> Option<&str> {
        match self.child(tag).map(|i| &i.value) {
            Some(Value::Text(v)) => Some(v),
            _ => None,
        }
    }

    /// A byte-string child's value.
    #[must_use]
    pub fn bytes(&self, tag: u32) -> Option<&[u8]> {
        match self.child(tag).map(|i| &i.value) {
            Some(Value::Bytes(v)) => Some(v),
            _ => None,
        }
    }
}

fn decode_at(buf: &[u8], depth: usize) -> Result<(Item, usize), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError("structures nested too deeply"));
    }
    let head = buf.get(..8).ok_or(DecodeError("a truncated item header"))?;
    let mut t = [0u8; 4];
    t[1..].copy_from_slice(head.get(..3).ok_or(DecodeError("a truncated tag"))?);
    let tag = u32::from_be_bytes(t);
    let ty = head.get(3).copied().unwrap_or_default();
    let mut l = [0u8; 4];
    l.copy_from_slice(head.get(4..8).ok_or(DecodeError("a truncated length"))?);
    let len = u32::from_be_bytes(l) as usize;
    let padded = len
        .checked_add((8 - len % 8) % 8)
        .ok_or(DecodeError("an item length overflows"))?;
    let body = buf
        .get(8..8 + len)
        .ok_or(DecodeError("an item longer than the message"))?;
    if buf.len() < 8 + padded {
        return Err(DecodeError("an item's padding is missing"));
    }
    let fixed = |n: usize| -> Result<[u8; 8], DecodeError> {
        if len != n {
            return Err(DecodeError("a fixed-size item has the wrong length"));
        }
        let mut a = [0u8; 8];
        for (dst, src) in a.iter_mut().skip(8 - n).zip(body) {
            *dst = *src;
        }
        Ok(a)
    };
    let value = match ty {
        0x01 => {
            let mut items = Vec::new();
            let mut at = 0;
            while at < len {
                let rest = body.get(at..).ok_or(DecodeError("a truncated structure"))?;
                let (i, used) = decode_at(rest, depth + 1)?;
                items.push(i);
                at += used;
            }
            if at != len {
                return Err(DecodeError("a structure's items overrun it"));
            }
            Value::Structure(items)
        }
        0x02 => Value::Integer(i32::from_be_bytes(tail4(fixed(4)?))),
        0x03 => Value::LongInteger(i64::from_be_bytes(fixed(8)?)),
        0x04 => Value::BigInteger(body.to_vec()),
        0x05 => Value::Enumeration(u32::from_be_bytes(tail4(fixed(4)?))),
        0x06 => Value::Boolean(u64::from_be_bytes(fixed(8)?) != 0),
        0x07 => Value::Text(
            core::str::from_utf8(body)
                .map_err(|_| DecodeError("a text string that is not UTF-8"))?
                .to_owned(),
        ),
        0x08 => Value::Bytes(body.to_vec()),
        0x09 => Value::DateTime(i64::from_be_bytes(fixed(8)?)),
        0x0A => Value::Interval(u32::from_be_bytes(tail4(fixed(4)?))),
        _ => return Err(DecodeError("an unknown item type")),
    };
    Ok((Item { tag, value }, 8 + padded))
}

fn tail4(a: [u8; 8]) -> [u8; 4] {
    [a[4], a[5], a[6], a[7]]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_specs_examples() {
        // KMIP 1.4 §9.1.2: an Integer 8 and a Text String "Hello World" under tag 0x420020.
        assert_eq!(
            hex(&item(0x42_0020, Value::Integer(8)).to_bytes()),
            "42002002000000040000000800000000"
        );
        assert_eq!(
            hex(&item(0x42_0020, Value::Text("Hello World".into())).to_bytes()),
            "420020070000000b48656c6c6f20576f726c640000000000"
        );
        assert_eq!(
            hex(&item(0x42_0020, Value::Enumeration(255)).to_bytes()),
            "4200200500000004000000ff00000000"
        );
        assert_eq!(
            hex(&item(0x42_0020, Value::Boolean(true)).to_bytes()),
            "42002006000000080000000000000001"
        );
        // The structure example: an Enumeration and an Integer inside tag 0x420020.
        let s = structure(
            0x42_0020,
            vec![
                item(0x42_0004, Value::Enumeration(254)),
                item(0x42_0005, Value::Integer(255)),
            ],
        );
        assert_eq!(
            hex(&s.to_bytes()),
            "42002001000000204200040500000004000000fe000000004200050200000004000000ff00000000"
        );
    }

    #[test]
    fn round_trips_and_refuses_malformed_input() {
        let s = structure(
            tag::REQUEST_MESSAGE,
            vec![
                item(tag::DATA, Value::Bytes(vec![1, 2, 3])),
                item(tag::UNIQUE_IDENTIFIER, Value::Text("1".into())),
                item(tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(-5)),
                item(tag::OPERATION, Value::LongInteger(1 << 40)),
                item(tag::NAME, Value::DateTime(1_700_000_000)),
                item(tag::NAME_TYPE, Value::Interval(7)),
                item(tag::NAME_VALUE, Value::BigInteger(vec![0xff; 8])),
                structure(tag::ATTRIBUTE, vec![]),
            ],
        );
        let b = s.to_bytes();
        assert_eq!(b.len() % 8, 0);
        let back = Item::decode(&b).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.bytes(tag::DATA), Some(&[1u8, 2, 3][..]));
        assert_eq!(back.text(tag::UNIQUE_IDENTIFIER), Some("1"));
        // Every truncation is an error, never a panic.
        for n in 0..b.len() {
            assert!(Item::decode(&b[..n]).is_err(), "{n}");
        }
        // A length past the end; an unknown type; a wrong fixed size; bad UTF-8.
        let mut bad = b.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Item::decode(&bad).is_err());
        assert!(Item::decode(&hex_de("42002011000000000000000000000000")[..8]).is_err());
        assert!(Item::decode(&hex_de("42002002000000080000000000000008")).is_err());
        assert!(Item::decode(&hex_de("420020070000000100ff000000000000")[..]).is_ok());
        assert!(Item::decode(&hex_de("4200200700000001ff00000000000000")).is_err());
        // Deep nesting is refused.
        let mut deep = item(tag::DATA, Value::Integer(1));
        for _ in 0..40 {
            deep = structure(tag::ATTRIBUTE, vec![deep]);
        }
        assert!(Item::decode(&deep.to_bytes()).is_err());
        // Debug never shows byte strings.
        assert!(!format!("{s:?}").contains("[1, 2, 3]"));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn hex_de(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
