#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Shell completions and manual pages, generated from the CLI's own definition: every
//! subcommand is in them, bash accepts the script, the pages are roff that `man`
//! renders, and neither needs a store.

use std::process::Command;

fn sr(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(args)
        .env("STRONGROOM_STORE", "/nonexistent/store")
        .env_remove("STRONGROOM_PASSPHRASE")
        .output()
        .unwrap()
}

#[test]
fn completions_for_every_shell_list_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = sr(&["completions", shell]);
        assert!(
            o.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8(o.stdout).unwrap();
        for sub in [
            "backend-client-key",
            "random-password",
            "serve",
            "secret",
            "completions",
        ] {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    // bash takes the script and registers the completion.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strongroom.bash");
    std::fs::write(&file, sr(&["completions", "bash"]).stdout).unwrap();
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p strongroom",
            file.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("-F _strongroom strongroom"));
    // An unknown shell is a usage error (64).
    assert_eq!(sr(&["completions", "tcsh"]).status.code(), Some(64));
}

#[test]
fn man_pages_cover_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    let o = sr(&["--json", "man", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let pages = v["Pages"].as_u64().unwrap();
    assert!(pages > 50, "{pages}");
    for page in [
        "strongroom.1",
        "strongroom-key-create.1",
        "strongroom-serve.1",
        "strongroom-secret-create.1",
    ] {
        let text = std::fs::read_to_string(out.join(page)).unwrap();
        assert!(
            text.contains(".TH strongroom"),
            "{page} is roff with a title"
        );
        assert!(text.contains(".SH SYNOPSIS"), "{page}");
    }
    // serve's page documents its flags.
    let serve = std::fs::read_to_string(out.join("strongroom-serve.1")).unwrap();
    assert!(serve.contains("backend\\-clients"), "flags are in the page");
}
