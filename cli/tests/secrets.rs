#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `strongroom secret …` and `strongroom run`, driven as a user would: values from
//! files and stdin, `get` to stdout or a 0600 file, rotation through a command, and
//! no value in any output but `get`'s.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn sr(store: &Path, args: &[&str], input: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("STRONGROOM_PASSPHRASE", "pw")
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(data) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap()
}

fn err_code(o: &Output) -> String {
    assert!(!o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    v["Code"].as_str().unwrap().to_string()
}

const VALUE: &str = "SRLEAK-cli-pa55-W0rd";

#[test]
fn secret_lifecycle_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut outputs = String::new();
    let mut keep = |o: &Output| {
        outputs.push_str(&String::from_utf8_lossy(&o.stdout));
        outputs.push_str(&String::from_utf8_lossy(&o.stderr));
    };
    // From stdin: the trailing newline of `echo` is dropped.
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "create",
            "db/password",
            "--value-file",
            "-",
            "--tag",
            "team=pay",
            "--description",
            "primary db",
        ],
        Some(format!("{VALUE}\n").as_bytes()),
    );
    keep(&o);
    let c = json(&o);
    assert_eq!(c["SecretName"], "db/password");
    assert_eq!(c["VersionId"], "v1");
    let o = sr(&store, &["secret", "get", "db/password"], None);
    assert_eq!(ok(&o), VALUE, "the value alone, as stored");
    // To a file: created 0600, never printed.
    let out = dir.path().join("value.txt");
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "get",
            "db/password",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    keep(&o);
    let meta = json(&o);
    assert!(meta.get("SecretData").is_none());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), VALUE);
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // From a file: a new version becomes current.
    let f = dir.path().join("v2.txt");
    std::fs::write(&f, "second-value").unwrap();
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "put",
            "db/password",
            "--version-id",
            "v2",
            "--value-file",
            f.to_str().unwrap(),
        ],
        None,
    );
    keep(&o);
    assert_eq!(json(&o)["VersionStages"]["VersionStage"][0], "ACSCurrent");
    assert_eq!(
        ok(&sr(&store, &["secret", "get", "db/password"], None)),
        "second-value"
    );
    assert_eq!(
        ok(&sr(
            &store,
            &["secret", "get", "db/password", "--stage", "ACSPrevious"],
            None
        )),
        VALUE
    );
    let o = sr(&store, &["secret", "versions", "db/password"], None);
    keep(&o);
    let text = ok(&o);
    assert!(
        text.contains("v2\t") && text.contains("ACSCurrent"),
        "{text}"
    );
    assert!(
        text.contains("v1\t") && text.contains("ACSPrevious"),
        "{text}"
    );
    // Move ACSCurrent back.
    let o = sr(
        &store,
        &[
            "secret",
            "stage",
            "db/password",
            "ACSCurrent",
            "--from",
            "v2",
            "--to",
            "v1",
        ],
        None,
    );
    keep(&o);
    ok(&o);
    assert_eq!(
        ok(&sr(&store, &["secret", "get", "db/password"], None)),
        VALUE
    );
    // Describe, list, tag, update.
    let o = sr(
        &store,
        &["--json", "secret", "describe", "db/password"],
        None,
    );
    keep(&o);
    let d = json(&o);
    assert_eq!(d["Description"], "primary db");
    assert_eq!(d["Tags"]["Tag"][0]["TagKey"], "team");
    let o = sr(
        &store,
        &[
            "secret",
            "tag",
            "db/password",
            "env=prod",
            "--remove",
            "team",
        ],
        None,
    );
    keep(&o);
    assert_eq!(ok(&o).trim(), "env=prod");
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "list",
            "--filter",
            "TagValue=prod",
            "--tags",
        ],
        None,
    );
    keep(&o);
    assert_eq!(json(&o)["TotalCount"], 1);
    let o = sr(
        &store,
        &["secret", "update", "db/password", "--description", "db"],
        None,
    );
    keep(&o);
    ok(&o);
    // Wrong input: a missing value file is an I/O error; a duplicate name its code.
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "create",
            "x",
            "--value-file",
            "/nonexistent",
        ],
        None,
    );
    assert_eq!(err_code(&o), "Rejected.Io");
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "create",
            "db/password",
            "--value-file",
            "-",
        ],
        Some(b"x"),
    );
    assert_eq!(err_code(&o), "Rejected.ResourceExist");
    // Rotation through a command: create prints the value; a failing test step
    // leaves ACSCurrent where it was.
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "rotate",
            "db/password",
            "--version-id",
            "r1",
            "--rotate-command",
            "if [ \"$STRONGROOM_ROTATION_STEP\" = test ]; then exit 3; fi; echo rotated-$STRONGROOM_VERSION_ID",
        ],
        None,
    );
    assert_eq!(err_code(&o), "Rejected.RotationFailed");
    assert_eq!(
        ok(&sr(&store, &["secret", "get", "db/password"], None)),
        VALUE
    );
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "rotate",
            "db/password",
            "--rotate-command",
            "test \"$STRONGROOM_ROTATION_STEP\" != create || echo never-used",
        ],
        None,
    );
    keep(&o);
    assert_eq!(
        json(&o)["VersionId"],
        "r1",
        "the pending version is finished"
    );
    assert_eq!(
        ok(&sr(&store, &["secret", "get", "db/password"], None)),
        "rotated-r1"
    );
    // The built-in rotator: a random password.
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "rotate",
            "db/password",
            "--version-id",
            "r2",
        ],
        None,
    );
    keep(&o);
    ok(&o);
    assert_eq!(
        ok(&sr(&store, &["secret", "get", "db/password"], None)).len(),
        32
    );
    let o = sr(
        &store,
        &[
            "secret",
            "rotation-policy",
            "db/password",
            "--interval",
            "30d",
        ],
        None,
    );
    keep(&o);
    ok(&o);
    // Delete with a window, restore, force.
    let o = sr(
        &store,
        &[
            "--json",
            "secret",
            "delete",
            "db/password",
            "--recovery-window-days",
            "7",
        ],
        None,
    );
    keep(&o);
    assert!(json(&o)["PlannedDeleteTime"].is_string());
    let o = sr(&store, &["--json", "secret", "get", "db/password"], None);
    assert_eq!(err_code(&o), "Rejected.ResourceInDeleteWindow");
    ok(&sr(&store, &["secret", "restore", "db/password"], None));
    let o = sr(
        &store,
        &["--json", "secret", "delete", "db/password", "--force"],
        None,
    );
    keep(&o);
    ok(&o);
    let o = sr(&store, &["--json", "secret", "get", "db/password"], None);
    assert_eq!(err_code(&o), "Forbidden.ResourceNotFound");
    // `strongroom kms` reaches the same actions with Alibaba's parameters.
    let o = sr(
        &store,
        &[
            "kms",
            "CreateSecret",
            "--SecretName",
            "k",
            "--VersionId",
            "1",
            "--SecretData",
            "kms-verb",
        ],
        None,
    );
    ok(&o);
    let o = sr(&store, &["kms", "ListSecrets", "--pager"], None);
    assert_eq!(json(&o)["TotalCount"], 1);
    // Nothing but `get` ever printed a value.
    assert!(!outputs.contains(VALUE), "{outputs}");
    assert!(!outputs.contains("rotated-r1"), "{outputs}");
}

#[test]
fn run_puts_secrets_in_the_environment_and_passes_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ok(&sr(
        &store,
        &["secret", "create", "api/token", "--value-file", "-"],
        Some(b"tok-123"),
    ));
    ok(&sr(
        &store,
        &["secret", "create", "bin", "--value-file", "-", "--binary"],
        Some(&[0xff, 0x00, 0x01]),
    ));
    let o = sr(
        &store,
        &[
            "run",
            "--secret",
            "TOKEN=api/token",
            "--secret",
            "BIN=bin:ACSCurrent",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$TOKEN\" \"$BIN\"; exit 7",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "tok-123|/wAB");
    // The store is closed before the command runs: it can use the store itself.
    let o = sr(
        &store,
        &[
            "run",
            "--secret",
            "T=api/token",
            "--",
            env!("CARGO_BIN_EXE_strongroom"),
            "--store",
            store.to_str().unwrap(),
            "secret",
            "get",
            "api/token",
        ],
        None,
    );
    assert_eq!(ok(&o), "tok-123");
    // A missing secret: nothing runs.
    let marker = dir.path().join("ran");
    let o = sr(
        &store,
        &[
            "--json",
            "run",
            "--secret",
            "X=nope",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(err_code(&o), "Forbidden.ResourceNotFound");
    assert!(!marker.exists());
    // Signals reach the command: it is strongroom's process itself (exec).
    let mut child = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("--store")
        .arg(&store)
        .args(["run", "--secret", "T=api/token", "--", "sleep", "30"])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .spawn()
        .unwrap();
    // Wait until the process is `sleep` (exec done), so the signal cannot land on
    // strongroom before it.
    let comm = format!("/proc/{}/comm", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&comm).unwrap_or_default().trim() != "sleep" {
        assert!(std::time::Instant::now() < deadline, "never became sleep");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "{status:?}");
}

/// Issue #15 items 3 and 6: `key sign` prints the signature alone; `--plaintext-out -`
/// is stdout, not a file named `-`; `lab --store` is refused, not ignored.
#[test]
fn sign_prints_one_line_plaintext_out_dash_and_lab_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let k: serde_json::Value = serde_json::from_str(&ok(&sr(
        &store,
        &[
            "--json",
            "key",
            "create",
            "--key-spec",
            "EC_P256",
            "--key-usage",
            "SIGN/VERIFY",
        ],
        None,
    )))
    .unwrap();
    let id = k["KeyId"].as_str().unwrap();
    let msg = dir.path().join("msg");
    std::fs::write(&msg, b"release").unwrap();
    let sig = ok(&sr(
        &store,
        &[
            "key",
            "sign",
            id,
            "--algorithm",
            "ECDSA_SHA_256",
            "--message",
            msg.to_str().unwrap(),
        ],
        None,
    ));
    assert_eq!(sig.lines().count(), 1, "{sig}");
    let o = sr(
        &store,
        &[
            "key",
            "verify",
            id,
            "--algorithm",
            "ECDSA_SHA_256",
            "--message",
            msg.to_str().unwrap(),
            "--signature",
            sig.trim(),
        ],
        None,
    );
    ok(&o);
    // --plaintext-out -: 32 raw bytes on stdout, the metadata on stderr, no file `-`.
    let aes: serde_json::Value =
        serde_json::from_str(&ok(&sr(&store, &["--json", "key", "create"], None))).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .current_dir(dir.path())
        .arg("--store")
        .arg(&store)
        .args([
            "data-key",
            "generate",
            "--key",
            aes["KeyId"].as_str().unwrap(),
            "--plaintext-out",
            "-",
        ])
        .env("STRONGROOM_PASSPHRASE", "pw")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout.len(), 32);
    assert!(String::from_utf8_lossy(&o.stderr).contains("CiphertextBlob"));
    assert!(!dir.path().join("-").exists());
    // lab makes its own store: an explicit --store is refused with a pointer to --dir.
    let o = sr(&store, &["--json", "lab"], None);
    assert_eq!(err_code(&o), "InvalidParameter");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--dir"));
}

/// Secret values live in `<store>.values`; `store check` holds that file against the
/// store (there, with its header, long enough for every value) and says what it
/// holds; `store compact` leaves it as it is.
#[test]
fn store_check_covers_the_values_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let values = dir.path().join("store.values");
    json(&sr(&store, &["--json", "store", "init"], None));
    let c = json(&sr(&store, &["--json", "store", "check"], None));
    assert_eq!(c["ValuesFile"]["Values"], 0, "{c}");
    json(&sr(
        &store,
        &["--json", "secret", "create", "a", "--value-file", "-"],
        Some(b"first value"),
    ));
    json(&sr(
        &store,
        &[
            "--json",
            "secret",
            "put",
            "a",
            "--version-id",
            "v2",
            "--value-file",
            "-",
        ],
        Some(b"second"),
    ));
    let c = json(&sr(&store, &["--json", "store", "check"], None));
    assert_eq!(c["ValuesFile"]["Values"], 2, "{c}");
    assert_eq!(c["ValuesFile"]["LiveBytes"], 11 + 16 + 6 + 16);
    assert_eq!(c["ValuesFile"]["Bytes"], 8 + 11 + 16 + 6 + 16);
    assert_eq!(
        std::fs::metadata(&values).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let whole = std::fs::read(&values).unwrap();
    // Cut short: the last value is not all there.
    std::fs::write(&values, &whole[..whole.len() - 1]).unwrap();
    assert_eq!(
        err_code(&sr(&store, &["--json", "store", "check"], None)),
        "Rejected.StoreCorrupted"
    );
    // Missing.
    std::fs::remove_file(&values).unwrap();
    let o = sr(&store, &["--json", "store", "check"], None);
    assert_eq!(err_code(&o), "Rejected.StoreCorrupted");
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
    // A flipped bit that `store check` (no CMK) cannot see: `store verify` opens every
    // value and names the version, exit status 1, no value printed.
    let mut flipped = whole.clone();
    flipped[8 + 3] ^= 1;
    std::fs::write(&values, &flipped).unwrap();
    json(&sr(&store, &["--json", "store", "check"], None));
    let o = sr(&store, &["--json", "store", "verify"], None);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["SecretVersions"].as_u64(), v["ValuesOpened"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(v["Problems"][0]["SecretName"], "a");
    assert_eq!(v["Problems"][0]["VersionId"], "v1");
    assert_eq!(v["Problems"][0]["Code"], "Rejected.StoreCorrupted");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("first value"));
    // Back: whole again, and the values read.
    std::fs::write(&values, &whole).unwrap();
    json(&sr(&store, &["--json", "store", "check"], None));
    let v = json(&sr(&store, &["--json", "store", "verify"], None));
    assert_eq!(
        (
            v["ValuesOpened"].as_u64(),
            v["Problems"].as_array().map(Vec::len)
        ),
        (Some(2), Some(0))
    );
    // Every key version was probed too (the secrets' CMK here), and answered.
    assert!(v["KeyVersions"].as_u64().unwrap() >= 1, "{v}");
    assert_eq!(v["KeyVersions"], v["KeyVersionsVerified"]);
    assert_eq!(v["KeyProblems"], serde_json::json!([]));
    assert_eq!(ok(&sr(&store, &["secret", "get", "a"], None)), "second");
    // A secret that goes leaves dead bytes; `store compact` rewrites the values file
    // as the next generation (store.values.1) and `store check` holds that one.
    json(&sr(
        &store,
        &["--json", "secret", "create", "b", "--value-file", "-"],
        Some(b"to be deleted"),
    ));
    json(&sr(
        &store,
        &["--json", "secret", "delete", "b", "--force"],
        None,
    ));
    assert_eq!(
        std::fs::metadata(&values).unwrap().len(),
        8 + 11 + 16 + 6 + 16 + 13 + 16
    );
    let c = json(&sr(&store, &["--json", "store", "check"], None));
    assert_eq!(c["ValuesFile"]["DeadBytes"], 13 + 16, "{c}");
    sr(&store, &["store", "compact"], None);
    assert!(!values.exists());
    let c = json(&sr(&store, &["--json", "store", "check"], None));
    assert_eq!(c["ValuesFile"]["Generation"], 1, "{c}");
    assert_eq!(c["ValuesFile"]["DeadBytes"], 0, "{c}");
    assert_eq!(c["ValuesFile"]["Bytes"], 8 + 11 + 16 + 6 + 16, "{c}");
    assert!(
        c["ValuesFile"]["Path"]
            .as_str()
            .unwrap()
            .ends_with("store.values.1")
    );
    assert_eq!(
        ok(&sr(
            &store,
            &["secret", "get", "a", "--version-id", "v1"],
            None
        )),
        "first value"
    );
}
