//! [`SecretCache`]: the caching client for secrets (as Alibaba's secret client, and the
//! npm and Python `SecretCache`s): values held in memory, refreshed on an interval, one
//! fetch per secret at a time, and the last good value served for a bounded time when
//! a refresh fails. Values touch the disk only when asked ([`SecretCache::persist`]),
//! and then sealed under the application's own key
//! ([`crate::storage::secret_cache_file`]).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::ops::Deref;

use crate::error::{Error, Result};
use crate::kms::Kms;
#[cfg(feature = "std")]
use crate::service::secrets::SecretDataType;
use crate::service::secrets::{ACS_CURRENT, GetSecretValueRequest, GetSecretValueResponse};
use crate::sync::AsyncMutex;

/// What happened, as a [`SecretCache`] hook is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretCacheEventKind {
    /// The first fetch of a secret.
    Fetch,
    /// A later fetch (the interval passed, or `refresh`).
    Refresh,
    /// A fetch found a new version (ACSCurrent moved).
    Changed,
    /// A refresh failed; the last good value is served.
    Stale,
    /// A fetch failed.
    Error,
    /// Writing or removing the sealed disk copy failed (the value is still served from
    /// memory; see [`SecretCache::persist`]).
    Persist,
}

/// One event of a [`SecretCache`].
#[derive(Debug, Clone)]
pub struct SecretCacheEvent {
    /// What happened.
    pub kind: SecretCacheEventKind,
    /// The secret.
    pub secret_name: String,
    /// The version served or fetched.
    pub version_id: Option<String>,
    /// The error, for `Stale` and `Error`.
    pub error: Option<Error>,
}

/// A [`SecretCache`] hook.
pub type SecretCacheHook = Box<dyn Fn(&SecretCacheEvent) + Send + Sync>;

struct Entry {
    value: Arc<GetSecretValueResponse>,
    fetched_ms: u64,
    /// Since when refreshes have been failing.
    failing_since: Option<u64>,
    last_error: Option<Error>,
}

/// Caches secret values in memory over a [`Kms`] (`&Kms`, `Arc<Kms>`, …): each value is
/// served for `refresh_ms`, then fetched again (a new ACSCurrent is picked up then;
/// [`SecretCache::refresh`] forces it); concurrent getters of one secret share one
/// fetch; when a refresh fails, the last good value is served for `max_stale_ms` from
/// the first failure, the error told to the hook and kept for
/// [`SecretCache::last_error`], and after that the error is returned. Values touch the
/// disk only with [`SecretCache::persist`], sealed under the application's key.
pub struct SecretCache<K: Deref<Target = Kms>> {
    kms: K,
    refresh_ms: u64,
    max_stale_ms: u64,
    stage: String,
    entries: spin::Mutex<BTreeMap<String, Entry>>,
    fetching: spin::Mutex<BTreeMap<String, Arc<AsyncMutex>>>,
    hook: Option<SecretCacheHook>,
    #[cfg(feature = "std")]
    persist: Option<Persist>,
}

/// Where and how a [`SecretCache`] keeps sealed copies of its values.
#[cfg(feature = "std")]
struct Persist {
    dir: std::path::PathBuf,
    key: crate::secret::SecretBytes,
    max_age_ms: u64,
}

/// A value as the disk copy holds it: GetSecretValue's answer as Alibaba spells it,
/// plus `FetchedAt` (docs/FORMAT.md §Secret cache entry). The JSON's own copy of the
/// value is wiped once written, and the output buffer is sized up front so that no
/// growth leaves an unwiped copy behind.
#[cfg(feature = "std")]
fn value_json(v: &GetSecretValueResponse, fetched_ms: u64) -> Result<crate::secret::SecretBytes> {
    use base64ct::{Base64, Encoding};
    use serde_json::{Map, Value};
    use zeroize::Zeroize as _;
    let mut o = Map::new();
    let s = |x: &str| Value::String(String::from(x));
    o.insert("SecretName".into(), s(&v.secret_name));
    o.insert("SecretType".into(), s(v.secret_type.as_str()));
    o.insert("SecretDataType".into(), s(v.secret_data_type.as_str()));
    let data = match v.secret_data_type {
        SecretDataType::Binary => Base64::encode_string(v.secret_data.expose()),
        _ => String::from_utf8_lossy(v.secret_data.expose()).into_owned(),
    };
    let room = data.len() * 6 + 4096;
    o.insert("SecretData".into(), Value::String(data));
    o.insert("VersionId".into(), s(&v.version_id));
    o.insert(
        "VersionStages".into(),
        serde_json::json!({ "VersionStage": v.version_stages }),
    );
    o.insert("CreateTime".into(), s(&v.create_time));
    o.insert("AutomaticRotation".into(), s(v.automatic_rotation));
    let mut opt = |k: &str, x: &Option<String>| {
        if let Some(x) = x {
            o.insert(k.into(), s(x));
        }
    };
    opt("ExtendedConfig", &v.extended_config);
    opt("RotationInterval", &v.rotation_interval);
    opt("NextRotationDate", &v.next_rotation_date);
    opt("LastRotationDate", &v.last_rotation_date);
    o.insert("FetchedAt".into(), Value::from(fetched_ms));
    let mut out = alloc::vec::Vec::with_capacity(room);
    let written = serde_json::to_writer(&mut out, &o);
    if let Some(Value::String(d)) = o.get_mut("SecretData") {
        d.zeroize();
    }
    let out = crate::secret::SecretBytes::new(out);
    written.map_err(|_| Error::Internal("a secret cache copy could not be written as JSON"))?;
    Ok(out)
}

/// [`value_json`] read back (the copy already judged servable by
/// `secret_cache_file::open_fresh`); `None` for anything it did not write. The parsed
/// copies of the value are wiped.
#[cfg(feature = "std")]
fn value_from_json(bytes: &[u8]) -> Option<GetSecretValueResponse> {
    use base64ct::{Base64, Encoding};
    use zeroize::Zeroize as _;
    let mut v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let mut data = match v.get_mut("SecretData") {
        Some(serde_json::Value::String(d)) => core::mem::take(d),
        _ => return None,
    };
    let text = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(String::from)
    };
    let Some(data_type) = text("SecretDataType").and_then(|t| t.parse::<SecretDataType>().ok())
    else {
        data.zeroize();
        return None;
    };
    let secret_data = match data_type {
        SecretDataType::Binary => {
            let decoded = Base64::decode_vec(&data).ok();
            data.zeroize();
            crate::secret::SecretBytes::new(decoded?)
        }
        _ => crate::secret::SecretBytes::new(data.into_bytes()),
    };
    let stages = v
        .get("VersionStages")?
        .get("VersionStage")?
        .as_array()?
        .iter()
        .map(|x| x.as_str().map(String::from))
        .collect::<Option<alloc::vec::Vec<_>>>()?;
    Some(GetSecretValueResponse {
        secret_name: text("SecretName")?,
        secret_type: text("SecretType")?.parse().ok()?,
        secret_data,
        secret_data_type: data_type,
        version_id: text("VersionId")?,
        version_stages: stages,
        create_time: text("CreateTime")?,
        extended_config: text("ExtendedConfig"),
        automatic_rotation: if text("AutomaticRotation")? == "Enabled" {
            "Enabled"
        } else {
            "Disabled"
        },
        rotation_interval: text("RotationInterval"),
        next_rotation_date: text("NextRotationDate"),
        last_rotation_date: text("LastRotationDate"),
    })
}

impl<K: Deref<Target = Kms>> SecretCache<K> {
    /// A cache over `kms` with a 60 s refresh interval and 5 minutes of stale serving,
    /// reading ACSCurrent.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let cache = SecretCache::new(&kms);
    /// # });
    /// ```
    pub fn new(kms: K) -> Self {
        SecretCache {
            kms,
            refresh_ms: 60_000,
            max_stale_ms: 300_000,
            stage: String::from(ACS_CURRENT),
            entries: spin::Mutex::new(BTreeMap::new()),
            fetching: spin::Mutex::new(BTreeMap::new()),
            hook: None,
            #[cfg(feature = "std")]
            persist: None,
        }
    }

    /// Also keeps a sealed copy of every value fetched in `dir` (created 0700 if
    /// missing; one 0600 file per secret and stage, written atomically), sealed with
    /// AES-256-GCM under `key` — 32 bytes the application keeps outside the KMS (a key
    /// file, a platform secret store): the copy exists for when the KMS cannot be
    /// reached, so it must not need the KMS to open. When a fetch fails and memory
    /// holds nothing (a restarted process), a copy younger than 24 hours
    /// ([`SecretCache::persist_max_age_ms`]) is served as a stale value (the hook is
    /// told `Stale` with the error). A copy that does not open (another key, a changed
    /// byte, another secret's file) is ignored. [`SecretCache::invalidate`] removes
    /// copies too.
    ///
    /// # Errors
    /// `InvalidParameter.CacheKey` for a key that is not 32 bytes;
    /// `InvalidParameter.CachePath` when `dir` cannot be created.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let key = SecretBytes::new(vec![7; 32]); // 32 bytes kept outside the KMS
    /// let cache = SecretCache::new(&kms).persist("/var/cache/app-secrets", key)?;
    /// # });
    /// ```
    #[cfg(feature = "std")]
    pub fn persist(
        mut self,
        dir: impl Into<std::path::PathBuf>,
        key: crate::secret::SecretBytes,
    ) -> Result<Self> {
        use crate::storage::secret_cache_file::KEY_LEN;
        if key.expose().len() != KEY_LEN {
            return Err(Error::param(
                "CacheKey",
                "the secret cache key is 32 bytes (AES-256)",
            ));
        }
        let dir = dir.into();
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir).map_err(|e| {
            Error::param(
                "CachePath",
                alloc::format!("cannot create the directory {}: {e}", dir.display()),
            )
        })?;
        self.persist = Some(Persist {
            dir,
            key,
            max_age_ms: 24 * 3_600_000,
        });
        Ok(self)
    }

    /// How old (from its fetch) a disk copy may be and still be served (ms; default 24
    /// hours). Only with [`SecretCache::persist`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let key = SecretBytes::new(vec![7; 32]);
    /// let cache = SecretCache::new(&kms).persist("cache", key)?.persist_max_age_ms(3_600_000);
    /// # });
    /// ```
    #[cfg(feature = "std")]
    #[must_use]
    pub fn persist_max_age_ms(mut self, ms: u64) -> Self {
        if let Some(p) = &mut self.persist {
            p.max_age_ms = ms;
        }
        self
    }

    /// How long a value is served before it is fetched again (ms).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let cache = SecretCache::new(&kms).refresh_interval_ms(60_000);
    /// # });
    /// ```
    #[must_use]
    pub fn refresh_interval_ms(mut self, ms: u64) -> Self {
        self.refresh_ms = ms;
        self
    }

    /// How long, from the first failed refresh, the last good value is still served (ms).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let cache = SecretCache::new(&kms).max_stale_ms(300_000);
    /// # });
    /// ```
    #[must_use]
    pub fn max_stale_ms(mut self, ms: u64) -> Self {
        self.max_stale_ms = ms;
        self
    }

    /// The stage to read (default ACSCurrent).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let cache = SecretCache::new(&kms).version_stage("ACSPrevious");
    /// # });
    /// ```
    #[must_use]
    pub fn version_stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = stage.into();
        self
    }

    /// Told of every fetch, refresh, change, stale serving and error.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let cache = SecretCache::new(&kms).on_event(Box::new(|e| { let _ = e; }));
    /// # });
    /// ```
    #[must_use]
    pub fn on_event(mut self, hook: SecretCacheHook) -> Self {
        self.hook = Some(hook);
        self
    }

    fn emit(
        &self,
        kind: SecretCacheEventKind,
        name: &str,
        version: Option<&str>,
        error: Option<&Error>,
    ) {
        if let Some(h) = &self.hook {
            h(&SecretCacheEvent {
                kind,
                secret_name: String::from(name),
                version_id: version.map(String::from),
                error: error.cloned(),
            });
        }
    }

    /// The cached value if it is still within its interval.
    fn fresh(&self, name: &str, now: u64) -> Option<Arc<GetSecretValueResponse>> {
        let entries = self.entries.lock();
        let e = entries.get(name)?;
        (now.saturating_sub(e.fetched_ms) < self.refresh_ms).then(|| e.value.clone())
    }

    /// The secret's value: from memory while fresh, else fetched (see the type).
    ///
    /// # Errors
    /// GetSecretValue's errors, once no good value may be served any longer.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// # let cache = SecretCache::new(&kms);
    /// let value = cache.get("db/password").await?;
    /// # });
    /// ```
    pub async fn get(&self, secret_name: &str) -> Result<Arc<GetSecretValueResponse>> {
        if let Some(v) = self.fresh(secret_name, self.kms.env.now()) {
            return Ok(v);
        }
        self.fetch(secret_name, false).await
    }

    /// Fetches now (sharing a fetch already running).
    ///
    /// # Errors
    /// As [`SecretCache::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.create_secret(CreateSecretRequest { secret_name: "db/password".into(), version_id: "v1".into(), secret_data: SecretBytes::from_slice(b"s3cret"), ..Default::default() }).await?;
    /// # let cache = SecretCache::new(&kms);
    /// let value = cache.refresh("db/password").await?;
    /// # });
    /// ```
    pub async fn refresh(&self, secret_name: &str) -> Result<Arc<GetSecretValueResponse>> {
        self.fetch(secret_name, true).await
    }

    /// Forgets one secret (`Some`), or every one.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let cache = SecretCache::new(&kms);
    /// cache.invalidate(Some("db/password"));
    /// # });
    /// ```
    pub fn invalidate(&self, secret_name: Option<&str>) {
        {
            let mut e = self.entries.lock();
            match secret_name {
                Some(n) => {
                    e.remove(n);
                }
                None => e.clear(),
            }
        }
        #[cfg(feature = "std")]
        if let Err(e) = self.forget_copies(secret_name) {
            self.emit(
                SecretCacheEventKind::Persist,
                secret_name.unwrap_or_default(),
                None,
                Some(&e),
            );
        }
    }

    /// The path of a secret's disk copy (this cache's stage).
    #[cfg(feature = "std")]
    fn copy_path(&self, p: &Persist, name: &str) -> std::path::PathBuf {
        p.dir.join(crate::storage::secret_cache_file::file_name(
            name,
            &self.stage,
        ))
    }

    /// Writes a secret's sealed copy: a 0600 temp file, synced, renamed over the old
    /// copy, the directory synced.
    #[cfg(feature = "std")]
    fn save_copy(&self, name: &str, v: &GetSecretValueResponse, now: u64) -> Result<()> {
        use std::io::Write;
        let Some(p) = &self.persist else {
            return Ok(());
        };
        let content = value_json(v, now)?;
        let sealed = crate::storage::secret_cache_file::seal(
            &self.kms.env,
            p.key.expose(),
            name,
            &self.stage,
            content.expose(),
        )?;
        let path = self.copy_path(p, name);
        let suffix: [u8; 8] = self.kms.env.random()?;
        let mut tmp = path.clone().into_os_string();
        tmp.push(alloc::format!(".tmp-{:016x}", u64::from_le_bytes(suffix)));
        let tmp = std::path::PathBuf::from(tmp);
        let io = |e: std::io::Error| {
            Error::StoreIo(alloc::format!(
                "the secret cache copy in {}: {e}",
                p.dir.display()
            ))
        };
        let written = (|| -> std::io::Result<()> {
            let mut f = crate::storage::create_private(&tmp)?;
            f.write_all(&sealed)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&p.dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(io)
    }

    /// A secret's disk copy, if there is one that opens, is young enough, and is for
    /// this secret.
    #[cfg(feature = "std")]
    fn load_copy(&self, name: &str, now: u64) -> Option<GetSecretValueResponse> {
        let p = self.persist.as_ref()?;
        let bytes = std::fs::read(self.copy_path(p, name)).ok()?;
        let content = crate::storage::secret_cache_file::open_fresh(
            p.key.expose(),
            name,
            &self.stage,
            &bytes,
            now,
            p.max_age_ms,
        )?;
        value_from_json(content.expose())
    }

    /// Removes one secret's copy, or every copy in the directory.
    #[cfg(feature = "std")]
    fn forget_copies(&self, secret_name: Option<&str>) -> Result<()> {
        let Some(p) = &self.persist else {
            return Ok(());
        };
        let io = |e: std::io::Error| {
            Error::StoreIo(alloc::format!(
                "removing a secret cache copy in {}: {e}",
                p.dir.display()
            ))
        };
        let gone = |r: std::io::Result<()>| match r {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        };
        match secret_name {
            Some(n) => gone(std::fs::remove_file(self.copy_path(p, n))),
            None => {
                for e in std::fs::read_dir(&p.dir).map_err(io)? {
                    let path = e.map_err(io)?.path();
                    if path
                        .extension()
                        .is_some_and(|x| x == &crate::storage::secret_cache_file::SUFFIX[1..])
                    {
                        gone(std::fs::remove_file(path))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// The error of the last failed refresh of a secret still served stale.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let cache = SecretCache::new(&kms);
    /// let err = cache.last_error("db/password");
    /// # });
    /// ```
    #[must_use]
    pub fn last_error(&self, secret_name: &str) -> Option<Error> {
        self.entries
            .lock()
            .get(secret_name)
            .and_then(|e| e.last_error.clone())
    }

    /// Keeps serving `value` after a failed fetch (failing since `since`), tells the hook.
    fn serve_stale(
        &self,
        name: &str,
        value: Arc<GetSecretValueResponse>,
        now: u64,
        since: u64,
        e: Error,
    ) -> Arc<GetSecretValueResponse> {
        self.entries.lock().insert(
            String::from(name),
            Entry {
                value: value.clone(),
                fetched_ms: now,
                failing_since: Some(since),
                last_error: Some(e.clone()),
            },
        );
        self.emit(
            SecretCacheEventKind::Stale,
            name,
            Some(&value.version_id),
            Some(&e),
        );
        value
    }

    async fn fetch(&self, name: &str, force: bool) -> Result<Arc<GetSecretValueResponse>> {
        let lock = self
            .fetching
            .lock()
            .entry(String::from(name))
            .or_insert_with(|| Arc::new(AsyncMutex::default()))
            .clone();
        let _g = lock.lock().await;
        // Another getter fetched while this one waited: take what it got.
        if !force && let Some(v) = self.fresh(name, self.kms.env.now()) {
            return Ok(v);
        }
        let before = self
            .entries
            .lock()
            .get(name)
            .map(|e| (e.value.clone(), e.failing_since));
        let got = self
            .kms
            .get_secret_value(GetSecretValueRequest {
                secret_name: String::from(name),
                version_stage: Some(self.stage.clone()),
                ..GetSecretValueRequest::default()
            })
            .await;
        let now = self.kms.env.now();
        match got {
            Ok(v) => {
                #[cfg(feature = "std")]
                if let Err(e) = self.save_copy(name, &v, now) {
                    self.emit(
                        SecretCacheEventKind::Persist,
                        name,
                        Some(&v.version_id),
                        Some(&e),
                    );
                }
                let v = Arc::new(v);
                self.entries.lock().insert(
                    String::from(name),
                    Entry {
                        value: v.clone(),
                        fetched_ms: now,
                        failing_since: None,
                        last_error: None,
                    },
                );
                let kind = if before.is_some() {
                    SecretCacheEventKind::Refresh
                } else {
                    SecretCacheEventKind::Fetch
                };
                self.emit(kind, name, Some(&v.version_id), None);
                if let Some((old, _)) = &before
                    && old.version_id != v.version_id
                {
                    self.emit(
                        SecretCacheEventKind::Changed,
                        name,
                        Some(&v.version_id),
                        None,
                    );
                }
                Ok(v)
            }
            Err(e) => {
                self.emit(SecretCacheEventKind::Error, name, None, Some(&e));
                if let Some((old, failing)) = before {
                    let since = failing.unwrap_or(now);
                    if now.saturating_sub(since) < self.max_stale_ms {
                        return Ok(self.serve_stale(name, old, now, since, e));
                    }
                    self.entries.lock().remove(name);
                    return Err(e);
                }
                // Nothing in memory (a restarted process): the disk copy, if asked for.
                #[cfg(feature = "std")]
                if let Some(v) = self.load_copy(name, now) {
                    return Ok(self.serve_stale(name, Arc::new(v), now, now, e));
                }
                Err(e)
            }
        }
    }
}
