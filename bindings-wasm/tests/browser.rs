//! wasm-bindgen-test in headless Chromium.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn every_call_goes_through_the_dispatch_and_the_hook_sees_it() {
    common::every_call_goes_through_the_dispatch_and_the_hook_sees_it().await;
}

#[wasm_bindgen_test]
async fn the_wire_answers_alibaba_json() {
    common::the_wire_answers_alibaba_json().await;
}

#[wasm_bindgen_test]
async fn a_store_asking_argon2id_for_more_than_the_wasm_cap_is_refused() {
    common::a_store_asking_argon2id_for_more_than_the_wasm_cap_is_refused().await;
}
