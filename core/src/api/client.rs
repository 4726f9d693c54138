//! The client's half of the wire forms (feature `wire`): a [`Request`] as the
//! parameters Alibaba's OpenAPI takes, and Alibaba's JSON answer (or error body) back
//! into a [`Response`] (or [`Error`]). The inverse of [`super::wire`]: what a connected
//! [`crate::Kms`] sends to `strongroom serve` and reads from it. A round trip through
//! both files gives back the same request and the same answer (tested for every
//! action in `tests/connect.rs`).

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use serde_json::{Value, json};

use super::*;
use crate::context::EncryptionContext;
use crate::envelope::{DecryptEnvelopeResponse, EnvelopeInfo, MESSAGE_ID_LEN};
use crate::secret::SecretBytes;

/// One action's wire parameters, in the order they were added.
#[derive(Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn s(&mut self, k: &str, v: &str) {
        self.0.push((k.to_string(), v.to_string()));
    }
    fn o(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.s(k, v);
        }
    }
    fn n(&mut self, k: &str, v: Option<impl ToString>) {
        if let Some(v) = v {
            self.s(k, &v.to_string());
        }
    }
    fn b(&mut self, k: &str, v: bool) {
        self.s(k, if v { "true" } else { "false" });
    }
    fn bytes(&mut self, k: &str, v: &[u8]) {
        self.s(k, &Base64::encode_string(v));
    }
    fn ctx(&mut self, k: &str, c: &EncryptionContext) {
        if !c.is_empty() {
            self.s(k, &context_json(c).to_string());
        }
    }
    fn json(&mut self, k: &str, v: &Value) {
        self.s(k, &v.to_string());
    }
    fn tags(&mut self, tags: &[Tag]) {
        let list: Vec<Value> = tags
            .iter()
            .map(|t| json!({"TagKey": t.tag_key, "TagValue": t.tag_value}))
            .collect();
        self.json("Tags", &Value::Array(list));
    }
    fn filters(&mut self, filters: &[KeyFilter]) {
        if !filters.is_empty() {
            let list: Vec<Value> = filters
                .iter()
                .map(|f| json!({"Key": f.key, "Values": f.values}))
                .collect();
            self.json("Filters", &Value::Array(list));
        }
    }
    fn paging(&mut self, number: Option<u32>, size: Option<u32>) {
        self.n("PageNumber", number);
        self.n("PageSize", size);
    }
    fn secret_data(&mut self, data: &SecretBytes, ty: Option<SecretDataType>) -> Result<()> {
        match ty {
            Some(SecretDataType::Binary) => self.bytes("SecretData", data.expose()),
            _ => {
                let text = core::str::from_utf8(data.expose()).map_err(|_| {
                    Error::param(
                        "SecretData",
                        "text SecretData must be UTF-8 (use SecretDataType binary)",
                    )
                })?;
                self.s("SecretData", text);
            }
        }
        if let Some(t) = ty {
            self.s("SecretDataType", t.as_str());
        }
        Ok(())
    }
}

/// The store's own operations (family Store) have no request or answer on the wire.
fn store_not_sent() -> Error {
    Error::Unsupported("store operations run where the store is, and are not sent to a gateway")
}

fn context_json(c: &EncryptionContext) -> Value {
    Value::Object(
        c.iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}

impl Request {
    /// The action and the wire parameters (Alibaba's names, every value a string as
    /// in RPC-style form bodies) that ask a gateway for this request: the inverse of
    /// [`Request::from_wire`].
    ///
    /// # Errors
    /// `Rejected.Unsupported` for the envelope's internal steps (BeginEnvelope,
    /// OpenEnvelope) and the whole-message envelope actions, which a connected `Kms`
    /// runs itself; `InvalidParameter.SecretData` for text SecretData that is not
    /// UTF-8.
    pub fn to_wire(&self) -> Result<(Action, Vec<(String, String)>)> {
        let mut p = Params::default();
        match self {
            // The store's own operations are never sent: their passphrases stay here.
            Request::ExportImage(_)
            | Request::CreateBackup(_)
            | Request::ChangePassphrase(_)
            | Request::RekeyStore(_)
            | Request::CompactStore(_)
            | Request::VerifyStore(_) => return Err(store_not_sent()),
            Request::CreateKey(r) => {
                p.o("KeySpec", r.key_spec.map(|v| v.as_str()));
                p.o("KeyUsage", r.key_usage.map(|v| v.as_str()));
                p.o("Description", r.description.as_deref());
                p.o("Origin", r.origin.map(|v| v.as_str()));
                p.o("ProtectionLevel", r.protection_level.map(|v| v.as_str()));
            }
            Request::DescribeKey(DescribeKeyRequest { key_id })
            | Request::EnableKey(EnableKeyRequest { key_id })
            | Request::DisableKey(DisableKeyRequest { key_id })
            | Request::CancelKeyDeletion(CancelKeyDeletionRequest { key_id })
            | Request::CreateKeyVersion(CreateKeyVersionRequest { key_id })
            | Request::ListResourceTags(ListResourceTagsRequest { key_id })
            | Request::DeleteKeyMaterial(DeleteKeyMaterialRequest { key_id }) => {
                p.s("KeyId", key_id);
            }
            Request::ListKeys(r) => {
                p.paging(r.page_number, r.page_size);
                p.filters(&r.filters);
            }
            Request::UpdateKeyDescription(r) => {
                p.s("KeyId", &r.key_id);
                p.s("Description", &r.description);
            }
            Request::ScheduleKeyDeletion(r) => {
                p.s("KeyId", &r.key_id);
                p.n("PendingWindowInDays", Some(r.pending_window_in_days));
            }
            Request::SetDeletionProtection(r) => {
                p.s("ProtectedResourceArn", &r.protected_resource_arn);
                p.b("EnableDeletionProtection", r.enable_deletion_protection);
                p.o(
                    "DeletionProtectionDescription",
                    r.deletion_protection_description.as_deref(),
                );
            }
            Request::DescribeKeyVersion(r) => {
                p.s("KeyId", &r.key_id);
                p.s("KeyVersionId", &r.key_version_id);
            }
            Request::ListKeyVersions(r) => {
                p.s("KeyId", &r.key_id);
                p.paging(r.page_number, r.page_size);
            }
            Request::UpdateRotationPolicy(r) => {
                p.s("KeyId", &r.key_id);
                p.b("EnableAutomaticRotation", r.enable_automatic_rotation);
                p.o("RotationInterval", r.rotation_interval.as_deref());
            }
            Request::CreateAlias(r) | Request::UpdateAlias(r) => {
                p.s("AliasName", &r.alias_name);
                p.s("KeyId", &r.key_id);
            }
            Request::DeleteAlias(r) => p.s("AliasName", &r.alias_name),
            Request::ListAliases(r) => p.paging(r.page_number, r.page_size),
            Request::ListAliasesByKeyId(r) => {
                p.s("KeyId", &r.key_id);
                p.paging(r.page_number, r.page_size);
            }
            Request::TagResource(r) => {
                p.s("KeyId", &r.key_id);
                p.tags(&r.tags);
            }
            Request::UntagResource(r) => {
                p.s("KeyId", &r.key_id);
                p.json("TagKeys", &json!(r.tag_keys));
            }
            Request::TagSecret(r) => {
                p.s("SecretName", &r.secret_name);
                p.tags(&r.tags);
            }
            Request::UntagSecret(r) => {
                p.s("SecretName", &r.secret_name);
                p.json("TagKeys", &json!(r.tag_keys));
            }
            Request::ListSecretTags(r) => p.s("SecretName", &r.secret_name),
            Request::GetParametersForImport(r) => {
                p.s("KeyId", &r.key_id);
                p.s("WrappingAlgorithm", r.wrapping_algorithm.as_str());
                p.s("WrappingKeySpec", r.wrapping_key_spec.as_str());
            }
            Request::ImportKeyMaterial(r) => {
                p.s("KeyId", &r.key_id);
                p.bytes("EncryptedKeyMaterial", &r.encrypted_key_material);
                p.s("ImportToken", &r.import_token);
                p.n("KeyMaterialExpireUnix", r.key_material_expire_unix);
            }
            Request::Encrypt(r) => {
                p.s("KeyId", &r.key_id);
                p.bytes("Plaintext", &r.plaintext);
                p.ctx("EncryptionContext", &r.encryption_context);
            }
            Request::Decrypt(r) => {
                p.bytes("CiphertextBlob", &r.ciphertext_blob);
                p.ctx("EncryptionContext", &r.encryption_context);
            }
            Request::ReEncrypt(r) => {
                p.bytes("CiphertextBlob", &r.ciphertext_blob);
                p.ctx("SourceEncryptionContext", &r.source_encryption_context);
                p.s("DestinationKeyId", &r.destination_key_id);
                p.ctx(
                    "DestinationEncryptionContext",
                    &r.destination_encryption_context,
                );
            }
            Request::GenerateDataKey(r) | Request::GenerateDataKeyWithoutPlaintext(r) => {
                data_key(&mut p, r);
            }
            Request::GenerateDataKeyPair(r) | Request::GenerateDataKeyPairWithoutPlaintext(r) => {
                p.s("KeyId", &r.key_id);
                p.o("KeyPairSpec", r.key_pair_spec.map(|v| v.as_str()));
                p.o("KeyFormat", r.key_format.map(|v| v.as_str()));
                p.ctx("EncryptionContext", &r.encryption_context);
            }
            Request::ExportDataKey(r) => {
                p.bytes("CiphertextBlob", &r.ciphertext_blob);
                p.ctx("EncryptionContext", &r.encryption_context);
                p.bytes("PublicKeyBlob", &r.public_key_blob);
                p.s("WrappingAlgorithm", r.wrapping_algorithm.as_str());
                p.s("WrappingKeySpec", r.wrapping_key_spec.as_str());
            }
            Request::GenerateAndExportDataKey(r) => {
                data_key(&mut p, &r.data_key);
                p.bytes("PublicKeyBlob", &r.public_key_blob);
                p.s("WrappingAlgorithm", r.wrapping_algorithm.as_str());
                p.s("WrappingKeySpec", r.wrapping_key_spec.as_str());
            }
            Request::GetRandomPassword(r) => {
                p.n("Length", r.length);
                p.o("ExcludeCharacters", r.exclude_characters.as_deref());
                p.b("ExcludeLowercase", r.exclude_lowercase);
                p.b("ExcludeUppercase", r.exclude_uppercase);
                p.b("ExcludeNumbers", r.exclude_numbers);
                p.b("ExcludePunctuation", r.exclude_punctuation);
                p.n("RequireEachIncludedType", r.require_each_included_type);
            }
            Request::GetPublicKey(r) => {
                p.s("KeyId", &r.key_id);
                p.o("KeyVersionId", r.key_version_id.as_deref());
            }
            Request::AsymmetricSign(r) => {
                p.s("KeyId", &r.key_id);
                p.o("KeyVersionId", r.key_version_id.as_deref());
                p.s("Algorithm", r.algorithm.as_str());
                p.bytes("Digest", &r.digest);
            }
            Request::AsymmetricVerify(r) => {
                p.s("KeyId", &r.key_id);
                p.o("KeyVersionId", r.key_version_id.as_deref());
                p.s("Algorithm", r.algorithm.as_str());
                p.bytes("Digest", &r.digest);
                p.bytes("Value", &r.value);
            }
            Request::AsymmetricEncrypt(r) => {
                p.s("KeyId", &r.key_id);
                p.o("KeyVersionId", r.key_version_id.as_deref());
                p.s("Algorithm", r.algorithm.as_str());
                p.bytes("Plaintext", &r.plaintext);
            }
            Request::AsymmetricDecrypt(r) => {
                p.s("KeyId", &r.key_id);
                p.o("KeyVersionId", r.key_version_id.as_deref());
                p.s("Algorithm", r.algorithm.as_str());
                p.bytes("CiphertextBlob", &r.ciphertext_blob);
            }
            Request::ReEncryptEnvelope(r) => {
                // Only the header crosses: the frames stay with the caller.
                let (_, n) = crate::envelope::parse_whole_header(&r.message_header)?;
                p.bytes("Header", r.message_header.get(..n).unwrap_or_default());
                if !r.destination_key_ids.is_empty() {
                    p.json("DestinationKeyIds", &json!(r.destination_key_ids));
                }
                if let Some(c) = &r.encryption_context {
                    p.ctx("EncryptionContext", c);
                }
            }
            Request::AsymmetricSignMessage(_)
            | Request::EncryptEnvelope(_)
            | Request::DecryptEnvelope(_)
            | Request::BeginEnvelope(_)
            | Request::OpenEnvelope(_) => {
                return Err(Error::Unsupported(
                    "this step runs in the client: it has no request of its own on the wire",
                ));
            }
            Request::CreateSecret(r) => {
                p.s("SecretName", &r.secret_name);
                p.s("VersionId", &r.version_id);
                p.secret_data(&r.secret_data, r.secret_data_type)?;
                p.o("EncryptionKeyId", r.encryption_key_id.as_deref());
                p.o("Description", r.description.as_deref());
                if !r.tags.is_empty() {
                    p.tags(&r.tags);
                }
                p.o("SecretType", r.secret_type.map(|v| v.as_str()));
                p.o("ExtendedConfig", r.extended_config.as_deref());
                p.b("EnableAutomaticRotation", r.enable_automatic_rotation);
                p.o("RotationInterval", r.rotation_interval.as_deref());
            }
            Request::GetSecretValue(r) => {
                p.s("SecretName", &r.secret_name);
                p.o("VersionId", r.version_id.as_deref());
                p.o("VersionStage", r.version_stage.as_deref());
                p.b("FetchExtendedConfig", r.fetch_extended_config);
            }
            Request::PutSecretValue(r) => {
                p.s("SecretName", &r.secret_name);
                p.s("VersionId", &r.version_id);
                p.secret_data(&r.secret_data, r.secret_data_type)?;
                if let Some(s) = &r.version_stages {
                    p.json("VersionStages", &json!(s));
                }
            }
            Request::UpdateSecretVersionStage(r) => {
                p.s("SecretName", &r.secret_name);
                p.s("VersionStage", &r.version_stage);
                p.o("RemoveFromVersion", r.remove_from_version.as_deref());
                p.o("MoveToVersion", r.move_to_version.as_deref());
            }
            Request::ListSecretVersionIds(r) => {
                p.s("SecretName", &r.secret_name);
                p.b("IncludeDeprecated", r.include_deprecated);
                p.paging(r.page_number, r.page_size);
            }
            Request::DescribeSecret(r) => {
                p.s("SecretName", &r.secret_name);
                p.b("FetchTags", r.fetch_tags);
            }
            Request::ListSecrets(r) => {
                p.b("FetchTags", r.fetch_tags);
                p.paging(r.page_number, r.page_size);
                p.filters(&r.filters);
            }
            Request::UpdateSecret(r) => {
                p.s("SecretName", &r.secret_name);
                p.o("Description", r.description.as_deref());
                p.o(
                    "ExtendedConfig.CustomData",
                    r.extended_config_custom_data.as_deref(),
                );
            }
            Request::DeleteSecret(r) => {
                p.s("SecretName", &r.secret_name);
                p.n("RecoveryWindowInDays", r.recovery_window_in_days);
                p.b(
                    "ForceDeleteWithoutRecovery",
                    r.force_delete_without_recovery,
                );
            }
            Request::RestoreSecret(r) => p.s("SecretName", &r.secret_name),
            Request::RotateSecret(r) => {
                p.s("SecretName", &r.secret_name);
                p.o("VersionId", r.version_id.as_deref());
            }
            Request::UpdateSecretRotationPolicy(r) => {
                p.s("SecretName", &r.secret_name);
                p.b("EnableAutomaticRotation", r.enable_automatic_rotation);
                p.o("RotationInterval", r.rotation_interval.as_deref());
            }
            Request::GenerateRandom(r) => p.s("Length", &r.length.to_string()),
            Request::Hash(r) => {
                p.s("Algorithm", r.algorithm.as_str());
                p.bytes("Message", r.message.expose());
            }
            Request::DescribeService(_)
            | Request::ListUsers(_)
            | Request::ListRoles(_)
            | Request::DescribeAuditConfig(_) => {}
            Request::CreateUser(r) => {
                p.s("UserName", &r.user_name);
                p.o("DisplayName", r.display_name.as_deref());
                p.o("Comments", r.comments.as_deref());
                p.o("AccountId", r.account_id.as_deref());
            }
            Request::GetUser(r)
            | Request::DeleteUser(r)
            | Request::CreateAccessKey(r)
            | Request::ListAccessKeys(r)
            | Request::ListPoliciesForUser(r) => p.s("UserName", &r.user_name),
            Request::CreateRole(r) => {
                p.s("RoleName", &r.role_name);
                p.s("AssumeRolePolicyDocument", &r.assume_role_policy_document);
                p.o("Description", r.description.as_deref());
                p.n("MaxSessionDuration", r.max_session_duration);
            }
            Request::GetRole(r) | Request::DeleteRole(r) | Request::ListPoliciesForRole(r) => {
                p.s("RoleName", &r.role_name);
            }
            Request::UpdateAccessKey(r) | Request::DeleteAccessKey(r) => {
                p.s("UserName", &r.user_name);
                p.s("UserAccessKeyId", &r.user_access_key_id);
                p.o("Status", r.status.as_deref());
            }
            Request::CreateClientKey(r) => {
                p.s("UserName", &r.user_name);
                p.s("PublicKey", &r.public_key);
                p.o("NotAfter", r.not_after.as_deref());
            }
            Request::CreatePolicy(r) => {
                p.s("PolicyName", &r.policy_name);
                p.s("PolicyDocument", &r.policy_document);
                p.o("Description", r.description.as_deref());
            }
            Request::GetPolicy(r) | Request::DeletePolicy(r) => {
                p.s("PolicyName", &r.policy_name);
                p.s("PolicyType", r.policy_type.as_str());
            }
            Request::ListPolicies(r) => p.o("PolicyType", r.policy_type.map(|t| t.as_str())),
            Request::AttachPolicyToUser(r) | Request::DetachPolicyFromUser(r) => {
                attach(&mut p, r, "UserName");
            }
            Request::AttachPolicyToRole(r) | Request::DetachPolicyFromRole(r) => {
                attach(&mut p, r, "RoleName");
            }
            Request::AssumeRole(r) => {
                p.s("RoleArn", &r.role_arn);
                p.s("RoleSessionName", &r.role_session_name);
                p.n("DurationSeconds", r.duration_seconds);
            }
            Request::SetKeyPolicy(r) | Request::GetKeyPolicy(r) => {
                p.s("KeyId", &r.key_id);
                p.o("PolicyName", r.policy_name.as_deref());
                p.o("Policy", r.policy.as_deref());
            }
            Request::SetSecretPolicy(r) | Request::GetSecretPolicy(r) => {
                p.s("SecretName", &r.secret_name);
                p.o("PolicyName", r.policy_name.as_deref());
                p.o("Policy", r.policy.as_deref());
            }
            Request::SetAuditLevel(r) => p.s("AuditLevel", r.level.as_str()),
            Request::SimulatePolicy(r) => {
                p.s("PrincipalArn", &r.principal_arn);
                p.s("ActionName", &r.action_name);
                p.o("ResourceArn", r.resource.as_deref());
                p.ctx("EncryptionContext", &r.encryption_context);
                p.n("SourceIp", r.source_ip);
                p.n("SecureTransport", r.secure_transport);
                p.o("CurrentTime", r.current_time.as_deref());
                p.o("CredentialExpiration", r.credential_expiration.as_deref());
            }
        }
        Ok((self.action(), p.0))
    }
}

fn data_key(p: &mut Params, r: &GenerateDataKeyRequest) {
    p.s("KeyId", &r.key_id);
    p.o("KeySpec", r.key_spec.map(|v| v.as_str()));
    p.n("NumberOfBytes", r.number_of_bytes);
    p.ctx("EncryptionContext", &r.encryption_context);
}

fn attach(p: &mut Params, r: &AttachPolicyRequest, who: &str) {
    p.s("PolicyType", r.policy_type.as_str());
    p.s("PolicyName", &r.policy_name);
    p.s(who, &r.principal_name);
}

/// Reads an answer's fields; a missing or mistyped field is a protocol error.
struct Answer<'a>(&'a Value);

fn bad(what: &str) -> Error {
    Error::BackendProtocol(intern(&alloc::format!(
        "the gateway's answer has no valid {what}"
    )))
}

impl<'a> Answer<'a> {
    fn get(&self, k: &str) -> Option<&'a Value> {
        self.0.get(k).filter(|v| !v.is_null())
    }
    fn at(&self, k: &str) -> Result<Answer<'a>> {
        self.get(k).map(Answer).ok_or_else(|| bad(k))
    }
    fn s(&self, k: &str) -> Result<String> {
        self.os(k)?.ok_or_else(|| bad(k))
    }
    fn os(&self, k: &str) -> Result<Option<String>> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(bad(k)),
        }
    }
    fn u64(&self, k: &str) -> Result<u64> {
        match self.get(k) {
            Some(Value::Number(n)) => n.as_u64().ok_or_else(|| bad(k)),
            Some(Value::String(s)) => s.parse().map_err(|_| bad(k)),
            _ => Err(bad(k)),
        }
    }
    fn u32(&self, k: &str) -> Result<u32> {
        u32::try_from(self.u64(k)?).map_err(|_| bad(k))
    }
    fn bool(&self, k: &str) -> Result<bool> {
        match self.get(k) {
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" => Ok(true),
            Some(Value::String(s)) if s == "false" => Ok(false),
            _ => Err(bad(k)),
        }
    }
    fn bytes(&self, k: &str) -> Result<Vec<u8>> {
        Base64::decode_vec(&self.s(k)?).map_err(|_| bad(k))
    }
    fn secret(&self, k: &str) -> Result<SecretBytes> {
        self.bytes(k).map(SecretBytes::new)
    }
    fn parsed<T: core::str::FromStr>(&self, k: &str) -> Result<T> {
        self.s(k)?.parse().map_err(|_| bad(k))
    }
    fn time_ms(&self, k: &str) -> Result<u64> {
        crate::time::parse_iso8601(&self.s(k)?)
            .and_then(|s| u64::try_from(s).ok())
            .map(|s| s * 1000)
            .ok_or_else(|| bad(k))
    }
    fn static_str(&self, k: &str) -> Result<&'static str> {
        Ok(intern(&self.s(k)?))
    }
    /// `{"Outer": {"Inner": [..]}}`'s list (an absent wrapper is an empty list).
    fn list(&self, outer: &str, inner: &str) -> Result<Vec<Answer<'a>>> {
        match self.get(outer).and_then(|o| o.get(inner)) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.iter().map(Answer).collect()),
            Some(_) => Err(bad(inner)),
        }
    }
    fn strings(&self, outer: &str, inner: &str) -> Result<Vec<String>> {
        self.list(outer, inner)?
            .into_iter()
            .map(|a| a.0.as_str().map(String::from).ok_or_else(|| bad(inner)))
            .collect()
    }
    fn tags(&self, k: &str) -> Result<Vec<Tag>> {
        self.list(k, "Tag")?
            .into_iter()
            .map(|t| {
                Ok(Tag {
                    tag_key: t.s("TagKey")?,
                    tag_value: t.os("TagValue")?.unwrap_or_default(),
                })
            })
            .collect()
    }
    fn opt_tags(&self, k: &str) -> Result<Option<Vec<Tag>>> {
        if self.get(k).is_some() {
            self.tags(k).map(Some)
        } else {
            Ok(None)
        }
    }
    fn context(&self, k: &str) -> Result<EncryptionContext> {
        let Some(Value::Object(o)) = self.get(k) else {
            return Ok(EncryptionContext::default());
        };
        let pairs = o
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.as_str().ok_or_else(|| bad(k))?.to_string())))
            .collect::<Result<Vec<_>>>()?;
        EncryptionContext::from_pairs(pairs).map_err(|_| bad(k))
    }
}

/// A string the answer carries where the model keeps a `&'static str` (an error code,
/// a state name): the known one, else one copy kept for the process (at most 1,024
/// distinct strings of up to 128 bytes, so a hostile server cannot grow memory).
pub(crate) fn intern(s: &str) -> &'static str {
    static SEEN: spin::Mutex<BTreeSet<&'static str>> = spin::Mutex::new(BTreeSet::new());
    let mut seen = SEEN.lock();
    if let Some(k) = seen.get(s) {
        return k;
    }
    if s.len() > 128 || seen.len() >= 1024 {
        return "Unknown";
    }
    let k: &'static str = Box::leak(Box::from(s));
    seen.insert(k);
    k
}

fn metadata(a: &Answer<'_>) -> Result<Box<KeyMetadata>> {
    let m = a.at("KeyMetadata")?;
    Ok(Box::new(KeyMetadata {
        key_id: m.s("KeyId")?,
        arn: m.s("Arn")?,
        creation_date: m.s("CreationDate")?,
        creator: m.s("Creator")?,
        description: m.os("Description")?.unwrap_or_default(),
        key_usage: m.parsed("KeyUsage")?,
        key_state: m.parsed("KeyState")?,
        key_spec: m.parsed("KeySpec")?,
        origin: m.parsed("Origin")?,
        protection_level: m.parsed("ProtectionLevel")?,
        primary_key_version: m.os("PrimaryKeyVersion")?.unwrap_or_default(),
        delete_date: m.os("DeleteDate")?,
        automatic_rotation: m.static_str("AutomaticRotation")?,
        rotation_interval: m.os("RotationInterval")?,
        last_rotation_date: m.os("LastRotationDate")?,
        next_rotation_date: m.os("NextRotationDate")?,
        deletion_protection: m.static_str("DeletionProtection")?,
        deletion_protection_description: m.os("DeletionProtectionDescription")?,
        material_expire_time: m.os("MaterialExpireTime")?,
    }))
}

fn key_version(v: &Answer<'_>) -> Result<KeyVersion> {
    Ok(KeyVersion {
        key_id: v.s("KeyId")?,
        key_version_id: v.s("KeyVersionId")?,
        creation_date: v.s("CreationDate")?,
    })
}

fn aliases(a: &Answer<'_>) -> Result<ListAliasesResponse> {
    Ok(ListAliasesResponse {
        aliases: a
            .list("Aliases", "Alias")?
            .iter()
            .map(|x| {
                Ok(AliasEntry {
                    alias_name: x.s("AliasName")?,
                    alias_arn: x.s("AliasArn")?,
                    key_id: x.s("KeyId")?,
                })
            })
            .collect::<Result<_>>()?,
        total_count: a.u64("TotalCount")?,
        page_number: a.u32("PageNumber")?,
        page_size: a.u32("PageSize")?,
    })
}

fn secret_created(a: &Answer<'_>) -> Result<SecretCreated> {
    Ok(SecretCreated {
        arn: a.s("Arn")?,
        secret_name: a.s("SecretName")?,
        version_id: a.s("VersionId")?,
        secret_type: a.parsed("SecretType")?,
        automatic_rotation: a.static_str("AutomaticRotation")?,
        rotation_interval: a.os("RotationInterval")?,
        next_rotation_date: a.os("NextRotationDate")?,
    })
}

fn ram_user(u: &Answer<'_>) -> Result<User> {
    Ok(User {
        user_name: u.s("UserName")?,
        user_id: u.s("UserId")?,
        account_id: u.s("AccountId")?,
        arn: u.s("Arn")?,
        display_name: u.os("DisplayName")?.unwrap_or_default(),
        comments: u.os("Comments")?.unwrap_or_default(),
        create_ms: u.time_ms("CreateDate")?,
    })
}

fn ram_role(r: &Answer<'_>) -> Result<Role> {
    Ok(Role {
        role_name: r.s("RoleName")?,
        role_id: r.s("RoleId")?,
        arn: r.s("Arn")?,
        description: r.os("Description")?.unwrap_or_default(),
        assume_role_policy_document: r.s("AssumeRolePolicyDocument")?,
        max_session_duration: r.u32("MaxSessionDuration")?,
        create_ms: r.time_ms("CreateDate")?,
    })
}

fn ram_policy(p: &Answer<'_>, document: Option<String>) -> Result<PolicyInfo> {
    Ok(PolicyInfo {
        policy_name: p.s("PolicyName")?,
        policy_type: crate::access::PolicyType::parse(&p.s("PolicyType")?)
            .map_err(|_| bad("PolicyType"))?,
        description: p.os("Description")?.unwrap_or_default(),
        default_version: p.static_str("DefaultVersion")?,
        attachment_count: p.u32("AttachmentCount")?,
        create_ms: p.time_ms("CreateDate")?,
        update_ms: p.time_ms("UpdateDate")?,
        policy_document: document,
    })
}

fn policies(a: &Answer<'_>) -> Result<ListPoliciesResponse> {
    Ok(ListPoliciesResponse {
        policies: a
            .list("Policies", "Policy")?
            .iter()
            .map(|p| ram_policy(p, None))
            .collect::<Result<_>>()?,
    })
}

impl Response {
    /// The answer to `request` from Alibaba's JSON (what [`Response::to_wire`]
    /// writes): the inverse of [`Response::to_wire`].
    ///
    /// # Errors
    /// `Rejected.BackendProtocol` when a field is missing or malformed;
    /// `Rejected.Unsupported` for requests with no wire form.
    pub fn from_wire(request: &Request, v: &Value) -> Result<Response> {
        let a = Answer(v);
        let a = &a;
        let dk = |a: &Answer<'_>| -> Result<(String, String)> {
            Ok((a.s("KeyId")?, a.s("KeyVersionId")?))
        };
        Ok(match request {
            Request::CreateKey(_) => Response::CreateKey(metadata(a)?),
            Request::DescribeKey(_) => Response::DescribeKey(metadata(a)?),
            Request::UpdateKeyDescription(_) => Response::UpdateKeyDescription(metadata(a)?),
            Request::EnableKey(_) => Response::EnableKey(metadata(a)?),
            Request::DisableKey(_) => Response::DisableKey(metadata(a)?),
            Request::ScheduleKeyDeletion(_) => Response::ScheduleKeyDeletion(metadata(a)?),
            Request::CancelKeyDeletion(_) => Response::CancelKeyDeletion(metadata(a)?),
            Request::SetDeletionProtection(_) => Response::SetDeletionProtection(metadata(a)?),
            Request::UpdateRotationPolicy(_) => Response::UpdateRotationPolicy(metadata(a)?),
            Request::ImportKeyMaterial(_) => Response::ImportKeyMaterial(metadata(a)?),
            Request::DeleteKeyMaterial(_) => Response::DeleteKeyMaterial(metadata(a)?),
            Request::ListKeys(_) => Response::ListKeys(ListKeysResponse {
                keys: a
                    .list("Keys", "Key")?
                    .iter()
                    .map(|k| {
                        Ok(KeyListEntry {
                            key_id: k.s("KeyId")?,
                            key_arn: k.s("KeyArn")?,
                        })
                    })
                    .collect::<Result<_>>()?,
                total_count: a.u64("TotalCount")?,
                page_number: a.u32("PageNumber")?,
                page_size: a.u32("PageSize")?,
            }),
            Request::CreateKeyVersion(_) => {
                Response::CreateKeyVersion(key_version(&a.at("KeyVersion")?)?)
            }
            Request::DescribeKeyVersion(_) => {
                Response::DescribeKeyVersion(key_version(&a.at("KeyVersion")?)?)
            }
            Request::ListKeyVersions(_) => Response::ListKeyVersions(ListKeyVersionsResponse {
                key_versions: a
                    .list("KeyVersions", "KeyVersion")?
                    .iter()
                    .map(key_version)
                    .collect::<Result<_>>()?,
                total_count: a.u64("TotalCount")?,
                page_number: a.u32("PageNumber")?,
                page_size: a.u32("PageSize")?,
            }),
            Request::CreateAlias(_) => Response::CreateAlias(Done),
            Request::UpdateAlias(_) => Response::UpdateAlias(Done),
            Request::DeleteAlias(_) => Response::DeleteAlias(Done),
            Request::TagResource(_) => Response::TagResource(Done),
            Request::UntagResource(_) => Response::UntagResource(Done),
            Request::TagSecret(_) => Response::TagSecret(Done),
            Request::UntagSecret(_) => Response::UntagSecret(Done),
            Request::ListAliases(_) => Response::ListAliases(aliases(a)?),
            Request::ListAliasesByKeyId(_) => Response::ListAliasesByKeyId(aliases(a)?),
            Request::ListResourceTags(_) => Response::ListResourceTags(ListResourceTagsResponse {
                tags: a.tags("Tags")?,
            }),
            Request::ListSecretTags(_) => Response::ListSecretTags(ListResourceTagsResponse {
                tags: a.tags("Tags")?,
            }),
            Request::GetParametersForImport(_) => {
                Response::GetParametersForImport(crate::ImportParameters {
                    key_id: a.s("KeyId")?,
                    import_token: a.s("ImportToken")?,
                    public_key: a.bytes("PublicKey")?,
                    token_expire_time: a.s("TokenExpireTime")?,
                })
            }
            Request::Encrypt(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::Encrypt(EncryptResponse {
                    key_id,
                    key_version_id,
                    ciphertext_blob: a.bytes("CiphertextBlob")?,
                })
            }
            Request::Decrypt(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::Decrypt(DecryptResponse {
                    key_id,
                    key_version_id,
                    plaintext: a.secret("Plaintext")?,
                })
            }
            Request::ReEncrypt(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::ReEncrypt(ReEncryptResponse {
                    key_id,
                    key_version_id,
                    source_key_id: a.s("SourceKeyId")?,
                    source_key_version_id: a.s("SourceKeyVersionId")?,
                    ciphertext_blob: a.bytes("CiphertextBlob")?,
                })
            }
            Request::GenerateDataKey(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::GenerateDataKey(GenerateDataKeyResponse {
                    key_id,
                    key_version_id,
                    plaintext: a.secret("Plaintext")?,
                    ciphertext_blob: a.bytes("CiphertextBlob")?,
                })
            }
            Request::GenerateDataKeyWithoutPlaintext(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::GenerateDataKeyWithoutPlaintext(GenerateDataKeyWithoutPlaintextResponse {
                    key_id,
                    key_version_id,
                    ciphertext_blob: a.bytes("CiphertextBlob")?,
                })
            }
            Request::GenerateDataKeyPair(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::GenerateDataKeyPair(crate::GenerateDataKeyPairResponse {
                    key_id,
                    key_version_id,
                    key_pair_spec: a.parsed("KeyPairSpec")?,
                    private_key_plaintext: a.secret("PrivateKeyPlaintext")?,
                    private_key_ciphertext_blob: a.bytes("PrivateKeyCiphertextBlob")?,
                    public_key: a.bytes("PublicKey")?,
                })
            }
            Request::GenerateDataKeyPairWithoutPlaintext(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::GenerateDataKeyPairWithoutPlaintext(
                    crate::GenerateDataKeyPairWithoutPlaintextResponse {
                        key_id,
                        key_version_id,
                        key_pair_spec: a.parsed("KeyPairSpec")?,
                        private_key_ciphertext_blob: a.bytes("PrivateKeyCiphertextBlob")?,
                        public_key: a.bytes("PublicKey")?,
                    },
                )
            }
            Request::ExportDataKey(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::ExportDataKey(crate::ExportDataKeyResponse {
                    key_id,
                    key_version_id,
                    exported_data_key: a.bytes("ExportedDataKey")?,
                })
            }
            Request::GenerateAndExportDataKey(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::GenerateAndExportDataKey(crate::GenerateAndExportDataKeyResponse {
                    key_id,
                    key_version_id,
                    ciphertext_blob: a.bytes("CiphertextBlob")?,
                    exported_data_key: a.bytes("ExportedDataKey")?,
                })
            }
            Request::GetRandomPassword(_) => {
                Response::GetRandomPassword(GetRandomPasswordResponse {
                    random_password: SecretBytes::from_slice(a.s("RandomPassword")?.as_bytes()),
                })
            }
            Request::GetPublicKey(_) => {
                let (key_id, key_version_id) = dk(a)?;
                let public_key = a.s("PublicKey")?;
                Response::GetPublicKey(crate::GetPublicKeyResponse {
                    key_id,
                    key_version_id,
                    public_key_der: crate::asym::pem_spki(&public_key)
                        .map_err(|_| bad("PublicKey"))?,
                    public_key,
                })
            }
            Request::AsymmetricSign(_) | Request::AsymmetricSignMessage(_) => {
                let (key_id, key_version_id) = dk(a)?;
                let r = crate::AsymmetricSignResponse {
                    key_id,
                    key_version_id,
                    value: a.bytes("Value")?,
                };
                if matches!(request, Request::AsymmetricSign(_)) {
                    Response::AsymmetricSign(r)
                } else {
                    Response::AsymmetricSignMessage(r)
                }
            }
            Request::AsymmetricVerify(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::AsymmetricVerify(crate::AsymmetricVerifyResponse {
                    key_id,
                    key_version_id,
                    value: a.bool("Value")?,
                })
            }
            Request::AsymmetricEncrypt(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::AsymmetricEncrypt(crate::AsymmetricEncryptResponse {
                    key_id,
                    key_version_id,
                    ciphertext_blob: a.bytes("CiphertextBlob")?,
                })
            }
            Request::AsymmetricDecrypt(_) => {
                let (key_id, key_version_id) = dk(a)?;
                Response::AsymmetricDecrypt(crate::AsymmetricDecryptResponse {
                    key_id,
                    key_version_id,
                    plaintext: a.secret("Plaintext")?,
                })
            }
            Request::ReEncryptEnvelope(_) => {
                Response::ReEncryptEnvelope(crate::envelope::ReEncryptEnvelopeResponse {
                    header: a.bytes("Header")?,
                    replaced_length: a.u32("ReplacedLength")?,
                    source_key_id: a.s("SourceKeyId")?,
                    source_key_version_id: a.s("SourceKeyVersionId")?,
                    key_ids: a.strings("KeyIds", "KeyId")?,
                })
            }
            Request::EncryptEnvelope(_) => Response::EncryptEnvelope(EncryptEnvelopeResponse {
                ciphertext: a.bytes("Ciphertext")?,
            }),
            Request::DecryptEnvelope(_) => {
                let id = a.bytes("MessageId")?;
                let message_id: [u8; MESSAGE_ID_LEN] =
                    id.as_slice().try_into().map_err(|_| bad("MessageId"))?;
                Response::DecryptEnvelope(DecryptEnvelopeResponse {
                    plaintext: a.bytes("Plaintext")?,
                    info: EnvelopeInfo {
                        key_id: a.s("KeyId")?,
                        key_version_id: a.s("KeyVersionId")?,
                        encryption_context: a.context("EncryptionContext")?,
                        message_id,
                        signer: match a.get("Signer") {
                            None => None,
                            Some(_) => {
                                let s = a.at("Signer")?;
                                Some(crate::envelope::EnvelopeSigner {
                                    key_id: s.s("KeyId")?,
                                    key_version_id: s.s("KeyVersionId")?,
                                    public_key: s.bytes("PublicKey")?,
                                    known: s.bool("Known")?,
                                })
                            }
                        },
                    },
                })
            }
            Request::BeginEnvelope(_) | Request::OpenEnvelope(_) => {
                return Err(Error::Unsupported(
                    "the envelope's internal steps have no wire form",
                ));
            }
            Request::CreateSecret(_) => Response::CreateSecret(secret_created(a)?),
            Request::RotateSecret(_) => Response::RotateSecret(secret_created(a)?),
            Request::GetSecretValue(_) => {
                let ty: SecretDataType = a.parsed("SecretDataType")?;
                let data = match ty {
                    SecretDataType::Binary => a.secret("SecretData")?,
                    _ => SecretBytes::from_slice(a.s("SecretData")?.as_bytes()),
                };
                Response::GetSecretValue(crate::GetSecretValueResponse {
                    secret_name: a.s("SecretName")?,
                    secret_type: a.parsed("SecretType")?,
                    secret_data: data,
                    secret_data_type: ty,
                    version_id: a.s("VersionId")?,
                    version_stages: a.strings("VersionStages", "VersionStage")?,
                    create_time: a.s("CreateTime")?,
                    extended_config: a.os("ExtendedConfig")?,
                    automatic_rotation: a.static_str("AutomaticRotation")?,
                    rotation_interval: a.os("RotationInterval")?,
                    next_rotation_date: a.os("NextRotationDate")?,
                    last_rotation_date: a.os("LastRotationDate")?,
                })
            }
            Request::PutSecretValue(_) => Response::PutSecretValue(crate::PutSecretValueResponse {
                secret_name: a.s("SecretName")?,
                version_id: a.s("VersionId")?,
                version_stages: a.strings("VersionStages", "VersionStage")?,
            }),
            Request::UpdateSecretVersionStage(_)
            | Request::UpdateSecret(_)
            | Request::RestoreSecret(_)
            | Request::UpdateSecretRotationPolicy(_) => {
                let r = crate::SecretNameResponse {
                    secret_name: a.s("SecretName")?,
                };
                match request {
                    Request::UpdateSecretVersionStage(_) => Response::UpdateSecretVersionStage(r),
                    Request::UpdateSecret(_) => Response::UpdateSecret(r),
                    Request::RestoreSecret(_) => Response::RestoreSecret(r),
                    _ => Response::UpdateSecretRotationPolicy(r),
                }
            }
            Request::ListSecretVersionIds(_) => {
                Response::ListSecretVersionIds(crate::ListSecretVersionIdsResponse {
                    secret_name: a.s("SecretName")?,
                    version_ids: a
                        .list("VersionIds", "VersionId")?
                        .iter()
                        .map(|v| {
                            Ok(crate::SecretVersionEntry {
                                version_id: v.s("VersionId")?,
                                create_time: v.s("CreateTime")?,
                                version_stages: v.strings("VersionStages", "VersionStage")?,
                            })
                        })
                        .collect::<Result<_>>()?,
                    total_count: a.u32("TotalCount")?,
                    page_number: a.u32("PageNumber")?,
                    page_size: a.u32("PageSize")?,
                })
            }
            Request::DescribeSecret(_) => {
                Response::DescribeSecret(Box::new(crate::SecretMetadata {
                    arn: a.s("Arn")?,
                    secret_name: a.s("SecretName")?,
                    secret_type: a.parsed("SecretType")?,
                    description: a.os("Description")?.unwrap_or_default(),
                    encryption_key_id: a.s("EncryptionKeyId")?,
                    create_time: a.s("CreateTime")?,
                    update_time: a.s("UpdateTime")?,
                    planned_delete_time: a.os("PlannedDeleteTime")?,
                    automatic_rotation: a.static_str("AutomaticRotation")?,
                    rotation_interval: a.os("RotationInterval")?,
                    last_rotation_date: a.os("LastRotationDate")?,
                    next_rotation_date: a.os("NextRotationDate")?,
                    extended_config: a.os("ExtendedConfig")?,
                    tags: a.opt_tags("Tags")?,
                }))
            }
            Request::ListSecrets(_) => Response::ListSecrets(crate::ListSecretsResponse {
                secrets: a
                    .list("SecretList", "Secret")?
                    .iter()
                    .map(|s| {
                        Ok(crate::SecretListEntry {
                            secret_name: s.s("SecretName")?,
                            secret_type: s.parsed("SecretType")?,
                            create_time: s.s("CreateTime")?,
                            update_time: s.s("UpdateTime")?,
                            planned_delete_time: s.os("PlannedDeleteTime")?,
                            tags: s.opt_tags("Tags")?,
                        })
                    })
                    .collect::<Result<_>>()?,
                total_count: a.u32("TotalCount")?,
                page_number: a.u32("PageNumber")?,
                page_size: a.u32("PageSize")?,
            }),
            Request::DeleteSecret(_) => Response::DeleteSecret(crate::DeleteSecretResponse {
                secret_name: a.s("SecretName")?,
                planned_delete_time: a.os("PlannedDeleteTime")?,
            }),
            Request::ExportImage(_)
            | Request::CreateBackup(_)
            | Request::ChangePassphrase(_)
            | Request::RekeyStore(_)
            | Request::CompactStore(_)
            | Request::VerifyStore(_) => return Err(store_not_sent()),
            Request::GenerateRandom(_) => Response::GenerateRandom(GenerateRandomResponse {
                random: SecretBytes::from_slice(&a.bytes("Random")?),
            }),
            Request::Hash(_) => Response::Hash(HashResponse {
                algorithm: a.s("Algorithm")?.parse()?,
                digest: a.bytes("Digest")?,
            }),
            Request::DescribeService(_) => Response::DescribeService(DescribeServiceResponse {
                protection_levels: a
                    .list("ProtectionLevels", "ProtectionLevel")?
                    .iter()
                    .map(|l| l.parsed("Type"))
                    .collect::<Result<_>>()?,
                key_specs: a
                    .list("KeySpecs", "KeySpec")?
                    .iter()
                    .map(|k| {
                        Ok(KeySpecInfo {
                            name: k.parsed("Name")?,
                            supported_protection_levels: k
                                .strings("SupportedProtectionLevels", "SupportedProtectionLevel")?
                                .iter()
                                .map(|s| s.parse().map_err(|_| bad("SupportedProtectionLevel")))
                                .collect::<Result<_>>()?,
                            usages: k
                                .strings("Usages", "Usage")?
                                .iter()
                                .map(|s| s.parse().map_err(|_| bad("Usage")))
                                .collect::<Result<_>>()?,
                        })
                    })
                    .collect::<Result<_>>()?,
                key_usages: a
                    .strings("KeyUsages", "KeyUsage")?
                    .iter()
                    .map(|s| s.parse().map_err(|_| bad("KeyUsage")))
                    .collect::<Result<_>>()?,
                supports_import: a.bool("SupportsImport")?,
                actions: a
                    .strings("Actions", "Action")?
                    .iter()
                    .map(|s| intern(s))
                    .collect(),
            }),
            Request::CreateUser(_) => Response::CreateUser(ram_user(&a.at("User")?)?),
            Request::GetUser(_) => Response::GetUser(ram_user(&a.at("User")?)?),
            Request::ListUsers(_) => Response::ListUsers(crate::ListUsersResponse {
                users: a
                    .list("Users", "User")?
                    .iter()
                    .map(ram_user)
                    .collect::<Result<_>>()?,
            }),
            Request::CreateRole(_) => Response::CreateRole(ram_role(&a.at("Role")?)?),
            Request::GetRole(_) => Response::GetRole(ram_role(&a.at("Role")?)?),
            Request::ListRoles(_) => Response::ListRoles(crate::ListRolesResponse {
                roles: a
                    .list("Roles", "Role")?
                    .iter()
                    .map(ram_role)
                    .collect::<Result<_>>()?,
            }),
            Request::DeleteUser(_) => Response::DeleteUser(Done),
            Request::DeleteRole(_) => Response::DeleteRole(Done),
            Request::UpdateAccessKey(_) => Response::UpdateAccessKey(Done),
            Request::DeleteAccessKey(_) => Response::DeleteAccessKey(Done),
            Request::DeletePolicy(_) => Response::DeletePolicy(Done),
            Request::AttachPolicyToUser(_) => Response::AttachPolicyToUser(Done),
            Request::DetachPolicyFromUser(_) => Response::DetachPolicyFromUser(Done),
            Request::AttachPolicyToRole(_) => Response::AttachPolicyToRole(Done),
            Request::DetachPolicyFromRole(_) => Response::DetachPolicyFromRole(Done),
            Request::SetKeyPolicy(_) => Response::SetKeyPolicy(Done),
            Request::SetSecretPolicy(_) => Response::SetSecretPolicy(Done),
            Request::SetAuditLevel(_) => Response::SetAuditLevel(Done),
            Request::CreateClientKey(_) => Response::CreateClientKey(crate::ClientKey {
                key_id: a.s("KeyId")?,
                user_name: a.s("UserName")?,
                create_ms: a.time_ms("CreateDate")?,
                not_after_ms: a.time_ms("NotAfter")?,
            }),
            Request::CreateAccessKey(_) => {
                let k = a.at("AccessKey")?;
                Response::CreateAccessKey(access_key(&k)?)
            }
            Request::ListAccessKeys(_) => Response::ListAccessKeys(crate::ListAccessKeysResponse {
                access_keys: a
                    .list("AccessKeys", "AccessKey")?
                    .iter()
                    .map(access_key)
                    .collect::<Result<_>>()?,
            }),
            Request::CreatePolicy(_) => Response::CreatePolicy(ram_policy(&a.at("Policy")?, None)?),
            Request::GetPolicy(_) => {
                let doc = a.at("DefaultPolicyVersion")?.os("PolicyDocument")?;
                Response::GetPolicy(ram_policy(&a.at("Policy")?, doc)?)
            }
            Request::ListPolicies(_) => Response::ListPolicies(policies(a)?),
            Request::ListPoliciesForUser(_) => Response::ListPoliciesForUser(policies(a)?),
            Request::ListPoliciesForRole(_) => Response::ListPoliciesForRole(policies(a)?),
            Request::AssumeRole(_) => {
                let c = a.at("Credentials")?;
                let u = a.at("AssumedRoleUser")?;
                Response::AssumeRole(crate::access::TemporaryCredentials {
                    access_key_id: c.s("AccessKeyId")?,
                    access_key_secret: SecretBytes::from_slice(c.s("AccessKeySecret")?.as_bytes()),
                    security_token: SecretBytes::from_slice(c.s("SecurityToken")?.as_bytes()),
                    expiration_ms: c.time_ms("Expiration")?,
                    assumed_role_arn: u.s("Arn")?,
                    assumed_role_id: u.s("AssumedRoleId")?,
                })
            }
            Request::GetKeyPolicy(_) => Response::GetKeyPolicy(crate::PolicyText {
                policy: a.s("Policy")?,
            }),
            Request::GetSecretPolicy(_) => Response::GetSecretPolicy(crate::PolicyText {
                policy: a.s("Policy")?,
            }),
            Request::SimulatePolicy(_) => Response::SimulatePolicy(crate::SimulatePolicyResponse {
                decision: a.static_str("Decision")?,
                error_code: a.os("ErrorCode")?.map(|c| intern(&c)),
            }),
            Request::DescribeAuditConfig(_) => Response::DescribeAuditConfig(crate::AuditConfig {
                level: crate::access::AuditLevel::parse(&a.s("AuditLevel")?)
                    .map_err(|_| bad("AuditLevel"))?,
                level_set: a.bool("LevelSet")?,
                account_id: a.os("AccountId")?,
            }),
        })
    }
}

fn access_key(k: &Answer<'_>) -> Result<crate::AccessKey> {
    Ok(crate::AccessKey {
        access_key_id: k.s("AccessKeyId")?,
        access_key_secret: k
            .os("AccessKeySecret")?
            .map(|s| SecretBytes::from_slice(s.as_bytes())),
        status: k.static_str("Status")?,
        create_ms: k.time_ms("CreateDate")?,
    })
}

impl Error {
    /// The error an Alibaba error body (`{"RequestId", "Code", "Message"[, "Kind"]}`)
    /// stands for, answered with HTTP `status`. strongroom's own codes keep their
    /// family; the gateway's (signature, throttling, …) get theirs from the code and
    /// the status.
    #[must_use]
    pub fn from_wire(status: u16, body: &Value) -> Error {
        let a = Answer(body);
        let code = a.os("Code").ok().flatten();
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return Error::BackendProtocol(intern(&alloc::format!(
                "the gateway answered HTTP {status} without an error code"
            )));
        };
        let message = a.os("Message").ok().flatten().unwrap_or_default();
        let kind = match a.os("Kind").ok().flatten().as_deref() {
            Some(k) if crate::error::KINDS.contains(&k) => intern(k),
            _ => crate::error::kind_of_gateway_code(&code, status),
        };
        Error::Remote(Box::new(crate::error::RemoteError {
            code: intern(&code),
            kind,
            message,
            request_id: a.os("RequestId").ok().flatten(),
            status,
        }))
    }
}
