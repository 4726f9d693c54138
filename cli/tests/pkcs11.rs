#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The CLI with its keys in a PKCS#11 token (SoftHSM2): STRONGROOM_PKCS11_MODULE,
//! _TOKEN and _PIN put a store's keys in the token; every command of a later process
//! uses them there; a wrong PIN, or the token left out, is a clear error.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn sr(dir: &Path, pin: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    c.args(args)
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", dir.join("store"))
        .env("SOFTHSM2_CONF", dir.join("softhsm2.conf"))
        .env_remove("STRONGROOM_PKCS11_MODULE");
    if let Some(pin) = pin {
        c.env("STRONGROOM_PKCS11_MODULE", MODULE)
            .env("STRONGROOM_PKCS11_TOKEN", "cli-test")
            .env("STRONGROOM_PKCS11_PIN", pin);
    }
    c.output().unwrap()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn keys_in_a_token_across_processes() {
    assert!(
        Path::new(MODULE).exists(),
        "{MODULE} is missing: install Debian's softhsm2 (scripts/ci/setup.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("tokens")).unwrap();
    std::fs::write(
        d.join("softhsm2.conf"),
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            d.join("tokens").display()
        ),
    )
    .unwrap();
    let init = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "cli-test",
            "--pin",
            "4321",
            "--so-pin",
            "8765",
        ])
        .env("SOFTHSM2_CONF", d.join("softhsm2.conf"))
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let pin = Some("4321");
    assert!(sr(d, pin, &["store", "init"]).status.success());
    let k = json(&sr(d, pin, &["--json", "key", "create"]));
    assert_eq!(k["ProtectionLevel"], "HSM");
    let id = k["KeyId"].as_str().unwrap();
    let e = json(&sr(
        d,
        pin,
        &["kms", "Encrypt", "--KeyId", id, "--Plaintext", "aGVsbG8="],
    ));
    let blob = e["CiphertextBlob"].as_str().unwrap();
    let out = json(&sr(d, pin, &["kms", "Decrypt", "--CiphertextBlob", blob]));
    assert_eq!(out["Plaintext"], "aGVsbG8=");
    // A wrong PIN: refused at open, with the reason.
    let bad = sr(
        d,
        Some("0000"),
        &["kms", "Decrypt", "--CiphertextBlob", blob],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("Rejected.BackendUnavailable") && err.contains("PIN"),
        "{err}"
    );
    // The token left out: the key's use says where the key is.
    let none = sr(d, None, &["kms", "Decrypt", "--CiphertextBlob", blob]);
    assert!(!none.status.success());
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(
        err.contains("Rejected.BackendUnavailable") && err.contains("PKCS#11 token"),
        "{err}"
    );
}
