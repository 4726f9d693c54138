//! The ACS3-HMAC-SHA256 request signature that Alibaba Cloud's Tea / Darabonba SDKs
//! send, built exactly as they build it: the gateway verifies it and a connected
//! [`crate::Kms`] signs with it. The HMAC is RustCrypto's; this file only builds the
//! strings it signs.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::codec::hex;

/// RFC 3986 percent-encoding as Alibaba's signers apply it: every byte but
/// `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper-case hex), spaces `%20`.
#[must_use]
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let hex = |n: u8| char::from(HEX.get(usize::from(n)).copied().unwrap_or(b'0'));
            out.push('%');
            out.push(hex(b >> 4));
            out.push(hex(b & 0x0f));
        }
    }
    out
}

/// The parts of an ACS3 canonical request.
#[derive(Debug)]
pub struct Acs3Request<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The request path, as sent (already percent-encoded).
    pub path: &'a str,
    /// The query parameters, decoded.
    pub query: &'a [(String, String)],
    /// The signed headers: lower-case name, then every value the request carries for it.
    pub headers: &'a [(&'a str, Vec<&'a str>)],
    /// `x-acs-content-sha256`: the hex SHA-256 of the body.
    pub payload_hash: &'a str,
}

/// The ACS3 canonical request:
/// `METHOD\nURI\nQUERY\nHEADERS\nSIGNED_HEADERS\nPAYLOAD_HASH`.
#[must_use]
pub fn acs3_canonical_request(r: &Acs3Request<'_>) -> String {
    let mut query: Vec<&(String, String)> = r.query.iter().collect();
    query.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let query = query
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    let mut names = Vec::with_capacity(r.headers.len());
    for (name, values) in r.headers {
        let mut vs: Vec<&str> = values.iter().map(|v| v.trim()).collect();
        vs.sort_unstable();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&vs.join(","));
        headers.push('\n');
        names.push(*name);
    }
    let path = if r.path.is_empty() { "/" } else { r.path };
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        r.method,
        path,
        query,
        headers,
        names.join(";"),
        r.payload_hash
    )
}

/// `hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex(SHA-256(canonical_request))))`.
#[must_use]
pub fn acs3_signature(secret: &[u8], canonical_request: &str) -> String {
    let string_to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The hex SHA-256 of a body (`x-acs-content-sha256`).
#[must_use]
pub fn payload_hash(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(percent_encode("a b*~/+=é"), "a%20b%2A~%2F%2B%3D%C3%A9");
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Computed by alibabacloud_openapi_util 0.2.4's own get_authorization.
    #[test]
    fn acs3_matches_alibabacloud_openapi_util() {
        let query = pairs(&[
            ("KeyId", "alias/demo"),
            ("Plaintext", "aGVsbG8gd29ybGQ="),
            ("EncryptionContext", r#"{"tenant":"a b*~é"}"#),
        ]);
        let empty = payload_hash(b"");
        fn h<'a>(n: &'a str, v: &'a str) -> (&'a str, Vec<&'a str>) {
            (n, vec![v])
        }
        let headers = vec![
            h("accept", "application/json"),
            h("host", "127.0.0.1:8443"),
            h("user-agent", "AlibabaCloud (Linux) Python/3.11 TeaDSL/1"),
            h("x-acs-action", "Encrypt"),
            h("x-acs-content-sha256", &empty),
            h("x-acs-date", "2026-12-02T09:30:00Z"),
            h("x-acs-signature-nonce", "abc123"),
            h("x-acs-version", "2016-01-20"),
        ];
        let cr = acs3_canonical_request(&Acs3Request {
            method: "POST",
            path: "/",
            query: &query,
            headers: &headers,
            payload_hash: &empty,
        });
        assert_eq!(
            acs3_signature(b"SecretExample", &cr),
            "03ce6bc770ed8829b13c967e9d62e63631f6f16d3f97ab63cc3c73ecf923eefd"
        );
    }
}
