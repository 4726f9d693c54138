//! A SoftHSM2 token for tests (feature `testing`): the pkcs11 crate's own tests and the
//! core's backend conformance suite (core/tests/kms.rs) run on it.
//!
//! SoftHSM2 reads the file SOFTHSM2_CONF names when a process loads it. Setting the
//! variable in-process needs unsafe code (denied here), so cargo sets it for every
//! test process (`.cargo/config.toml`: `target/softhsm2.conf`) and this writes the
//! run's configuration there, once, before the module is loaded.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use strongroom::SecretBytes;

use crate::Pkcs11Config;

/// Debian's SoftHSM2 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The user PIN of every test token.
pub const PIN: &str = "1234";
/// The tokens made for a test run.
pub const LABELS: &[&str] = &[
    "strongroom-test",
    "strongroom-deletion",
    "strongroom-conformance",
    "strongroom-mixed",
    "strongroom-byok",
    "strongroom-byok-rsa",
];

fn setup() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        assert!(
            std::path::Path::new(MODULE).exists(),
            "{MODULE} is missing: install Debian's softhsm2 (scripts/ci/setup.sh does)"
        );
        let dir = std::env::temp_dir().join(format!("strongroom-softhsm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tokens")).expect("a token directory");
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("tokens").display()
            ),
        )
        .expect("the SoftHSM2 configuration");
        let path = std::env::var("SOFTHSM2_CONF")
            .expect("SOFTHSM2_CONF is set by .cargo/config.toml for cargo test");
        if let Some(d) = std::path::Path::new(&path).parent() {
            std::fs::create_dir_all(d).expect("SOFTHSM2_CONF's directory");
        }
        std::fs::copy(&conf, &path).expect("SOFTHSM2_CONF written");
        for label in LABELS {
            let out = Command::new("softhsm2-util")
                .args([
                    "--init-token",
                    "--free",
                    "--label",
                    label,
                    "--pin",
                    PIN,
                    "--so-pin",
                    "5678",
                ])
                .env("SOFTHSM2_CONF", &conf)
                .output()
                .expect("softhsm2-util runs");
            assert!(
                out.status.success(),
                "softhsm2-util --init-token: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir
    })
}

/// The configuration of the test token `label` (one of [`LABELS`]), made on first use.
#[must_use]
pub fn token(label: &str) -> Pkcs11Config {
    setup();
    Pkcs11Config {
        module: MODULE.into(),
        token_label: label.into(),
        pin: SecretBytes::from_slice(PIN.as_bytes()),
        sessions: 2,
    }
}
