#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A remote strongroom as a key backend: `serve --backend-clients FILE` serves its
//! store's key backend over the wire protocol (version 2), and another store's CLI
//! keeps its master keys there (STRONGROOM_REMOTE_URL + a client key file). Across
//! processes; a key the server does not admit, a wrong secret and a stopped server are
//! clear errors.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

fn sr(store: &Path, remote: Option<(&str, &Path)>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    c.args(args)
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env("STRONGROOM_STORE", store)
        .env_remove("STRONGROOM_ENDPOINT")
        .env_remove("STRONGROOM_PKCS11_MODULE")
        .env_remove("STRONGROOM_TRANSIT_ADDR")
        .env_remove("STRONGROOM_KMIP_ADDR")
        .env_remove("STRONGROOM_REMOTE_URL");
    if let Some((url, key)) = remote {
        c.env("STRONGROOM_REMOTE_URL", url)
            .env("STRONGROOM_REMOTE_CLIENT_KEY_FILE", key);
    }
    c.output().unwrap()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn err(o: &Output) -> String {
    assert!(!o.status.success());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn serve(store: &Path, clients: &Path) -> (Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args([
            "--store",
            store.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--backend-clients",
            clients.to_str().unwrap(),
        ])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .env_remove("STRONGROOM_REMOTE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    (server, format!("{base}/strongroom-backend"))
}

#[test]
fn a_store_keeps_its_keys_behind_another_strongroom() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server_store = d.join("server");
    ok(sr(&server_store, None, &["store", "init"]));
    // A client key: a 0600 file, admitted by the server through its clients file.
    let key_file = d.join("client.key.json");
    let made: Value = serde_json::from_slice(
        &ok(sr(
            &server_store,
            None,
            &[
                "--json",
                "backend-client-key",
                "--out",
                key_file.to_str().unwrap(),
            ],
        ))
        .stdout,
    )
    .unwrap();
    assert!(made["ClientKeyId"].as_str().unwrap().starts_with("wk-"));
    assert!(!String::from_utf8_lossy(&std::fs::read(&key_file).unwrap()).is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key: Value = serde_json::from_slice(&std::fs::read(&key_file).unwrap()).unwrap();
    let clients = d.join("clients.json");
    std::fs::write(&clients, serde_json::to_vec(&vec![key.clone()]).unwrap()).unwrap();
    let (mut server, url) = serve(&server_store, &clients);

    let client = d.join("client");
    let r = Some((url.as_str(), key_file.as_path()));
    ok(sr(&client, r, &["store", "init"]));
    let k: Value =
        serde_json::from_slice(&ok(sr(&client, r, &["--json", "key", "create"])).stdout).unwrap();
    let id = k["KeyId"].as_str().unwrap().to_string();
    let e: Value = serde_json::from_slice(
        &ok(sr(
            &client,
            r,
            &[
                "kms",
                "Encrypt",
                "--KeyId",
                &id,
                "--Plaintext",
                "aGVsbG8=",
                "--EncryptionContext",
                r#"{"a":"b"}"#,
            ],
        ))
        .stdout,
    )
    .unwrap();
    let blob = e["CiphertextBlob"].as_str().unwrap().to_string();
    let d1: Value = serde_json::from_slice(
        &ok(sr(
            &client,
            r,
            &[
                "kms",
                "Decrypt",
                "--CiphertextBlob",
                &blob,
                "--EncryptionContext",
                r#"{"a":"b"}"#,
            ],
        ))
        .stdout,
    )
    .unwrap();
    assert_eq!(d1["Plaintext"], "aGVsbG8=");
    // Signing keys live there too.
    let ec: Value = serde_json::from_slice(
        &ok(sr(
            &client,
            r,
            &[
                "--json",
                "key",
                "create",
                "--key-spec",
                "EC_P256",
                "--key-usage",
                "SIGN/VERIFY",
            ],
        ))
        .stdout,
    )
    .unwrap();
    let digest = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    ok(sr(
        &client,
        r,
        &[
            "kms",
            "AsymmetricSign",
            "--KeyId",
            ec["KeyId"].as_str().unwrap(),
            "--Algorithm",
            "ECDSA_SHA_256",
            "--Digest",
            digest,
        ],
    ));
    // The client's store holds handles only: opened without the server it cannot decrypt.
    let none = sr(
        &client,
        None,
        &[
            "kms",
            "Decrypt",
            "--CiphertextBlob",
            &blob,
            "--EncryptionContext",
            r#"{"a":"b"}"#,
        ],
    );
    assert!(!none.status.success());
    // Another secret under the same id; an id the server does not admit.
    let forged = d.join("forged.json");
    let mut f = key.clone();
    f["secret"] = Value::String("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
    std::fs::write(&forged, serde_json::to_vec(&f).unwrap()).unwrap();
    let e1 = err(&sr(
        &client,
        Some((url.as_str(), forged.as_path())),
        &["key", "list"],
    ));
    assert!(e1.contains("Forbidden.WireAuthentication"), "{e1}");
    let other = d.join("other.json");
    ok(sr(
        &server_store,
        None,
        &["backend-client-key", "--out", other.to_str().unwrap()],
    ));
    let e2 = err(&sr(
        &client,
        Some((url.as_str(), other.as_path())),
        &["key", "list"],
    ));
    assert!(e2.contains("InvalidAccessKeyId.NotFound"), "{e2}");
    // A missing key file is a usage error, not a silent version-1 connection.
    let e3 = err(&sr(
        &client,
        Some((url.as_str(), d.join("nope.json").as_path())),
        &["key", "list"],
    ));
    assert!(e3.contains("STRONGROOM_REMOTE_CLIENT_KEY_FILE"), "{e3}");
    // The server stopped: a clear backend error.
    server.kill().unwrap();
    server.wait().unwrap();
    let e4 = err(&sr(&client, r, &["key", "list"]));
    assert!(e4.contains("BackendUnavailable"), "{e4}");
    // Restarted on the same store and clients file: the client's keys work again.
    let (mut server, url) = serve(&server_store, &clients);
    let r = Some((url.as_str(), key_file.as_path()));
    let d2: Value = serde_json::from_slice(
        &ok(sr(
            &client,
            r,
            &[
                "kms",
                "Decrypt",
                "--CiphertextBlob",
                &blob,
                "--EncryptionContext",
                r#"{"a":"b"}"#,
            ],
        ))
        .stdout,
    )
    .unwrap();
    assert_eq!(d2["Plaintext"], "aGVsbG8=");
    server.kill().unwrap();
    server.wait().unwrap();
    // A clients file that admits nobody is refused at start.
    std::fs::write(&clients, b"[]").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args([
            "--store",
            server_store.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--backend-clients",
            clients.to_str().unwrap(),
        ])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("admits no client"));
}
