//! `strongroom serve`: the store as a network KMS that Alibaba's SDKs drive
//! (strongroom-gateway). Settings come from flags, then `STRONGROOM_SERVE_*`
//! environment variables, then a TOML file (`--config`), then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use strongroom::Error;
use strongroom::storage::KdfParams;
use strongroom_gateway::Config;

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// A TOML file with the settings below (snake_case names; flags override it).
    #[arg(long, env = "STRONGROOM_SERVE_CONFIG")]
    config: Option<PathBuf>,
    /// Where to listen [default: 127.0.0.1:8443].
    #[arg(long, env = "STRONGROOM_SERVE_LISTEN")]
    listen: Option<SocketAddr>,
    /// A PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, env = "STRONGROOM_SERVE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "STRONGROOM_SERVE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a development certificate for localhost, issued by a CA kept in
    /// `<store>.devtls/` (its `ca.pem` is what clients trust; the path is printed).
    #[arg(long, env = "STRONGROOM_SERVE_DEV_TLS", conflicts_with = "tls_cert")]
    dev_tls: bool,
    /// Requests a second per AccessKeyId (0: no limit).
    #[arg(long, env = "STRONGROOM_SERVE_RATE_PER_KEY")]
    rate_per_key: Option<f64>,
    /// Requests answered at once (more get ServiceUnavailable at once).
    #[arg(long, env = "STRONGROOM_SERVE_MAX_CONCURRENCY")]
    max_concurrency: Option<usize>,
    /// The largest request body, bytes [default: 1048576].
    #[arg(long, env = "STRONGROOM_SERVE_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// How long an action may take (a slow or unreachable HSM) before the answer is
    /// Rejected.BackendUnavailable (503), ms [default: 30000].
    #[arg(long, env = "STRONGROOM_SERVE_REQUEST_TIMEOUT_MS")]
    request_timeout_ms: Option<u64>,
    /// How long a client may take to send its headers, ms [default: 10000].
    #[arg(long, env = "STRONGROOM_SERVE_HEADER_TIMEOUT_MS")]
    header_timeout_ms: Option<u64>,
    /// An origin browsers may call from (repeat; `*` for any).
    #[arg(
        long = "cors-origin",
        env = "STRONGROOM_SERVE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// A proxy (address or CIDR) whose X-Forwarded-For is believed for the client's
    /// address (repeat); none by default.
    #[arg(
        long = "trusted-proxy",
        env = "STRONGROOM_SERVE_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<String>,
    /// A file holding the bearer token /metrics requires; without it /metrics is open.
    #[arg(long, env = "STRONGROOM_SERVE_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
    /// Serve this store's key backend to other strongrooms over the remote-backend
    /// wire protocol (version 2) at POST /strongroom-backend, admitting the client keys
    /// in this JSON file (`[{"id", "secret"}]`, from `strongroom backend-client-key`).
    #[arg(long, env = "STRONGROOM_SERVE_BACKEND_CLIENTS")]
    backend_clients: Option<PathBuf>,
    /// Worker threads [default: the number of cores].
    /// The rotator for RotateSecret and automatic secret rotation in this server: each
    /// step runs CMD through `sh -c` (as `secret rotate --rotate-command`). Without it,
    /// automatic rotation uses the built-in random password only for secrets whose
    /// ExtendedConfig asks for it.
    #[arg(long = "rotate-command", env = "STRONGROOM_SERVE_ROTATE_COMMAND")]
    pub(crate) rotate_command: Option<String>,
    /// Every N seconds, carry out what is due (scheduled deletions, expiries, automatic
    /// key and secret rotations) even when no request comes; 0: only when a request
    /// comes.
    #[arg(
        long = "sweep-interval-s",
        env = "STRONGROOM_SERVE_SWEEP_INTERVAL_S",
        default_value_t = 60
    )]
    pub(crate) sweep_interval_s: u64,
    /// Every N seconds (and once at start), run VerifyStore in the background: every
    /// secret value opened, every key version probed in its backend (an HSM that lost
    /// an object or cannot be reached); results in the strongroom_verify_* metrics and
    /// a warn line per problem. 0 (the default): never.
    #[arg(
        long = "verify-interval-s",
        env = "STRONGROOM_SERVE_VERIFY_INTERVAL_S",
        default_value_t = 0
    )]
    pub(crate) verify_interval_s: u64,
    #[arg(long, env = "STRONGROOM_SERVE_THREADS")]
    threads: Option<usize>,
    /// Log format on stderr: json or text.
    #[arg(long, env = "STRONGROOM_SERVE_LOG_FORMAT", default_value = "json")]
    log_format: String,
    /// Log level: error, warn, info or debug (debug logs every request, never its
    /// parameters).
    #[arg(long, env = "STRONGROOM_SERVE_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

fn usage(reason: String) -> Error {
    Error::InvalidParameter {
        name: "Request",
        reason,
    }
}

/// The settings: file, then environment and flags over it.
fn settings(args: &ServeArgs, store: &Path, store_given: bool) -> Result<Config, Error> {
    let mut cfg = match &args.config {
        Some(p) => Config::from_toml_file(p).map_err(usage)?,
        None => Config::default(),
    };
    if store_given || cfg.store.is_none() {
        cfg.store = Some(store.to_path_buf());
    }
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if args.tls_cert.is_some() {
        cfg.tls_cert.clone_from(&args.tls_cert);
        cfg.tls_key.clone_from(&args.tls_key);
        cfg.dev_tls = false;
    }
    if args.dev_tls {
        cfg.dev_tls = true;
    }
    if let Some(r) = args.rate_per_key {
        cfg.rate_per_key = r;
    }
    if let Some(c) = args.max_concurrency {
        cfg.max_concurrency = c;
    }
    if let Some(b) = args.max_body_bytes {
        cfg.max_body_bytes = b;
    }
    if let Some(t) = args.header_timeout_ms {
        cfg.header_timeout_ms = t;
    }
    if let Some(t) = args.request_timeout_ms {
        cfg.request_timeout_ms = t;
    }
    if !args.cors_origins.is_empty() {
        cfg.cors_origins.clone_from(&args.cors_origins);
    }
    if !args.trusted_proxies.is_empty() {
        cfg.trusted_proxies.clone_from(&args.trusted_proxies);
    }
    if args.metrics_token_file.is_some() {
        cfg.metrics_token_file.clone_from(&args.metrics_token_file);
    }
    if args.backend_clients.is_some() {
        cfg.backend_clients_file.clone_from(&args.backend_clients);
    }
    if cfg.tls_cert.is_some() != cfg.tls_key.is_some() {
        return Err(usage("tls_cert and tls_key go together".into()));
    }
    if cfg.dev_tls && cfg.tls_cert.is_some() {
        return Err(usage("choose tls_cert/tls_key or dev_tls, not both".into()));
    }
    Ok(cfg)
}

fn init_logs(format: &str, level: &str) -> Result<(), Error> {
    let level: tracing::Level = level.parse().map_err(|_| {
        usage(format!(
            "--log-level {level:?}: use error, warn, info or debug"
        ))
    })?;
    let b = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        "json" => b.json().init(),
        "text" => b.init(),
        other => return Err(usage(format!("--log-format {other:?}: use json or text"))),
    }
    Ok(())
}

/// Runs the server until SIGTERM or SIGINT.
pub(crate) fn run(
    args: &ServeArgs,
    store: &Path,
    store_given: bool,
    passphrase: &str,
) -> Result<ExitCode, Error> {
    let cfg = settings(args, store, store_given)?;
    init_logs(&args.log_format, &args.log_level)?;
    let store = cfg.store.clone().unwrap_or_else(|| store.to_path_buf());
    if !store.try_exists().unwrap_or(true) {
        return Err(Error::StoreNotFound(store.display().to_string()));
    }
    let tls_err = |e: strongroom_gateway::tls::TlsError| Error::InvalidParameter {
        name: "Tls",
        reason: e.0,
    };
    let (tls, ca) = if cfg.dev_tls {
        let mut dir = store.clone().into_os_string();
        dir.push(".devtls");
        let (c, ca) = strongroom_gateway::tls::dev(Path::new(&dir)).map_err(tls_err)?;
        (Some(c), Some(ca))
    } else if let (Some(c), Some(k)) = (&cfg.tls_cert, &cfg.tls_key) {
        (
            Some(strongroom_gateway::tls::from_files(c, k).map_err(tls_err)?),
            None,
        )
    } else {
        (None, None)
    };
    let kms = crate::open_store(&store, passphrase, KdfParams::default())?;
    // A server records every call unless the store or STRONGROOM_AUDIT says otherwise.
    if std::env::var("STRONGROOM_AUDIT").is_err() {
        kms.set_default_audit_level(strongroom::access::AuditLevel::All);
    }
    if let Some(cmd) = &args.rotate_command {
        kms.set_secret_rotator(Some(Arc::new(crate::secret::CommandRotator::new(
            cmd.clone(),
        ))));
    }
    let kms = Arc::new(kms);
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt
        .build()
        .map_err(|e| Error::Io(format!("cannot start the server's runtime: {e}")))?;
    let sweeper_kms = kms.clone();
    rt.block_on(async move {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let bound = strongroom_gateway::Gateway::bind(kms, cfg, tls)
            .await
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidInput {
                    usage(e.to_string())
                } else {
                    Error::Io(format!("cannot listen: {e}"))
                }
            })?;
        let addr = bound
            .local_addr()
            .map_err(|e| Error::Io(format!("cannot listen: {e}")))?;
        // The first stdout line says where it listens (scripts wait for it).
        println!("strongroom serve: listening on {scheme}://{addr}");
        if let Some(ca) = ca {
            println!(
                "strongroom serve: development CA certificate: {}",
                ca.display()
            );
        }
        tracing::info!(%addr, scheme, "listening");
        if args.verify_interval_s > 0 {
            bound.start_verifier(std::time::Duration::from_secs(args.verify_interval_s));
        }
        if args.sweep_interval_s > 0 {
            // What is due runs on the clock, not only when a request comes: an idle
            // server still rotates and deletes on time. Off the workers (a rotate
            // command may take a while); a failure is logged and tried again next tick.
            let kms = sweeper_kms;
            let every = std::time::Duration::from_secs(args.sweep_interval_s);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let k = kms.clone();
                    match tokio::task::spawn_blocking(move || pollster::block_on(k.run_due())).await
                    {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::warn!(code = e.code(), error = %e, "sweep failed"),
                        Err(e) => tracing::warn!(error = %e, "sweep task failed"),
                    }
                }
            });
        }
        bound.serve(shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (term, int) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {},
                    _ = i.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
