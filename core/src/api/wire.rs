//! Alibaba's wire forms of every action (feature `wire`): request parameters in, the
//! response JSON out, exactly as the KMS OpenAPI (Version 2016-01-20) spells them —
//! PascalCase names, base64 for binary, the `KeyMetadata` / `Keys.Key` / … wrappers,
//! and `RequestId` in every answer. The CLI's `strongroom kms ACTION` and the gateway
//! speak through here; nothing else spells a wire name.
//!
//! Parameters come as one JSON object. As in Alibaba's RPC style every value may be a
//! string (`"PageSize": "50"`, `"EncryptionContext": "{\"a\":\"b\"}"`); typed JSON
//! values (numbers, booleans, objects, arrays) are accepted as well.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use serde_json::{Map, Value, json};

use super::*;
use crate::asym::{EncryptionAlgorithm, WrappingAlgorithm};
use crate::context::EncryptionContext;
use crate::envelope::{
    DecryptEnvelopeRequest, EncryptEnvelopeRequest, EnvelopeInfo, ReEncryptEnvelopeRequest,
};
use crate::vocab::DataKeySpec;

/// Reads one action's parameters, refusing names the action does not take.
struct Params<'a> {
    map: &'a Map<String, Value>,
    used: BTreeSet<&'static str>,
}

fn param(name: &'static str, why: impl Into<String>) -> Error {
    Error::param(name, why)
}

impl<'a> Params<'a> {
    fn raw(&mut self, name: &'static str) -> Option<&'a Value> {
        self.used.insert(name);
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn opt_str(&mut self, name: &'static str) -> Result<Option<String>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(param(name, "must be a string")),
        }
    }

    fn str(&mut self, name: &'static str) -> Result<String> {
        self.opt_str(name)?.ok_or_else(|| param(name, "required"))
    }

    fn opt_u64(&mut self, name: &'static str) -> Result<Option<u64>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| param(name, "must be a non-negative integer")),
            Some(Value::String(s)) => s
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| param(name, "must be a non-negative integer")),
            Some(_) => Err(param(name, "must be a non-negative integer")),
        }
    }

    fn opt_u32(&mut self, name: &'static str) -> Result<Option<u32>> {
        self.opt_u64(name)?
            .map(|v| u32::try_from(v).map_err(|_| param(name, "too large")))
            .transpose()
    }

    fn opt_bool(&mut self, name: &'static str) -> Result<Option<bool>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(param(name, "must be true or false")),
        }
    }

    fn opt_bytes(&mut self, name: &'static str) -> Result<Option<Vec<u8>>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => Base64::decode_vec(s.trim())
                .map(Some)
                .map_err(|_| param(name, "must be base64")),
            Some(_) => Err(param(name, "must be a base64 string")),
        }
    }

    fn bytes(&mut self, name: &'static str) -> Result<Vec<u8>> {
        self.opt_bytes(name)?.ok_or_else(|| param(name, "required"))
    }

    /// A JSON-valued parameter: given as JSON text in a string, or as JSON itself.
    fn opt_json(&mut self, name: &'static str) -> Result<Option<Value>> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| param(name, "must be JSON")),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    fn context(&mut self, name: &'static str) -> Result<Option<EncryptionContext>> {
        let Some(v) = self.opt_json(name)? else {
            return Ok(None);
        };
        let Value::Object(o) = v else {
            return Err(Error::param(
                "EncryptionContext",
                "must be a JSON object of string values",
            ));
        };
        let mut pairs = Vec::with_capacity(o.len());
        for (k, v) in o {
            let Value::String(v) = v else {
                return Err(Error::param(
                    "EncryptionContext",
                    "must be a JSON object of string values",
                ));
            };
            pairs.push((k, v));
        }
        EncryptionContext::from_pairs(pairs).map(Some)
    }

    fn string_list(&mut self, name: &'static str) -> Result<Option<Vec<String>>> {
        let Some(v) = self.opt_json(name)? else {
            return Ok(None);
        };
        let bad = || param(name, "must be a JSON array of strings");
        let Value::Array(items) = v else {
            return Err(bad());
        };
        items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    fn parsed<T: core::str::FromStr<Err = Error>>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<T>> {
        self.opt_str(name)?.map(|s| s.parse::<T>()).transpose()
    }

    fn required<T: core::str::FromStr<Err = Error>>(&mut self, name: &'static str) -> Result<T> {
        self.parsed(name)?.ok_or_else(|| param(name, "required"))
    }

    /// Refuses any parameter the action did not read.
    fn finish(self, action: Action) -> Result<()> {
        if let Some(k) = self.map.keys().find(|k| !self.used.contains(k.as_str())) {
            return Err(Error::param(
                "Request",
                alloc::format!("{action} takes no parameter {k:?}"),
            ));
        }
        Ok(())
    }
}

fn tags(p: &mut Params<'_>) -> Result<Vec<Tag>> {
    let Some(v) = p.opt_json("Tags")? else {
        return Err(param("Tags", "required"));
    };
    let bad = || {
        param(
            "Tags",
            "must be a JSON array of {\"TagKey\": …, \"TagValue\": …}",
        )
    };
    let Value::Array(items) = v else {
        return Err(bad());
    };
    items
        .into_iter()
        .map(|i| {
            let k = i.get("TagKey").and_then(Value::as_str).ok_or_else(bad)?;
            let v = i
                .get("TagValue")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Ok(Tag {
                tag_key: k.to_string(),
                tag_value: v.to_string(),
            })
        })
        .collect()
}

fn filters(p: &mut Params<'_>) -> Result<Vec<KeyFilter>> {
    let Some(v) = p.opt_json("Filters")? else {
        return Ok(Vec::new());
    };
    let bad = || {
        param(
            "Filters",
            "must be a JSON array of {\"Key\": …, \"Values\": […]}",
        )
    };
    let Value::Array(items) = v else {
        return Err(bad());
    };
    items
        .into_iter()
        .map(|i| {
            let key = i.get("Key").and_then(Value::as_str).ok_or_else(bad)?;
            let values = match i.get("Values") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(vs)) => vs
                    .iter()
                    .map(|v| v.as_str().map(ToString::to_string).ok_or_else(bad))
                    .collect::<Result<Vec<_>>>()?,
                Some(_) => return Err(bad()),
            };
            Ok(KeyFilter {
                key: key.to_string(),
                values,
            })
        })
        .collect()
}

/// The tag actions' SecretName, when given instead of a KeyId.
fn secret_target(p: &mut Params<'_>) -> Result<Option<String>> {
    let name = p.opt_str("SecretName")?;
    if name.is_some() && p.map.get("KeyId").is_some_and(|v| !v.is_null()) {
        return Err(param("SecretName", "give KeyId or SecretName, not both"));
    }
    Ok(name)
}

/// SecretData: text as it is; binary as base64.
fn secret_data(p: &mut Params<'_>, ty: Option<SecretDataType>) -> Result<SecretBytes> {
    match ty.unwrap_or(SecretDataType::Text) {
        SecretDataType::Binary => Ok(SecretBytes::new(p.bytes("SecretData")?)),
        _ => match p.raw("SecretData") {
            Some(Value::String(s)) => Ok(SecretBytes::from_slice(s.as_bytes())),
            Some(_) => Err(param("SecretData", "must be a string")),
            None => Err(param("SecretData", "required")),
        },
    }
}

fn stages_json(stages: &[String]) -> Value {
    json!({"VersionStage": stages})
}

fn tags_json(tags: &[Tag]) -> Value {
    let list: Vec<Value> = tags
        .iter()
        .map(|t| json!({"TagKey": t.tag_key, "TagValue": t.tag_value}))
        .collect();
    json!({"Tag": list})
}

fn put_opt(o: &mut Map<String, Value>, k: &str, v: Option<&String>) {
    if let Some(v) = v {
        o.insert(k.to_string(), Value::String(v.clone()));
    }
}

fn secret_created(r: &SecretCreated) -> Value {
    let mut o = Map::new();
    o.insert("Arn".into(), json!(r.arn));
    o.insert("SecretName".into(), json!(r.secret_name));
    o.insert("VersionId".into(), json!(r.version_id));
    o.insert("SecretType".into(), json!(r.secret_type.as_str()));
    o.insert("AutomaticRotation".into(), json!(r.automatic_rotation));
    put_opt(&mut o, "RotationInterval", r.rotation_interval.as_ref());
    put_opt(&mut o, "NextRotationDate", r.next_rotation_date.as_ref());
    Value::Object(o)
}

/// The public key a data key is exported to, and how (ExportDataKey and
/// GenerateAndExportDataKey); the core's defaults for what the request leaves out.
fn export_to(p: &mut Params<'_>) -> Result<(Vec<u8>, WrappingAlgorithm, crate::vocab::KeySpec)> {
    Ok((
        p.bytes("PublicKeyBlob")?,
        p.parsed::<WrappingAlgorithm>("WrappingAlgorithm")?
            .unwrap_or(DEFAULT_EXPORT_WRAPPING_ALGORITHM),
        p.parsed("WrappingKeySpec")?
            .unwrap_or(DEFAULT_WRAPPING_KEY_SPEC),
    ))
}

fn data_key_pair(p: &mut Params<'_>) -> Result<GenerateDataKeyPairRequest> {
    Ok(GenerateDataKeyPairRequest {
        key_id: p.str("KeyId")?,
        key_pair_spec: Some(crate::service::crypto::parse_key_pair_spec(
            &p.str("KeyPairSpec")?,
        )?),
        key_format: p.parsed("KeyFormat")?,
        encryption_context: p.context("EncryptionContext")?.unwrap_or_default(),
    })
}

fn data_key(p: &mut Params<'_>) -> Result<GenerateDataKeyRequest> {
    Ok(GenerateDataKeyRequest {
        key_id: p.str("KeyId")?,
        key_spec: p.parsed::<DataKeySpec>("KeySpec")?,
        number_of_bytes: p.opt_u32("NumberOfBytes")?,
        encryption_context: p.context("EncryptionContext")?.unwrap_or_default(),
    })
}

impl Request {
    /// The request for `action` from its wire parameters (Alibaba's names).
    ///
    /// # Errors
    /// `InvalidParameter.<Name>` for a missing or malformed parameter, or one the
    /// action does not take; `Rejected.Unsupported` for an action with no wire form.
    pub fn from_wire(action: Action, params: &Map<String, Value>) -> Result<Request> {
        let mut p = Params {
            map: params,
            used: BTreeSet::new(),
        };
        let key_id = |p: &mut Params<'_>| p.str("KeyId");
        let r = match action {
            Action::CreateKey => Request::CreateKey(CreateKeyRequest {
                key_spec: p.parsed("KeySpec")?,
                key_usage: p.parsed("KeyUsage")?,
                description: p.opt_str("Description")?,
                origin: p.parsed("Origin")?,
                protection_level: p.parsed("ProtectionLevel")?,
            }),
            Action::DescribeKey => Request::DescribeKey(DescribeKeyRequest {
                key_id: key_id(&mut p)?,
            }),
            Action::ListKeys => Request::ListKeys(ListKeysRequest {
                page_number: p.opt_u32("PageNumber")?,
                page_size: p.opt_u32("PageSize")?,
                filters: filters(&mut p)?,
            }),
            Action::UpdateKeyDescription => {
                Request::UpdateKeyDescription(UpdateKeyDescriptionRequest {
                    key_id: key_id(&mut p)?,
                    description: p.opt_str("Description")?.unwrap_or_default(),
                })
            }
            Action::EnableKey => Request::EnableKey(EnableKeyRequest {
                key_id: key_id(&mut p)?,
            }),
            Action::DisableKey => Request::DisableKey(DisableKeyRequest {
                key_id: key_id(&mut p)?,
            }),
            Action::ScheduleKeyDeletion => {
                Request::ScheduleKeyDeletion(ScheduleKeyDeletionRequest {
                    key_id: key_id(&mut p)?,
                    pending_window_in_days: p
                        .opt_u32("PendingWindowInDays")?
                        .ok_or_else(|| param("PendingWindowInDays", "required"))?,
                })
            }
            Action::CancelKeyDeletion => Request::CancelKeyDeletion(CancelKeyDeletionRequest {
                key_id: key_id(&mut p)?,
            }),
            Action::SetDeletionProtection => {
                Request::SetDeletionProtection(SetDeletionProtectionRequest {
                    protected_resource_arn: p.str("ProtectedResourceArn")?,
                    enable_deletion_protection: p
                        .opt_bool("EnableDeletionProtection")?
                        .ok_or_else(|| param("EnableDeletionProtection", "required"))?,
                    deletion_protection_description: p.opt_str("DeletionProtectionDescription")?,
                })
            }
            Action::CreateKeyVersion => Request::CreateKeyVersion(CreateKeyVersionRequest {
                key_id: key_id(&mut p)?,
            }),
            Action::DescribeKeyVersion => Request::DescribeKeyVersion(DescribeKeyVersionRequest {
                key_id: key_id(&mut p)?,
                key_version_id: p.str("KeyVersionId")?,
            }),
            Action::ListKeyVersions => Request::ListKeyVersions(ListKeyVersionsRequest {
                key_id: key_id(&mut p)?,
                page_number: p.opt_u32("PageNumber")?,
                page_size: p.opt_u32("PageSize")?,
            }),
            Action::UpdateRotationPolicy => {
                Request::UpdateRotationPolicy(UpdateRotationPolicyRequest {
                    key_id: key_id(&mut p)?,
                    enable_automatic_rotation: p
                        .opt_bool("EnableAutomaticRotation")?
                        .ok_or_else(|| param("EnableAutomaticRotation", "required"))?,
                    rotation_interval: p.opt_str("RotationInterval")?,
                })
            }
            Action::CreateAlias | Action::UpdateAlias => {
                let r = AliasRequest {
                    alias_name: p.str("AliasName")?,
                    key_id: key_id(&mut p)?,
                };
                if action == Action::CreateAlias {
                    Request::CreateAlias(r)
                } else {
                    Request::UpdateAlias(r)
                }
            }
            Action::DeleteAlias => Request::DeleteAlias(DeleteAliasRequest {
                alias_name: p.str("AliasName")?,
            }),
            Action::ListAliases => Request::ListAliases(ListAliasesRequest {
                page_number: p.opt_u32("PageNumber")?,
                page_size: p.opt_u32("PageSize")?,
            }),
            Action::ListAliasesByKeyId => Request::ListAliasesByKeyId(ListAliasesByKeyIdRequest {
                key_id: key_id(&mut p)?,
                page_number: p.opt_u32("PageNumber")?,
                page_size: p.opt_u32("PageSize")?,
            }),
            // The tag actions take a KeyId or a SecretName (one of them).
            Action::TagResource => match secret_target(&mut p)? {
                Some(secret_name) => Request::TagSecret(TagSecretRequest {
                    secret_name,
                    tags: tags(&mut p)?,
                }),
                None => Request::TagResource(TagResourceRequest {
                    key_id: key_id(&mut p)?,
                    tags: tags(&mut p)?,
                }),
            },
            Action::UntagResource => {
                let target = secret_target(&mut p)?;
                let tag_keys = p
                    .string_list("TagKeys")?
                    .ok_or_else(|| param("TagKeys", "required"))?;
                match target {
                    Some(secret_name) => Request::UntagSecret(UntagSecretRequest {
                        secret_name,
                        tag_keys,
                    }),
                    None => Request::UntagResource(UntagResourceRequest {
                        key_id: key_id(&mut p)?,
                        tag_keys,
                    }),
                }
            }
            Action::ListResourceTags => match secret_target(&mut p)? {
                Some(secret_name) => Request::ListSecretTags(ListSecretTagsRequest { secret_name }),
                None => Request::ListResourceTags(ListResourceTagsRequest {
                    key_id: key_id(&mut p)?,
                }),
            },
            Action::GetParametersForImport => {
                Request::GetParametersForImport(GetParametersForImportRequest {
                    key_id: key_id(&mut p)?,
                    wrapping_algorithm: p
                        .parsed("WrappingAlgorithm")?
                        .unwrap_or(DEFAULT_IMPORT_WRAPPING_ALGORITHM),
                    wrapping_key_spec: p
                        .parsed("WrappingKeySpec")?
                        .unwrap_or(DEFAULT_WRAPPING_KEY_SPEC),
                })
            }
            Action::ImportKeyMaterial => Request::ImportKeyMaterial(ImportKeyMaterialRequest {
                key_id: key_id(&mut p)?,
                encrypted_key_material: p.bytes("EncryptedKeyMaterial")?,
                import_token: p.str("ImportToken")?,
                key_material_expire_unix: p.opt_u64("KeyMaterialExpireUnix")?,
            }),
            Action::DeleteKeyMaterial => Request::DeleteKeyMaterial(DeleteKeyMaterialRequest {
                key_id: key_id(&mut p)?,
            }),
            Action::Encrypt => Request::Encrypt(EncryptRequest {
                key_id: key_id(&mut p)?,
                plaintext: p.bytes("Plaintext")?,
                encryption_context: p.context("EncryptionContext")?.unwrap_or_default(),
            }),
            Action::Decrypt => Request::Decrypt(DecryptRequest {
                ciphertext_blob: p.bytes("CiphertextBlob")?,
                encryption_context: p.context("EncryptionContext")?.unwrap_or_default(),
            }),
            Action::ReEncrypt => Request::ReEncrypt(ReEncryptRequest {
                ciphertext_blob: p.bytes("CiphertextBlob")?,
                source_encryption_context: p
                    .context("SourceEncryptionContext")?
                    .unwrap_or_default(),
                destination_key_id: p.str("DestinationKeyId")?,
                destination_encryption_context: p
                    .context("DestinationEncryptionContext")?
                    .unwrap_or_default(),
            }),
            Action::GenerateDataKey => Request::GenerateDataKey(data_key(&mut p)?),
            Action::GenerateDataKeyWithoutPlaintext => {
                Request::GenerateDataKeyWithoutPlaintext(data_key(&mut p)?)
            }
            Action::GenerateDataKeyPair => Request::GenerateDataKeyPair(data_key_pair(&mut p)?),
            Action::GenerateDataKeyPairWithoutPlaintext => {
                Request::GenerateDataKeyPairWithoutPlaintext(data_key_pair(&mut p)?)
            }
            Action::ExportDataKey => {
                let ciphertext_blob = p.bytes("CiphertextBlob")?;
                let encryption_context = p.context("EncryptionContext")?.unwrap_or_default();
                let (public_key_blob, wrapping_algorithm, wrapping_key_spec) = export_to(&mut p)?;
                Request::ExportDataKey(ExportDataKeyRequest {
                    ciphertext_blob,
                    encryption_context,
                    public_key_blob,
                    wrapping_algorithm,
                    wrapping_key_spec,
                })
            }
            Action::GenerateAndExportDataKey => {
                let data_key = data_key(&mut p)?;
                let (public_key_blob, wrapping_algorithm, wrapping_key_spec) = export_to(&mut p)?;
                Request::GenerateAndExportDataKey(GenerateAndExportDataKeyRequest {
                    data_key,
                    public_key_blob,
                    wrapping_algorithm,
                    wrapping_key_spec,
                })
            }
            Action::GetRandomPassword => Request::GetRandomPassword(GetRandomPasswordRequest {
                length: p.opt_u32("Length")?,
                exclude_characters: p.opt_str("ExcludeCharacters")?,
                exclude_lowercase: p.opt_bool("ExcludeLowercase")?.unwrap_or(false),
                exclude_uppercase: p.opt_bool("ExcludeUppercase")?.unwrap_or(false),
                exclude_numbers: p.opt_bool("ExcludeNumbers")?.unwrap_or(false),
                exclude_punctuation: p.opt_bool("ExcludePunctuation")?.unwrap_or(false),
                require_each_included_type: p.opt_bool("RequireEachIncludedType")?,
            }),
            Action::GetPublicKey => Request::GetPublicKey(GetPublicKeyRequest {
                key_id: key_id(&mut p)?,
                key_version_id: p.opt_str("KeyVersionId")?,
            }),
            Action::AsymmetricSign => Request::AsymmetricSign(AsymmetricSignRequest {
                key_id: key_id(&mut p)?,
                key_version_id: p.opt_str("KeyVersionId")?,
                algorithm: p.required("Algorithm")?,
                digest: p.bytes("Digest")?,
            }),
            Action::AsymmetricVerify => Request::AsymmetricVerify(AsymmetricVerifyRequest {
                key_id: key_id(&mut p)?,
                key_version_id: p.opt_str("KeyVersionId")?,
                algorithm: p.required("Algorithm")?,
                digest: p.bytes("Digest")?,
                value: p.bytes("Value")?,
            }),
            Action::AsymmetricEncrypt => Request::AsymmetricEncrypt(AsymmetricEncryptRequest {
                key_id: key_id(&mut p)?,
                key_version_id: p.opt_str("KeyVersionId")?,
                algorithm: p.required::<EncryptionAlgorithm>("Algorithm")?,
                plaintext: p.bytes("Plaintext")?,
            }),
            Action::AsymmetricDecrypt => Request::AsymmetricDecrypt(AsymmetricDecryptRequest {
                key_id: key_id(&mut p)?,
                key_version_id: p.opt_str("KeyVersionId")?,
                algorithm: p.required::<EncryptionAlgorithm>("Algorithm")?,
                ciphertext_blob: p.bytes("CiphertextBlob")?,
            }),
            Action::EncryptEnvelope => Request::EncryptEnvelope(EncryptEnvelopeRequest {
                key_ids: p
                    .string_list("KeyIds")?
                    .ok_or_else(|| param("KeyIds", "required"))?,
                plaintext: p.bytes("Plaintext")?,
                encryption_context: p.context("EncryptionContext")?.unwrap_or_default(),
                frame_length: p.opt_u32("FrameLength")?,
                signing_key_id: p.opt_str("SigningKeyId")?,
            }),
            Action::ReEncryptEnvelope => Request::ReEncryptEnvelope(ReEncryptEnvelopeRequest {
                message_header: p.bytes("Header")?,
                destination_key_ids: p.string_list("DestinationKeyIds")?.unwrap_or_default(),
                encryption_context: p.context("EncryptionContext")?,
            }),
            Action::DecryptEnvelope => Request::DecryptEnvelope(DecryptEnvelopeRequest {
                ciphertext: p.bytes("Ciphertext")?,
                encryption_context: p.context("EncryptionContext")?,
                required_encryption_context: p.context("RequiredEncryptionContext")?,
                required_signer: p.opt_str("RequiredSigner")?,
            }),
            Action::CreateSecret => {
                let secret_name = p.str("SecretName")?;
                let version_id = p.str("VersionId")?;
                let secret_data_type = p.parsed::<SecretDataType>("SecretDataType")?;
                Request::CreateSecret(CreateSecretRequest {
                    secret_data: secret_data(&mut p, secret_data_type)?,
                    secret_name,
                    version_id,
                    secret_data_type,
                    encryption_key_id: p.opt_str("EncryptionKeyId")?,
                    description: p.opt_str("Description")?,
                    tags: if p.map.contains_key("Tags") {
                        tags(&mut p)?
                    } else {
                        Vec::new()
                    },
                    secret_type: p.parsed("SecretType")?,
                    extended_config: p.opt_json("ExtendedConfig")?.map(|v| v.to_string()),
                    enable_automatic_rotation: p
                        .opt_bool("EnableAutomaticRotation")?
                        .unwrap_or(false),
                    rotation_interval: p.opt_str("RotationInterval")?,
                })
            }
            Action::GetSecretValue => Request::GetSecretValue(GetSecretValueRequest {
                secret_name: p.str("SecretName")?,
                version_id: p.opt_str("VersionId")?,
                version_stage: p.opt_str("VersionStage")?,
                fetch_extended_config: p.opt_bool("FetchExtendedConfig")?.unwrap_or(false),
            }),
            Action::PutSecretValue => {
                let secret_name = p.str("SecretName")?;
                let version_id = p.str("VersionId")?;
                let secret_data_type = p.parsed::<SecretDataType>("SecretDataType")?;
                Request::PutSecretValue(PutSecretValueRequest {
                    secret_data: secret_data(&mut p, secret_data_type)?,
                    secret_name,
                    version_id,
                    secret_data_type,
                    version_stages: p.string_list("VersionStages")?,
                })
            }
            Action::UpdateSecretVersionStage => {
                Request::UpdateSecretVersionStage(UpdateSecretVersionStageRequest {
                    secret_name: p.str("SecretName")?,
                    version_stage: p.str("VersionStage")?,
                    remove_from_version: p.opt_str("RemoveFromVersion")?,
                    move_to_version: p.opt_str("MoveToVersion")?,
                })
            }
            Action::ListSecretVersionIds => {
                Request::ListSecretVersionIds(ListSecretVersionIdsRequest {
                    secret_name: p.str("SecretName")?,
                    include_deprecated: p.opt_bool("IncludeDeprecated")?.unwrap_or(false),
                    page_number: p.opt_u32("PageNumber")?,
                    page_size: p.opt_u32("PageSize")?,
                })
            }
            Action::DescribeSecret => Request::DescribeSecret(DescribeSecretRequest {
                secret_name: p.str("SecretName")?,
                fetch_tags: p.opt_bool("FetchTags")?.unwrap_or(false),
            }),
            Action::ListSecrets => Request::ListSecrets(ListSecretsRequest {
                fetch_tags: p.opt_bool("FetchTags")?.unwrap_or(false),
                page_number: p.opt_u32("PageNumber")?,
                page_size: p.opt_u32("PageSize")?,
                filters: filters(&mut p)?,
            }),
            Action::UpdateSecret => Request::UpdateSecret(UpdateSecretRequest {
                secret_name: p.str("SecretName")?,
                description: p.opt_str("Description")?,
                extended_config_custom_data: p
                    .opt_json("ExtendedConfig.CustomData")?
                    .map(|v| v.to_string()),
            }),
            Action::DeleteSecret => Request::DeleteSecret(DeleteSecretRequest {
                secret_name: p.str("SecretName")?,
                recovery_window_in_days: p.opt_u32("RecoveryWindowInDays")?,
                force_delete_without_recovery: p
                    .opt_bool("ForceDeleteWithoutRecovery")?
                    .unwrap_or(false),
            }),
            Action::RestoreSecret => Request::RestoreSecret(RestoreSecretRequest {
                secret_name: p.str("SecretName")?,
            }),
            Action::RotateSecret => Request::RotateSecret(RotateSecretRequest {
                secret_name: p.str("SecretName")?,
                version_id: p.opt_str("VersionId")?,
            }),
            Action::UpdateSecretRotationPolicy => {
                Request::UpdateSecretRotationPolicy(UpdateSecretRotationPolicyRequest {
                    secret_name: p.str("SecretName")?,
                    enable_automatic_rotation: p
                        .opt_bool("EnableAutomaticRotation")?
                        .ok_or_else(|| param("EnableAutomaticRotation", "required"))?,
                    rotation_interval: p.opt_str("RotationInterval")?,
                })
            }
            Action::GenerateRandom => Request::GenerateRandom(GenerateRandomRequest {
                length: p
                    .opt_u32("Length")?
                    .ok_or_else(|| param("Length", "required"))?,
            }),
            Action::Hash => Request::Hash(HashRequest {
                algorithm: p
                    .opt_str("Algorithm")?
                    .map(|a| a.parse())
                    .transpose()?
                    .unwrap_or_default(),
                message: crate::secret::SecretBytes::from_slice(&p.bytes("Message")?),
            }),
            Action::DescribeService => Request::DescribeService(DescribeServiceRequest {}),
            Action::ExportImage => Request::ExportImage(ExportImageRequest {
                reseal: p.opt_str("Passphrase")?.map(|pw| {
                    (
                        crate::storage::RootSecret::passphrase(&pw),
                        crate::storage::KdfParams::default(),
                    )
                }),
            }),
            Action::CreateBackup => Request::CreateBackup(CreateBackupRequest {
                backup_passphrase: crate::secret::SecretBytes::from_slice(
                    p.str("BackupPassphrase")?.as_bytes(),
                ),
                kdf: crate::storage::KdfParams::default(),
            }),
            Action::ChangePassphrase => Request::ChangePassphrase(ChangePassphraseRequest {
                root: crate::storage::RootSecret::passphrase(&p.str("NewPassphrase")?),
                kdf: crate::storage::KdfParams::default(),
            }),
            Action::RekeyStore => Request::RekeyStore(RekeyStoreRequest {}),
            Action::CompactStore => Request::CompactStore(CompactStoreRequest {}),
            Action::VerifyStore => Request::VerifyStore(VerifyStoreRequest {}),
            Action::CreateUser => Request::CreateUser(CreateUserRequest {
                user_name: p.str("UserName")?,
                display_name: p.opt_str("DisplayName")?,
                comments: p.opt_str("Comments")?,
                account_id: p.opt_str("AccountId")?,
            }),
            Action::GetUser => Request::GetUser(user(&mut p)?),
            Action::ListUsers => Request::ListUsers(ListEntitiesRequest),
            Action::DeleteUser => Request::DeleteUser(user(&mut p)?),
            Action::CreateRole => Request::CreateRole(CreateRoleRequest {
                role_name: p.str("RoleName")?,
                assume_role_policy_document: json_text(&mut p, "AssumeRolePolicyDocument")?,
                description: p.opt_str("Description")?,
                max_session_duration: p.opt_u32("MaxSessionDuration")?,
            }),
            Action::GetRole => Request::GetRole(role(&mut p)?),
            Action::ListRoles => Request::ListRoles(ListEntitiesRequest),
            Action::DeleteRole => Request::DeleteRole(role(&mut p)?),
            Action::CreateAccessKey => Request::CreateAccessKey(user(&mut p)?),
            Action::UpdateAccessKey => Request::UpdateAccessKey(AccessKeyRequest {
                user_name: p.str("UserName")?,
                user_access_key_id: p.str("UserAccessKeyId")?,
                status: Some(p.str("Status")?),
            }),
            Action::DeleteAccessKey => Request::DeleteAccessKey(AccessKeyRequest {
                user_name: p.str("UserName")?,
                user_access_key_id: p.str("UserAccessKeyId")?,
                status: None,
            }),
            Action::ListAccessKeys => Request::ListAccessKeys(user(&mut p)?),
            Action::CreateClientKey => Request::CreateClientKey(CreateClientKeyRequest {
                user_name: p.str("UserName")?,
                public_key: p.str("PublicKey")?,
                not_after: p.opt_str("NotAfter")?,
            }),
            Action::CreatePolicy => Request::CreatePolicy(CreatePolicyRequest {
                policy_name: p.str("PolicyName")?,
                policy_document: json_text(&mut p, "PolicyDocument")?,
                description: p.opt_str("Description")?,
            }),
            Action::GetPolicy => Request::GetPolicy(policy_name(&mut p)?),
            Action::ListPolicies => Request::ListPolicies(ListPoliciesRequest {
                policy_type: p
                    .opt_str("PolicyType")?
                    .map(|t| crate::access::PolicyType::parse(&t))
                    .transpose()?,
            }),
            Action::DeletePolicy => Request::DeletePolicy(policy_name(&mut p)?),
            Action::AttachPolicyToUser => Request::AttachPolicyToUser(attach(&mut p, "UserName")?),
            Action::DetachPolicyFromUser => {
                Request::DetachPolicyFromUser(attach(&mut p, "UserName")?)
            }
            Action::AttachPolicyToRole => Request::AttachPolicyToRole(attach(&mut p, "RoleName")?),
            Action::DetachPolicyFromRole => {
                Request::DetachPolicyFromRole(attach(&mut p, "RoleName")?)
            }
            Action::ListPoliciesForUser => Request::ListPoliciesForUser(user(&mut p)?),
            Action::ListPoliciesForRole => Request::ListPoliciesForRole(role(&mut p)?),
            Action::AssumeRole => Request::AssumeRole(AssumeRoleRequest {
                role_arn: p.str("RoleArn")?,
                role_session_name: p.str("RoleSessionName")?,
                duration_seconds: p.opt_u32("DurationSeconds")?,
            }),
            Action::SetKeyPolicy | Action::GetKeyPolicy => {
                let r = KeyPolicyRequest {
                    key_id: key_id(&mut p)?,
                    policy_name: p.opt_str("PolicyName")?,
                    policy: if action == Action::SetKeyPolicy {
                        Some(json_text(&mut p, "Policy")?)
                    } else {
                        None
                    },
                };
                if action == Action::SetKeyPolicy {
                    Request::SetKeyPolicy(r)
                } else {
                    Request::GetKeyPolicy(r)
                }
            }
            Action::SetSecretPolicy | Action::GetSecretPolicy => {
                let r = SecretPolicyRequest {
                    secret_name: p.str("SecretName")?,
                    policy_name: p.opt_str("PolicyName")?,
                    policy: if action == Action::SetSecretPolicy {
                        Some(json_text(&mut p, "Policy")?)
                    } else {
                        None
                    },
                };
                if action == Action::SetSecretPolicy {
                    Request::SetSecretPolicy(r)
                } else {
                    Request::GetSecretPolicy(r)
                }
            }
            Action::SetAuditLevel => Request::SetAuditLevel(SetAuditLevelRequest {
                level: crate::access::AuditLevel::parse(&p.str("AuditLevel")?)?,
            }),
            Action::DescribeAuditConfig => Request::DescribeAuditConfig(DescribeAuditConfigRequest),
            Action::SimulatePolicy => Request::SimulatePolicy(SimulatePolicyRequest {
                principal_arn: p.str("PrincipalArn")?,
                action_name: p.str("ActionName")?,
                resource: p.opt_str("ResourceArn")?,
                encryption_context: p.context("EncryptionContext")?.unwrap_or_default(),
                source_ip: p
                    .opt_str("SourceIp")?
                    .map(|s| s.parse().map_err(|_| param("SourceIp", "an IP address")))
                    .transpose()?,
                secure_transport: p.opt_bool("SecureTransport")?,
                current_time: p.opt_str("CurrentTime")?,
                credential_expiration: p.opt_str("CredentialExpiration")?,
            }),
        };
        p.finish(action)?;
        Ok(r)
    }
}

fn user(p: &mut Params<'_>) -> Result<UserNameRequest> {
    Ok(UserNameRequest {
        user_name: p.str("UserName")?,
    })
}

fn role(p: &mut Params<'_>) -> Result<RoleNameRequest> {
    Ok(RoleNameRequest {
        role_name: p.str("RoleName")?,
    })
}

fn policy_name(p: &mut Params<'_>) -> Result<PolicyNameRequest> {
    Ok(PolicyNameRequest {
        policy_name: p.str("PolicyName")?,
        policy_type: p
            .opt_str("PolicyType")?
            .map(|t| crate::access::PolicyType::parse(&t))
            .transpose()?
            .unwrap_or(crate::access::PolicyType::Custom),
    })
}

fn attach(p: &mut Params<'_>, who: &'static str) -> Result<AttachPolicyRequest> {
    Ok(AttachPolicyRequest {
        policy_type: crate::access::PolicyType::parse(&p.str("PolicyType")?)?,
        policy_name: p.str("PolicyName")?,
        principal_name: p.str(who)?,
    })
}

/// A policy document: JSON text in a string (RPC style), or the JSON itself.
fn json_text(p: &mut Params<'_>, name: &'static str) -> Result<String> {
    match p.raw(name) {
        None => Err(param(name, "required")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(_) => Err(param(name, "must be a JSON policy document")),
    }
}

fn ram_user(u: &User) -> Value {
    json!({
        "UserId": u.user_id,
        "UserName": u.user_name,
        "DisplayName": u.display_name,
        "Comments": u.comments,
        "AccountId": u.account_id,
        "Arn": u.arn,
        "CreateDate": crate::time::iso8601(u.create_ms),
    })
}

fn ram_role(r: &Role) -> Value {
    json!({
        "RoleId": r.role_id,
        "RoleName": r.role_name,
        "Arn": r.arn,
        "Description": r.description,
        "AssumeRolePolicyDocument": r.assume_role_policy_document,
        "MaxSessionDuration": r.max_session_duration,
        "CreateDate": crate::time::iso8601(r.create_ms),
    })
}

fn ram_policy(p: &PolicyInfo) -> Value {
    json!({
        "PolicyName": p.policy_name,
        "PolicyType": p.policy_type.as_str(),
        "Description": p.description,
        "DefaultVersion": p.default_version,
        "AttachmentCount": p.attachment_count,
        "CreateDate": crate::time::iso8601(p.create_ms),
        "UpdateDate": crate::time::iso8601(p.update_ms),
    })
}

fn b64(b: &[u8]) -> Value {
    Value::String(Base64::encode_string(b))
}

fn opt(v: Option<&String>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.clone()))
}

/// KeyMetadata as Alibaba spells it.
#[must_use]
pub fn key_metadata(m: &KeyMetadata) -> Value {
    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            o.insert(k.to_string(), v);
        }
    };
    put("KeyId", json!(m.key_id));
    put("Arn", json!(m.arn));
    put("CreationDate", json!(m.creation_date));
    put("Creator", json!(m.creator));
    put("Description", json!(m.description));
    put("KeyUsage", json!(m.key_usage.as_str()));
    put("KeyState", json!(m.key_state.as_str()));
    put("KeySpec", json!(m.key_spec.as_str()));
    put("Origin", json!(m.origin.as_str()));
    put("ProtectionLevel", json!(m.protection_level.as_str()));
    put("PrimaryKeyVersion", json!(m.primary_key_version));
    put("DeleteDate", opt(m.delete_date.as_ref()));
    put("AutomaticRotation", json!(m.automatic_rotation));
    put("RotationInterval", opt(m.rotation_interval.as_ref()));
    put("LastRotationDate", opt(m.last_rotation_date.as_ref()));
    put("NextRotationDate", opt(m.next_rotation_date.as_ref()));
    put("DeletionProtection", json!(m.deletion_protection));
    put(
        "DeletionProtectionDescription",
        opt(m.deletion_protection_description.as_ref()),
    );
    put("MaterialExpireTime", opt(m.material_expire_time.as_ref()));
    Value::Object(o)
}

fn key_version(v: &KeyVersion) -> Value {
    json!({"KeyId": v.key_id, "KeyVersionId": v.key_version_id, "CreationDate": v.creation_date})
}

fn aliases(r: &ListAliasesResponse) -> Value {
    let list: Vec<Value> = r
        .aliases
        .iter()
        .map(|a| json!({"AliasName": a.alias_name, "AliasArn": a.alias_arn, "KeyId": a.key_id}))
        .collect();
    json!({
        "Aliases": {"Alias": list},
        "TotalCount": r.total_count,
        "PageNumber": r.page_number,
        "PageSize": r.page_size,
    })
}

fn envelope_info(i: &EnvelopeInfo) -> Map<String, Value> {
    let ctx: Map<String, Value> = i
        .encryption_context
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let mut o = Map::new();
    o.insert("KeyId".into(), json!(i.key_id));
    o.insert("KeyVersionId".into(), json!(i.key_version_id));
    o.insert("EncryptionContext".into(), Value::Object(ctx));
    o.insert("MessageId".into(), b64(&i.message_id));
    if let Some(s) = &i.signer {
        o.insert(
            "Signer".into(),
            json!({
                "KeyId": s.key_id,
                "KeyVersionId": s.key_version_id,
                "PublicKey": b64(&s.public_key),
                "Known": s.known,
            }),
        );
    }
    o
}

impl Response {
    /// The answer as Alibaba's JSON, with `RequestId`.
    ///
    /// # Errors
    /// `Rejected.Unsupported` for the two internal envelope steps (BeginEnvelope,
    /// OpenEnvelope), which hold a message key and have no wire form.
    pub fn to_wire(&self, request_id: &str) -> Result<Value> {
        let v = match self {
            Response::CreateKey(m)
            | Response::DescribeKey(m)
            | Response::UpdateKeyDescription(m)
            | Response::EnableKey(m)
            | Response::DisableKey(m)
            | Response::ScheduleKeyDeletion(m)
            | Response::CancelKeyDeletion(m)
            | Response::SetDeletionProtection(m)
            | Response::UpdateRotationPolicy(m)
            | Response::ImportKeyMaterial(m)
            | Response::DeleteKeyMaterial(m) => json!({"KeyMetadata": key_metadata(m)}),
            Response::ListKeys(r) => {
                let keys: Vec<Value> = r
                    .keys
                    .iter()
                    .map(|k| json!({"KeyId": k.key_id, "KeyArn": k.key_arn}))
                    .collect();
                json!({
                    "Keys": {"Key": keys},
                    "TotalCount": r.total_count,
                    "PageNumber": r.page_number,
                    "PageSize": r.page_size,
                })
            }
            Response::CreateKeyVersion(v) | Response::DescribeKeyVersion(v) => {
                json!({"KeyVersion": key_version(v)})
            }
            Response::ListKeyVersions(r) => {
                let list: Vec<Value> = r.key_versions.iter().map(key_version).collect();
                json!({
                    "KeyVersions": {"KeyVersion": list},
                    "TotalCount": r.total_count,
                    "PageNumber": r.page_number,
                    "PageSize": r.page_size,
                })
            }
            Response::CreateAlias(_)
            | Response::UpdateAlias(_)
            | Response::DeleteAlias(_)
            | Response::TagResource(_)
            | Response::UntagResource(_) => json!({}),
            Response::ListAliases(r) | Response::ListAliasesByKeyId(r) => aliases(r),
            Response::TagSecret(_) | Response::UntagSecret(_) => json!({}),
            Response::CreateSecret(r) | Response::RotateSecret(r) => secret_created(r),
            Response::GetSecretValue(r) => {
                let mut o = Map::new();
                o.insert("SecretName".into(), json!(r.secret_name));
                o.insert("SecretType".into(), json!(r.secret_type.as_str()));
                o.insert(
                    "SecretData".into(),
                    match r.secret_data_type {
                        SecretDataType::Binary => b64(r.secret_data.expose()),
                        _ => Value::String(
                            String::from_utf8_lossy(r.secret_data.expose()).into_owned(),
                        ),
                    },
                );
                o.insert("SecretDataType".into(), json!(r.secret_data_type.as_str()));
                o.insert("VersionId".into(), json!(r.version_id));
                o.insert("VersionStages".into(), stages_json(&r.version_stages));
                o.insert("CreateTime".into(), json!(r.create_time));
                o.insert("AutomaticRotation".into(), json!(r.automatic_rotation));
                put_opt(&mut o, "ExtendedConfig", r.extended_config.as_ref());
                put_opt(&mut o, "RotationInterval", r.rotation_interval.as_ref());
                put_opt(&mut o, "NextRotationDate", r.next_rotation_date.as_ref());
                put_opt(&mut o, "LastRotationDate", r.last_rotation_date.as_ref());
                Value::Object(o)
            }
            Response::PutSecretValue(r) => json!({
                "SecretName": r.secret_name,
                "VersionId": r.version_id,
                "VersionStages": stages_json(&r.version_stages),
            }),
            Response::UpdateSecretVersionStage(r)
            | Response::UpdateSecret(r)
            | Response::RestoreSecret(r)
            | Response::UpdateSecretRotationPolicy(r) => json!({"SecretName": r.secret_name}),
            Response::ListSecretVersionIds(r) => {
                let list: Vec<Value> = r
                    .version_ids
                    .iter()
                    .map(|v| {
                        json!({
                            "VersionId": v.version_id,
                            "CreateTime": v.create_time,
                            "VersionStages": stages_json(&v.version_stages),
                        })
                    })
                    .collect();
                json!({
                    "SecretName": r.secret_name,
                    "VersionIds": {"VersionId": list},
                    "TotalCount": r.total_count,
                    "PageNumber": r.page_number,
                    "PageSize": r.page_size,
                })
            }
            Response::DescribeSecret(m) => {
                let mut o = Map::new();
                o.insert("Arn".into(), json!(m.arn));
                o.insert("SecretName".into(), json!(m.secret_name));
                o.insert("SecretType".into(), json!(m.secret_type.as_str()));
                o.insert("Description".into(), json!(m.description));
                o.insert("EncryptionKeyId".into(), json!(m.encryption_key_id));
                o.insert("CreateTime".into(), json!(m.create_time));
                o.insert("UpdateTime".into(), json!(m.update_time));
                o.insert("AutomaticRotation".into(), json!(m.automatic_rotation));
                put_opt(&mut o, "PlannedDeleteTime", m.planned_delete_time.as_ref());
                put_opt(&mut o, "RotationInterval", m.rotation_interval.as_ref());
                put_opt(&mut o, "LastRotationDate", m.last_rotation_date.as_ref());
                put_opt(&mut o, "NextRotationDate", m.next_rotation_date.as_ref());
                put_opt(&mut o, "ExtendedConfig", m.extended_config.as_ref());
                if let Some(t) = &m.tags {
                    o.insert("Tags".into(), tags_json(t));
                }
                Value::Object(o)
            }
            Response::ListSecrets(r) => {
                let list: Vec<Value> = r
                    .secrets
                    .iter()
                    .map(|s| {
                        let mut o = Map::new();
                        o.insert("SecretName".into(), json!(s.secret_name));
                        o.insert("SecretType".into(), json!(s.secret_type.as_str()));
                        o.insert("CreateTime".into(), json!(s.create_time));
                        o.insert("UpdateTime".into(), json!(s.update_time));
                        put_opt(&mut o, "PlannedDeleteTime", s.planned_delete_time.as_ref());
                        if let Some(t) = &s.tags {
                            o.insert("Tags".into(), tags_json(t));
                        }
                        Value::Object(o)
                    })
                    .collect();
                json!({
                    "SecretList": {"Secret": list},
                    "TotalCount": r.total_count,
                    "PageNumber": r.page_number,
                    "PageSize": r.page_size,
                })
            }
            Response::DeleteSecret(r) => {
                let mut o = Map::new();
                o.insert("SecretName".into(), json!(r.secret_name));
                put_opt(&mut o, "PlannedDeleteTime", r.planned_delete_time.as_ref());
                Value::Object(o)
            }
            Response::ListSecretTags(r) => json!({"Tags": tags_json(&r.tags)}),
            Response::ListResourceTags(r) => {
                let list: Vec<Value> = r
                    .tags
                    .iter()
                    .map(|t| json!({"TagKey": t.tag_key, "TagValue": t.tag_value}))
                    .collect();
                json!({"Tags": {"Tag": list}})
            }
            Response::GetParametersForImport(r) => json!({
                "KeyId": r.key_id,
                "ImportToken": r.import_token,
                "PublicKey": Base64::encode_string(&r.public_key),
                "TokenExpireTime": r.token_expire_time,
            }),
            Response::Encrypt(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "CiphertextBlob": Base64::encode_string(&r.ciphertext_blob),
            }),
            Response::Decrypt(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "Plaintext": b64(r.plaintext.expose()),
            }),
            Response::ReEncrypt(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "SourceKeyId": r.source_key_id,
                "SourceKeyVersionId": r.source_key_version_id,
                "CiphertextBlob": Base64::encode_string(&r.ciphertext_blob),
            }),
            Response::GenerateDataKey(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "Plaintext": b64(r.plaintext.expose()),
                "CiphertextBlob": Base64::encode_string(&r.ciphertext_blob),
            }),
            Response::GenerateDataKeyWithoutPlaintext(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "CiphertextBlob": Base64::encode_string(&r.ciphertext_blob),
            }),
            Response::GenerateDataKeyPair(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "KeyPairSpec": r.key_pair_spec.as_str(),
                "PrivateKeyPlaintext": b64(r.private_key_plaintext.expose()),
                "PrivateKeyCiphertextBlob": b64(&r.private_key_ciphertext_blob),
                "PublicKey": b64(&r.public_key),
            }),
            Response::GenerateDataKeyPairWithoutPlaintext(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "KeyPairSpec": r.key_pair_spec.as_str(),
                "PrivateKeyCiphertextBlob": b64(&r.private_key_ciphertext_blob),
                "PublicKey": b64(&r.public_key),
            }),
            Response::ExportDataKey(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "ExportedDataKey": Base64::encode_string(&r.exported_data_key),
            }),
            Response::GenerateAndExportDataKey(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "CiphertextBlob": Base64::encode_string(&r.ciphertext_blob),
                "ExportedDataKey": Base64::encode_string(&r.exported_data_key),
            }),
            Response::GetRandomPassword(r) => json!({
                "RandomPassword": String::from_utf8_lossy(r.random_password.expose()),
            }),
            Response::GetPublicKey(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "PublicKey": r.public_key,
            }),
            Response::AsymmetricSign(r) | Response::AsymmetricSignMessage(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "Value": Base64::encode_string(&r.value),
            }),
            Response::AsymmetricVerify(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "Value": r.value,
            }),
            Response::AsymmetricEncrypt(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "CiphertextBlob": Base64::encode_string(&r.ciphertext_blob),
            }),
            Response::AsymmetricDecrypt(r) => json!({
                "KeyId": r.key_id,
                "KeyVersionId": r.key_version_id,
                "Plaintext": b64(r.plaintext.expose()),
            }),
            Response::EncryptEnvelope(r) => {
                json!({"Ciphertext": Base64::encode_string(&r.ciphertext)})
            }
            Response::ReEncryptEnvelope(r) => json!({
                "Header": b64(&r.header),
                "ReplacedLength": r.replaced_length,
                "SourceKeyId": r.source_key_id,
                "SourceKeyVersionId": r.source_key_version_id,
                "KeyIds": {"KeyId": r.key_ids},
            }),
            Response::DecryptEnvelope(r) => {
                let mut o = envelope_info(&r.info);
                o.insert("Plaintext".into(), b64(&r.plaintext));
                Value::Object(o)
            }
            Response::DescribeService(s) => {
                let levels: Vec<Value> = s
                    .protection_levels
                    .iter()
                    .map(|l| json!({"Type": l.as_str()}))
                    .collect();
                let specs: Vec<Value> = s
                    .key_specs
                    .iter()
                    .map(|k| {
                        let lv: Vec<&str> = k
                            .supported_protection_levels
                            .iter()
                            .map(|l| l.as_str())
                            .collect();
                        let us: Vec<&str> = k.usages.iter().map(|u| u.as_str()).collect();
                        json!({
                            "Name": k.name.as_str(),
                            "SupportedProtectionLevels": {"SupportedProtectionLevel": lv},
                            "Usages": {"Usage": us},
                        })
                    })
                    .collect();
                let usages: Vec<&str> = s.key_usages.iter().map(|u| u.as_str()).collect();
                json!({
                    "ProtectionLevels": {"ProtectionLevel": levels},
                    "KeySpecs": {"KeySpec": specs},
                    "KeyUsages": {"KeyUsage": usages},
                    "SupportsImport": s.supports_import,
                    "Actions": {"Action": s.actions},
                })
            }
            Response::CreateUser(u) | Response::GetUser(u) => json!({"User": ram_user(u)}),
            Response::ListUsers(r) => {
                let l: Vec<Value> = r.users.iter().map(ram_user).collect();
                json!({"Users": {"User": l}, "IsTruncated": false})
            }
            Response::CreateRole(x) | Response::GetRole(x) => json!({"Role": ram_role(x)}),
            Response::ListRoles(r) => {
                let l: Vec<Value> = r.roles.iter().map(ram_role).collect();
                json!({"Roles": {"Role": l}, "IsTruncated": false})
            }
            Response::GenerateRandom(r) => json!({"Random": b64(r.random.expose())}),
            Response::Hash(r) => {
                json!({"Algorithm": r.algorithm.as_str(), "Digest": b64(&r.digest)})
            }
            Response::ExportImage(i) => json!({"Image": b64(&i.bytes)}),
            Response::CreateBackup(i) => json!({"Backup": b64(&i.bytes)}),
            Response::VerifyStore(r) => {
                let problems: Vec<Value> = r
                    .problems
                    .iter()
                    .map(|p| {
                        json!({
                            "SecretName": p.secret_name,
                            "VersionId": p.version_id,
                            "Code": p.code,
                            "Message": p.message,
                        })
                    })
                    .collect();
                let key_problems: Vec<Value> = r
                    .key_problems
                    .iter()
                    .map(|p| {
                        json!({
                            "KeyId": p.key_id,
                            "KeyVersionId": p.key_version_id,
                            "Code": p.code,
                            "Message": p.message,
                        })
                    })
                    .collect();
                json!({
                    "Keys": r.keys,
                    "SecretVersions": r.secret_versions,
                    "ValuesOpened": r.values_opened,
                    "Problems": {"Problem": problems},
                    "KeyVersions": r.key_versions,
                    "KeyVersionsVerified": r.key_versions_verified,
                    "KeyProblems": {"KeyProblem": key_problems},
                })
            }
            Response::ChangePassphrase(_) | Response::RekeyStore(_) | Response::CompactStore(_) => {
                json!({})
            }
            Response::DeleteUser(_)
            | Response::DeleteRole(_)
            | Response::UpdateAccessKey(_)
            | Response::DeleteAccessKey(_)
            | Response::DeletePolicy(_)
            | Response::AttachPolicyToUser(_)
            | Response::DetachPolicyFromUser(_)
            | Response::AttachPolicyToRole(_)
            | Response::DetachPolicyFromRole(_)
            | Response::SetKeyPolicy(_)
            | Response::SetSecretPolicy(_)
            | Response::SetAuditLevel(_) => json!({}),
            Response::CreateClientKey(k) => json!({
                "KeyId": k.key_id,
                "UserName": k.user_name,
                "KeyAlgorithm": "RSA_2048",
                "CreateDate": crate::time::iso8601(k.create_ms),
                "NotAfter": crate::time::iso8601(k.not_after_ms),
            }),
            Response::CreateAccessKey(k) => {
                let mut o = Map::new();
                o.insert("AccessKeyId".into(), json!(k.access_key_id));
                if let Some(s) = &k.access_key_secret {
                    o.insert(
                        "AccessKeySecret".into(),
                        Value::String(String::from_utf8_lossy(s.expose()).into_owned()),
                    );
                }
                o.insert("Status".into(), json!(k.status));
                o.insert(
                    "CreateDate".into(),
                    json!(crate::time::iso8601(k.create_ms)),
                );
                json!({"AccessKey": Value::Object(o)})
            }
            Response::ListAccessKeys(r) => {
                let l: Vec<Value> = r
                    .access_keys
                    .iter()
                    .map(|k| {
                        json!({
                            "AccessKeyId": k.access_key_id,
                            "Status": k.status,
                            "CreateDate": crate::time::iso8601(k.create_ms),
                        })
                    })
                    .collect();
                json!({"AccessKeys": {"AccessKey": l}})
            }
            Response::CreatePolicy(x) => json!({"Policy": ram_policy(x)}),
            Response::GetPolicy(x) => json!({
                "Policy": ram_policy(x),
                "DefaultPolicyVersion": {
                    "VersionId": "v1",
                    "IsDefaultVersion": true,
                    "PolicyDocument": x.policy_document.clone().unwrap_or_default(),
                },
            }),
            Response::ListPolicies(r)
            | Response::ListPoliciesForUser(r)
            | Response::ListPoliciesForRole(r) => {
                let l: Vec<Value> = r.policies.iter().map(ram_policy).collect();
                json!({"Policies": {"Policy": l}})
            }
            Response::AssumeRole(c) => json!({
                "Credentials": {
                    "AccessKeyId": c.access_key_id,
                    "AccessKeySecret": String::from_utf8_lossy(c.access_key_secret.expose()),
                    "SecurityToken": String::from_utf8_lossy(c.security_token.expose()),
                    "Expiration": crate::time::iso8601(c.expiration_ms),
                },
                "AssumedRoleUser": {
                    "Arn": c.assumed_role_arn,
                    "AssumedRoleId": c.assumed_role_id,
                },
            }),
            Response::GetKeyPolicy(t) | Response::GetSecretPolicy(t) => {
                json!({"Policy": t.policy})
            }
            Response::SimulatePolicy(r) => json!({
                "Decision": r.decision,
                "ErrorCode": r.error_code,
            }),
            Response::DescribeAuditConfig(c) => json!({
                "AuditLevel": c.level.as_str(),
                "LevelSet": c.level_set,
                "AccountId": c.account_id,
            }),
            Response::BeginEnvelope(_) | Response::OpenEnvelope(_) => {
                return Err(Error::Unsupported(
                    "the envelope's internal steps have no wire form: use EncryptEnvelope / DecryptEnvelope",
                ));
            }
        };
        let mut v = v;
        if let Value::Object(o) = &mut v {
            o.insert("RequestId".into(), Value::String(request_id.to_string()));
        }
        Ok(v)
    }
}

/// Alibaba's error body for `e` (RequestId, Code, Message, plus strongroom's
/// family as `Kind`).
#[must_use]
pub fn error_body(e: &Error, request_id: &str) -> Value {
    json!({
        "RequestId": request_id,
        "Code": e.code(),
        "Message": e.to_string(),
        "Kind": e.kind(),
    })
}

impl crate::Kms {
    /// One action from its wire parameters, as `caller`: Alibaba's JSON answer (with
    /// `caller.request_id`, or a fresh one, as `RequestId`).
    ///
    /// # Errors
    /// As [`Request::from_wire`] and the action itself.
    pub async fn call_wire(
        &self,
        caller: &Caller,
        action: Action,
        params: &Map<String, Value>,
    ) -> Result<Value> {
        let request = Request::from_wire(action, params)?;
        let drawn;
        let (caller, request_id) = match &caller.request_id {
            Some(id) => (caller, id.as_str()),
            None => {
                drawn = caller.clone().with_request_id(self.new_request_id());
                let id = drawn.request_id.as_deref().unwrap_or_default();
                (&drawn, id)
            }
        };
        self.call(caller, request).await?.to_wire(request_id)
    }

    /// [`crate::Kms::call_wire`] as the store's owner over JSON text: `params_json` is
    /// the parameters' object, the answer Alibaba's JSON text. For faces that hand JSON
    /// across (the wasm and Python bindings).
    ///
    /// # Errors
    /// `InvalidAction.NotFound`; `InvalidParameter.Request` when `params_json` is not
    /// a JSON object; as [`crate::Kms::call_wire`].
    pub async fn call_wire_json(&self, action: &str, params_json: &str) -> Result<String> {
        let action: Action = action.parse()?;
        let params: Map<String, Value> = serde_json::from_str(params_json)
            .map_err(|_| param("Request", "the parameters must be a JSON object"))?;
        let answer = self
            .call_wire(&self.default_caller(), action, &params)
            .await?;
        Ok(answer.to_string())
    }
}
