//! Replay and rate guards: a bounded memory of signature nonces over the accepted
//! timestamp window, and a token bucket per AccessKeyId.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use crate::fault::Fault;

/// Nonces are grouped by the minute of their signed timestamp.
const BUCKET_S: i64 = 60;

/// Remembers every (AccessKeyId, nonce) seen with a timestamp inside the window.
///
/// Memory is bounded by `capacity` nonces. When it is full, the oldest minute is
/// forgotten and from then on requests signed in or before that minute are refused as
/// expired: a nonce is never forgotten while a request carrying it could still be
/// accepted, so a replay is always caught.
#[derive(Debug)]
pub struct NonceWindow {
    skew_s: i64,
    capacity: usize,
    hasher: RandomState,
    inner: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_minute: BTreeMap<i64, HashSet<u64>>,
    len: usize,
    /// Requests signed before this second are refused (their nonces were forgotten).
    floor: i64,
}

impl NonceWindow {
    /// A window accepting timestamps within `skew_s` seconds of now, remembering at
    /// most `capacity` nonces.
    #[must_use]
    pub fn new(skew_s: i64, capacity: usize) -> NonceWindow {
        NonceWindow {
            skew_s,
            capacity: capacity.max(1),
            hasher: RandomState::new(),
            inner: Mutex::new(Buckets::default()),
        }
    }

    /// Checks the timestamp only (before the signature is verified).
    ///
    /// # Errors
    /// `InvalidTimeStamp.Expired` when `ts` is more than the skew away from `now`.
    pub fn check_time(&self, ts: i64, now: i64) -> Result<(), Fault> {
        if (ts - now).abs() > self.skew_s {
            return Err(Fault::new(
                "InvalidTimeStamp.Expired",
                format!(
                    "the request was signed {}s from the server's time; at most {}s are accepted",
                    ts - now,
                    self.skew_s
                ),
            ));
        }
        Ok(())
    }

    /// Records the nonce of a request whose signature was verified.
    ///
    /// # Errors
    /// `SignatureNonceUsed` for a nonce seen before; `InvalidTimeStamp.Expired` when the
    /// memory had to forget the minute the request was signed in.
    pub fn record(&self, access_key_id: &str, nonce: &str, ts: i64, now: i64) -> Result<(), Fault> {
        self.check_time(ts, now)?;
        let h = self.hasher.hash_one((access_key_id, nonce));
        let mut b = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget minutes no accepted timestamp can fall in any more.
        let oldest_live = (now - self.skew_s).div_euclid(BUCKET_S);
        while let Some((&m, _)) = b.by_minute.first_key_value() {
            if m >= oldest_live {
                break;
            }
            if let Some(set) = b.by_minute.remove(&m) {
                b.len -= set.len();
            }
        }
        if ts < b.floor {
            return Err(Fault::new(
                "InvalidTimeStamp.Expired",
                "the server is under a replay-memory limit: sign with the current time",
            ));
        }
        let minute = ts.div_euclid(BUCKET_S);
        if b.by_minute.get(&minute).is_some_and(|s| s.contains(&h)) {
            return Err(Fault::new(
                "SignatureNonceUsed",
                "the SignatureNonce was used before: each request needs a fresh one",
            ));
        }
        while b.len >= self.capacity {
            let Some((&m, _)) = b.by_minute.first_key_value() else {
                break;
            };
            if let Some(set) = b.by_minute.remove(&m) {
                b.len -= set.len();
            }
            b.floor = b.floor.max((m + 1) * BUCKET_S);
            if minute <= m {
                return Err(Fault::new(
                    "InvalidTimeStamp.Expired",
                    "the server is under a replay-memory limit: sign with the current time",
                ));
            }
        }
        b.by_minute.entry(minute).or_default().insert(h);
        b.len += 1;
        Ok(())
    }

    /// How many nonces are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A token bucket per AccessKeyId: `rate` requests a second, bursts of `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    keys: Mutex<HashMap<String, (f64, f64)>>,
}

impl RateLimiter {
    /// `rate` per second per key, bursts up to `burst`.
    #[must_use]
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate,
            burst: burst.max(1.0),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key` at `now_s` (seconds, fractional).
    ///
    /// # Errors
    /// `Throttling.User` with the wait until a token is there.
    pub fn take(&self, key: &str, now_s: f64) -> Result<(), Fault> {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.len() > 100_000 {
            // Forget full buckets: they are the same as new ones.
            let (rate, burst) = (self.rate, self.burst);
            keys.retain(|_, (tokens, at)| *tokens + (now_s - *at) * rate < burst);
        }
        let (tokens, at) = keys.entry(key.to_string()).or_insert((self.burst, now_s));
        *tokens = (*tokens + (now_s - *at).max(0.0) * self.rate).min(self.burst);
        *at = now_s;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait_ms = ((1.0 - *tokens) / self.rate * 1000.0).ceil().max(1.0);
        let mut f = Fault::new(
            "Throttling.User",
            format!(
                "Request was denied due to user flow control: at most {} requests a second for this AccessKey",
                self.rate
            ),
        );
        // A float of at most a few thousand ms: the cast cannot truncate meaningfully.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        {
            f.retry_after_ms = Some(wait_ms as u64);
        }
        Err(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_are_refused() {
        let w = NonceWindow::new(900, 1000);
        assert_eq!(w.record("ak", "n1", 1000, 1000), Ok(()));
        assert_eq!(
            w.record("ak", "n1", 1000, 1001).map_err(|f| f.code),
            Err("SignatureNonceUsed")
        );
        assert_eq!(w.record("ak2", "n1", 1000, 1001), Ok(()));
        assert_eq!(
            w.record("ak", "n2", 1000 - 901, 1000).map_err(|f| f.code),
            Err("InvalidTimeStamp.Expired")
        );
    }

    #[test]
    fn a_full_memory_refuses_what_it_forgot_and_never_accepts_a_replay() {
        let w = NonceWindow::new(900, 10);
        for i in 0..10 {
            assert_eq!(w.record("ak", &format!("old{i}"), 1000, 1000), Ok(()));
        }
        // Full: the minute of ts 1000 is forgotten to make room for a newer one.
        assert_eq!(w.record("ak", "new", 1200, 1200), Ok(()));
        assert!(w.len() <= 10);
        // A replay of a forgotten nonce is refused as expired, not accepted.
        assert_eq!(
            w.record("ak", "old3", 1000, 1200).map_err(|f| f.code),
            Err("InvalidTimeStamp.Expired")
        );
        // Minutes that can no longer be accepted are dropped as time goes on.
        assert_eq!(w.record("ak", "later", 3000, 3000), Ok(()));
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn buckets_refill() {
        let r = RateLimiter::new(2.0, 2.0);
        assert!(r.take("k", 0.0).is_ok());
        assert!(r.take("k", 0.0).is_ok());
        let f = r.take("k", 0.0).err();
        assert_eq!(f.as_ref().map(|f| f.code), Some("Throttling.User"));
        assert_eq!(f.and_then(|f| f.retry_after_ms), Some(500));
        assert!(r.take("other", 0.0).is_ok());
        assert!(r.take("k", 0.5).is_ok());
    }
}
