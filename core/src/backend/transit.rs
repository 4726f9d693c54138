//! Master keys in an OpenBao / HashiCorp Vault transit engine: each key version is a
//! transit key made non-exportable in the engine, and every operation on it runs there
//! over HTTP(S) with token auth — AES-GCM with the blob's AAD as transit's
//! `associated_data`, RSA-PSS / PKCS#1 v1.5 and ECDSA signatures over a prehashed
//! SHA-256 digest, RSA-OAEP (SHA-256) decryption, public keys read from the engine,
//! and the key destroyed when its deletion is carried out. The HTTP exchange is the
//! runtime's ([`HttpClient`]: `fetch` in JS, a native client elsewhere), so the same
//! backend serves native programs, Python, Node and browsers.
//!
//! A strongroom key is one transit key: CreateKeyVersion (and automatic rotation)
//! rotates it, so strongroom's versions are transit's. A handle is `TRN\x01` ‖ the
//! transit key's name (`<prefix><uuid>`) ‖ `:v<N>` for version N ≥ 2; the engine's
//! address, mount and token are the backend's, so a store moves with its engine.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use serde_json::{Map, Value, json};

use super::http::{HttpClient, HttpRequest};
use super::{BoxFuture, KeyBackend, KeyHandle, Sealed};
use crate::asym::{EncryptionAlgorithm, SigningAlgorithm};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::vocab::{KeySpec, ProtectionLevel};

/// The prefix of every transit handle.
pub const HANDLE_PREFIX: &[u8] = b"TRN\x01";

/// Where the transit engine is and how to authenticate to it.
#[derive(Clone)]
pub struct TransitConfig {
    /// `https://host:port` (or `http://` on loopback) of OpenBao / Vault.
    pub address: String,
    /// The token (`X-Vault-Token`); it needs create, update, read and delete on
    /// `<mount>/keys/<prefix>*` (and its `config` and `rotate`), and update on
    /// `<mount>/{encrypt,decrypt,sign}/<prefix>*`.
    pub token: SecretBytes,
    /// The transit engine's mount path (default `transit`).
    pub mount: String,
    /// Prefix of the transit keys' names (default `strongroom-`).
    pub key_prefix: String,
}

impl core::fmt::Debug for TransitConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TransitConfig")
            .field("address", &self.address)
            .field("mount", &self.mount)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl TransitConfig {
    /// A configuration with the default mount (`transit`) and key prefix.
    #[must_use]
    pub fn new(address: impl Into<String>, token: SecretBytes) -> TransitConfig {
        TransitConfig {
            address: address.into(),
            token,
            mount: "transit".into(),
            key_prefix: "strongroom-".into(),
        }
    }
}

/// A [`KeyBackend`] on an OpenBao / Vault transit engine.
pub struct TransitBackend {
    base: String,
    cfg: TransitConfig,
    http: Arc<dyn HttpClient>,
    env: Env,
}

impl core::fmt::Debug for TransitBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TransitBackend")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn bad_config(why: &str) -> Error {
    Error::InvalidParameter {
        name: "Transit",
        reason: why.to_string(),
    }
}

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/' | b'.'))
        && !s.contains("..")
}

/// Transit's key type for a spec.
fn key_type(spec: KeySpec) -> Result<&'static str> {
    Ok(match spec {
        KeySpec::Aes256 => "aes256-gcm96",
        KeySpec::Aes128 => "aes128-gcm96",
        KeySpec::Rsa2048 => "rsa-2048",
        KeySpec::Rsa3072 => "rsa-3072",
        KeySpec::Rsa4096 => "rsa-4096",
        KeySpec::EcP256 => "ecdsa-p256",
        _ => {
            return Err(Error::Unsupported(
                "the transit engine has no key type for this KeySpec (it offers Aliyun_AES_256, Aliyun_AES_128, RSA_2048/3072/4096 and EC_P256)",
            ));
        }
    })
}

impl TransitBackend {
    /// A backend on the engine `cfg` names, reached through `http`.
    ///
    /// # Errors
    /// `InvalidParameter.Transit` for an address that is not `http(s)://host[:port]`,
    /// an empty token, or a mount or prefix with characters other than letters,
    /// digits and `-_/.`.
    pub fn new(cfg: TransitConfig, http: Arc<dyn HttpClient>, env: Env) -> Result<TransitBackend> {
        let address = cfg.address.trim().trim_end_matches('/');
        let rest = address
            .strip_prefix("https://")
            .or_else(|| address.strip_prefix("http://"))
            .ok_or_else(|| bad_config("the address must be https://host[:port] (or http://)"))?;
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad_config(
                "the address must be scheme://host[:port] with no path",
            ));
        }
        if cfg.token.expose().is_empty() || core::str::from_utf8(cfg.token.expose()).is_err() {
            return Err(bad_config("a token is required"));
        }
        let mount = cfg.mount.trim_matches('/');
        if !name_ok(mount) {
            return Err(bad_config("the mount must be letters, digits and -_/."));
        }
        if !cfg.key_prefix.is_empty() && !name_ok(&cfg.key_prefix) {
            return Err(bad_config("the key prefix must be letters, digits and -_."));
        }
        Ok(TransitBackend {
            base: format!("{address}/v1/{mount}"),
            cfg,
            http,
            env,
        })
    }

    /// The transit key and version a handle names (`TRN\x01` name, `:v<N>` for N ≥ 2).
    fn key<'h>(&self, handle: &'h KeyHandle) -> Result<(&'h str, u32)> {
        let other = || {
            Error::BackendUnavailable(
                "this key was not made by a transit backend: open the store with the backend that made it".into(),
            )
        };
        let text = handle
            .0
            .expose()
            .strip_prefix(HANDLE_PREFIX)
            .and_then(|n| core::str::from_utf8(n).ok())
            .ok_or_else(other)?;
        let (name, version) = match text.rsplit_once(":v") {
            Some((n, v)) => (n, v.parse::<u32>().map_err(|_| other())?),
            None => (text, 1),
        };
        if !name_ok(name) || version == 0 {
            return Err(other());
        }
        Ok((name, version))
    }

    fn handle(name: &str, version: u32) -> KeyHandle {
        let mut h = HANDLE_PREFIX.to_vec();
        h.extend_from_slice(name.as_bytes());
        if version > 1 {
            h.extend_from_slice(format!(":v{version}").as_bytes());
        }
        KeyHandle(SecretBytes::new(h))
    }

    /// One request to the engine; its `data` on success. `decrypting`: an
    /// authentication failure is `InvalidCiphertext`, not a backend failure.
    async fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
        decrypting: bool,
    ) -> Result<Value> {
        let token = core::str::from_utf8(self.cfg.token.expose())
            .map_err(|_| bad_config("a token is required"))?;
        let mut headers = alloc::vec![("x-vault-token".to_string(), token.to_string())];
        let body = match body {
            Some(v) => {
                headers.push(("content-type".into(), "application/json".into()));
                v.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let answer = self
            .http
            .send(HttpRequest {
                method,
                url: format!("{}/{path}", self.base),
                headers,
                body,
            })
            .await?;
        let json: Value = if answer.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer.body).map_err(|_| {
                Error::BackendProtocol("the transit engine answered with a body that is not JSON")
            })?
        };
        if (200..300).contains(&answer.status) {
            return Ok(json.get("data").cloned().unwrap_or(Value::Null));
        }
        let why = json
            .get("errors")
            .and_then(Value::as_array)
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        // Transit answers a GCM failure 400, an RSA-OAEP failure 500.
        if decrypting
            && matches!(answer.status, 400 | 500)
            && (why.contains("authentication failed")
                || why.contains("decrypt the ciphertext")
                || why.contains("invalid ciphertext")
                || why.contains("decryption error")
                || why.contains("verification error")
                || why.contains("illegal base64"))
        {
            return Err(Error::InvalidCiphertext);
        }
        // A key deleted in the engine behind strongroom's back (with the mount's
        // `disable_upsert`, an encrypt no longer re-creates it: docs/API.md).
        if matches!(answer.status, 400 | 404) && why.contains("key not found") {
            let key = path.rsplit('/').next().unwrap_or_default();
            return Err(Error::KeyNotFound(format!(
                "the transit engine no longer holds key {key} (deleted outside strongroom)"
            )));
        }
        Err(Error::BackendUnavailable(format!(
            "the transit engine refused {method} {path}: HTTP {} {why}",
            answer.status
        )))
    }

    /// The body of an encrypt or datakey request: the key version, and the blob's AAD.
    fn sealing_body(version: u32, aad: &[u8]) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("key_version".into(), version.into());
        if !aad.is_empty() {
            body.insert("associated_data".into(), Base64::encode_string(aad).into());
        }
        body
    }

    /// An answer's `ciphertext` of a `len`-byte plaintext as strongroom's sealed form:
    /// transit lays AES-GCM out as nonce (12) ‖ ciphertext ‖ tag (16).
    fn sealed(d: &Value, version: u32, len: usize) -> Result<Sealed> {
        let raw = Self::unwrap_vault(d, "ciphertext", version)?;
        if raw.len() != 12 + len + 16 {
            return Err(Error::BackendProtocol(
                "the transit ciphertext is not nonce, ciphertext and tag",
            ));
        }
        let (n, ct) = raw.split_at(12);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(n);
        Ok(Sealed {
            nonce,
            ciphertext: ct.to_vec(),
        })
    }

    /// `vault:v<version>:<base64>` → the bytes.
    fn unwrap_vault(v: &Value, field: &str, version: u32) -> Result<Vec<u8>> {
        let s = v
            .get(field)
            .and_then(Value::as_str)
            .ok_or(Error::BackendProtocol(
                "the transit engine's answer lacks a field",
            ))?;
        let b64 = s
            .strip_prefix(&format!("vault:v{version}:"))
            .ok_or(Error::BackendProtocol(
                "the transit engine answered another key version",
            ))?;
        Base64::decode_vec(b64)
            .map_err(|_| Error::BackendProtocol("the transit engine's answer is not base64"))
    }

    fn b64(v: &Value, field: &str) -> Result<SecretBytes> {
        let s = v
            .get(field)
            .and_then(Value::as_str)
            .ok_or(Error::BackendProtocol(
                "the transit engine's answer lacks a field",
            ))?;
        Base64::decode_vec(s)
            .map(SecretBytes::new)
            .map_err(|_| Error::BackendProtocol("the transit engine's answer is not base64"))
    }
}

impl KeyBackend for TransitBackend {
    fn protection_level(&self) -> ProtectionLevel {
        ProtectionLevel::Software
    }

    fn out_of_process(&self) -> bool {
        true
    }

    fn generate<'a>(&'a self, spec: KeySpec) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move {
            let ty = key_type(spec)?;
            let name = format!("{}{}", self.cfg.key_prefix, crate::ids::uuid_v4(&self.env)?);
            self.send(
                "POST",
                &format!("keys/{name}"),
                Some(json!({"type": ty, "exportable": false, "allow_plaintext_backup": false})),
                false,
            )
            .await?;
            Ok(Self::handle(&name, 1))
        })
    }

    fn encrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Sealed>> {
        Box::pin(async move {
            let (name, version) = self.key(handle)?;
            let mut body = Self::sealing_body(version, aad);
            body.insert("plaintext".into(), Base64::encode_string(plaintext).into());
            let d = self
                .send(
                    "POST",
                    &format!("encrypt/{name}"),
                    Some(Value::Object(body)),
                    false,
                )
                .await?;
            Self::sealed(&d, version, plaintext.len())
        })
    }

    fn generate_data_key<'a>(
        &'a self,
        handle: &'a KeyHandle,
        len: usize,
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<(SecretBytes, Sealed)>>> {
        Box::pin(async move {
            // Transit's datakey draws 128, 256 or 512 bits; other lengths (a
            // NumberOfBytes) are drawn here and encrypted.
            let bits: u32 = match len {
                16 => 128,
                32 => 256,
                64 => 512,
                _ => return Ok(None),
            };
            let (name, version) = self.key(handle)?;
            let mut body = Self::sealing_body(version, aad);
            body.insert("bits".into(), bits.into());
            let d = self
                .send(
                    "POST",
                    &format!("datakey/plaintext/{name}"),
                    Some(Value::Object(body)),
                    false,
                )
                .await?;
            let plaintext = Self::b64(&d, "plaintext")?;
            if plaintext.len() != len {
                return Err(Error::BackendProtocol(
                    "the transit data key has the wrong length",
                ));
            }
            Ok(Some((plaintext, Self::sealed(&d, version, len)?)))
        })
    }

    fn decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        nonce: &'a [u8; 12],
        ciphertext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move {
            let (name, version) = self.key(handle)?;
            let mut raw = Vec::with_capacity(12 + ciphertext.len());
            raw.extend_from_slice(nonce);
            raw.extend_from_slice(ciphertext);
            let mut body = Map::new();
            body.insert(
                "ciphertext".into(),
                format!("vault:v{version}:{}", Base64::encode_string(&raw)).into(),
            );
            if !aad.is_empty() {
                body.insert("associated_data".into(), Base64::encode_string(aad).into());
            }
            let d = self
                .send(
                    "POST",
                    &format!("decrypt/{name}"),
                    Some(Value::Object(body)),
                    true,
                )
                .await?;
            Self::b64(&d, "plaintext")
        })
    }

    fn rotate<'a>(
        &'a self,
        current: &'a KeyHandle,
        spec: KeySpec,
        _usage: crate::vocab::KeyUsage,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move {
            key_type(spec)?;
            let (name, _) = self.key(current)?;
            let d = self
                .send("POST", &format!("keys/{name}/rotate"), None, false)
                .await?;
            let latest = d
                .get("latest_version")
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(Error::BackendProtocol(
                    "the transit engine did not say the new version",
                ))?;
            Ok(Self::handle(name, latest))
        })
    }

    /// Deletes the transit key (with every version: strongroom deletes whole keys, and
    /// each version's call after the first finds it gone).
    fn destroy<'a>(&'a self, handle: &'a KeyHandle) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (name, _) = self.key(handle)?;
            let gone = |e: &Error| {
                let m = e.to_string();
                m.contains("HTTP 404") || m.contains("no existing key") || m.contains("not found")
            };
            match self
                .send(
                    "POST",
                    &format!("keys/{name}/config"),
                    Some(json!({"deletion_allowed": true})),
                    false,
                )
                .await
            {
                Err(e) if gone(&e) => return Ok(()),
                other => {
                    other?;
                }
            }
            match self
                .send("DELETE", &format!("keys/{name}"), None, false)
                .await
            {
                Err(e) if gone(&e) => Ok(()),
                other => other.map(|_| ()),
            }
        })
    }

    fn supports_asymmetric(&self) -> bool {
        true
    }

    fn key_specs(&self) -> Vec<KeySpec> {
        KeySpec::ALL
            .iter()
            .copied()
            .filter(|s| key_type(*s).is_ok())
            .collect()
    }

    fn public_key<'a>(
        &'a self,
        handle: &'a KeyHandle,
        _spec: KeySpec,
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let (name, version) = self.key(handle)?;
            let d = self
                .send("GET", &format!("keys/{name}"), None, false)
                .await?;
            let pem = d
                .get("keys")
                .and_then(|k| k.get(version.to_string().as_str()))
                .and_then(|k| k.get("public_key"))
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .ok_or(Error::BackendProtocol("the transit key has no public key"))?;
            crate::asym::pem_spki(pem)
                .map_err(|_| Error::BackendProtocol("the transit public key is not PEM"))
        })
    }

    fn sign<'a>(
        &'a self,
        handle: &'a KeyHandle,
        _spec: KeySpec,
        alg: SigningAlgorithm,
        digest: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let (name, version) = self.key(handle)?;
            let mut body = Map::new();
            body.insert("input".into(), Base64::encode_string(digest).into());
            body.insert("key_version".into(), version.into());
            body.insert("prehashed".into(), true.into());
            body.insert("hash_algorithm".into(), "sha2-256".into());
            match alg {
                SigningAlgorithm::RsaPssSha256 => {
                    body.insert("signature_algorithm".into(), "pss".into());
                    body.insert("salt_length".into(), "32".into());
                }
                SigningAlgorithm::RsaPkcs1Sha256 => {
                    body.insert("signature_algorithm".into(), "pkcs1v15".into());
                }
                SigningAlgorithm::EcdsaSha256 => {
                    body.insert("marshaling_algorithm".into(), "asn1".into());
                }
            }
            let d = self
                .send(
                    "POST",
                    &format!("sign/{name}"),
                    Some(Value::Object(body)),
                    false,
                )
                .await?;
            Self::unwrap_vault(&d, "signature", version)
        })
    }

    fn asymmetric_decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        _spec: KeySpec,
        alg: EncryptionAlgorithm,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move {
            if alg != EncryptionAlgorithm::RsaesOaepSha256 {
                return Err(Error::Unsupported(
                    "the transit engine decrypts RSAES_OAEP_SHA_256 only (no OAEP with SHA-1)",
                ));
            }
            let (name, version) = self.key(handle)?;
            let body = json!({
                "ciphertext": format!("vault:v{version}:{}", Base64::encode_string(ciphertext))
            });
            let d = self
                .send("POST", &format!("decrypt/{name}"), Some(body), true)
                .await?;
            Self::b64(&d, "plaintext")
        })
    }
}
