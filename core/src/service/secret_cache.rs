//! [`SecretCache`]: the caching client for secrets (as Alibaba's secret client, and the
//! npm and Python `SecretCache`s): values held in memory only, refreshed on an
//! interval, one fetch per secret at a time, and the last good value served for a
//! bounded time when a refresh fails.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::ops::Deref;

use crate::error::{Error, Result};
use crate::kms::Kms;
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
/// [`SecretCache::last_error`], and after that the error is returned. Values never
/// touch the disk.
pub struct SecretCache<K: Deref<Target = Kms>> {
    kms: K,
    refresh_ms: u64,
    max_stale_ms: u64,
    stage: String,
    entries: spin::Mutex<BTreeMap<String, Entry>>,
    fetching: spin::Mutex<BTreeMap<String, Arc<AsyncMutex>>>,
    hook: Option<SecretCacheHook>,
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
        }
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
        let mut e = self.entries.lock();
        match secret_name {
            Some(n) => {
                e.remove(n);
            }
            None => e.clear(),
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
                        self.entries.lock().insert(
                            String::from(name),
                            Entry {
                                value: old.clone(),
                                fetched_ms: now,
                                failing_since: Some(since),
                                last_error: Some(e.clone()),
                            },
                        );
                        self.emit(
                            SecretCacheEventKind::Stale,
                            name,
                            Some(&old.version_id),
                            Some(&e),
                        );
                        return Ok(old);
                    }
                    self.entries.lock().remove(name);
                }
                Err(e)
            }
        }
    }
}
