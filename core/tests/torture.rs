#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Crash torture: a writer process mutates a file store as fast as it can and prints
//! each mutation once it is acknowledged; this test kills it with SIGKILL at a random
//! moment, reopens the store, and checks that it opens and that every acknowledged
//! mutation is there. The same store is reused across trials, so later writers start
//! from a store recovered after a kill. Compaction is set low, so kills also land in
//! the middle of whole-store rewrites.
//!
//! `STRONGROOM_TORTURE_TRIALS` sets the number of trials (default 20; the long run is
//! `bash scripts/torture.sh`, 1,000 trials).

mod common;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, open_with};
use pollster::block_on;
use strongroom::storage::FileStorage;
use strongroom::{CreateKeyRequest, Tag};

const CHILD: &str = "STRONGROOM_TORTURE_CHILD";
const PASS: &str = "torture";

/// The writer (runs only as the child process this test spawns).
/// The value the writer puts at step `i` (its ACK line names it `val-{i}`): up to
/// 30,000 bytes, so a SIGKILL also lands between a value reaching the values file and
/// the journal record that names it.
fn torture_value(i: u64) -> String {
    let mut v = format!("val-{i}-");
    let len = usize::try_from(i.wrapping_mul(7919) % 30_000).unwrap();
    while v.len() < len {
        v.push_str("0123456789");
    }
    v
}

#[test]
fn torture_writer() {
    let Some(path) = std::env::var_os(CHILD) else {
        return;
    };
    let kms = open_with(
        Backend::Software,
        Arc::new(FileStorage::open(&path).unwrap()),
        PASS,
    )
    .unwrap();
    kms.set_compact_min_bytes(4 * 1024);
    let out = std::io::stdout();
    writeln!(out.lock(), "READY").unwrap();
    let mut last = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    writeln!(out.lock(), "ACK key {last}").unwrap();
    let mut secret = String::new();
    for i in 0u64.. {
        // In every fifth trial a values-file compaction (dead bytes from a deleted
        // secret) early on, so kills land in its copy, its snapshot and its removal
        // of the old file.
        if i == 3 && std::env::var_os("STRONGROOM_TORTURE_COMPACT").is_some_and(|v| v == "1") {
            let junk = format!("junk{}-{i}", std::process::id());
            block_on(kms.create_secret(strongroom::CreateSecretRequest {
                secret_name: junk.clone(),
                version_id: "v1".into(),
                secret_data: strongroom::SecretBytes::from_slice(torture_value(i).as_bytes()),
                ..Default::default()
            }))
            .unwrap();
            block_on(kms.delete_secret(strongroom::DeleteSecretRequest {
                secret_name: junk,
                force_delete_without_recovery: true,
                ..Default::default()
            }))
            .unwrap();
            block_on(kms.compact_store()).unwrap();
            writeln!(out.lock(), "ACK compacted").unwrap();
        }
        let line = match i % 7 {
            4 => {
                secret = format!("s{}-{i}", std::process::id());
                block_on(kms.create_secret(strongroom::CreateSecretRequest {
                    secret_name: secret.clone(),
                    version_id: "v1".into(),
                    secret_data: strongroom::SecretBytes::from_slice(torture_value(i).as_bytes()),
                    ..Default::default()
                }))
                .unwrap();
                format!("secret {secret} v1 val-{i}")
            }
            5 => {
                let vid = format!("v{i}");
                block_on(kms.put_secret_value(strongroom::PutSecretValueRequest {
                    secret_name: secret.clone(),
                    version_id: vid.clone(),
                    secret_data: strongroom::SecretBytes::from_slice(torture_value(i).as_bytes()),
                    ..Default::default()
                }))
                .unwrap();
                format!("secret {secret} {vid} val-{i}")
            }
            6 => {
                let vid = format!("r{i}");
                block_on(kms.rotate_secret(strongroom::RotateSecretRequest {
                    secret_name: secret.clone(),
                    version_id: Some(vid.clone()),
                }))
                .unwrap();
                format!("rotated {secret} {vid}")
            }
            0 | 1 => {
                last = block_on(kms.create_key(CreateKeyRequest::default()))
                    .unwrap()
                    .key_id;
                format!("key {last}")
            }
            2 => {
                let alias = format!("alias/t{}-{i}", std::process::id());
                block_on(kms.create_alias(&alias, &last)).unwrap();
                format!("alias {alias} {last}")
            }
            _ => {
                let tag = format!("t{i}");
                block_on(kms.tag_resource(
                    &last,
                    &[Tag {
                        tag_key: tag.clone(),
                        tag_value: "v".into(),
                    }],
                ))
                .unwrap();
                format!("tag {last} {tag}")
            }
        };
        let mut o = out.lock();
        writeln!(o, "ACK {line}").unwrap();
        o.flush().unwrap();
    }
}

fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

#[test]
fn kill_9_never_loses_an_acknowledged_mutation() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let trials: u32 = std::env::var("STRONGROOM_TORTURE_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = std::env::temp_dir().join(format!("strongroom-torture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.srs");
    let exe = std::env::current_exe().unwrap();
    let started = Instant::now();
    let (mut acked, mut torn, mut max_gen, mut compactions) = (0usize, 0u32, 0u64, 0u32);
    let mut keys_expected: Vec<String> = Vec::new();
    let mut aliases_expected: BTreeMap<String, String> = BTreeMap::new();
    let mut tags_expected: Vec<(String, String)> = Vec::new();
    let mut secrets_expected: Vec<(String, String, Option<String>)> = Vec::new();
    for trial in 0..trials {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "torture_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .env(
                "STRONGROOM_TORTURE_COMPACT",
                if trial % 5 == 2 { "1" } else { "" },
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        // Every tenth trial kills during start-up (open, replay, recovery); the others
        // wait until the writer is ready and kill it 0-20 ms into its mutations.
        if trial % 10 != 0 {
            let deadline = Instant::now() + Duration::from_secs(30);
            while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                if l.ends_with("READY") {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_micros(random() % 20_000));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let lines: Vec<String> = rx
            .try_iter()
            .filter_map(|l| l.strip_prefix("ACK ").map(str::to_string))
            .collect();
        acked += lines.len();
        let mut new_keys = Vec::new();
        let mut new_aliases = Vec::new();
        let mut new_tags = Vec::new();
        let mut new_secrets = Vec::new();
        for l in &lines {
            let parts: Vec<&str> = l.split(' ').collect();
            match parts[0] {
                "key" => new_keys.push(parts[1].to_string()),
                "alias" => new_aliases.push((parts[1].to_string(), parts[2].to_string())),
                "tag" => new_tags.push((parts[1].to_string(), parts[2].to_string())),
                "secret" => new_secrets.push((
                    parts[1].to_string(),
                    parts[2].to_string(),
                    Some(parts[3].to_string()),
                )),
                "rotated" => new_secrets.push((parts[1].to_string(), parts[2].to_string(), None)),
                "compacted" => compactions += 1,
                _ => panic!("{l}"),
            }
        }
        keys_expected.extend(new_keys.iter().cloned());
        aliases_expected.extend(new_aliases.iter().cloned());
        tags_expected.extend(new_tags.iter().cloned());
        secrets_expected.extend(new_secrets.iter().cloned());
        if !path.exists() {
            assert!(
                lines.is_empty(),
                "trial {trial}: acknowledged, but no store file"
            );
            continue;
        }
        let kms = match open_with(
            Backend::Software,
            Arc::new(FileStorage::open(&path).unwrap()),
            PASS,
        ) {
            Ok(k) => k,
            Err(e) => panic!(
                "trial {trial}: the store does not open after SIGKILL: {} {e}",
                e.code()
            ),
        };
        // One values file beside the store: opening removed what a compaction the kill
        // interrupted left behind.
        let values_files = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                let base = path.file_name().unwrap().to_string_lossy().into_owned();
                n.strip_prefix(&base)
                    .and_then(|r| r.strip_prefix(".values"))
                    .is_some_and(|r| {
                        r.is_empty()
                            || r.strip_prefix('.')
                                .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
                    })
            })
            .count();
        assert!(
            values_files <= 1,
            "trial {trial}: {values_files} values files"
        );
        let info = kms.store_info().unwrap();
        torn += u32::from(info.torn_bytes > 0);
        max_gen = max_gen.max(info.generation);
        // Every trial: the key count, and this trial's acknowledged mutations. Every
        // 50th trial and the last: everything acknowledged so far.
        let total = block_on(kms.list_keys(strongroom::ListKeysRequest::default()))
            .unwrap()
            .total_count;
        // At least every acknowledged key: a key can reach the disk and the writer die
        // before it says so (durable, never acknowledged).
        assert!(
            total >= keys_expected.len() as u64,
            "trial {trial}: {total} keys"
        );
        let full = trial % 50 == 49 || trial + 1 == trials;
        let (keys, aliases, tags, secrets): (Vec<_>, Vec<_>, Vec<_>, Vec<_>) = if full {
            (
                keys_expected.clone(),
                aliases_expected.clone().into_iter().collect(),
                tags_expected.clone(),
                secrets_expected.clone(),
            )
        } else {
            (new_keys, new_aliases, new_tags, new_secrets)
        };
        // Every acknowledged secret version is there with its value; a rotation
        // acknowledged is finished (never left pending).
        for (name, vid, value) in &secrets {
            let got = block_on(kms.get_secret_value(strongroom::GetSecretValueRequest {
                secret_name: name.clone(),
                version_id: Some(vid.clone()),
                ..Default::default()
            }))
            .unwrap_or_else(|e| panic!("trial {trial}: acknowledged {name} {vid} lost: {e}"));
            if let Some(v) = value {
                let i: u64 = v.strip_prefix("val-").unwrap().parse().unwrap();
                assert_eq!(
                    got.secret_data.expose(),
                    torture_value(i).as_bytes(),
                    "trial {trial}: {name} {vid}"
                );
            } else {
                assert!(
                    !got.version_stages
                        .iter()
                        .any(|s| s == strongroom::ACS_PENDING),
                    "trial {trial}: acknowledged rotation {name} {vid} left pending"
                );
            }
        }
        // No secret is ever half-rotated: exactly one ACSCurrent, never on a pending
        // version.
        let listed = block_on(kms.list_secrets(strongroom::ListSecretsRequest {
            page_size: Some(100),
            ..Default::default()
        }))
        .unwrap();
        for s in listed.secrets.iter().rev().take(5) {
            let vs = block_on(kms.list_secret_version_ids(
                strongroom::ListSecretVersionIdsRequest {
                    secret_name: s.secret_name.clone(),
                    include_deprecated: true,
                    page_size: Some(100),
                    ..Default::default()
                },
            ))
            .unwrap();
            let current: Vec<_> = vs
                .version_ids
                .iter()
                .filter(|v| {
                    v.version_stages
                        .iter()
                        .any(|x| x == strongroom::ACS_CURRENT)
                })
                .collect();
            assert_eq!(
                current.len(),
                1,
                "trial {trial}: {} has {} ACSCurrent",
                s.secret_name,
                current.len()
            );
            assert!(
                !current[0]
                    .version_stages
                    .iter()
                    .any(|x| x == strongroom::ACS_PENDING),
                "trial {trial}: {} current and pending at once",
                s.secret_name
            );
        }
        for id in &keys {
            block_on(kms.describe_key(id))
                .unwrap_or_else(|e| panic!("trial {trial}: acknowledged key {id} lost: {e}"));
        }
        for (alias, id) in &aliases {
            let got = block_on(kms.describe_key(alias))
                .unwrap_or_else(|e| panic!("trial {trial}: acknowledged {alias} lost: {e}"));
            assert_eq!(&got.key_id, id);
        }
        for (id, tag) in &tags {
            let t = block_on(kms.list_resource_tags(id)).unwrap();
            assert!(
                t.iter().any(|t| &t.tag_key == tag),
                "trial {trial}: acknowledged tag {tag} on {id} lost"
            );
        }
    }
    println!(
        "torture: {trials} SIGKILL trials in {:.1} s, {acked} acknowledged mutations all present, \
         {torn} opens found a torn tail, store compacted {max_gen} times ({compactions} values-file compactions acknowledged), {} keys, {} secret versions",
        started.elapsed().as_secs_f64(),
        keys_expected.len(),
        secrets_expected.len()
    );
    std::fs::remove_dir_all(dir).unwrap();
}
