//! The two request signatures Alibaba Cloud's clients send, computed exactly as they
//! compute them: RPC `SignatureVersion 1.0` with `HMAC-SHA1` (aliyun-python-sdk-core,
//! Alibaba's CLI) and `ACS3-HMAC-SHA256` (the Tea / Darabonba SDKs). The HMACs are
//! RustCrypto's; this file only builds the strings they sign.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

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

/// The RPC string to sign: `METHOD&%2F&` + the percent-encoded canonical query of every
/// parameter but `Signature`, sorted by name.
#[must_use]
pub fn rpc_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> =
        params.iter().filter(|(k, _)| k != "Signature").collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let canonical = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{method}&%2F&{}", percent_encode(&canonical))
}

/// `base64(HMAC-SHA1(secret + "&", string_to_sign))`.
#[must_use]
pub fn rpc_signature(secret: &[u8], string_to_sign: &str) -> String {
    let mut key = Vec::with_capacity(secret.len() + 1);
    key.extend_from_slice(secret);
    key.push(b'&');
    // HMAC takes a key of any length: new_from_slice cannot fail.
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&key) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    let tag = mac.finalize().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(tag)
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
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The hex SHA-256 of a body (`x-acs-content-sha256`).
#[must_use]
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Compares two signatures in constant time.
#[must_use]
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(percent_encode("a b*~/+=é"), "a%20b%2A~%2F%2B%3D%C3%A9");
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Computed by aliyun-python-sdk-core 2.16.1's own rpc_signature_composer.
    #[test]
    fn rpc_matches_aliyun_python_sdk_core() {
        let params = pairs(&[
            ("Action", "Encrypt"),
            ("Version", "2016-01-20"),
            ("Format", "JSON"),
            ("AccessKeyId", "LTAI4Example"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureType", ""),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("Timestamp", "2026-12-02T09:30:00Z"),
            ("KeyId", "alias/demo"),
            ("Plaintext", "aGVsbG8gd29ybGQ="),
            ("EncryptionContext", r#"{"tenant":"a b*~é"}"#),
            ("RegionId", "cn-hangzhou"),
            ("Signature", "ignored"),
        ]);
        let sts = rpc_string_to_sign("POST", &params);
        assert_eq!(
            sts,
            "POST&%2F&AccessKeyId%3DLTAI4Example%26Action%3DEncrypt%26EncryptionContext%3D%257B%2522tenant%2522%253A%2522a%2520b%252A~%25C3%25A9%2522%257D%26Format%3DJSON%26KeyId%3Dalias%252Fdemo%26Plaintext%3DaGVsbG8gd29ybGQ%253D%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureType%3D%26SignatureVersion%3D1.0%26Timestamp%3D2026-12-02T09%253A30%253A00Z%26Version%3D2016-01-20"
        );
        assert_eq!(
            rpc_signature(b"SecretExample", &sts),
            "p+CQ99ifPFYD1BB898JsRi0TeDg="
        );
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
