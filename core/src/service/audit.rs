//! The instance's side of the audit trail (crate::audit): attaching a sink, the
//! level in force, digests signed with the store's audit key, and who the typed
//! methods act as.

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::access::AuditLevel;
use crate::api::{Action, Caller};
use crate::audit::{AuditOptions, AuditSink, Trail};
use crate::error::Result;
use crate::kms::Kms;
use crate::secret::SecretBytes;
use crate::vocab::KeySpec;
use alloc::vec::Vec;

fn level_code(l: AuditLevel) -> u8 {
    match l {
        AuditLevel::Off => 0,
        AuditLevel::Management => 1,
        AuditLevel::All => 2,
    }
}

impl Kms {
    /// The caller as an `Arc` for an audit event: the default caller's own when it is
    /// that one (no copy on the hot path).
    pub(crate) fn caller_arc(&self, caller: &Caller) -> Arc<Caller> {
        let d = self.default_caller.lock();
        if core::ptr::eq(caller, &**d) {
            d.clone()
        } else {
            Arc::new(caller.clone())
        }
    }

    /// Who the typed methods (`encrypt`, `create_key`, …) act as.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let me = kms.default_caller();
    /// # });
    /// ```
    #[must_use]
    pub fn default_caller(&self) -> Arc<Caller> {
        self.default_caller.lock().clone()
    }

    /// Makes the typed methods act as `caller` (from [`Kms::authenticate`], or
    /// [`Caller::new`] with a principal ARN): every call is then authorised against
    /// that principal's policies. In one process whoever holds the store's passphrase
    /// can act as anyone: this is least privilege against bugs, not a boundary against
    /// the holder (docs/SECURITY.md).
    ///
    /// # Errors
    /// `Rejected.Unsupported` on a connected instance (`Kms::connect`): it acts as the
    /// credentials it was connected with.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.act_as(Caller::new("acs:ram::1234567890123456:user/ingest"))?;
    /// # });
    /// ```
    pub fn act_as(&self, caller: Caller) -> Result<()> {
        self.local_only("a connected Kms acts as the credentials it was connected with")?;
        *self.default_caller.lock() = Arc::new(caller);
        Ok(())
    }

    /// The level a store that never ran SetAuditLevel audits at, in this runtime
    /// (docs/AUDIT.md lists each runtime's default).
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.set_default_audit_level(access::AuditLevel::All);
    /// # });
    /// ```
    pub fn set_default_audit_level(&self, level: AuditLevel) {
        *self.default_audit_level.lock() = level;
        self.audit_level_changed();
    }

    pub(crate) fn default_audit_level(&self) -> AuditLevel {
        *self.default_audit_level.lock()
    }

    /// The level in force: the store's own, else the runtime's default.
    pub(crate) fn current_audit_level(&self) -> AuditLevel {
        match self.audit_level.load(Ordering::Relaxed) {
            0 => AuditLevel::Off,
            2 => AuditLevel::All,
            _ => AuditLevel::Management,
        }
    }

    pub(crate) fn audit_level_changed(&self) {
        let set = self.state.lock().iam.as_ref().and_then(|i| i.audit_level);
        let l = set.unwrap_or_else(|| self.default_audit_level());
        self.audit_level.store(level_code(l), Ordering::Relaxed);
    }

    /// Attaches the audit trail's sink (replacing any other): the chain continues from
    /// the sink's last record. Natively the CLI and Python attach a file beside the
    /// store; Node a file or a callback; browsers IndexedDB or a callback.
    ///
    /// # Errors
    /// The sink's failure to read its last record; `Rejected.AuditFailed` when that
    /// record is not part of a trail.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.attach_audit(std::sync::Arc::new(audit::MemoryAuditSink::new()), audit::AuditOptions::default())?;
    /// # });
    /// ```
    pub fn attach_audit(&self, sink: Arc<dyn AuditSink>, opts: AuditOptions) -> Result<()> {
        self.local_only("a connected Kms writes no audit trail: the gateway audits every call")?;
        let trail = Arc::new(Trail::new(sink, opts, self.env.now(), self.env.clone())?);
        if let Some(k) = self
            .state
            .lock()
            .iam
            .as_ref()
            .and_then(|i| i.audit_key.clone())
        {
            trail.set_key(k)?;
        }
        #[cfg(all(feature = "std", not(target_arch = "wasm32")))]
        spawn_flusher(&trail, self.env.clock.clone());
        *self.audit.lock() = Some(trail);
        self.audit_level_changed();
        Ok(())
    }

    /// Detaches the trail (after writing what waits and a final digest).
    ///
    /// # Errors
    /// As [`Kms::audit_digest`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # kms.attach_audit(std::sync::Arc::new(audit::MemoryAuditSink::new()), audit::AuditOptions::default())?;
    /// kms.detach_audit().await?;
    /// # });
    /// ```
    pub async fn detach_audit(&self) -> Result<()> {
        let r = self.audit_digest(true).await;
        *self.audit.lock() = None;
        r
    }

    /// Rotates the trail: a final digest, then `rotate` (which renames the sink's file
    /// and starts a new one, e.g. [`crate::storage::FileAuditSink::rotate`]) with
    /// nothing written in between, then a `Continuation` record that chains the new
    /// file to the old one.
    ///
    /// # Errors
    /// `Rejected.AuditFailed`; `rotate`'s error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.rotate_audit(&mut || Ok(())).await?; // the closure moves the sink's file aside
    /// # });
    /// ```
    pub async fn rotate_audit(&self, rotate: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let Some(t) = self.audit.lock().clone() else {
            return Ok(());
        };
        self.write_audit_digest(&t, true).await?;
        t.rotate(rotate, self.env.now())
    }

    /// Records a request a network face refused before it reached the dispatch — a
    /// bad signature, an unknown AccessKeyId, a replay, throttling — as a denied event
    /// of `action` with `code` and `message` and no resources, when the audit level
    /// records denied calls (`management` and `all`). `caller` carries the AccessKeyId
    /// the request claimed, its origin and request id; its principal is what the face
    /// knows (`unauthenticated` when the signature did not verify).
    ///
    /// # Errors
    /// `Rejected.AuditFailed` when the trail cannot take the event.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.audit_refusal(&Caller::owner(), Action::Decrypt, "Forbidden.NoPermission", "refused at the gateway".into())?;
    /// # });
    /// ```
    pub fn audit_refusal(
        &self,
        caller: &Caller,
        action: Action,
        code: &'static str,
        message: String,
    ) -> Result<()> {
        let Some(t) = self.audit.lock().clone() else {
            return Ok(());
        };
        let level = self.current_audit_level();
        if !crate::audit::recorded(level, action, true) {
            return Ok(());
        }
        let now_ms = self.env.now();
        let event = crate::audit::PendingEvent {
            time_ms: now_ms,
            request_id: caller.request_id.clone(),
            caller: Arc::new(caller.clone()),
            account_id: self.state.lock().iam.as_ref().map(|i| i.account_id.clone()),
            action,
            resources: Vec::new(),
            params: Vec::new(),
            error: Some((code, message)),
        };
        t.record(event, false, now_ms)
    }

    /// How many audit events wait to be written (0 with no trail attached): what a
    /// server reports as its audit backlog.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let pending = kms.audit_backlog();
    /// # });
    /// ```
    #[must_use]
    pub fn audit_backlog(&self) -> u64 {
        self.audit.lock().as_ref().map_or(0, |t| t.backlog())
    }

    /// Writes every waiting event and makes the trail durable.
    ///
    /// # Errors
    /// `Rejected.AuditFailed`.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.flush_audit()?;
    /// # });
    /// ```
    pub fn flush_audit(&self) -> Result<()> {
        match self.audit.lock().clone() {
            Some(t) => t.flush(true, self.env.now()),
            None => Ok(()),
        }
    }

    /// Writes a digest now (`final` when the writer is about to stop: a trail that
    /// does not end with one may have lost its tail).
    ///
    /// # Errors
    /// `Rejected.AuditFailed`; the audit key's errors.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// kms.audit_digest(false).await?;
    /// # });
    /// ```
    pub async fn audit_digest(&self, is_final: bool) -> Result<()> {
        let Some(t) = self.audit.lock().clone() else {
            return Ok(());
        };
        self.write_audit_digest(&t, is_final).await
    }

    /// The audit key's public key (SubjectPublicKeyInfo PEM): what
    /// `strongroom audit verify --public-key` takes. Made on first use.
    ///
    /// # Errors
    /// Store errors; `Rejected.Unsupported` in a build without EC_P256.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// let pem = kms.audit_public_key().await?;
    /// # });
    /// ```
    pub async fn audit_public_key(&self) -> Result<String> {
        self.local_only("a connected Kms has no audit trail: ask the gateway's store")?;
        let key = self.ensure_audit_key().await?;
        let der = crate::asym::KeyCache::default().public_key(KeySpec::EcP256, key.expose())?;
        Ok(crate::asym::spki_pem(&der))
    }

    /// The audit key (EC_P256, PKCS#8), sealed in the store with its principals; made
    /// (one store write) the first time a digest or the public key is needed. It is not
    /// a CMK: it never shows in ListKeys and no action can use or delete it.
    async fn ensure_audit_key(&self) -> Result<SecretBytes> {
        if let Some(k) = self
            .state
            .lock()
            .iam
            .as_ref()
            .and_then(|i| i.audit_key.clone())
        {
            return Ok(k);
        }
        let fresh = crate::asym::generate(KeySpec::EcP256)?;
        self.mutate(|tx| {
            let iam = tx.iam_mut(|| self.new_iam_table())?;
            Ok(iam.audit_key.get_or_insert(fresh).clone())
        })
        .await
    }

    /// Gives the trail its signing key (made now if the store has none), then writes
    /// what waits and a digest.
    pub(crate) async fn write_audit_digest(&self, t: &Trail, is_final: bool) -> Result<()> {
        self.give_audit_key(t).await?;
        t.digest(is_final, self.env.now())
    }

    /// Makes sure the trail holds the audit key (one store write, the first time).
    pub(crate) async fn give_audit_key(&self, t: &Trail) -> Result<()> {
        if t.needs_key() {
            let key = self.ensure_audit_key().await?;
            t.set_key(key)?;
        }
        Ok(())
    }
}

/// Writes waiting events at least every window (the thread ends with the trail).
#[cfg(all(feature = "std", not(target_arch = "wasm32")))]
fn spawn_flusher(trail: &Arc<Trail>, clock: Arc<dyn crate::env::Clock>) {
    let now = move || clock.now_millis();
    let weak = Arc::downgrade(trail);
    // Every 5 ms while a few hundred events come per turn (a server's rates: small turns
    // keep this thread from pausing the request threads — bench/gateway.sh's p99 went
    // from ~4 to ~1.5 ms), every window/4 (at most 20 ms) when idle or when a turn found
    // thousands (in-process rates of hundreds of thousands a second, where larger,
    // rarer batches cost the callers less: `strongroom-bench --access-only` 1.22 at
    // 20 ms against 1.31 at 5 ms). Synced every `sync_every_ms`.
    let idle = core::time::Duration::from_millis(trail.sync_every_ms());
    let busy = idle.min(core::time::Duration::from_millis(5));
    const LARGE_TURN: usize = 2_048;
    let _ = std::thread::Builder::new()
        .name(String::from("strongroom-audit"))
        .spawn(move || {
            let mut every = idle;
            loop {
                std::thread::sleep(every);
                let Some(t) = weak.upgrade() else { return };
                // A failure is kept in the trail (calls are refused once too much waits).
                every = match t.flush_waiting(now()) {
                    Ok(n) if n > 0 && n < LARGE_TURN => busy,
                    _ => idle,
                };
            }
        });
}
