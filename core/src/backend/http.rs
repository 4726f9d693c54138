//! The HTTP seam: what a runtime's HTTP client must do for the parts of the core that
//! speak HTTP (a connected `Kms`, the transit backend). No HTTP code lives in the core.

use alloc::string::String;
use alloc::vec::Vec;

use super::{BoxFuture, MaybeSendSync};
use crate::error::Result;

/// One HTTP request: a connected Kms's signed POST to its gateway, or a transit
/// backend's call to OpenBao / Vault.
pub struct HttpRequest {
    /// `POST`, `GET` or `DELETE`.
    pub method: &'static str,
    /// The whole URL.
    pub url: String,
    /// Headers to send (lower-case names), besides `host`, which the client sets
    /// from the URL (and `content-length`).
    pub headers: Vec<(String, String)>,
    /// The body (empty for GET and DELETE).
    pub body: Vec<u8>,
}

impl core::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The body carries plaintext, data keys or secret values.
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The answer.
#[derive(Debug, Default)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// How long the server asked the client to wait before it tries again, when it
    /// said (a throttled or overloaded gateway): [`retry_after_ms`] reads it from the
    /// headers.
    pub retry_after_ms: Option<u64>,
}

/// The wait a server asks for, in ms: `x-acs-retry-after` (ms, as the strongroom
/// gateway sends it) or else `Retry-After` in whole seconds (an HTTP date is not
/// read). At most 60 s.
#[must_use]
pub fn retry_after_ms(x_acs_retry_after: Option<&str>, retry_after: Option<&str>) -> Option<u64> {
    let ms = x_acs_retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or_else(|| {
            retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| s.saturating_mul(1000))
        })?;
    Some(ms.min(60_000))
}

/// Sends one request and returns the answer, whatever its status: the runtime's HTTP
/// client (`fetch` in JS, a native client elsewhere).
pub trait HttpClient: MaybeSendSync {
    /// Sends `request`.
    ///
    /// # Errors
    /// `Rejected.BackendUnavailable` when the server cannot be reached (refused,
    /// timed out, a TLS failure, a browser's CORS refusal).
    fn send<'a>(&'a self, request: HttpRequest) -> BoxFuture<'a, Result<HttpResponse>>;

    /// Waits `ms` milliseconds: how a connected Kms backs off before resending a
    /// request the gateway refused for load (`Throttling.*`, `ServiceUnavailable`).
    /// `None` (the default) says this client cannot wait: such answers are then
    /// returned as they are.
    fn sleep(&self, ms: u64) -> Option<BoxFuture<'_, ()>> {
        let _ = ms;
        None
    }
}
