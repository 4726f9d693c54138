//! The environment the caller builds: a CSPRNG and a clock. No ambient authority.

use alloc::sync::Arc;

use crate::backend::MaybeSendSync;
#[cfg(feature = "getrandom")]
use crate::error::Error;
use crate::error::Result;

/// A cryptographically secure random source.
///
/// The bindings plug the operating system's generator ([`OsEntropy`] with the
/// `getrandom` feature); tests may plug a deterministic one.
pub trait Entropy: MaybeSendSync {
    /// Fills `buf` with random bytes.
    ///
    /// # Errors
    /// [`crate::Error::EntropyUnavailable`] when the source cannot deliver.
    fn fill(&self, buf: &mut [u8]) -> Result<()>;
}

/// A wall clock, in milliseconds since the Unix epoch (UTC).
pub trait Clock: MaybeSendSync {
    /// The current time.
    fn now_millis(&self) -> u64;
}

/// The injected environment: where randomness and time come from.
#[derive(Clone)]
pub struct Env {
    pub(crate) entropy: Arc<dyn Entropy>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Env {
    /// Builds an environment from a random source and a clock.
    pub fn new(entropy: Arc<dyn Entropy>, clock: Arc<dyn Clock>) -> Self {
        Env { entropy, clock }
    }

    /// The operating system's CSPRNG (through [`PooledOsEntropy`]) and the system
    /// clock.
    #[cfg(all(feature = "getrandom", feature = "std"))]
    #[must_use]
    pub fn system() -> Self {
        Env::new(
            Arc::new(PooledOsEntropy::default()),
            Arc::new(crate::time::SystemClock),
        )
    }

    /// Random bytes into `buf`.
    pub(crate) fn fill(&self, buf: &mut [u8]) -> Result<()> {
        self.entropy.fill(buf)
    }

    /// A fresh random array.
    pub(crate) fn random<const N: usize>(&self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        self.entropy.fill(&mut out)?;
        Ok(out)
    }

    /// Milliseconds since the epoch.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now_millis()
    }
}

impl core::fmt::Debug for Env {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Env { .. }")
    }
}

/// The operating system's CSPRNG through `getrandom` (on wasm32 the leaf crate turns
/// on getrandom's `wasm_js` backend, i.e. `crypto.getRandomValues`).
#[cfg(feature = "getrandom")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEntropy;

#[cfg(feature = "getrandom")]
impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<()> {
        getrandom::fill(buf).map_err(|_| Error::EntropyUnavailable)
    }
}

/// Bytes drawn from the OS at a time by [`PooledOsEntropy`].
#[cfg(feature = "getrandom")]
const POOL: usize = 4096;

/// The operating system's CSPRNG, drawn `POOL` bytes at a time: an envelope message
/// needs three small draws (data key, message id, wrapping nonce), and a `getrandom`
/// call each was a sixth of a small message's cost from Python (in wasm, where each is
/// a call into JS, more). Bytes are handed out once and wiped from the pool as they
/// go; draws over a quarter of the pool go to the OS directly.
///
/// Fork-safe (with `std`, off wasm32): the pool remembers the process id it was filled
/// in, and a forked child (another id) throws the inherited bytes away before drawing,
/// so parent and child never hand out the same bytes. Never blocks: when another thread
/// holds the pool (or a fork happened while one did), the draw goes to the OS directly.
#[cfg(feature = "getrandom")]
pub struct PooledOsEntropy {
    pool: spin::Mutex<Pool>,
}

#[cfg(feature = "getrandom")]
struct Pool {
    bytes: zeroize::Zeroizing<[u8; POOL]>,
    used: usize,
    #[cfg(all(feature = "std", not(target_arch = "wasm32")))]
    pid: u32,
}

#[cfg(feature = "getrandom")]
impl Default for PooledOsEntropy {
    fn default() -> Self {
        PooledOsEntropy {
            pool: spin::Mutex::new(Pool {
                bytes: zeroize::Zeroizing::new([0u8; POOL]),
                used: POOL,
                #[cfg(all(feature = "std", not(target_arch = "wasm32")))]
                pid: std::process::id(),
            }),
        }
    }
}

#[cfg(feature = "getrandom")]
impl core::fmt::Debug for PooledOsEntropy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PooledOsEntropy { .. }")
    }
}

#[cfg(feature = "getrandom")]
impl Entropy for PooledOsEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<()> {
        use zeroize::Zeroize;
        if buf.len() > POOL / 4 {
            return OsEntropy.fill(buf);
        }
        let Some(mut p) = self.pool.try_lock() else {
            return OsEntropy.fill(buf);
        };
        #[cfg(all(feature = "std", not(target_arch = "wasm32")))]
        {
            let pid = std::process::id();
            if p.pid != pid {
                p.bytes.zeroize();
                p.used = POOL;
                p.pid = pid;
            }
        }
        if POOL - p.used < buf.len() {
            OsEntropy.fill(p.bytes.as_mut_slice())?;
            p.used = 0;
        }
        let at = p.used;
        let taken = p
            .bytes
            .get_mut(at..at + buf.len())
            .ok_or(Error::EntropyUnavailable)?;
        buf.copy_from_slice(taken);
        taken.zeroize();
        p.used += buf.len();
        Ok(())
    }
}

#[cfg(all(test, feature = "getrandom", feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn pooled_entropy_hands_each_byte_out_once_and_wipes_it() {
        let e = PooledOsEntropy::default();
        let mut seen = std::collections::HashSet::new();
        // Over three pool refills of 32-byte draws: no draw repeats, and what was
        // handed out is zero in the pool.
        for _ in 0..(3 * POOL / 32) {
            let mut b = [0u8; 32];
            e.fill(&mut b).unwrap();
            assert!(seen.insert(b), "a draw repeated");
            let p = e.pool.lock();
            assert!(p.bytes[..p.used].iter().all(|&x| x == 0));
        }
        // Large draws bypass the pool; a draw while the pool is held goes to the OS.
        let mut big = [0u8; POOL / 2];
        e.fill(&mut big).unwrap();
        assert!(big.iter().any(|&x| x != 0));
        let held = e.pool.lock();
        let mut b = [0u8; 32];
        e.fill(&mut b).unwrap();
        assert!(seen.insert(b));
        drop(held);
    }

    #[test]
    fn pooled_entropy_refills_in_another_process() {
        let e = PooledOsEntropy::default();
        let mut b = [0u8; 32];
        e.fill(&mut b).unwrap();
        let next: [u8; 32] = e.pool.lock().bytes[32..64].try_into().unwrap();
        // As a forked child sees it: the pool was filled under another process id.
        e.pool.lock().pid ^= 1;
        e.fill(&mut b).unwrap();
        assert_ne!(b, next, "a child must not hand out the parent's next bytes");
        assert_eq!(e.pool.lock().pid, std::process::id());
    }
}
