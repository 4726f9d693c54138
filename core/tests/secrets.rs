#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Secrets Manager: Alibaba's rules for names, versions, stages, limits, deletion with
//! a recovery window, the CMK's part, rotation (built-in and a plugged-in rotator,
//! failures leave ACSCurrent untouched), the wire forms, and that no value leaks into
//! Debug output, errors or other actions' answers.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

mod common;

use pollster::block_on;
use serde_json::{Value, json};
use strongroom::api::{Action, Caller, Family, Request, Target};
use strongroom::env::OsEntropy;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{
    ACS_CURRENT, ACS_PENDING, ACS_PREVIOUS, BoxFuture, CreateKeyRequest, CreateSecretRequest,
    DEFAULT_SECRET_KEY_ALIAS, DeleteSecretRequest, DescribeSecretRequest, Env,
    GetSecretValueRequest, KeyFilter, Kms, KmsOptions, ListSecretVersionIdsRequest,
    ListSecretsRequest, PutSecretValueRequest, RestoreSecretRequest, RootSecret,
    RotateSecretRequest, RotationStep, SecretBytes, SecretCache, SecretDataType, SecretRotator,
    SecretType, Tag, UpdateSecretRequest, UpdateSecretRotationPolicyRequest,
    UpdateSecretVersionStageRequest,
};

const DAY: u64 = 86_400_000;
const T0: u64 = 1_795_392_000_000;

fn open(clock: &Arc<ManualClock>, storage: &Arc<MemoryStorage>) -> Kms {
    block_on(Kms::open(KmsOptions {
        env: Env::new(Arc::new(OsEntropy), clock.clone()),
        storage: storage.clone(),
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap()
}

/// The storage these tests run on: values inside the store's records, or — with
/// `SR_TEST_VALUES_FILE=1` (scripts/ci/rust.sh runs this file both ways) — in a values
/// file beside it, as the file store keeps them.
fn storage() -> Arc<MemoryStorage> {
    Arc::new(if std::env::var_os("SR_TEST_VALUES_FILE").is_some() {
        MemoryStorage::with_values_file()
    } else {
        MemoryStorage::new()
    })
}

fn fresh() -> (Kms, Arc<ManualClock>, Arc<MemoryStorage>) {
    let clock = Arc::new(ManualClock::new(T0));
    let storage = storage();
    (open(&clock, &storage), clock, storage)
}

fn create(kms: &Kms, name: &str, value: &str) {
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: name.into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(value.as_bytes()),
        ..Default::default()
    }))
    .unwrap();
}

fn get(kms: &Kms, name: &str) -> String {
    let r = block_on(kms.get_secret_value(GetSecretValueRequest {
        secret_name: name.into(),
        ..Default::default()
    }))
    .unwrap();
    String::from_utf8(r.secret_data.expose().to_vec()).unwrap()
}

fn get_err(kms: &Kms, req: GetSecretValueRequest) -> String {
    block_on(kms.get_secret_value(req))
        .unwrap_err()
        .code()
        .to_string()
}

fn put(kms: &Kms, name: &str, vid: &str, value: &str) -> strongroom::Result<Vec<String>> {
    block_on(kms.put_secret_value(PutSecretValueRequest {
        secret_name: name.into(),
        version_id: vid.into(),
        secret_data: SecretBytes::from_slice(value.as_bytes()),
        ..Default::default()
    }))
    .map(|r| r.version_stages)
}

fn stages(kms: &Kms, name: &str) -> Vec<(String, Vec<String>)> {
    block_on(kms.list_secret_version_ids(ListSecretVersionIdsRequest {
        secret_name: name.into(),
        include_deprecated: true,
        page_size: Some(100),
        ..Default::default()
    }))
    .unwrap()
    .version_ids
    .into_iter()
    .map(|v| (v.version_id, v.version_stages))
    .collect()
}

#[test]
fn the_table_knows_every_secret_action() {
    for (name, mutates) in [
        ("CreateSecret", true),
        ("GetSecretValue", false),
        ("PutSecretValue", true),
        ("UpdateSecretVersionStage", true),
        ("ListSecretVersionIds", false),
        ("DescribeSecret", false),
        ("ListSecrets", false),
        ("UpdateSecret", true),
        ("DeleteSecret", true),
        ("RestoreSecret", true),
        ("RotateSecret", true),
        ("UpdateSecretRotationPolicy", true),
    ] {
        let a: Action = name.parse().unwrap();
        assert_eq!(a.family(), Family::Secrets, "{name}");
        assert_eq!(a.mutates(), mutates, "{name}");
        let want = if name == "ListSecrets" {
            Target::Instance
        } else {
            Target::SecretName
        };
        assert_eq!(a.target(), want, "{name}");
    }
    for a in ["CreateSecret", "GetSecretValue", "PutSecretValue"] {
        assert_eq!(
            a.parse::<Action>().unwrap().sensitive_fields(),
            &["SecretData"]
        );
    }
    assert_eq!(Action::TagResource.target(), Target::KeyIdOrSecretName);
}

#[test]
fn create_get_and_the_default_key() {
    let (kms, _, _) = fresh();
    let c = block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "db/password".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(b"hunter2"),
        description: Some("the db".into()),
        tags: vec![Tag {
            tag_key: "team".into(),
            tag_value: "payments".into(),
        }],
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(c.arn, "acs:kms:strongroom:local:secret/db/password");
    assert_eq!(c.secret_type, SecretType::Generic);
    assert_eq!(c.automatic_rotation, "Disabled");
    let r = block_on(kms.get_secret_value(GetSecretValueRequest {
        secret_name: "db/password".into(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(r.secret_data.expose(), b"hunter2");
    assert_eq!(r.version_id, "v1");
    assert_eq!(r.version_stages, vec![ACS_CURRENT.to_string()]);
    assert_eq!(r.secret_data_type, SecretDataType::Text);
    // The store made its default key, with its alias, and encrypts under it.
    let d = block_on(kms.describe_secret(DescribeSecretRequest {
        secret_name: "acs:kms:cn-hangzhou:1234567890123456:secret/db/password".into(),
        fetch_tags: true,
    }))
    .unwrap();
    let default_key = block_on(kms.describe_key(DEFAULT_SECRET_KEY_ALIAS)).unwrap();
    assert_eq!(d.encryption_key_id, default_key.key_id);
    assert_eq!(d.description, "the db");
    assert_eq!(d.tags.unwrap()[0].tag_value, "payments");
    // A second secret reuses it.
    create(&kms, "other", "x");
    let keys = block_on(kms.list_keys(Default::default())).unwrap();
    assert_eq!(keys.total_count, 1);
    // The name is unique.
    let e = block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "db/password".into(),
        version_id: "v9".into(),
        secret_data: SecretBytes::from_slice(b"x"),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.ResourceExist");
    assert_eq!(
        get_err(
            &kms,
            GetSecretValueRequest {
                secret_name: "nope".into(),
                ..Default::default()
            }
        ),
        "Forbidden.ResourceNotFound"
    );
}

#[test]
fn alibaba_parameter_rules() {
    let (kms, _, _) = fresh();
    let base = || CreateSecretRequest {
        secret_name: "ok".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(b"x"),
        ..Default::default()
    };
    let code = |r: CreateSecretRequest| {
        block_on(kms.create_secret(r))
            .unwrap_err()
            .code()
            .to_string()
    };
    for bad in ["", "has space", "semi;colon", &"a".repeat(193), "acs/mine"] {
        assert_eq!(
            code(CreateSecretRequest {
                secret_name: bad.into(),
                ..base()
            }),
            "InvalidParameter.SecretName",
            "{bad:?}"
        );
    }
    // Every allowed character, at the 192 limit.
    let long = format!("{}_/+=.-@", "a".repeat(185));
    assert_eq!(long.len(), 192);
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: long.clone(),
        ..base()
    }))
    .unwrap();
    // acs/ is for the dynamic types only.
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "acs/rds/app".into(),
        secret_type: Some(SecretType::Rds),
        extended_config: Some(r#"{"DBInstanceId":"rm-1"}"#.into()),
        ..base()
    }))
    .unwrap();
    assert_eq!(
        code(CreateSecretRequest {
            secret_name: "rds2".into(),
            secret_type: Some(SecretType::Rds),
            ..base()
        }),
        "InvalidParameter.ExtendedConfig"
    );
    for bad in ["", &"v".repeat(65)] {
        assert_eq!(
            code(CreateSecretRequest {
                version_id: bad.into(),
                ..base()
            }),
            "InvalidParameter.VersionId"
        );
    }
    assert_eq!(
        code(CreateSecretRequest {
            secret_data: SecretBytes::new(vec![b'x'; 30_721]),
            ..base()
        }),
        "InvalidParameter.SecretData"
    );
    assert_eq!(
        code(CreateSecretRequest {
            secret_data: SecretBytes::new(vec![0xff, 0xfe]),
            ..base()
        }),
        "InvalidParameter.SecretData"
    );
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "max".into(),
        secret_data: SecretBytes::new(vec![b'x'; 30_720]),
        ..base()
    }))
    .unwrap();
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "bin".into(),
        secret_data: SecretBytes::new(vec![0xff, 0, 1]),
        secret_data_type: Some(SecretDataType::Binary),
        ..base()
    }))
    .unwrap();
    let b = block_on(kms.get_secret_value(GetSecretValueRequest {
        secret_name: "bin".into(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(b.secret_data.expose(), &[0xff, 0, 1]);
    assert_eq!(b.secret_data_type, SecretDataType::Binary);
    for bad in ["5h", "366d", "7x", "d", "-1d"] {
        assert_eq!(
            code(CreateSecretRequest {
                secret_name: "rot".into(),
                enable_automatic_rotation: true,
                rotation_interval: Some(bad.into()),
                ..base()
            }),
            "InvalidParameter.RotationInterval",
            "{bad}"
        );
    }
    assert_eq!(
        code(CreateSecretRequest {
            secret_name: "rot".into(),
            enable_automatic_rotation: true,
            ..base()
        }),
        "InvalidParameter.RotationInterval"
    );
}

#[test]
fn stages_versions_and_idempotent_put() {
    let (kms, _, _) = fresh();
    create(&kms, "s", "one");
    assert_eq!(put(&kms, "s", "v2", "two").unwrap(), vec![ACS_CURRENT]);
    assert_eq!(get(&kms, "s"), "two");
    let prev = block_on(kms.get_secret_value(GetSecretValueRequest {
        secret_name: "s".into(),
        version_stage: Some(ACS_PREVIOUS.into()),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(prev.secret_data.expose(), b"one");
    assert_eq!(prev.version_id, "v1");
    // Same VersionId, same data: success, no new version. Other data: refused.
    assert_eq!(put(&kms, "s", "v2", "two").unwrap(), vec![ACS_CURRENT]);
    assert_eq!(stages(&kms, "s").len(), 2);
    assert_eq!(
        put(&kms, "s", "v2", "other").unwrap_err().code(),
        "Rejected.ResourceExist"
    );
    // A custom stage, and a version by id and stage.
    block_on(kms.put_secret_value(PutSecretValueRequest {
        secret_name: "s".into(),
        version_id: "v3".into(),
        secret_data: SecretBytes::from_slice(b"three"),
        version_stages: Some(vec!["blue".into()]),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(get(&kms, "s"), "two", "a custom stage leaves ACSCurrent");
    assert_eq!(
        get_err(
            &kms,
            GetSecretValueRequest {
                secret_name: "s".into(),
                version_id: Some("v3".into()),
                version_stage: Some(ACS_CURRENT.into()),
                ..Default::default()
            }
        ),
        "Forbidden.ResourceNotFound"
    );
    // Move ACSCurrent to v3: v2 becomes ACSPrevious, v1 loses it.
    block_on(
        kms.update_secret_version_stage(UpdateSecretVersionStageRequest {
            secret_name: "s".into(),
            version_stage: ACS_CURRENT.into(),
            remove_from_version: Some("v2".into()),
            move_to_version: Some("v3".into()),
        }),
    )
    .unwrap();
    assert_eq!(get(&kms, "s"), "three");
    let st = stages(&kms, "s");
    assert_eq!(
        st[0],
        ("v3".into(), vec!["blue".into(), ACS_CURRENT.into()])
    );
    assert_eq!(st[1], ("v2".into(), vec![ACS_PREVIOUS.to_string()]));
    assert_eq!(st[2], ("v1".into(), Vec::<String>::new()));
    // ACSCurrent cannot be removed alone, nor moved without naming where it is.
    let e = block_on(
        kms.update_secret_version_stage(UpdateSecretVersionStageRequest {
            secret_name: "s".into(),
            version_stage: ACS_CURRENT.into(),
            remove_from_version: Some("v3".into()),
            move_to_version: None,
        }),
    )
    .unwrap_err();
    assert!(e.code().starts_with("InvalidParameter"), "{e}");
    let e = block_on(
        kms.update_secret_version_stage(UpdateSecretVersionStageRequest {
            secret_name: "s".into(),
            version_stage: ACS_CURRENT.into(),
            remove_from_version: None,
            move_to_version: Some("v1".into()),
        }),
    )
    .unwrap_err();
    assert!(e.code().starts_with("InvalidParameter"), "{e}");
    // A custom stage can be removed, and moved onto a version.
    block_on(
        kms.update_secret_version_stage(UpdateSecretVersionStageRequest {
            secret_name: "s".into(),
            version_stage: "blue".into(),
            remove_from_version: Some("v3".into()),
            move_to_version: Some("v1".into()),
        }),
    )
    .unwrap();
    assert_eq!(stages(&kms, "s")[2].1, vec!["blue".to_string()]);
    // Without IncludeDeprecated only staged versions are listed.
    let listed = block_on(kms.list_secret_version_ids(ListSecretVersionIdsRequest {
        secret_name: "s".into(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(listed.total_count, 3);
}

#[test]
fn at_most_ten_versions_the_oldest_unstaged_go_first() {
    let (kms, _, _) = fresh();
    create(&kms, "s", "v-1");
    // Pin v1 with a custom stage: it must survive.
    block_on(
        kms.update_secret_version_stage(UpdateSecretVersionStageRequest {
            secret_name: "s".into(),
            version_stage: "pinned".into(),
            remove_from_version: None,
            move_to_version: Some("v1".into()),
        }),
    )
    .unwrap();
    for i in 2..=15 {
        put(&kms, "s", &format!("v{i}"), &format!("v-{i}")).unwrap();
    }
    let ids: Vec<String> = stages(&kms, "s").into_iter().map(|(v, _)| v).collect();
    assert_eq!(ids.len(), 10);
    assert!(ids.contains(&"v1".to_string()), "{ids:?}");
    assert_eq!(ids[0], "v15");
    assert!(!ids.contains(&"v2".to_string()), "{ids:?}");
    assert_eq!(get(&kms, "s"), "v-15");
    // Ten versions, all staged: an eleventh is refused.
    let (kms, _, _) = fresh();
    create(&kms, "t", "x");
    for i in 2..=10 {
        block_on(kms.put_secret_value(PutSecretValueRequest {
            secret_name: "t".into(),
            version_id: format!("v{i}"),
            secret_data: SecretBytes::from_slice(b"y"),
            version_stages: Some(vec![format!("stage{i}")]),
            ..Default::default()
        }))
        .unwrap();
    }
    let e = block_on(kms.put_secret_value(PutSecretValueRequest {
        secret_name: "t".into(),
        version_id: "v11".into(),
        secret_data: SecretBytes::from_slice(b"z"),
        version_stages: Some(vec!["stage11".into()]),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.LimitExceeded");
    assert_eq!(stages(&kms, "t").len(), 10, "nothing changed");
}

#[test]
fn the_cmk_state_decides_and_rotation_rewraps() {
    let (kms, _, storage) = fresh();
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_alias("alias/secrets", &k.key_id)).unwrap();
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "s".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(b"value"),
        encryption_key_id: Some("alias/secrets".into()),
        ..Default::default()
    }))
    .unwrap();
    let d = block_on(kms.describe_secret(DescribeSecretRequest {
        secret_name: "s".into(),
        fetch_tags: false,
    }))
    .unwrap();
    assert_eq!(d.encryption_key_id, k.key_id, "stored as the KeyId");
    block_on(kms.disable_key(&k.key_id)).unwrap();
    assert_eq!(
        get_err(
            &kms,
            GetSecretValueRequest {
                secret_name: "s".into(),
                ..Default::default()
            }
        ),
        "Forbidden.KeyDisabled"
    );
    assert_eq!(
        put(&kms, "s", "v2", "new").unwrap_err().code(),
        "Forbidden.KeyDisabled"
    );
    block_on(kms.enable_key(&k.key_id)).unwrap();
    assert_eq!(get(&kms, "s"), "value");
    // Rotation: the data key is re-wrapped under the new primary version, and the
    // value still opens after the store is reopened.
    let v2 = block_on(kms.create_key_version(&k.key_id)).unwrap();
    let image = block_on(kms.export_image(None)).unwrap();
    drop(kms);
    let clock = Arc::new(ManualClock::new(T0));
    let kms = open(&clock, &storage);
    assert_eq!(get(&kms, "s"), "value");
    let _ = (image, v2);
    // A key in its deletion window makes the value unreadable with its code.
    block_on(kms.schedule_key_deletion(&k.key_id, 7)).unwrap();
    assert_eq!(
        get_err(
            &kms,
            GetSecretValueRequest {
                secret_name: "s".into(),
                ..Default::default()
            }
        ),
        "Forbidden.KeyPendingDeletion"
    );
    // An asymmetric key cannot encrypt secrets (checked where the build has RSA: the
    // workspace run, with aws-lc).
    let rsa = block_on(kms.create_key(CreateKeyRequest {
        key_spec: Some(strongroom::KeySpec::Rsa2048),
        key_usage: Some(strongroom::KeyUsage::SignVerify),
        ..Default::default()
    }));
    if let Ok(rsa) = rsa {
        let e = block_on(kms.create_secret(CreateSecretRequest {
            secret_name: "t".into(),
            version_id: "v1".into(),
            secret_data: SecretBytes::from_slice(b"x"),
            encryption_key_id: Some(rsa.key_id),
            ..Default::default()
        }))
        .unwrap_err();
        // As Encrypt with an asymmetric key.
        assert_eq!(e.code(), "InvalidParameter.KeySpec");
        assert_eq!(
            block_on(kms.list_secrets(ListSecretsRequest::default()))
                .unwrap()
                .total_count,
            1,
            "nothing was made"
        );
    }
}

/// The software backend, remembering the handles it made and each one it decrypted
/// under.
struct Watching {
    inner: strongroom::backend::software::SoftwareBackend,
    made: Mutex<Vec<Vec<u8>>>,
    opened: Mutex<Vec<Vec<u8>>>,
}

impl strongroom::KeyBackend for Watching {
    fn protection_level(&self) -> strongroom::ProtectionLevel {
        self.inner.protection_level()
    }
    fn generate<'a>(
        &'a self,
        spec: strongroom::KeySpec,
    ) -> BoxFuture<'a, strongroom::Result<strongroom::KeyHandle>> {
        Box::pin(async move {
            let h = self.inner.generate(spec).await?;
            self.made.lock().unwrap().push(h.0.expose().to_vec());
            Ok(h)
        })
    }
    fn encrypt<'a>(
        &'a self,
        handle: &'a strongroom::KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, strongroom::Result<strongroom::backend::Sealed>> {
        self.inner.encrypt(handle, plaintext, aad)
    }
    fn decrypt<'a>(
        &'a self,
        handle: &'a strongroom::KeyHandle,
        nonce: &'a [u8; 12],
        ciphertext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, strongroom::Result<SecretBytes>> {
        self.opened.lock().unwrap().push(handle.0.expose().to_vec());
        self.inner.decrypt(handle, nonce, ciphertext, aad)
    }
}

#[test]
fn rewrap_moves_every_version_to_the_new_primary() {
    let clock = Arc::new(ManualClock::new(T0));
    let env = Env::new(Arc::new(OsEntropy), clock.clone());
    let backend = Arc::new(Watching {
        inner: strongroom::backend::software::SoftwareBackend::new(env.clone()),
        made: Mutex::new(Vec::new()),
        opened: Mutex::new(Vec::new()),
    });
    let kms = block_on(Kms::open(KmsOptions {
        env,
        storage: storage(),
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(backend.clone()),
    }))
    .unwrap();
    let k = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "s".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(b"a"),
        encryption_key_id: Some(k.key_id.clone()),
        ..Default::default()
    }))
    .unwrap();
    put(&kms, "s", "v2", "b").unwrap();
    let first = backend.made.lock().unwrap().last().unwrap().clone();
    backend.opened.lock().unwrap().clear();
    assert_eq!(get(&kms, "s"), "b");
    assert_eq!(backend.opened.lock().unwrap().clone(), vec![first.clone()]);
    // Rotation re-wraps both versions' data keys under the new primary version.
    block_on(kms.create_key_version(&k.key_id)).unwrap();
    let second = backend.made.lock().unwrap().last().unwrap().clone();
    assert_ne!(first, second);
    backend.opened.lock().unwrap().clear();
    assert_eq!(get(&kms, "s"), "b");
    let prev = block_on(kms.get_secret_value(GetSecretValueRequest {
        secret_name: "s".into(),
        version_id: Some("v1".into()),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(prev.secret_data.expose(), b"a");
    assert_eq!(
        backend.opened.lock().unwrap().clone(),
        vec![second.clone(), second],
        "both values opened under the new version"
    );
}

#[test]
fn deletion_window_restore_and_force() {
    let (kms, clock, storage) = fresh();
    create(&kms, "s", "value");
    create(&kms, "t", "value");
    for bad in [6, 31] {
        let e = block_on(kms.delete_secret(DeleteSecretRequest {
            secret_name: "s".into(),
            recovery_window_in_days: Some(bad),
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(e.code(), "InvalidParameter.RecoveryWindowInDays");
    }
    let d = block_on(kms.delete_secret(DeleteSecretRequest {
        secret_name: "s".into(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(
        d.planned_delete_time.as_deref(),
        Some("2026-12-23T00:00:00Z"),
        "30 days by default"
    );
    assert_eq!(
        get_err(
            &kms,
            GetSecretValueRequest {
                secret_name: "s".into(),
                ..Default::default()
            }
        ),
        "Rejected.ResourceInDeleteWindow"
    );
    assert_eq!(
        put(&kms, "s", "v2", "x").unwrap_err().code(),
        "Rejected.ResourceInDeleteWindow"
    );
    block_on(kms.restore_secret(RestoreSecretRequest {
        secret_name: "s".into(),
    }))
    .unwrap();
    assert_eq!(get(&kms, "s"), "value");
    let e = block_on(kms.restore_secret(RestoreSecretRequest {
        secret_name: "s".into(),
    }))
    .unwrap_err();
    assert!(e.code().starts_with("InvalidParameter"));
    // A 7-day window passes (injected clock): the secret is gone, and so is every
    // journal record that held its value.
    block_on(kms.delete_secret(DeleteSecretRequest {
        secret_name: "s".into(),
        recovery_window_in_days: Some(7),
        ..Default::default()
    }))
    .unwrap();
    clock.advance(7 * DAY - 1);
    assert!(
        block_on(kms.describe_secret(DescribeSecretRequest {
            secret_name: "s".into(),
            fetch_tags: false
        }))
        .unwrap()
        .planned_delete_time
        .is_some()
    );
    clock.advance(1);
    assert_eq!(
        get_err(
            &kms,
            GetSecretValueRequest {
                secret_name: "s".into(),
                ..Default::default()
            }
        ),
        "Forbidden.ResourceNotFound"
    );
    // Values inside the store's records: the store is rewritten without them. Values
    // in a values file are zeroed there instead (checked below).
    let values_file = std::env::var_os("SR_TEST_VALUES_FILE").is_some();
    if values_file {
        // "s" was written first ("value" + a 16-byte tag after the 8-byte header):
        // zeroed; "t" after it: still there.
        let values = storage.values_file();
        let sealed = "value".len() + 16;
        assert_eq!(values.len(), 8 + 2 * sealed);
        assert!(values[8..8 + sealed].iter().all(|b| *b == 0));
        assert!(values[8 + sealed..].iter().any(|b| *b != 0));
    } else {
        assert_eq!(kms.store_info().unwrap().journal_records, 0);
    }
    // Force: gone now, no recovery.
    let d = block_on(kms.delete_secret(DeleteSecretRequest {
        secret_name: "t".into(),
        force_delete_without_recovery: true,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(d.planned_delete_time, None);
    if values_file {
        let values = storage.values_file();
        assert!(values.len() > 8 && values[8..].iter().all(|b| *b == 0));
    } else {
        assert_eq!(kms.store_info().unwrap().journal_records, 0);
    }
    drop(kms);
    let kms = open(&clock, &storage);
    let l = block_on(kms.list_secrets(ListSecretsRequest::default())).unwrap();
    assert_eq!(l.total_count, 0);
}

#[test]
fn list_secrets_pages_and_filters() {
    let (kms, _, _) = fresh();
    for i in 0..25 {
        block_on(kms.create_secret(CreateSecretRequest {
            secret_name: format!("app/{i:02}"),
            version_id: "v1".into(),
            secret_data: SecretBytes::from_slice(b"x"),
            description: Some(if i % 2 == 0 { "even" } else { "odd" }.into()),
            tags: if i < 3 {
                vec![Tag {
                    tag_key: "env".into(),
                    tag_value: "prod".into(),
                }]
            } else {
                vec![]
            },
            ..Default::default()
        }))
        .unwrap();
    }
    let p = block_on(kms.list_secrets(ListSecretsRequest {
        page_number: Some(3),
        page_size: Some(10),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(p.total_count, 25);
    assert_eq!(p.secrets.len(), 5);
    assert_eq!(p.secrets[0].secret_name, "app/20");
    assert!(p.secrets[0].tags.is_none());
    let f = |key: &str, values: &[&str]| {
        block_on(kms.list_secrets(ListSecretsRequest {
            fetch_tags: true,
            page_size: Some(100),
            filters: vec![KeyFilter {
                key: key.into(),
                values: values.iter().map(|s| s.to_string()).collect(),
            }],
            ..Default::default()
        }))
        .map(|r| r.total_count)
    };
    assert_eq!(f("SecretName", &["app/1"]).unwrap(), 10);
    assert_eq!(f("Description", &["odd"]).unwrap(), 12);
    assert_eq!(f("TagKey", &["env"]).unwrap(), 3);
    assert_eq!(f("TagValue", &["prod", "dev"]).unwrap(), 3);
    assert_eq!(
        f("KeyState", &["x"]).unwrap_err().code(),
        "InvalidParameter.Filters"
    );
    // Tags on a secret: TagResource / UntagResource / ListResourceTags.
    block_on(kms.tag_secret(
        "app/05",
        &[Tag {
            tag_key: "owner".into(),
            tag_value: "me".into(),
        }],
    ))
    .unwrap();
    assert_eq!(block_on(kms.list_secret_tags("app/05")).unwrap().len(), 1);
    block_on(kms.untag_secret("app/05", &["owner".into()])).unwrap();
    assert!(block_on(kms.list_secret_tags("app/05")).unwrap().is_empty());
    assert_eq!(
        block_on(kms.list_secret_tags("nope")).unwrap_err().code(),
        "Forbidden.ResourceNotFound"
    );
}

#[test]
fn update_secret_and_extended_config() {
    let (kms, _, _) = fresh();
    create(&kms, "s", "x");
    block_on(kms.update_secret(UpdateSecretRequest {
        secret_name: "s".into(),
        description: Some("new".into()),
        extended_config_custom_data: Some(r#"{"owner":"ops"}"#.into()),
    }))
    .unwrap();
    let d = block_on(kms.describe_secret(DescribeSecretRequest {
        secret_name: "s".into(),
        fetch_tags: false,
    }))
    .unwrap();
    assert_eq!(d.description, "new");
    let cfg: Value = serde_json::from_str(d.extended_config.as_deref().unwrap()).unwrap();
    assert_eq!(cfg["CustomData"]["owner"], "ops");
    let e = block_on(kms.update_secret(UpdateSecretRequest {
        secret_name: "s".into(),
        extended_config_custom_data: Some("[1]".into()),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidParameter.ExtendedConfig");
}

/// A rotator that hands out numbered values and fails on demand at a given step.
#[derive(Default)]
struct Numbered {
    n: AtomicU32,
    fail_at: Mutex<Option<&'static str>>,
    steps: Mutex<Vec<String>>,
}

impl SecretRotator for Numbered {
    fn create<'a>(
        &'a self,
        step: &'a RotationStep<'a>,
    ) -> BoxFuture<'a, strongroom::Result<SecretBytes>> {
        Box::pin(async move {
            self.steps
                .lock()
                .unwrap()
                .push(format!("create {}", step.version_id));
            if *self.fail_at.lock().unwrap() == Some("create") {
                return Err(strongroom::Error::BackendUnavailable(
                    "create failed".into(),
                ));
            }
            let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(SecretBytes::new(format!("rotated-{n}").into_bytes()))
        })
    }
    fn test<'a>(
        &'a self,
        step: &'a RotationStep<'a>,
        value: &'a SecretBytes,
    ) -> BoxFuture<'a, strongroom::Result<()>> {
        Box::pin(async move {
            self.steps.lock().unwrap().push(format!(
                "test {} {}",
                step.version_id,
                String::from_utf8_lossy(value.expose())
            ));
            if *self.fail_at.lock().unwrap() == Some("test") {
                return Err(strongroom::Error::BackendUnavailable("test failed".into()));
            }
            Ok(())
        })
    }
}

#[test]
fn rotation_steps_failure_leaves_current_and_retries() {
    let (kms, clock, storage) = fresh();
    create(&kms, "s", "original");
    let rot = Arc::new(Numbered::default());
    kms.set_secret_rotator(Some(rot.clone()));
    // `test` fails: ACSCurrent stays, the new value waits as ACSPending.
    *rot.fail_at.lock().unwrap() = Some("test");
    let e = block_on(kms.rotate_secret(RotateSecretRequest {
        secret_name: "s".into(),
        version_id: Some("r1".into()),
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    assert_eq!(get(&kms, "s"), "original");
    let st = stages(&kms, "s");
    assert_eq!(st[0], ("r1".into(), vec![ACS_PENDING.to_string()]));
    // Retried: the same pending value is set and tested again, then finished.
    *rot.fail_at.lock().unwrap() = None;
    let r = block_on(kms.rotate_secret(RotateSecretRequest {
        secret_name: "s".into(),
        version_id: None,
    }))
    .unwrap();
    assert_eq!(r.version_id, "r1");
    assert_eq!(get(&kms, "s"), "rotated-1");
    let st = stages(&kms, "s");
    assert_eq!(st[0], ("r1".into(), vec![ACS_CURRENT.to_string()]));
    assert_eq!(st[1], ("v1".into(), vec![ACS_PREVIOUS.to_string()]));
    assert_eq!(
        rot.steps.lock().unwrap().clone(),
        vec!["create r1", "test r1 rotated-1", "test r1 rotated-1"]
    );
    // Automatic rotation on the injected clock; a failure is retried with backoff
    // and never fails the unrelated call that ran the sweep.
    block_on(
        kms.update_secret_rotation_policy(UpdateSecretRotationPolicyRequest {
            secret_name: "s".into(),
            enable_automatic_rotation: true,
            rotation_interval: Some("1d".into()),
        }),
    )
    .unwrap();
    *rot.fail_at.lock().unwrap() = Some("create");
    clock.advance(DAY);
    block_on(kms.list_secrets(ListSecretsRequest::default())).unwrap();
    assert_eq!(get(&kms, "s"), "rotated-1");
    let d = block_on(kms.describe_secret(DescribeSecretRequest {
        secret_name: "s".into(),
        fetch_tags: false,
    }))
    .unwrap();
    assert_eq!(
        d.next_rotation_date.as_deref(),
        Some("2026-11-24T00:01:00Z")
    );
    *rot.fail_at.lock().unwrap() = None;
    clock.advance(60_000);
    assert_eq!(get(&kms, "s"), "rotated-2");
    let d = block_on(kms.describe_secret(DescribeSecretRequest {
        secret_name: "s".into(),
        fetch_tags: false,
    }))
    .unwrap();
    assert_eq!(
        d.last_rotation_date.as_deref(),
        Some("2026-11-24T00:01:00Z")
    );
    assert_eq!(
        d.next_rotation_date.as_deref(),
        Some("2026-11-25T00:01:00Z")
    );
    // The rotation is durable.
    drop(kms);
    let kms = open(&clock, &storage);
    assert_eq!(get(&kms, "s"), "rotated-2");
}

#[test]
fn builtin_rotator_and_dynamic_types() {
    let (kms, _, _) = fresh();
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "p".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(b"x"),
        extended_config: Some(r#"{"PasswordLength": 20, "ExcludePunctuation": true}"#.into()),
        ..Default::default()
    }))
    .unwrap();
    block_on(kms.rotate_secret(RotateSecretRequest {
        secret_name: "p".into(),
        version_id: Some("v2".into()),
    }))
    .unwrap();
    let v = get(&kms, "p");
    assert_eq!(v.len(), 20);
    assert!(v.chars().all(|c| c.is_ascii_alphanumeric()), "{v}");
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "acs/ram/user".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(b"{}"),
        secret_type: Some(SecretType::RamCredentials),
        extended_config: Some(r#"{"UserName":"u"}"#.into()),
        ..Default::default()
    }))
    .unwrap();
    let e = block_on(kms.rotate_secret(RotateSecretRequest {
        secret_name: "acs/ram/user".into(),
        version_id: Some("v2".into()),
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.Unsupported");
    let e = block_on(
        kms.update_secret_rotation_policy(UpdateSecretRotationPolicyRequest {
            secret_name: "acs/ram/user".into(),
            enable_automatic_rotation: true,
            rotation_interval: Some("7d".into()),
        }),
    )
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.Unsupported");
}

fn wire(kms: &Kms, action: &str, params: Value) -> Result<Value, String> {
    let a: Action = action.parse().unwrap();
    let Value::Object(map) = params else { panic!() };
    let req = Request::from_wire(a, &map).map_err(|e| e.code().to_string())?;
    let resp = block_on(kms.call(&Caller::owner(), req)).map_err(|e| e.code().to_string())?;
    Ok(resp.to_wire("req-1").unwrap())
}

#[test]
fn wire_forms_are_alibabas() {
    let (kms, _, _) = fresh();
    let c = wire(
        &kms,
        "CreateSecret",
        json!({"SecretName": "w", "VersionId": "v1", "SecretData": "top secret",
               "Tags": "[{\"TagKey\":\"a\",\"TagValue\":\"b\"}]",
               "EnableAutomaticRotation": "true", "RotationInterval": "7d"}),
    )
    .unwrap();
    assert_eq!(c["SecretName"], "w");
    assert_eq!(c["RotationInterval"], "604800s");
    assert_eq!(c["AutomaticRotation"], "Enabled");
    assert_eq!(c["RequestId"], "req-1");
    let g = wire(&kms, "GetSecretValue", json!({"SecretName": "w"})).unwrap();
    assert_eq!(g["SecretData"], "top secret");
    assert_eq!(g["SecretDataType"], "text");
    assert_eq!(g["VersionStages"]["VersionStage"], json!(["ACSCurrent"]));
    wire(
        &kms,
        "PutSecretValue",
        json!({"SecretName": "w", "VersionId": "v2", "SecretData": "AAEC",
               "SecretDataType": "binary", "VersionStages": "[\"ACSCurrent\"]"}),
    )
    .unwrap();
    let g = wire(&kms, "GetSecretValue", json!({"SecretName": "w"})).unwrap();
    assert_eq!(g["SecretData"], "AAEC");
    assert_eq!(g["SecretDataType"], "binary");
    let l = wire(
        &kms,
        "ListSecretVersionIds",
        json!({"SecretName": "w", "IncludeDeprecated": "true"}),
    )
    .unwrap();
    assert_eq!(l["VersionIds"]["VersionId"][1]["VersionId"], "v1");
    let l = wire(&kms, "ListSecrets", json!({"FetchTags": "true"})).unwrap();
    assert_eq!(
        l["SecretList"]["Secret"][0]["Tags"]["Tag"][0]["TagKey"],
        "a"
    );
    let d = wire(&kms, "DescribeSecret", json!({"SecretName": "w"})).unwrap();
    assert!(d.get("SecretData").is_none());
    assert!(d["Arn"].as_str().unwrap().ends_with(":secret/w"));
    wire(
        &kms,
        "TagResource",
        json!({"SecretName": "w", "Tags": "[{\"TagKey\":\"c\",\"TagValue\":\"d\"}]"}),
    )
    .unwrap();
    let t = wire(&kms, "ListResourceTags", json!({"SecretName": "w"})).unwrap();
    assert_eq!(t["Tags"]["Tag"].as_array().unwrap().len(), 2);
    wire(
        &kms,
        "UntagResource",
        json!({"SecretName": "w", "TagKeys": "[\"c\"]"}),
    )
    .unwrap();
    assert_eq!(
        wire(
            &kms,
            "TagResource",
            json!({"SecretName": "w", "KeyId": "k", "Tags": "[]"})
        )
        .unwrap_err(),
        "InvalidParameter.SecretName"
    );
    let del = wire(
        &kms,
        "DeleteSecret",
        json!({"SecretName": "w", "RecoveryWindowInDays": "10"}),
    )
    .unwrap();
    assert_eq!(del["PlannedDeleteTime"], "2026-12-03T00:00:00Z");
    assert_eq!(
        wire(&kms, "GetSecretValue", json!({"SecretName": "w"})).unwrap_err(),
        "Rejected.ResourceInDeleteWindow"
    );
    wire(&kms, "RestoreSecret", json!({"SecretName": "w"})).unwrap();
    let r = wire(
        &kms,
        "RotateSecret",
        json!({"SecretName": "w", "VersionId": "v3"}),
    )
    .unwrap();
    assert_eq!(r["VersionId"], "v3");
    assert!(r.get("SecretData").is_none());
    wire(
        &kms,
        "UpdateSecretRotationPolicy",
        json!({"SecretName": "w", "EnableAutomaticRotation": false}),
    )
    .unwrap();
    wire(
        &kms,
        "UpdateSecret",
        json!({"SecretName": "w", "Description": "d"}),
    )
    .unwrap();
    wire(
        &kms,
        "UpdateSecretVersionStage",
        json!({"SecretName": "w", "VersionStage": "x", "MoveToVersion": "v1"}),
    )
    .unwrap();
    assert_eq!(
        wire(
            &kms,
            "GetSecretValue",
            json!({"SecretName": "w", "Plaintext": "x"})
        )
        .unwrap_err(),
        "InvalidParameter.Request"
    );
    let s = wire(&kms, "DescribeService", json!({})).unwrap();
    let actions = s.to_string();
    for a in ["CreateSecret", "RotateSecret", "UpdateSecretRotationPolicy"] {
        assert!(actions.contains(a), "{a}");
    }
}

#[test]
fn values_never_leak_into_debug_errors_or_other_answers() {
    let (kms, _, _) = fresh();
    let value = "SRLEAK-core-value-do-not-print";
    let req = CreateSecretRequest {
        secret_name: "leak".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(value.as_bytes()),
        ..Default::default()
    };
    assert!(!format!("{req:?}").contains(value));
    let r = Request::CreateSecret(req.clone());
    assert!(!format!("{r:?}").contains(value));
    block_on(kms.create_secret(req)).unwrap();
    let got = block_on(kms.get_secret_value(GetSecretValueRequest {
        secret_name: "leak".into(),
        ..Default::default()
    }))
    .unwrap();
    assert!(!format!("{got:?}").contains(value));
    let e = put(&kms, "leak", "v1", "S3CR3T-other").unwrap_err();
    assert!(!e.to_string().contains("S3CR3T"), "{e}");
    for (a, p) in [
        ("DescribeSecret", json!({"SecretName": "leak"})),
        ("ListSecrets", json!({"FetchTags": true})),
        ("ListSecretVersionIds", json!({"SecretName": "leak"})),
        ("ListResourceTags", json!({"SecretName": "leak"})),
        (
            "PutSecretValue",
            json!({"SecretName": "leak", "VersionId": "v1", "SecretData": value}),
        ),
    ] {
        let out = wire(&kms, a, p).unwrap().to_string();
        assert!(!out.contains(value), "{a}: {out}");
    }
}

/// tests/vectors/secrets_v1.json: a deterministic store holding secrets (text and
/// binary, several versions, custom stages, tags, a rotation policy, a planned
/// deletion), what each version opens to, and the records' plaintexts as a fuzz seed
/// (scripts/fuzz.sh) for the secret-record decoders.
#[test]
fn secrets_vector() {
    let entropy = Arc::new(common::Deterministic(std::sync::atomic::AtomicU64::new(0)));
    let clock = Arc::new(ManualClock::new(T0));
    let storage = storage();
    let kms = block_on(Kms::open(KmsOptions {
        env: Env::new(entropy, clock.clone()),
        storage,
        root: RootSecret::passphrase("strongroom-vector-passphrase"),
        kdf: KdfParams::insecure_fast(),
        backend: None,
    }))
    .unwrap();
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "vector/text".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice("first \u{e9}".as_bytes()),
        description: Some("a text secret".into()),
        tags: vec![Tag {
            tag_key: "k".into(),
            tag_value: "v".into(),
        }],
        enable_automatic_rotation: true,
        rotation_interval: Some("30d".into()),
        ..Default::default()
    }))
    .unwrap();
    clock.advance(1000);
    put(&kms, "vector/text", "v2", "second").unwrap();
    block_on(kms.put_secret_value(PutSecretValueRequest {
        secret_name: "vector/text".into(),
        version_id: "v3".into(),
        secret_data: SecretBytes::from_slice(b"staged"),
        version_stages: Some(vec!["blue".into(), "green".into()]),
        ..Default::default()
    }))
    .unwrap();
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "vector/binary".into(),
        version_id: "b1".into(),
        secret_data: SecretBytes::new((0u8..=255).collect()),
        secret_data_type: Some(SecretDataType::Binary),
        ..Default::default()
    }))
    .unwrap();
    block_on(kms.delete_secret(DeleteSecretRequest {
        secret_name: "vector/binary".into(),
        recovery_window_in_days: Some(7),
        ..Default::default()
    }))
    .unwrap();
    let image = block_on(kms.export_image(None)).unwrap();
    let seed = strongroom::storage::fuzz_seed_plaintexts(
        &image,
        &RootSecret::passphrase("strongroom-vector-passphrase"),
    )
    .unwrap();
    let fresh = json!({
        "format": "a strongroom store (docs/FORMAT.md §Store) whose state (version 3) holds secrets (§Secrets); each version's value opens as listed",
        "passphrase": "strongroom-vector-passphrase",
        "image": hex::encode(&image),
        "secrets": [
            {"name": "vector/text", "version_id": "v1", "stages": ["ACSPrevious"], "data_type": "text", "value_hex": hex::encode("first \u{e9}")},
            {"name": "vector/text", "version_id": "v2", "stages": ["ACSCurrent"], "data_type": "text", "value_hex": hex::encode("second")},
            {"name": "vector/text", "version_id": "v3", "stages": ["blue", "green"], "data_type": "text", "value_hex": hex::encode("staged")},
            {"name": "vector/binary", "version_id": "b1", "stages": ["ACSCurrent"], "data_type": "binary", "value_hex": hex::encode((0u8..=255).collect::<Vec<u8>>()), "planned_delete": true},
        ],
        "fuzz_seed_hex": hex::encode(&seed),
    });
    let v = common::check_vectors(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/secrets_v1.json"
        ),
        &fresh,
        "the secret store vector changed",
    );
    // The image opens (a fresh instance, at a time inside the recovery window) and every
    // listed version reads back as listed.
    let kms = block_on(Kms::open_image(
        Env::new(Arc::new(OsEntropy), Arc::new(ManualClock::new(T0 + DAY))),
        hex::decode(v["image"].as_str().unwrap()).unwrap(),
        RootSecret::passphrase("strongroom-vector-passphrase"),
        None,
    ))
    .unwrap();
    for s in v["secrets"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        let r = block_on(kms.get_secret_value(GetSecretValueRequest {
            secret_name: name.into(),
            version_id: Some(s["version_id"].as_str().unwrap().into()),
            ..Default::default()
        }));
        if s.get("planned_delete").is_some() {
            assert_eq!(r.unwrap_err().code(), "Rejected.ResourceInDeleteWindow");
            continue;
        }
        let r = r.unwrap();
        assert_eq!(
            hex::encode(r.secret_data.expose()),
            s["value_hex"],
            "{name}"
        );
        assert_eq!(
            r.version_stages,
            s["stages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        );
    }
}

/// A backend whose decrypts can be made to fail, counting them (each GetSecretValue
/// unwraps one data key).
struct Flaky {
    inner: strongroom::backend::software::SoftwareBackend,
    fail: std::sync::atomic::AtomicBool,
    decrypts: AtomicU32,
}

impl strongroom::KeyBackend for Flaky {
    fn protection_level(&self) -> strongroom::ProtectionLevel {
        self.inner.protection_level()
    }
    fn generate<'a>(
        &'a self,
        spec: strongroom::KeySpec,
    ) -> BoxFuture<'a, strongroom::Result<strongroom::KeyHandle>> {
        self.inner.generate(spec)
    }
    fn encrypt<'a>(
        &'a self,
        handle: &'a strongroom::KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, strongroom::Result<strongroom::backend::Sealed>> {
        self.inner.encrypt(handle, plaintext, aad)
    }
    fn decrypt<'a>(
        &'a self,
        handle: &'a strongroom::KeyHandle,
        nonce: &'a [u8; 12],
        ciphertext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, strongroom::Result<SecretBytes>> {
        self.decrypts.fetch_add(1, Ordering::SeqCst);
        let fail = self.fail.load(Ordering::SeqCst);
        Box::pin(async move {
            // Like a remote HSM: the answer comes later, so concurrent getters really
            // overlap with this fetch.
            YieldOnce(false).await;
            if fail {
                return Err(strongroom::Error::BackendUnavailable(
                    "the HSM is down".into(),
                ));
            }
            self.inner.decrypt(handle, nonce, ciphertext, aad).await
        })
    }
}

/// Pending once (waking itself), then ready.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[test]
fn the_rust_secret_cache() {
    use strongroom::{SecretCache, SecretCacheEventKind};
    let clock = Arc::new(ManualClock::new(T0));
    let env = Env::new(Arc::new(OsEntropy), clock.clone());
    let backend = Arc::new(Flaky {
        inner: strongroom::backend::software::SoftwareBackend::new(env.clone()),
        fail: std::sync::atomic::AtomicBool::new(false),
        decrypts: AtomicU32::new(0),
    });
    let kms = block_on(Kms::open(KmsOptions {
        env,
        storage: storage(),
        root: RootSecret::passphrase("pw"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(backend.clone()),
    }))
    .unwrap();
    create(&kms, "c", "one");
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let cache = SecretCache::new(&kms)
        .refresh_interval_ms(1000)
        .max_stale_ms(5000)
        .on_event(Box::new(move |e| seen.lock().unwrap().push(e.kind)));
    let fetches = || backend.decrypts.load(Ordering::SeqCst);
    let base = fetches();
    // 100 concurrent getters: one fetch.
    let all = block_on(futures_join_all(
        (0..100).map(|_| cache.get("c")).collect::<Vec<_>>(),
    ));
    assert!(
        all.iter()
            .all(|v| v.as_ref().unwrap().secret_data.expose() == b"one")
    );
    assert_eq!(fetches() - base, 1, "single flight");
    block_on(cache.get("c")).unwrap();
    assert_eq!(fetches() - base, 1, "served from memory");
    // ACSCurrent moves: picked up after the interval.
    put(&kms, "c", "v2", "two").unwrap();
    clock.advance(1000);
    assert_eq!(
        block_on(cache.get("c")).unwrap().secret_data.expose(),
        b"two"
    );
    assert_eq!(
        events.lock().unwrap().clone(),
        vec![
            SecretCacheEventKind::Fetch,
            SecretCacheEventKind::Refresh,
            SecretCacheEventKind::Changed
        ]
    );
    // The backend fails: the last good value for 5 s, then the error.
    backend.fail.store(true, Ordering::SeqCst);
    clock.advance(1000);
    assert_eq!(
        block_on(cache.get("c")).unwrap().secret_data.expose(),
        b"two"
    );
    assert_eq!(
        cache.last_error("c").unwrap().code(),
        "Rejected.BackendUnavailable"
    );
    assert!(
        events
            .lock()
            .unwrap()
            .contains(&SecretCacheEventKind::Stale)
    );
    clock.advance(5000);
    assert_eq!(
        block_on(cache.get("c")).unwrap_err().code(),
        "Rejected.BackendUnavailable"
    );
    backend.fail.store(false, Ordering::SeqCst);
    assert_eq!(
        block_on(cache.get("c")).unwrap().secret_data.expose(),
        b"two"
    );
    let n = fetches();
    block_on(cache.refresh("c")).unwrap();
    cache.invalidate(None);
    block_on(cache.get("c")).unwrap();
    assert_eq!(fetches() - n, 2);
}

/// Polls every future to completion together (a minimal join_all: the getters really
/// are concurrent, and the first one's fetch is in flight while the others wait).
fn futures_join_all<F: std::future::Future>(
    futs: Vec<F>,
) -> impl std::future::Future<Output = Vec<F::Output>>
where
    F::Output: Unpin,
{
    use std::pin::Pin;
    use std::task::{Context, Poll};
    struct JoinAll<F: std::future::Future> {
        futs: Vec<Option<Pin<Box<F>>>>,
        out: Vec<Option<F::Output>>,
    }
    impl<F: std::future::Future> std::future::Future for JoinAll<F>
    where
        F::Output: Unpin,
    {
        type Output = Vec<F::Output>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.get_mut();
            let mut pending = false;
            for (i, f) in this.futs.iter_mut().enumerate() {
                if let Some(fut) = f {
                    match fut.as_mut().poll(cx) {
                        Poll::Ready(v) => {
                            this.out[i] = Some(v);
                            *f = None;
                        }
                        Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(this.out.iter_mut().map(|o| o.take().unwrap()).collect())
            }
        }
    }
    let n = futs.len();
    JoinAll {
        futs: futs.into_iter().map(|f| Some(Box::pin(f))).collect(),
        out: (0..n).map(|_| None).collect(),
    }
}

/// Automatic rotation in a process with no rotator installed never replaces a value
/// with a random one unless the secret asks for it (`"RotationMethod":
/// "RandomPassword"`): otherwise the attempt fails (ACSCurrent untouched) and is
/// retried, so a CLI command that happens to find a rotation due does not rotate a
/// database password the database never learns of.
#[test]
fn automatic_rotation_without_a_rotator_needs_the_secrets_consent() {
    let (kms, clock, _) = fresh();
    for (name, cfg) in [
        ("plain", None),
        (
            "random",
            Some(r#"{"RotationMethod": "RandomPassword", "PasswordLength": 24}"#),
        ),
    ] {
        block_on(kms.create_secret(CreateSecretRequest {
            secret_name: name.into(),
            version_id: "v1".into(),
            secret_data: SecretBytes::from_slice(b"original"),
            extended_config: cfg.map(String::from),
            enable_automatic_rotation: true,
            rotation_interval: Some("1d".into()),
            ..Default::default()
        }))
        .unwrap();
    }
    clock.advance(DAY);
    block_on(kms.list_secrets(ListSecretsRequest::default())).unwrap();
    assert_eq!(get(&kms, "plain"), "original");
    assert_eq!(get(&kms, "random").len(), 24);
    let d = block_on(kms.describe_secret(DescribeSecretRequest {
        secret_name: "plain".into(),
        fetch_tags: false,
    }))
    .unwrap();
    assert!(d.last_rotation_date.is_none());
    assert_eq!(
        d.next_rotation_date.as_deref(),
        Some("2026-11-24T00:01:00Z"),
        "retried"
    );
    // RotateSecret, asked for, may still use the built-in rotator.
    block_on(kms.rotate_secret(RotateSecretRequest {
        secret_name: "plain".into(),
        version_id: Some("r1".into()),
    }))
    .unwrap();
    assert_eq!(get(&kms, "plain").len(), 32);
}

/// A version holds at most 10 stages: an 11th (moved onto it by
/// UpdateSecretVersionStage) is refused, nothing changes, and the store still opens —
/// the record keeps the count in one byte, so an unbounded count would corrupt it.
#[test]
fn at_most_ten_stages_per_version() {
    let (kms, clock, storage) = fresh();
    create(&kms, "s", "x");
    // ACSCurrent plus nine custom stages: ten.
    for i in 0..9 {
        block_on(
            kms.update_secret_version_stage(UpdateSecretVersionStageRequest {
                secret_name: "s".into(),
                version_stage: format!("st{i}"),
                remove_from_version: None,
                move_to_version: Some("v1".into()),
            }),
        )
        .unwrap();
    }
    let e = block_on(
        kms.update_secret_version_stage(UpdateSecretVersionStageRequest {
            secret_name: "s".into(),
            version_stage: "one-too-many".into(),
            remove_from_version: None,
            move_to_version: Some("v1".into()),
        }),
    )
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.LimitExceeded");
    assert_eq!(stages(&kms, "s")[0].1.len(), 10);
    drop(kms);
    let kms = open(&clock, &storage);
    assert_eq!(stages(&kms, "s")[0].1.len(), 10);
    assert_eq!(get(&kms, "s"), "x");
}

/// `SecretCache::persist`: a sealed copy per secret on disk (0600, no plaintext in it),
/// served by a restarted process while the KMS refuses, within its age; a copy under
/// another key, a changed byte or another secret's file is not served; invalidate
/// removes copies.
#[test]
fn the_cache_keeps_a_sealed_copy_only_when_asked() {
    use strongroom::SecretCacheEventKind as K;
    use strongroom::storage::secret_cache_file;
    let (kms, clock, _s) = fresh();
    let cmk = block_on(kms.create_key(CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    for (name, value, binary) in [
        ("app/db", "SRLEAK-disk-copy-7d1", false),
        ("app/bin", "\u{1}\u{2}SRLEAK-bin", true),
    ] {
        block_on(kms.create_secret(CreateSecretRequest {
            secret_name: name.into(),
            version_id: "v1".into(),
            secret_data: SecretBytes::from_slice(value.as_bytes()),
            secret_data_type: Some(if binary {
                SecretDataType::Binary
            } else {
                SecretDataType::Text
            }),
            encryption_key_id: Some(cmk.clone()),
            ..Default::default()
        }))
        .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("sr-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let key = || SecretBytes::new(vec![9; 32]);
    // Without persist nothing is written.
    block_on(SecretCache::new(&kms).get("app/db")).unwrap();
    assert!(!dir.exists());
    assert_eq!(
        SecretCache::new(&kms)
            .persist(&dir, SecretBytes::new(vec![9; 16]))
            .err()
            .unwrap()
            .code(),
        "InvalidParameter.CacheKey"
    );
    let a = SecretCache::new(&kms).persist(&dir, key()).unwrap();
    block_on(a.get("app/db")).unwrap();
    block_on(a.get("app/bin")).unwrap();
    let file = dir.join(secret_cache_file::file_name("app/db", ACS_CURRENT));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..5], b"SRSC\x01");
    assert!(
        !bytes.windows(6).any(|w| w == b"SRLEAK"),
        "the copy is sealed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(dir.metadata().unwrap().permissions().mode() & 0o777, 0o700);
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        2,
        "no temp file left"
    );

    // The KMS refuses now (the CMK is disabled): a restarted process serves the copies.
    block_on(kms.disable_key(&cmk)).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let b = SecretCache::new(&kms)
        .persist(&dir, key())
        .unwrap()
        .on_event(Box::new(move |e| {
            seen.lock()
                .unwrap()
                .push((e.kind, e.error.as_ref().map(|x| x.code())))
        }));
    assert_eq!(
        block_on(b.get("app/db")).unwrap().secret_data.expose(),
        b"SRLEAK-disk-copy-7d1"
    );
    let bin = block_on(b.get("app/bin")).unwrap();
    assert_eq!(bin.secret_data.expose(), "\u{1}\u{2}SRLEAK-bin".as_bytes());
    assert_eq!(bin.secret_data_type, SecretDataType::Binary);
    assert_eq!(bin.version_stages, vec![ACS_CURRENT.to_string()]);
    assert_eq!(
        b.last_error("app/db").unwrap().code(),
        "Forbidden.KeyDisabled"
    );
    assert_eq!(
        events.lock().unwrap()[..2],
        [
            (K::Error, Some("Forbidden.KeyDisabled")),
            (K::Stale, Some("Forbidden.KeyDisabled"))
        ]
    );
    // Another key: the copy does not open, the KMS's error is the answer.
    let other = SecretCache::new(&kms)
        .persist(&dir, SecretBytes::new(vec![8; 32]))
        .unwrap();
    assert_eq!(
        block_on(other.get("app/db")).unwrap_err().code(),
        "Forbidden.KeyDisabled"
    );
    // Another secret's file put in this one's place does not open either.
    let bin_file = dir.join(secret_cache_file::file_name("app/bin", ACS_CURRENT));
    std::fs::copy(&file, dir.join("keep")).unwrap();
    std::fs::copy(&bin_file, &file).unwrap();
    let c = SecretCache::new(&kms).persist(&dir, key()).unwrap();
    assert_eq!(
        block_on(c.get("app/db")).unwrap_err().code(),
        "Forbidden.KeyDisabled"
    );
    // A changed byte: not served.
    let mut bad = std::fs::read(dir.join("keep")).unwrap();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    std::fs::write(&file, &bad).unwrap();
    let c = SecretCache::new(&kms).persist(&dir, key()).unwrap();
    assert_eq!(
        block_on(c.get("app/db")).unwrap_err().code(),
        "Forbidden.KeyDisabled"
    );
    // Too old: not served (24 hours by default, or as set).
    std::fs::copy(dir.join("keep"), &file).unwrap();
    clock.advance(3_600_000);
    let young = SecretCache::new(&kms)
        .persist(&dir, key())
        .unwrap()
        .persist_max_age_ms(7_200_000);
    block_on(young.get("app/db")).unwrap();
    let old = SecretCache::new(&kms)
        .persist(&dir, key())
        .unwrap()
        .persist_max_age_ms(1_800_000);
    assert_eq!(
        block_on(old.get("app/db")).unwrap_err().code(),
        "Forbidden.KeyDisabled"
    );
    clock.advance(DAY);
    assert!(
        block_on(
            SecretCache::new(&kms)
                .persist(&dir, key())
                .unwrap()
                .get("app/db")
        )
        .is_err()
    );
    // invalidate removes the copies.
    std::fs::remove_file(dir.join("keep")).unwrap();
    let d = SecretCache::new(&kms).persist(&dir, key()).unwrap();
    d.invalidate(Some("app/db"));
    assert!(!file.exists() && bin_file.exists());
    d.invalidate(None);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `Kms::run_due` carries out a due automatic rotation with no action called: an idle
/// process (or `strongroom serve`'s sweeper) rotates on the clock.
#[test]
fn run_due_rotates_on_the_clock_without_a_call() {
    let (kms, clock, _s) = fresh();
    block_on(kms.create_secret(CreateSecretRequest {
        secret_name: "idle".into(),
        version_id: "v1".into(),
        secret_data: SecretBytes::from_slice(b"first"),
        extended_config: Some(r#"{"RotationMethod": "RandomPassword"}"#.into()),
        enable_automatic_rotation: true,
        rotation_interval: Some("1d".into()),
        ..Default::default()
    }))
    .unwrap();
    let records = || kms.store_info().unwrap().journal_records;
    let before = records();
    clock.advance(DAY + 1);
    assert_eq!(records(), before, "nothing happens by itself");
    block_on(kms.run_due()).unwrap();
    assert!(records() > before, "run_due wrote the rotation");
    let after = records();
    block_on(kms.run_due()).unwrap();
    assert_eq!(records(), after, "nothing more is due");
    let v = block_on(kms.list_secret_version_ids(ListSecretVersionIdsRequest {
        secret_name: "idle".into(),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(v.version_ids.len(), 2);
    assert_ne!(get(&kms, "idle"), "first");
}
