//! `strongroom ram` and `strongroom audit`, as a user runs them: principals acting
//! through their AccessKeys, the trail beside the store verified with only the public
//! key, tampering found, lookups, rotation, and no acknowledged management event lost
//! to a SIGKILL.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn sr_env(store: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strongroom"));
    c.arg("--store")
        .arg(store)
        .args(args)
        .env("STRONGROOM_PASSPHRASE", "pw");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn sr(store: &Path, args: &[&str]) -> Output {
    sr_env(store, args, &[])
}

fn ok_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn code(o: &Output) -> String {
    assert!(!o.status.success());
    let v: Value = serde_json::from_slice(&o.stderr).unwrap();
    v["Code"].as_str().unwrap().to_string()
}

fn trail(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_os_string();
    s.push(".audit");
    PathBuf::from(s)
}

#[test]
fn users_act_through_their_access_keys_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.as_path();
    let key = ok_json(&sr(s, &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ok_json(&sr(s, &["--json", "ram", "create-user", "ingest"]));
    ok_json(&sr(
        s,
        &[
            "--json",
            "ram",
            "create-policy",
            "gdk",
            "--document",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*"}]}"#,
        ],
    ));
    ok_json(&sr(
        s,
        &["--json", "ram", "attach", "gdk", "--user", "ingest"],
    ));
    let ak_file = dir.path().join("ak.json");
    let out = ok_json(&sr(
        s,
        &[
            "--json",
            "ram",
            "create-access-key",
            "ingest",
            "--out",
            ak_file.to_str().unwrap(),
        ],
    ));
    // The secret is in the 0600 file, never on stdout.
    let ak: Value = serde_json::from_slice(&std::fs::read(&ak_file).unwrap()).unwrap();
    let secret = ak["AccessKeySecret"].as_str().unwrap().to_string();
    assert!(!String::from_utf8_lossy(&serde_json::to_vec(&out).unwrap()).contains(&secret));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&ak_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let id = ak["AccessKeyId"].as_str().unwrap().to_string();
    let env = [
        ("STRONGROOM_ACCESS_KEY_ID", id.as_str()),
        ("STRONGROOM_ACCESS_KEY_SECRET", secret.as_str()),
    ];
    let dk = sr_env(
        s,
        &["--json", "kms", "GenerateDataKey", "--KeyId", &key],
        &env,
    );
    assert!(
        dk.status.success(),
        "{}",
        String::from_utf8_lossy(&dk.stderr)
    );
    let denied = sr_env(s, &["--json", "kms", "DisableKey", "--KeyId", &key], &env);
    assert!(!denied.status.success());
    let body: Value = serde_json::from_slice(&denied.stderr).unwrap();
    assert_eq!(body["Code"], "Forbidden.NoPermission");
    let wrong = sr_env(
        s,
        &["--json", "key", "list"],
        &[
            ("STRONGROOM_ACCESS_KEY_ID", &id),
            ("STRONGROOM_ACCESS_KEY_SECRET", "nope"),
        ],
    );
    assert_eq!(code(&wrong), "Forbidden.NoPermission");

    // The trail names who did what; verify needs only the public key.
    let pem = sr(s, &["audit", "public-key"]);
    assert!(pem.status.success());
    let pk = dir.path().join("audit.pem");
    std::fs::write(&pk, &pem.stdout).unwrap();
    let v = ok_json(&sr(
        s,
        &[
            "--json",
            "audit",
            "verify",
            "--public-key",
            pk.to_str().unwrap(),
            "--require-closed",
        ],
    ));
    assert_eq!(v["Intact"], true);
    assert_eq!(v["Closed"], true);
    let denied_events = sr(s, &["audit", "lookup", "--errors", "--principal", "ingest"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&denied_events.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["eventName"], "DisableKey");
    assert_eq!(lines[0]["userIdentity"]["accessKeyId"], id.as_str());
    // No secret of the run is in the trail.
    let text = std::fs::read_to_string(trail(s)).unwrap();
    assert!(!text.contains(&secret));
    assert!(!text.contains(ok_json(&dk)["Plaintext"].as_str().unwrap()));

    // An edited event: verify fails with status 1 and names the line.
    let edited = text.replacen(
        "\"eventName\":\"DisableKey\"",
        "\"eventName\":\"EnableKey\"",
        1,
    );
    std::fs::write(trail(s), edited).unwrap();
    let bad = sr(
        s,
        &["audit", "verify", "--public-key", pk.to_str().unwrap()],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("TAMPERED"));
    std::fs::write(trail(s), &text).unwrap();
    // A tail cut off: intact but not closed; --require-closed says so (status 3).
    let cut: Vec<&str> = text.lines().collect();
    let keep = cut.len() - 1;
    std::fs::write(trail(s), cut[..keep].join("\n") + "\n").unwrap();
    let open = sr(
        s,
        &[
            "audit",
            "verify",
            "--public-key",
            pk.to_str().unwrap(),
            "--require-closed",
        ],
    );
    assert_eq!(
        open.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&open.stdout)
    );
}

#[test]
fn rotation_keeps_one_chain_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.as_path();
    ok_json(&sr(s, &["--json", "key", "create"]));
    ok_json(&sr(s, &["--json", "audit", "level", "all"]));
    let rotated = ok_json(&sr(s, &["--json", "audit", "rotate"]))["RotatedTo"]
        .as_str()
        .unwrap()
        .to_string();
    ok_json(&sr(s, &["--json", "key", "list"]));
    let pem = sr(s, &["audit", "public-key"]).stdout;
    let pk = dir.path().join("pk.pem");
    std::fs::write(&pk, pem).unwrap();
    let t = trail(s);
    let both = sr(
        s,
        &[
            "--json",
            "audit",
            "verify",
            "--public-key",
            pk.to_str().unwrap(),
            "--file",
            &rotated,
            "--file",
            t.to_str().unwrap(),
        ],
    );
    assert_eq!(ok_json(&both)["Intact"], true);
    // Out of order, the chain does not join.
    let swapped = sr(
        s,
        &[
            "--json",
            "audit",
            "verify",
            "--public-key",
            pk.to_str().unwrap(),
            "--file",
            t.to_str().unwrap(),
            "--file",
            &rotated,
        ],
    );
    assert_eq!(swapped.status.code(), Some(1));
    // Export writes events only, as JSON lines; to a file, a private one.
    let out = dir.path().join("events.jsonl");
    assert!(
        sr(s, &["audit", "export", "--out", out.to_str().unwrap()])
            .status
            .success()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let exp = sr(s, &["audit", "export"]);
    for l in String::from_utf8_lossy(&exp.stdout).lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["recordType"], "Event");
    }
}

#[test]
fn bad_policies_are_refused_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.as_path();
    let key = ok_json(&sr(s, &["--json", "key", "create"]))["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        code(&sr(
            s,
            &["--json", "ram", "key-policy", &key, "--document", "{oops"]
        )),
        "InvalidParameter.PolicyDocument"
    );
    assert_eq!(
        code(&sr(
            s,
            &[
                "--json",
                "ram",
                "create-policy",
                "p",
                "--document",
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Fly","Resource":"*"}]}"#
            ]
        )),
        "InvalidParameter.PolicyAction"
    );
    assert_eq!(
        code(&sr(
            s,
            &[
                "--json",
                "ram",
                "key-policy",
                &key,
                "--document",
                r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"kms:*","Resource":"*","Principal":"*"}]}"#
            ]
        )),
        "Forbidden.PolicyLockout"
    );
    assert_eq!(
        code(&sr(s, &["--json", "ram", "delete-user", "ghost"])),
        "EntityNotExist.User"
    );
}

/// SIGKILL while management actions run: every CreateKey the CLI acknowledged (printed
/// its KeyId and exited 0) has its event in the trail, and the chain is intact.
#[cfg(unix)]
#[test]
fn sigkill_loses_no_acknowledged_management_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.as_path();
    ok_json(&sr(s, &["--json", "key", "create"]));
    let acked = dir.path().join("acked");
    let script = format!(
        "while true; do id=$({bin} --store {store} --json key create | grep -o '\"KeyId\": \"[^\"]*\"') && echo \"$id\" >> {acked}; done",
        bin = env!("CARGO_BIN_EXE_strongroom"),
        store = s.display(),
        acked = acked.display()
    );
    for round in 0..3 {
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("STRONGROOM_PASSPHRASE", "pw")
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700 + 300 * round));
        // The whole group, the strongroom in flight included.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
    }
    let acked = std::fs::read_to_string(&acked).unwrap_or_default();
    let ids: Vec<&str> = acked.lines().filter_map(|l| l.split('"').nth(3)).collect();
    assert!(ids.len() >= 3, "too few acknowledged creations: {acked}");
    let text = std::fs::read_to_string(trail(s)).unwrap();
    for id in &ids {
        assert!(
            text.lines()
                .any(|l| l.contains("\"eventName\":\"CreateKey\"")
                    && l.contains(id)
                    && !l.contains("errorCode")),
            "the acknowledged CreateKey of {id} has no event"
        );
    }
    // Whatever a kill cut off mid-record is repaired on the next open, and the chain
    // is whole. (A killed process may hold the store's lock for a moment longer while
    // the kernel tears it down.)
    let t = std::time::Instant::now();
    loop {
        let o = sr(s, &["--json", "key", "list"]);
        if o.status.success() {
            break;
        }
        assert_eq!(code(&o), "Rejected.StoreLocked");
        assert!(t.elapsed().as_secs() < 10, "the store stayed locked");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pem = sr(s, &["audit", "public-key"]).stdout;
    let pk = dir.path().join("pk.pem");
    std::fs::write(&pk, pem).unwrap();
    let v = ok_json(&sr(
        s,
        &[
            "--json",
            "audit",
            "verify",
            "--public-key",
            pk.to_str().unwrap(),
        ],
    ));
    assert_eq!(v["Intact"], true, "{v}");
}

trait GroupExt {
    fn process_group(&mut self, pgid: i32) -> &mut Self;
}

impl GroupExt for Command {
    fn process_group(&mut self, pgid: i32) -> &mut Self {
        std::os::unix::process::CommandExt::process_group(self, pgid)
    }
}
