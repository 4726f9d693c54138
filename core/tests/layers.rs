#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The core's layers import only from below (docs/ARCHITECTURE.md): vocabulary and
//! formats (aead, blob, asym, envelope, context, codec), backends, storage and state
//! never reach up into the KMS logic (`kms`, `service`, `api`).

use std::path::Path;

const LOWER: &[&str] = &[
    "vocab.rs",
    "error.rs",
    "codec.rs",
    "context.rs",
    "secret.rs",
    "aead.rs",
    "blob.rs",
    "asym.rs",
    "asym_rustcrypto.rs",
    "ids.rs",
    "env.rs",
    "time.rs",
    "sync.rs",
    "state.rs",
    "envelope",
    "backend",
    "storage",
];
const UPPER: &[&str] = &[
    "crate::kms",
    "crate::service",
    "crate::api",
    "crate::Kms",
    "crate::Request",
];

fn files(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            files(&e.unwrap().path(), out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_path_buf());
    }
}

#[test]
fn lower_layers_never_import_the_kms_logic() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    for l in LOWER {
        files(&src.join(l), &mut all);
    }
    assert!(all.len() > 15, "found {} files", all.len());
    let mut bad = Vec::new();
    for f in &all {
        for (n, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue; // docs may name the layers above
            }
            if UPPER.iter().any(|u| code.contains(u)) {
                bad.push(format!("{}:{}: {}", f.display(), n + 1, code));
            }
        }
    }
    assert!(bad.is_empty(), "upward imports:\n{}", bad.join("\n"));
}

/// kms.rs is the instance (opening, the write path, the store's own operations, the
/// backends): each family's actions live in its own service file (service/keys.rs,
/// aliases.rs, crypto.rs, …), not beside the Kms struct.
#[test]
fn kms_rs_holds_the_instance_and_no_family_s_actions() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/kms.rs")).unwrap();
    let store_family = [
        "export_image_impl",
        "create_backup_impl",
        "change_root_impl",
        "rekey_store_impl",
        "compact_store_impl",
    ];
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.split("fn ").nth(1).filter(|_| t.contains("fn ")) {
            let name = rest.split(['(', '<']).next().unwrap_or_default();
            if name.ends_with("_impl") && !store_family.contains(&name) {
                bad.push(format!("kms.rs:{}: {t}", n + 1));
            }
        }
        if t.starts_with("pub struct ")
            && !(t.starts_with("pub struct Kms ") || t.starts_with("pub struct KmsOptions "))
        {
            bad.push(format!("kms.rs:{}: {t}", n + 1));
        }
    }
    assert!(
        bad.is_empty(),
        "service code in kms.rs:\n{}",
        bad.join("\n")
    );
    for f in ["keys.rs", "aliases.rs", "crypto.rs"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/service")
            .join(f);
        assert!(
            std::fs::read_to_string(&p).unwrap().contains("impl Kms {"),
            "{f}"
        );
    }
}
