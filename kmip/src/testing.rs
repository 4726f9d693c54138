//! PyKMIP servers for tests (feature `testing`): the kmip crate's own tests and the
//! core's backend conformance suite (core/tests/kms.rs) run against them.
//!
//! `scripts/ci/setup.sh` installs PyKMIP into `.venv-kmip`; `STRONGROOM_PYKMIP_SERVER`
//! names another `pykmip-server`. Each server gets its own CA, a server certificate
//! for 127.0.0.1 and a client certificate (made here with rcgen), a free port, and a
//! watchdog shell that stops it when the test process ends.

#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::KmipConfig;

/// The `pykmip-server` executable.
#[must_use]
pub fn server_binary() -> PathBuf {
    std::env::var_os("STRONGROOM_PYKMIP_SERVER").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-kmip/bin/pykmip-server"),
        PathBuf::from,
    )
}

/// A running PyKMIP server.
pub struct Server {
    /// The server's directory: certificates, configuration, database, log.
    pub dir: PathBuf,
    /// `127.0.0.1:port`.
    pub address: String,
    /// The server process (for SIGSTOP / SIGCONT / SIGKILL in fault tests).
    pub pid: u32,
    conf: PathBuf,
}

impl Server {
    /// A client configuration for this server (timeout 3 s).
    #[must_use]
    pub fn config(&self) -> KmipConfig {
        let mut c = KmipConfig::new(
            self.address.clone(),
            self.dir.join("ca.pem"),
            self.dir.join("client.pem"),
            self.dir.join("client.key"),
        );
        c.timeout = Duration::from_secs(3);
        c
    }

    /// Starts a server in a new directory under the system's temporary one.
    #[must_use]
    pub fn start(name: &str) -> Server {
        let bin = server_binary();
        assert!(
            bin.exists(),
            "{} is missing: run scripts/ci/setup.sh (it installs PyKMIP into .venv-kmip)",
            bin.display()
        );
        let dir =
            std::env::temp_dir().join(format!("strongroom-pykmip-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a server directory");
        certificates(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let conf = dir.join("server.conf");
        std::fs::write(
            &conf,
            format!(
                "[server]\nhostname=127.0.0.1\nport={port}\ncertificate_path={d}/server.pem\n\
                 key_path={d}/server.key\nca_path={d}/ca.pem\nauth_suite=TLS1.2\n\
                 enable_tls_client_auth=True\nlogging_level=WARNING\n\
                 database_path={d}/pykmip.db\n",
                d = dir.display()
            ),
        )
        .expect("the server configuration");
        let mut s = Server {
            dir,
            address: format!("127.0.0.1:{port}"),
            pid: 0,
            conf,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let bin = server_binary();
        let pid_file = self.dir.join("pid");
        let _ = std::fs::remove_file(&pid_file);
        let script = format!(
            "'{bin}' -f '{conf}' -l '{log}' >/dev/null 2>&1 & B=$!; echo $B > '{pid}'; \
             while kill -0 {parent} 2>/dev/null && kill -0 $B 2>/dev/null; do sleep 1; done; kill -9 $B 2>/dev/null",
            bin = bin.display(),
            conf = self.conf.display(),
            log = self.dir.join("server.log").display(),
            pid = pid_file.display(),
            parent = std::process::id()
        );
        // The watchdog outlives this call by design: it ends with the server.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .spawn()
            .expect("sh runs");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(p) = std::fs::read_to_string(&pid_file)
                && let Ok(p) = p.trim().parse()
                && std::net::TcpStream::connect(&self.address).is_ok()
            {
                self.pid = p;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "pykmip-server did not start; its log: {}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, `KILL`) to the server.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid.to_string())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{signal} {}", self.pid);
    }

    /// Kills the server and starts it again on the same port, database and
    /// certificates.
    pub fn restart(&mut self) {
        self.signal("KILL");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&self.address).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
    }
}

/// The server shared by a test process's tests, started on first use.
#[must_use]
pub fn shared() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| Server::start("shared"))
}

/// A CA, a server certificate for 127.0.0.1 / localhost and a client certificate
/// (CN `strongroom`, clientAuth, as PyKMIP requires), as PEM files in `dir`; also
/// `stranger.pem` / `stranger.key`, a client certificate from another CA.
pub fn certificates(dir: &Path) {
    let ca = authority("strongroom test KMIP CA");
    let stranger_ca = authority("someone else's CA");
    leaf(dir, "server", &ca, &["127.0.0.1", "localhost"], false);
    leaf(dir, "client", &ca, &[], true);
    leaf(dir, "stranger", &stranger_ca, &[], true);
    std::fs::write(dir.join("ca.pem"), ca.1.pem()).expect("ca.pem");
}

fn authority(cn: &str) -> (rcgen::Issuer<'static, rcgen::KeyPair>, rcgen::Certificate) {
    let key = rcgen::KeyPair::generate().expect("a CA key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let cert = p.self_signed(&key).expect("the CA certificate");
    (rcgen::Issuer::new(p, key), cert)
}

fn leaf(
    dir: &Path,
    name: &str,
    ca: &(rcgen::Issuer<'static, rcgen::KeyPair>, rcgen::Certificate),
    sans: &[&str],
    client: bool,
) {
    let key = rcgen::KeyPair::generate().expect("a key");
    let mut p =
        rcgen::CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("parameters");
    p.distinguished_name.push(
        rcgen::DnType::CommonName,
        if client { "strongroom" } else { "localhost" },
    );
    p.extended_key_usages = vec![if client {
        rcgen::ExtendedKeyUsagePurpose::ClientAuth
    } else {
        rcgen::ExtendedKeyUsagePurpose::ServerAuth
    }];
    let cert = p.signed_by(&key, &ca.0).expect("a certificate");
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("certificate written");
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).expect("key written");
}
