//! The server: hyper on tokio, TLS by rustls.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming as Body;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde::Deserialize;
use strongroom::Kms;
use strongroom::api::{Action, Caller};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use base64::Engine as _;
use sha2::Digest as _;

use crate::fault::Fault;
use crate::guard::{NonceWindow, RateLimiter};
use crate::metrics::Metrics;
use crate::request;

/// The gateway's settings: `strongroom serve`'s flags, its environment variables
/// (`STRONGROOM_SERVE_*`) and its TOML configuration file all set these.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The store file (the CLI opens it; the library is handed a `Kms`).
    pub store: Option<PathBuf>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// A PEM certificate chain (with `tls_key`): serve HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a development certificate from a CA kept beside the store.
    pub dev_tls: bool,
    /// The largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers, ms (slow clients).
    pub header_timeout_ms: u64,
    /// How long a client may take to send a request's body, ms.
    pub body_timeout_ms: u64,
    /// How long an action may take before the answer is `ServiceUnavailable`, ms.
    pub request_timeout_ms: u64,
    /// Requests answered at once; more are refused at once with `ServiceUnavailable`.
    pub max_concurrency: usize,
    /// Open connections at once; more wait to be accepted.
    pub max_connections: usize,
    /// Requests a second per AccessKeyId (0: no limit); more get `Throttling.User`.
    pub rate_per_key: f64,
    /// The burst a key may spend at once (default: one second's worth).
    pub rate_burst: Option<f64>,
    /// How far a request's signed time may be from the server's, seconds.
    pub timestamp_skew_s: i64,
    /// How many signature nonces are remembered (bounds the replay memory).
    pub nonce_capacity: usize,
    /// Origins allowed to call from a browser (`*` for any); none by default.
    pub cors_origins: Vec<String>,
    /// On SIGTERM, how long requests in flight may take to finish, ms.
    pub drain_timeout_ms: u64,
    /// The `HostId` in error bodies.
    pub host_id: String,
    /// Serve `/metrics`.
    pub metrics: bool,
    /// A file holding the bearer token `/metrics` requires (`Authorization: Bearer
    /// <token>`); without it `/metrics` is open to whoever reaches the port.
    pub metrics_token_file: Option<PathBuf>,
    /// Proxies (CIDRs) whose `X-Forwarded-For` is believed: a request from one of them
    /// is taken to come from the right-most address in that header that is not itself
    /// a trusted proxy (what `acs:SourceIp` and the audit trail see). None by default.
    pub trusted_proxies: Vec<String>,
    /// A JSON file of remote-backend client keys (`[{"id": "wk-…", "secret":
    /// "<base64 of 32 bytes>"}]`): serve the store's key backend over the wire
    /// protocol (version 2, every request authenticated under one of them) at
    /// `POST /strongroom-backend`. Off without it.
    pub backend_clients_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls_cert: None,
            tls_key: None,
            dev_tls: false,
            max_body_bytes: 1 << 20,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            request_timeout_ms: 30_000,
            max_concurrency: 1024,
            max_connections: 10_000,
            rate_per_key: 0.0,
            rate_burst: None,
            timestamp_skew_s: 900,
            nonce_capacity: 4_000_000,
            cors_origins: Vec::new(),
            drain_timeout_ms: 30_000,
            host_id: "kms.strongroom.local".into(),
            metrics: true,
            metrics_token_file: None,
            trusted_proxies: Vec::new(),
            backend_clients_file: None,
        }
    }
}

impl Config {
    /// Reads a TOML configuration file.
    ///
    /// # Errors
    /// When the file cannot be read or is not valid (unknown keys are errors).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The shared state of a running gateway.
#[derive(Debug)]
pub struct Gateway {
    kms: Arc<Kms>,
    cfg: Config,
    nonces: NonceWindow,
    rate: Option<RateLimiter>,
    permits: Semaphore,
    metrics: Metrics,
    draining: AtomicBool,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The bearer token `/metrics` requires, if any.
    metrics_token: Option<String>,
    /// `trusted_proxies`, parsed.
    proxies: Vec<Cidr>,
    /// The remote-backend server (`backend_clients_file`), if any.
    wire: Option<Arc<strongroom::backend::remote::BackendServer>>,
}

/// An address range (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    net: std::net::IpAddr,
    len: u8,
}

impl Cidr {
    fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let net: std::net::IpAddr = addr
            .parse()
            .map_err(|_| format!("trusted proxy {s:?} is not an address or CIDR"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("trusted proxy {s:?} has a bad prefix length"))?,
            None => max,
        };
        Ok(Cidr { net, len })
    }

    fn contains(&self, ip: std::net::IpAddr) -> bool {
        let bits = |ip: std::net::IpAddr| -> Option<u128> {
            match (self.net, ip) {
                (std::net::IpAddr::V4(_), std::net::IpAddr::V4(a)) => {
                    Some(u128::from(u32::from(a)) << 96)
                }
                (std::net::IpAddr::V6(_), std::net::IpAddr::V6(a)) => Some(u128::from(a)),
                _ => None,
            }
        };
        let (Some(n), Some(a)) = (bits(self.net), bits(ip)) else {
            return false;
        };
        // Both sit in the top bits (IPv4 shifted up): keep the top `len` bits.
        let mask = if self.len == 0 {
            0
        } else {
            !0u128 << (128 - u32::from(self.len))
        };
        n & mask == a & mask
    }
}

type Answer = Response<Full<Bytes>>;

fn json_answer(status: u16, body: &serde_json::Value, request_id: &str) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(request_id) {
        h.insert("x-acs-request-id", v);
    }
    r
}

/// The request's headers as (lower-case name, value) pairs; a value that is not
/// visible ASCII is refused.
fn header_pairs(h: &hyper::HeaderMap) -> Result<Vec<(&str, &str)>, Fault> {
    let mut out = Vec::with_capacity(h.len());
    for (name, value) in h {
        let v = value.to_str().map_err(|_| {
            Fault::new(
                "InvalidParameter.Encoding",
                format!("the header {name} is not visible ASCII"),
            )
        })?;
        out.push((name.as_str(), v));
    }
    Ok(out)
}

/// The per-connection service (a macro: an `impl Service` return type would hide
/// that its futures are `Send`).
macro_rules! service {
    ($gw:expr, $peer:expr, $secure:expr) => {{
        let gw = $gw;
        hyper::service::service_fn(move |req: Request<Body>| {
            let gw = gw.clone();
            async move { Ok::<_, Infallible>(gw.handle(req, $peer, $secure).await) }
        })
    }};
}

/// A listening gateway, before it serves.
#[derive(Debug)]
pub struct Bound {
    gateway: Arc<Gateway>,
    listener: TcpListener,
}

impl Bound {
    /// Where it listens (with the port the system chose for `:0`).
    ///
    /// # Errors
    /// The socket's.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Runs VerifyStore now and then every `every`, in the background, as the store's
    /// owner: every secret value opened, every key version probed in its backend (a
    /// token that lost an object, a key service that cannot be reached). Each pass sets
    /// the `strongroom_verify_*` metrics and logs each problem at warn (KeyId /
    /// KeyVersionId or SecretName / VersionId, and the code; never a value). Passes run
    /// off the worker threads, one at a time. Call it inside the server's runtime.
    pub fn start_verifier(&self, every: Duration) {
        let gateway = self.gateway.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let kms = gateway.kms.clone();
                let pass =
                    tokio::task::spawn_blocking(move || pollster::block_on(kms.verify_store()));
                let now_s = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                match pass.await {
                    Ok(Ok(r)) => {
                        gateway.metrics.record_verify(&r, now_s);
                        for p in &r.key_problems {
                            tracing::warn!(key_id = %p.key_id, key_version_id = %p.key_version_id, code = p.code, error = %p.message, "verify: a key version did not answer its backend's probe");
                        }
                        for p in &r.problems {
                            tracing::warn!(secret_name = %p.secret_name, version_id = %p.version_id, code = p.code, error = %p.message, "verify: a secret value did not open");
                        }
                        tracing::info!(
                            key_versions = r.key_versions,
                            key_problems = r.key_problems.len(),
                            secret_versions = r.secret_versions,
                            value_problems = r.problems.len(),
                            "verify: pass done"
                        );
                    }
                    Ok(Err(e)) => {
                        gateway.metrics.record_verify_failure();
                        tracing::warn!(code = e.code(), error = %e, "verify: the pass failed");
                    }
                    Err(e) => {
                        gateway.metrics.record_verify_failure();
                        tracing::warn!(error = %e, "verify: the pass's task failed");
                    }
                }
            }
        });
    }
}

impl Gateway {
    /// Binds the listening socket.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(
        kms: Arc<Kms>,
        cfg: Config,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Bound> {
        let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
        let proxies = cfg
            .trusted_proxies
            .iter()
            .map(|p| Cidr::parse(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let metrics_token = match &cfg.metrics_token_file {
            Some(f) => {
                let t = std::fs::read_to_string(f)
                    .map_err(|e| {
                        bad(format!(
                            "cannot read metrics_token_file {}: {e}",
                            f.display()
                        ))
                    })?
                    .trim()
                    .to_string();
                if t.is_empty() {
                    return Err(bad(format!("metrics_token_file {} is empty", f.display())));
                }
                Some(t)
            }
            None => None,
        };
        let wire = match &cfg.backend_clients_file {
            Some(f) => {
                let keys = read_client_keys(f).map_err(bad)?;
                // Its handle key lives in this store (created on first use).
                let k = kms.clone();
                let server = tokio::task::spawn_blocking(move || {
                    pollster::block_on(strongroom::backend::remote::BackendServer::with_store(
                        k.backend(),
                        k,
                    ))
                })
                .await
                .map_err(|e| bad(format!("the backend server did not start: {e}")))?
                .map_err(|e| bad(format!("the backend server did not start: {e}")))?;
                for key in keys {
                    server
                        .add_client(key)
                        .map_err(|e| bad(format!("{}: {e}", f.display())))?;
                }
                Some(Arc::new(server))
            }
            None => None,
        };
        let listener = TcpListener::bind(cfg.listen).await?;
        let rate = (cfg.rate_per_key > 0.0).then(|| {
            RateLimiter::new(cfg.rate_per_key, cfg.rate_burst.unwrap_or(cfg.rate_per_key))
        });
        let gateway = Arc::new(Gateway {
            nonces: NonceWindow::new(cfg.timestamp_skew_s, cfg.nonce_capacity),
            rate,
            permits: Semaphore::new(cfg.max_concurrency.max(1)),
            metrics: Metrics::new(),
            draining: AtomicBool::new(false),
            kms,
            cfg,
            tls,
            metrics_token,
            proxies,
            wire,
        });
        Ok(Bound { gateway, listener })
    }
}

impl Bound {
    /// Serves until `shutdown` completes, then stops accepting, lets requests in
    /// flight finish (up to the drain timeout) and closes the store (which writes the
    /// audit trail's final digest and releases the store's lock).
    ///
    /// # Errors
    /// The store's, when closing it fails.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), strongroom::Error> {
        let Bound { gateway, listener } = self;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let conns = Arc::new(Semaphore::new(gateway.cfg.max_connections.max(1)));
        let acceptor = gateway.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                p = conns.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let gw = gateway.clone();
            let watcher = graceful.watcher();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let header_timeout = Duration::from_millis(gw.cfg.header_timeout_ms);
                let mut builder =
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout);
                builder
                    .http2()
                    .timer(TokioTimer::new())
                    .keep_alive_interval(Some(Duration::from_secs(30)));
                match acceptor {
                    Some(acceptor) => {
                        let Ok(Ok(tls)) =
                            tokio::time::timeout(header_timeout, acceptor.accept(stream)).await
                        else {
                            return;
                        };
                        let svc = service!(gw, peer, true);
                        let conn = builder.serve_connection(TokioIo::new(tls), svc);
                        let _ = watcher.watch(conn.into_owned()).await;
                    }
                    None => {
                        let svc = service!(gw, peer, false);
                        let conn = builder.serve_connection(TokioIo::new(stream), svc);
                        let _ = watcher.watch(conn.into_owned()).await;
                    }
                }
            });
        }
        drop(listener);
        gateway.draining.store(true, Ordering::Release);
        tracing::info!("shutting down: no new connections; draining requests in flight");
        let drain = Duration::from_millis(gateway.cfg.drain_timeout_ms);
        if tokio::time::timeout(drain, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("drain timeout: closing with requests still in flight");
        }
        let kms = gateway.kms.clone();
        let closed = tokio::task::spawn_blocking(move || pollster::block_on(kms.close()))
            .await
            .unwrap_or(Ok(()));
        tracing::info!("store closed");
        closed
    }
}

impl Gateway {
    fn cors_origin(&self, req: &Request<Body>) -> Option<hyper::header::HeaderValue> {
        let origin = req.headers().get(hyper::header::ORIGIN)?;
        let o = origin.to_str().ok()?;
        if self.cfg.cors_origins.iter().any(|a| a == "*") {
            return Some(hyper::header::HeaderValue::from_static("*"));
        }
        self.cfg
            .cors_origins
            .iter()
            .any(|a| a == o)
            .then(|| origin.clone())
    }

    /// The client's address: the TCP peer, or — when the peer is a trusted proxy —
    /// the right-most `X-Forwarded-For` address that is not a trusted proxy.
    fn client_addr(&self, req: &Request<Body>, peer: SocketAddr) -> SocketAddr {
        if self.proxies.is_empty() || !self.proxies.iter().any(|c| c.contains(peer.ip())) {
            return peer;
        }
        let mut hops: Vec<std::net::IpAddr> = Vec::new();
        for v in req.headers().get_all("x-forwarded-for") {
            let Ok(v) = v.to_str() else { return peer };
            for part in v.split(',') {
                match part.trim().parse() {
                    Ok(ip) => hops.push(ip),
                    // A malformed hop: nothing left of it can be believed.
                    Err(_) => hops.clear(),
                }
            }
        }
        hops.iter()
            .rev()
            .find(|ip| !self.proxies.iter().any(|c| c.contains(**ip)))
            .map_or(peer, |ip| SocketAddr::new(*ip, 0))
    }

    async fn handle(self: Arc<Self>, req: Request<Body>, peer: SocketAddr, secure: bool) -> Answer {
        let peer = self.client_addr(&req, peer);
        let cors = self.cors_origin(&req);
        let mut answer = self.route(req, peer, secure, cors.is_some()).await;
        if let Some(o) = cors {
            let h = answer.headers_mut();
            h.insert(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
            h.insert(
                hyper::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                hyper::header::HeaderValue::from_static("x-acs-request-id, x-acs-retry-after"),
            );
            h.insert(
                hyper::header::VARY,
                hyper::header::HeaderValue::from_static("Origin"),
            );
        }
        answer
    }

    async fn route(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        secure: bool,
        cors: bool,
    ) -> Answer {
        match (req.method().as_str(), req.uri().path()) {
            ("GET", "/healthz") => {
                let (status, state) = if self.draining.load(Ordering::Acquire) {
                    (503, "draining")
                } else {
                    (200, "ok")
                };
                json_answer(status, &serde_json::json!({ "Status": state }), "")
            }
            ("GET", "/metrics") if self.cfg.metrics => {
                if let Some(token) = &self.metrics_token {
                    let given = req
                        .headers()
                        .get(hyper::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .unwrap_or_default();
                    if !crate::sign::same(given, token) {
                        let f = Fault {
                            code: "Unauthorized",
                            message: "/metrics needs the bearer token (metrics_token_file)".into(),
                            status: 401,
                            retry_after_ms: None,
                            kind: None,
                        };
                        let mut r = json_answer(401, &f.body("", &self.cfg.host_id), "");
                        r.headers_mut().insert(
                            hyper::header::WWW_AUTHENTICATE,
                            hyper::header::HeaderValue::from_static("Bearer"),
                        );
                        return r;
                    }
                }
                let text = self
                    .metrics
                    .render(self.kms.audit_backlog(), self.nonces.len());
                let mut r = Response::new(Full::new(Bytes::from(text)));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                r
            }
            ("OPTIONS", _) if cors => {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::NO_CONTENT;
                let h = r.headers_mut();
                h.insert(
                    hyper::header::ACCESS_CONTROL_ALLOW_METHODS,
                    hyper::header::HeaderValue::from_static("GET, POST"),
                );
                h.insert(
                    hyper::header::ACCESS_CONTROL_ALLOW_HEADERS,
                    hyper::header::HeaderValue::from_static(
                        "authorization, content-type, x-acs-action, x-acs-version, x-acs-date, x-acs-signature-nonce, x-acs-content-sha256, x-acs-security-token, x-acs-accesskey-id",
                    ),
                );
                h.insert(
                    hyper::header::ACCESS_CONTROL_MAX_AGE,
                    hyper::header::HeaderValue::from_static("600"),
                );
                r
            }
            ("POST", "/strongroom-backend") if self.wire.is_some() => self.wire(req).await,
            (_, "/") => self.api(req, peer, secure).await,
            _ => {
                let id = self.kms.new_request_id();
                let f = Fault {
                    code: "InvalidAction.NotFound",
                    message: format!("there is nothing at {}: the API is at /", req.uri().path()),
                    status: 404,
                    retry_after_ms: None,
                    kind: None,
                };
                json_answer(f.status, &f.body(&id, &self.cfg.host_id), &id)
            }
        }
    }

    fn fault_answer(&self, f: &Fault, request_id: &str) -> Answer {
        let mut r = json_answer(f.status, &f.body(request_id, &self.cfg.host_id), request_id);
        if let Some(ms) = f.retry_after_ms {
            let h = r.headers_mut();
            if let Ok(v) = hyper::header::HeaderValue::from_str(&ms.to_string()) {
                h.insert("x-acs-retry-after", v);
            }
            if let Ok(v) = hyper::header::HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
                h.insert(hyper::header::RETRY_AFTER, v);
            }
        }
        r
    }

    async fn api(&self, req: Request<Body>, peer: SocketAddr, secure: bool) -> Answer {
        let started = Instant::now();
        let request_id = self.kms.new_request_id();
        let Ok(_permit) = self.permits.try_acquire() else {
            let mut f = Fault::new(
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server: too many requests in flight",
            );
            f.retry_after_ms = Some(100);
            self.metrics
                .observe("-", f.code, started.elapsed().as_secs_f64());
            return self.fault_answer(&f, &request_id);
        };
        self.metrics.in_flight.inc();
        if req.headers().contains_key("x-kms-apiname") {
            let (api, answer) = self.dkms(req, peer, secure, &request_id).await;
            self.metrics.in_flight.dec();
            let code = match &answer {
                Ok(_) => "Success",
                Err(f) => f.code,
            };
            self.metrics
                .observe(api, code, started.elapsed().as_secs_f64());
            let (status, body) = match answer {
                Ok(b) => (200, b),
                Err(f) => {
                    tracing::debug!(
                        request_id,
                        api,
                        code = f.code,
                        status = f.status,
                        "instance API request refused"
                    );
                    (f.status, crate::dkms::error_body(&f, &request_id))
                }
            };
            let mut r = Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let h = r.headers_mut();
            h.insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/x-protobuf"),
            );
            if let Ok(v) = hyper::header::HeaderValue::from_str(&request_id) {
                h.insert("x-kms-requestid", v);
            }
            return r;
        }
        let (action, outcome) = self.api_inner(req, peer, secure, &request_id).await;
        self.metrics.in_flight.dec();
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            Ok(body) => {
                self.metrics.observe(action, "Success", secs);
                tracing::debug!(
                    request_id,
                    action,
                    code = "Success",
                    ms = secs * 1000.0,
                    "request"
                );
                json_answer(200, &body, &request_id)
            }
            Err(f) => {
                self.metrics.observe(action, f.code, secs);
                if f.status >= 500 {
                    tracing::warn!(request_id, action, code = f.code, status = f.status, message = %f.message, "request failed");
                } else {
                    tracing::debug!(
                        request_id,
                        action,
                        code = f.code,
                        status = f.status,
                        "request refused"
                    );
                }
                self.fault_answer(&f, &request_id)
            }
        }
    }

    /// One remote-backend request (wire protocol): the body in, the answer out. Its own
    /// errors travel inside the protocol; only transport-level faults (body too large
    /// or too slow, overload, the backend too slow) are HTTP errors.
    async fn wire(&self, req: Request<Body>) -> Answer {
        let started = Instant::now();
        let request_id = self.kms.new_request_id();
        let Some(server) = self.wire.clone() else {
            return self.fault_answer(
                &Fault::new("InternalFailure", "no backend server"),
                &request_id,
            );
        };
        let Ok(_permit) = self.permits.try_acquire() else {
            let mut f = Fault::new(
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server: too many requests in flight",
            );
            f.retry_after_ms = Some(100);
            return self.fault_answer(&f, &request_id);
        };
        let declared = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = match self.read_body(req.into_body(), declared).await {
            Ok(b) => b,
            Err(f) => return self.fault_answer(&f, &request_id),
        };
        let timeout = Duration::from_millis(self.cfg.request_timeout_ms);
        let job = tokio::task::spawn_blocking(move || pollster::block_on(server.handle(&body)));
        let answer = match tokio::time::timeout(timeout, job).await {
            Ok(Ok(a)) => a,
            Ok(Err(_)) => {
                return self.fault_answer(
                    &Fault::new("InternalFailure", "the operation failed unexpectedly"),
                    &request_id,
                );
            }
            Err(_) => {
                let f = Fault::new(
                    "Rejected.BackendUnavailable",
                    "the operation did not finish in time: the key backend is slow or unreachable",
                );
                return self.fault_answer(&f, &request_id);
            }
        };
        self.metrics
            .observe("WireBackend", "Success", started.elapsed().as_secs_f64());
        let mut r = Response::new(Full::new(Bytes::from(answer)));
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/octet-stream"),
        );
        r
    }

    async fn read_body(&self, body: Body, declared: Option<u64>) -> Result<Bytes, Fault> {
        let max = self.cfg.max_body_bytes;
        let too_large = || {
            Fault::new(
                "Rejected.RequestTooLarge",
                format!("the request body is larger than {max} bytes"),
            )
        };
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let limit = Duration::from_millis(self.cfg.body_timeout_ms);
        match tokio::time::timeout(limit, Limited::new(body, max).collect()).await {
            Err(_) => Err(Fault::new(
                "RequestTimeout",
                "the request body did not arrive in time",
            )),
            Ok(Err(e)) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    Err(too_large())
                } else {
                    Err(Fault::new(
                        "InvalidParameter.Body",
                        "the request body could not be read",
                    ))
                }
            }
            Ok(Ok(c)) => Ok(c.to_bytes()),
        }
    }

    /// Authenticates and runs one API request: the action's name (for metrics) and the
    /// answer or fault.
    async fn api_inner(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        secure: bool,
        request_id: &str,
    ) -> (&'static str, Result<serde_json::Value, Fault>) {
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = match self.read_body(body, declared).await {
            Ok(b) => b,
            Err(f) => return ("-", Err(f)),
        };
        let headers = match header_pairs(&parts.headers) {
            Ok(h) => h,
            Err(f) => return ("-", Err(f)),
        };
        let host = parts
            .headers
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| {
                parts
                    .uri
                    .authority()
                    .map(hyper::http::uri::Authority::as_str)
            });
        let incoming = request::Incoming {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &headers,
            host,
            body: &body,
        };
        let signed = match request::parse(&incoming) {
            Ok(s) => s,
            Err(f) => return ("-", Err(f)),
        };
        let label = match signed.action.parse::<Action>() {
            Ok(a) => a.name(),
            Err(_) => "-",
        };
        let outcome = self.authorised_call(signed, peer, secure, request_id).await;
        (label, outcome)
    }

    /// One request of the dedicated-instance API (`x-kms-apiname`): its name (for
    /// metrics) and the protobuf answer or fault.
    async fn dkms(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        secure: bool,
        request_id: &str,
    ) -> (&'static str, Result<Vec<u8>, Fault>) {
        let (parts, body) = req.into_parts();
        let headers = match header_pairs(&parts.headers) {
            Ok(h) => h,
            Err(f) => return ("-", Err(f)),
        };
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_string())
                .unwrap_or_default()
        };
        let api = header("x-kms-apiname");
        let label = crate::dkms::api_label(&api);
        let declared = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = match self.read_body(body, declared).await {
            Ok(b) => b,
            Err(f) => return (label, Err(f)),
        };
        let out = self
            .dkms_call(
                &parts.method,
                &headers,
                &api,
                &body,
                peer,
                secure,
                request_id,
            )
            .await;
        // A request refused before its signature verified is audited, as on the
        // OpenAPI: a denied event of the action it named, by `unauthenticated`.
        if let Err(f) = &out
            && matches!(
                f.code,
                "SignatureDoesNotMatch"
                    | "IncompleteSignature"
                    | "InvalidAccessKeyId.NotFound"
                    | "InvalidSecurityToken.Expired"
                    | "InvalidTimeStamp.Expired"
                    | "InvalidTimeStamp.Format"
                    | "InvalidParameter.ContentSha256"
            )
            && let Some(action) = crate::dkms::api_action(&api)
        {
            let ua = header("user-agent");
            let mut c = Caller::new("unauthenticated")
                .with_request_id(request_id)
                .with_origin(Some(peer.ip()), secure, (!ua.is_empty()).then_some(ua));
            let key_id = header("x-kms-acccesskeyid");
            c.access_key_id = (!key_id.is_empty()).then_some(key_id);
            let message = if f.code == "SignatureDoesNotMatch" {
                "the request's signature did not verify".to_string()
            } else {
                f.message.clone()
            };
            if let Err(e) = self.kms.audit_refusal(&c, action, f.code, message) {
                tracing::warn!(error = %e, "the refusal could not be audited");
            }
        }
        (label, out)
    }

    #[allow(clippy::too_many_arguments)]
    async fn dkms_call(
        &self,
        method: &hyper::Method,
        headers: &[(&str, &str)],
        api: &str,
        body: &[u8],
        peer: SocketAddr,
        secure: bool,
        request_id: &str,
    ) -> Result<Vec<u8>, Fault> {
        use crate::dkms;
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| *v)
                .unwrap_or_default()
        };
        if method != hyper::Method::POST {
            return Err(Fault::new(
                "UnsupportedHTTPMethod",
                "the instance API takes POST",
            ));
        }
        let version = header("x-kms-apiversion");
        if version != dkms::API_VERSION {
            return Err(Fault::new(
                "InvalidVersion",
                format!(
                    "x-kms-apiversion {version:?} is not served: use {}",
                    dkms::API_VERSION
                ),
            ));
        }
        if header("x-kms-signaturemethod") != "RSA_PKCS1_SHA_256" {
            return Err(Fault::new(
                "UnsupportedSignatureMethod",
                "x-kms-signaturemethod must be RSA_PKCS1_SHA_256",
            ));
        }
        let key_id = header("x-kms-acccesskeyid");
        if key_id.is_empty() {
            return Err(Fault::missing("x-kms-acccesskeyid"));
        }
        let date = dkms::parse_http_date(header("date")).ok_or_else(|| {
            Fault::new(
                "InvalidTimeStamp.Format",
                "the date header is not an HTTP date",
            )
        })?;
        #[allow(clippy::cast_possible_truncation)]
        let now = now_s() as i64;
        self.nonces.check_time(date, now)?;
        let want = hex::encode_upper(sha2::Sha256::digest(body));
        if !crate::sign::same(header("content-sha256"), &want) {
            return Err(Fault::new(
                "InvalidParameter.ContentSha256",
                "content-sha256 is not the SHA-256 of the body",
            ));
        }
        let sig = header("authorization")
            .strip_prefix("Bearer ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .ok_or_else(|| {
                Fault::new(
                    "IncompleteSignature",
                    "authorization must be Bearer <base64 signature>",
                )
            })?;
        let (principal, spki) = self.kms.client_key(key_id)?;
        let text = dkms::string_to_sign(method.as_str(), headers);
        let ok = strongroom::asym::verify(
            strongroom::vocab::KeySpec::Rsa2048,
            &spki,
            strongroom::asym::SigningAlgorithm::RsaPkcs1Sha256,
            &sha2::Sha256::digest(text.as_bytes()),
            &sig,
        )
        .unwrap_or(false);
        if !ok {
            tracing::warn!(client_key = key_id, peer = %peer.ip(), "instance API signature mismatch");
            return Err(Fault::new(
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            ));
        }
        if let Some(rate) = &self.rate {
            rate.take(key_id, now_s())?;
        }
        let mut caller = Caller::new(principal)
            .with_request_id(request_id)
            .with_origin(
                Some(peer.ip()),
                secure,
                Some(header("user-agent").to_string()),
            );
        caller.access_key_id = Some(key_id.to_string());
        let call = |action: Action, params: serde_json::Map<String, serde_json::Value>| {
            let kms = self.kms.clone();
            let caller = caller.clone();
            async move { Ok::<_, Fault>(kms.call_wire(&caller, action, &params).await?) }
        };
        match dkms::plan(api, body)? {
            dkms::Plan::Call {
                action,
                params,
                api,
            } => {
                let answer = call(action, params).await?;
                Ok(dkms::shape(&api, &answer, request_id))
            }
        }
    }

    /// Checks a request's time, credentials, signature, nonce and rate: its
    /// credential, or the fault and (once the signature verified) its principal.
    fn authenticate(
        &self,
        signed: &request::Signed,
        peer: SocketAddr,
    ) -> Result<strongroom::access::Credential, (Fault, Option<String>)> {
        #[allow(clippy::cast_possible_truncation)]
        let now = now_s() as i64;
        self.nonces
            .check_time(signed.timestamp, now)
            .map_err(|f| (f, None))?;
        let cred = self
            .kms
            .credential(&signed.access_key_id, signed.security_token.as_deref())
            .map_err(|e| (Fault::from(e), None))?;
        if !signed.verify(cred.secret.expose()) {
            tracing::warn!(
                access_key_id = signed.access_key_id,
                peer = %peer.ip(),
                style = signed.style.as_str(),
                "signature mismatch"
            );
            let sensitive = signed
                .action
                .parse::<Action>()
                .map_or(&["Plaintext", "SecretData"][..], Action::sensitive_fields);
            let sts = signed
                .echoable_string_to_sign(sensitive)
                .unwrap_or("(withheld: the request carries sensitive parameters)");
            return Err((
                Fault::new(
                    "SignatureDoesNotMatch",
                    format!(
                        "Specified signature is not matched with our calculation. server string to sign is:{sts}"
                    ),
                ),
                None,
            ));
        }
        let known = || Some(cred.principal.clone());
        self.nonces
            .record(&signed.access_key_id, &signed.nonce, signed.timestamp, now)
            .map_err(|f| (f, known()))?;
        if let Some(rate) = &self.rate {
            rate.take(&signed.access_key_id, now_s())
                .map_err(|f| (f, known()))?;
        }
        Ok(cred)
    }

    async fn authorised_call(
        &self,
        signed: request::Signed,
        peer: SocketAddr,
        secure: bool,
        request_id: &str,
    ) -> Result<serde_json::Value, Fault> {
        let cred = match self.authenticate(&signed, peer) {
            Ok(c) => c,
            Err((f, principal)) => {
                // Refusals of a request that names a real action are audited (a
                // denied event), so a trail shows attempts, not only successes.
                if let Ok(action) = signed.action.parse::<Action>() {
                    let mut c = Caller::new(principal.unwrap_or_else(|| "unauthenticated".into()))
                        .with_request_id(request_id)
                        .with_origin(Some(peer.ip()), secure, signed.user_agent.clone());
                    c.access_key_id = Some(signed.access_key_id.clone());
                    // The string to sign stays out of the trail.
                    let message = if f.code == "SignatureDoesNotMatch" {
                        "the request's signature did not verify".to_string()
                    } else {
                        f.message.clone()
                    };
                    if let Err(e) = self.kms.audit_refusal(&c, action, f.code, message) {
                        tracing::warn!(error = %e, "the refusal could not be audited");
                    }
                }
                return Err(f);
            }
        };
        let action: Action = signed.action.parse()?;
        let want = action.api_version();
        if signed.version != want {
            return Err(Fault::new(
                "InvalidVersion",
                format!(
                    "Specified parameter Version {:?} is not valid: {} is served with Version {want}",
                    signed.version,
                    action.name()
                ),
            ));
        }
        let mut caller = Caller::new(cred.principal)
            .with_request_id(request_id)
            .with_origin(Some(peer.ip()), secure, signed.user_agent.clone());
        caller.access_key_id = Some(cred.access_key_id);
        caller.expires_ms = cred.expires_ms;
        if action.family() == strongroom::api::Family::Store {
            // A backup or image holds every key's material: it is taken on the store's
            // host (`strongroom backup`, …) by its owner, never over the network. The
            // attempt is audited (without its parameters: they hold passphrases).
            let f = Fault::new(
                "Forbidden.NoPermission",
                format!(
                    "{} is a store operation: it is not served over the network (run it on the gateway's host, as the store's owner)",
                    action.name()
                ),
            );
            if let Err(e) = self
                .kms
                .audit_refusal(&caller, action, f.code, f.message.clone())
            {
                tracing::warn!(error = %e, "the refusal could not be audited");
            }
            return Err(f);
        }
        let params = signed.params;
        let kms = self.kms.clone();
        let timeout = Duration::from_millis(self.cfg.request_timeout_ms);
        // Mutations write the store (and fsync), and every call may wait on a backend
        // outside the process (an HSM): those run off the reactor's threads, under the
        // request timeout. Reads on the in-process software backend run in place.
        let remote_backend = kms.backend_out_of_process();
        if action.mutates() || remote_backend {
            let job = tokio::task::spawn_blocking(move || {
                pollster::block_on(kms.call_wire(&caller, action, &params))
            });
            match tokio::time::timeout(timeout, job).await {
                Ok(Ok(r)) => Ok(r?),
                Ok(Err(_)) => Err(Fault::new(
                    "InternalFailure",
                    "the action failed unexpectedly",
                )),
                Err(_) => Err(Fault::new(
                    "Rejected.BackendUnavailable",
                    "the action did not finish in time: the key backend (or the store) is slow or unreachable; a change may still complete",
                )),
            }
        } else {
            Ok(pollster::block_on(kms.call_wire(&caller, action, &params))?)
        }
    }
}

#[cfg(test)]
mod cidr_tests {
    use super::Cidr;

    #[test]
    fn ranges() {
        let c = |s: &str| Cidr::parse(s).unwrap();
        let ip = |s: &str| s.parse().unwrap();
        assert!(c("10.0.0.0/8").contains(ip("10.200.1.2")));
        assert!(!c("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(c("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!c("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(c("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!c("0.0.0.0/0").contains(ip("::1")));
        assert!(c("fd00::/8").contains(ip("fd12::1")));
        assert!(!c("fd00::/8").contains(ip("fe80::1")));
        assert!(c("::1/128").contains(ip("::1")));
        assert!(c("192.168.1.0/25").contains(ip("192.168.1.127")));
        assert!(!c("192.168.1.0/25").contains(ip("192.168.1.128")));
        for bad in ["10.0.0.0/33", "x", "::/129", "10.0.0.0/"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}

/// Reads `backend_clients_file`: a JSON list of `{"id", "secret"}` (base64, 32 bytes).
fn read_client_keys(
    path: &std::path::Path,
) -> Result<Vec<strongroom::backend::remote::WireClientKey>, String> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read backend_clients_file {}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("backend_clients_file {}: not JSON: {e}", path.display()))?;
    let list = v.as_array().ok_or_else(|| {
        format!(
            "backend_clients_file {}: a JSON list of {{\"id\", \"secret\"}}",
            path.display()
        )
    })?;
    let mut keys = Vec::new();
    for k in list {
        let id = k.get("id").and_then(|v| v.as_str());
        let secret = k
            .get("secret")
            .and_then(|v| v.as_str())
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
        let (Some(id), Some(secret)) = (id, secret) else {
            return Err(format!(
                "backend_clients_file {}: each entry needs \"id\" and a base64 \"secret\"",
                path.display()
            ));
        };
        let key = strongroom::backend::remote::WireClientKey {
            id: id.to_owned(),
            secret: strongroom::SecretBytes::new(secret),
        };
        key.validate()
            .map_err(|e| format!("backend_clients_file {}: {e}", path.display()))?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(format!(
            "backend_clients_file {} admits no client",
            path.display()
        ));
    }
    Ok(keys)
}
