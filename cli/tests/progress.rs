#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Progress is drawn on a terminal and only there: the binary run under a
//! pseudo-terminal (util-linux `script`) shows a byte bar for large file encryption and
//! decryption and an elapsed-time line for compaction, rekey, backup and restore; the
//! same commands piped, or with `--json` on the terminal, print none of it.

use std::path::Path;
use std::process::{Command, Output};

const PASS: &str = "progress-test";

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Runs the binary on a pseudo-terminal: stdout and stderr both reach the terminal,
/// so the returned text holds everything a user would see.
fn on_tty(store: &Path, args: &[&str]) -> String {
    let mut cmd = vec![
        shell_quote(env!("CARGO_BIN_EXE_strongroom")),
        "--store".into(),
        shell_quote(store.to_str().unwrap()),
    ];
    cmd.extend(args.iter().map(|a| shell_quote(a)));
    let o = Command::new("script")
        .args(["-qec", &cmd.join(" "), "/dev/null"])
        .env("STRONGROOM_PASSPHRASE", PASS)
        .env("STRONGROOM_BACKUP_PASSPHRASE", "backup-pass")
        .output()
        .expect("util-linux `script` runs the binary on a pseudo-terminal");
    let text = String::from_utf8_lossy(&o.stdout).replace('\r', "\n");
    assert!(o.status.success(), "{args:?} on a terminal: {text}");
    text
}

fn piped(store: &Path, args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("STRONGROOM_PASSPHRASE", PASS)
        .env("STRONGROOM_BACKUP_PASSPHRASE", "backup-pass")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn no_progress(text: &str) {
    for word in [
        "encrypting",
        "decrypting",
        "compacting",
        "rekeying",
        "backing up",
        "restoring",
        "MiB/s",
        "done in",
    ] {
        assert!(
            !text.contains(word),
            "progress ({word}) where there must be none: {text}"
        );
    }
}

#[test]
fn progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let o = piped(&store, &["--json", "key", "create"]);
    let key: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let key = key["KeyId"].as_str().unwrap().to_string();
    let input = dir.path().join("big.bin");
    std::fs::write(&input, vec![7u8; 9 << 20]).unwrap();
    let enc = dir.path().join("big.sren");
    let dec = dir.path().join("big.out");
    let (i, e, d) = (
        input.to_str().unwrap(),
        enc.to_str().unwrap(),
        dec.to_str().unwrap(),
    );

    // On a terminal: a bar that reaches 100% for 9 MiB each way.
    let t = on_tty(&store, &["encrypt", "--key", &key, i, e]);
    assert!(
        t.contains("encrypting [#########################] 100%") && t.contains("MiB/s"),
        "{t}"
    );
    let t = on_tty(&store, &["decrypt", e, d]);
    assert!(
        t.contains("decrypting [#########################] 100%"),
        "{t}"
    );
    assert_eq!(std::fs::read(&dec).unwrap(), std::fs::read(&input).unwrap());
    // Store operations: an elapsed-time line, then how long it took.
    for (args, label) in [
        (vec!["store", "compact"], "compacting: done in"),
        (vec!["store", "rekey"], "rekeying: done in"),
        (
            vec!["store", "backup", dir.path().join("b1").to_str().unwrap()],
            "backing up: done in",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(|s| &**s).collect();
        let t = on_tty(&store, &args);
        assert!(t.contains(label), "{args:?}: {t}");
    }
    let restored = dir.path().join("restored");
    let b1 = dir.path().join("b1");
    let t = on_tty(&restored, &["store", "restore", b1.to_str().unwrap()]);
    assert!(t.contains("restoring: done in"), "{t}");

    // --json on the same terminal: JSON only, no progress.
    std::fs::remove_file(&enc).unwrap();
    let t = on_tty(&store, &["--json", "encrypt", "--key", &key, i, e]);
    no_progress(&t);
    let t = on_tty(&store, &["--json", "store", "compact"]);
    no_progress(&t);
    serde_json::from_str::<serde_json::Value>(t.trim()).expect("--json output is JSON alone");

    // Piped: nothing on stderr but what the command itself says.
    std::fs::remove_file(&enc).unwrap();
    for args in [
        vec!["encrypt", "--key", &key, i, e],
        vec!["store", "compact"],
        vec!["store", "rekey"],
        vec!["store", "backup", dir.path().join("b2").to_str().unwrap()],
    ] {
        let o = piped(&store, &args);
        no_progress(&String::from_utf8_lossy(&o.stderr));
        no_progress(&String::from_utf8_lossy(&o.stdout));
    }
}

/// `strongroom … | true`: the reader is gone before anything is printed; the process
/// ends with 141 (as SIGPIPE would end it) and no panic message.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for _ in 0..3 {
        piped(&store, &["key", "create"]);
    }
    let err = dir.path().join("stderr");
    let o = Command::new("sh")
        .args([
            "-c",
            &format!(
                "{} --store {} key list 2>{}; echo \"status=$?\" >&2",
                shell_quote(env!("CARGO_BIN_EXE_strongroom")),
                shell_quote(store.to_str().unwrap()),
                shell_quote(err.to_str().unwrap())
            ),
        ])
        .env("STRONGROOM_PASSPHRASE", PASS)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end at once: the binary's first line meets EPIPE.
    let mut child = o;
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let status = String::from_utf8_lossy(&out.stderr);
    assert!(status.contains("status=141"), "{status}");
}
