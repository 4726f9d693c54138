#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The CLI against a gateway (`--endpoint`): the same commands as on a store file,
//! signed with a RAM user's AccessKey; envelope files encrypted here and decrypted by
//! another process; the store's own commands refused; a missing key is a usage error.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn sr(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(args)
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", store)
        .env_remove("STRONGROOM_ENDPOINT")
        .env_remove("STRONGROOM_PKCS11_MODULE")
        .env_remove("STRONGROOM_TRANSIT_ADDR")
        .output()
        .unwrap()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn commands_through_a_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("store");
    ok(sr(&store, &["store", "init"]));
    ok(sr(&store, &["ram", "create-user", "app"]));
    ok(sr(
        &store,
        &[
            "ram",
            "attach",
            "AliyunKMSFullAccess",
            "--system",
            "--user",
            "app",
        ],
    ));
    ok(sr(
        &store,
        &[
            "ram",
            "create-access-key",
            "app",
            "--out",
            d.join("app.json").to_str().unwrap(),
        ],
    ));
    let key: Value = serde_json::from_slice(&std::fs::read(d.join("app.json")).unwrap()).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args([
            "--store",
            store.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    let remote = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_strongroom"))
            .args(args)
            .env("STRONGROOM_ENDPOINT", &url)
            .env(
                "STRONGROOM_ACCESS_KEY_ID",
                key["AccessKeyId"].as_str().unwrap(),
            )
            .env(
                "STRONGROOM_ACCESS_KEY_SECRET",
                key["AccessKeySecret"].as_str().unwrap(),
            )
            .env_remove("STRONGROOM_PASSPHRASE")
            .env("STRONGROOM_STORE", d.join("no-such-store"))
            .output()
            .unwrap()
    };
    let k: Value = serde_json::from_slice(
        &ok(remote(&[
            "--json",
            "key",
            "create",
            "--description",
            "served",
        ]))
        .stdout,
    )
    .unwrap();
    let id = k["KeyId"].as_str().unwrap().to_string();
    let e: Value = serde_json::from_slice(
        &ok(remote(&[
            "kms",
            "Encrypt",
            "--KeyId",
            &id,
            "--Plaintext",
            "aGVsbG8=",
        ]))
        .stdout,
    )
    .unwrap();
    let d2: Value = serde_json::from_slice(
        &ok(remote(&[
            "kms",
            "Decrypt",
            "--CiphertextBlob",
            e["CiphertextBlob"].as_str().unwrap(),
        ]))
        .stdout,
    )
    .unwrap();
    assert_eq!(d2["Plaintext"], "aGVsbG8=");
    // An envelope file made through the gateway, opened by the store's own CLI.
    std::fs::write(d.join("in"), vec![7u8; 300_000]).unwrap();
    ok(remote(&[
        "encrypt",
        "--key",
        &id,
        d.join("in").to_str().unwrap(),
        d.join("ct").to_str().unwrap(),
    ]));
    // The server holds the store's lock: stop it first.
    stop_gracefully(&mut server);
    ok(sr(
        &store,
        &[
            "decrypt",
            d.join("ct").to_str().unwrap(),
            d.join("out").to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read(d.join("out")).unwrap(), vec![7u8; 300_000]);
    // Store commands are the store's, refused through a gateway.
    let o = remote(&["store", "info"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidParameter.Endpoint"));
    // A gateway that is not there.
    let o = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["--endpoint", "http://127.0.0.1:9", "key", "list"])
        .env("STRONGROOM_ACCESS_KEY_ID", "a")
        .env("STRONGROOM_ACCESS_KEY_SECRET", "b")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("Rejected.BackendUnavailable"));
    // No credentials.
    let o = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["--endpoint", &url, "key", "list"])
        .env_remove("STRONGROOM_ACCESS_KEY_ID")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("AccessKeyId"));
}

fn stop_gracefully(server: &mut std::process::Child) {
    // SIGTERM: a graceful stop that releases the store's lock.
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    server.wait().unwrap();
}
