//! BYOK: GetParametersForImport, ImportKeyMaterial, DeleteKeyMaterial, and the expiry
//! of imported material (docs/API.md §BYOK, docs/SECURITY.md §BYOK).
//!
//! A key created with Origin EXTERNAL starts PendingImport with one version and no
//! material. GetParametersForImport makes a fresh RSA wrapping key pair, keeps the
//! private half in the key's record (sealed in the store like everything else) and
//! answers the public half with an ImportToken valid for 24 hours. ImportKeyMaterial
//! unwraps the caller's material with it (RSAES-OAEP only), checks its length and, once
//! a key has held material, that it is the same material, then gives it to the backend.

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::asym::{self, EncryptionAlgorithm};
use crate::backend::KeyHandle;
use crate::error::{Error, Result};
use crate::kms::Kms;
use crate::secret::SecretBytes;
use crate::service::keys::KeyMetadata;
use crate::state::{ImportParams, KeyRecord};
use crate::time::iso8601;
use crate::vocab::{KeySpec, KeyState, Origin};

/// How long an ImportToken (and its wrapping key) is accepted.
pub const IMPORT_TOKEN_LIFETIME_MS: u64 = 24 * 3_600_000;

const TOKEN_VERSION: u8 = 1;

named_enum!(
    param = "WrappingAlgorithm";
    /// GetParametersForImport: how the caller wraps the key material under the
    /// wrapping public key. Always RSAES-OAEP — strongroom *decrypts* with the wrapping
    /// key here, and RSAES-PKCS1-v1_5 decryption is a padding oracle
    /// (docs/SECURITY.md) — alone (symmetric material) or around an AES-256 key-wrap
    /// layer (asymmetric material, which is larger than OAEP carries).
    ImportWrappingAlgorithm {
        /// RSAES-OAEP, SHA-256 and MGF1-SHA-256 (recommended for symmetric keys).
        RsaesOaepSha256 = (1, "RSAES_OAEP_SHA_256"),
        /// RSAES-OAEP, SHA-1 and MGF1-SHA-1.
        RsaesOaepSha1 = (2, "RSAES_OAEP_SHA_1"),
        /// EncryptedKeyMaterial = RSAES-OAEP-SHA-256(a fresh AES-256 key) ‖ AES-256 key
        /// wrap with padding (RFC 5649) of the material under that key (PKCS#11
        /// CKM_RSA_AES_KEY_WRAP). Required for RSA / EC private keys (PKCS#8).
        RsaAesKeyWrapSha256 = (3, "RSA_AES_KEY_WRAP_SHA_256"),
        /// The same with RSAES-OAEP-SHA-1.
        RsaAesKeyWrapSha1 = (4, "RSA_AES_KEY_WRAP_SHA_1"),
    }
);

/// The WrappingAlgorithm GetParametersForImport uses when a request names none
/// (Alibaba's API requires it; strongroom's faces may leave it out).
pub const DEFAULT_IMPORT_WRAPPING_ALGORITHM: ImportWrappingAlgorithm =
    ImportWrappingAlgorithm::RsaesOaepSha256;

impl ImportWrappingAlgorithm {
    fn oaep(self) -> EncryptionAlgorithm {
        match self {
            ImportWrappingAlgorithm::RsaesOaepSha256
            | ImportWrappingAlgorithm::RsaAesKeyWrapSha256 => EncryptionAlgorithm::RsaesOaepSha256,
            ImportWrappingAlgorithm::RsaesOaepSha1 | ImportWrappingAlgorithm::RsaAesKeyWrapSha1 => {
                EncryptionAlgorithm::RsaesOaepSha1
            }
        }
    }

    fn key_wrap(self) -> bool {
        matches!(
            self,
            ImportWrappingAlgorithm::RsaAesKeyWrapSha256
                | ImportWrappingAlgorithm::RsaAesKeyWrapSha1
        )
    }
}

/// GetParametersForImport's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ImportParameters {
    /// KeyId.
    pub key_id: String,
    /// ImportToken: pass it to ImportKeyMaterial with the wrapped material.
    pub import_token: String,
    /// PublicKey: the RSA wrapping public key, SubjectPublicKeyInfo DER (Alibaba
    /// returns it base64-encoded; [`asym::spki_pem`] gives PEM).
    pub public_key: Vec<u8>,
    /// TokenExpireTime, ISO 8601 UTC (24 hours from now).
    pub token_expire_time: String,
}

/// ImportKeyMaterial's request.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ImportKeyMaterialRequest {
    /// KeyId (id, alias or ARN) of an EXTERNAL key.
    pub key_id: String,
    /// EncryptedKeyMaterial: the raw key material (16, 24 or 32 bytes for
    /// Aliyun_AES_128/192/256; a PKCS#8 private key for RSA / EC keys) wrapped as the
    /// token's WrappingAlgorithm says.
    pub encrypted_key_material: Vec<u8>,
    /// ImportToken from the same GetParametersForImport.
    pub import_token: String,
    /// KeyMaterialExpireUnix: when the material expires, Unix seconds; `None` or 0 =
    /// never. The key then goes back to PendingImport.
    pub key_material_expire_unix: Option<u64>,
}

/// A fingerprint of imported material, bound to its key, so a re-import can be checked
/// to be the same material without keeping the material once it is deleted.
fn material_check(key_id: &str, material: &[u8]) -> [u8; 32] {
    fingerprint(b"strongroom/byok-material-check/v1\0", key_id, material)
}

/// The same for material a backend unwrapped itself, from the check value it computed
/// inside (a PKCS#11 token's AES-ECB of a zero block: a key check value).
fn backend_material_check(key_id: &str, check_value: &[u8]) -> [u8; 32] {
    fingerprint(
        b"strongroom/byok-material-check/backend/v1\0",
        key_id,
        check_value,
    )
}

fn fingerprint(domain: &[u8], key_id: &str, material: &[u8]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update(domain);
    h.update(key_id.as_bytes());
    h.update([0u8]);
    h.update(material);
    h.finalize().into()
}

fn encode_token(key_id: &str, token_id: &[u8; 16]) -> String {
    let mut raw = Vec::with_capacity(17 + key_id.len());
    raw.push(TOKEN_VERSION);
    raw.extend_from_slice(token_id);
    raw.extend_from_slice(key_id.as_bytes());
    Base64::encode_string(&raw)
}

/// The key id and token id an ImportToken names.
fn decode_token(token: &str) -> Result<(String, [u8; 16])> {
    let bad = || {
        Error::param(
            "ImportToken",
            "not an import token from GetParametersForImport",
        )
    };
    let raw = Base64::decode_vec(token.trim()).map_err(|_| bad())?;
    match raw.split_first() {
        Some((&TOKEN_VERSION, rest)) if rest.len() > 16 => {
            let (id, key) = rest.split_at(16);
            let key_id = core::str::from_utf8(key).map_err(|_| bad())?;
            Ok((key_id.into(), id.try_into().map_err(|_| bad())?))
        }
        _ => Err(bad()),
    }
}

fn require_external(k: &KeyRecord) -> Result<()> {
    if k.origin == Origin::External {
        Ok(())
    } else {
        Err(Error::KeyOrigin {
            key_id: k.key_id.clone(),
            reason: "key material can be imported or deleted only for keys created with Origin EXTERNAL",
        })
    }
}

impl Kms {
    /// GetParametersForImport: a fresh RSA wrapping key for the EXTERNAL key
    /// `key_id` and an ImportToken valid for 24 hours. A new call supersedes the
    /// previous parameters (their token is refused from then on).
    ///
    /// # Errors
    /// `InvalidParameter.WrappingKeySpec` (only RSA_2048); `Forbidden.KeyNotFound`;
    /// `Rejected.KeyOrigin` (not EXTERNAL); `Forbidden.KeyPendingDeletion`;
    /// `Rejected.Unsupported` without AWS-LC; store failures.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let ext = kms.create_key(CreateKeyRequest { origin: Some(Origin::External), ..Default::default() }).await?.key_id;
    /// let params = kms.get_parameters_for_import(&ext, ImportWrappingAlgorithm::RsaesOaepSha256, KeySpec::Rsa2048).await?;
    /// # });
    /// ```
    pub async fn get_parameters_for_import(
        &self,
        key_id: &str,
        wrapping_algorithm: ImportWrappingAlgorithm,
        wrapping_key_spec: KeySpec,
    ) -> Result<ImportParameters> {
        crate::api::as_owner!(
            self,
            GetParametersForImport,
            crate::api::GetParametersForImportRequest {
                key_id: key_id.into(),
                wrapping_algorithm,
                wrapping_key_spec,
            },
        )
    }

    pub(crate) async fn get_parameters_for_import_impl(
        &self,
        key_id: &str,
        wrapping_algorithm: ImportWrappingAlgorithm,
        wrapping_key_spec: KeySpec,
    ) -> Result<ImportParameters> {
        if wrapping_key_spec != KeySpec::Rsa2048 {
            return Err(Error::param(
                "WrappingKeySpec",
                "the import wrapping key is RSA_2048",
            ));
        }
        let level = self.with_key(key_id, |k| {
            require_external(k)?;
            if k.state == KeyState::PendingDeletion {
                return Err(Self::state_error(k));
            }
            if k.spec.symmetric_key_len().is_none() && !wrapping_algorithm.key_wrap() {
                return Err(Error::param(
                    "WrappingAlgorithm",
                    alloc::format!(
                        "{} private keys are larger than RSA-OAEP carries: use RSA_AES_KEY_WRAP_SHA_256",
                        k.spec
                    ),
                ));
            }
            Ok(k.protection)
        })?;
        // A backend that unwraps itself keeps the wrapping key too (its handle stands
        // where the PKCS#8 key would: never a DER SEQUENCE, so the two never mix).
        let backend = self.key_backend(level).clone();
        let (private_key, public_key) = if backend.unwraps_imports() {
            let (h, spki) = backend.import_wrapping_key(wrapping_key_spec).await?;
            (h.0, spki)
        } else {
            let private_key = asym::generate(wrapping_key_spec)?;
            let public_key =
                asym::KeyCache::default().public_key(wrapping_key_spec, private_key.expose())?;
            (private_key, public_key)
        };
        let token_id: [u8; 16] = self.env.random()?;
        let expire_ms = self.env.now().saturating_add(IMPORT_TOKEN_LIFETIME_MS);
        let params = ImportParams {
            token_id,
            private_key,
            algorithm: wrapping_algorithm.code(),
            spec: wrapping_key_spec.code(),
            expire_ms,
        };
        let mut id = String::new();
        let mut superseded = None;
        let new_wrapping = in_backend(&params).then(|| params.private_key.clone());
        let stored = self
            .mutate_key(key_id, |k| {
                require_external(k)?;
                if k.state == KeyState::PendingDeletion {
                    return Err(Self::state_error(k));
                }
                id.clone_from(&k.key_id);
                superseded = k
                    .import
                    .replace(params.clone())
                    .filter(in_backend)
                    .map(|p| p.private_key);
                Ok(())
            })
            .await;
        // A wrapping key the backend keeps for nothing is destroyed there: the one just
        // made when the store refused it, the one a new call supersedes.
        if let Err(e) = stored {
            if let Some(h) = new_wrapping {
                let _ = backend.destroy(&KeyHandle(h)).await;
            }
            return Err(e);
        }
        if let Some(h) = superseded {
            let _ = backend.destroy(&KeyHandle(h)).await;
        }
        Ok(ImportParameters {
            import_token: encode_token(&id, &token_id),
            key_id: id,
            public_key,
            token_expire_time: iso8601(expire_ms),
        })
    }

    /// ImportKeyMaterial: unwraps the material with the wrapping key the token names
    /// and puts it in the key, which becomes Enabled (a Disabled key stays Disabled).
    /// The token is used up. A key that ever held material takes only the same
    /// material again (to restore it after DeleteKeyMaterial or expiry, or to change
    /// its expiry).
    ///
    /// # Errors
    /// `InvalidParameter.ImportToken` (malformed, another key's, or superseded);
    /// `Rejected.ImportTokenExpired`; `InvalidParameter.EncryptedKeyMaterial` (does not
    /// unwrap, or the wrong length for the key spec);
    /// `InvalidParameter.KeyMaterialExpireUnix` (in the past);
    /// `Rejected.KeyMaterialMismatch`; `Rejected.KeyOrigin`;
    /// `Forbidden.KeyPendingDeletion`; `Forbidden.KeyNotFound`; store failures.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let (ext, wrapped, token) = (String::new(), Vec::new(), String::new());
    /// kms.import_key_material(ImportKeyMaterialRequest { key_id: ext, encrypted_key_material: wrapped, import_token: token, key_material_expire_unix: None }).await?;
    /// # });
    /// ```
    pub async fn import_key_material(&self, req: ImportKeyMaterialRequest) -> Result<KeyMetadata> {
        crate::api::as_owner!(self, ImportKeyMaterial, req).map(|m| *m)
    }

    pub(crate) async fn import_key_material_impl(
        &self,
        req: ImportKeyMaterialRequest,
    ) -> Result<KeyMetadata> {
        let now = self.env.now();
        let expire_ms = match req.key_material_expire_unix {
            None | Some(0) => None,
            Some(t) => {
                let ms = t.saturating_mul(1000);
                if ms <= now {
                    return Err(Error::param(
                        "KeyMaterialExpireUnix",
                        "must be in the future (or 0 for never)",
                    ));
                }
                Some(ms)
            }
        };
        let (token_key, token_id) = decode_token(&req.import_token)?;
        let (key_id, spec, usage, level, params) = self.with_key(&req.key_id, |k| {
            require_external(k)?;
            if k.state == KeyState::PendingDeletion {
                return Err(Self::state_error(k));
            }
            let p = k
                .import
                .as_ref()
                .filter(|p| token_key == k.key_id && bool::from(p.token_id.ct_eq(&token_id)))
                .ok_or_else(|| {
                    Error::param(
                        "ImportToken",
                        "not the token of this key's latest GetParametersForImport",
                    )
                })?;
            if now >= p.expire_ms {
                return Err(Error::ImportTokenExpired(k.key_id.clone()));
            }
            Ok((k.key_id.clone(), k.spec, k.usage, k.protection, p.clone()))
        })?;
        let alg = ImportWrappingAlgorithm::from_code(params.algorithm)
            .ok_or(Error::StoreCorrupted("unknown import wrapping algorithm"))?;
        let backend = self.key_backend(level).clone();
        let (handle, check) = if in_backend(&params) {
            // The backend unwraps with the wrapping key it made: the material never
            // enters this process.
            let wrapping = KeyHandle(params.private_key.clone());
            let (h, check_value) = backend
                .unwrap_import(
                    &wrapping,
                    alg.oaep(),
                    alg.key_wrap(),
                    &req.encrypted_key_material,
                    spec,
                    usage,
                )
                .await?;
            (h, backend_material_check(&key_id, &check_value))
        } else {
            let material = unwrap_material(&params, alg, &req.encrypted_key_material)?;
            let material = match spec.symmetric_key_len() {
                Some(want) if material.expose().len() != want => {
                    return Err(Error::param(
                        "EncryptedKeyMaterial",
                        alloc::format!("{spec} key material is {want} bytes"),
                    ));
                }
                Some(_) => material,
                // An RSA / EC private key: checked against the spec and stored as this
                // build stores generated keys.
                None => asym::canonical_private_key(spec, material.expose())?,
            };
            let check = material_check(&key_id, material.expose());
            (backend.import_for(spec, usage, &material).await?, check)
        };
        let mut replaced = None;
        let new_handle = handle.clone();
        let meta = self
            .mutate_key(&key_id, |k| {
                if k.state == KeyState::PendingDeletion {
                    return Err(Self::state_error(k));
                }
                // Checked again under the writer: another import may have raced us.
                if !k
                    .import
                    .as_ref()
                    .is_some_and(|p| bool::from(p.token_id.ct_eq(&token_id)))
                {
                    return Err(Error::param(
                        "ImportToken",
                        "not the token of this key's latest GetParametersForImport",
                    ));
                }
                if k.material_check
                    .is_some_and(|c| !bool::from(c.ct_eq(&check)))
                {
                    return Err(Error::KeyMaterialMismatch(k.key_id.clone()));
                }
                let v = k
                    .versions
                    .first_mut()
                    .ok_or(Error::StoreCorrupted("an EXTERNAL key without a version"))?;
                replaced = Some(core::mem::replace(&mut v.handle, handle.clone()));
                k.material_check = Some(check);
                k.material_expire_ms = expire_ms;
                k.import = None;
                if k.state == KeyState::PendingImport {
                    k.state = KeyState::Enabled;
                }
                Ok(())
            })
            .await;
        // What the backend holds for nothing goes: the new version when the store
        // refused it (another material, a raced token), else the version it replaced
        // (the same material imported again) and the used-up wrapping key.
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                let _ = backend.destroy(&new_handle).await;
                return Err(e);
            }
        };
        if let Some(old) = replaced.filter(|h| !h.0.expose().is_empty()) {
            let _ = backend.destroy(&old).await;
        }
        if in_backend(&params) {
            let _ = backend
                .destroy(&KeyHandle(params.private_key.clone()))
                .await;
        }
        self.refresh_schedules();
        Ok(meta)
    }

    /// DeleteKeyMaterial: destroys an EXTERNAL key's imported material; the key goes
    /// back to PendingImport (a PendingDeletion key stays so) and takes only the same
    /// material again.
    ///
    /// # Errors
    /// `Forbidden.KeyNotFound`; `Rejected.KeyOrigin`; store failures.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let ext = String::new();
    /// kms.delete_key_material(&ext).await?;
    /// # });
    /// ```
    pub async fn delete_key_material(&self, key_id: &str) -> Result<KeyMetadata> {
        crate::api::as_owner!(
            self,
            DeleteKeyMaterial,
            crate::api::DeleteKeyMaterialRequest {
                key_id: key_id.into(),
            }
        )
        .map(|m| *m)
    }

    pub(crate) async fn delete_key_material_impl(&self, key_id: &str) -> Result<KeyMetadata> {
        let mut gone = Vec::new();
        let meta = self
            .mutate_key(key_id, |k| {
                require_external(k)?;
                gone = clear_material(k);
                Ok(())
            })
            .await?;
        self.refresh_schedules();
        self.destroy_cleared(gone).await;
        self.purge_destroyed().await;
        Ok(meta)
    }

    /// Destroys cleared material in the backends that hold it (a token's object, a
    /// KMIP server's), once its removal from the store is durable. Best effort, as for
    /// deleted keys.
    async fn destroy_cleared(&self, gone: Vec<(crate::vocab::ProtectionLevel, KeyHandle)>) {
        for (level, h) in gone {
            let _ = self.key_backend(level).destroy(&h).await;
        }
    }

    /// Imported material whose KeyMaterialExpireUnix has passed is destroyed and its
    /// key goes back to PendingImport. Runs before every action, like deletion.
    pub(crate) async fn expire_material_due(&self) -> Result<()> {
        let now = self.env.now();
        if self.next_material_expiry.lock().is_none_or(|t| t > now) {
            return Ok(());
        }
        let gone = self
            .mutate(|tx| {
                let due: Vec<String> = tx
                    .state()
                    .keys
                    .values()
                    .filter(|k| k.material_expire_ms.is_some_and(|t| t <= now))
                    .map(|k| k.key_id.clone())
                    .collect();
                let mut gone = Vec::new();
                for id in due {
                    if let Some(k) = tx.key_mut(&id) {
                        gone.extend(clear_material(k));
                    }
                }
                Ok(gone)
            })
            .await?;
        self.refresh_schedules();
        self.destroy_cleared(gone).await;
        self.purge_destroyed().await;
        Ok(())
    }
}

/// Whether the import parameters' wrapping key is a backend's handle (its backend
/// unwraps) rather than a PKCS#8 RSA key, which is a DER SEQUENCE (0x30).
pub(crate) fn in_backend(params: &ImportParams) -> bool {
    params.private_key.expose().first() != Some(&0x30)
}

/// The material inside EncryptedKeyMaterial. Every RSA failure is one answer (no
/// oracle on the padding); a key-wrap failure is reported after the RSA step, which
/// has then succeeded.
fn unwrap_material(
    params: &ImportParams,
    alg: ImportWrappingAlgorithm,
    wrapped: &[u8],
) -> Result<SecretBytes> {
    let rsa_failed = || {
        Error::param(
            "EncryptedKeyMaterial",
            alloc::format!("does not unwrap with this token's wrapping key and {alg}"),
        )
    };
    let pk = params.private_key.expose();
    if !alg.key_wrap() {
        return asym::decrypt(pk, alg.oaep(), wrapped).map_err(|_| rsa_failed());
    }
    let k = KeySpec::from_code(params.spec)
        .and_then(KeySpec::rsa_modulus_len)
        .ok_or(Error::StoreCorrupted("unknown import wrapping key spec"))?;
    if wrapped.len() <= k {
        return Err(Error::param(
            "EncryptedKeyMaterial",
            alloc::format!("{alg}: {k} bytes of RSA-OAEP, then the AES key-wrapped material"),
        ));
    }
    let (head, body) = wrapped.split_at(k);
    let ephemeral = asym::decrypt(pk, alg.oaep(), head).map_err(|_| rsa_failed())?;
    let mut kek: [u8; 32] = ephemeral.expose().try_into().map_err(|_| {
        Error::param(
            "EncryptedKeyMaterial",
            "the RSA-wrapped key is not an AES-256 key",
        )
    })?;
    let material = asym::kwp_unwrap(&kek, body);
    zeroize::Zeroize::zeroize(&mut kek);
    material
}

/// Drops an EXTERNAL key's material (the handle is zeroized) and its expiry; keeps
/// the fingerprint, the version id and any pending import parameters. Returns the
/// handles it dropped, with the key's level, for the backend to destroy.
fn clear_material(k: &mut KeyRecord) -> Vec<(crate::vocab::ProtectionLevel, KeyHandle)> {
    let mut gone = Vec::new();
    for v in &mut k.versions {
        let h = core::mem::replace(&mut v.handle, KeyHandle(SecretBytes::new(Vec::new())));
        if !h.0.expose().is_empty() {
            gone.push((k.protection, h));
        }
    }
    k.material_expire_ms = None;
    if k.state != KeyState::PendingDeletion {
        k.state = KeyState::PendingImport;
    }
    gone
}
