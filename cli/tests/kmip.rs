#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The CLI with its keys on a KMIP server (PyKMIP): STRONGROOM_KMIP_ADDR and the
//! certificate files put a store's keys on the server; later processes use them
//! there; a missing file, a refused certificate, the server gone, or two backends at
//! once are clear errors.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use strongroom_kmip::testing::{Server, shared};

fn sr(dir: &Path, server: Option<&Server>, extra: &[(&str, String)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    c.args(args)
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", dir.join("store"))
        .env_remove("STRONGROOM_PKCS11_MODULE")
        .env_remove("STRONGROOM_TRANSIT_ADDR")
        .env_remove("STRONGROOM_KMIP_ADDR");
    if let Some(s) = server {
        c.env("STRONGROOM_KMIP_ADDR", &s.address)
            .env("STRONGROOM_KMIP_CA_FILE", s.dir.join("ca.pem"))
            .env("STRONGROOM_KMIP_CERT_FILE", s.dir.join("client.pem"))
            .env("STRONGROOM_KMIP_KEY_FILE", s.dir.join("client.key"))
            .env("STRONGROOM_KMIP_TIMEOUT", "2");
    }
    for (k, v) in extra {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn stderr(o: &Output) -> String {
    assert!(!o.status.success());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn keys_on_a_kmip_server_across_processes() {
    let s = shared();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k = Some(s);
    assert!(sr(d, k, &[], &["store", "init"]).status.success());
    let key = json(&sr(d, k, &[], &["--json", "key", "create"]));
    assert_eq!(key["ProtectionLevel"], "SOFTWARE", "{key}");
    let id = key["KeyId"].as_str().unwrap();
    let e = json(&sr(
        d,
        k,
        &[],
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
        k,
        &[],
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
    // The associated data is checked in the server.
    let wrong = sr(
        d,
        k,
        &[],
        &[
            "kms",
            "Decrypt",
            "--CiphertextBlob",
            blob,
            "--EncryptionContext",
            r#"{"a":"c"}"#,
        ],
    );
    assert!(stderr(&wrong).contains("InvalidCiphertext"));
    // An HSM behind the server is declared by the operator.
    let hsm = json(&sr(
        d,
        k,
        &[("STRONGROOM_KMIP_PROTECTION_LEVEL", "HSM".into())],
        &["kms", "CreateKey", "--ProtectionLevel", "HSM"],
    ));
    assert_eq!(hsm["KeyMetadata"]["ProtectionLevel"], "HSM");
    // DescribeService lists what the server holds: AES only.
    let svc = json(&sr(d, k, &[], &["kms", "DescribeService"]));
    let specs = svc.to_string();
    assert!(
        specs.contains("Aliyun_AES_256") && !specs.contains("RSA_2048"),
        "{specs}"
    );
    let rsa = sr(
        d,
        k,
        &[],
        &[
            "kms",
            "CreateKey",
            "--KeySpec",
            "RSA_2048",
            "--KeyUsage",
            "SIGN/VERIFY",
        ],
    );
    let err = stderr(&rsa);
    assert!(
        err.contains("Rejected.Unsupported") && err.contains("KeySpec"),
        "{err}"
    );
    // The server left out: the key's use says where it lives.
    let none = sr(
        d,
        None,
        &[],
        &[
            "kms",
            "Decrypt",
            "--CiphertextBlob",
            blob,
            "--EncryptionContext",
            r#"{"a":"b"}"#,
        ],
    );
    let err = stderr(&none);
    assert!(
        err.contains("Rejected.BackendUnavailable") && err.contains("KMIP"),
        "{err}"
    );
    // A client certificate the server's CA did not issue: refused at open.
    let stranger = sr(
        d,
        k,
        &[
            (
                "STRONGROOM_KMIP_CERT_FILE",
                s.dir.join("stranger.pem").display().to_string(),
            ),
            (
                "STRONGROOM_KMIP_KEY_FILE",
                s.dir.join("stranger.key").display().to_string(),
            ),
        ],
        &["key", "list"],
    );
    assert!(stderr(&stranger).contains("Rejected.BackendUnavailable"));
    // A missing setting, a bad timeout, two backends at once.
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    let o = c
        .args(["key", "list"])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", d.join("store"))
        .env("STRONGROOM_KMIP_ADDR", &s.address)
        .env_remove("STRONGROOM_KMIP_CA_FILE")
        .env_remove("STRONGROOM_PKCS11_MODULE")
        .env_remove("STRONGROOM_TRANSIT_ADDR")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(
        err.contains("InvalidParameter")
            && err.contains("Kmip")
            && err.contains("STRONGROOM_KMIP_CA_FILE"),
        "{err}"
    );
    let bad = sr(
        d,
        k,
        &[("STRONGROOM_KMIP_TIMEOUT", "soon".into())],
        &["key", "list"],
    );
    assert!(stderr(&bad).contains("STRONGROOM_KMIP_TIMEOUT"));
    let both = sr(
        d,
        k,
        &[("STRONGROOM_TRANSIT_ADDR", "http://127.0.0.1:1".into())],
        &["key", "list"],
    );
    assert!(stderr(&both).contains("set one of"));
}
