//! What strongroom's HSM backends cost over the engine itself, in one run
//! (`bash bench/backends.sh` sets up the token and the engine):
//! - PKCS#11 (SoftHSM2): AES-256-GCM C_Encrypt of 64 B, and RSA-2048 PSS C_Sign of a
//!   digest, driven directly through `cryptoki`, against Encrypt / AsymmetricSign of
//!   the same sizes through a `Kms` on the same token;
//! - OpenBao transit: a plain HTTP loop of `encrypt` (64 B) against Encrypt through a
//!   `Kms` on that engine.
//!
//! Each pair is measured in alternating blocks; JSON lines give both medians and
//! `ratio_vs_direct` (direct time ÷ ours: the share of the engine's rate strongroom
//! keeps; the goal is ≥ 0.8).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::cast_precision_loss
)]

use std::io::Read as _;
use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use pollster::block_on;
use strongroom::backend::transit::TransitConfig;
use strongroom::{
    AsymmetricSignRequest, CreateKeyRequest, EncryptRequest, Env, KeySpec, KeyUsage, Kms,
    SecretBytes, SigningAlgorithm,
};

fn env(name: &str) -> String {
    std::env::var(name).expect("set by bench/backends.sh: run that script")
}

/// Medians (ns per call) of `a` and `b`, in alternating blocks.
fn medians(mut a: impl FnMut(), mut b: impl FnMut(), blocks: usize, block: usize) -> (f64, f64) {
    let (mut xa, mut xb) = (Vec::new(), Vec::new());
    for _ in 0..blocks {
        for (f, out) in [
            (&mut a as &mut dyn FnMut(), &mut xa),
            (&mut b as &mut dyn FnMut(), &mut xb),
        ] {
            f();
            let t = Instant::now();
            for _ in 0..block {
                f();
            }
            out.push(t.elapsed().as_nanos() as f64 / block as f64);
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    (med(&mut xa), med(&mut xb))
}

fn report(op: &str, direct: f64, ours: f64) {
    println!(
        "{}",
        serde_json::json!({
            "op": op,
            "direct_median_us": (direct / 100.0).round() / 10.0,
            "strongroom_median_us": (ours / 100.0).round() / 10.0,
            "ratio_vs_direct": (direct / ours * 100.0).round() / 100.0,
        })
    );
}

fn pkcs11() {
    let module = env("STRONGROOM_BENCH_PKCS11_MODULE");
    let label = env("STRONGROOM_BENCH_PKCS11_TOKEN");
    let pin = env("STRONGROOM_BENCH_PKCS11_PIN");
    // Ours first: the backend initializes the module (once per process) and logs in.
    let backend = strongroom_pkcs11::Pkcs11Backend::open(&strongroom_pkcs11::Pkcs11Config {
        module: module.clone().into(),
        token_label: label.clone(),
        pin: SecretBytes::from_slice(pin.as_bytes()),
        sessions: 2,
    })
    .unwrap();
    let kms = block_on(Kms::memory(Env::system(), Some(backend))).unwrap();
    // Direct: the same module (already initialized), one logged-in session.
    let ctx = Pkcs11::new(&module).unwrap();
    let _ = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == label)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    let _ = session.login(UserType::User, Some(&AuthPin::new(pin.into())));
    let aes = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                // A token object, as strongroom's keys are (they outlive the session).
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::ValueLen(32.into()),
            ],
        )
        .unwrap();
    let key = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    let plaintext = [7u8; 64];
    let aad = [1u8; 40];
    let (direct, ours) = medians(
        || {
            let mut iv = [0u8; 12];
            getrandom::fill(&mut iv).unwrap();
            let p = GcmParams::new(&mut iv, &aad, 128.into()).unwrap();
            session
                .encrypt(&Mechanism::AesGcm(p), aes, &plaintext)
                .unwrap();
        },
        || {
            block_on(kms.encrypt(EncryptRequest {
                key_id: key.clone(),
                plaintext: plaintext.to_vec(),
                encryption_context: Default::default(),
            }))
            .unwrap();
        },
        15,
        200,
    );
    report("pkcs11 Encrypt 64 B (AES-256-GCM)", direct, ours);
    let (_, private) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Sign(true),
            ],
        )
        .unwrap();
    let rsa = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(KeySpec::Rsa2048),
        key_usage: Some(KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let digest = [9u8; 32];
    let pss = Mechanism::RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    });
    let (direct, ours) = medians(
        || {
            session.sign(&pss, private, &digest).unwrap();
        },
        || {
            block_on(kms.asymmetric_sign(AsymmetricSignRequest {
                key_id: rsa.clone(),
                key_version_id: None,
                algorithm: SigningAlgorithm::RsaPssSha256,
                digest: digest.to_vec(),
            }))
            .unwrap();
        },
        9,
        20,
    );
    report("pkcs11 AsymmetricSign RSA-2048 PSS", direct, ours);
}

fn transit() {
    let address = env("STRONGROOM_BENCH_BAO_ADDR");
    let token = env("STRONGROOM_BENCH_BAO_TOKEN");
    let backend = strongroom_gateway::client::transit_backend(
        TransitConfig::new(address.clone(), SecretBytes::from_slice(token.as_bytes())),
        &strongroom_gateway::client::ClientOptions::default(),
    )
    .unwrap();
    let kms = block_on(Kms::memory(Env::system(), Some(backend))).unwrap();
    let key = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    // Direct: a plain keep-alive HTTP loop on a transit key of the same type.
    let agent: ureq::Agent = ureq::Agent::config_builder().build().new_agent();
    let url = format!("{address}/v1/transit/keys/bench-direct");
    agent
        .post(&url)
        .header("x-vault-token", &token)
        .send(r#"{"type":"aes256-gcm96"}"#)
        .unwrap();
    let body = r#"{"plaintext":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==","associated_data":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"}"#;
    let enc_url = format!("{address}/v1/transit/encrypt/bench-direct");
    let (direct, ours) = medians(
        || {
            let r = agent
                .post(&enc_url)
                .header("x-vault-token", &token)
                .header("content-type", "application/json")
                .send(body)
                .unwrap();
            let mut out = Vec::new();
            r.into_body().into_reader().read_to_end(&mut out).unwrap();
        },
        || {
            block_on(kms.encrypt(EncryptRequest {
                key_id: key.clone(),
                plaintext: vec![7; 64],
                encryption_context: Default::default(),
            }))
            .unwrap();
        },
        15,
        40,
    );
    report("transit Encrypt 64 B (aes256-gcm96)", direct, ours);
}

fn main() {
    pkcs11();
    transit();
}
