//! The store parsers under libFuzzer: arbitrary bytes opened as a store (header,
//! record framing, torn-tail rules) with a raw root key (a passphrase would make every
//! version-1 input run Argon2id with whatever cost it names), and arbitrary bytes
//! replayed as snapshot and delta plaintexts (the state and journal-delta decoders,
//! which authentication otherwise shields from the fuzzer). Nothing may panic; every
//! failure must be an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom::{RootSecret, SecretBytes};
use strongroom::storage::{inspect, replay_plaintexts};

fuzz_target!(|data: &[u8]| {
    let _ = inspect(data, &RootSecret::RawKey(SecretBytes::from_slice(&[7; 32])));
    // [u16 n][n bytes snapshot] then repeated [u16 m][m bytes delta].
    let mut parts = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        parts.push(&rest[2..2 + n]);
        rest = &rest[2 + n..];
    }
    if let Some((snapshot, deltas)) = parts.split_first() {
        let _ = replay_plaintexts(snapshot, deltas);
    }
});
