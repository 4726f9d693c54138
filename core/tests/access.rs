//! Who may do what, and the audit trail: the shared decision table
//! (tests/vectors/access_decisions_v1.json), enforcement at the dispatch, AccessKeys
//! and AssumeRole, bad policies, persistence, the seed's three roles, and every kind
//! of audit tampering.
#![cfg(all(feature = "wire", any(feature = "aws-lc", feature = "rustcrypto-asym")))]

use std::collections::BTreeMap;
use std::sync::Arc;

use pollster::block_on;
use serde_json::{Map, Value, json};
use strongroom::access::AuditLevel;
use strongroom::api::{Action, Caller};
use strongroom::audit::{self, AuditOptions, MemoryAuditSink};
use strongroom::env::OsEntropy;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{Env, Kms, KmsOptions, RootSecret};

const T0: u64 = 1_795_392_000_000; // 2026-11-23

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

fn fresh() -> (Kms, Arc<ManualClock>, Arc<MemoryStorage>) {
    let clock = Arc::new(ManualClock::new(T0));
    let storage = Arc::new(MemoryStorage::new());
    (open(&clock, &storage), clock, storage)
}

/// One wire call as `caller`: the answer, or the error's code.
fn call(kms: &Kms, caller: &Caller, action: &str, params: Value) -> Result<Value, String> {
    let action: Action = action
        .parse()
        .map_err(|e: strongroom::Error| e.code().to_string())?;
    let Value::Object(m) = params else {
        panic!("params must be an object")
    };
    block_on(kms.call_wire(caller, action, &m)).map_err(|e| e.code().to_string())
}

fn owner(kms: &Kms, action: &str, params: Value) -> Value {
    call(kms, &Caller::owner(), action, params)
        .unwrap_or_else(|e| panic!("{action} as the owner failed: {e}"))
}

fn subst(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = s.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

fn subst_value(v: &Value, vars: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(subst(s, vars)),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), subst_value(v, vars)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| subst_value(v, vars)).collect()),
        other => other.clone(),
    }
}

fn table() -> Value {
    serde_json::from_str(include_str!("../../tests/vectors/access_decisions_v1.json")).unwrap()
}

/// Runs the table's fixture as the owner; returns the saved values.
fn fixture(kms: &Kms) -> BTreeMap<String, String> {
    let t = table();
    let mut vars = BTreeMap::new();
    for step in t["fixture"].as_array().unwrap() {
        let params = subst_value(&step["params"], &vars);
        let out = owner(kms, step["action"].as_str().unwrap(), params);
        if let Some(save) = step.get("save").and_then(Value::as_object) {
            for (name, path) in save {
                let mut v = &out;
                for part in path.as_str().unwrap().split('.') {
                    v = &v[part];
                }
                vars.insert(name.clone(), v.as_str().unwrap().to_string());
            }
        }
    }
    vars
}

fn simulate_params(c: &Value, vars: &BTreeMap<String, String>) -> Value {
    let mut p = Map::new();
    p.insert(
        "PrincipalArn".into(),
        json!(subst(c["principal"].as_str().unwrap(), vars)),
    );
    p.insert("ActionName".into(), c["action"].clone());
    if let Some(r) = c.get("resource").and_then(Value::as_str) {
        p.insert("ResourceArn".into(), json!(subst(r, vars)));
    }
    if let Some(ec) = c.get("encryptionContext") {
        p.insert("EncryptionContext".into(), json!(ec.to_string()));
    }
    for (from, to) in [
        ("sourceIp", "SourceIp"),
        ("currentTime", "CurrentTime"),
        ("credentialExpiration", "CredentialExpiration"),
        ("secureTransport", "SecureTransport"),
    ] {
        if let Some(v) = c.get(from) {
            p.insert(to.into(), v.clone());
        }
    }
    Value::Object(p)
}

#[test]
fn the_decision_table_holds() {
    let (kms, _, _) = fresh();
    let vars = fixture(&kms);
    let t = table();
    let cases = t["cases"].as_array().unwrap();
    assert!(cases.len() >= 200, "the table has {} cases", cases.len());
    let mut wrong = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let out = owner(&kms, "SimulatePolicy", simulate_params(c, &vars));
        let got = out["Decision"].as_str().unwrap();
        let want = c["expect"].as_str().unwrap();
        let code_ok = c
            .get("code")
            .is_none_or(|code| out["ErrorCode"].as_str() == code.as_str());
        if got != want || !code_ok {
            wrong.push(format!("case {i}: {c} → {out}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// The same decisions hold for real calls, not only simulated ones.
#[test]
fn real_calls_are_decided_as_simulated() {
    let (kms, _, _) = fresh();
    let vars = fixture(&kms);
    let t = table();
    let mut checked = 0;
    for c in t["cases"].as_array().unwrap() {
        let action = c["action"].as_str().unwrap();
        // Harmless actions without request conditions, run for real.
        if !matches!(
            action,
            "DescribeKey"
                | "GenerateDataKey"
                | "Encrypt"
                | "DescribeSecret"
                | "GetSecretValue"
                | "ListKeys"
        ) || c.get("encryptionContext").is_some()
            || c.get("sourceIp").is_some()
            || c.get("credentialExpiration").is_some()
            || c.get("currentTime").and_then(Value::as_str) != Some("2026-12-02T12:00:00Z")
        {
            continue;
        }
        let principal = subst(c["principal"].as_str().unwrap(), &vars);
        let caller = Caller::new(principal);
        let res = c
            .get("resource")
            .and_then(Value::as_str)
            .map(|r| subst(r, &vars));
        let params = match (action, res.as_deref()) {
            ("ListKeys", _) => json!({}),
            ("Encrypt", Some(k)) => json!({"KeyId": k, "Plaintext": "aGk="}),
            ("DescribeSecret" | "GetSecretValue", Some(s)) => json!({"SecretName": s}),
            (_, Some(k)) => json!({"KeyId": k}),
            _ => continue,
        };
        let got = call(&kms, &caller, action, params);
        let want_allow = c["expect"] == "Allow";
        match (&got, want_allow) {
            (Ok(_), true) => {}
            (Err(code), false) if code == "Forbidden.NoPermission" => {}
            _ => panic!("{c}: the real call gave {got:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 60, "only {checked} real calls checked");
}

#[test]
fn access_keys_authenticate_and_can_be_turned_off() {
    let (kms, _, _) = fresh();
    owner(&kms, "CreateUser", json!({"UserName": "svc"}));
    owner(
        &kms,
        "AttachPolicyToUser",
        json!({"PolicyType": "System", "PolicyName": "StrongroomKeyUser", "UserName": "svc"}),
    );
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let ak = owner(&kms, "CreateAccessKey", json!({"UserName": "svc"}));
    let id = ak["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string();
    let secret = ak["AccessKey"]["AccessKeySecret"]
        .as_str()
        .unwrap()
        .to_string();
    // Listed without its secret.
    let list = owner(&kms, "ListAccessKeys", json!({"UserName": "svc"}));
    assert!(
        list["AccessKeys"]["AccessKey"][0]
            .get("AccessKeySecret")
            .is_none()
    );
    assert_eq!(list["AccessKeys"]["AccessKey"][0]["AccessKeyId"], json!(id));

    let caller = kms.authenticate(&id, secret.as_bytes(), None).unwrap();
    assert!(caller.principal.ends_with(":user/svc"));
    call(
        &kms,
        &caller,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "aGk="}),
    )
    .unwrap();
    assert_eq!(
        call(&kms, &caller, "CreateKey", json!({})).unwrap_err(),
        "Forbidden.NoPermission"
    );
    assert_eq!(
        kms.authenticate(&id, b"wrong", None).unwrap_err().code(),
        "Forbidden.NoPermission"
    );
    assert_eq!(
        kms.authenticate("LTAInope", secret.as_bytes(), None)
            .unwrap_err()
            .code(),
        "InvalidAccessKeyId.NotFound"
    );
    owner(
        &kms,
        "UpdateAccessKey",
        json!({"UserName": "svc", "UserAccessKeyId": id, "Status": "Inactive"}),
    );
    assert_eq!(
        kms.authenticate(&id, secret.as_bytes(), None)
            .unwrap_err()
            .code(),
        "InvalidAccessKeyId.NotFound"
    );
    // A user with keys or policies is not deleted.
    assert_eq!(
        call(
            &kms,
            &Caller::owner(),
            "DeleteUser",
            json!({"UserName": "svc"})
        )
        .unwrap_err(),
        "DeleteConflict.User.Policy"
    );
    owner(
        &kms,
        "DetachPolicyFromUser",
        json!({"PolicyType": "System", "PolicyName": "StrongroomKeyUser", "UserName": "svc"}),
    );
    assert_eq!(
        call(
            &kms,
            &Caller::owner(),
            "DeleteUser",
            json!({"UserName": "svc"})
        )
        .unwrap_err(),
        "DeleteConflict.User.AccessKey"
    );
    owner(
        &kms,
        "DeleteAccessKey",
        json!({"UserName": "svc", "UserAccessKeyId": id}),
    );
    owner(&kms, "DeleteUser", json!({"UserName": "svc"}));
    assert_eq!(
        call(
            &kms,
            &Caller::owner(),
            "GetUser",
            json!({"UserName": "svc"})
        )
        .unwrap_err(),
        "EntityNotExist.User"
    );
}

#[test]
fn assume_role_gives_credentials_that_expire() {
    let (kms, clock, _) = fresh();
    let acct = owner(&kms, "CreateUser", json!({"UserName": "web"}))["User"]["AccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    // The trust policy trusts the account: its identities need sts:AssumeRole too.
    let trust = json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"RAM": [format!("acs:ram::{acct}:root")]}}]});
    owner(
        &kms,
        "CreateRole",
        json!({"RoleName": "decryptor", "AssumeRolePolicyDocument": trust.to_string()}),
    );
    owner(
        &kms,
        "CreatePolicy",
        json!({"PolicyName": "dec", "PolicyDocument": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"}]}}),
    );
    owner(
        &kms,
        "AttachPolicyToRole",
        json!({"PolicyType": "Custom", "PolicyName": "dec", "RoleName": "decryptor"}),
    );
    let web = Caller::new(format!("acs:ram::{acct}:user/web"));
    let role_arn = format!("acs:ram::{acct}:role/decryptor");
    assert_eq!(
        call(
            &kms,
            &web,
            "AssumeRole",
            json!({"RoleArn": role_arn, "RoleSessionName": "tab-1"})
        )
        .unwrap_err(),
        "Forbidden.NoPermission"
    );
    owner(
        &kms,
        "CreatePolicy",
        json!({"PolicyName": "assume", "PolicyDocument": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}}),
    );
    owner(
        &kms,
        "AttachPolicyToUser",
        json!({"PolicyType": "Custom", "PolicyName": "assume", "UserName": "web"}),
    );
    for bad in [899, 3601] {
        assert_eq!(
            call(
                &kms,
                &web,
                "AssumeRole",
                json!({"RoleArn": role_arn, "RoleSessionName": "tab-1", "DurationSeconds": bad})
            )
            .unwrap_err(),
            "InvalidParameter.DurationSeconds"
        );
    }
    let creds = call(
        &kms,
        &web,
        "AssumeRole",
        json!({"RoleArn": role_arn, "RoleSessionName": "tab-1", "DurationSeconds": 900}),
    )
    .unwrap();
    let c = &creds["Credentials"];
    let id = c["AccessKeyId"].as_str().unwrap();
    assert!(id.starts_with("STS."));
    assert_eq!(c["Expiration"], json!("2026-11-23T00:15:00Z"));
    let secret = c["AccessKeySecret"].as_str().unwrap();
    let token = c["SecurityToken"].as_str().unwrap();
    let session = kms
        .authenticate(id, secret.as_bytes(), Some(token))
        .unwrap();
    assert_eq!(
        session.principal,
        format!("acs:ram::{acct}:assumed-role/decryptor/tab-1")
    );
    let blob = call(
        &kms,
        &session,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "aGk="}),
    )
    .unwrap();
    call(
        &kms,
        &session,
        "Decrypt",
        json!({"CiphertextBlob": blob["CiphertextBlob"]}),
    )
    .unwrap();
    assert_eq!(
        call(&kms, &session, "DescribeKey", json!({"KeyId": key})).unwrap_err(),
        "Forbidden.NoPermission"
    );
    // A token altered, or used with another id, is refused.
    let mut t2 = token.to_string();
    t2.pop();
    t2.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(
        kms.authenticate(id, secret.as_bytes(), Some(&t2))
            .unwrap_err()
            .code()
            .starts_with("InvalidSecurityToken")
    );
    assert_eq!(
        kms.authenticate(id, secret.as_bytes(), None)
            .unwrap_err()
            .code(),
        "InvalidSecurityToken.Malformed"
    );
    // Past its Expiration: both new authentication and a caller held from before.
    clock.advance(15 * 60 * 1000);
    assert_eq!(
        kms.authenticate(id, secret.as_bytes(), Some(token))
            .unwrap_err()
            .code(),
        "InvalidSecurityToken.Expired"
    );
    assert_eq!(
        call(
            &kms,
            &session,
            "Encrypt",
            json!({"KeyId": key, "Plaintext": "aGk="})
        )
        .unwrap_err(),
        "InvalidSecurityToken.Expired"
    );
}

#[test]
fn bad_policies_are_refused_and_change_nothing() {
    let (kms, _, _) = fresh();
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let before = owner(
        &kms,
        "GetKeyPolicy",
        json!({"KeyId": key, "PolicyName": "default"}),
    )["Policy"]
        .clone();
    let acct = owner(&kms, "DescribeAuditConfig", json!({}))["AccountId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(acct.len(), 16);
    let cases: Vec<(Value, &str)> = vec![
        (json!("{not json"), "InvalidParameter.PolicyDocument"),
        (
            json!(r#"{"Version":"2","Statement":[]}"#),
            "InvalidParameter.PolicyDocument",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Maybe","Action":"kms:*","Resource":"*","Principal":"*"}]}"#
            ),
            "InvalidParameter.PolicyDocument",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}"#
            ),
            "InvalidParameter.PolicyDocument",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypts","Resource":"*","Principal":"*"}]}"#
            ),
            "InvalidParameter.PolicyAction",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*","Principal":"*"}]}"#
            ),
            "InvalidParameter.PolicyAction",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":"*","Condition":{"StringSorta":{"acs:SourceIp":"1"}}}]}"#
            ),
            "InvalidParameter.PolicyCondition",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":"*","Condition":{"StringEquals":{"acs:Mood":"1"}}}]}"#
            ),
            "InvalidParameter.PolicyCondition",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/40"}}}]}"#
            ),
            "InvalidParameter.PolicyCondition",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"soon"}}}]}"#
            ),
            "InvalidParameter.PolicyCondition",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":{"AWS":"x"}}]}"#
            ),
            "InvalidParameter.PolicyDocument",
        ),
        (
            json!(format!(
                r#"{{"Version":"1","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"kms:*","Resource":"*","Principal":"*"}}]}}"#,
                "x".repeat(33_000)
            )),
            "InvalidParameter.PolicyTooLarge",
        ),
        (
            json!(format!(
                r#"{{"Version":"1","Statement":[{{"Effect":"Deny","Action":"kms:*","Resource":"*","Principal":{{"RAM":["acs:ram::{acct}:root"]}}}}]}}"#
            )),
            "Forbidden.PolicyLockout",
        ),
        (
            json!(
                r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"kms:SetKeyPolicy","Resource":"*","Principal":"*"}]}"#
            ),
            "Forbidden.PolicyLockout",
        ),
    ];
    for (doc, code) in cases {
        let got = call(
            &kms,
            &Caller::owner(),
            "SetKeyPolicy",
            json!({"KeyId": key, "PolicyName": "default", "Policy": doc}),
        );
        assert_eq!(got.unwrap_err(), code, "{doc}");
    }
    assert_eq!(
        owner(
            &kms,
            "GetKeyPolicy",
            json!({"KeyId": key, "PolicyName": "default"})
        )["Policy"],
        before
    );
    // The same grammar for RAM policies, which take no Principal.
    assert_eq!(
        call(&kms, &Caller::owner(), "CreatePolicy", json!({"PolicyName": "p", "PolicyDocument": r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":"*"}]}"#})).unwrap_err(),
        "InvalidParameter.PolicyDocument"
    );
    assert_eq!(
        call(
            &kms,
            &Caller::owner(),
            "ListPolicies",
            json!({"PolicyType": "Custom"})
        )
        .unwrap()["Policies"]["Policy"],
        json!([])
    );
}

#[test]
fn principals_and_policies_survive_reopening() {
    let (kms, clock, storage) = fresh();
    let vars = fixture(&kms);
    let before = owner(&kms, "GetKeyPolicy", json!({"KeyId": vars["shared"]}))["Policy"].clone();
    let users = owner(&kms, "ListUsers", json!({}))["Users"].clone();
    drop(kms);
    let kms = open(&clock, &storage);
    assert_eq!(
        owner(&kms, "GetKeyPolicy", json!({"KeyId": vars["shared"]}))["Policy"],
        before
    );
    assert_eq!(owner(&kms, "ListUsers", json!({}))["Users"], users);
    // And the decisions with them.
    let bob = Caller::new(format!("acs:ram::{}:user/bob", vars["account"]));
    assert_eq!(
        call(&kms, &bob, "DescribeKey", json!({"KeyId": "alias/shared"})).unwrap_err(),
        "Forbidden.NoPermission"
    );
}

/// The seed's role separation: ingestion may GenerateDataKey only; analytics may
/// Decrypt only; security admins manage lifecycle only.
#[test]
fn the_seed_roles_are_separated() {
    let (kms, _, _) = fresh();
    for (user, policy) in [
        (
            "ingestion",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*"}]}"#,
        ),
        (
            "analytics",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#,
        ),
    ] {
        owner(&kms, "CreateUser", json!({"UserName": user}));
        owner(
            &kms,
            "CreatePolicy",
            json!({"PolicyName": user, "PolicyDocument": policy}),
        );
        owner(
            &kms,
            "AttachPolicyToUser",
            json!({"PolicyType": "Custom", "PolicyName": user, "UserName": user}),
        );
    }
    owner(&kms, "CreateUser", json!({"UserName": "security"}));
    owner(
        &kms,
        "AttachPolicyToUser",
        json!({"PolicyType": "System", "PolicyName": "StrongroomKeyAdministrator", "UserName": "security"}),
    );
    let acct = owner(&kms, "DescribeAuditConfig", json!({}))["AccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let who = |u: &str| Caller::new(format!("acs:ram::{acct}:user/{u}"));
    let (ingestion, analytics, security) = (who("ingestion"), who("analytics"), who("security"));

    let key = call(&kms, &security, "CreateKey", json!({})).unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let dk = call(&kms, &ingestion, "GenerateDataKey", json!({"KeyId": key})).unwrap();
    let blob = dk["CiphertextBlob"].clone();
    let pt = call(&kms, &analytics, "Decrypt", json!({"CiphertextBlob": blob})).unwrap();
    assert_eq!(pt["Plaintext"], dk["Plaintext"]);
    let deny = |c: &Caller, a: &str, p: Value| {
        assert_eq!(
            call(&kms, c, a, p).unwrap_err(),
            "Forbidden.NoPermission",
            "{a}"
        );
    };
    deny(&ingestion, "Decrypt", json!({"CiphertextBlob": blob}));
    deny(&ingestion, "DisableKey", json!({"KeyId": key}));
    deny(&analytics, "GenerateDataKey", json!({"KeyId": key}));
    deny(
        &analytics,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "aGk="}),
    );
    deny(&security, "Decrypt", json!({"CiphertextBlob": blob}));
    deny(&security, "GenerateDataKey", json!({"KeyId": key}));
    call(&kms, &security, "DisableKey", json!({"KeyId": key})).unwrap();
    call(&kms, &security, "EnableKey", json!({"KeyId": key})).unwrap();
    call(
        &kms,
        &security,
        "ScheduleKeyDeletion",
        json!({"KeyId": key, "PendingWindowInDays": 7}),
    )
    .unwrap();
}

fn audited() -> (Kms, Arc<ManualClock>, Arc<MemoryAuditSink>) {
    let (kms, clock, _) = fresh();
    let sink = Arc::new(MemoryAuditSink::new());
    kms.attach_audit(
        sink.clone(),
        AuditOptions {
            digest_every: 5,
            ..AuditOptions::default()
        },
    )
    .unwrap();
    kms.set_default_audit_level(AuditLevel::All);
    (kms, clock, sink)
}

fn events(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["recordType"] == "Event")
        .collect()
}

#[test]
fn every_call_is_one_event_with_actiontrail_fields() {
    let (kms, _, sink) = audited();
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    owner(
        &kms,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "c2VjcmV0IHBsYWludGV4dA==", "EncryptionContext": "{\"app\":\"billing\"}"}),
    );
    let _ = call(
        &kms,
        &Caller::owner(),
        "DescribeKey",
        json!({"KeyId": "nope"}),
    );
    let alice = Caller::new("acs:ram::0000000000000000:user/alice")
        .with_origin(
            Some("203.0.113.7".parse().unwrap()),
            true,
            Some("test/1".into()),
        )
        .with_request_id("req-alice");
    let _ = call(
        &kms,
        &alice,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "aGk="}),
    );
    kms.flush_audit().unwrap();
    let ev = events(&sink.text());
    assert_eq!(ev.len(), 4, "{}", sink.text());
    let names: Vec<&str> = ev
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CreateKey", "Encrypt", "DescribeKey", "Encrypt"]);
    for e in &ev {
        for f in [
            "eventId",
            "eventTime",
            "eventName",
            "eventSource",
            "serviceName",
            "eventType",
            "userIdentity",
            "sourceIpAddress",
            "userAgent",
            "requestId",
            "resourceName",
            "requestParameters",
        ] {
            assert!(e.get(f).is_some(), "{f} missing in {e}");
        }
        assert_eq!(e["serviceName"], "Kms");
    }
    assert_eq!(ev[1]["requestParameters"]["KeyId"], json!(key));
    assert_eq!(
        ev[1]["requestParameters"]["EncryptionContext"],
        json!("{\"app\":\"billing\"}")
    );
    assert_eq!(ev[1]["userIdentity"]["type"], "root-account");
    assert_eq!(ev[2]["errorCode"], "Forbidden.KeyNotFound");
    assert_eq!(ev[3]["errorCode"], "Forbidden.NoPermission");
    assert_eq!(ev[3]["userIdentity"]["type"], "ram-user");
    assert_eq!(ev[3]["sourceIpAddress"], "203.0.113.7");
    assert_eq!(ev[3]["userAgent"], "test/1");
    assert_eq!(ev[3]["requestId"], "req-alice");
    assert!(ev[3]["resourceName"].as_str().unwrap().contains(&key));
    let text = sink.text();
    assert!(
        !text.contains("c2VjcmV0IHBsYWludGV4dA"),
        "the plaintext leaked into the trail"
    );
    assert!(!text.contains("secret plaintext"));
}

#[test]
fn levels_choose_what_is_recorded() {
    let (kms, _, sink) = audited();
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    owner(&kms, "SetAuditLevel", json!({"AuditLevel": "management"}));
    owner(&kms, "Encrypt", json!({"KeyId": key, "Plaintext": "aGk="}));
    let _ = call(
        &kms,
        &Caller::new("acs:ram::1:user/x"),
        "Encrypt",
        json!({"KeyId": key, "Plaintext": "aGk="}),
    );
    owner(&kms, "DisableKey", json!({"KeyId": key}));
    owner(&kms, "SetAuditLevel", json!({"AuditLevel": "off"}));
    owner(&kms, "EnableKey", json!({"KeyId": key}));
    kms.flush_audit().unwrap();
    let names: Vec<String> = events(&sink.text())
        .iter()
        .map(|e| e["eventName"].as_str().unwrap().to_string())
        .collect();
    // The denied Encrypt is recorded at management level; the owner's is not; after
    // "off", nothing.
    assert_eq!(
        names,
        [
            "CreateKey",
            "SetAuditLevel",
            "Encrypt",
            "DisableKey",
            "SetAuditLevel"
        ]
    );
    assert_eq!(
        owner(&kms, "DescribeAuditConfig", json!({}))["AuditLevel"],
        "off"
    );
}

#[test]
fn tampering_with_the_trail_is_detected() {
    let (kms, _, sink) = audited();
    let pem = block_on(kms.audit_public_key()).unwrap();
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..12 {
        owner(&kms, "Encrypt", json!({"KeyId": key, "Plaintext": "aGk="}));
        // What the flusher thread does every half window: write what waits, and a
        // digest once 5 records are unsigned.
        kms.flush_audit().unwrap();
    }
    block_on(kms.close()).unwrap();
    let good = sink.text();
    let r = audit::verify(&good, pem.as_bytes(), None).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.events, 13);
    assert!(r.digests >= 3, "{r:?}");
    assert!(r.closed);
    assert_eq!(r.unsigned_tail, 0);

    let lines: Vec<&str> = good.lines().collect();
    let join = |l: &[String]| l.join("\n") + "\n";
    let owned: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    let bad = |t: String, what: &str| {
        let r = audit::verify(&t, pem.as_bytes(), None).unwrap();
        assert!(!r.ok(), "{what} was not detected: {r:?}");
    };
    // Edited: one field of one event.
    let mut edited = owned.clone();
    edited[2] = edited[2].replace("Encrypt", "Decrypt");
    bad(join(&edited), "an edited event");
    // Edited: the last digest's flag or signature.
    let mut last = owned.clone();
    let n = last.len() - 1;
    last[n] = last[n].replace("\"final\":true", "\"final\":false");
    bad(join(&last), "an edited digest");
    // Removed.
    let mut removed = owned.clone();
    removed.remove(3);
    bad(join(&removed), "a removed event");
    // Reordered.
    let mut swapped = owned.clone();
    swapped.swap(3, 4);
    bad(join(&swapped), "reordered events");
    // Inserted (a copy of another event).
    let mut inserted = owned.clone();
    inserted.insert(4, owned[3].clone());
    bad(join(&inserted), "an inserted event");
    // A tail cut off after a digest: the trail no longer ends with the final digest.
    let cut = owned
        .iter()
        .rposition(|l| l.contains("\"Digest\"") && !l.contains("\"final\":true"))
        .unwrap();
    let r = audit::verify(&join(&owned[..=cut]), pem.as_bytes(), None).unwrap();
    assert!(
        r.ok() && !r.closed,
        "a cut tail must show as an open trail: {r:?}"
    );
    // Another key's signature.
    let (other, _, _) = audited();
    let other_pem = block_on(other.audit_public_key()).unwrap();
    assert!(
        !audit::verify(&good, other_pem.as_bytes(), None)
            .unwrap()
            .ok()
    );
}

#[test]
fn a_trail_continues_across_instances() {
    let (kms, clock, storage) = fresh();
    let sink = Arc::new(MemoryAuditSink::new());
    kms.attach_audit(sink.clone(), AuditOptions::default())
        .unwrap();
    kms.set_default_audit_level(AuditLevel::All);
    owner(&kms, "CreateKey", json!({}));
    block_on(kms.close()).unwrap();
    let kms = open(&clock, &storage);
    kms.attach_audit(sink.clone(), AuditOptions::default())
        .unwrap();
    kms.set_default_audit_level(AuditLevel::All);
    owner(&kms, "ListKeys", json!({}));
    let pem = block_on(kms.audit_public_key()).unwrap();
    block_on(kms.close()).unwrap();
    let r = audit::verify(&sink.text(), pem.as_bytes(), None).unwrap();
    assert!(r.ok() && r.closed, "{r:?}");
    assert_eq!(r.events, 2);
}

#[test]
fn lookup_filters_events() {
    let (kms, _, sink) = audited();
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    owner(&kms, "Encrypt", json!({"KeyId": key, "Plaintext": "aGk="}));
    let _ = call(
        &kms,
        &Caller::owner(),
        "DisableKey",
        json!({"KeyId": "missing"}),
    );
    kms.flush_audit().unwrap();
    let text = sink.text();
    let f = |f: audit::LookupFilter| audit::lookup(&text, &f).len();
    assert_eq!(
        f(audit::LookupFilter {
            event_name: Some("Encrypt".into()),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        f(audit::LookupFilter {
            resource_name: Some(key.clone()),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        f(audit::LookupFilter {
            errors_only: true,
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        f(audit::LookupFilter {
            start_time: Some("2026-11-24".into()),
            ..Default::default()
        }),
        0
    );
    assert_eq!(
        f(audit::LookupFilter {
            end_time: Some("2026-11-24".into()),
            ..Default::default()
        }),
        3
    );
}

/// A sink that tells appended lines from synced ones.
#[derive(Default)]
struct SyncSink {
    appended: std::sync::Mutex<String>,
    durable: std::sync::Mutex<String>,
}

impl strongroom::audit::AuditSink for SyncSink {
    fn append(&self, lines: &[u8]) -> strongroom::Result<()> {
        self.appended
            .lock()
            .unwrap()
            .push_str(std::str::from_utf8(lines).unwrap());
        Ok(())
    }
    fn sync(&self) -> strongroom::Result<()> {
        let a = self.appended.lock().unwrap().clone();
        *self.durable.lock().unwrap() = a;
        Ok(())
    }
    fn last_line(&self) -> strongroom::Result<Option<String>> {
        Ok(self
            .appended
            .lock()
            .unwrap()
            .lines()
            .last()
            .map(String::from))
    }
}

#[test]
fn management_events_are_durable_before_the_answer_and_reads_within_the_window() {
    let (kms, clock, _) = fresh();
    let sink = Arc::new(SyncSink::default());
    kms.attach_audit(
        sink.clone(),
        AuditOptions {
            window_ms: 1000,
            ..AuditOptions::default()
        },
    )
    .unwrap();
    kms.set_default_audit_level(AuditLevel::All);
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    // Acknowledged → durable.
    assert!(
        sink.durable
            .lock()
            .unwrap()
            .contains("\"eventName\":\"CreateKey\"")
    );
    // A read waits in memory at most the window: the flusher thread writes and syncs
    // it (every half window).
    owner(&kms, "Encrypt", json!({"KeyId": key, "Plaintext": "aGk="}));
    assert!(
        !sink
            .durable
            .lock()
            .unwrap()
            .contains("\"eventName\":\"Encrypt\"")
    );
    clock.advance(1000);
    let t = std::time::Instant::now();
    while !sink
        .durable
        .lock()
        .unwrap()
        .contains("\"eventName\":\"Encrypt\"")
    {
        assert!(
            t.elapsed().as_millis() < 1500,
            "not durable within the window"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Strict mode: every event durable first.
    let (kms, _, _) = fresh();
    let sink = Arc::new(SyncSink::default());
    kms.attach_audit(
        sink.clone(),
        AuditOptions {
            strict: true,
            ..AuditOptions::default()
        },
    )
    .unwrap();
    kms.set_default_audit_level(AuditLevel::All);
    owner(&kms, "ListKeys", json!({}));
    assert!(
        sink.durable
            .lock()
            .unwrap()
            .contains("\"eventName\":\"ListKeys\"")
    );
}

/// Writing to the trail fails: a change that was made says so; reads go on until too
/// many events wait; nothing is dropped once the sink works again.
#[test]
fn an_unwritable_trail_is_reported_not_ignored() {
    struct Flaky {
        inner: MemoryAuditSink,
        broken: std::sync::atomic::AtomicBool,
    }
    impl strongroom::audit::AuditSink for Flaky {
        fn append(&self, lines: &[u8]) -> strongroom::Result<()> {
            if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(strongroom::Error::Io("disk full".into()));
            }
            self.inner.append(lines)
        }
        fn sync(&self) -> strongroom::Result<()> {
            Ok(())
        }
        fn last_line(&self) -> strongroom::Result<Option<String>> {
            self.inner.last_line()
        }
    }
    let (kms, _, _) = fresh();
    let sink = Arc::new(Flaky {
        inner: MemoryAuditSink::new(),
        broken: false.into(),
    });
    kms.attach_audit(sink.clone(), AuditOptions::default())
        .unwrap();
    kms.set_default_audit_level(AuditLevel::All);
    sink.broken.store(true, std::sync::atomic::Ordering::SeqCst);
    let err = call(&kms, &Caller::owner(), "CreateKey", json!({})).unwrap_err();
    assert_eq!(err, "Rejected.AuditFailed");
    sink.broken
        .store(false, std::sync::atomic::Ordering::SeqCst);
    owner(&kms, "CreateKey", json!({}));
    let names: Vec<String> = events(&sink.inner.text())
        .iter()
        .map(|e| e["eventName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["CreateKey", "CreateKey"],
        "the first event waited and was written"
    );
}

/// The store's own operations (ExportImage, CreateBackup, ChangePassphrase, RekeyStore,
/// CompactStore) are actions of the table: they go through the dispatch, are the
/// owner's alone — a RAM user with `kms:*` (AliyunKMSFullAccess) is refused each, in
/// the typed API too — and are audited as management events without their passphrases.
#[test]
fn store_operations_are_the_owners_and_audited() {
    let (kms, _, sink) = audited();
    let key = owner(&kms, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    owner(&kms, "CreateUser", json!({"UserName": "admin"}));
    owner(
        &kms,
        "AttachPolicyToUser",
        json!({"PolicyType": "System", "PolicyName": "AliyunKMSFullAccess", "UserName": "admin"}),
    );
    let account = owner(&kms, "GetUser", json!({"UserName": "admin"}))["User"]["AccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = Caller::new(format!("acs:ram::{account}:user/admin"));
    // kms:* lets admin use and manage keys…
    assert!(call(&kms, &admin, "DescribeKey", json!({"KeyId": key})).is_ok());
    // …but not take or rewrite the store.
    for (action, params) in [
        ("ExportImage", json!({"Passphrase": "SRLEAK-export-pw"})),
        (
            "CreateBackup",
            json!({"BackupPassphrase": "SRLEAK-backup-pw"}),
        ),
        (
            "ChangePassphrase",
            json!({"NewPassphrase": "SRLEAK-new-pw"}),
        ),
        ("RekeyStore", json!({})),
        ("CompactStore", json!({})),
    ] {
        assert_eq!(
            call(&kms, &admin, action, params).unwrap_err(),
            "Forbidden.NoPermission",
            "{action}"
        );
    }
    kms.act_as(admin.clone()).unwrap();
    let e =
        block_on(kms.create_backup("SRLEAK-backup-pw", KdfParams::insecure_fast())).unwrap_err();
    assert_eq!(e.code(), "Forbidden.NoPermission");
    assert_eq!(
        block_on(kms.rekey_store()).unwrap_err().code(),
        "Forbidden.NoPermission"
    );
    kms.act_as(Caller::owner()).unwrap();
    // The owner may, typed and on the wire; the backup opens with its passphrase.
    let backup =
        block_on(kms.create_backup("SRLEAK-backup-pw", KdfParams::insecure_fast())).unwrap();
    let wire = owner(
        &kms,
        "CreateBackup",
        json!({"BackupPassphrase": "SRLEAK-backup-pw"}),
    );
    assert!(wire["Backup"].as_str().unwrap().len() > 100);
    owner(
        &kms,
        "ExportImage",
        json!({"Passphrase": "SRLEAK-export-pw"}),
    );
    owner(&kms, "RekeyStore", json!({}));
    owner(&kms, "CompactStore", json!({}));
    owner(
        &kms,
        "ChangePassphrase",
        json!({"NewPassphrase": "SRLEAK-new-pw"}),
    );
    let restored = block_on(Kms::restore_backup(
        KmsOptions {
            env: Env::system(),
            storage: Arc::new(MemoryStorage::new()),
            root: RootSecret::passphrase("pw2"),
            kdf: KdfParams::insecure_fast(),
            backend: None,
        },
        &backup,
        "SRLEAK-backup-pw",
    ))
    .unwrap();
    assert_eq!(block_on(restored.describe_key(&key)).unwrap().key_id, key);
    // Each refusal and each success is an event, written before its answer
    // (management), and no passphrase is in the trail.
    let text = sink.text();
    let ev = events(&text);
    let of = |name: &str| -> Vec<&Value> { ev.iter().filter(|e| e["eventName"] == name).collect() };
    for name in [
        "ExportImage",
        "CreateBackup",
        "ChangePassphrase",
        "RekeyStore",
        "CompactStore",
    ] {
        let es = of(name);
        assert!(
            es.iter().any(|e| e["errorCode"] == "Forbidden.NoPermission"
                && e["userIdentity"]["userName"] == "admin"),
            "{name}: the refusal is not recorded"
        );
        assert!(
            es.iter().any(
                |e| e.get("errorCode").is_none() && e["userIdentity"]["type"] == "root-account"
            ),
            "{name}: the owner's call is not recorded"
        );
    }
    assert!(!text.contains("SRLEAK"), "a passphrase reached the trail");
}
