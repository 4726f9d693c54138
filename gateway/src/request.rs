//! From an HTTP request to a signed KMS call: the parameters (query and form body),
//! which of the two signature styles it uses, and the string its signature covers.
//! Nothing here knows a secret: [`Signed::verify`] takes it.

use crate::fault::Fault;
use crate::sign;

/// What the gateway read off the wire.
pub struct Incoming<'a> {
    /// The method (`GET` or `POST`).
    pub method: &'a str,
    /// The path, as sent.
    pub path: &'a str,
    /// The raw query string (after `?`), if any.
    pub query: Option<&'a str>,
    /// Every header: lower-case name, value. Values that are not UTF-8 are refused.
    pub headers: &'a [(&'a str, &'a str)],
    /// The host the request was sent to (`Host`, or HTTP/2's `:authority`).
    pub host: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

/// How the request was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// RPC, SignatureVersion 1.0, HMAC-SHA1.
    Rpc,
    /// The `Authorization: ACS3-HMAC-SHA256 …` header.
    Acs3,
}

impl Style {
    /// Its name in logs and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Rpc => "HMAC-SHA1",
            Style::Acs3 => "ACS3-HMAC-SHA256",
        }
    }
}

/// A parsed request whose signature is still to be checked.
pub struct Signed {
    /// The action's name, as sent.
    pub action: String,
    /// The API version, as sent.
    pub version: String,
    /// The action's own parameters (protocol parameters removed).
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The STS SecurityToken, for temporary credentials.
    pub security_token: Option<String>,
    /// The nonce.
    pub nonce: String,
    /// The signed timestamp, seconds since the epoch.
    pub timestamp: i64,
    /// The style.
    pub style: Style,
    /// The request's User-Agent.
    pub user_agent: Option<String>,
    signature: String,
    /// What the signature covers: RPC's string to sign, or ACS3's canonical request.
    signed_text: String,
}

// Debug never shows parameters, bodies or signed text: they hold plaintext and
// secret values.
impl core::fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Incoming")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for Signed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Signed")
            .field("action", &self.action)
            .field("access_key_id", &self.access_key_id)
            .field("style", &self.style)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Parameters that belong to the protocol, not to the action.
const RPC_PROTOCOL: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "Signature",
    "SecurityToken",
    "RegionId",
];

impl Signed {
    /// What the signature was checked against, for the `SignatureDoesNotMatch` message
    /// of RPC requests (aliyun-python-sdk-core compares it with its own to tell a wrong
    /// secret from a signing bug): `None` for ACS3, or when a parameter in
    /// `sensitive` (plaintext, secret values) is in it, which must not be echoed.
    #[must_use]
    pub fn echoable_string_to_sign(&self, sensitive: &[&str]) -> Option<&str> {
        let carries_sensitive = sensitive.iter().any(|n| self.params.contains_key(*n));
        (self.style == Style::Rpc && !carries_sensitive).then_some(self.signed_text.as_str())
    }

    /// Whether the signature is right under `secret`.
    #[must_use]
    pub fn verify(&self, secret: &[u8]) -> bool {
        let expect = match self.style {
            Style::Rpc => sign::rpc_signature(secret, &self.signed_text),
            Style::Acs3 => sign::acs3_signature(secret, &self.signed_text),
        };
        sign::same(&expect, &self.signature)
    }
}

/// Percent-decodes one form component (`+` is a space); `None` when it is not UTF-8
/// or has a broken escape.
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = char::from(*b.get(i + 1)?).to_digit(16)?;
                let lo = char::from(*b.get(i + 2)?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 2;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `a=1&b=2`, decoded; a name given twice is refused.
///
/// # Errors
/// `InvalidParameter.Encoding` (not percent-encoded UTF-8, an empty name),
/// `InvalidParameter.Duplicate`.
pub fn parse_form(s: &str, into: &mut Vec<(String, String)>) -> Result<(), Fault> {
    for part in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let bad = || {
            Fault::new(
                "InvalidParameter.Encoding",
                "a parameter is not valid percent-encoded UTF-8",
            )
        };
        let k = decode(k).ok_or_else(bad)?;
        let v = decode(v).ok_or_else(bad)?;
        if k.is_empty() {
            return Err(Fault::new(
                "InvalidParameter.Encoding",
                "a parameter has an empty name",
            ));
        }
        if into.iter().any(|(n, _)| *n == k) {
            return Err(Fault::new(
                "InvalidParameter.Duplicate",
                format!("the parameter \"{k}\" is given more than once"),
            ));
        }
        into.push((k, v));
    }
    Ok(())
}

/// Seconds since the epoch from Alibaba's ISO 8601 form, `2026-12-02T09:30:00Z`
/// (fractional seconds allowed; a date alone or a local time is refused).
#[must_use]
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if !s.ends_with('Z') || s.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    strongroom::time::parse_iso8601(s)
}

fn header<'a>(r: &'a Incoming<'_>, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Reads a request: its parameters, style, credentials and signed text.
///
/// # Errors
/// `UnsupportedHTTPMethod`, `InvalidParameter.Encoding`, `InvalidParameter.Duplicate`,
/// `MissingParameter`, `IncompleteSignature`, `InvalidTimeStamp.Format`,
/// `UnsupportedSignatureMethod`, `InvalidParameter.ContentSha256`.
pub fn parse(r: &Incoming<'_>) -> Result<Signed, Fault> {
    if r.method != "GET" && r.method != "POST" {
        return Err(Fault::new(
            "UnsupportedHTTPMethod",
            format!("{} is not supported: send GET or POST", r.method),
        ));
    }
    let mut query = Vec::new();
    if let Some(q) = r.query {
        parse_form(q, &mut query)?;
    }
    let mut body = Vec::new();
    let form = header(r, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form && !r.body.is_empty() {
        let text = core::str::from_utf8(r.body)
            .map_err(|_| Fault::new("InvalidParameter.Encoding", "the form body is not UTF-8"))?;
        parse_form(text, &mut body)?;
    } else if !r.body.is_empty() && header(r, "authorization").is_none() {
        return Err(Fault::new(
            "InvalidParameter.ContentType",
            "a body must be application/x-www-form-urlencoded",
        ));
    }
    match header(r, "authorization") {
        Some(auth) => acs3(r, auth, query, body),
        None => rpc(r, query, body),
    }
}

fn take(all: &[(String, String)], name: &str) -> Result<String, Fault> {
    all.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Fault::missing(name))
}

/// Parameters whose value is a map, which a client may send as a JSON string or
/// flattened (`EncryptionContext.tenant=acme`).
const MAP_PARAMS: &[&str] = &["EncryptionContext"];

fn duplicate(name: &str) -> Fault {
    Fault::new(
        "InvalidParameter.Duplicate",
        format!("the parameter \"{name}\" is given more than once"),
    )
}

fn action_params(
    pairs: impl IntoIterator<Item = (String, String)>,
    protocol: &[&str],
) -> Result<serde_json::Map<String, serde_json::Value>, Fault> {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if protocol.contains(&k.as_str()) {
            continue;
        }
        // Map parameters flattened as `Name.key=value` (what @alicloud/rpc-client sends
        // for an EncryptionContext object) are folded back into one object.
        if let Some((base, sub)) = k.split_once('.')
            && MAP_PARAMS.contains(&base)
            && !sub.is_empty()
        {
            let slot = map
                .entry(base.to_string())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            let serde_json::Value::Object(o) = slot else {
                return Err(duplicate(base));
            };
            if o.insert(sub.to_string(), serde_json::Value::String(v))
                .is_some()
            {
                return Err(duplicate(&k));
            }
            continue;
        }
        if map.contains_key(&k) {
            return Err(duplicate(&k));
        }
        map.insert(k, serde_json::Value::String(v));
    }
    Ok(map)
}

fn timestamp(s: &str) -> Result<i64, Fault> {
    parse_timestamp(s).ok_or_else(|| {
        Fault::new(
            "InvalidTimeStamp.Format",
            format!("the timestamp {s:?} is not in the form yyyy-MM-ddTHH:mm:ssZ (UTC)"),
        )
    })
}

fn rpc(
    r: &Incoming<'_>,
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
) -> Result<Signed, Fault> {
    let mut all = query;
    for (k, v) in body {
        if all.iter().any(|(n, _)| *n == k) {
            return Err(Fault::new(
                "InvalidParameter.Duplicate",
                format!("the parameter \"{k}\" is given more than once"),
            ));
        }
        all.push((k, v));
    }
    let access_key_id = all
        .iter()
        .find(|(k, _)| k == "AccessKeyId")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Fault::new(
                "MissingAccessKeyId",
                "AccessKeyId is mandatory for this action.",
            )
        })?;
    let signature = take(&all, "Signature")?;
    let method = take(&all, "SignatureMethod")?;
    if method != "HMAC-SHA1" {
        return Err(Fault::new(
            "UnsupportedSignatureMethod",
            format!(
                "SignatureMethod {method:?} is not supported: use HMAC-SHA1 (or the ACS3-HMAC-SHA256 Authorization header)"
            ),
        ));
    }
    let sv = take(&all, "SignatureVersion")?;
    if sv != "1.0" {
        return Err(Fault::new(
            "UnsupportedSignatureVersion",
            format!("SignatureVersion {sv:?} is not supported: use 1.0"),
        ));
    }
    if let Some((_, f)) = all.iter().find(|(k, _)| k == "Format")
        && !f.eq_ignore_ascii_case("json")
    {
        return Err(Fault::new(
            "InvalidParameter.Format",
            format!("Format {f:?} is not served: strongroom answers JSON"),
        ));
    }
    let nonce = take(&all, "SignatureNonce")?;
    let ts = timestamp(&take(&all, "Timestamp")?)?;
    let action = take(&all, "Action")?;
    let version = take(&all, "Version")?;
    let security_token = all
        .iter()
        .find(|(k, _)| k == "SecurityToken")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty());
    let signed_text = sign::rpc_string_to_sign(r.method, &all);
    Ok(Signed {
        action,
        version,
        params: action_params(all, RPC_PROTOCOL)?,
        access_key_id,
        security_token,
        nonce,
        timestamp: ts,
        style: Style::Rpc,
        user_agent: header(r, "user-agent").map(str::to_string),
        signature,
        signed_text,
    })
}

/// `ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex`.
fn acs3(
    r: &Incoming<'_>,
    auth: &str,
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
) -> Result<Signed, Fault> {
    let incomplete = |why: &str| Fault::new("IncompleteSignature", why.to_string());
    let rest = auth.strip_prefix("ACS3-HMAC-SHA256 ").ok_or_else(|| {
        Fault::new(
            "UnsupportedSignatureMethod",
            "the Authorization header must use ACS3-HMAC-SHA256",
        )
    })?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| incomplete("the Authorization header is malformed"))?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(incomplete("the Authorization header has an unknown part")),
        };
        if slot.replace(v.to_string()).is_some() {
            return Err(incomplete("the Authorization header repeats a part"));
        }
    }
    let (Some(access_key_id), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(incomplete(
            "the Authorization header needs Credential, SignedHeaders and Signature",
        ));
    };
    let names: Vec<&str> = signed_headers.split(';').collect();
    if names
        .iter()
        .any(|n| n.is_empty() || n.to_ascii_lowercase() != *n)
    {
        return Err(incomplete("SignedHeaders must be lower-case names"));
    }
    // Every x-acs-* header and the host are signed, so none can be altered.
    for (n, _) in r.headers {
        if n.starts_with("x-acs-") && !names.contains(n) {
            return Err(incomplete(&format!("the header {n} must be signed")));
        }
    }
    if !names.contains(&"host") {
        return Err(incomplete("the host header must be signed"));
    }
    let mut headers = Vec::with_capacity(names.len());
    for n in &names {
        let values: Vec<&str> = if *n == "host" {
            r.host.map(|h| vec![h]).unwrap_or_default()
        } else {
            r.headers
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| *v)
                .collect()
        };
        if values.is_empty() {
            return Err(incomplete(&format!("the signed header {n} is missing")));
        }
        headers.push((*n, values));
    }
    let hv = |n: &str| header(r, n).map(str::to_string).filter(|v| !v.is_empty());
    let payload =
        hv("x-acs-content-sha256").ok_or_else(|| Fault::missing("x-acs-content-sha256"))?;
    if !sign::same(&payload, &sign::payload_hash(r.body)) {
        return Err(Fault::new(
            "InvalidParameter.ContentSha256",
            "x-acs-content-sha256 is not the SHA-256 of the body",
        ));
    }
    let action = hv("x-acs-action").ok_or_else(|| Fault::missing("x-acs-action"))?;
    let version = hv("x-acs-version").ok_or_else(|| Fault::missing("x-acs-version"))?;
    let nonce =
        hv("x-acs-signature-nonce").ok_or_else(|| Fault::missing("x-acs-signature-nonce"))?;
    let ts = timestamp(&hv("x-acs-date").ok_or_else(|| Fault::missing("x-acs-date"))?)?;
    if let Some(id) = hv("x-acs-accesskey-id")
        && id != access_key_id
    {
        return Err(incomplete("x-acs-accesskey-id differs from the Credential"));
    }
    let signed_text = sign::acs3_canonical_request(&sign::Acs3Request {
        method: r.method,
        path: r.path,
        query: &query,
        headers: &headers,
        payload_hash: &payload,
    });
    let mut pairs = query;
    for (k, v) in body {
        if pairs.iter().any(|(n, _)| *n == k) {
            return Err(Fault::new(
                "InvalidParameter.Duplicate",
                format!("the parameter \"{k}\" is given more than once"),
            ));
        }
        pairs.push((k, v));
    }
    Ok(Signed {
        action,
        version,
        params: action_params(pairs, &["RegionId"])?,
        access_key_id,
        security_token: hv("x-acs-security-token"),
        nonce,
        timestamp: ts,
        style: Style::Acs3,
        user_agent: hv("user-agent"),
        signature,
        signed_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_parameter_value() {
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        let body = b"Action=Encrypt&Version=2016-01-20&AccessKeyId=LTAIx&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&SignatureNonce=n&Timestamp=2026-12-02T09%3A30%3A00Z&Signature=s&KeyId=k&Plaintext=U1JMRUFLLXNlY3JldA%3D%3D";
        let r = Incoming {
            method: "POST",
            path: "/",
            query: None,
            headers: &headers,
            host: None,
            body,
        };
        let signed = parse(&r).map_err(|f| f.code);
        let text = format!("{r:?} {signed:?}");
        assert!(
            text.contains("Plaintext") && !text.contains("U1JMRUFL"),
            "{text}"
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2026-12-02T09:30:00Z"), Some(1_796_203_800));
        assert_eq!(
            parse_timestamp("2026-12-02T09:30:00.123Z"),
            Some(1_796_203_800)
        );
        assert_eq!(parse_timestamp("2026-12-02 09:30:00"), None);
        assert_eq!(parse_timestamp("2026-13-02T09:30:00Z"), None);
    }

    #[test]
    fn flattened_maps_are_folded() {
        let pairs = vec![
            ("KeyId".to_string(), "k".to_string()),
            ("EncryptionContext.b".to_string(), "2".to_string()),
            ("EncryptionContext.a".to_string(), "1 é".to_string()),
        ];
        let m = action_params(pairs.clone(), &[]).map_err(|f| f.code);
        assert_eq!(
            m.ok().and_then(|m| m.get("EncryptionContext").cloned()),
            Some(serde_json::json!({"a": "1 é", "b": "2"}))
        );
        let mut both = pairs;
        both.push(("EncryptionContext".into(), "{}".into()));
        assert_eq!(
            action_params(both, &[]).map_err(|f| f.code).err(),
            Some("InvalidParameter.Duplicate")
        );
    }

    #[test]
    fn forms() {
        let mut v = Vec::new();
        parse_form("a=1&b=x+y%2Fz&c=", &mut v)
            .map_err(|f| f.code)
            .unwrap_or_default();
        assert_eq!(
            v,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y/z".into()),
                ("c".into(), String::new())
            ]
        );
        let mut v = Vec::new();
        assert_eq!(
            parse_form("a=%FF", &mut v).map_err(|f| f.code),
            Err("InvalidParameter.Encoding")
        );
        let mut v = Vec::new();
        assert_eq!(
            parse_form("a=1&a=2", &mut v).map_err(|f| f.code),
            Err("InvalidParameter.Duplicate")
        );
        let mut v = Vec::new();
        assert_eq!(
            parse_form("a=%2", &mut v).map_err(|f| f.code),
            Err("InvalidParameter.Encoding")
        );
    }
}
