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

const P11KIT_CLIENT: &str = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";

fn softhsm(d: &Path, label: &str) {
    std::fs::create_dir_all(d.join("tokens")).unwrap();
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
            label,
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
}

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
    // `store verify` probes the key's version in the token.
    let v = json(&sr(d, pin, &["--json", "store", "verify"]));
    assert_eq!(
        (v["KeyVersions"].as_u64(), v["KeyVersionsVerified"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["KeyProblems"], serde_json::json!([]));
    // The object deleted from the token behind the store's back (SoftHSM2 keeps each
    // object in a file of the token's directory): named, exit status 1, before any
    // caller needs the key.
    let mut removed = 0;
    for token in std::fs::read_dir(d.join("tokens")).unwrap() {
        for f in std::fs::read_dir(token.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".object") && name != "token.object" {
                std::fs::remove_file(&p).unwrap();
                removed += 1;
            }
        }
    }
    assert!(removed >= 1);
    let o = sr(d, pin, &["--json", "store", "verify"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["KeyVersions"].as_u64(), v["KeyVersionsVerified"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    assert_eq!(v["KeyProblems"][0]["KeyId"], id);
    assert_eq!(v["KeyProblems"][0]["KeyVersionId"], k["PrimaryKeyVersion"]);
    assert_eq!(v["KeyProblems"][0]["Code"], "Forbidden.KeyNotFound", "{v}");
    assert!(
        v["KeyProblems"][0]["Message"]
            .as_str()
            .unwrap()
            .contains("gone from token \"cli-test\""),
        "{v}"
    );
    // A gateway on this store with `--verify-interval-s`: its first pass at start finds
    // the same, in /metrics and as a warn line naming the key version.
    let mut server = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--verify-interval-s",
            "3600",
        ])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", d.join("store"))
        .env("SOFTHSM2_CONF", d.join("softhsm2.conf"))
        .env("STRONGROOM_PKCS11_MODULE", MODULE)
        .env("STRONGROOM_PKCS11_TOKEN", "cli-test")
        .env("STRONGROOM_PKCS11_PIN", "4321")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line.trim().rsplit("//").next().unwrap().to_string();
    let metrics = || {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            c,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        c.read_to_string(&mut text).unwrap();
        text
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let t = metrics();
        if !t.contains("strongroom_verify_last_run_timestamp_seconds 0\n") {
            break t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no verify pass in 30 s: {t}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    server.kill().unwrap();
    let out = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("strongroom_verify_key_versions 1\n"),
        "{text}"
    );
    assert!(
        text.contains("strongroom_verify_key_problems 1\n"),
        "{text}"
    );
    assert!(
        text.contains("strongroom_verify_value_problems 0\n"),
        "{text}"
    );
    assert!(
        log.contains("did not answer") && log.contains(id) && log.contains("Forbidden.KeyNotFound"),
        "{log}"
    );
}

/// The p11-kit RPC server in front of the token: what a remote HSM looks like.
fn p11_kit_server(d: &Path) -> std::process::Child {
    let sock = d.join("p11.sock");
    let _ = std::fs::remove_file(&sock);
    let child = Command::new("p11-kit")
        .args(["server", "-f", "--provider", MODULE, "-n"])
        .arg(&sock)
        .arg("pkcs11:token=remote-test")
        .env("SOFTHSM2_CONF", d.join("softhsm2.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("p11-kit runs (scripts/ci/setup.sh installs it)");
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(sock.exists(), "p11-kit server did not start");
    child
}

fn remote(d: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(args)
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", d.join("store"))
        .env("STRONGROOM_PKCS11_MODULE", P11KIT_CLIENT)
        .env("STRONGROOM_PKCS11_TOKEN", "remote-test")
        .env("STRONGROOM_PKCS11_PIN", "4321")
        .env(
            "P11_KIT_SERVER_ADDRESS",
            format!("unix:path={}", d.join("p11.sock").display()),
        )
        .output()
        .unwrap()
}

#[test]
fn a_token_reached_through_p11_kit_rpc() {
    assert!(
        Path::new(P11KIT_CLIENT).exists(),
        "{P11KIT_CLIENT} is missing: install Debian's p11-kit-modules (scripts/ci/setup.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    softhsm(d, "remote-test");
    let mut server = p11_kit_server(d);
    assert!(remote(d, &["store", "init"]).status.success());
    let k = json(&remote(
        d,
        &[
            "--json",
            "key",
            "create",
            "--key-spec",
            "RSA_2048",
            "--key-usage",
            "SIGN/VERIFY",
        ],
    ));
    assert_eq!(k["ProtectionLevel"], "HSM");
    let id = k["KeyId"].as_str().unwrap().to_string();
    let digest = "Zm9yIHRoZSByZW1vdGUgdG9rZW4gLS0tLS0tLS0tLS0=";
    let sign = |d: &Path| {
        remote(
            d,
            &[
                "kms",
                "AsymmetricSign",
                "--KeyId",
                &id,
                "--Algorithm",
                "RSA_PSS_SHA_256",
                "--Digest",
                digest,
            ],
        )
    };
    let sig = json(&sign(d))["Value"].as_str().unwrap().to_string();
    let ok = json(&remote(
        d,
        &[
            "kms",
            "AsymmetricVerify",
            "--KeyId",
            &id,
            "--Algorithm",
            "RSA_PSS_SHA_256",
            "--Digest",
            digest,
            "--Value",
            &sig,
        ],
    ));
    assert_eq!(ok["Value"], true);
    // p11-kit 0.24's RPC does not carry AES-GCM's parameters: a clear refusal.
    let aes = json(&remote(d, &["--json", "key", "create"]));
    let e = remote(
        d,
        &[
            "kms",
            "Encrypt",
            "--KeyId",
            aes["KeyId"].as_str().unwrap(),
            "--Plaintext",
            "aGk=",
        ],
    );
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        e.status.success() || (err.contains("Rejected.Unsupported") && err.contains("CKM_AES_GCM")),
        "{err}"
    );
    // The remote HSM goes away: a clear error, in bounded time.
    server.kill().unwrap();
    server.wait().unwrap();
    let t = std::time::Instant::now();
    let down = sign(d);
    assert!(!down.status.success());
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(err.contains("Rejected.BackendUnavailable"), "{err}");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    // It comes back: so do the calls.
    let mut server = p11_kit_server(d);
    assert!(json(&sign(d))["Value"].is_string());
    server.kill().unwrap();
    let _ = server.wait();
}
