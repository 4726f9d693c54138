#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The `strongroom` binary, driven as a user would.

use std::path::Path;
use std::process::{Command, Output};

fn sr(store: &Path, pass: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("STRONGROOM_PASSPHRASE", pass)
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn err_code(o: &Output) -> String {
    assert!(!o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    v["Code"].as_str().unwrap().to_string()
}

#[test]
fn keys_encrypt_decrypt_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s/store");
    let k = json(&sr(
        &store,
        "pw",
        &["--json", "key", "create", "--description", "cli test"],
    ));
    let id = k["KeyId"].as_str().unwrap().to_string();
    assert_eq!(k["KeySpec"], "Aliyun_AES_256");
    assert_eq!(k["KeyState"], "Enabled");
    let d = json(&sr(&store, "pw", &["--json", "key", "describe", &id]));
    assert_eq!(d["Description"], "cli test");
    let l = json(&sr(&store, "pw", &["--json", "key", "list"]));
    assert_eq!(l["TotalCount"], 1);
    assert_eq!(l["Keys"][0]["KeyId"], id.as_str());

    let pt = dir.path().join("pt.txt");
    std::fs::write(&pt, b"small secret").unwrap();
    let blob = dir.path().join("blob.b64");
    let o = sr(
        &store,
        "pw",
        &[
            "encrypt",
            "--key",
            &id,
            "--context",
            "app=cli",
            pt.to_str().unwrap(),
            blob.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("out.txt");
    let o = sr(
        &store,
        "pw",
        &[
            "decrypt",
            "--context",
            "app=cli",
            blob.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), b"small secret");

    // Wrong context, tampered blob, malformed base64, wrong passphrase, unknown key, too big.
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &[
                "--json",
                "decrypt",
                "--context",
                "app=other",
                blob.to_str().unwrap()
            ]
        )),
        "InvalidCiphertext"
    );
    let mut b = std::fs::read_to_string(&blob).unwrap();
    b.replace_range(40..41, if &b[40..41] == "A" { "B" } else { "A" });
    std::fs::write(&blob, &b).unwrap();
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &[
                "--json",
                "decrypt",
                "--context",
                "app=cli",
                blob.to_str().unwrap()
            ]
        )),
        "InvalidCiphertext"
    );
    std::fs::write(&blob, "not*base64!").unwrap();
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &["--json", "decrypt", blob.to_str().unwrap()]
        )),
        "InvalidParameter.CiphertextBlob"
    );
    assert_eq!(
        err_code(&sr(&store, "wrong", &["--json", "key", "list"])),
        "Forbidden.WrongPassphrase"
    );
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &[
                "--json",
                "key",
                "describe",
                "00000000-0000-4000-8000-000000000000"
            ]
        )),
        "Forbidden.KeyNotFound"
    );
    std::fs::write(&pt, vec![b'x'; 7000]).unwrap();
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &["--json", "encrypt", "--key", &id, pt.to_str().unwrap()]
        )),
        "InvalidParameter.PlaintextTooLarge"
    );
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &["--json", "key", "create", "--key-spec", "AES_512"]
        )),
        "InvalidParameter.KeySpec"
    );
    // Nothing was written by the failures: still one key.
    assert_eq!(
        json(&sr(&store, "pw", &["--json", "key", "list"]))["TotalCount"],
        1
    );
}

#[test]
fn data_key_plaintext_only_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let id = json(&sr(&store, "pw", &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let o = sr(&store, "pw", &["data-key", "generate", "--key", &id]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("CiphertextBlob: ") && !text.contains("Plaintext"));
    let keyfile = dir.path().join("dk.bin");
    let v = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "data-key",
            "generate",
            "--key",
            &id,
            "--number-of-bytes",
            "24",
            "--plaintext-out",
            keyfile.to_str().unwrap(),
        ],
    ));
    assert!(v.get("Plaintext").is_none());
    assert_eq!(std::fs::read(&keyfile).unwrap().len(), 24);
}

#[test]
fn lab_verifies_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["lab", "--dir"])
        .arg(dir.path())
        .env_remove("STRONGROOM_PASSPHRASE")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("VERIFIED: round trip matches"), "{out}");
    assert!(out.contains("KeyState: PendingDeletion"), "{out}");
    assert!(out.contains("CreateAlias alias/lab-envelope"), "{out}");
    // Only the wrapped data key was kept beside the ciphertext.
    assert!(dir.path().join("ciphertext.key.b64").exists());
    assert!(dir.path().join("ciphertext.bin").exists());
    assert_eq!(
        std::fs::read(dir.path().join("decrypted.txt")).unwrap(),
        std::fs::read(dir.path().join("plaintext.txt")).unwrap()
    );
}

#[test]
fn key_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let id = json(&sr(&store, "pw", &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        json(&sr(&store, "pw", &["--json", "key", "disable", &id]))["KeyState"],
        "Disabled"
    );
    let pt = dir.path().join("pt");
    std::fs::write(&pt, b"x").unwrap();
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &["--json", "encrypt", "--key", &id, pt.to_str().unwrap()]
        )),
        "Forbidden.KeyDisabled"
    );
    assert_eq!(
        json(&sr(&store, "pw", &["--json", "key", "enable", &id]))["KeyState"],
        "Enabled"
    );
    assert_eq!(
        json(&sr(
            &store,
            "pw",
            &[
                "--json",
                "key",
                "update-description",
                &id,
                "--description",
                "new"
            ]
        ))["Description"],
        "new"
    );
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &[
                "--json",
                "key",
                "schedule-deletion",
                &id,
                "--pending-window-in-days",
                "3"
            ]
        )),
        "InvalidParameter.PendingWindowInDays"
    );
    let m = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "schedule-deletion",
            &id,
            "--pending-window-in-days",
            "7",
        ],
    ));
    assert_eq!(m["KeyState"], "PendingDeletion");
    assert!(m["DeleteDate"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        json(&sr(
            &store,
            "pw",
            &["--json", "key", "cancel-deletion", &id]
        ))["KeyState"],
        "Enabled"
    );
}
