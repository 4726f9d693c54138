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
