//! The gateway's request parser and signers under libFuzzer: arbitrary methods, paths,
//! queries, headers (an Authorization among them) and bodies read as a signed KMS
//! request, then its signature checked. Nothing may panic; every failure must be a
//! fault with a code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_gateway::request::{Incoming, parse};

fuzz_target!(|data: &[u8]| {
    // Fields separated by 0xFF: method, path, query, header lines ("name:value"), body.
    let mut parts = data.split(|b| *b == 0xff);
    let text = |p: Option<&[u8]>| String::from_utf8_lossy(p.unwrap_or_default()).into_owned();
    let method = text(parts.next());
    let path = text(parts.next());
    let query = text(parts.next());
    let header_block = text(parts.next());
    let body = parts.next().unwrap_or_default();
    let headers: Vec<(String, String)> = header_block
        .split('\n')
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let r = Incoming {
        method: &method,
        path: &path,
        query: (!query.is_empty()).then_some(query.as_str()),
        headers: &headers,
        host: Some("127.0.0.1:8443"),
        body,
    };
    if let Ok(signed) = parse(&r) {
        let _ = signed.verify(b"fuzz-secret");
        let _ = signed.echoable_string_to_sign(&["Plaintext"]);
    }
});
