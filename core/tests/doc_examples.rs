#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Every public call of the `Kms` API (and of `SecretCache`, `BackendServer::with_store`
//! and `Kms::call`) has an `# Examples` section in its rustdoc: a one-line example that
//! the doc tests compile (and run, unless marked `no_run`: store-file, HSM and
//! asymmetric calls that the default features cannot run).

const FILES: &[&str] = &[
    "src/kms.rs",
    "src/api/dispatch.rs",
    "src/service/aliases.rs",
    "src/service/asymmetric.rs",
    "src/service/audit.rs",
    "src/service/backend_server.rs",
    "src/service/connect.rs",
    "src/service/crypto.rs",
    "src/service/envelope.rs",
    "src/service/envelope_io.rs",
    "src/service/import.rs",
    "src/service/keys.rs",
    "src/service/ram.rs",
    "src/service/secret_cache.rs",
    "src/service/secrets.rs",
];

#[test]
fn every_public_call_has_an_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    let mut total = 0;
    for f in FILES {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            // Methods of impl blocks (four spaces in), not private or crate-only ones.
            let indent = l.len() - t.len();
            if indent != 4 || !(t.starts_with("pub fn ") || t.starts_with("pub async fn ")) {
                continue;
            }
            total += 1;
            let mut j = i;
            while j > 0 && lines[j - 1].trim_start().starts_with("#[") {
                j -= 1;
            }
            let mut k = j;
            while k > 0 && lines[k - 1].trim_start().starts_with("///") {
                k -= 1;
            }
            if !lines[k..j].iter().any(|d| d.contains("/// # Examples")) {
                missing.push(format!("{f}:{}: {}", i + 1, t));
            }
        }
    }
    assert!(
        total > 100,
        "only {total} public calls found: is the list of files right?"
    );
    assert!(
        missing.is_empty(),
        "no # Examples on:\n{}",
        missing.join("\n")
    );
}
