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

/// Runs `openssl ARGS` and asserts that it succeeded.
fn openssl_ok(args: &[&str]) {
    assert!(
        Command::new("openssl")
            .args(args)
            .status()
            .unwrap()
            .success(),
        "{args:?}"
    );
}

/// #15 item 1: a read on a missing store (a typo in --store) fails with
/// Forbidden.StoreNotFound and leaves nothing behind — no store, no lock file, no
/// directory; only a first write or `store init` makes one.
#[test]
fn reads_never_create_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("typo/store");
    for args in [
        &["--json", "key", "list"][..],
        &["--json", "store", "info"],
        &["--json", "key", "describe", "k"],
        &["--json", "secret", "list"],
        &["--json", "kms", "ListKeys"],
        &["--json", "run", "--secret", "A=b", "--", "true"],
    ] {
        assert_eq!(
            err_code(&sr(&store, "pw", args)),
            "Forbidden.StoreNotFound",
            "{args:?}"
        );
        assert!(!dir.path().join("typo").exists(), "{args:?} left debris");
    }
    let k = json(&sr(&store, "pw", &["--json", "key", "create"]));
    assert!(k["KeyId"].is_string());
    assert_eq!(
        json(&sr(&store, "pw", &["--json", "key", "list"]))["TotalCount"],
        1
    );
    let other = dir.path().join("init/store");
    assert!(sr(&other, "pw", &["store", "init"]).status.success());
    assert_eq!(
        json(&sr(&other, "pw", &["--json", "key", "list"]))["TotalCount"],
        0
    );
}

/// #15 item 2: usage errors have their own exit status (64; KMS errors are 2) and are
/// JSON under --json; --json results of encrypt / decrypt / key decrypt go to stdout
/// (stderr only when stdout carries the data).
#[test]
fn usage_errors_and_json_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let o = sr(&store, "pw", &["--json", "key", "create", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(64));
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(v["Code"], "InvalidParameter.Usage");
    assert!(
        v["Message"].as_str().unwrap().contains("--no-such-flag"),
        "{v}"
    );
    let o = sr(&store, "pw", &["key", "frobnicate"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&o.stderr).contains("frobnicate"));
    assert_eq!(sr(&store, "pw", &["--help"]).status.code(), Some(0));
    // A KMS error: 2.
    assert_eq!(
        sr(&store, "pw", &["--json", "key", "list"]).status.code(),
        Some(2)
    );
    let k = json(&sr(&store, "pw", &["--json", "key", "create"]));
    let id = k["KeyId"].as_str().unwrap();
    let pt = dir.path().join("pt");
    std::fs::write(&pt, b"x").unwrap();
    let ct = dir.path().join("ct");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "encrypt",
            "--key",
            id,
            pt.to_str().unwrap(),
            ct.to_str().unwrap(),
        ],
    );
    assert_eq!(json(&o)["PlaintextBytes"], 1);
    let b64 = dir.path().join("b64");
    assert!(
        sr(
            &store,
            "pw",
            &[
                "key",
                "encrypt",
                "--key",
                id,
                pt.to_str().unwrap(),
                b64.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let back = dir.path().join("back");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "decrypt",
            b64.to_str().unwrap(),
            back.to_str().unwrap(),
        ],
    );
    assert_eq!(json(&o)["KeyId"], id);
    // #15 item 4: decryption outputs are 0600, an existing 0644 file included.
    use std::os::unix::fs::PermissionsExt;
    let loose = dir.path().join("loose");
    std::fs::write(&loose, b"old").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [
        vec!["decrypt", ct.to_str().unwrap(), loose.to_str().unwrap()],
        vec![
            "key",
            "decrypt",
            b64.to_str().unwrap(),
            loose.to_str().unwrap(),
        ],
    ] {
        assert!(sr(&store, "pw", &args).status.success(), "{args:?}");
        assert_eq!(
            std::fs::metadata(&loose).unwrap().permissions().mode() & 0o777,
            0o600,
            "{args:?}"
        );
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // #15 item 8: --require-context: the pairs must be present; nothing is written
    // otherwise (no OUT file).
    let c2 = dir.path().join("c2");
    assert!(
        sr(
            &store,
            "pw",
            &[
                "encrypt",
                "--key",
                id,
                "--context",
                "tenant=t1",
                "--context",
                "p=b",
                pt.to_str().unwrap(),
                c2.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let out2 = dir.path().join("out2");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "decrypt",
            "--require-context",
            "tenant=t2",
            c2.to_str().unwrap(),
            out2.to_str().unwrap(),
        ],
    );
    assert_eq!(err_code(&o), "InvalidCiphertext.ContextMismatch");
    assert!(!out2.exists());
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "decrypt",
            "--require-context",
            "tenant=t1",
            c2.to_str().unwrap(),
            out2.to_str().unwrap(),
        ],
    );
    assert_eq!(json(&o)["EncryptionContext"]["p"], "b");
    assert_eq!(std::fs::read(&out2).unwrap(), b"x");
    // A missing envelope input is Rejected.Io too.
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "decrypt",
            "/nonexistent/in",
            out2.to_str().unwrap(),
        ],
    );
    assert_eq!(err_code(&o), "Rejected.Io");
    // #15 item 5: codes about what failed — an unreadable input or unwritable output is
    // Rejected.Io, not a bare InvalidParameter or "store I/O failed".
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "decrypt",
            "/nonexistent/in",
            back.to_str().unwrap(),
        ],
    );
    assert_eq!(err_code(&o), "Rejected.Io");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "data-key",
            "generate",
            "--key",
            id,
            "--plaintext-out",
            "/nonexistent/dir/dk",
        ],
    );
    assert_eq!(err_code(&o), "Rejected.Io");
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
            "key",
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
            "key",
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
                "key",
                "decrypt",
                "--context",
                "app=other",
                blob.to_str().unwrap(),
                "-"
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
                "key",
                "decrypt",
                "--context",
                "app=cli",
                blob.to_str().unwrap(),
                "-"
            ]
        )),
        "InvalidCiphertext"
    );
    std::fs::write(&blob, "not*base64!").unwrap();
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &["--json", "key", "decrypt", blob.to_str().unwrap(), "-"]
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
            &[
                "--json",
                "key",
                "encrypt",
                "--key",
                &id,
                pt.to_str().unwrap()
            ]
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
fn data_key_pair_private_key_only_to_a_0600_file_and_decrypt_opens_its_blob() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let id = json(&sr(&store, "pw", &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let v = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "data-key",
            "generate-pair",
            "--key",
            &id,
            "--key-pair-spec",
            "EC_P256",
            "--context",
            "app=signer",
            "--private-key-out",
            &p("key.pem"),
            "--public-key-out",
            &p("pub.pem"),
        ],
    ));
    assert_eq!(v["KeyPairSpec"], "EC_P256");
    assert!(v.get("PrivateKeyPlaintext").is_none() && v.get("PublicKey").is_none());
    let key = std::fs::read(p("key.pem")).unwrap();
    assert!(key.starts_with(b"-----BEGIN PRIVATE KEY-----\n"));
    let mode = std::fs::metadata(p("key.pem"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // OpenSSL derives the same public key from the private key.
    let derived = Command::new("openssl")
        .args(["pkey", "-in", &p("key.pem"), "-pubout"])
        .output()
        .unwrap();
    assert!(derived.status.success());
    assert_eq!(derived.stdout, std::fs::read(p("pub.pem")).unwrap());
    // `key decrypt` opens the blob (with the context) to the same private key.
    std::fs::write(p("blob"), v["PrivateKeyCiphertextBlob"].as_str().unwrap()).unwrap();
    let o = sr(
        &store,
        "pw",
        &[
            "key",
            "decrypt",
            "--context",
            "app=signer",
            &p("blob"),
            &p("opened.pem"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(p("opened.pem")).unwrap(), key);
    // Without --private-key-out: no private key anywhere, the public key in the JSON.
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "data-key",
            "generate-pair",
            "--key",
            &id,
            "--key-pair-spec",
            "RSA_2048",
            "--key-format",
            "DER",
        ],
    );
    let w = json(&o);
    assert!(w.get("PrivateKeyPlaintext").is_none() && w["PublicKey"].as_str().is_some());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("PRIVATE"));
    // A bad spec is InvalidParameter.KeyPairSpec.
    let o = sr(
        &store,
        "pw",
        &[
            "data-key",
            "generate-pair",
            "--key",
            &id,
            "--key-pair-spec",
            "Aliyun_AES_256",
        ],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidParameter.KeyPairSpec"));
}

#[test]
fn re_encrypt_moves_a_file_to_the_new_key_version_or_another_key_without_decrypting_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let key = |store: &Path| {
        json(&sr(store, "pw", &["--json", "key", "create"]))["KeyId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (id, other) = (key(&store), key(&store));
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(p("in"), &data).unwrap();
    let o = sr(
        &store,
        "pw",
        &[
            "encrypt",
            "--key",
            &id,
            "--context",
            "f=x",
            &p("in"),
            &p("m"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v2 = json(&sr(&store, "pw", &["--json", "key", "create-version", &id]))["KeyVersionId"]
        .as_str()
        .unwrap()
        .to_string();
    let v = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "re-encrypt",
            "--context",
            "f=x",
            &p("m"),
            &p("m2"),
        ],
    ));
    assert_eq!(v["KeyIds"], serde_json::json!([id]));
    let (m, m2) = (
        std::fs::read(p("m")).unwrap(),
        std::fs::read(p("m2")).unwrap(),
    );
    // Same-length ids: the header keeps its length; every frame byte is the old one.
    assert_eq!(m.len(), m2.len());
    assert_eq!(v["Bytes"], serde_json::json!(m2.len()));
    assert_ne!(m[..1000], m2[..1000]);
    assert_eq!(m[1000..], m2[1000..]);
    let d = json(&sr(
        &store,
        "pw",
        &["--json", "decrypt", "--context", "f=x", &p("m2"), &p("out")],
    ));
    assert_eq!(d["KeyVersionId"], serde_json::json!(v2));
    assert_eq!(std::fs::read(p("out")).unwrap(), data);
    // To another key; then the first key can be disabled.
    let o = sr(
        &store,
        "pw",
        &["re-encrypt", "--key", &other, &p("m"), &p("m3")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(sr(&store, "pw", &["key", "disable", &id]).status.success());
    let d = json(&sr(
        &store,
        "pw",
        &["--json", "decrypt", &p("m3"), &p("out3")],
    ));
    assert_eq!(d["KeyId"], serde_json::json!(other));
    assert_eq!(std::fs::read(p("out3")).unwrap(), data);
    // Refusals: the same file as output; a context the message does not carry (no
    // output left behind).
    let o = sr(&store, "pw", &["re-encrypt", &p("m3"), &p("m3")]);
    assert!(!o.status.success());
    let o = sr(
        &store,
        "pw",
        &["re-encrypt", "--context", "f=y", &p("m3"), &p("m4")],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidCiphertext.ContextMismatch"));
    assert!(!dir.path().join("m4").exists());
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
    assert!(
        out.contains("refused: InvalidCiphertext.FrameAuthentication"),
        "{out}"
    );
    // The wrapped data key travels inside the envelope header.
    let env = std::fs::read(dir.path().join("plaintext.txt.srenv")).unwrap();
    assert_eq!(&env[..4], b"SREN");
    assert_eq!(
        std::fs::read(dir.path().join("plaintext.txt.decrypted")).unwrap(),
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

fn sr_stdin(store: &Path, pass: &str, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("STRONGROOM_PASSPHRASE", pass)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    o
}

#[test]
fn envelope_files_and_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = json(&sr(&store, "pw", &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let b = json(&sr(&store, "pw", &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sr(&store, "pw", &["alias", "create", "alias/second", &b])
            .status
            .success()
    );
    // A file of several frames, to two recipients, with a context.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let pt = dir.path().join("big.bin");
    std::fs::write(&pt, &data).unwrap();
    let ct = dir.path().join("big.bin.srenv");
    let o = sr(
        &store,
        "pw",
        &[
            "encrypt",
            "--key",
            &a,
            "--key",
            "alias/second",
            "--context",
            "file=big.bin",
            "--frame-length",
            "4096",
            pt.to_str().unwrap(),
            ct.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ct_bytes = std::fs::read(&ct).unwrap();
    assert_eq!(&ct_bytes[..4], b"SREN");
    let out = dir.path().join("out.bin");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "decrypt",
            "--context",
            "file=big.bin",
            ct.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), data);
    let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(info["KeyId"], a.as_str());
    assert_eq!(info["EncryptionContext"]["file"], "big.bin");
    // The second recipient alone opens it once the first is disabled.
    assert!(sr(&store, "pw", &["key", "disable", &a]).status.success());
    let o = sr(
        &store,
        "pw",
        &["--json", "decrypt", ct.to_str().unwrap(), "-"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, data);
    let info: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(info["KeyId"], b.as_str());

    // stdin → stdout both ways.
    let o = sr_stdin(
        &store,
        "pw",
        &["encrypt", "--key", "alias/second", "-", "-"],
        &data,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o2 = sr_stdin(&store, "pw", &["decrypt", "-", "-"], &o.stdout);
    assert!(
        o2.status.success(),
        "{}",
        String::from_utf8_lossy(&o2.stderr)
    );
    assert_eq!(o2.stdout, data);

    // Failures: a code each, and no OUT file left behind.
    let bad_out = dir.path().join("never.bin");
    let dec_to = |input: &Path, ctx: Option<&str>| {
        let mut args = vec!["--json", "decrypt"];
        if let Some(c) = ctx {
            args.extend(["--context", c]);
        }
        args.extend([input.to_str().unwrap(), bad_out.to_str().unwrap()]);
        err_code(&sr(&store, "pw", &args))
    };
    assert_eq!(
        dec_to(&ct, Some("file=other")),
        "InvalidCiphertext.ContextMismatch"
    );
    let mut t = ct_bytes.clone();
    let n = t.len();
    t[n - 5000] ^= 0x10;
    let tampered = dir.path().join("tampered.srenv");
    std::fs::write(&tampered, &t).unwrap();
    assert_eq!(
        dec_to(&tampered, None),
        "InvalidCiphertext.FrameAuthentication"
    );
    std::fs::write(&tampered, &ct_bytes[..n - 100]).unwrap();
    assert_eq!(dec_to(&tampered, None), "InvalidCiphertext.Truncated");
    assert_eq!(dec_to(&pt, None), "InvalidCiphertext.NotAnEnvelope");
    assert!(!bad_out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A store without the keys.
    let other = dir.path().join("other-store");
    assert!(sr(&other, "pw", &["store", "init"]).status.success());
    assert_eq!(
        err_code(&sr(
            &other,
            "pw",
            &["--json", "decrypt", ct.to_str().unwrap(), "-"]
        )),
        "Forbidden.NoRecipientKey"
    );
    // Encrypt-side errors.
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &[
                "--json",
                "encrypt",
                "--key",
                "alias/nope",
                pt.to_str().unwrap(),
                "-"
            ]
        )),
        "Forbidden.AliasNotFound"
    );
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &[
                "--json",
                "encrypt",
                "--key",
                &b,
                "--frame-length",
                "0",
                pt.to_str().unwrap(),
                "-"
            ]
        )),
        "InvalidParameter.FrameLength"
    );
}

#[test]
fn asymmetric_keys_from_the_command_line() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s/store");
    let pass = "asym pass";
    let k = json(&sr(
        &store,
        pass,
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
    let id = k["KeyId"].as_str().unwrap();
    assert_eq!(k["KeySpec"], "EC_P256");
    assert_eq!(k["KeyUsage"], "SIGN/VERIFY");
    let pem = dir.path().join("pub.pem");
    let o = sr(
        &store,
        pass,
        &["key", "public-key", id, "--out", pem.to_str().unwrap()],
    );
    assert!(o.status.success());
    let msg = dir.path().join("msg");
    std::fs::write(&msg, b"release 1.2.3").unwrap();
    let s = json(&sr(
        &store,
        pass,
        &[
            "--json",
            "key",
            "sign",
            id,
            "--algorithm",
            "ECDSA_SHA_256",
            "--message",
            msg.to_str().unwrap(),
        ],
    ));
    let sig_b64 = s["Value"].as_str().unwrap().to_string();
    // OpenSSL checks the signature against the PEM the CLI wrote.
    let sig = dir.path().join("sig");
    std::fs::write(&sig, b64.decode(&sig_b64).unwrap()).unwrap();
    let ok = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&pem)
        .arg("-signature")
        .arg(&sig)
        .arg(&msg)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // key verify: by message, and by the same digest in hex; exit 1 on a bad signature.
    let v = json(&sr(
        &store,
        pass,
        &[
            "--json",
            "key",
            "verify",
            id,
            "--algorithm",
            "ECDSA_SHA_256",
            "--message",
            msg.to_str().unwrap(),
            "--signature",
            &sig_b64,
        ],
    ));
    assert_eq!(v["Value"], true);
    let digest = hex::encode(strongroom::sha256(b"release 1.2.3"));
    let v = json(&sr(
        &store,
        pass,
        &[
            "--json",
            "key",
            "verify",
            id,
            "--algorithm",
            "ECDSA_SHA_256",
            "--digest",
            &digest,
            "--signature",
            &sig_b64,
        ],
    ));
    assert_eq!(v["Value"], true);
    let other = hex::encode(strongroom::sha256(b"release 1.2.4"));
    let o = sr(
        &store,
        pass,
        &[
            "--json",
            "key",
            "verify",
            id,
            "--algorithm",
            "ECDSA_SHA_256",
            "--digest",
            &other,
            "--signature",
            &sig_b64,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["Value"],
        false
    );
    assert_eq!(
        err_code(&sr(
            &store,
            pass,
            &[
                "--json",
                "key",
                "sign",
                id,
                "--algorithm",
                "ECDSA_SHA_256",
                "--digest",
                "abcd"
            ]
        )),
        "InvalidParameter.Digest"
    );
    assert_eq!(
        err_code(&sr(
            &store,
            pass,
            &[
                "--json",
                "key",
                "sign",
                id,
                "--algorithm",
                "RSA_PSS_SHA_256",
                "--digest",
                &digest
            ]
        )),
        "InvalidParameter.Algorithm"
    );
    // RSA-OAEP round trip through files.
    let r = json(&sr(
        &store,
        pass,
        &["--json", "key", "create", "--key-spec", "RSA_2048"],
    ));
    let rid = r["KeyId"].as_str().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, b"a 32-byte data key, say").unwrap();
    let e = json(&sr(
        &store,
        pass,
        &[
            "--json",
            "key",
            "asym-encrypt",
            rid,
            "--algorithm",
            "RSAES_OAEP_SHA_256",
            secret.to_str().unwrap(),
        ],
    ));
    let ct = dir.path().join("ct.b64");
    std::fs::write(&ct, e["CiphertextBlob"].as_str().unwrap()).unwrap();
    let out = dir.path().join("out");
    let o = sr(
        &store,
        pass,
        &[
            "key",
            "asym-decrypt",
            rid,
            "--algorithm",
            "RSAES_OAEP_SHA_256",
            ct.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), b"a 32-byte data key, say");
    assert_eq!(
        err_code(&sr(
            &store,
            pass,
            &[
                "--json",
                "key",
                "asym-decrypt",
                rid,
                "--algorithm",
                "RSAES_OAEP_SHA_1",
                ct.to_str().unwrap(),
                "--out",
                "-"
            ]
        )),
        "InvalidCiphertext"
    );
}

fn sr_env(store: &Path, pass: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("STRONGROOM_PASSPHRASE", pass)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn store_journal_backup_restore_passphrase_and_disk_full() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = json(&sr(&store, "pw", &["--json", "key", "create"]));
    let a = a["KeyId"].as_str().unwrap().to_string();
    json(&sr(
        &store,
        "pw",
        &["--json", "alias", "create", "alias/cli", &a],
    ));
    json(&sr(&store, "pw", &["--json", "key", "create"]));
    let info = json(&sr(&store, "pw", &["--json", "store", "info"]));
    assert_eq!(info["FormatVersion"], 2);
    assert_eq!(info["Keys"], 2);
    // Three changes, and the audit trail's key (made with its first digest).
    assert_eq!(info["JournalRecords"], 4, "{info}");
    let pt = dir.path().join("pt");
    std::fs::write(&pt, b"kept across everything").unwrap();
    let msg = dir.path().join("msg");
    let o = sr(
        &store,
        "pw",
        &[
            "encrypt",
            "--key",
            "alias/cli",
            pt.to_str().unwrap(),
            msg.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Disk full (a file-size limit below the store's size; SIGXFSZ ignored so the
    // write fails with EFBIG): a clear code, and the store is unchanged.
    let size = std::fs::metadata(&store).unwrap().len();
    let limited = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {}; exec \"$0\" --json --store \"$1\" key create",
            size / 1024
        ))
        .arg(env!("CARGO_BIN_EXE_strongroom"))
        .arg(&store)
        .env("STRONGROOM_PASSPHRASE", "pw")
        .output()
        .unwrap();
    assert_eq!(err_code(&limited), "Rejected.StoreFull");
    let info = json(&sr(&store, "pw", &["--json", "store", "info"]));
    assert_eq!(info["Keys"], 2);
    assert_eq!(info["TornBytes"], 0);

    // Compact, rekey, change the passphrase: the keys and the message survive.
    let c = json(&sr(&store, "pw", &["--json", "store", "compact"]));
    assert_eq!(c["JournalRecords"], 0);
    assert!(c["Generation"].as_u64().unwrap() >= 2);
    json(&sr(&store, "pw", &["--json", "store", "rekey"]));
    json(&sr_env(
        &store,
        "pw",
        &[("STRONGROOM_NEW_PASSPHRASE", "pw2")],
        &["--json", "store", "change-passphrase"],
    ));
    assert_eq!(
        err_code(&sr(&store, "pw", &["--json", "store", "info"])),
        "Forbidden.WrongPassphrase"
    );
    assert_eq!(
        json(&sr(&store, "pw2", &["--json", "store", "info"]))["Keys"],
        2
    );

    // Backup under its own passphrase; restore into a new store under a third one.
    let backup = dir.path().join("backup.srb");
    let b = json(&sr_env(
        &store,
        "pw2",
        &[("STRONGROOM_BACKUP_PASSPHRASE", "bk")],
        &["--json", "store", "backup", backup.to_str().unwrap()],
    ));
    assert_eq!(b["ProtectionLevel"], "SOFTWARE");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let restored = dir.path().join("restored/store");
    let wrong = sr_env(
        &restored,
        "pw3",
        &[("STRONGROOM_BACKUP_PASSPHRASE", "nope")],
        &["--json", "store", "restore", backup.to_str().unwrap()],
    );
    assert_eq!(err_code(&wrong), "Forbidden.WrongPassphrase");
    let r = json(&sr_env(
        &restored,
        "pw3",
        &[("STRONGROOM_BACKUP_PASSPHRASE", "bk")],
        &["--json", "store", "restore", backup.to_str().unwrap()],
    ));
    assert_eq!(r["Keys"], 2);
    let again = sr_env(
        &restored,
        "pw3",
        &[("STRONGROOM_BACKUP_PASSPHRASE", "bk")],
        &["--json", "store", "restore", backup.to_str().unwrap()],
    );
    assert_eq!(err_code(&again), "Rejected.StoreExists");
    let out = dir.path().join("out");
    let o = sr(
        &restored,
        "pw3",
        &["decrypt", msg.to_str().unwrap(), out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), b"kept across everything");
}

#[test]
fn list_filters_and_random_password() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = json(&sr(&store, "pw", &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let b = json(&sr(
        &store,
        "pw",
        &["--json", "key", "create", "--key-spec", "Aliyun_AES_128"],
    ))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    json(&sr(&store, "pw", &["--json", "key", "disable", &b]));
    let l = json(&sr(
        &store,
        "pw",
        &["--json", "key", "list", "--filter", "KeyState=Enabled"],
    ));
    assert_eq!(l["TotalCount"], 1);
    assert_eq!(l["Keys"][0]["KeyId"], a.as_str());
    let l = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "list",
            "--filters",
            r#"[{"Key":"KeyState","Values":["Enabled","Disabled"]},{"Key":"KeySpec","Values":["Aliyun_AES_128"]}]"#,
        ],
    ));
    assert_eq!(l["TotalCount"], 1);
    assert_eq!(l["Keys"][0]["KeyId"], b.as_str());
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &["--json", "key", "list", "--filter", "Colour=red"]
        )),
        "InvalidParameter.Filters"
    );
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &["--json", "key", "list", "--filters", "{}"]
        )),
        "InvalidParameter.Filters"
    );

    let out = dir.path().join("pw.txt");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "random-password",
            "--out",
            out.to_str().unwrap(),
            "--length",
            "20",
            "--exclude-punctuation",
        ],
    );
    let v = json(&o);
    assert_eq!(v["Length"], 20);
    let p = std::fs::read_to_string(&out).unwrap();
    assert_eq!(p.len(), 20);
    assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(&p),
        "the password was printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &[
                "--json",
                "random-password",
                "--out",
                dir.path().join("x").to_str().unwrap(),
                "--length",
                "4"
            ]
        )),
        "InvalidParameter.Length"
    );
}

#[test]
fn data_keys_export_to_an_openssl_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let ok = openssl_ok;
    ok(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:3072",
        "-out",
        &p("priv.pem"),
    ]);
    ok(&[
        "pkey",
        "-in",
        &p("priv.pem"),
        "-pubout",
        "-out",
        &p("pub.pem"),
    ]);
    let cmk = json(&sr(&store, "pw", &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let g = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "data-key",
            "generate-and-export",
            "--key",
            &cmk,
            "--public-key",
            &p("pub.pem"),
            "--wrapping-key-spec",
            "RSA_3072",
            "--context",
            "a=b",
        ],
    ));
    let blob = g["CiphertextBlob"].as_str().unwrap().to_string();
    let e = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "data-key",
            "export",
            "--ciphertext-blob",
            &blob,
            "--public-key",
            &p("pub.pem"),
            "--wrapping-key-spec",
            "RSA_3072",
            "--wrapping-algorithm",
            "RSAES_OAEP_SHA_1",
            "--context",
            "a=b",
        ],
    ));
    std::fs::write(p("blob.b64"), &blob).unwrap();
    let d = sr(
        &store,
        "pw",
        &[
            "key",
            "decrypt",
            "--context",
            "a=b",
            &p("blob.b64"),
            &p("dk"),
        ],
    );
    assert!(d.status.success());
    let dk = std::fs::read(p("dk")).unwrap();
    assert_eq!(dk.len(), 32);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    for (field, v, md) in [("g", &g, "sha256"), ("e", &e, "sha1")] {
        std::fs::write(
            p(field),
            b64.decode(v["ExportedDataKey"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let (o, m) = (format!("rsa_oaep_md:{md}"), format!("rsa_mgf1_md:{md}"));
        ok(&[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            &p("priv.pem"),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &o,
            "-pkeyopt",
            &m,
            "-in",
            &p(field),
            "-out",
            &p(&format!("{field}.out")),
        ]);
        assert_eq!(
            std::fs::read(p(&format!("{field}.out"))).unwrap(),
            dk,
            "{field}"
        );
    }
    // The spec must match the key.
    assert_eq!(
        err_code(&sr(
            &store,
            "pw",
            &[
                "--json",
                "data-key",
                "export",
                "--ciphertext-blob",
                &blob,
                "--public-key",
                &p("pub.pem"),
                "--context",
                "a=b"
            ]
        )),
        "InvalidParameter.PublicKey"
    );
}

#[test]
fn byok_with_material_wrapped_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let ok = openssl_ok;
    let wrap = |material: &str, out: &str, md: &str| {
        let (o, m) = (format!("rsa_oaep_md:{md}"), format!("rsa_mgf1_md:{md}"));
        ok(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            &p("pub.pem"),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &o,
            "-pkeyopt",
            &m,
            "-in",
            &p(material),
            "-out",
            &p(out),
        ]);
    };
    let m = json(&sr(
        &store,
        "pw",
        &["--json", "key", "create", "--origin", "EXTERNAL"],
    ));
    assert_eq!(m["KeyState"], "PendingImport");
    assert_eq!(m["Origin"], "EXTERNAL");
    let key = m["KeyId"].as_str().unwrap().to_string();
    std::fs::write(p("msg"), b"imported material at work").unwrap();
    let enc = |out: &str| {
        sr(
            &store,
            "pw",
            &["key", "encrypt", "--key", &key, &p("msg"), &p(out)],
        )
    };
    let o = sr(
        &store,
        "pw",
        &["--json", "key", "encrypt", "--key", &key, &p("msg")],
    );
    assert_eq!(err_code(&o), "Forbidden.KeyPendingImport");

    // OpenSSL makes the material and wraps it with our parameters (OAEP SHA-256).
    let params = |alg: &str| {
        json(&sr(
            &store,
            "pw",
            &[
                "--json",
                "key",
                "import-params",
                &key,
                "--wrapping-algorithm",
                alg,
                "--public-key-out",
                &p("pub.pem"),
                "--token-out",
                &p("token"),
            ],
        ))
    };
    let ip = params("RSAES_OAEP_SHA_256");
    assert!(ip["TokenExpireTime"].as_str().unwrap().ends_with('Z'));
    ok(&["pkey", "-pubin", "-in", &p("pub.pem"), "-noout"]);
    ok(&["rand", "-out", &p("material"), "32"]);
    wrap("material", "wrapped", "sha256");
    let tok = format!("@{}", p("token"));
    let import = |file: &str, extra: &[&str]| {
        let mut a = vec![
            "--json",
            "key",
            "import",
            &key,
            "--encrypted-material",
            file,
            "--token",
            &tok,
        ];
        a.extend_from_slice(extra);
        sr(&store, "pw", &a)
    };
    let m = json(&import(&p("wrapped"), &[]));
    assert_eq!(m["KeyState"], "Enabled");
    assert!(enc("blob").status.success());
    let dec = || sr(&store, "pw", &["key", "decrypt", &p("blob"), &p("back")]);
    assert!(dec().status.success());
    assert_eq!(
        std::fs::read(p("back")).unwrap(),
        b"imported material at work"
    );
    // The token is used up.
    assert_eq!(
        err_code(&import(&p("wrapped"), &[])),
        "InvalidParameter.ImportToken"
    );

    // DeleteKeyMaterial: the blob waits; other material is refused, the same (wrapped
    // with SHA-1 this time, given as base64, with an expiry) brings it back.
    let m = json(&sr(
        &store,
        "pw",
        &["--json", "key", "delete-material", &key],
    ));
    assert_eq!(m["KeyState"], "PendingImport");
    let o = sr(&store, "pw", &["--json", "key", "decrypt", &p("blob"), "-"]);
    assert_eq!(err_code(&o), "Forbidden.KeyPendingImport");
    params("RSAES_OAEP_SHA_1");
    ok(&["rand", "-out", &p("other"), "32"]);
    wrap("other", "wrapped-other", "sha1");
    assert_eq!(
        err_code(&import(&p("wrapped-other"), &[])),
        "Rejected.KeyMaterialMismatch"
    );
    wrap("material", "wrapped1", "sha1");
    ok(&["base64", "-in", &p("wrapped1"), "-out", &p("wrapped1.b64")]);
    let later = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400)
        .to_string();
    let m = json(&import(
        &p("wrapped1.b64"),
        &["--base64", "--expire-unix", &later],
    ));
    assert_eq!(m["KeyState"], "Enabled");
    assert!(m["MaterialExpireTime"].as_str().is_some());
    assert!(dec().status.success());

    // Bad input: a generated key, a bad token, a wrapping key spec not offered.
    let gen_key = json(&sr(&store, "pw", &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let o = sr(&store, "pw", &["--json", "key", "import-params", &gen_key]);
    assert_eq!(err_code(&o), "Rejected.KeyOrigin");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "import-params",
            &key,
            "--wrapping-key-spec",
            "RSA_4096",
        ],
    );
    assert_eq!(err_code(&o), "InvalidParameter.WrappingKeySpec");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "import-params",
            &key,
            "--wrapping-algorithm",
            "RSAES_PKCS1_V1_5",
        ],
    );
    assert_eq!(err_code(&o), "InvalidParameter.WrappingAlgorithm");
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "import",
            &key,
            "--encrypted-material",
            &p("wrapped1"),
            "--token",
            "bm90IGEgdG9rZW4=",
        ],
    );
    assert_eq!(err_code(&o), "InvalidParameter.ImportToken");
}

#[test]
fn byok_of_an_openssl_ec_key_with_rsa_aes_key_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let ok = openssl_ok;
    let m = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "create",
            "--origin",
            "EXTERNAL",
            "--key-spec",
            "EC_P256",
            "--key-usage",
            "SIGN/VERIFY",
        ],
    ));
    let key = m["KeyId"].as_str().unwrap().to_string();
    json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "import-params",
            &key,
            "--wrapping-algorithm",
            "RSA_AES_KEY_WRAP_SHA_256",
            "--public-key-out",
            &p("wrap.pem"),
            "--token-out",
            &p("token"),
        ],
    ));
    // OpenSSL makes the EC key (PKCS#8 DER) and wraps it: RSA-OAEP-SHA-256 of a fresh
    // AES-256 key, then AES-256 key wrap with padding (RFC 5649) of the key under it.
    ok(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        &p("ec.pem"),
    ]);
    // PKCS#8 DER, which ImportKeyMaterial takes (genpkey's own DER is SEC1).
    ok(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &p("ec.pem"),
        "-outform",
        "DER",
        "-out",
        &p("ec.der"),
    ]);
    ok(&[
        "pkey",
        "-inform",
        "DER",
        "-in",
        &p("ec.der"),
        "-pubout",
        "-out",
        &p("ec.pub.pem"),
    ]);
    ok(&["rand", "-out", &p("eph"), "32"]);
    let eph_hex: String = std::fs::read(p("eph"))
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ok(&[
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-inkey",
        &p("wrap.pem"),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-pkeyopt",
        "rsa_mgf1_md:sha256",
        "-in",
        &p("eph"),
        "-out",
        &p("eph.wrapped"),
    ]);
    ok(&[
        "enc",
        "-id-aes256-wrap-pad",
        "-K",
        &eph_hex,
        "-iv",
        "A65959A6",
        "-in",
        &p("ec.der"),
        "-out",
        &p("ec.wrapped"),
    ]);
    let mut material = std::fs::read(p("eph.wrapped")).unwrap();
    material.extend(std::fs::read(p("ec.wrapped")).unwrap());
    std::fs::write(p("material"), material).unwrap();
    let tok = format!("@{}", p("token"));
    let m = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "import",
            &key,
            "--encrypted-material",
            &p("material"),
            "--token",
            &tok,
        ],
    ));
    assert_eq!(m["KeyState"], "Enabled");
    // strongroom signs with the imported key; OpenSSL verifies with the public key it
    // derived itself.
    std::fs::write(p("msg"), b"signed with a key OpenSSL made").unwrap();
    let s = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "sign",
            &key,
            "--algorithm",
            "ECDSA_SHA_256",
            "--message",
            &p("msg"),
        ],
    ));
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(s["Value"].as_str().unwrap())
        .unwrap();
    std::fs::write(p("sig"), sig).unwrap();
    ok(&[
        "dgst",
        "-sha256",
        "-verify",
        &p("ec.pub.pem"),
        "-signature",
        &p("sig"),
        &p("msg"),
    ]);
    // An RSA-OAEP-only token is refused for an EC key.
    let o = sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "import-params",
            &key,
            "--wrapping-algorithm",
            "RSAES_OAEP_SHA_256",
        ],
    );
    assert_eq!(err_code(&o), "InvalidParameter.WrappingAlgorithm");
}

#[test]
fn openssl_encrypts_to_our_rsa_key_and_verifies_our_pss_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let ok = openssl_ok;
    let enc = json(&sr(
        &store,
        "pw",
        &["--json", "key", "create", "--key-spec", "RSA_2048"],
    ));
    let id = enc["KeyId"].as_str().unwrap().to_string();
    assert!(
        sr(
            &store,
            "pw",
            &["key", "public-key", &id, "--out", &p("enc.pem")]
        )
        .status
        .success()
    );
    std::fs::write(p("secret"), b"encrypted by OpenSSL to a strongroom key").unwrap();
    for (alg, md) in [
        ("RSAES_OAEP_SHA_256", "sha256"),
        ("RSAES_OAEP_SHA_1", "sha1"),
    ] {
        let (o, m) = (format!("rsa_oaep_md:{md}"), format!("rsa_mgf1_md:{md}"));
        ok(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            &p("enc.pem"),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &o,
            "-pkeyopt",
            &m,
            "-in",
            &p("secret"),
            "-out",
            &p("ct"),
        ]);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(p("ct")).unwrap());
        std::fs::write(p("ct.b64"), b64).unwrap();
        let d = sr(
            &store,
            "pw",
            &[
                "key",
                "asym-decrypt",
                &id,
                "--algorithm",
                alg,
                &p("ct.b64"),
                "--out",
                &p("back"),
            ],
        );
        assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
        assert_eq!(
            std::fs::read(p("back")).unwrap(),
            std::fs::read(p("secret")).unwrap(),
            "{alg}"
        );
    }
    // RSA-PSS (salt 32) made by strongroom verifies in OpenSSL.
    let sk = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "create",
            "--key-spec",
            "RSA_3072",
            "--key-usage",
            "SIGN/VERIFY",
        ],
    ));
    let sid = sk["KeyId"].as_str().unwrap().to_string();
    assert!(
        sr(
            &store,
            "pw",
            &["key", "public-key", &sid, "--out", &p("sig.pem")]
        )
        .status
        .success()
    );
    let s = json(&sr(
        &store,
        "pw",
        &[
            "--json",
            "key",
            "sign",
            &sid,
            "--algorithm",
            "RSA_PSS_SHA_256",
            "--message",
            &p("secret"),
        ],
    ));
    use base64::Engine as _;
    std::fs::write(
        p("sig"),
        base64::engine::general_purpose::STANDARD
            .decode(s["Value"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    ok(&[
        "dgst",
        "-sha256",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:32",
        "-verify",
        &p("sig.pem"),
        "-signature",
        &p("sig"),
        &p("secret"),
    ]);
}

/// `strongroom kms ACTION --Param value`: its Alibaba JSON answer.
fn kms_ok(store: &Path, action: &str, params: &[&str]) -> serde_json::Value {
    let mut args = vec!["kms", action];
    args.extend_from_slice(params);
    let v = json(&sr(store, "pw", &args));
    assert_eq!(
        v["RequestId"].as_str().map(str::len),
        Some(36),
        "{action}: a RequestId in every answer: {v}"
    );
    v
}

fn kms_err(store: &Path, action: &str, params: &[&str]) -> String {
    let mut args = vec!["kms", action];
    args.extend_from_slice(params);
    let o = sr(store, "pw", &args);
    assert_eq!(o.status.code(), Some(2), "{action}: {o:?}");
    assert!(o.stdout.is_empty(), "errors go to stderr only");
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(v["RequestId"].as_str().map(str::len), Some(36));
    assert!(v["Message"].is_string());
    v["Code"].as_str().unwrap().to_string()
}

#[test]
fn the_kms_verb_serves_every_action_in_alibaba_json() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let unb64 = |s: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(s.as_str().unwrap())
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s/store");
    let s = store.as_path();
    let done = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let ok = |action: &'static str, params: &[&str]| {
        done.borrow_mut().insert(action);
        kms_ok(s, action, params)
    };

    assert!(sr(s, "pw", &["store", "init"]).status.success());
    let service = ok("DescribeService", &[]);
    let actions: Vec<String> = service["Actions"]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        service["ProtectionLevels"]["ProtectionLevel"][0]["Type"],
        "SOFTWARE"
    );
    assert!(
        service["KeySpecs"]["KeySpec"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["Name"] == "RSA_2048")
    );

    let k = ok("CreateKey", &["--Description", "wire"]);
    let id = k["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert_eq!(k["KeyMetadata"]["KeyState"], "Enabled");
    assert_eq!(
        ok("DescribeKey", &["--KeyId", &id])["KeyMetadata"]["Description"],
        "wire"
    );
    let m = ok(
        "UpdateKeyDescription",
        &["--KeyId", &id, "--Description", "new"],
    );
    assert_eq!(m["KeyMetadata"]["Description"], "new");
    assert_eq!(
        ok("DisableKey", &["--KeyId", &id])["KeyMetadata"]["KeyState"],
        "Disabled"
    );
    assert_eq!(
        ok("EnableKey", &["--KeyId", &id])["KeyMetadata"]["KeyState"],
        "Enabled"
    );
    let v = ok("CreateKeyVersion", &["--KeyId", &id]);
    let vid = v["KeyVersion"]["KeyVersionId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ok(
            "DescribeKeyVersion",
            &["--KeyId", &id, "--KeyVersionId", &vid]
        )["KeyVersion"]["KeyId"],
        id.as_str()
    );
    let l = ok("ListKeyVersions", &["--KeyId", &id, "--PageSize", "1"]);
    assert_eq!(l["TotalCount"], 2);
    assert_eq!(l["KeyVersions"]["KeyVersion"].as_array().unwrap().len(), 1);
    let r = ok(
        "UpdateRotationPolicy",
        &[
            "--KeyId",
            &id,
            "--EnableAutomaticRotation",
            "true",
            "--RotationInterval",
            "604800s",
        ],
    );
    assert_eq!(r["KeyMetadata"]["AutomaticRotation"], "Enabled");

    ok(
        "CreateAlias",
        &["--AliasName", "alias/wire", "--KeyId", &id],
    );
    let other = ok("CreateKey", &[])["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        "UpdateAlias",
        &["--AliasName", "alias/wire", "--KeyId", &other],
    );
    let a = ok("ListAliases", &[]);
    assert_eq!(a["Aliases"]["Alias"][0]["KeyId"], other.as_str());
    let a = ok("ListAliasesByKeyId", &["--KeyId", &other]);
    assert_eq!(a["Aliases"]["Alias"][0]["AliasName"], "alias/wire");
    ok("DeleteAlias", &["--AliasName", "alias/wire"]);
    assert_eq!(
        kms_err(s, "DeleteAlias", &["--AliasName", "alias/wire"]),
        "Forbidden.AliasNotFound"
    );

    ok(
        "TagResource",
        &[
            "--KeyId",
            &id,
            "--Tags",
            r#"[{"TagKey":"team","TagValue":"core"}]"#,
        ],
    );
    let t = ok("ListResourceTags", &["--KeyId", &id]);
    assert_eq!(t["Tags"]["Tag"][0]["TagValue"], "core");
    ok(
        "UntagResource",
        &["--KeyId", &id, "--TagKeys", r#"["team"]"#],
    );
    assert_eq!(
        ok("ListResourceTags", &["--KeyId", &id])["Tags"]["Tag"],
        serde_json::json!([])
    );

    let ctx = r#"{"app":"wire"}"#;
    let e = ok(
        "Encrypt",
        &[
            "--KeyId",
            &id,
            "--Plaintext",
            &b64(b"hi"),
            "--EncryptionContext",
            ctx,
        ],
    );
    let blob = e["CiphertextBlob"].as_str().unwrap().to_string();
    let d = ok(
        "Decrypt",
        &["--CiphertextBlob", &blob, "--EncryptionContext", ctx],
    );
    assert_eq!(unb64(&d["Plaintext"]), b"hi");
    assert_eq!(
        kms_err(s, "Decrypt", &["--CiphertextBlob", &blob]),
        "InvalidCiphertext"
    );
    let re = ok(
        "ReEncrypt",
        &[
            "--CiphertextBlob",
            &blob,
            "--SourceEncryptionContext",
            ctx,
            "--DestinationKeyId",
            &other,
        ],
    );
    assert_eq!(re["SourceKeyId"], id.as_str());
    assert_eq!(re["KeyId"], other.as_str());
    let g = ok(
        "GenerateDataKey",
        &["--KeyId", &id, "--NumberOfBytes", "16"],
    );
    assert_eq!(unb64(&g["Plaintext"]).len(), 16);
    let g2 = ok("GenerateDataKeyWithoutPlaintext", &["--KeyId", &id]);
    assert!(g2.get("Plaintext").is_none());
    let pair = ok(
        "GenerateDataKeyPair",
        &[
            "--KeyId",
            &id,
            "--KeyPairSpec",
            "EC_P256",
            "--KeyFormat",
            "DER",
        ],
    );
    assert_eq!(pair["KeyPairSpec"], "EC_P256");
    let opened_pair = ok(
        "Decrypt",
        &[
            "--CiphertextBlob",
            pair["PrivateKeyCiphertextBlob"].as_str().unwrap(),
        ],
    );
    assert_eq!(opened_pair["Plaintext"], pair["PrivateKeyPlaintext"]);
    let pair2 = ok(
        "GenerateDataKeyPairWithoutPlaintext",
        &["--KeyId", &id, "--KeyPairSpec", "EC_P256K"],
    );
    assert!(pair2.get("PrivateKeyPlaintext").is_none());
    let pw = ok(
        "GetRandomPassword",
        &["--Length", "20", "--ExcludePunctuation", "true"],
    );
    assert_eq!(pw["RandomPassword"].as_str().unwrap().len(), 20);

    let env = ok(
        "EncryptEnvelope",
        &[
            "--KeyIds",
            &format!(r#"["{id}"]"#),
            "--Plaintext",
            &b64(&[9; 5000]),
            "--EncryptionContext",
            ctx,
        ],
    );
    let opened = ok(
        "DecryptEnvelope",
        &[
            "--Ciphertext",
            env["Ciphertext"].as_str().unwrap(),
            "--EncryptionContext",
            ctx,
        ],
    );
    assert_eq!(unb64(&opened["Plaintext"]), vec![9; 5000]);
    assert_eq!(opened["EncryptionContext"]["app"], "wire");
    let moved = ok(
        "ReEncryptEnvelope",
        &[
            "--Header",
            env["Ciphertext"].as_str().unwrap(),
            "--DestinationKeyIds",
            &format!(r#"["{other}"]"#),
        ],
    );
    assert_eq!(moved["KeyIds"]["KeyId"], serde_json::json!([other]));
    let message = unb64(&env["Ciphertext"]);
    let n = moved["ReplacedLength"].as_u64().unwrap() as usize;
    let new_message = [unb64(&moved["Header"]), message[n..].to_vec()].concat();
    let reopened = ok("DecryptEnvelope", &["--Ciphertext", &b64(&new_message)]);
    assert_eq!(reopened["KeyId"], other.as_str());
    assert_eq!(unb64(&reopened["Plaintext"]), vec![9; 5000]);

    let rsa = ok(
        "CreateKey",
        &["--KeySpec", "RSA_2048", "--KeyUsage", "ENCRYPT/DECRYPT"],
    );
    let rsa = rsa["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let pk = ok("GetPublicKey", &["--KeyId", &rsa]);
    let pem = pk["PublicKey"].as_str().unwrap();
    let pem_owned = pem.to_string();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let c = ok(
        "AsymmetricEncrypt",
        &[
            "--KeyId",
            &rsa,
            "--Algorithm",
            "RSAES_OAEP_SHA_256",
            "--Plaintext",
            &b64(b"asym"),
        ],
    );
    let p = ok(
        "AsymmetricDecrypt",
        &[
            "--KeyId",
            &rsa,
            "--Algorithm",
            "RSAES_OAEP_SHA_256",
            "--CiphertextBlob",
            c["CiphertextBlob"].as_str().unwrap(),
        ],
    );
    assert_eq!(unb64(&p["Plaintext"]), b"asym");
    let x = ok(
        "ExportDataKey",
        &[
            "--CiphertextBlob",
            g2["CiphertextBlob"].as_str().unwrap(),
            "--PublicKeyBlob",
            &der_b64,
            "--WrappingAlgorithm",
            "RSAES_OAEP_SHA_256",
            "--WrappingKeySpec",
            "RSA_2048",
        ],
    );
    assert_eq!(unb64(&x["ExportedDataKey"]).len(), 256);
    let x = ok(
        "GenerateAndExportDataKey",
        &[
            "--KeyId",
            &id,
            "--PublicKeyBlob",
            &der_b64,
            "--WrappingAlgorithm",
            "RSAES_OAEP_SHA_256",
            "--WrappingKeySpec",
            "RSA_2048",
        ],
    );
    assert!(x["CiphertextBlob"].is_string() && x["ExportedDataKey"].is_string());

    let ec = ok(
        "CreateKey",
        &["--KeySpec", "EC_P256", "--KeyUsage", "SIGN/VERIFY"],
    );
    let ec = ec["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let digest = b64(&[7u8; 32]);
    let sig = ok(
        "AsymmetricSign",
        &[
            "--KeyId",
            &ec,
            "--Algorithm",
            "ECDSA_SHA_256",
            "--Digest",
            &digest,
        ],
    );
    let value = sig["Value"].as_str().unwrap().to_string();
    let ver = ok(
        "AsymmetricVerify",
        &[
            "--KeyId",
            &ec,
            "--Algorithm",
            "ECDSA_SHA_256",
            "--Digest",
            &digest,
            "--Value",
            &value,
        ],
    );
    assert_eq!(ver["Value"], true);

    let ext = ok("CreateKey", &["--Origin", "EXTERNAL"]);
    let ext = ext["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    // Without WrappingAlgorithm / WrappingKeySpec: the core's defaults
    // (RSAES_OAEP_SHA_256, RSA_2048) — no face names them.
    let default = ok("GetParametersForImport", &["--KeyId", &ext]);
    assert!(default["ImportToken"].is_string());
    let params = ok(
        "GetParametersForImport",
        &[
            "--KeyId",
            &ext,
            "--WrappingAlgorithm",
            "RSAES_OAEP_SHA_256",
            "--WrappingKeySpec",
            "RSA_2048",
        ],
    );
    assert!(params["ImportToken"].is_string() && params["PublicKey"].is_string());
    done.borrow_mut().insert("ImportKeyMaterial");
    assert_eq!(
        kms_err(
            s,
            "ImportKeyMaterial",
            &[
                "--KeyId",
                &ext,
                "--EncryptedKeyMaterial",
                &b64(&[1; 256]),
                "--ImportToken",
                "not-a-token"
            ],
        ),
        "InvalidParameter.ImportToken"
    );
    done.borrow_mut().insert("DeleteKeyMaterial");
    assert_eq!(
        kms_err(s, "DeleteKeyMaterial", &["--KeyId", &id]),
        "Rejected.KeyOrigin"
    );

    let dp = ok(
        "SetDeletionProtection",
        &[
            "--ProtectedResourceArn",
            &format!("acs:kms:strongroom:local:key/{id}"),
            "--EnableDeletionProtection",
            "true",
        ],
    );
    assert_eq!(dp["KeyMetadata"]["DeletionProtection"], "Enabled");
    ok(
        "SetDeletionProtection",
        &[
            "--ProtectedResourceArn",
            &id,
            "--EnableDeletionProtection",
            "false",
        ],
    );
    let sd = ok(
        "ScheduleKeyDeletion",
        &["--KeyId", &id, "--PendingWindowInDays", "7"],
    );
    assert_eq!(sd["KeyMetadata"]["KeyState"], "PendingDeletion");
    let cd = ok("CancelKeyDeletion", &["--KeyId", &id]);
    assert_eq!(cd["KeyMetadata"]["KeyState"], "Enabled");

    // Paging: one page, and every page merged.
    let page = ok("ListKeys", &["--PageSize", "2"]);
    assert_eq!(page["Keys"]["Key"].as_array().unwrap().len(), 2);
    assert_eq!(page["PageSize"], 2);
    let total = page["TotalCount"].as_u64().unwrap();
    assert!(total >= 5);
    let all = ok("ListKeys", &["--pager", "--PageSize", "2"]);
    assert_eq!(all["Keys"]["Key"].as_array().unwrap().len() as u64, total);
    let filtered = ok(
        "ListKeys",
        &["--Filters", r#"[{"Key":"KeySpec","Values":["EC_P256"]}]"#],
    );
    assert_eq!(filtered["TotalCount"], 1);

    // Secrets, by Alibaba's parameters.
    let c = ok(
        "CreateSecret",
        &[
            "--SecretName",
            "wire/s",
            "--VersionId",
            "v1",
            "--SecretData",
            "first",
        ],
    );
    assert_eq!(c["SecretName"], "wire/s");
    assert_eq!(
        ok("GetSecretValue", &["--SecretName", "wire/s"])["SecretData"],
        "first"
    );
    let p = ok(
        "PutSecretValue",
        &[
            "--SecretName",
            "wire/s",
            "--VersionId",
            "v2",
            "--SecretData",
            "AAE=",
            "--SecretDataType",
            "binary",
        ],
    );
    assert_eq!(p["VersionStages"]["VersionStage"][0], "ACSCurrent");
    ok(
        "UpdateSecretVersionStage",
        &[
            "--SecretName",
            "wire/s",
            "--VersionStage",
            "ACSCurrent",
            "--RemoveFromVersion",
            "v2",
            "--MoveToVersion",
            "v1",
        ],
    );
    let v = ok("ListSecretVersionIds", &["--SecretName", "wire/s"]);
    assert_eq!(v["VersionIds"]["VersionId"].as_array().unwrap().len(), 2);
    assert_eq!(
        ok("DescribeSecret", &["--SecretName", "wire/s"])["SecretName"],
        "wire/s"
    );
    assert_eq!(ok("ListSecrets", &[])["TotalCount"], 1);
    ok(
        "UpdateSecret",
        &["--SecretName", "wire/s", "--Description", "d"],
    );
    ok(
        "UpdateSecretRotationPolicy",
        &[
            "--SecretName",
            "wire/s",
            "--EnableAutomaticRotation",
            "true",
            "--RotationInterval",
            "7d",
        ],
    );
    assert_eq!(
        ok(
            "RotateSecret",
            &["--SecretName", "wire/s", "--VersionId", "r1"]
        )["VersionId"],
        "r1"
    );
    let d = ok("DeleteSecret", &["--SecretName", "wire/s"]);
    assert!(d["PlannedDeleteTime"].is_string());
    assert_eq!(
        kms_err(s, "GetSecretValue", &["--SecretName", "wire/s"]),
        "Rejected.ResourceInDeleteWindow"
    );
    ok("RestoreSecret", &["--SecretName", "wire/s"]);

    // RAM, STS, key and secret policies, audit settings.
    let u = ok("CreateUser", &["--UserName", "app"]);
    let acct = u["User"]["AccountId"].as_str().unwrap().to_string();
    assert_eq!(
        ok("GetUser", &["--UserName", "app"])["User"]["UserName"],
        "app"
    );
    assert_eq!(ok("ListUsers", &[])["Users"]["User"][0]["UserName"], "app");
    let ak = ok("CreateAccessKey", &["--UserName", "app"]);
    let akid = ak["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string();
    assert!(ak["AccessKey"]["AccessKeySecret"].is_string());
    ok(
        "UpdateAccessKey",
        &[
            "--UserName",
            "app",
            "--UserAccessKeyId",
            &akid,
            "--Status",
            "Inactive",
        ],
    );
    assert_eq!(
        ok("ListAccessKeys", &["--UserName", "app"])["AccessKeys"]["AccessKey"][0]["Status"],
        "Inactive"
    );
    ok(
        "DeleteAccessKey",
        &["--UserName", "app", "--UserAccessKeyId", &akid],
    );
    // A client key: any RSA_2048 public key (here the RSA key's) is registered; it is
    // listed with the AccessKeys and deleted like one.
    let ck = ok(
        "CreateClientKey",
        &["--UserName", "app", "--PublicKey", &pem_owned],
    );
    let ckid = ck["KeyId"].as_str().unwrap().to_string();
    assert!(ckid.starts_with("KAAP.") && ck["KeyAlgorithm"] == "RSA_2048");
    assert_eq!(
        ok("ListAccessKeys", &["--UserName", "app"])["AccessKeys"]["AccessKey"][0]["AccessKeyId"],
        ckid.as_str()
    );
    ok(
        "DeleteAccessKey",
        &["--UserName", "app", "--UserAccessKeyId", &ckid],
    );
    let doc =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;
    ok(
        "CreatePolicy",
        &["--PolicyName", "dec", "--PolicyDocument", doc],
    );
    assert_eq!(
        ok("GetPolicy", &["--PolicyName", "dec"])["DefaultPolicyVersion"]["PolicyDocument"],
        doc
    );
    ok(
        "AttachPolicyToUser",
        &[
            "--PolicyType",
            "Custom",
            "--PolicyName",
            "dec",
            "--UserName",
            "app",
        ],
    );
    assert_eq!(
        ok("ListPoliciesForUser", &["--UserName", "app"])["Policies"]["Policy"][0]["PolicyName"],
        "dec"
    );
    assert!(
        ok("ListPolicies", &["--PolicyType", "System"])["Policies"]["Policy"]
            .as_array()
            .unwrap()
            .len()
            >= 5
    );
    let trust = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{{"RAM":["acs:ram::{acct}:root"]}}}}]}}"#
    );
    let role = ok(
        "CreateRole",
        &["--RoleName", "reader", "--AssumeRolePolicyDocument", &trust],
    );
    let role_arn = role["Role"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(
        ok("GetRole", &["--RoleName", "reader"])["Role"]["Arn"],
        role_arn.as_str()
    );
    assert_eq!(
        ok("ListRoles", &[])["Roles"]["Role"][0]["RoleName"],
        "reader"
    );
    ok(
        "AttachPolicyToRole",
        &[
            "--PolicyType",
            "Custom",
            "--PolicyName",
            "dec",
            "--RoleName",
            "reader",
        ],
    );
    assert_eq!(
        ok("ListPoliciesForRole", &["--RoleName", "reader"])["Policies"]["Policy"][0]["PolicyName"],
        "dec"
    );
    let creds = ok(
        "AssumeRole",
        &["--RoleArn", &role_arn, "--RoleSessionName", "cli"],
    );
    assert!(creds["Credentials"]["SecurityToken"].is_string());
    let sim = ok(
        "SimulatePolicy",
        &[
            "--PrincipalArn",
            &format!("acs:ram::{acct}:user/app"),
            "--ActionName",
            "kms:Decrypt",
            "--ResourceArn",
            &id,
        ],
    );
    assert_eq!(sim["Decision"], "Allow");
    ok(
        "DetachPolicyFromRole",
        &[
            "--PolicyType",
            "Custom",
            "--PolicyName",
            "dec",
            "--RoleName",
            "reader",
        ],
    );
    ok(
        "DetachPolicyFromUser",
        &[
            "--PolicyType",
            "Custom",
            "--PolicyName",
            "dec",
            "--UserName",
            "app",
        ],
    );
    ok("DeletePolicy", &["--PolicyName", "dec"]);
    ok("DeleteRole", &["--RoleName", "reader"]);
    ok("DeleteUser", &["--UserName", "app"]);
    let kp = ok("GetKeyPolicy", &["--KeyId", &id, "--PolicyName", "default"]);
    ok(
        "SetKeyPolicy",
        &[
            "--KeyId",
            &id,
            "--PolicyName",
            "default",
            "--Policy",
            kp["Policy"].as_str().unwrap(),
        ],
    );
    let sp = ok("GetSecretPolicy", &["--SecretName", "wire/s"]);
    ok(
        "SetSecretPolicy",
        &[
            "--SecretName",
            "wire/s",
            "--Policy",
            sp["Policy"].as_str().unwrap(),
        ],
    );
    ok("SetAuditLevel", &["--AuditLevel", "all"]);
    assert_eq!(ok("DescribeAuditConfig", &[])["AuditLevel"], "all");
    // The instance API's keyless actions.
    assert_eq!(
        unb64(&ok("GenerateRandom", &["--Length", "48"])["Random"]).len(),
        48
    );
    let h = ok(
        "Hash",
        &["--Message", &b64(b"abc"), "--Algorithm", "SHA-384"],
    );
    assert_eq!(h["Algorithm"], "SHA-384");
    assert_eq!(unb64(&h["Digest"]).len(), 48);
    // The store's own operations, as its owner (the CLI on the store's file).
    let image = ok("ExportImage", &["--Passphrase", "image pw"]);
    assert!(unb64(&image["Image"]).len() > 100);
    let backup = ok("CreateBackup", &["--BackupPassphrase", "backup pw"]);
    assert!(unb64(&backup["Backup"]).len() > 100);
    ok("RekeyStore", &[]);
    ok("CompactStore", &[]);
    let verified = ok("VerifyStore", &[]);
    assert_eq!(verified["Problems"]["Problem"], serde_json::json!([]));
    assert_eq!(verified["ValuesOpened"], verified["SecretVersions"]);
    // Resealed under the passphrase the rest of this test uses (a fresh salt).
    ok("ChangePassphrase", &["--NewPassphrase", "pw"]);
    assert_eq!(
        ok("DescribeKey", &["--KeyId", &id])["KeyMetadata"]["KeyId"],
        id.as_str()
    );

    let done = done.borrow();
    let missing: Vec<&String> = actions
        .iter()
        .filter(|a| !done.contains(a.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "actions never driven through `kms`: {missing:?}"
    );

    // Errors: Alibaba's body on stderr, exit status 2, the stable codes.
    assert_eq!(kms_err(s, "NoSuchAction", &[]), "InvalidAction.NotFound");
    assert_eq!(kms_err(s, "DescribeKey", &[]), "InvalidParameter.KeyId");
    assert_eq!(
        kms_err(s, "DescribeKey", &["--KeyId", "nope"]),
        "Forbidden.KeyNotFound"
    );
    assert_eq!(
        kms_err(s, "DescribeKey", &["--KeyId", &id, "--Typo", "x"]),
        "InvalidParameter.Request"
    );
    assert_eq!(
        kms_err(s, "ListKeys", &["--PageSize", "0"]),
        "InvalidParameter.Limit"
    );
    assert_eq!(
        kms_err(s, "ListKeys", &["--PageSize", "x"]),
        "InvalidParameter.Limit"
    );
    assert_eq!(
        kms_err(s, "ListKeys", &["--PageNumber", "99999999999"]),
        "InvalidParameter.Limit"
    );
    assert_eq!(
        kms_err(s, "Encrypt", &["--KeyId", &other, "--Plaintext", "%%%"]),
        "InvalidParameter.Plaintext"
    );
    assert_eq!(
        kms_err(s, "DescribeKey", &["--pager", "--KeyId", &id]),
        "InvalidParameter.Request"
    );
}

#[test]
fn friendly_lists_page_through_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s/store");
    let s = store.as_path();
    let mut keys = Vec::new();
    for _ in 0..12 {
        let k = kms_ok(s, "CreateKey", &[]);
        keys.push(k["KeyMetadata"]["KeyId"].as_str().unwrap().to_string());
    }
    // More than one page of ListKeys' default 10.
    let l = json(&sr(s, "pw", &["--json", "key", "list"]));
    assert_eq!(l["Keys"].as_array().unwrap().len(), 12);
    assert_eq!(l["TotalCount"], 12);
    // An explicit page is still one page.
    let p = json(&sr(s, "pw", &["--json", "key", "list", "--page-size", "5"]));
    assert_eq!(p["Keys"].as_array().unwrap().len(), 5);
    // More than the 100 a single page holds.
    for i in 0..105 {
        let key = &keys[i % 3];
        kms_ok(
            s,
            "CreateAlias",
            &["--AliasName", &format!("alias/a{i:03}"), "--KeyId", key],
        );
    }
    let a = json(&sr(s, "pw", &["--json", "alias", "list"]));
    assert_eq!(a["Aliases"].as_array().unwrap().len(), 105);
    assert_eq!(a["TotalCount"], 105);
    for _ in 0..100 {
        kms_ok(s, "CreateKeyVersion", &["--KeyId", &keys[0]]);
    }
    let v = json(&sr(s, "pw", &["--json", "key", "list-versions", &keys[0]]));
    assert_eq!(v["KeyVersions"].as_array().unwrap().len(), 101);
    assert_eq!(v["TotalCount"], 101);
}

/// Plaintext goes to stdout only when asked for (`-`); files holding secrets (the
/// store, its lock, backups, plaintext outputs) are 0600 whatever the umask, and an
/// existing 0644 output is reset to 0600; secrets are never written through a link.
#[cfg(unix)]
#[test]
fn secrets_stay_in_private_files_and_off_the_terminal_unless_asked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let mode = |n: &str| std::fs::metadata(p(n)).unwrap().permissions().mode() & 0o777;
    let k = json(&sr(&store, "pw", &["--json", "key", "create"]));
    let key = k["KeyId"].as_str().unwrap();
    assert_eq!(mode("store"), 0o600);
    assert_eq!(mode("store.lock"), 0o600);
    // A data key blob: decrypting it needs an explicit OUT.
    let g = json(&sr(
        &store,
        "pw",
        &["--json", "data-key", "generate", "--key", key],
    ));
    std::fs::write(p("dk.b64"), g["CiphertextBlob"].as_str().unwrap()).unwrap();
    let o = sr(&store, "pw", &["key", "decrypt", &p("dk.b64")]);
    assert!(!o.status.success());
    assert!(
        o.stdout.is_empty(),
        "plaintext printed without being asked for"
    );
    // Into an existing 0644 file: it becomes 0600.
    std::fs::write(p("dk.bin"), b"old").unwrap();
    std::fs::set_permissions(p("dk.bin"), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        sr(
            &store,
            "pw",
            &["key", "decrypt", &p("dk.b64"), &p("dk.bin")]
        )
        .status
        .success()
    );
    assert_eq!(std::fs::read(p("dk.bin")).unwrap().len(), 32);
    assert_eq!(mode("dk.bin"), 0o600);
    // To stdout when asked.
    let o = sr(&store, "pw", &["key", "decrypt", &p("dk.b64"), "-"]);
    assert!(o.status.success());
    assert_eq!(o.stdout.len(), 32);
    // Not through a symbolic link.
    std::os::unix::fs::symlink(p("elsewhere"), p("link")).unwrap();
    let o = sr(
        &store,
        "pw",
        &["--json", "key", "decrypt", &p("dk.b64"), &p("link")],
    );
    assert!(!o.status.success());
    assert!(!dir.path().join("elsewhere").exists());
    // Backups: 0600, reset when overwriting.
    std::fs::write(p("backup"), b"old").unwrap();
    std::fs::set_permissions(p("backup"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let b = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args([
            "--store",
            store.to_str().unwrap(),
            "store",
            "backup",
            &p("backup"),
        ])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_BACKUP_PASSPHRASE", "bk")
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(mode("backup"), 0o600);
    // Envelope decryption output too.
    let msg = p("msg");
    std::fs::write(p("plain"), b"envelope plaintext").unwrap();
    assert!(
        sr(&store, "pw", &["encrypt", "--key", key, &p("plain"), &msg])
            .status
            .success()
    );
    std::fs::write(p("back"), b"").unwrap();
    std::fs::set_permissions(p("back"), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        sr(&store, "pw", &["decrypt", &msg, &p("back")])
            .status
            .success()
    );
    assert_eq!(mode("back"), 0o600);
}

/// `store check` says what opening would drop, without writing; `store repair`
/// rewrites the store without a torn final record; damage elsewhere is refused.
#[test]
fn store_check_and_repair_handle_a_torn_final_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    json(&sr(&store, "pw", &["--json", "key", "create"]));
    json(&sr(&store, "pw", &["--json", "key", "create"]));
    let c = json(&sr(&store, "pw", &["--json", "store", "check"]));
    assert_eq!(c["WouldDropBytes"], 0);
    // A crash cut the last append short: its last 20 bytes never reached the disk.
    let mut img = std::fs::read(&store).unwrap();
    let n = img.len();
    img[n - 20..].fill(0);
    std::fs::write(&store, &img).unwrap();
    let c = json(&sr(&store, "pw", &["--json", "store", "check"]));
    assert!(c["WouldDropBytes"].as_u64().unwrap() > 20, "{c}");
    assert_eq!(c["Keys"], 1);
    assert_eq!(
        std::fs::read(&store).unwrap(),
        img,
        "check wrote to the store"
    );
    let r = json(&sr(&store, "pw", &["--json", "store", "repair"]));
    assert_eq!(r["Repaired"], true);
    let c = json(&sr(&store, "pw", &["--json", "store", "check"]));
    assert_eq!(c["WouldDropBytes"], 0);
    assert_eq!(
        json(&sr(&store, "pw", &["--json", "store", "info"]))["Keys"],
        1
    );
    // Damage in the middle: refused by check, repair and every other command.
    let mut img = std::fs::read(&store).unwrap();
    img[150] ^= 1;
    std::fs::write(&store, &img).unwrap();
    assert_eq!(
        err_code(&sr(&store, "pw", &["--json", "store", "check"])),
        "Rejected.StoreCorrupted"
    );
    assert_eq!(
        err_code(&sr(&store, "pw", &["--json", "store", "repair"])),
        "Rejected.StoreCorrupted"
    );
    assert!(!dir.path().join("nostore").exists());
    let missing = dir.path().join("nostore");
    assert_eq!(
        err_code(&sr(&missing, "pw", &["--json", "store", "check"])),
        "Forbidden.StoreNotFound"
    );
}

/// `encrypt --sign-key` and `decrypt --require-signer`: a signed message (suite 0x0002)
/// reports its signer; a required signer refuses an unsigned message or another key.
#[test]
fn signed_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let pass = "signed-cli";
    let to = json(&sr(&store, pass, &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let signer = json(&sr(
        &store,
        pass,
        &[
            "--json",
            "key",
            "create",
            "--key-spec",
            "EC_P256",
            "--key-usage",
            "SIGN/VERIFY",
        ],
    ))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let other = json(&sr(
        &store,
        pass,
        &[
            "--json",
            "key",
            "create",
            "--key-spec",
            "EC_P256",
            "--key-usage",
            "SIGN/VERIFY",
        ],
    ))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let pt = dir.path().join("pt");
    std::fs::write(&pt, b"signed on the command line").unwrap();
    let (p, s, u) = (
        pt.to_str().unwrap(),
        dir.path().join("signed"),
        dir.path().join("unsigned"),
    );
    let (s, u) = (s.to_str().unwrap(), u.to_str().unwrap());
    let v = json(&sr(
        &store,
        pass,
        &[
            "--json",
            "encrypt",
            "--key",
            &to,
            "--sign-key",
            &signer,
            p,
            s,
        ],
    ));
    assert_eq!(v["SigningKeyId"], signer.as_str());
    json(&sr(
        &store,
        pass,
        &["--json", "encrypt", "--key", &to, p, u],
    ));
    let out = dir.path().join("out");
    let v = json(&sr(
        &store,
        pass,
        &[
            "--json",
            "decrypt",
            "--require-signer",
            &signer,
            s,
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(v["Signer"]["KeyId"], signer.as_str());
    assert_eq!(v["Signer"]["Known"], true);
    assert_eq!(std::fs::read(&out).unwrap(), b"signed on the command line");
    // Text mode says who signed.
    let o = sr(&store, pass, &["decrypt", s, "-"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("signed by {signer}")),
        "{o:?}"
    );
    for (msg, req) in [(u, signer.as_str()), (s, other.as_str())] {
        let o = sr(
            &store,
            pass,
            &["--json", "decrypt", "--require-signer", req, msg, "-"],
        );
        assert_eq!(err_code(&o), "InvalidCiphertext.SignerMismatch");
        assert!(o.stdout.is_empty(), "no plaintext on a refused message");
    }
    // A symmetric key cannot sign.
    let o = sr(
        &store,
        pass,
        &["--json", "encrypt", "--key", &to, "--sign-key", &to, p, "-"],
    );
    assert_eq!(err_code(&o), "InvalidParameter.SigningKeyId");
}
