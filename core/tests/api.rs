#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The action layer: the table, `Kms::call`, and the hook that sees every call
//! (resolved resources, outcome) from every entry point of the Rust API.

mod common;

use std::sync::{Arc, Mutex};

use common::{Backend, memory};
use pollster::block_on;
use strongroom::api::{
    Action, CallHook, CallRecord, Caller, DescribeKeyRequest, DescribeServiceRequest, Family,
    Request, Resource, Response, Target,
};
use strongroom::{
    CreateKeyRequest, DecryptEnvelopeRequest, DecryptRequest, EncryptEnvelopeRequest,
    EncryptRequest, EncryptionContext, Error, GenerateDataKeyRequest, KeySpec, KeyUsage,
    ListKeysRequest,
};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    principal: String,
    request_id: String,
    action: Action,
    resources: Vec<Resource>,
    outcome: Result<(), String>,
}

/// Records every call; denies `deny` (action, KeyId) pairs.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    deny: Mutex<Vec<(Action, String)>>,
}

impl CallHook for Recorder {
    fn authorize(
        &self,
        _caller: &Caller,
        action: Action,
        resource: &Resource,
    ) -> strongroom::Result<()> {
        if let Resource::Key(id) = resource
            && self
                .deny
                .lock()
                .unwrap()
                .iter()
                .any(|(a, k)| *a == action && k == id)
        {
            return Err(Error::AccessDenied {
                action: action.name(),
                resource: resource.arn(),
            });
        }
        Ok(())
    }

    fn record(&self, r: &CallRecord<'_>) {
        self.seen.lock().unwrap().push(Seen {
            principal: r.caller.principal.clone(),
            request_id: r.request_id.to_string(),
            action: r.action,
            resources: r.resources.to_vec(),
            outcome: r.outcome.map_err(|e| e.code().to_string()),
        });
    }
}

fn take(rec: &Recorder) -> Vec<Seen> {
    std::mem::take(&mut *rec.seen.lock().unwrap())
}

#[test]
fn the_table_names_every_action_once() {
    let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "an action name appears twice");
    for a in Action::ALL {
        assert_eq!(a.name().parse::<Action>().unwrap(), *a);
    }
    assert_eq!(
        "NoSuchAction".parse::<Action>().unwrap_err().code(),
        "InvalidAction.NotFound"
    );
    assert_eq!(Action::Encrypt.family(), Family::Crypto);
    assert!(!Action::Encrypt.mutates());
    assert!(Action::CreateKey.mutates());
    assert_eq!(Action::Decrypt.target(), Target::Blob);
    assert_eq!(Action::DecryptEnvelope.target(), Target::EnvelopeHeader);
    assert!(
        Action::GenerateDataKey
            .sensitive_fields()
            .contains(&"Plaintext")
    );
    assert!(Action::DescribeKey.sensitive_fields().is_empty());
}

#[test]
fn requests_and_responses_print_no_secret() {
    let req = Request::Encrypt(EncryptRequest {
        key_id: "k".into(),
        plaintext: b"attack at dawn".to_vec(),
        encryption_context: EncryptionContext::default(),
    });
    let shown = format!("{req:?}");
    assert_eq!(shown, "Request::Encrypt { .. }");
    assert!(!shown.contains("attack"));
}

#[test]
fn a_mixed_workload_is_recorded_call_by_call() {
    let (kms, _) = memory(Backend::Software);
    let rec = Arc::new(Recorder::default());
    kms.set_call_hook(Some(rec.clone()));

    let key = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_alias("alias/app", &key.key_id)).unwrap();
    let ctx = EncryptionContext::from_pairs([("app", "test")]).unwrap();
    let enc = block_on(kms.encrypt(EncryptRequest {
        key_id: "alias/app".into(),
        plaintext: b"hello".to_vec(),
        encryption_context: ctx.clone(),
    }))
    .unwrap();
    block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: enc.ciphertext_blob.clone(),
        encryption_context: ctx.clone(),
    }))
    .unwrap();
    block_on(kms.generate_data_key(GenerateDataKeyRequest {
        key_id: key.key_id.clone(),
        ..Default::default()
    }))
    .unwrap();
    let msg = block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: vec!["alias/app".into()],
        plaintext: vec![7; 3000],
        encryption_context: ctx.clone(),
        frame_length: Some(1024),
        ..Default::default()
    }))
    .unwrap();
    block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: msg.clone(),
        encryption_context: Some(ctx.clone()),
        ..Default::default()
    }))
    .unwrap();
    // Streaming faces: begin and open go through the same dispatch.
    let mut sink = Vec::new();
    block_on(kms.encrypt_stream(
        &EncryptEnvelopeRequest {
            key_ids: vec![key.key_id.clone()],
            ..Default::default()
        },
        &mut &b"streamed"[..],
        &mut sink,
    ))
    .unwrap();
    let mut out = Vec::new();
    block_on(kms.decrypt_stream(&mut &sink[..], &mut out, None)).unwrap();
    assert_eq!(out, b"streamed");
    block_on(kms.list_keys(ListKeysRequest::default())).unwrap();
    kms.get_random_password(&Default::default()).unwrap();
    let missing = block_on(kms.describe_key("no-such-key")).unwrap_err();
    assert_eq!(missing.code(), "Forbidden.KeyNotFound");
    block_on(kms.disable_key(&key.key_id)).unwrap();
    let disabled = block_on(kms.encrypt(EncryptRequest {
        key_id: key.key_id.clone(),
        plaintext: b"x".to_vec(),
        encryption_context: ctx.clone(),
    }))
    .unwrap_err();
    assert_eq!(disabled.code(), "Forbidden.KeyDisabled");

    let seen = take(&rec);
    let k = Resource::Key(key.key_id.clone());
    let alias = Resource::Alias("alias/app".into());
    let expect: Vec<(Action, Vec<Resource>, Result<(), String>)> = vec![
        (
            Action::CreateKey,
            vec![Resource::Instance, k.clone()],
            Ok(()),
        ),
        (Action::CreateAlias, vec![k.clone(), alias.clone()], Ok(())),
        (Action::Encrypt, vec![alias.clone(), k.clone()], Ok(())),
        (Action::Decrypt, vec![k.clone()], Ok(())),
        (Action::GenerateDataKey, vec![k.clone()], Ok(())),
        (
            Action::EncryptEnvelope,
            vec![alias.clone(), k.clone()],
            Ok(()),
        ),
        (Action::DecryptEnvelope, vec![k.clone()], Ok(())),
        (Action::EncryptEnvelope, vec![k.clone()], Ok(())),
        (Action::DecryptEnvelope, vec![k.clone()], Ok(())),
        (Action::ListKeys, vec![Resource::Instance], Ok(())),
        (Action::GetRandomPassword, vec![Resource::Instance], Ok(())),
        (
            Action::DescribeKey,
            vec![],
            Err("Forbidden.KeyNotFound".into()),
        ),
        (Action::DisableKey, vec![k.clone()], Ok(())),
        (
            Action::Encrypt,
            vec![k.clone()],
            Err("Forbidden.KeyDisabled".into()),
        ),
    ];
    let got: Vec<_> = seen
        .iter()
        .map(|s| (s.action, s.resources.clone(), s.outcome.clone()))
        .collect();
    assert_eq!(got, expect);
    for s in &seen {
        assert_eq!(s.principal, "owner");
        assert_eq!(s.request_id.len(), 36, "a drawn UUID request id");
    }
    let mut ids: Vec<_> = seen.iter().map(|s| s.request_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), seen.len(), "request ids are unique");
}

#[test]
fn call_takes_the_caller_and_a_request() {
    let (kms, _) = memory(Backend::Software);
    let rec = Arc::new(Recorder::default());
    kms.set_call_hook(Some(rec.clone()));
    // A RAM user whose policy lets it create and describe keys.
    let user = block_on(kms.call(
        &Caller::owner(),
        Request::CreateUser(strongroom::CreateUserRequest {
            user_name: "ingest".into(),
            ..Default::default()
        }),
    ))
    .unwrap();
    let Response::CreateUser(user) = user else {
        panic!()
    };
    block_on(kms.call(
        &Caller::owner(),
        Request::AttachPolicyToUser(strongroom::AttachPolicyRequest {
            policy_type: strongroom::access::PolicyType::System,
            policy_name: "StrongroomKeyAdministrator".into(),
            principal_name: "ingest".into(),
        }),
    ))
    .unwrap();
    take(&rec);
    let caller = Caller::new(user.arn.clone()).with_request_id("req-1");
    let created =
        block_on(kms.call(&caller, Request::CreateKey(CreateKeyRequest::default()))).unwrap();
    let Response::CreateKey(meta) = created else {
        panic!("CreateKey answered {created:?}")
    };
    let described = block_on(kms.call(
        &caller,
        Request::DescribeKey(DescribeKeyRequest {
            key_id: format!("acs:kms:strongroom:local:key/{}", meta.key_id),
        }),
    ))
    .unwrap();
    let Response::DescribeKey(d) = described else {
        panic!()
    };
    assert_eq!(d, meta);
    let seen = take(&rec);
    assert_eq!(seen.len(), 2);
    // Another principal, unknown to the store, is refused (default deny).
    assert_eq!(
        block_on(kms.call(
            &Caller::new("acs:ram::1234567890123456:user/nobody"),
            Request::DescribeKey(DescribeKeyRequest {
                key_id: meta.key_id.clone()
            }),
        ))
        .unwrap_err()
        .code(),
        "Forbidden.NoPermission"
    );
    assert!(
        seen.iter()
            .all(|s| s.principal == caller.principal && s.request_id == "req-1")
    );
    assert_eq!(seen[1].resources, vec![Resource::Key(meta.key_id.clone())]);
}

#[test]
fn a_denied_resource_is_refused_and_recorded() {
    let (kms, _) = memory(Backend::Software);
    let rec = Arc::new(Recorder::default());
    let a = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let b = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    kms.set_call_hook(Some(rec.clone()));
    rec.deny
        .lock()
        .unwrap()
        .push((Action::Encrypt, a.key_id.clone()));
    rec.deny
        .lock()
        .unwrap()
        .push((Action::DecryptEnvelope, a.key_id.clone()));

    let e = block_on(kms.encrypt(EncryptRequest {
        key_id: a.key_id.clone(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.NoPermission");
    // The other key still works.
    block_on(kms.encrypt(EncryptRequest {
        key_id: b.key_id.clone(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap();

    // An envelope to both keys opens through the stanza the caller may use (b), not a.
    let msg = block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: vec![a.key_id.clone(), b.key_id.clone()],
        plaintext: b"both".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    let opened = block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: msg,
        encryption_context: None,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(opened.info.key_id, b.key_id);
    // To a alone: refused with the denial's code.
    let only_a = block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
        key_ids: vec![a.key_id.clone()],
        plaintext: b"a".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    let e = block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: only_a,
        encryption_context: None,
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.NoPermission");

    let seen = take(&rec);
    let outcomes: Vec<_> = seen.iter().map(|s| (s.action, s.outcome.clone())).collect();
    assert_eq!(
        outcomes,
        vec![
            (Action::Encrypt, Err("Forbidden.NoPermission".into())),
            (Action::Encrypt, Ok(())),
            (Action::EncryptEnvelope, Ok(())),
            (Action::DecryptEnvelope, Ok(())),
            (Action::EncryptEnvelope, Ok(())),
            (
                Action::DecryptEnvelope,
                Err("Forbidden.NoPermission".into())
            ),
        ]
    );
    // The refused Encrypt names the key it refused.
    assert_eq!(seen[0].resources, vec![Resource::Key(a.key_id.clone())]);
    // The envelope open tried a (refused), then b.
    assert_eq!(
        seen[3].resources,
        vec![
            Resource::Key(a.key_id.clone()),
            Resource::Key(b.key_id.clone())
        ]
    );
}

#[test]
fn an_alias_is_resolved_once_and_the_request_acts_on_that_key() {
    // One thread flips an alias between key a (allowed) and key b (denied) while
    // another encrypts through the alias: every Encrypt that succeeds must have used
    // the key that was authorised (a), never b. Service code that resolved the alias
    // again after the check would let b through.
    let (kms, _) = memory(Backend::Software);
    let a = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let b = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    block_on(kms.create_alias("alias/moving", &a.key_id)).unwrap();
    let rec = Arc::new(Recorder::default());
    rec.deny
        .lock()
        .unwrap()
        .push((Action::Encrypt, b.key_id.clone()));
    kms.set_call_hook(Some(rec.clone()));
    let kms = Arc::new(kms);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (kms, stop, a, b) = (
            kms.clone(),
            stop.clone(),
            a.key_id.clone(),
            b.key_id.clone(),
        );
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let to = if n.is_multiple_of(2) { &b } else { &a };
                block_on(kms.update_alias("alias/moving", to)).unwrap();
                n += 1;
            }
            n
        })
    };
    let (mut ok, mut denied) = (0, 0);
    for _ in 0..10_000 {
        match block_on(kms.encrypt(EncryptRequest {
            key_id: "alias/moving".into(),
            plaintext: b"x".to_vec(),
            ..Default::default()
        })) {
            Ok(r) => {
                assert_eq!(
                    r.key_id, a.key_id,
                    "encrypted under a key that was not authorised"
                );
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), "Forbidden.NoPermission");
                denied += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    assert!(
        flips > 0 && ok + denied == 10_000,
        "flips {flips}, ok {ok}, denied {denied}"
    );
}

#[test]
fn describe_service_says_what_this_build_offers() {
    let (kms, _) = memory(Backend::Software);
    let r = block_on(kms.call(
        &Caller::owner(),
        Request::DescribeService(DescribeServiceRequest {}),
    ))
    .unwrap();
    let Response::DescribeService(s) = r else {
        panic!()
    };
    assert_eq!(
        s.protection_levels,
        vec![strongroom::ProtectionLevel::Software]
    );
    assert!(
        s.key_specs
            .iter()
            .any(|k| k.name == KeySpec::Aes256 && k.usages == vec![KeyUsage::EncryptDecrypt])
    );
    let asym = strongroom::asym::AVAILABLE;
    assert_eq!(
        s.key_specs.iter().any(|k| k.name == KeySpec::EcP256),
        asym,
        "EC specs exactly when this build has an EC implementation"
    );
    assert_eq!(s.actions.len(), Action::ALL.len());
    assert!(s.actions.contains(&"DescribeService"));
    // Every spec it lists can be created.
    for spec in &s.key_specs {
        let usage = spec.usages[0];
        block_on(kms.create_key(CreateKeyRequest {
            key_spec: Some(spec.name),
            key_usage: Some(usage),
            ..Default::default()
        }))
        .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
    }
}

#[test]
fn the_data_key_cache_hit_path_goes_through_the_same_check() {
    let (kms, _) = memory(Backend::Software);
    kms.set_data_key_cache(Some(strongroom::DataKeyCacheConfig::default()));
    let a = block_on(kms.create_key(CreateKeyRequest::default())).unwrap();
    let rec = Arc::new(Recorder::default());
    kms.set_call_hook(Some(rec.clone()));
    let encrypt = || {
        block_on(kms.encrypt_envelope(EncryptEnvelopeRequest {
            key_ids: vec![a.key_id.clone()],
            plaintext: b"cached".to_vec(),
            ..Default::default()
        }))
    };
    let m1 = encrypt().unwrap();
    let m2 = encrypt().unwrap();
    // The second message reused the cached data key (same stanza bytes).
    let h1 = strongroom::envelope::parse_whole_header(&m1).unwrap().0;
    let h2 = strongroom::envelope::parse_whole_header(&m2).unwrap().0;
    assert_eq!(
        h1.stanzas, h2.stanzas,
        "the cache served the second message"
    );
    let open = |m: &[u8]| {
        block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
            ciphertext: m.to_vec(),
            encryption_context: None,
            ..Default::default()
        }))
    };
    open(&m1).unwrap();
    // Now refuse the key: cached data keys must not bypass the check either way.
    rec.deny
        .lock()
        .unwrap()
        .push((Action::EncryptEnvelope, a.key_id.clone()));
    rec.deny
        .lock()
        .unwrap()
        .push((Action::DecryptEnvelope, a.key_id.clone()));
    assert_eq!(encrypt().unwrap_err().code(), "Forbidden.NoPermission");
    assert_eq!(open(&m2).unwrap_err().code(), "Forbidden.NoPermission");
}

#[test]
fn a_malformed_request_is_invalid_parameter_whatever_key_it_names() {
    // Parameters are checked before the target is resolved (Alibaba's order): a bad
    // parameter to a key that does not exist is still InvalidParameter.*.
    let (kms, _) = memory(Backend::Software);
    let missing = "5f0c7d7e-0000-4000-8000-000000000000".to_string();
    let code = |r: Request| block_on(kms.call(&Caller::owner(), r)).unwrap_err().code();
    assert_eq!(
        code(Request::Encrypt(EncryptRequest {
            key_id: missing.clone(),
            ..Default::default()
        })),
        "InvalidParameter.Plaintext"
    );
    assert_eq!(
        code(Request::Encrypt(EncryptRequest {
            key_id: missing.clone(),
            plaintext: vec![0; 6145],
            ..Default::default()
        })),
        "InvalidParameter.PlaintextTooLarge"
    );
    assert_eq!(
        code(Request::GenerateDataKey(GenerateDataKeyRequest {
            key_id: missing.clone(),
            number_of_bytes: Some(0),
            ..Default::default()
        })),
        "InvalidParameter.NumberOfBytes"
    );
    assert_eq!(
        code(Request::ScheduleKeyDeletion(
            strongroom::api::ScheduleKeyDeletionRequest {
                key_id: missing.clone(),
                pending_window_in_days: 3,
            }
        )),
        "InvalidParameter.PendingWindowInDays"
    );
    assert_eq!(
        code(Request::CreateAlias(strongroom::api::AliasRequest {
            alias_name: "no-prefix".into(),
            key_id: missing.clone(),
        })),
        "InvalidParameter.AliasName"
    );
    assert_eq!(
        code(Request::EncryptEnvelope(EncryptEnvelopeRequest {
            key_ids: vec![],
            plaintext: b"x".to_vec(),
            ..Default::default()
        })),
        "InvalidParameter.KeyIds"
    );
    assert_eq!(
        code(Request::EncryptEnvelope(EncryptEnvelopeRequest {
            key_ids: vec![missing.clone()],
            plaintext: b"x".to_vec(),
            frame_length: Some(0),
            ..Default::default()
        })),
        "InvalidParameter.FrameLength"
    );
    // A well-formed request to a missing key is KeyNotFound.
    assert_eq!(
        code(Request::Encrypt(EncryptRequest {
            key_id: missing,
            plaintext: b"x".to_vec(),
            ..Default::default()
        })),
        "Forbidden.KeyNotFound"
    );
}

#[test]
fn request_ids_stay_distinct_when_the_random_source_fails() {
    use std::sync::atomic::{AtomicBool, Ordering};
    struct Switch(Arc<AtomicBool>);
    impl strongroom::Entropy for Switch {
        fn fill(&self, buf: &mut [u8]) -> strongroom::Result<()> {
            if self.0.load(Ordering::SeqCst) {
                return Err(Error::EntropyUnavailable);
            }
            strongroom::env::OsEntropy.fill(buf)
        }
    }
    let broken = Arc::new(AtomicBool::new(false));
    let env = strongroom::Env::new(
        Arc::new(Switch(broken.clone())),
        Arc::new(strongroom::time::ManualClock::new(1_795_392_000_000)),
    );
    let kms = block_on(strongroom::Kms::memory(env, None)).unwrap();
    let rec = Arc::new(Recorder::default());
    kms.set_call_hook(Some(rec.clone()));
    broken.store(true, Ordering::SeqCst);
    block_on(kms.list_keys(ListKeysRequest::default())).unwrap();
    block_on(kms.list_keys(ListKeysRequest::default())).unwrap();
    let e = block_on(kms.create_key(CreateKeyRequest::default())).unwrap_err();
    assert_eq!(e.code(), "Rejected.EntropyUnavailable");
    let ids: Vec<String> = take(&rec).into_iter().map(|s| s.request_id).collect();
    assert_eq!(
        ids,
        vec![
            "strongroom-0000000000000000",
            "strongroom-0000000000000001",
            "strongroom-0000000000000002"
        ]
    );
}

/// GenerateRandom and Hash (the instance API's keyless actions) are actions of the
/// table: bounded, recorded by the hook, and refused to a principal no policy allows.
#[test]
fn generate_random_and_hash_go_through_the_dispatch() {
    use strongroom::SecretBytes;
    use strongroom::api::{HashAlgorithm, HashRequest};
    let (kms, _) = memory(Backend::Software);
    let rec = Arc::new(Recorder::default());
    kms.set_call_hook(Some(rec.clone()));
    let a = block_on(kms.generate_random(32)).unwrap();
    let b = block_on(kms.generate_random(32)).unwrap();
    assert_eq!(a.expose().len(), 32);
    assert_ne!(a.expose(), b.expose());
    assert_eq!(
        block_on(kms.generate_random(1024)).unwrap().expose().len(),
        1024
    );
    for bad in [0, 1025, u32::MAX] {
        assert_eq!(
            block_on(kms.generate_random(bad)).unwrap_err().code(),
            "InvalidParameter.Length"
        );
    }
    // FIPS 180-2's "abc" vectors.
    let abc = |algorithm| {
        block_on(kms.hash(HashRequest {
            algorithm,
            message: SecretBytes::from_slice(b"abc"),
        }))
        .unwrap()
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(&abc(HashAlgorithm::Sha256).digest),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(hex(&abc(HashAlgorithm::Sha384).digest).starts_with("cb00753f45a35e8b"));
    assert!(hex(&abc(HashAlgorithm::Sha512).digest).starts_with("ddaf35a193617aba"));
    assert_eq!(abc(HashAlgorithm::Sha512).algorithm.as_str(), "SHA-512");
    for spelled in ["SHA-256", "sha256", "SHA_256"] {
        assert_eq!(
            spelled.parse::<HashAlgorithm>().unwrap(),
            HashAlgorithm::Sha256
        );
    }
    assert_eq!(
        "SM3".parse::<HashAlgorithm>().unwrap_err().code(),
        "InvalidParameter.Algorithm"
    );
    let big = block_on(kms.hash(HashRequest {
        message: SecretBytes::from_slice(&vec![0u8; (4 << 20) + 1]),
        ..Default::default()
    }));
    assert_eq!(big.unwrap_err().code(), "InvalidParameter.Message");
    let seen = take(&rec);
    assert!(
        seen.iter()
            .any(|s| s.action == Action::GenerateRandom && s.resources == [Resource::Instance])
    );
    assert!(
        seen.iter()
            .any(|s| s.action == Action::Hash && s.outcome.is_ok())
    );
    // A RAM user with no policy may do neither.
    block_on(kms.call(
        &Caller::owner(),
        Request::CreateUser(strongroom::CreateUserRequest {
            user_name: "nobody".into(),
            ..Default::default()
        }),
    ))
    .unwrap();
    let Response::GetUser(u) = block_on(kms.call(
        &Caller::owner(),
        Request::GetUser(strongroom::UserNameRequest {
            user_name: "nobody".into(),
        }),
    ))
    .unwrap() else {
        panic!()
    };
    let nobody = Caller::new(format!("acs:ram::{}:user/nobody", u.account_id));
    for r in [
        Request::GenerateRandom(strongroom::api::GenerateRandomRequest { length: 16 }),
        Request::Hash(HashRequest::default()),
    ] {
        assert_eq!(
            block_on(kms.call(&nobody, r)).err().unwrap().code(),
            "Forbidden.NoPermission"
        );
    }
}
