//! The native HTTP client (feature `client`) of a connected [`Kms`] and of the transit
//! backend: what the CLI, Python and Rust programs use for `Kms::connect` and for keys
//! in OpenBao / Vault. Blocking HTTP/1.1 with keep-alive
//! (ureq) over rustls on AWS-LC; the server's certificate is checked against the
//! given CA file (the `--dev-tls` CA, say) or the Mozilla roots.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strongroom::Kms;
use strongroom::backend::BoxFuture;
use strongroom::env::Env;
use strongroom::{Endpoint, Error, HttpClient, HttpRequest, HttpResponse, Result};

/// The largest answer read (a ListSecrets page of 100 with tags is far below it).
const MAX_ANSWER: u64 = 16 << 20;

/// How a native client reaches the gateway.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// A PEM file of the CA certificates to trust instead of the Mozilla roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Time limit of each phase of a request (connecting: at most 10 s; sending;
    /// waiting for the answer; reading it); default 30 s.
    pub timeout: Option<Duration>,
    /// How requests refused for load are resent (default: [`strongroom::RetryPolicy`]'s).
    pub retry: Option<strongroom::RetryPolicy>,
}

/// ureq's agent as a [`HttpClient`].
pub struct NativeHttp {
    agent: ureq::Agent,
}

fn unavailable(what: String) -> Error {
    Error::BackendUnavailable(what)
}

impl NativeHttp {
    /// An agent with `opts`.
    ///
    /// # Errors
    /// `InvalidParameter.Endpoint` when the CA file cannot be read or holds no
    /// certificate.
    pub fn new(opts: &ClientOptions) -> Result<NativeHttp> {
        let roots = match &opts.ca_file {
            Some(path) => ureq::tls::RootCerts::Specific(Arc::new(read_certs(path)?)),
            None => ureq::tls::RootCerts::WebPki,
        };
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(roots)
            .unversioned_rustls_crypto_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .build();
        let limit = opts.timeout.unwrap_or(Duration::from_secs(30));
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            // Per phase rather than `timeout_global`, which cost ~115 µs a request in
            // bench/backends.sh (its deadline bookkeeping), a third of a loopback call.
            .timeout_connect(Some(limit.min(Duration::from_secs(10))))
            .timeout_send_request(Some(limit))
            .timeout_recv_response(Some(limit))
            .timeout_recv_body(Some(limit))
            .user_agent(concat!("strongroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(NativeHttp { agent })
    }
}

fn read_certs(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>> {
    let bad = |reason: String| Error::InvalidParameter {
        name: "Endpoint",
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| {
        bad(format!(
            "the CA file {} cannot be read: {e}",
            path.display()
        ))
    })?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(bad(format!(
            "the CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

impl HttpClient for NativeHttp {
    fn send<'a>(&'a self, request: HttpRequest) -> BoxFuture<'a, Result<HttpResponse>> {
        Box::pin(async move {
            let down =
                |e: ureq::Error| unavailable(format!("{} cannot be reached: {e}", request.url));
            let answer = match request.method {
                "GET" | "DELETE" => {
                    let mut r = if request.method == "GET" {
                        self.agent.get(&request.url)
                    } else {
                        self.agent.delete(&request.url)
                    };
                    for (k, v) in &request.headers {
                        r = r.header(k.as_str(), v.as_str());
                    }
                    r.call().map_err(down)?
                }
                _ => {
                    let mut r = self.agent.post(&request.url);
                    for (k, v) in &request.headers {
                        r = r.header(k.as_str(), v.as_str());
                    }
                    r.send(&request.body[..]).map_err(down)?
                }
            };
            let status = answer.status().as_u16();
            let header = |name: &str| answer.headers().get(name).and_then(|v| v.to_str().ok());
            let retry_after_ms = strongroom::backend::http::retry_after_ms(
                header("x-acs-retry-after"),
                header("retry-after"),
            );
            let mut body = Vec::new();
            answer
                .into_body()
                .into_reader()
                .take(MAX_ANSWER)
                .read_to_end(&mut body)
                .map_err(|e| {
                    unavailable(format!("the answer from {} was cut off: {e}", request.url))
                })?;
            Ok(HttpResponse {
                status,
                body,
                retry_after_ms,
            })
        })
    }

    /// The client blocks its thread for each request; so does its wait.
    fn sleep(&self, ms: u64) -> Option<BoxFuture<'_, ()>> {
        Some(Box::pin(async move {
            std::thread::sleep(Duration::from_millis(ms));
        }))
    }
}

/// A [`Kms`] connected to the gateway at `endpoint` through a [`NativeHttp`].
///
/// # Errors
/// As [`Kms::connect`] and [`NativeHttp::new`].
pub async fn connect(endpoint: Endpoint, opts: &ClientOptions) -> Result<Kms> {
    let http = NativeHttp::new(opts)?;
    Kms::connect_with(
        Env::system(),
        endpoint,
        Arc::new(http),
        opts.retry.unwrap_or_default(),
    )
    .await
}

/// A transit backend ([`strongroom::backend::transit`]) reached through a
/// [`NativeHttp`] with `opts`.
///
/// # Errors
/// As [`strongroom::backend::transit::TransitBackend::new`] and [`NativeHttp::new`].
pub fn transit_backend(
    cfg: strongroom::backend::transit::TransitConfig,
    opts: &ClientOptions,
) -> Result<Arc<dyn strongroom::KeyBackend>> {
    let http = NativeHttp::new(opts)?;
    Ok(Arc::new(strongroom::backend::transit::TransitBackend::new(
        cfg,
        Arc::new(http),
        Env::system(),
    )?))
}

/// A remote backend (wire protocol version 2) at `url` — a `strongroom serve
/// --backend-clients` gateway's `/strongroom-backend` — authenticated with `key`,
/// reached through a [`NativeHttp`] with `opts`.
///
/// # Errors
/// As [`strongroom::backend::remote::RemoteBackend::connect_with_key`] and
/// [`NativeHttp::new`].
pub fn remote_backend(
    url: &str,
    key: strongroom::backend::remote::WireClientKey,
    opts: &ClientOptions,
) -> Result<Arc<dyn strongroom::KeyBackend>> {
    let http = NativeHttp::new(opts)?;
    let t = strongroom::backend::remote::HttpTransport::new(Arc::new(http), url);
    let b = pollster::block_on(
        strongroom::backend::remote::RemoteBackend::connect_with_key(
            Arc::new(t),
            key,
            Env::system(),
        ),
    )?;
    Ok(Arc::new(b))
}
