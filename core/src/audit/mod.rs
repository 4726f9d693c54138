//! The audit trail: one event per call through the dispatch, with ActionTrail's field
//! names, hash-chained, and sealed every so often by a digest record signed with the
//! store's audit key (EC_P256, sealed in the store beside its principals), so that
//! [`verify`] — given only the public key — finds an edited, removed, reordered or
//! inserted record, and a tail cut off after the last digest.
//!
//! Events go to an [`AuditSink`] of their own (a file beside the store natively,
//! IndexedDB in browsers, a host callback), never the store's journal, so Encrypt
//! stays free of store writes. Management events are durable before their action is
//! answered; events of read-only calls wait in memory at most the batching window
//! (1 s by default) or are made durable first in strict mode.
//!
//! Wire form: one JSON object per line. Every record has `recordType` (`Event` or
//! `Digest`), `seq` (0, 1, 2, … across the whole trail) and `prevHash` (hex SHA-256
//! of the previous record's line, without its newline; 64 zeros for the first).

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use serde_json::{Value, json};

use crate::access::AuditLevel;
use crate::api::{Action, Caller, Family, Resource};
use crate::backend::MaybeSendSync;
use crate::error::{Error, Result};

/// What a digest's signature covers, before its fields.
pub const DIGEST_DOMAIN: &str = "strongroom-audit-digest-v1";
/// `prevHash` of the first record of a trail.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where audit records go.
pub trait AuditSink: MaybeSendSync {
    /// Appends whole lines (each ends with `\n`), in order.
    ///
    /// # Errors
    /// The sink's failure (the trail keeps the records and tries again).
    fn append(&self, lines: &[u8]) -> Result<()>;
    /// Makes everything appended so far durable.
    ///
    /// # Errors
    /// The sink's failure.
    fn sync(&self) -> Result<()>;
    /// The last complete line the sink holds (to continue the chain after a restart).
    ///
    /// # Errors
    /// The sink's failure.
    fn last_line(&self) -> Result<Option<String>>;
}

/// A sink in memory (tests, and hosts that read the lines themselves).
#[derive(Debug, Default)]
pub struct MemoryAuditSink {
    buf: spin::Mutex<Vec<u8>>,
}

impl MemoryAuditSink {
    /// An empty sink.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Everything appended, as text.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock()).into_owned()
    }
    /// Replaces the content (tests that tamper with a trail).
    pub fn set_text(&self, t: &str) {
        *self.buf.lock() = t.as_bytes().to_vec();
    }
}

impl AuditSink for MemoryAuditSink {
    fn append(&self, lines: &[u8]) -> Result<()> {
        self.buf.lock().extend_from_slice(lines);
        Ok(())
    }
    fn sync(&self) -> Result<()> {
        Ok(())
    }
    fn last_line(&self) -> Result<Option<String>> {
        let b = self.buf.lock();
        let text = String::from_utf8_lossy(&b);
        Ok(text.lines().last().map(String::from))
    }
}

/// How records become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditOptions {
    /// Every event durable before its call is answered (else: management events
    /// only, the rest within `window_ms`).
    pub strict: bool,
    /// The most time a read-only call's event waits in memory, ms.
    pub window_ms: u64,
    /// A digest after this many records…
    pub digest_every: u64,
    /// …or this long after the last digest, ms (checked on each call and on close).
    pub digest_interval_ms: u64,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            strict: false,
            window_ms: 1000,
            digest_every: 100_000,
            digest_interval_ms: 300_000,
        }
    }
}

/// One call, as the dispatch saw it, not yet written.
#[derive(Debug, Clone)]
pub(crate) struct PendingEvent {
    pub(crate) time_ms: u64,
    /// The caller's request id; drawn when the event is written if it had none.
    pub(crate) request_id: Option<String>,
    pub(crate) caller: Arc<Caller>,
    pub(crate) account_id: Option<String>,
    pub(crate) action: Action,
    pub(crate) resources: Vec<Resource>,
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) error: Option<(&'static str, String)>,
}

/// Whether `a` is a management action (its events are durable before its answer).
#[must_use]
pub fn is_management(a: Action) -> bool {
    a.mutates()
        || matches!(
            a.family(),
            Family::Ram | Family::Sts | Family::Access | Family::Audit | Family::Store
        )
}

/// Whether a call of `a` that ended with `denied` is recorded at `level`.
#[must_use]
pub fn recorded(level: AuditLevel, a: Action, denied: bool) -> bool {
    match level {
        AuditLevel::Off => false,
        AuditLevel::Management => denied || is_management(a),
        AuditLevel::All => true,
    }
}

use crate::codec::hex;

/// Hex SHA-256 of a record's line.
#[must_use]
pub fn line_hash(line: &str) -> String {
    hex(&crate::vocab::sha256(line.as_bytes()))
}

use crate::context::json_string as push_str;

/// `"key":"value"` after a comma (or the opening brace).
fn field(out: &mut String, key: &str, value: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    push_str(out, key);
    out.push(':');
    push_str(out, value);
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    b.extend_from_slice(s.as_bytes());
}

fn put_opt(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            b.push(1);
            put_str(b, s);
        }
        None => b.push(0),
    }
}

impl PendingEvent {
    /// Appends the event (but its caller, kept beside) to a queue buffer.
    fn encode(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(&self.time_ms.to_be_bytes());
        let a = crate::access::action_index(self.action).unwrap_or(usize::MAX);
        b.extend_from_slice(&u16::try_from(a).unwrap_or(u16::MAX).to_be_bytes());
        put_opt(b, self.request_id.as_deref());
        put_opt(b, self.account_id.as_deref());
        b.extend_from_slice(
            &u16::try_from(self.resources.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        for r in &self.resources {
            let (tag, name) = match r {
                Resource::Instance => (0u8, ""),
                Resource::Key(n) => (1, n.as_str()),
                Resource::Alias(n) => (2, n.as_str()),
                Resource::Secret(n) => (3, n.as_str()),
                Resource::User(n) => (4, n.as_str()),
                Resource::Role(n) => (5, n.as_str()),
                Resource::Policy(n) => (6, n.as_str()),
            };
            b.push(tag);
            put_str(b, name);
        }
        b.extend_from_slice(
            &u16::try_from(self.params.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        for (k, v) in &self.params {
            put_str(b, k);
            put_str(b, v);
        }
        match &self.error {
            Some((code, msg)) => {
                b.push(1);
                put_str(b, code);
                put_str(b, msg);
            }
            None => b.push(0),
        }
    }

    /// Reads back what [`PendingEvent::encode`] wrote, borrowing its text.
    fn decode<'a>(r: &mut crate::codec::Reader<'a>, caller: Arc<Caller>) -> Option<Decoded<'a>> {
        let text = |r: &mut crate::codec::Reader<'a>| core::str::from_utf8(r.bytes32()?).ok();
        let opt = |r: &mut crate::codec::Reader<'a>| -> Option<Option<&'a str>> {
            match r.u8()? {
                0 => Some(None),
                _ => text(r).map(Some),
            }
        };
        let time_ms = r.u64()?;
        let action = *Action::ALL.get(usize::from(r.u16()?))?;
        let request_id = opt(r)?;
        let account_id = opt(r)?;
        let n = r.u16()?;
        let mut resources = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let tag = r.u8()?;
            resources.push((tag, text(r)?));
        }
        let n = r.u16()?;
        let mut params = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let k = text(r)?;
            params.push((k, text(r)?));
        }
        let error = match r.u8()? {
            0 => None,
            _ => Some((text(r)?, text(r)?)),
        };
        Some(Decoded {
            time_ms,
            request_id,
            caller,
            account_id,
            action,
            resources,
            params,
            error,
        })
    }
}

/// An event read back from the queue (its text borrowed), about to be written.
struct Decoded<'a> {
    time_ms: u64,
    request_id: Option<&'a str>,
    caller: Arc<Caller>,
    account_id: Option<&'a str>,
    action: Action,
    /// (kind, name): 0 the instance, 1 key, 2 alias, 3 secret, 4 user, 5 role, 6 policy.
    resources: Vec<(u8, &'a str)>,
    params: Vec<(&'a str, &'a str)>,
    error: Option<(&'a str, &'a str)>,
}

/// A resource's ARN, as [`Resource::arn`] spells it, appended to `out`.
fn push_arn(out: &mut String, kind: u8, name: &str) {
    match kind {
        0 => out.push('*'),
        1 => {
            out.push_str("acs:kms:strongroom:local:key/");
            out.push_str(name);
        }
        2 => {
            out.push_str("acs:kms:strongroom:local:");
            out.push_str(name);
        }
        3 => {
            out.push_str("acs:kms:strongroom:local:secret/");
            out.push_str(name);
        }
        4 => {
            out.push_str("acs:ram::local:user/");
            out.push_str(name);
        }
        5 => {
            out.push_str("acs:ram::local:role/");
            out.push_str(name);
        }
        _ => {
            out.push_str("acs:ram::local:policy/");
            out.push_str(name);
        }
    }
}

impl Decoded<'_> {
    /// The event's line: written field by field (one allocation for the line), in a
    /// fixed order — recordType, seq and prevHash first.
    fn to_json(&self, seq: u64, prev: &str, ids: &dyn Fn() -> String) -> String {
        use core::fmt::Write as _;
        let mut o = String::with_capacity(768);
        o.push('{');
        field(&mut o, "recordType", "Event");
        let _ = write!(o, ",\"seq\":{seq}");
        field(&mut o, "prevHash", prev);
        field(&mut o, "eventId", &ids());
        field(&mut o, "eventVersion", "1");
        o.push_str(",\"eventTime\":\"");
        crate::time::write_iso8601_ms(&mut o, self.time_ms);
        o.push('"');
        field(&mut o, "eventName", self.action.name());
        field(&mut o, "eventSource", "kms.strongroom.local");
        field(&mut o, "serviceName", "Kms");
        field(&mut o, "eventType", "ApiCall");
        field(
            &mut o,
            "eventRW",
            if is_management(self.action) {
                "Write"
            } else {
                "Read"
            },
        );
        field(&mut o, "acsRegion", crate::access::REGION);
        field(&mut o, "apiVersion", "2016-01-20");
        // userIdentity
        o.push_str(",\"userIdentity\":{");
        let principal = self.caller.principal.as_str();
        match crate::access::parse_principal(principal) {
            Some((acct, crate::access::Principal::Root)) => {
                let acct = acct.or(self.account_id);
                field(&mut o, "type", "root-account");
                field(&mut o, "principalId", acct.unwrap_or(""));
                match acct {
                    Some(a) => {
                        field(&mut o, "arn", &crate::access::root_arn(a));
                        field(&mut o, "accountId", a);
                    }
                    None => field(&mut o, "arn", principal),
                }
            }
            Some((acct, crate::access::Principal::User(u))) => {
                field(&mut o, "type", "ram-user");
                field(&mut o, "principalId", u);
                field(&mut o, "arn", principal);
                if let Some(a) = acct {
                    field(&mut o, "accountId", a);
                }
                field(&mut o, "userName", u);
            }
            Some((acct, crate::access::Principal::RoleSession { role, session })) => {
                field(&mut o, "type", "assumed-role");
                field(&mut o, "principalId", &alloc::format!("{role}:{session}"));
                field(&mut o, "arn", principal);
                if let Some(a) = acct {
                    field(&mut o, "accountId", a);
                }
                field(&mut o, "userName", session);
            }
            None => {
                field(&mut o, "type", "unknown");
                field(&mut o, "principalId", principal);
                field(&mut o, "arn", principal);
            }
        }
        if let Some(k) = &self.caller.access_key_id {
            field(&mut o, "accessKeyId", k);
        }
        o.push('}');
        match self.caller.source_ip {
            Some(ip) => field(&mut o, "sourceIpAddress", &ip.to_string()),
            None => field(&mut o, "sourceIpAddress", "in-process"),
        }
        field(
            &mut o,
            "userAgent",
            self.caller.user_agent.as_deref().unwrap_or(""),
        );
        match self.request_id {
            Some(r) => field(&mut o, "requestId", r),
            None => field(&mut o, "requestId", &ids()),
        }
        // ARNs hold no character JSON escapes except in names, which `push_str`
        // escapes: build each once into a scratch string.
        let mut arn = String::with_capacity(96);
        o.push_str(",\"resourceName\":");
        let mut joined = String::with_capacity(96);
        for (n, (kind, name)) in self.resources.iter().enumerate() {
            if n > 0 {
                joined.push(';');
            }
            push_arn(&mut joined, *kind, name);
        }
        push_str(&mut o, &joined);
        o.push_str(",\"resources\":[");
        for (n, (kind, name)) in self.resources.iter().enumerate() {
            if n > 0 {
                o.push(',');
            }
            arn.clear();
            push_arn(&mut arn, *kind, name);
            push_str(&mut o, &arn);
        }
        o.push_str("],\"requestParameters\":{");
        for (k, v) in &self.params {
            field(&mut o, k, v);
        }
        o.push('}');
        if let Some((code, msg)) = self.error {
            field(&mut o, "errorCode", code);
            field(&mut o, "errorMessage", msg);
        }
        o.push('}');
        o
    }
}

/// The chain's position.
#[derive(Debug, Clone)]
pub(crate) struct ChainPos {
    pub(crate) next_seq: u64,
    pub(crate) prev_hash: String,
    pub(crate) since_digest: u64,
    pub(crate) last_digest_ms: u64,
    /// The last record is a final digest (nothing to sign at the next close).
    pub(crate) closed: bool,
}

impl ChainPos {
    /// Where a trail whose last line is `last` continues.
    pub(crate) fn after(last: Option<&str>, now_ms: u64) -> Result<ChainPos> {
        let Some(line) = last else {
            return Ok(ChainPos {
                next_seq: 0,
                prev_hash: String::from(GENESIS),
                since_digest: 0,
                last_digest_ms: now_ms,
                closed: false,
            });
        };
        let v: Value = serde_json::from_str(line)
            .map_err(|_| Error::AuditFailed(String::from("the trail's last line is not JSON")))?;
        let seq = v
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::AuditFailed(String::from("the trail's last line has no seq")))?;
        Ok(ChainPos {
            next_seq: seq + 1,
            prev_hash: line_hash(line),
            // A restart starts a new digest period.
            since_digest: u64::from(v.get("recordType").and_then(Value::as_str) != Some("Digest")),
            last_digest_ms: now_ms,
            closed: v.get("recordType").and_then(Value::as_str) == Some("Digest")
                && v.get("final").and_then(Value::as_bool) == Some(true),
        })
    }
}

/// The trail an instance writes.
///
/// Two locks: `queue` (held for a push) and `writer` (held while a batch is turned into
/// lines, hashed, signed and appended), always taken writer first. A call that records
/// an event only pushes it; the serialization happens in whoever writes — the flusher
/// thread, or a call whose event must be durable — without holding up other calls.
pub(crate) struct Trail {
    pub(crate) sink: Arc<dyn AuditSink>,
    pub(crate) opts: AuditOptions,
    queue: spin::Mutex<Queue>,
    writer: spin::Mutex<Writer>,
    /// Whether `writer.key` is set (read on every call without the writer's lock).
    has_key: core::sync::atomic::AtomicBool,
    /// When the sink was last synced (ms): the flusher writes every few ms under load
    /// but syncs at most every [`Trail::sync_every_ms`].
    last_sync_ms: core::sync::atomic::AtomicU64,
    /// Whether something was written since the last sync.
    unsynced: core::sync::atomic::AtomicBool,
    /// Draws eventIds and missing requestIds when events are written.
    env: crate::env::Env,
}

/// Waiting events, encoded on the calling thread into one byte buffer (so nothing a
/// call allocates is freed by the writer thread: freeing across threads made every
/// audited call contend with the writer in the allocator).
struct Queue {
    buf: Vec<u8>,
    callers: Vec<Arc<Caller>>,
    count: usize,
    /// The last written batch's buffer, emptied and reused.
    spare: Vec<u8>,
    oldest_ms: u64,
    /// A write failed: the events are kept and calls are refused once too many wait.
    failed: Option<String>,
}

struct Writer {
    pos: ChainPos,
    /// The audit key (EC_P256 PKCS#8) and its fingerprint, once the instance gave it.
    key: Option<(crate::secret::SecretBytes, String)>,
}

/// Events taken from the queue to be written.
struct Batch {
    buf: Vec<u8>,
    callers: Vec<Arc<Caller>>,
    count: usize,
}

/// Most events kept waiting after a failed write before calls are refused.
const MAX_QUEUE: usize = 100_000;
/// Events waiting after which the caller writes them itself (else the flusher does).
const INLINE_AT: usize = 65_536;

impl Trail {
    pub(crate) fn new(
        sink: Arc<dyn AuditSink>,
        opts: AuditOptions,
        now_ms: u64,
        env: crate::env::Env,
    ) -> Result<Trail> {
        let pos = ChainPos::after(sink.last_line()?.as_deref(), now_ms)?;
        Ok(Trail {
            sink,
            opts,
            env,
            queue: spin::Mutex::new(Queue {
                buf: Vec::with_capacity(1 << 16),
                callers: Vec::with_capacity(1024),
                count: 0,
                spare: Vec::with_capacity(1 << 16),
                oldest_ms: 0,
                failed: None,
            }),
            writer: spin::Mutex::new(Writer { pos, key: None }),
            has_key: core::sync::atomic::AtomicBool::new(false),
            last_sync_ms: core::sync::atomic::AtomicU64::new(0),
            unsynced: core::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Gives the trail the audit key that signs its digests.
    pub(crate) fn set_key(&self, pkcs8: crate::secret::SecretBytes) -> Result<()> {
        let spki = crate::asym::KeyCache::default()
            .public_key(crate::vocab::KeySpec::EcP256, pkcs8.expose())?;
        self.writer.lock().key = Some((pkcs8, key_fingerprint(&spki)));
        self.has_key
            .store(true, core::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Whether the trail still needs its key.
    pub(crate) fn needs_key(&self) -> bool {
        !self.has_key.load(core::sync::atomic::Ordering::Acquire)
    }

    /// Refuses new audited calls while earlier events cannot be written.
    pub(crate) fn check(&self) -> Result<()> {
        let q = self.queue.lock();
        match &q.failed {
            Some(m) if q.count >= MAX_QUEUE => Err(Error::AuditFailed(m.clone())),
            _ => Ok(()),
        }
    }

    /// Queues one event. A durable one (or any in strict mode) is written and synced
    /// now, with everything before it; otherwise the flusher writes it within the
    /// window (where there is no flusher thread, the next call past the window does).
    pub(crate) fn record(&self, e: PendingEvent, durable: bool, now_ms: u64) -> Result<()> {
        let (len, waited) = {
            let mut q = self.queue.lock();
            if q.count == 0 {
                q.oldest_ms = now_ms;
            }
            e.encode(&mut q.buf);
            q.callers.push(e.caller.clone());
            q.count += 1;
            (q.count, now_ms.saturating_sub(q.oldest_ms))
        };
        drop(e);
        let overdue = waited >= self.opts.window_ms;
        let threaded = cfg!(all(feature = "std", not(target_arch = "wasm32")));
        // Twice the window without the writer thread having written (a forked child has
        // no such thread): the caller writes.
        let stalled = waited >= self.opts.window_ms.saturating_mul(2);
        if durable || self.opts.strict || len >= INLINE_AT || (overdue && !threaded) || stalled {
            self.write(durable || self.opts.strict || overdue, None, now_ms)
        } else {
            Ok(())
        }
    }

    /// Writes every waiting event (and syncs when `sync`).
    pub(crate) fn flush(&self, sync: bool, now_ms: u64) -> Result<()> {
        self.write(sync, None, now_ms)
    }

    /// The flusher thread's turn: writes and syncs every waiting event, and a digest
    /// when one is due. Returns how many events were waiting (the thread looks again
    /// sooner while there are some).
    ///
    /// How often the thread turns is `spawn_flusher`'s choice (service/audit.rs: every
    /// 5 ms at a server's rates, so that one turn never pauses the request threads for
    /// long; every 20 ms at in-process rates); each turn writes what waits.
    ///
    /// It syncs at most every [`Trail::sync_every_ms`] (20 ms with the default window),
    /// so 5 ms turns do not mean four times the fsyncs; what is written but not yet
    /// synced survives the process, only not the machine, and is synced by a later
    /// turn even when no further event comes.
    #[cfg(all(feature = "std", not(target_arch = "wasm32")))]
    pub(crate) fn flush_waiting(&self, now_ms: u64) -> Result<usize> {
        let len = self.queue.lock().count;
        let last = self
            .last_sync_ms
            .load(core::sync::atomic::Ordering::Relaxed);
        let sync = now_ms.saturating_sub(last) >= self.sync_every_ms();
        if len == 0 && !self.digest_due(now_ms) {
            // What an earlier turn wrote without syncing is synced once its time comes.
            if sync && self.unsynced.load(core::sync::atomic::Ordering::Relaxed) {
                let _w = self.writer.lock();
                self.sink.sync()?;
                self.synced(now_ms);
            }
            return Ok(0);
        }
        self.write(sync, None, now_ms).map(|()| len)
    }

    /// How often the flusher syncs what it wrote: a quarter of the window, 5 to 20 ms.
    #[cfg(all(feature = "std", not(target_arch = "wasm32")))]
    #[must_use]
    pub(crate) fn sync_every_ms(&self) -> u64 {
        (self.opts.window_ms / 4).clamp(5, 20)
    }

    fn synced(&self, now_ms: u64) {
        self.last_sync_ms
            .store(now_ms, core::sync::atomic::Ordering::Relaxed);
        self.unsynced
            .store(false, core::sync::atomic::Ordering::Relaxed);
    }

    /// Writes what waits and a digest (`final` when the writer stops): nothing to sign
    /// (no record since the last digest, and a final one is not wanted or is already
    /// there) writes no digest.
    pub(crate) fn digest(&self, is_final: bool, now_ms: u64) -> Result<()> {
        self.write(true, Some(is_final), now_ms)
    }

    /// How many events wait to be written.
    pub(crate) fn backlog(&self) -> u64 {
        self.queue.lock().count as u64
    }

    #[cfg(all(feature = "std", not(target_arch = "wasm32")))]
    fn digest_due(&self, now_ms: u64) -> bool {
        let w = self.writer.lock();
        let waiting = self.queue.lock().count as u64;
        Self::digest_due_at(&w, waiting, self.opts, now_ms)
    }

    fn digest_due_at(w: &Writer, waiting: u64, opts: AuditOptions, now_ms: u64) -> bool {
        let pending = w.pos.since_digest + waiting;
        pending > 0
            && (pending >= opts.digest_every
                || now_ms.saturating_sub(w.pos.last_digest_ms) >= opts.digest_interval_ms)
    }

    /// Whether a digest is due but cannot be written for want of the key. Asked by
    /// every audited call until the key is there, so it does not wait for the writer:
    /// while a batch is being written (the writer's lock held, a sync included) the
    /// answer is "not yet" and a later call asks again. Waiting here made every call
    /// spin behind the flusher (`strongroom-bench --access-only`: 3x an Encrypt).
    pub(crate) fn digest_blocked(&self, now_ms: u64) -> bool {
        if !self.needs_key() {
            return false;
        }
        let Some(w) = self.writer.try_lock() else {
            return false;
        };
        let waiting = self.queue.lock().count as u64;
        Self::digest_due_at(&w, waiting, self.opts, now_ms)
    }

    /// Writes the waiting events, then — when one is due (or `digest` asks) and the key
    /// is there — a signed digest, in one append; syncs when `sync` (or a digest went).
    fn write(&self, sync: bool, digest: Option<bool>, now_ms: u64) -> Result<()> {
        let mut w = self.writer.lock();
        let batch = {
            let mut q = self.queue.lock();
            let spare = core::mem::take(&mut q.spare);
            Batch {
                buf: core::mem::replace(&mut q.buf, spare),
                callers: core::mem::take(&mut q.callers),
                count: core::mem::take(&mut q.count),
            }
        };
        // Ids for the batch's events: one random draw, then a counter mixed into it
        // (unique within the batch; batches draw afresh).
        let seed: [u8; 16] = self.env.random().unwrap_or_else(|_| {
            let mut s = [0u8; 16];
            for (x, y) in s.iter_mut().zip(now_ms.to_be_bytes()) {
                *x = y;
            }
            s
        });
        let counter = core::cell::Cell::new(0u64);
        let ids = || {
            let mut b = seed;
            let n = counter.get();
            counter.set(n + 1);
            for (x, y) in b.iter_mut().skip(8).zip(n.to_be_bytes()) {
                *x ^= y;
            }
            crate::ids::uuid_v4_from(b)
        };
        let mut buf = String::new();
        let mut pos = w.pos.clone();
        let mut r = crate::codec::Reader::new(&batch.buf);
        for caller in &batch.callers {
            let Some(e) = PendingEvent::decode(&mut r, caller.clone()) else {
                return Err(Error::Internal("an audit event that does not decode"));
            };
            let line = e.to_json(pos.next_seq, &pos.prev_hash, &ids);
            pos.prev_hash = line_hash(&line);
            pos.next_seq += 1;
            pos.since_digest += 1;
            pos.closed = false;
            buf.push_str(&line);
            buf.push('\n');
        }
        let want = match digest {
            Some(is_final) => (pos.since_digest > 0
                || (is_final && !pos.closed && pos.next_seq > 0))
                .then_some(is_final),
            None => (pos.since_digest > 0
                && (pos.since_digest >= self.opts.digest_every
                    || now_ms.saturating_sub(pos.last_digest_ms) >= self.opts.digest_interval_ms))
                .then_some(false),
        };
        let mut signed = false;
        if let (Some(is_final), Some((key, fp))) = (want, &w.key) {
            let msg = digest_message(pos.next_seq, &pos.prev_hash, is_final);
            let sig = crate::asym::KeyCache::default().sign(
                crate::vocab::KeySpec::EcP256,
                key.expose(),
                crate::asym::SigningAlgorithm::EcdsaSha256,
                &crate::vocab::sha256(msg.as_bytes()),
            );
            match sig {
                Ok(sig) => {
                    let line =
                        digest_line(pos.next_seq, &pos.prev_hash, is_final, now_ms, fp, &sig);
                    pos.prev_hash = line_hash(&line);
                    pos.next_seq += 1;
                    pos.since_digest = 0;
                    pos.last_digest_ms = now_ms;
                    pos.closed = is_final;
                    buf.push_str(&line);
                    buf.push('\n');
                    signed = true;
                }
                Err(e) => {
                    self.requeue(
                        batch,
                        alloc::format!("the audit digest cannot be signed: {e}"),
                    );
                    return Err(e);
                }
            }
        }
        if buf.is_empty() {
            self.recycle(batch);
            return if sync {
                self.sink.sync().map(|()| self.synced(now_ms))
            } else {
                Ok(())
            };
        }
        let res = self.sink.append(buf.as_bytes()).and_then(|()| {
            self.unsynced
                .store(true, core::sync::atomic::Ordering::Relaxed);
            if sync || signed {
                self.sink.sync().map(|()| self.synced(now_ms))
            } else {
                Ok(())
            }
        });
        match res {
            Ok(()) => {
                w.pos = pos;
                self.queue.lock().failed = None;
                self.recycle(batch);
                Ok(())
            }
            Err(e) => {
                let m = alloc::format!("the audit trail cannot be written: {e}");
                self.requeue(batch, m.clone());
                Err(Error::AuditFailed(m))
            }
        }
    }

    /// Puts a batch that could not be written back in front of what came since.
    fn requeue(&self, mut batch: Batch, why: String) {
        let mut q = self.queue.lock();
        batch.buf.extend_from_slice(&q.buf);
        batch.callers.append(&mut q.callers);
        q.buf = batch.buf;
        q.callers = batch.callers;
        q.count += batch.count;
        q.failed = Some(why);
    }

    /// Keeps a written batch's buffer for the next one.
    fn recycle(&self, mut batch: Batch) {
        batch.buf.clear();
        let mut q = self.queue.lock();
        if q.spare.capacity() < batch.buf.capacity() {
            q.spare = batch.buf;
        }
        if q.callers.capacity() < batch.callers.capacity() && q.callers.is_empty() {
            batch.callers.clear();
            q.callers = batch.callers;
        }
    }

    /// Rotates the sink (`rotate` renames its file and starts a fresh one) with nothing
    /// written in between, then starts the fresh file with a `Continuation` record that
    /// links it to the last record of the old one.
    pub(crate) fn rotate(&self, rotate: &mut dyn FnMut() -> Result<()>, now_ms: u64) -> Result<()> {
        self.write(true, Some(true), now_ms)?;
        let mut w = self.writer.lock();
        // Events that arrived since go to the new file, after the continuation.
        rotate()?;
        let line = json!({
            "recordType": "Continuation",
            "seq": w.pos.next_seq,
            "prevHash": w.pos.prev_hash,
            "time": crate::time::iso8601_ms(now_ms),
        })
        .to_string();
        let mut buf = line.clone();
        buf.push('\n');
        self.sink
            .append(buf.as_bytes())
            .and_then(|()| self.sink.sync())
            .map_err(|e| {
                Error::AuditFailed(alloc::format!("the rotated trail cannot be started: {e}"))
            })?;
        w.pos.prev_hash = line_hash(&line);
        w.pos.next_seq += 1;
        w.pos.since_digest += 1;
        w.pos.closed = false;
        Ok(())
    }
}

/// The audit key's fingerprint in digest records: hex SHA-256 of its
/// SubjectPublicKeyInfo DER.
#[must_use]
pub fn key_fingerprint(spki_der: &[u8]) -> String {
    hex(&crate::vocab::sha256(spki_der))
}

/// The bytes a digest's signature covers (their SHA-256 is what is signed).
#[must_use]
pub fn digest_message(seq: u64, prev_hash: &str, is_final: bool) -> String {
    alloc::format!("{DIGEST_DOMAIN}\n{seq}\n{prev_hash}\n{is_final}")
}

/// A digest record's line.
pub(crate) fn digest_line(
    seq: u64,
    prev_hash: &str,
    is_final: bool,
    time_ms: u64,
    key_fingerprint: &str,
    signature: &[u8],
) -> String {
    use base64ct::{Base64, Encoding};
    json!({
        "recordType": "Digest",
        "seq": seq,
        "prevHash": prev_hash,
        "digestTime": crate::time::iso8601_ms(time_ms),
        "final": is_final,
        "keyFingerprint": key_fingerprint,
        "signatureAlgorithm": "ECDSA_SHA_256",
        "signature": Base64::encode_string(signature),
    })
    .to_string()
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Event records.
    pub events: u64,
    /// Digest records, each with a good signature.
    pub digests: u64,
    /// The first record's seq (0 unless the file continues a rotated trail).
    pub first_seq: Option<u64>,
    /// Its prevHash (GENESIS unless rotated).
    pub first_prev_hash: Option<String>,
    /// The last record's hash (what a following file's first prevHash must be).
    pub last_hash: Option<String>,
    /// Event records after the last digest: not yet covered by a signature.
    pub unsigned_tail: u64,
    /// Whether the trail ends with a final digest (written when its writer closed).
    pub closed: bool,
    /// Every problem, with its line number (from 1); empty when the trail is intact.
    pub problems: Vec<String>,
}

impl AuditReport {
    /// Intact: every link and every signature checks.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a trail: each record's seq follows the previous one, its prevHash is the
/// previous line's hash, and each digest's signature verifies under `public_key`
/// (SubjectPublicKeyInfo, PEM or DER, of the audit key). `after` is the hash the
/// first record must follow (the previous file's last hash; None: accept the first
/// record's own prevHash, reported in [`AuditReport::first_prev_hash`]).
///
/// # Errors
/// `InvalidParameter.PublicKey` for a key that does not parse.
pub fn verify(text: &str, public_key: &[u8], after: Option<&str>) -> Result<AuditReport> {
    use base64ct::{Base64, Encoding};
    let spki = crate::asym::spki_der(public_key)?;
    let fingerprint = key_fingerprint(&spki);
    let mut r = AuditReport::default();
    let mut prev: Option<(u64, String)> = None;
    for (n, line) in text.split('\n').enumerate() {
        let ln = n + 1;
        if line.is_empty() {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            r.problems
                .push(alloc::format!("line {ln}: not a JSON record"));
            prev = None;
            continue;
        };
        let seq = v.get("seq").and_then(Value::as_u64);
        let ph = v.get("prevHash").and_then(Value::as_str).unwrap_or("");
        let Some(seq) = seq else {
            r.problems.push(alloc::format!("line {ln}: no seq"));
            continue;
        };
        match &prev {
            None if r.first_seq.is_none() => {
                r.first_seq = Some(seq);
                r.first_prev_hash = Some(String::from(ph));
                let want = after.unwrap_or(if seq == 0 { GENESIS } else { ph });
                if ph != want {
                    r.problems.push(alloc::format!(
                        "line {ln}: the first record does not follow the given hash"
                    ));
                }
            }
            None => {}
            Some((ps, phash)) => {
                if seq != ps + 1 {
                    r.problems.push(alloc::format!(
                        "line {ln}: seq {seq} follows seq {ps} (a record was removed, inserted or moved)"
                    ));
                }
                if ph != phash {
                    r.problems.push(alloc::format!(
                        "line {ln}: prevHash does not match line {} (a record was edited, removed, inserted or moved)",
                        ln - 1
                    ));
                }
            }
        }
        match v.get("recordType").and_then(Value::as_str) {
            Some("Event") => {
                r.events += 1;
                r.unsigned_tail += 1;
                r.closed = false;
            }
            // The first record of a rotated file: it links to the previous file.
            Some("Continuation") => r.closed = false,
            Some("Digest") => {
                let is_final = v.get("final").and_then(Value::as_bool).unwrap_or(false);
                let sig = v
                    .get("signature")
                    .and_then(Value::as_str)
                    .and_then(|s| Base64::decode_vec(s).ok());
                let msg = digest_message(seq, ph, is_final);
                let good = sig.is_some_and(|s| {
                    crate::asym::verify(
                        crate::vocab::KeySpec::EcP256,
                        &spki,
                        crate::asym::SigningAlgorithm::EcdsaSha256,
                        &crate::vocab::sha256(msg.as_bytes()),
                        &s,
                    )
                    .unwrap_or(false)
                });
                if good {
                    r.digests += 1;
                    r.unsigned_tail = 0;
                    r.closed = is_final;
                } else if v.get("keyFingerprint").and_then(Value::as_str)
                    != Some(fingerprint.as_str())
                {
                    r.problems.push(alloc::format!(
                        "line {ln}: the digest was signed by another audit key than this public key"
                    ));
                } else {
                    r.problems.push(alloc::format!(
                        "line {ln}: the digest's signature does not verify under this public key"
                    ));
                }
            }
            _ => r
                .problems
                .push(alloc::format!("line {ln}: unknown recordType")),
        }
        let h = line_hash(line);
        r.last_hash = Some(h.clone());
        prev = Some((seq, h));
    }
    Ok(r)
}

/// Filters for [`lookup`] (LookupEvents-style).
#[derive(Debug, Clone, Default)]
pub struct LookupFilter {
    /// eventName equals.
    pub event_name: Option<String>,
    /// A resource ARN, KeyId or SecretName contained in resourceName.
    pub resource_name: Option<String>,
    /// userIdentity.arn or principalId or userName equals.
    pub principal: Option<String>,
    /// eventTime ≥ (ISO 8601).
    pub start_time: Option<String>,
    /// eventTime < (ISO 8601).
    pub end_time: Option<String>,
    /// Only events with an errorCode.
    pub errors_only: bool,
}

/// The events of `text` that pass `f`, as their lines.
#[must_use]
pub fn lookup<'a>(text: &'a str, f: &LookupFilter) -> Vec<&'a str> {
    let start = f
        .start_time
        .as_deref()
        .and_then(crate::access::policy::parse_date);
    let end = f
        .end_time
        .as_deref()
        .and_then(crate::access::policy::parse_date);
    text.lines()
        .filter(|line| {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                return false;
            };
            if v.get("recordType").and_then(Value::as_str) != Some("Event") {
                return false;
            }
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
            if f.event_name.as_deref().is_some_and(|n| n != s("eventName")) {
                return false;
            }
            if f.resource_name
                .as_deref()
                .is_some_and(|n| !s("resourceName").contains(n))
            {
                return false;
            }
            if let Some(p) = f.principal.as_deref() {
                let id = v.get("userIdentity");
                let g = |k: &str| {
                    id.and_then(|i| i.get(k))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                };
                if p != g("arn") && p != g("principalId") && p != g("userName") {
                    return false;
                }
            }
            let t = crate::access::policy::parse_date(s("eventTime"));
            if start.is_some_and(|st| t.is_none_or(|t| t < st)) {
                return false;
            }
            if end.is_some_and(|en| t.is_none_or(|t| t >= en)) {
                return false;
            }
            if f.errors_only && v.get("errorCode").is_none() {
                return false;
            }
            true
        })
        .collect()
}

#[cfg(all(test, feature = "std"))]
mod flusher_tests {
    use super::*;

    fn trail() -> Trail {
        Trail::new(
            Arc::new(MemoryAuditSink::new()),
            AuditOptions::default(),
            0,
            crate::env::Env::system(),
        )
        .expect("a trail on memory")
    }

    /// Counts appends and syncs.
    #[derive(Default)]
    struct Counting {
        appends: core::sync::atomic::AtomicUsize,
        syncs: core::sync::atomic::AtomicUsize,
    }

    impl AuditSink for Counting {
        fn append(&self, _lines: &[u8]) -> Result<()> {
            self.appends
                .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        fn sync(&self) -> Result<()> {
            self.syncs
                .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            Ok(())
        }
        fn last_line(&self) -> Result<Option<String>> {
            Ok(None)
        }
    }

    fn event(t: u64) -> PendingEvent {
        PendingEvent {
            time_ms: t,
            request_id: Some("r".into()),
            caller: Arc::new(crate::api::Caller::owner()),
            account_id: None,
            action: Action::Encrypt,
            resources: Vec::new(),
            params: Vec::new(),
            error: None,
        }
    }

    /// The flusher writes every turn while events come, syncs at most every
    /// `sync_every_ms`, and syncs what it wrote unsynced once the calls stop.
    #[test]
    fn the_flusher_writes_each_turn_and_syncs_what_it_wrote_later() {
        let sink = Arc::new(Counting::default());
        let t = Trail::new(
            Arc::clone(&sink) as Arc<dyn AuditSink>,
            AuditOptions::default(),
            0,
            crate::env::Env::system(),
        )
        .expect("trail");
        let every = t.sync_every_ms();
        let counts = || {
            (
                sink.appends.load(core::sync::atomic::Ordering::Relaxed),
                sink.syncs.load(core::sync::atomic::Ordering::Relaxed),
            )
        };
        let now = 1_000; // well within the digest interval of the trail made at 0
        t.record(event(now), false, now).expect("record");
        assert_eq!(t.flush_waiting(now).expect("turn"), 1);
        assert_eq!(counts(), (1, 1), "the first turn writes and syncs");
        t.record(event(now + 5), false, now + 5).expect("record");
        assert_eq!(t.flush_waiting(now + 5).expect("turn"), 1);
        assert_eq!(
            counts(),
            (2, 1),
            "a turn within the sync interval writes only"
        );
        assert_eq!(t.flush_waiting(now + 6).expect("turn"), 0);
        assert_eq!(
            counts(),
            (2, 1),
            "nothing waits and the interval has not passed"
        );
        assert_eq!(t.flush_waiting(now + every).expect("turn"), 0);
        assert_eq!(
            counts(),
            (2, 2),
            "what was written unsynced is synced when it is time"
        );
        assert_eq!(t.flush_waiting(now + 3 * every).expect("turn"), 0);
        assert_eq!(counts(), (2, 2), "and only once");
    }

    /// Every audited call asks `digest_blocked` until the trail has its key; it must not
    /// wait for a writer in the middle of a batch (it spun behind the flusher's sync).
    #[test]
    fn digest_blocked_does_not_wait_for_the_writer() {
        let t = Arc::new(trail());
        let held = t.writer.lock();
        let (tx, rx) = std::sync::mpsc::channel();
        let t2 = Arc::clone(&t);
        std::thread::spawn(move || {
            let _ = tx.send(t2.digest_blocked(u64::MAX / 2));
        });
        let answer = rx.recv_timeout(std::time::Duration::from_secs(5));
        drop(held);
        assert_eq!(
            answer,
            Ok(false),
            "digest_blocked waited for the writer's lock"
        );
        // With the writer free it answers from the counts: nothing written, nothing due.
        assert!(!t.digest_blocked(0));
    }
}
