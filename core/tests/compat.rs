#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    missing_docs
)]
//! CHANGELOG.md's compatibility table against this build: what each format is written
//! as (the code's constants), what is read (the shared vectors open, and carry those
//! versions), and that each row names a docs/FORMAT.md section and vector files that
//! exist. A new format, or a new version of one, fails here until the table says so.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

struct Row {
    format: String,
    section: String,
    writes: u8,
    reads: BTreeSet<u8>,
    vectors: Vec<String>,
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn table() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("CHANGELOG.md")).unwrap();
    let start = text
        .find("| Format | docs/FORMAT.md section | Writes | Reads | Vectors |")
        .expect("CHANGELOG.md has the compatibility table");
    text[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 5, "{l}");
            // "2 (1 when …)" reads 2; the parenthesis is a note.
            let reads = cells[3]
                .split('(')
                .next()
                .unwrap()
                .split(',')
                .map(|v| v.trim().parse::<u8>().unwrap())
                .collect();
            Row {
                format: cells[0].into(),
                section: cells[1].into(),
                writes: cells[2].parse().unwrap(),
                reads,
                vectors: cells[4]
                    .split(',')
                    .map(|v| v.trim().split(' ').next().unwrap().to_string())
                    .collect(),
            }
        })
        .collect()
}

fn json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join(path)).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// The store versions the vectors of `row` carry (each opened with its passphrase).
fn store_versions(row: &Row) -> BTreeSet<u8> {
    row.vectors
        .iter()
        .map(|v| {
            let j = json(v);
            let (info, _, _) = strongroom::storage::inspect(
                &hex(j.get("image").unwrap_or(&j["store"]).as_str().unwrap()),
                &strongroom::RootSecret::passphrase(j["passphrase"].as_str().unwrap()),
            )
            .unwrap_or_else(|e| panic!("{v} does not open: {e}"));
            info.format_version
        })
        .collect()
}

#[test]
fn the_changelog_states_what_this_build_writes_and_reads() {
    let format_md = std::fs::read_to_string(root().join("docs/FORMAT.md")).unwrap();
    let rows = table();
    assert!(rows.len() >= 5);
    for row in &rows {
        assert!(
            format_md
                .lines()
                .any(|l| l.starts_with('#') && l.contains(&row.section)),
            "docs/FORMAT.md has no section {:?}",
            row.section
        );
        assert!(
            row.reads.contains(&row.writes),
            "{}: reads what it writes",
            row.format
        );
        for v in row.vectors.iter().filter(|v| v.starts_with("tests/")) {
            assert!(root().join(v).exists(), "{v} is missing");
        }
        match row.format.as_str() {
            "Ciphertext blob" => {
                assert_eq!(row.writes, strongroom::blob::BLOB_VERSION);
                // Every vector blob carries a version this build reads.
                let seen: BTreeSet<u8> = json(&row.vectors[0])["blobs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| hex(b["blob"].as_str().unwrap())[0])
                    .collect();
                assert_eq!(seen, row.reads);
            }
            "Envelope message" => {
                assert_eq!(row.writes, strongroom::envelope::ENVELOPE_VERSION);
                let seen: BTreeSet<u8> = json(&row.vectors[0])["data_key"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| hex(m["message"].as_str().unwrap())[4])
                    .collect();
                assert_eq!(seen, row.reads);
            }
            "Store" => {
                assert_eq!(row.writes, strongroom::storage::STORE_VERSION);
                assert_eq!(
                    row.reads,
                    strongroom::storage::STORE_VERSIONS_READ
                        .iter()
                        .copied()
                        .collect()
                );
                // One vector for each version read.
                assert_eq!(store_versions(row), row.reads);
            }
            "Secrets in the store" => {
                assert!(!store_versions(row).is_empty());
                // Layout 1 (values inline) and layout 2 (values-file spans), each with
                // its vector.
                assert_eq!(row.reads, BTreeSet::from([1, 2]));
                assert_eq!(row.vectors.len(), 2);
            }
            "Values file" => {
                let values = hex(json(&row.vectors[0])["values"].as_str().unwrap());
                assert_eq!(&values[..8], strongroom::storage::VALUES_MAGIC);
                assert_eq!(row.writes, strongroom::storage::VALUES_MAGIC[4]);
                assert_eq!(row.reads, BTreeSet::from([values[4]]));
            }
            "Secret cache entry" => {
                use strongroom::storage::secret_cache_file as scf;
                assert_eq!(row.writes, scf::VERSION);
                let j = json(&row.vectors[0]);
                let s = |k: &str| j[k].as_str().unwrap().to_string();
                let file = hex(&s("file"));
                assert_eq!(
                    row.reads,
                    BTreeSet::from([file[4]]),
                    "the vector's version byte"
                );
                let content =
                    scf::open(&hex(&s("key")), &s("secret_name"), &s("stage"), &file).unwrap();
                assert_eq!(content.expose(), s("content").as_bytes());
                assert_eq!(
                    scf::file_name(&s("secret_name"), &s("stage")),
                    s("file_name")
                );
                // Bound to its secret and stage, and to its key.
                assert!(scf::open(&hex(&s("key")), "other", &s("stage"), &file).is_err());
                assert!(
                    scf::open(&hex(&s("key")), &s("secret_name"), "ACSPrevious", &file).is_err()
                );
                assert!(scf::open(&[0; 32], &s("secret_name"), &s("stage"), &file).is_err());
            }
            "Remote-backend wire protocol" => {
                assert_eq!(row.writes, strongroom::backend::remote::WIRE_VERSION);
                assert!(
                    row.reads
                        .contains(&strongroom::backend::remote::WIRE_VERSION)
                );
            }
            other => panic!("CHANGELOG.md names a format this test does not check: {other}"),
        }
    }
}
