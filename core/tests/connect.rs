//! A connected `Kms` (`Kms::connect`) against an embedded one behind an in-process
//! "gateway" that answers with `call_wire`: every action goes through the client's
//! wire forms and back without losing a field (the server's answer and the client's
//! re-serialised answer are the same JSON; the server's parsed request re-serialises
//! to the parameters the client sent), every action of the table is covered, errors
//! keep their code and family, envelopes are framed in the client with the data key
//! wrapped and unwrapped by the server, and store operations are refused.
#![cfg(all(feature = "wire", any(feature = "aws-lc", feature = "rustcrypto-asym")))]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use pollster::block_on;
use serde_json::{Map, Value, json};
use strongroom::api::{Action, Caller};
use strongroom::backend::BoxFuture;
use strongroom::{
    Endpoint, Env, Error, HttpClient, HttpRequest, HttpResponse, Kms, Result, SecretBytes,
};

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The gateway's part, in process: decode the form, `call_wire` as the owner, check
/// that nothing was lost on the way in or out, answer as the gateway would.
struct Loop {
    server: Arc<Kms>,
    seen: Mutex<BTreeSet<String>>,
    /// Reachable or not (a gateway that is down).
    up: std::sync::atomic::AtomicBool,
    /// Requests still to be lost before reaching the server (a reset connection).
    drop_next: std::sync::atomic::AtomicU32,
    /// Requests that reached the server.
    served: std::sync::atomic::AtomicU32,
    /// Requests still to be refused for load before reaching the server, with this
    /// code and asked wait (a throttled or overloaded gateway).
    refuse_next: std::sync::atomic::AtomicU32,
    refuse_with: Mutex<(&'static str, u16, Option<u64>)>,
    /// The waits the client asked for; whether it can wait at all.
    slept: Mutex<Vec<u64>>,
    can_sleep: std::sync::atomic::AtomicBool,
}

impl Loop {
    fn new(server: Arc<Kms>) -> Loop {
        Loop {
            server,
            seen: Mutex::new(BTreeSet::new()),
            up: std::sync::atomic::AtomicBool::new(true),
            drop_next: 0.into(),
            served: 0.into(),
            refuse_next: 0.into(),
            refuse_with: Mutex::new(("Throttling.User", 429, None)),
            slept: Mutex::new(Vec::new()),
            can_sleep: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

impl HttpClient for Loop {
    fn send<'a>(&'a self, r: HttpRequest) -> BoxFuture<'a, Result<HttpResponse>> {
        Box::pin(async move {
            assert_eq!(r.method, "POST");
            if !self.up.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(Error::BackendUnavailable("connection refused".into()));
            }
            if self
                .drop_next
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok()
            {
                return Err(Error::BackendUnavailable("connection reset by peer".into()));
            }
            if self
                .refuse_next
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok()
            {
                let (code, status, retry_after_ms) = *self.refuse_with.lock().unwrap();
                let body = serde_json::json!({"RequestId": "rid-t", "HostId": "h", "Code": code, "Message": "refused for load"});
                return Ok(HttpResponse {
                    status,
                    body: body.to_string().into_bytes(),
                    retry_after_ms,
                });
            }
            self.served
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let header = |n: &str| {
                r.headers
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            assert!(header("authorization").starts_with("ACS3-HMAC-SHA256 Credential=AKtest,"));
            let action: Action = header("x-acs-action").parse().unwrap();
            assert_eq!(header("x-acs-version"), action.api_version());
            let body = String::from_utf8(r.body.clone()).unwrap();
            let sent: Vec<(String, String)> = body
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (percent_decode(k), percent_decode(v))
                })
                .collect();
            let params: Map<String, Value> = sent
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            // In: the request the server parses says exactly what the client sent.
            let parsed = strongroom::Request::from_wire(action, &params).unwrap();
            let (again_action, mut again) = parsed.to_wire().unwrap();
            assert_eq!(again_action, action);
            let mut sent_sorted = sent.clone();
            sent_sorted.sort();
            again.sort();
            assert_eq!(
                again, sent_sorted,
                "{action:?}: the request changed on the wire"
            );
            self.seen.lock().unwrap().insert(action.name().to_string());
            let caller = self
                .server
                .default_caller()
                .as_ref()
                .clone()
                .with_request_id("rid-1");
            let (status, json) = match self.server.call_wire(&caller, action, &params).await {
                Ok(v) => (200, v),
                Err(e) => (
                    if e.code().starts_with("Forbidden") {
                        403
                    } else {
                        400
                    },
                    strongroom::api::wire::error_body(&e, "rid-1"),
                ),
            };
            if status == 200 {
                LAST.with(|l| *l.borrow_mut() = Some(json.clone()));
            }
            Ok(HttpResponse {
                status,
                body: json.to_string().into_bytes(),
                retry_after_ms: None,
            })
        })
    }

    fn sleep(&self, ms: u64) -> Option<BoxFuture<'_, ()>> {
        if !self.can_sleep.load(std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        self.slept.lock().unwrap().push(ms);
        Some(Box::pin(async {}))
    }
}

thread_local! {
    static LAST: std::cell::RefCell<Option<Value>> = const { std::cell::RefCell::new(None) };
}

fn pair() -> (Kms, Arc<Loop>) {
    let server = Arc::new(block_on(Kms::memory(Env::system(), None)).unwrap());
    let http = Arc::new(Loop::new(server));
    let client = block_on(Kms::connect(
        Env::system(),
        Endpoint {
            url: "https://127.0.0.1:8443".into(),
            access_key_id: "AKtest".into(),
            access_key_secret: SecretBytes::from_slice(b"secret"),
            security_token: None,
        },
        http.clone(),
    ))
    .unwrap();
    (client, http)
}

/// One wire action through the connected client; its answer must be the server's,
/// field for field.
fn call(client: &Kms, action: &str, params: Value) -> std::result::Result<Value, String> {
    let caller = Caller::owner().with_request_id("rid-1");
    let Value::Object(map) = params else { panic!() };
    LAST.with(|l| *l.borrow_mut() = None);
    let r = block_on(client.call_wire(&caller, action.parse().unwrap(), &map));
    match r {
        Ok(v) => {
            let server = LAST
                .with(|l| l.borrow_mut().take())
                .expect("the server answered");
            assert_eq!(v, server, "{action}: the answer changed on the wire");
            Ok(v)
        }
        Err(e) => Err(e.code().to_string()),
    }
}

fn ok(client: &Kms, action: &str, params: Value) -> Value {
    call(client, action, params).unwrap_or_else(|e| panic!("{action}: {e}"))
}

fn s(v: &Value, path: &[&str]) -> String {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_str()
        .unwrap_or_else(|| panic!("{path:?} in {v}"))
        .to_string()
}

#[test]
fn every_action_survives_the_wire_both_ways() {
    let (c, http) = pair();
    let key = s(
        &ok(&c, "CreateKey", json!({"Description": "d é"})),
        &["KeyMetadata", "KeyId"],
    );
    ok(&c, "DescribeKey", json!({"KeyId": key}));
    ok(
        &c,
        "ListKeys",
        json!({"PageSize": 5, "Filters": [{"Key": "KeyState", "Values": ["Enabled"]}]}),
    );
    ok(
        &c,
        "UpdateKeyDescription",
        json!({"KeyId": key, "Description": "new"}),
    );
    ok(&c, "DisableKey", json!({"KeyId": key}));
    ok(&c, "EnableKey", json!({"KeyId": key}));
    ok(
        &c,
        "SetDeletionProtection",
        json!({"ProtectedResourceArn": key, "EnableDeletionProtection": true, "DeletionProtectionDescription": "keep"}),
    );
    ok(
        &c,
        "SetDeletionProtection",
        json!({"ProtectedResourceArn": key, "EnableDeletionProtection": false}),
    );
    let v = s(
        &ok(&c, "CreateKeyVersion", json!({"KeyId": key})),
        &["KeyVersion", "KeyVersionId"],
    );
    ok(
        &c,
        "DescribeKeyVersion",
        json!({"KeyId": key, "KeyVersionId": v}),
    );
    ok(
        &c,
        "ListKeyVersions",
        json!({"KeyId": key, "PageNumber": 1, "PageSize": 10}),
    );
    ok(
        &c,
        "UpdateRotationPolicy",
        json!({"KeyId": key, "EnableAutomaticRotation": true, "RotationInterval": "604800s"}),
    );
    ok(
        &c,
        "CreateAlias",
        json!({"AliasName": "alias/app", "KeyId": key}),
    );
    ok(
        &c,
        "UpdateAlias",
        json!({"AliasName": "alias/app", "KeyId": key}),
    );
    ok(&c, "ListAliases", json!({}));
    ok(&c, "ListAliasesByKeyId", json!({"KeyId": key}));
    ok(
        &c,
        "TagResource",
        json!({"KeyId": key, "Tags": [{"TagKey": "team", "TagValue": "a"}]}),
    );
    assert_eq!(
        ok(&c, "ListResourceTags", json!({"KeyId": key}))["Tags"]["Tag"][0]["TagKey"],
        "team"
    );
    ok(
        &c,
        "UntagResource",
        json!({"KeyId": key, "TagKeys": ["team"]}),
    );
    let ctx = json!({"tenant": "a=b&c", "ü": "%"});
    let blob = s(
        &ok(
            &c,
            "Encrypt",
            json!({"KeyId": "alias/app", "Plaintext": "aGVsbG8=", "EncryptionContext": ctx}),
        ),
        &["CiphertextBlob"],
    );
    assert_eq!(
        s(
            &ok(
                &c,
                "Decrypt",
                json!({"CiphertextBlob": blob, "EncryptionContext": ctx})
            ),
            &["Plaintext"]
        ),
        "aGVsbG8="
    );
    assert_eq!(
        call(&c, "Decrypt", json!({"CiphertextBlob": blob})),
        Err("InvalidCiphertext".into())
    );
    let key2 = s(&ok(&c, "CreateKey", json!({})), &["KeyMetadata", "KeyId"]);
    ok(
        &c,
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx, "DestinationKeyId": key2}),
    );
    let dk = ok(
        &c,
        "GenerateDataKey",
        json!({"KeyId": key, "KeySpec": "AES_128", "EncryptionContext": ctx}),
    );
    ok(
        &c,
        "GenerateDataKey",
        json!({"KeyId": key, "NumberOfBytes": 48}),
    );
    ok(&c, "GenerateDataKeyWithoutPlaintext", json!({"KeyId": key}));
    let pair = ok(
        &c,
        "GenerateDataKeyPair",
        json!({"KeyId": key, "KeyPairSpec": "EC_P256", "EncryptionContext": ctx}),
    );
    assert_eq!(s(&pair, &["KeyPairSpec"]), "EC_P256");
    let private = ok(
        &c,
        "Decrypt",
        json!({"CiphertextBlob": pair["PrivateKeyCiphertextBlob"], "EncryptionContext": ctx}),
    );
    assert_eq!(private["Plaintext"], pair["PrivateKeyPlaintext"]);
    ok(
        &c,
        "GenerateDataKeyPairWithoutPlaintext",
        json!({"KeyId": key, "KeyPairSpec": "EC_P256K", "KeyFormat": "DER"}),
    );
    ok(
        &c,
        "GetRandomPassword",
        json!({"Length": 20, "ExcludePunctuation": true}),
    );
    // Asymmetric keys.
    let rsa = s(
        &ok(
            &c,
            "CreateKey",
            json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT/DECRYPT"}),
        ),
        &["KeyMetadata", "KeyId"],
    );
    let pk = ok(&c, "GetPublicKey", json!({"KeyId": rsa}));
    let pem = s(&pk, &["PublicKey"]);
    let der_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    ok(
        &c,
        "ExportDataKey",
        json!({"CiphertextBlob": dk["CiphertextBlob"], "EncryptionContext": ctx, "PublicKeyBlob": der_b64, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    ok(
        &c,
        "GenerateAndExportDataKey",
        json!({"KeyId": key, "PublicKeyBlob": der_b64, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    let ct = s(
        &ok(
            &c,
            "AsymmetricEncrypt",
            json!({"KeyId": rsa, "Algorithm": "RSAES_OAEP_SHA_256", "Plaintext": "aGVsbG8="}),
        ),
        &["CiphertextBlob"],
    );
    ok(
        &c,
        "AsymmetricDecrypt",
        json!({"KeyId": rsa, "Algorithm": "RSAES_OAEP_SHA_256", "CiphertextBlob": ct}),
    );
    let ec = s(
        &ok(
            &c,
            "CreateKey",
            json!({"KeySpec": "EC_P256", "KeyUsage": "SIGN/VERIFY"}),
        ),
        &["KeyMetadata", "KeyId"],
    );
    let digest = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let sig = s(
        &ok(
            &c,
            "AsymmetricSign",
            json!({"KeyId": ec, "Algorithm": "ECDSA_SHA_256", "Digest": digest}),
        ),
        &["Value"],
    );
    assert_eq!(
        ok(
            &c,
            "AsymmetricVerify",
            json!({"KeyId": ec, "Algorithm": "ECDSA_SHA_256", "Digest": digest, "Value": sig})
        )["Value"],
        true
    );
    // BYOK: the parameters come back; importing garbage is refused by the server.
    let ext = s(
        &ok(&c, "CreateKey", json!({"Origin": "EXTERNAL"})),
        &["KeyMetadata", "KeyId"],
    );
    let imp = ok(
        &c,
        "GetParametersForImport",
        json!({"KeyId": ext, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    );
    assert!(call(&c, "ImportKeyMaterial", json!({"KeyId": ext, "EncryptedKeyMaterial": "AAAA", "ImportToken": imp["ImportToken"], "KeyMaterialExpireUnix": 0})).is_err());
    assert!(call(&c, "DeleteKeyMaterial", json!({"KeyId": ext})).is_ok());
    // Secrets.
    ok(
        &c,
        "CreateSecret",
        json!({"SecretName": "db/pw", "VersionId": "v1", "SecretData": "p&ss wörd", "Description": "d", "Tags": [{"TagKey": "k", "TagValue": "v"}], "ExtendedConfig": {"a": 1}}),
    );
    ok(
        &c,
        "CreateSecret",
        json!({"SecretName": "bin", "VersionId": "v1", "SecretData": "AAEC", "SecretDataType": "binary", "EncryptionKeyId": key}),
    );
    assert_eq!(
        s(
            &ok(
                &c,
                "GetSecretValue",
                json!({"SecretName": "db/pw", "FetchExtendedConfig": true})
            ),
            &["SecretData"]
        ),
        "p&ss wörd"
    );
    assert_eq!(
        s(
            &ok(&c, "GetSecretValue", json!({"SecretName": "bin"})),
            &["SecretData"]
        ),
        "AAEC"
    );
    ok(
        &c,
        "PutSecretValue",
        json!({"SecretName": "db/pw", "VersionId": "v2", "SecretData": "two", "VersionStages": ["ACSCurrent", "blue"]}),
    );
    ok(
        &c,
        "UpdateSecretVersionStage",
        json!({"SecretName": "db/pw", "VersionStage": "blue", "RemoveFromVersion": "v2", "MoveToVersion": "v1"}),
    );
    ok(
        &c,
        "ListSecretVersionIds",
        json!({"SecretName": "db/pw", "IncludeDeprecated": true}),
    );
    ok(
        &c,
        "DescribeSecret",
        json!({"SecretName": "db/pw", "FetchTags": true}),
    );
    ok(
        &c,
        "ListSecrets",
        json!({"FetchTags": true, "Filters": [{"Key": "SecretName", "Values": ["db"]}]}),
    );
    ok(
        &c,
        "UpdateSecret",
        json!({"SecretName": "db/pw", "Description": "x", "ExtendedConfig.CustomData": {"b": 2}}),
    );
    ok(
        &c,
        "UpdateSecretRotationPolicy",
        json!({"SecretName": "db/pw", "EnableAutomaticRotation": false}),
    );
    ok(
        &c,
        "RotateSecret",
        json!({"SecretName": "db/pw", "VersionId": "v3"}),
    );
    ok(
        &c,
        "TagResource",
        json!({"SecretName": "db/pw", "Tags": [{"TagKey": "t", "TagValue": ""}]}),
    );
    ok(&c, "ListResourceTags", json!({"SecretName": "db/pw"}));
    ok(
        &c,
        "UntagResource",
        json!({"SecretName": "db/pw", "TagKeys": ["t"]}),
    );
    ok(
        &c,
        "DeleteSecret",
        json!({"SecretName": "db/pw", "RecoveryWindowInDays": 7}),
    );
    ok(&c, "RestoreSecret", json!({"SecretName": "db/pw"}));
    ok(
        &c,
        "DeleteSecret",
        json!({"SecretName": "bin", "ForceDeleteWithoutRecovery": true}),
    );
    ok(&c, "DescribeService", json!({}));
    let r = ok(&c, "GenerateRandom", json!({"Length": 20}));
    assert_eq!(
        r["Random"].as_str().unwrap().len(),
        28,
        "20 bytes in base64"
    );
    let h = ok(
        &c,
        "Hash",
        json!({"Message": "YWJj", "Algorithm": "SHA-512"}),
    );
    assert_eq!(h["Algorithm"], "SHA-512");
    // RAM, STS and policies.
    let acct = s(
        &ok(
            &c,
            "CreateUser",
            json!({"UserName": "web", "DisplayName": "Web", "Comments": "c"}),
        ),
        &["User", "AccountId"],
    );
    ok(&c, "GetUser", json!({"UserName": "web"}));
    ok(&c, "ListUsers", json!({}));
    let ak = s(
        &ok(&c, "CreateAccessKey", json!({"UserName": "web"})),
        &["AccessKey", "AccessKeyId"],
    );
    ok(
        &c,
        "UpdateAccessKey",
        json!({"UserName": "web", "UserAccessKeyId": ak, "Status": "Inactive"}),
    );
    ok(&c, "ListAccessKeys", json!({"UserName": "web"}));
    ok(
        &c,
        "DeleteAccessKey",
        json!({"UserName": "web", "UserAccessKeyId": ak}),
    );
    let pem_rsa = strongroom_test_pem();
    ok(
        &c,
        "CreateClientKey",
        json!({"UserName": "web", "PublicKey": pem_rsa}),
    );
    let trust = json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [format!("acs:ram::{acct}:root")]}}]});
    ok(
        &c,
        "CreateRole",
        json!({"RoleName": "reader", "AssumeRolePolicyDocument": trust.to_string(), "Description": "r", "MaxSessionDuration": 3600}),
    );
    ok(&c, "GetRole", json!({"RoleName": "reader"}));
    ok(&c, "ListRoles", json!({}));
    let doc = json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "*"}]});
    ok(
        &c,
        "CreatePolicy",
        json!({"PolicyName": "dec", "PolicyDocument": doc.to_string(), "Description": "p"}),
    );
    assert!(
        ok(
            &c,
            "GetPolicy",
            json!({"PolicyName": "dec", "PolicyType": "Custom"})
        )["DefaultPolicyVersion"]["PolicyDocument"]
            .is_string()
    );
    ok(&c, "ListPolicies", json!({"PolicyType": "System"}));
    ok(
        &c,
        "AttachPolicyToUser",
        json!({"PolicyType": "Custom", "PolicyName": "dec", "UserName": "web"}),
    );
    ok(&c, "ListPoliciesForUser", json!({"UserName": "web"}));
    ok(
        &c,
        "DetachPolicyFromUser",
        json!({"PolicyType": "Custom", "PolicyName": "dec", "UserName": "web"}),
    );
    ok(
        &c,
        "AttachPolicyToRole",
        json!({"PolicyType": "Custom", "PolicyName": "dec", "RoleName": "reader"}),
    );
    ok(&c, "ListPoliciesForRole", json!({"RoleName": "reader"}));
    let role_arn = format!("acs:ram::{acct}:role/reader");
    ok(
        &c,
        "SimulatePolicy",
        json!({"PrincipalArn": format!("acs:ram::{acct}:user/web"), "ActionName": "kms:Decrypt", "ResourceArn": "*", "EncryptionContext": ctx, "SourceIp": "10.0.0.1", "SecureTransport": true}),
    );
    ok(
        &c,
        "AssumeRole",
        json!({"RoleArn": role_arn, "RoleSessionName": "session-1", "DurationSeconds": 900}),
    );
    ok(
        &c,
        "DetachPolicyFromRole",
        json!({"PolicyType": "Custom", "PolicyName": "dec", "RoleName": "reader"}),
    );
    ok(
        &c,
        "DeletePolicy",
        json!({"PolicyName": "dec", "PolicyType": "Custom"}),
    );
    ok(&c, "DeleteRole", json!({"RoleName": "reader"}));
    let kp = ok(&c, "GetKeyPolicy", json!({"KeyId": key}));
    ok(
        &c,
        "SetKeyPolicy",
        json!({"KeyId": key, "Policy": s(&kp, &["Policy"])}),
    );
    let sp = ok(&c, "GetSecretPolicy", json!({"SecretName": "db/pw"}));
    ok(
        &c,
        "SetSecretPolicy",
        json!({"SecretName": "db/pw", "Policy": s(&sp, &["Policy"])}),
    );
    ok(&c, "SetAuditLevel", json!({"AuditLevel": "management"}));
    ok(&c, "DescribeAuditConfig", json!({}));
    ok(&c, "CreateUser", json!({"UserName": "tmp"}));
    ok(&c, "DeleteUser", json!({"UserName": "tmp"}));
    // ReEncryptEnvelope: the client sends the header alone; the frames stay here.
    let m = block_on(c.encrypt_envelope(strongroom::EncryptEnvelopeRequest {
        key_ids: vec![key.clone()],
        plaintext: b"over the wire".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    let r = block_on(c.re_encrypt_envelope(strongroom::ReEncryptEnvelopeRequest {
        message_header: m.clone(),
        destination_key_ids: vec![key2.clone()],
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(r.key_ids, [key2.clone()]);
    let moved = [&r.header[..], &m[r.replaced_length as usize..]].concat();
    let d = block_on(c.decrypt_envelope(strongroom::DecryptEnvelopeRequest {
        ciphertext: moved,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(
        (d.plaintext.as_slice(), d.info.key_id.as_str()),
        (&b"over the wire"[..], key2.as_str())
    );
    // Lifecycle last.
    ok(&c, "DeleteAlias", json!({"AliasName": "alias/app"}));
    ok(
        &c,
        "ScheduleKeyDeletion",
        json!({"KeyId": key2, "PendingWindowInDays": 7}),
    );
    ok(&c, "CancelKeyDeletion", json!({"KeyId": key2}));

    // The store's own operations are refused here and never sent (their passphrases
    // stay in the client).
    for (action, params) in [
        ("ExportImage", json!({"Passphrase": "SRLEAK-client-pw"})),
        (
            "CreateBackup",
            json!({"BackupPassphrase": "SRLEAK-client-pw"}),
        ),
        (
            "ChangePassphrase",
            json!({"NewPassphrase": "SRLEAK-client-pw"}),
        ),
        ("RekeyStore", json!({})),
        ("CompactStore", json!({})),
        ("VerifyStore", json!({})),
    ] {
        assert_eq!(
            call(&c, action, params).unwrap_err(),
            "Rejected.Unsupported",
            "{action}"
        );
    }
    assert_eq!(
        block_on(c.create_backup("SRLEAK-client-pw", Default::default()))
            .unwrap_err()
            .code(),
        "Rejected.Unsupported"
    );

    // Every action but the two envelope ones (framed in the client) and the store's
    // own crossed the wire.
    let seen = http.seen.lock().unwrap().clone();
    let missing: Vec<&str> = Action::ALL
        .iter()
        .filter(|a| a.family() != strongroom::api::Family::Store)
        .map(|a| a.name())
        .filter(|n| !seen.contains(*n) && !matches!(*n, "EncryptEnvelope" | "DecryptEnvelope"))
        .collect();
    assert!(missing.is_empty(), "actions never sent: {missing:?}");
    for a in Action::ALL
        .iter()
        .filter(|a| a.family() == strongroom::api::Family::Store)
    {
        assert!(!seen.contains(a.name()), "{} was sent", a.name());
    }
}

/// An RSA public key (PEM) for CreateClientKey.
fn strongroom_test_pem() -> String {
    let (server, _) = pair();
    let k = block_on(server.create_key(strongroom::CreateKeyRequest {
        key_spec: Some(strongroom::KeySpec::Rsa2048),
        key_usage: Some(strongroom::KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap();
    block_on(server.get_public_key(&k.key_id, None))
        .unwrap()
        .public_key
}

#[test]
fn errors_keep_their_code_and_family() {
    let (c, http) = pair();
    let e = block_on(c.describe_key("nope")).unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound");
    assert_eq!(e.kind(), "KeyNotFound");
    let key = block_on(c.create_key(Default::default())).unwrap().key_id;
    block_on(c.disable_key(&key)).unwrap();
    let e = block_on(c.encrypt(strongroom::EncryptRequest {
        key_id: key.clone(),
        plaintext: b"x".to_vec(),
        encryption_context: Default::default(),
    }))
    .unwrap_err();
    assert_eq!((e.code(), e.kind()), ("Forbidden.KeyDisabled", "KeyState"));
    http.up.store(false, std::sync::atomic::Ordering::Relaxed);
    let e = block_on(c.describe_key(&key)).unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    http.up.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(block_on(c.describe_key(&key)).is_ok());
    // The gateway's own codes (no Kind) get a family from the code.
    let e = Error::from_wire(
        400,
        &json!({"Code": "SignatureDoesNotMatch", "Message": "m"}),
    );
    assert_eq!(
        (e.code(), e.kind(), e.to_string().as_str()),
        ("SignatureDoesNotMatch", "AccessDenied", "m")
    );
    let e = Error::from_wire(503, &json!({"Code": "ServiceUnavailable"}));
    assert_eq!(e.kind(), "Backend");
    let e = Error::from_wire(500, &json!({"oops": 1}));
    assert_eq!(e.code(), "Rejected.BackendProtocol");
}

#[test]
fn envelopes_are_framed_in_the_client_and_wrapped_by_the_server() {
    let (c, http) = pair();
    let a = block_on(c.create_key(Default::default())).unwrap().key_id;
    let b = block_on(c.create_key(Default::default())).unwrap().key_id;
    let ctx = strongroom::EncryptionContext::from_pairs([("app", "x")]).unwrap();
    let plaintext = vec![7u8; 100_000];
    let msg = block_on(c.encrypt_envelope(strongroom::EncryptEnvelopeRequest {
        key_ids: vec![a.clone(), b.clone()],
        plaintext: plaintext.clone(),
        encryption_context: ctx.clone(),
        frame_length: Some(4096),
        ..Default::default()
    }))
    .unwrap();
    // The server only saw the two wraps, never the message.
    let seen = http.seen.lock().unwrap().clone();
    assert!(seen.contains("Encrypt") && !seen.contains("EncryptEnvelope"));
    // The embedded server opens it too (same format), and so does the client.
    let server_view = block_on(
        http.server
            .decrypt_envelope(strongroom::DecryptEnvelopeRequest {
                ciphertext: msg.clone(),
                encryption_context: Some(ctx.clone()),
                required_encryption_context: None,
                ..Default::default()
            }),
    )
    .unwrap();
    assert_eq!(server_view.plaintext, plaintext);
    block_on(c.disable_key(&a)).unwrap();
    let opened = block_on(c.decrypt_envelope(strongroom::DecryptEnvelopeRequest {
        ciphertext: msg.clone(),
        encryption_context: None,
        required_encryption_context: Some(ctx.clone()),
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(opened.plaintext, plaintext);
    assert_eq!(opened.info.key_id, b, "the disabled recipient is skipped");
    block_on(c.disable_key(&b)).unwrap();
    let e = block_on(c.decrypt_envelope(strongroom::DecryptEnvelopeRequest {
        ciphertext: msg.clone(),
        encryption_context: None,
        required_encryption_context: None,
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyDisabled");
    // A message for keys the server does not hold.
    let (other, _) = pair();
    let k = block_on(other.create_key(Default::default()))
        .unwrap()
        .key_id;
    let foreign = block_on(other.encrypt_envelope(strongroom::EncryptEnvelopeRequest {
        key_ids: vec![k],
        plaintext: b"x".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    let e = block_on(c.decrypt_envelope(strongroom::DecryptEnvelopeRequest {
        ciphertext: foreign,
        encryption_context: None,
        required_encryption_context: None,
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Forbidden.NoRecipientKey");
    // Tampering is caught in the client.
    block_on(c.enable_key(&b)).unwrap();
    let mut bad = msg.clone();
    let n = bad.len();
    bad[n - 20] ^= 1;
    let e = block_on(c.decrypt_envelope(strongroom::DecryptEnvelopeRequest {
        ciphertext: bad,
        encryption_context: None,
        required_encryption_context: None,
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "InvalidCiphertext.FrameAuthentication");
}

#[test]
fn sign_message_is_hashed_in_the_client() {
    let (c, _) = pair();
    let k = block_on(c.create_key(strongroom::CreateKeyRequest {
        key_spec: Some(strongroom::KeySpec::EcP256),
        key_usage: Some(strongroom::KeyUsage::SignVerify),
        ..Default::default()
    }))
    .unwrap()
    .key_id;
    let caller = Caller::owner();
    let sig = match block_on(c.call(
        &caller,
        strongroom::Request::AsymmetricSignMessage(strongroom::api::AsymmetricSignMessageRequest {
            key_id: k.clone(),
            key_version_id: None,
            algorithm: strongroom::SigningAlgorithm::EcdsaSha256,
            message: b"hello".to_vec(),
        }),
    ))
    .unwrap()
    {
        strongroom::Response::AsymmetricSignMessage(r) => r.value,
        _ => panic!(),
    };
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(b"hello").to_vec();
    let v = block_on(c.asymmetric_verify(strongroom::AsymmetricVerifyRequest {
        key_id: k,
        key_version_id: None,
        algorithm: strongroom::SigningAlgorithm::EcdsaSha256,
        digest,
        value: sig,
    }))
    .unwrap();
    assert!(v.value);
}

#[test]
fn store_operations_are_refused_on_a_connected_kms() {
    let (c, _) = pair();
    assert!(c.is_connected());
    for e in [
        block_on(c.create_backup("pw-pw-pw-pw", Default::default())).unwrap_err(),
        block_on(c.rekey_store()).unwrap_err(),
        block_on(c.compact_store()).unwrap_err(),
        block_on(c.export_image(None)).unwrap_err(),
        c.authenticate("AK", b"s", None).unwrap_err(),
        c.store_info().unwrap_err(),
        c.act_as(Caller::new("acs:ram::1:user/x")).unwrap_err(),
    ] {
        assert_eq!(e.code(), "Rejected.Unsupported", "{e}");
    }
    for bad in ["kms.example", "https://h/x"] {
        let e = block_on(Kms::connect(
            Env::system(),
            Endpoint {
                url: bad.into(),
                access_key_id: "AK".into(),
                access_key_secret: SecretBytes::from_slice(b"s"),
                security_token: None,
            },
            Arc::new(Loop::new(Arc::new(
                block_on(Kms::memory(Env::system(), None)).unwrap(),
            ))),
        ))
        .unwrap_err();
        assert_eq!(e.code(), "InvalidParameter.Endpoint");
    }
}

#[test]
fn a_hook_hears_each_connected_call_as_the_client_saw_it() {
    struct Rec(Mutex<Vec<(String, Option<String>)>>);
    impl strongroom::api::CallHook for Rec {
        fn record(&self, r: &strongroom::api::CallRecord<'_>) {
            self.0.lock().unwrap().push((
                r.action.name().to_string(),
                r.outcome.err().map(|e| e.code().to_string()),
            ));
        }
    }
    let (c, _) = pair();
    let rec = Arc::new(Rec(Mutex::new(Vec::new())));
    c.set_call_hook(Some(rec.clone()));
    let k = block_on(c.create_key(Default::default())).unwrap().key_id;
    assert!(block_on(c.describe_key("nope")).is_err());
    block_on(c.describe_key(&k)).unwrap();
    assert_eq!(
        *rec.0.lock().unwrap(),
        vec![
            ("CreateKey".to_string(), None),
            (
                "DescribeKey".to_string(),
                Some("Forbidden.KeyNotFound".to_string())
            ),
            ("DescribeKey".to_string(), None),
        ]
    );
}

/// A request the gateway refused for load (answered before the action ran) is resent
/// after a wait — a mutation too — with the wait the gateway asked for or else
/// doubling ones, each up to half again; then the refusal is the answer. Other
/// errors are never resent; nor is anything when the client cannot wait.
#[test]
fn a_request_refused_for_load_is_resent_after_a_backoff() {
    use std::sync::atomic::Ordering::SeqCst;
    let (c, http) = pair();
    let take_slept = || std::mem::take(&mut *http.slept.lock().unwrap());
    // A mutation throttled twice (the gateway asks for 250 ms): created once.
    *http.refuse_with.lock().unwrap() = ("Throttling.User", 429, Some(250));
    http.refuse_next.store(2, SeqCst);
    let served = http.served.load(SeqCst);
    let key = block_on(c.create_key(strongroom::CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    assert_eq!(http.served.load(SeqCst), served + 1, "carried out once");
    let waits = take_slept();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(waits.iter().all(|w| (250..=375).contains(w)), "{waits:?}");
    // Overloaded with no wait named: 100, 200, 400 ms (each up to half again), then
    // the fourth refusal is the answer.
    *http.refuse_with.lock().unwrap() = ("ServiceUnavailable", 503, None);
    http.refuse_next.store(10, SeqCst);
    let e = block_on(c.encrypt(strongroom::EncryptRequest {
        key_id: key.clone(),
        plaintext: b"busy".to_vec(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "ServiceUnavailable");
    assert_eq!(http.refuse_next.load(SeqCst), 6, "4 attempts in all");
    let waits = take_slept();
    assert_eq!(waits.len(), 3, "{waits:?}");
    for (w, base) in waits.iter().zip([100u64, 200, 400]) {
        assert!((base..=base + base / 2).contains(w), "{waits:?}");
    }
    http.refuse_next.store(0, SeqCst);
    // Another error is the answer at once.
    let e = block_on(c.describe_key("no-such-key")).unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound");
    assert!(take_slept().is_empty());
    // A client that cannot wait gets the refusal as it is.
    http.can_sleep.store(false, SeqCst);
    http.refuse_next.store(1, SeqCst);
    let e = block_on(c.describe_key(&key)).unwrap_err();
    assert_eq!(e.code(), "ServiceUnavailable");
    http.can_sleep.store(true, SeqCst);
    // max_attempts 1: never resent; a policy out of range is refused by name.
    let endpoint = || Endpoint {
        url: "https://127.0.0.1:8443".into(),
        access_key_id: "AKtest".into(),
        access_key_secret: SecretBytes::from_slice(b"secret"),
        security_token: None,
    };
    let once = block_on(Kms::connect_with(
        Env::system(),
        endpoint(),
        http.clone(),
        strongroom::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        },
    ))
    .unwrap();
    http.refuse_next.store(1, SeqCst);
    assert_eq!(
        block_on(once.describe_key(&key)).unwrap_err().code(),
        "ServiceUnavailable"
    );
    assert!(take_slept().is_empty());
    for bad in [
        strongroom::RetryPolicy {
            max_attempts: 0,
            ..Default::default()
        },
        strongroom::RetryPolicy {
            max_attempts: 11,
            ..Default::default()
        },
        strongroom::RetryPolicy {
            max_delay_ms: 60_001,
            ..Default::default()
        },
    ] {
        let e = block_on(Kms::connect_with(
            Env::system(),
            endpoint(),
            http.clone(),
            bad,
        ))
        .err()
        .unwrap();
        assert_eq!(e.code(), "InvalidParameter.Retry");
    }
}

#[test]
fn a_lost_request_is_resent_once_unless_it_changes_something() {
    use std::sync::atomic::Ordering::SeqCst;
    let (c, http) = pair();
    let key = block_on(c.create_key(strongroom::CreateKeyRequest::default()))
        .unwrap()
        .key_id;
    // Encrypt lost once on the way: sent again, freshly signed, and answered.
    http.drop_next.store(1, SeqCst);
    let before = http.served.load(SeqCst);
    let blob = block_on(c.encrypt(strongroom::EncryptRequest {
        key_id: key.clone(),
        plaintext: b"resent".to_vec(),
        ..Default::default()
    }))
    .unwrap()
    .ciphertext_blob;
    assert_eq!(http.served.load(SeqCst), before + 1, "served once");
    // Lost twice: one retry only, then the transport's error.
    http.drop_next.store(2, SeqCst);
    let e = block_on(c.decrypt(strongroom::DecryptRequest {
        ciphertext_blob: blob.clone(),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    // A mutation is never resent: the caller hears the failure, nothing was created.
    let keys = block_on(c.list_keys(Default::default()))
        .unwrap()
        .total_count;
    http.drop_next.store(1, SeqCst);
    let served = http.served.load(SeqCst);
    let e = block_on(c.create_key(strongroom::CreateKeyRequest::default())).unwrap_err();
    assert_eq!(e.code(), "Rejected.BackendUnavailable");
    assert_eq!(http.served.load(SeqCst), served, "not resent");
    assert_eq!(
        block_on(c.list_keys(Default::default()))
            .unwrap()
            .total_count,
        keys
    );
    // An answered error is not retried either.
    let served = http.served.load(SeqCst);
    let e = block_on(c.describe_key("no-such-key")).unwrap_err();
    assert_eq!(e.code(), "Forbidden.KeyNotFound");
    assert_eq!(http.served.load(SeqCst), served + 1);
}

/// Lets no request through until `want` are in flight together (or 2 s pass: then the
/// requests were sent one after another, and each fails).
struct Gate {
    inner: Arc<Loop>,
    arrived: std::sync::atomic::AtomicUsize,
    want: usize,
}

impl HttpClient for Gate {
    fn send<'a>(&'a self, r: HttpRequest) -> BoxFuture<'a, Result<HttpResponse>> {
        use std::sync::atomic::Ordering::SeqCst;
        let gated = r
            .headers
            .iter()
            .any(|(k, v)| k == "x-acs-action" && v == "Encrypt");
        if gated {
            self.arrived.fetch_add(1, SeqCst);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        Box::pin(async move {
            if gated {
                std::future::poll_fn(|cx| {
                    if self.arrived.load(SeqCst) >= self.want {
                        return std::task::Poll::Ready(Ok(()));
                    }
                    if std::time::Instant::now() > deadline {
                        return std::task::Poll::Ready(Err(Error::BackendUnavailable(
                            "the wraps were sent one after another".into(),
                        )));
                    }
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                })
                .await?;
            }
            self.inner.send(r).await
        })
    }
}

/// A connected Kms wraps a new envelope's data key under every recipient with requests
/// in flight together (one round trip where the client is asynchronous, as fetch is),
/// and the message opens under each recipient.
#[test]
fn recipients_are_wrapped_with_requests_in_flight_together() {
    let (owner_side, http) = pair();
    let keys: Vec<String> = (0..3)
        .map(|_| {
            block_on(owner_side.create_key(strongroom::CreateKeyRequest::default()))
                .unwrap()
                .key_id
        })
        .collect();
    let gate = Arc::new(Gate {
        inner: http.clone(),
        arrived: 0.into(),
        want: 3,
    });
    let c = block_on(Kms::connect(
        Env::system(),
        Endpoint {
            url: "https://127.0.0.1:8443".into(),
            access_key_id: "AKtest".into(),
            access_key_secret: SecretBytes::from_slice(b"secret"),
            security_token: None,
        },
        gate.clone(),
    ))
    .unwrap();
    let msg = block_on(c.encrypt_envelope(strongroom::EncryptEnvelopeRequest {
        key_ids: keys.clone(),
        plaintext: b"three recipients".to_vec(),
        ..Default::default()
    }))
    .unwrap();
    let out = block_on(c.decrypt_envelope(strongroom::DecryptEnvelopeRequest {
        ciphertext: msg,
        ..Default::default()
    }))
    .unwrap();
    assert_eq!(out.plaintext, b"three recipients");
    assert_eq!(gate.arrived.load(std::sync::atomic::Ordering::SeqCst), 3);
}
