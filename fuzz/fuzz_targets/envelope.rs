//! The envelope parser under libFuzzer: arbitrary bytes as a whole message, the same
//! bytes fed to the incremental header parser in two pieces (must agree with the
//! one-shot parse), and arbitrary bytes as the body after a valid header (exercises
//! the frame parser). Nothing may panic; every failure must be an error.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use strongroom::EncryptionContext;
use strongroom::envelope::{self, HeaderParser, Stanza};

const DK: [u8; 32] = [0x42; 32];

fn header() -> &'static [u8] {
    static H: OnceLock<Vec<u8>> = OnceLock::new();
    H.get_or_init(|| {
        let ctx = EncryptionContext::from_pairs([("fuzz", "yes")]).unwrap_or_default();
        let stanzas = [Stanza { kind: 0x7f, body: b"fuzz".to_vec() }];
        let m = envelope::seal_with_data_key(&DK, &[7; 32], &stanzas, &ctx, 16, b"")
            .unwrap_or_default();
        // Keep the header only: drop the final frame (1 + 4 + 0 + 16 bytes).
        m[..m.len().saturating_sub(21)].to_vec()
    })
}

fuzz_target!(|data: &[u8]| {
    let whole = envelope::parse_header(data);
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut p = HeaderParser::new();
    let mut inc = p.feed(&data[..split]);
    if let Ok(None) = inc {
        inc = p.feed(&data[split..]).map(|o| o.map(|(h, used)| (h, used + split)));
    }
    match (&whole, &inc) {
        (Ok(Some((a, n))), Ok(Some((b, m)))) => assert!(a == b && n == m, "incremental parse differs"),
        (Ok(None), Ok(None)) | (Err(_), Err(_)) => {}
        (w, i) => panic!("one-shot {:?} vs incremental {:?}", w.as_ref().map(|o| o.is_some()), i.as_ref().map(|o| o.is_some())),
    }
    let _ = envelope::open_with_data_key(&DK, data);
    let mut m = header().to_vec();
    m.extend_from_slice(data);
    if let Ok(pt) = envelope::open_with_data_key(&DK, &m) {
        // Only an authentic body opens; re-sealing must reproduce it exactly.
        let ctx = EncryptionContext::from_pairs([("fuzz", "yes")]).unwrap_or_default();
        let again = envelope::seal_with_data_key(&DK, &[7; 32], &[Stanza { kind: 0x7f, body: b"fuzz".to_vec() }], &ctx, 16, &pt);
        assert_eq!(again.ok().as_deref(), Some(&m[..]));
    }
});
