//! What policy conditions and the audit trail may know of a request: its
//! EncryptionContext and its identifying parameters. Never a sensitive field of the
//! table (plaintext, key material, secret values, passwords, AccessKeySecrets):
//! those are not read here at all.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::Request;
use crate::context::EncryptionContext;

impl Request {
    /// The EncryptionContext the request carries (for `kms:EncryptionContext/<Key>`).
    #[must_use]
    pub fn encryption_context(&self) -> Option<&EncryptionContext> {
        match self {
            Request::Encrypt(r) => Some(&r.encryption_context),
            Request::Decrypt(r) => Some(&r.encryption_context),
            Request::ReEncrypt(r) => Some(&r.source_encryption_context),
            Request::GenerateDataKey(r) | Request::GenerateDataKeyWithoutPlaintext(r) => {
                Some(&r.encryption_context)
            }
            Request::GenerateDataKeyPair(r) | Request::GenerateDataKeyPairWithoutPlaintext(r) => {
                Some(&r.encryption_context)
            }
            Request::GenerateAndExportDataKey(r) => Some(&r.data_key.encryption_context),
            Request::ExportDataKey(r) => Some(&r.encryption_context),
            Request::EncryptEnvelope(r) => Some(&r.encryption_context),
            Request::BeginEnvelope(r) => Some(&r.encryption_context),
            Request::DecryptEnvelope(r) => r.encryption_context.as_ref(),
            Request::ReEncryptEnvelope(r) => r.encryption_context.as_ref(),
            _ => None,
        }
        .filter(|c| !c.is_empty())
    }

    /// The request's identifying, non-sensitive parameters (Alibaba's names), for the
    /// audit event's `requestParameters`.
    #[must_use]
    pub fn audit_params(&self) -> Vec<(&'static str, String)> {
        let mut p: Vec<(&'static str, String)> = Vec::new();
        let mut put = |k: &'static str, v: &str| p.push((k, v.to_string()));
        match self {
            Request::CreateKey(r) => {
                if let Some(s) = r.key_spec {
                    put("KeySpec", s.as_str());
                }
                if let Some(u) = r.key_usage {
                    put("KeyUsage", u.as_str());
                }
                if let Some(o) = r.origin {
                    put("Origin", o.as_str());
                }
                if let Some(l) = r.protection_level {
                    put("ProtectionLevel", l.as_str());
                }
            }
            Request::GenerateRandom(r) => put("Length", &r.length.to_string()),
            Request::Hash(r) => put("Algorithm", r.algorithm.as_str()),
            Request::DescribeKey(r) => put("KeyId", &r.key_id),
            Request::UpdateKeyDescription(r) => put("KeyId", &r.key_id),
            Request::EnableKey(r) => put("KeyId", &r.key_id),
            Request::DisableKey(r) => put("KeyId", &r.key_id),
            Request::ScheduleKeyDeletion(r) => {
                put("KeyId", &r.key_id);
                put("PendingWindowInDays", &r.pending_window_in_days.to_string());
            }
            Request::CancelKeyDeletion(r) => put("KeyId", &r.key_id),
            Request::SetDeletionProtection(r) => {
                put("ProtectedResourceArn", &r.protected_resource_arn);
                put(
                    "EnableDeletionProtection",
                    if r.enable_deletion_protection {
                        "true"
                    } else {
                        "false"
                    },
                );
            }
            Request::CreateKeyVersion(r) => put("KeyId", &r.key_id),
            Request::DescribeKeyVersion(r) => {
                put("KeyId", &r.key_id);
                put("KeyVersionId", &r.key_version_id);
            }
            Request::ListKeyVersions(r) => put("KeyId", &r.key_id),
            Request::UpdateRotationPolicy(r) => put("KeyId", &r.key_id),
            Request::CreateAlias(r) | Request::UpdateAlias(r) => {
                put("AliasName", &r.alias_name);
                put("KeyId", &r.key_id);
            }
            Request::DeleteAlias(r) => put("AliasName", &r.alias_name),
            Request::ListAliasesByKeyId(r) => put("KeyId", &r.key_id),
            Request::TagResource(r) => {
                put("KeyId", &r.key_id);
                let keys: Vec<&str> = r.tags.iter().map(|t| t.tag_key.as_str()).collect();
                put("TagKeys", &keys.join(","));
            }
            Request::UntagResource(r) => {
                put("KeyId", &r.key_id);
                put("TagKeys", &r.tag_keys.join(","));
            }
            Request::ListResourceTags(r) => put("KeyId", &r.key_id),
            Request::GetParametersForImport(r) => put("KeyId", &r.key_id),
            Request::ImportKeyMaterial(r) => put("KeyId", &r.key_id),
            Request::DeleteKeyMaterial(r) => put("KeyId", &r.key_id),
            Request::Encrypt(r) => put("KeyId", &r.key_id),
            Request::ReEncrypt(r) => put("DestinationKeyId", &r.destination_key_id),
            Request::GenerateDataKey(r) | Request::GenerateDataKeyWithoutPlaintext(r) => {
                put("KeyId", &r.key_id);
                if let Some(s) = r.key_spec {
                    put("KeySpec", s.as_str());
                }
                if let Some(n) = r.number_of_bytes {
                    put("NumberOfBytes", &n.to_string());
                }
            }
            Request::GenerateDataKeyPair(r) | Request::GenerateDataKeyPairWithoutPlaintext(r) => {
                put("KeyId", &r.key_id);
                if let Some(s) = r.key_pair_spec {
                    put("KeyPairSpec", s.as_str());
                }
                if let Some(f) = r.key_format {
                    put("KeyFormat", f.as_str());
                }
            }
            Request::GenerateAndExportDataKey(r) => put("KeyId", &r.data_key.key_id),
            Request::GetPublicKey(r) => put("KeyId", &r.key_id),
            Request::AsymmetricSign(r) => {
                put("KeyId", &r.key_id);
                put("Algorithm", r.algorithm.as_str());
            }
            Request::AsymmetricSignMessage(r) => {
                put("KeyId", &r.key_id);
                put("Algorithm", r.algorithm.as_str());
            }
            Request::AsymmetricVerify(r) => {
                put("KeyId", &r.key_id);
                put("Algorithm", r.algorithm.as_str());
            }
            Request::AsymmetricEncrypt(r) => {
                put("KeyId", &r.key_id);
                put("Algorithm", r.algorithm.as_str());
            }
            Request::AsymmetricDecrypt(r) => {
                put("KeyId", &r.key_id);
                put("Algorithm", r.algorithm.as_str());
            }
            Request::EncryptEnvelope(r) => put("KeyIds", &r.key_ids.join(",")),
            Request::BeginEnvelope(r) => put("KeyIds", &r.key_ids.join(",")),
            Request::ReEncryptEnvelope(r) if !r.destination_key_ids.is_empty() => {
                put("DestinationKeyIds", &r.destination_key_ids.join(","));
            }
            Request::CreateSecret(r) => {
                put("SecretName", &r.secret_name);
                put("VersionId", &r.version_id);
                if let Some(k) = &r.encryption_key_id {
                    put("EncryptionKeyId", k);
                }
            }
            Request::GetSecretValue(r) => {
                put("SecretName", &r.secret_name);
                if let Some(v) = &r.version_id {
                    put("VersionId", v);
                }
                if let Some(v) = &r.version_stage {
                    put("VersionStage", v);
                }
            }
            Request::PutSecretValue(r) => {
                put("SecretName", &r.secret_name);
                put("VersionId", &r.version_id);
            }
            Request::UpdateSecretVersionStage(r) => {
                put("SecretName", &r.secret_name);
                put("VersionStage", &r.version_stage);
                if let Some(v) = &r.remove_from_version {
                    put("RemoveFromVersion", v);
                }
                if let Some(v) = &r.move_to_version {
                    put("MoveToVersion", v);
                }
            }
            Request::ListSecretVersionIds(r) => put("SecretName", &r.secret_name),
            Request::DescribeSecret(r) => put("SecretName", &r.secret_name),
            Request::UpdateSecret(r) => put("SecretName", &r.secret_name),
            Request::DeleteSecret(r) => put("SecretName", &r.secret_name),
            Request::RestoreSecret(r) => put("SecretName", &r.secret_name),
            Request::RotateSecret(r) => put("SecretName", &r.secret_name),
            Request::UpdateSecretRotationPolicy(r) => put("SecretName", &r.secret_name),
            Request::TagSecret(r) => put("SecretName", &r.secret_name),
            Request::UntagSecret(r) => put("SecretName", &r.secret_name),
            Request::ListSecretTags(r) => put("SecretName", &r.secret_name),
            Request::CreateUser(r) => {
                put("UserName", &r.user_name);
                if let Some(a) = &r.account_id {
                    put("AccountId", a);
                }
            }
            Request::GetUser(r)
            | Request::DeleteUser(r)
            | Request::CreateAccessKey(r)
            | Request::ListAccessKeys(r)
            | Request::ListPoliciesForUser(r) => put("UserName", &r.user_name),
            Request::CreateClientKey(r) => put("UserName", &r.user_name),
            Request::UpdateAccessKey(r) | Request::DeleteAccessKey(r) => {
                put("UserName", &r.user_name);
                put("UserAccessKeyId", &r.user_access_key_id);
                if let Some(s) = &r.status {
                    put("Status", s);
                }
            }
            Request::CreateRole(r) => {
                put("RoleName", &r.role_name);
                put("AssumeRolePolicyDocument", &r.assume_role_policy_document);
            }
            Request::GetRole(r) | Request::DeleteRole(r) | Request::ListPoliciesForRole(r) => {
                put("RoleName", &r.role_name);
            }
            Request::CreatePolicy(r) => {
                put("PolicyName", &r.policy_name);
                put("PolicyDocument", &r.policy_document);
            }
            Request::GetPolicy(r) | Request::DeletePolicy(r) => {
                put("PolicyName", &r.policy_name);
                put("PolicyType", r.policy_type.as_str());
            }
            Request::AttachPolicyToUser(r)
            | Request::DetachPolicyFromUser(r)
            | Request::AttachPolicyToRole(r)
            | Request::DetachPolicyFromRole(r) => {
                put("PolicyName", &r.policy_name);
                put("PolicyType", r.policy_type.as_str());
                put(
                    if matches!(
                        self,
                        Request::AttachPolicyToRole(_) | Request::DetachPolicyFromRole(_)
                    ) {
                        "RoleName"
                    } else {
                        "UserName"
                    },
                    &r.principal_name,
                );
            }
            Request::AssumeRole(r) => {
                put("RoleArn", &r.role_arn);
                put("RoleSessionName", &r.role_session_name);
                if let Some(d) = r.duration_seconds {
                    put("DurationSeconds", &d.to_string());
                }
            }
            Request::SetKeyPolicy(r) | Request::GetKeyPolicy(r) => {
                put("KeyId", &r.key_id);
                if let Some(d) = &r.policy {
                    put("Policy", d);
                }
            }
            Request::SetSecretPolicy(r) | Request::GetSecretPolicy(r) => {
                put("SecretName", &r.secret_name);
                if let Some(d) = &r.policy {
                    put("Policy", d);
                }
            }
            Request::SetAuditLevel(r) => put("Level", r.level.as_str()),
            Request::SimulatePolicy(r) => {
                put("PrincipalArn", &r.principal_arn);
                put("ActionName", &r.action_name);
                if let Some(x) = &r.resource {
                    put("ResourceArn", x);
                }
            }
            _ => {}
        }
        if let Some(ec) = self.encryption_context() {
            p.push(("EncryptionContext", ec.canonical_json()));
        }
        p
    }
}
