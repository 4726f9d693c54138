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

    /// The operating system's CSPRNG and the system clock.
    #[cfg(all(feature = "getrandom", feature = "std"))]
    #[must_use]
    pub fn system() -> Self {
        Env::new(Arc::new(OsEntropy), Arc::new(crate::time::SystemClock))
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
