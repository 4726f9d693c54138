//! TLS by rustls: a certificate and key from PEM files, or a development CA made
//! (once) beside the store, whose certificate clients are told to trust.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug)]
pub struct TlsError(pub String);

impl core::fmt::Display for TlsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn err(what: impl core::fmt::Display) -> TlsError {
    TlsError(what.to_string())
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(format!("the certificate and key do not go together: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A server configuration from a PEM certificate chain and a PEM private key.
///
/// # Errors
/// When a file cannot be read or holds no certificate / key.
pub fn from_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| err(format!("cannot read {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            err(format!(
                "{} is not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(err(format!("{} holds no certificate", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| err(format!("{} holds no PEM private key: {e}", key.display())))?;
    server_config(certs, key)
}

/// A development certificate for `localhost`, `127.0.0.1` and `::1`, issued by a CA
/// kept in `dir` (`ca.pem`, and `ca.key` readable by the owner only; made on first use,
/// reused after). Returns the configuration and the CA file clients should trust.
///
/// # Errors
/// When the directory or its files cannot be written or read.
pub fn dev(dir: &Path) -> Result<(Arc<ServerConfig>, PathBuf), TlsError> {
    fs::create_dir_all(dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
    let ca_pem = dir.join("ca.pem");
    let ca_key_path = dir.join("ca.key");
    let ca_key = if ca_key_path.exists() {
        let pem = fs::read_to_string(&ca_key_path)
            .map_err(|e| err(format!("cannot read {}: {e}", ca_key_path.display())))?;
        rcgen::KeyPair::from_pem(&pem).map_err(err)?
    } else {
        let k = rcgen::KeyPair::generate().map_err(err)?;
        write_private(&ca_key_path, k.serialize_pem().as_bytes())?;
        k
    };
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "strongroom development CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    if !ca_pem.exists() {
        let cert = ca.self_signed(&ca_key).map_err(err)?;
        fs::write(&ca_pem, cert.pem())
            .map_err(|e| err(format!("cannot write {}: {e}", ca_pem.display())))?;
    }
    // Clients trust the CA's name and key: a CA certificate made again from the same
    // key and name issues certificates they accept.
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf_key = rcgen::KeyPair::generate().map_err(err)?;
    let mut leaf = rcgen::CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(err)?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "strongroom serve (development)");
    let cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(err)?;
    Ok((server_config(vec![cert.der().clone()], key)?, ca_pem))
}

/// The CA key: a 0600 file, never through a link (the core's `create_private`).
fn write_private(path: &Path, data: &[u8]) -> Result<(), TlsError> {
    let mut f = strongroom::storage::create_private(path)
        .map_err(|e| err(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| err(format!("cannot write {}: {e}", path.display())))
}
