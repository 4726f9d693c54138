//! Identifiers: KeyId and KeyVersionId are RFC 4122 version-4 UUIDs, as in Alibaba KMS.

use alloc::string::String;

use crate::env::Env;
use crate::error::Result;

/// A fresh random UUID (version 4, variant 1), lower-case hyphenated.
pub(crate) fn uuid_v4(env: &Env) -> Result<String> {
    Ok(uuid_v4_from(env.random()?))
}

/// A UUID v4 text from 16 random bytes (version and variant bits set here).
pub(crate) fn uuid_v4_from(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(hex_digit(byte >> 4));
        s.push(hex_digit(byte & 0x0f));
    }
    s
}

fn hex_digit(n: u8) -> char {
    char::from(if n < 10 { b'0' + n } else { b'a' + n - 10 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::sync::Arc;

    struct Ones;
    impl crate::env::Entropy for Ones {
        fn fill(&self, buf: &mut [u8]) -> Result<()> {
            buf.fill(0xff);
            Ok(())
        }
    }

    #[test]
    fn uuid_v4_sets_version_and_variant() {
        let env = Env::new(Arc::new(Ones), Arc::new(crate::time::ManualClock::new(0)));
        assert_eq!(
            uuid_v4(&env).ok().as_deref(),
            Some("ffffffff-ffff-4fff-bfff-ffffffffffff")
        );
    }
}
