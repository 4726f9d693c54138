//! The remote-backend server under libFuzzer: arbitrary bytes handed to
//! `BackendServer::handle` (version 2's header and tag checks, version 1 when
//! accepted), and — first byte odd — the rest framed as a correctly tagged version-2
//! request, so that every operation's body decoder behind the authentication is
//! reached too. Nothing may panic; every failure must be an error answer.
#![no_main]

use std::sync::Arc;

use hmac::{KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use strongroom::backend::remote::{BackendServer, WireClientKey};
use strongroom::backend::software::SoftwareBackend;
use strongroom::env::OsEntropy;
use strongroom::time::ManualClock;
use strongroom::{Env, SecretBytes};

const NOW: u64 = 1_795_392_000_000;
const SECRET: [u8; 32] = [0x5A; 32];

fuzz_target!(|data: &[u8]| {
    let env = Env::new(Arc::new(OsEntropy), Arc::new(ManualClock::new(NOW)));
    let Ok(server) = BackendServer::with_handle_key(
        Arc::new(SoftwareBackend::new(env.clone())),
        env,
        SecretBytes::from_slice(&[7; 32]),
    ) else {
        return;
    };
    let _ = server.add_client(WireClientKey {
        id: "wk-fuzz".into(),
        secret: SecretBytes::from_slice(&SECRET),
    });
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    server.set_accept_v1(mode & 2 != 0);
    let request = if mode & 1 == 1 {
        let mut r = b"SRW\x02\x07wk-fuzz".to_vec();
        r.extend_from_slice(&NOW.to_be_bytes());
        r.extend_from_slice(&[u8::from(mode); 16]);
        r.extend_from_slice(rest);
        let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&SECRET).unwrap();
        m.update(b"strongroom wire v2 request\0");
        m.update(&r);
        let tag: [u8; 32] = m.finalize().into_bytes().into();
        r.extend_from_slice(&tag);
        r
    } else {
        rest.to_vec()
    };
    let answer = pollster::block_on(server.handle(&request));
    assert!(answer.starts_with(b"SRW"));
});
