//! strongroom's KMIP key backend: each key version is a symmetric key object created
//! inside a KMIP server — an enterprise HSM or key manager, PyKMIP in tests — and used
//! there (AES-GCM through KMIP's Encrypt and Decrypt), so the material never leaves
//! the server. The store keeps only a handle naming the object (its Unique Identifier).
//!
//! The protocol is KMIP 1.4 (the first with GCM's additional data and tag) in TTLV ([`ttlv`]) over mutual TLS (rustls): the server
//! knows the client by its certificate, and the client checks the server's against a
//! CA file. One request per connection at a time, over a small pool of connections
//! kept open; a pooled connection the server closed is replaced once, transparently.
//!
//! What this version does:
//! - AES keys (Aliyun_AES_256 / 192 / 128): Create (usage mask Encrypt | Decrypt, a
//!   Name attribute) and Activate; rotation as a new object per version; Encrypt and
//!   Decrypt in GCM with strongroom's associated data as KMIP's Authenticated
//!   Encryption Additional Data, the 12-byte nonce chosen here and sent as the
//!   IV/Counter/Nonce; data keys and envelopes above that.
//! - BYOK: imported AES material is Registered as a symmetric key object and
//!   Activated.
//! - Deletion, once its window passes: Revoke (cessation of operation) and Destroy.
//! - Clear codes: a server that cannot be reached or refuses the client certificate
//!   fails at open (`Rejected.BackendUnavailable`, with the reason); per call, a server
//!   gone or too slow is `Rejected.BackendUnavailable` within the configured timeout,
//!   an object deleted behind strongroom's back `Forbidden.KeyNotFound`, a failed tag
//!   check `InvalidCiphertext`.
//!
//! Not offered: asymmetric keys. KMIP's Sign takes Digested Data only from KMIP 1.4 on
//! and PyKMIP, the server CI runs, signs whole messages only (strongroom's
//! AsymmetricSign hands the backend a SHA-256 digest) and decrypts symmetric
//! ciphertexts only; CreateKey refuses RSA / EC specs with `InvalidParameter.KeySpec`
//! naming the backend (docs/TIERS.md).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use strongroom::backend::{BoxFuture, KeyBackend, KeyHandle, Sealed};
use strongroom::{Error, KeySpec, ProtectionLevel, Result, SecretBytes};
use zeroize::Zeroize;

#[cfg(feature = "testing")]
pub mod testing;
pub mod ttlv;

use ttlv::{Item, Value, item, structure, tag};

/// The handle format: a magic and version, then the object's Unique Identifier.
const HANDLE_MAGIC: &[u8; 4] = b"KMP\x01";
/// Connections kept open between calls.
const POOL: usize = 8;

mod op {
    pub const CREATE: u32 = 0x01;
    pub const REGISTER: u32 = 0x03;
    pub const LOCATE: u32 = 0x08;
    pub const GET_ATTRIBUTES: u32 = 0x0B;
    pub const ACTIVATE: u32 = 0x12;
    pub const REVOKE: u32 = 0x13;
    pub const DESTROY: u32 = 0x14;
    pub const DISCOVER_VERSIONS: u32 = 0x1E;
    pub const ENCRYPT: u32 = 0x1F;
    pub const DECRYPT: u32 = 0x20;
}

mod reason {
    pub const ITEM_NOT_FOUND: u32 = 0x01;
    pub const CRYPTOGRAPHIC_FAILURE: u32 = 0x0A;
    pub const GENERAL_FAILURE: u32 = 0x100;
}

const OBJECT_SYMMETRIC_KEY: u32 = 0x02;
const ALGORITHM_AES: u32 = 0x03;
const MODE_GCM: u32 = 0x09;
const USAGE_ENCRYPT_DECRYPT: i32 = 0x04 | 0x08;
const KEY_FORMAT_RAW: u32 = 0x01;
const NAME_UNINTERPRETED_TEXT: u32 = 0x01;
const REVOKED_CESSATION_OF_OPERATION: u32 = 0x06;

/// How to reach a KMIP server.
#[derive(Clone)]
pub struct KmipConfig {
    /// `host:port` (KMIP's port is 5696).
    pub address: String,
    /// The name checked against the server's certificate (default: the host part of
    /// `address`; an IP address is checked against the certificate's IP SANs).
    pub server_name: Option<String>,
    /// PEM: the CA(s) that issued the server's certificate.
    pub ca_file: PathBuf,
    /// PEM: this client's certificate (chain), which the server authenticates.
    pub cert_file: PathBuf,
    /// PEM: the client certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// The bound on connecting and on each read and write.
    pub timeout: Duration,
    /// What DescribeKey reports for keys made here: a KMIP server in front of an HSM
    /// is `HSM`; a software key manager (PyKMIP) is `SOFTWARE`, the default, so that a
    /// store never claims hardware it cannot see.
    pub protection_level: ProtectionLevel,
    /// The Name attribute of objects made here is this prefix and a random suffix.
    pub name_prefix: String,
}

impl KmipConfig {
    /// A configuration with the defaults: 10 s timeout, SOFTWARE, prefix `strongroom-`.
    #[must_use]
    pub fn new(
        address: impl Into<String>,
        ca_file: impl Into<PathBuf>,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> KmipConfig {
        KmipConfig {
            address: address.into(),
            server_name: None,
            ca_file: ca_file.into(),
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            timeout: Duration::from_secs(10),
            protection_level: ProtectionLevel::Software,
            name_prefix: "strongroom-".into(),
        }
    }
}

impl KmipConfig {
    /// Sets the timeout from seconds, as the CLI and Python take it.
    ///
    /// # Errors
    /// `InvalidParameter.Kmip` unless `0 < secs <= 3600`.
    pub fn set_timeout_secs(&mut self, secs: f64) -> Result<()> {
        if !(secs > 0.0 && secs <= 3600.0) {
            return Err(bad_config("the timeout is seconds in (0, 3600]".into()));
        }
        self.timeout = Duration::from_secs_f64(secs);
        Ok(())
    }

    /// Sets the declared protection level from its name.
    ///
    /// # Errors
    /// `InvalidParameter.Kmip` unless `SOFTWARE` or `HSM`.
    pub fn set_protection_level(&mut self, level: &str) -> Result<()> {
        self.protection_level = level
            .parse()
            .map_err(|_| bad_config("the protection level is SOFTWARE or HSM".into()))?;
        Ok(())
    }
}

impl core::fmt::Debug for KmipConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KmipConfig")
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("timeout", &self.timeout)
            .field("protection_level", &self.protection_level)
            .finish_non_exhaustive()
    }
}

fn bad_config(why: String) -> Error {
    Error::InvalidParameter {
        name: "Kmip",
        reason: why,
    }
}

fn unavailable(why: impl core::fmt::Display) -> Error {
    Error::BackendUnavailable(format!("KMIP server: {why}"))
}

type Stream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A [`KeyBackend`] on a KMIP server.
pub struct KmipBackend {
    cfg: KmipConfig,
    tls: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
    pool: Mutex<Vec<Stream>>,
}

impl core::fmt::Debug for KmipBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KmipBackend")
            .field("address", &self.cfg.address)
            .finish_non_exhaustive()
    }
}

/// A server's refusal: its Result Reason and Result Message.
struct Refused {
    reason: u32,
    message: String,
}

impl KmipBackend {
    /// Reads the certificates, connects and asks the server which KMIP versions it
    /// speaks (Discover Versions), so that a wrong address, CA, or a client
    /// certificate the server refuses is reported here, not at the first key
    /// operation.
    ///
    /// # Errors
    /// `InvalidParameter.Kmip` for unreadable or malformed PEM files and bad
    /// addresses; `Rejected.BackendUnavailable` when the server cannot be reached,
    /// the TLS handshake fails (either side's certificate refused) or the server does
    /// not speak KMIP 1.4.
    pub fn connect(cfg: KmipConfig) -> Result<Arc<KmipBackend>> {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| bad_config(format!("cannot read {}: {e}", p.display())))
        };
        let ca = read(&cfg.ca_file)?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&ca) {
            let c =
                c.map_err(|e| bad_config(format!("{} is not PEM: {e}", cfg.ca_file.display())))?;
            roots.add(c).map_err(|e| {
                bad_config(format!(
                    "{}: a CA certificate is refused: {e}",
                    cfg.ca_file.display()
                ))
            })?;
        }
        if roots.is_empty() {
            return Err(bad_config(format!(
                "{} holds no certificate",
                cfg.ca_file.display()
            )));
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&read(&cfg.cert_file)?)
                .collect::<core::result::Result<_, _>>()
                .map_err(|e| bad_config(format!("{} is not PEM: {e}", cfg.cert_file.display())))?;
        if chain.is_empty() {
            return Err(bad_config(format!(
                "{} holds no certificate",
                cfg.cert_file.display()
            )));
        }
        let mut key_pem = read(&cfg.key_file)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            bad_config(format!(
                "{} holds no private key: {e}",
                cfg.key_file.display()
            ))
        });
        key_pem.zeroize();
        let key = key?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad_config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| bad_config(format!("the client certificate and key: {e}")))?;
        let host = match &cfg.server_name {
            Some(n) => n.clone(),
            None => {
                let (h, _) = cfg
                    .address
                    .rsplit_once(':')
                    .ok_or_else(|| bad_config(format!("{:?} is not host:port", cfg.address)))?;
                h.trim_start_matches('[').trim_end_matches(']').to_owned()
            }
        };
        let server_name = ServerName::try_from(host.clone())
            .map_err(|_| bad_config(format!("{host:?} is not a server name")))?;
        let backend = Arc::new(KmipBackend {
            cfg,
            tls: Arc::new(tls),
            server_name,
            pool: Mutex::new(Vec::new()),
        });
        let answer = backend
            .call(op::DISCOVER_VERSIONS, vec![])?
            .map_err(|r| unavailable(format!("Discover Versions refused: {}", r.message)))?;
        let speaks_1_4 = answer.children().iter().any(|v| {
            v.tag == tag::PROTOCOL_VERSION
                && v.enumeration(tag::PROTOCOL_VERSION_MAJOR) == Some(1)
                && v.enumeration(tag::PROTOCOL_VERSION_MINOR)
                    .is_some_and(|m| m >= 4)
                || v.enumeration(tag::PROTOCOL_VERSION_MAJOR)
                    .is_some_and(|m| m > 1)
        });
        if !speaks_1_4 {
            return Err(unavailable(
                "the server does not speak KMIP 1.4 or later (authenticated encryption needs it)",
            ));
        }
        Ok(backend)
    }

    fn open_stream(&self) -> Result<Stream> {
        let addrs: Vec<_> = self
            .cfg
            .address
            .to_socket_addrs()
            .map_err(|e| unavailable(format!("cannot resolve {}: {e}", self.cfg.address)))?
            .collect();
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.cfg.timeout) {
                Ok(tcp) => {
                    let t = Some(self.cfg.timeout);
                    tcp.set_read_timeout(t)
                        .and_then(|()| tcp.set_write_timeout(t))
                        .and_then(|()| tcp.set_nodelay(true))
                        .map_err(unavailable)?;
                    let conn =
                        rustls::ClientConnection::new(self.tls.clone(), self.server_name.clone())
                            .map_err(|e| unavailable(format!("TLS: {e}")))?;
                    let mut s = rustls::StreamOwned::new(conn, tcp);
                    // The handshake now, so that a refused certificate says so.
                    while s.conn.is_handshaking() {
                        s.conn
                            .complete_io(&mut s.sock)
                            .map_err(|e| unavailable(format!("TLS handshake with {a}: {e}")))?;
                    }
                    return Ok(s);
                }
                Err(e) => last = Some(format!("cannot connect to {a}: {e}")),
            }
        }
        Err(unavailable(last.unwrap_or_else(|| {
            format!("{} resolves to no address", self.cfg.address)
        })))
    }

    fn exchange(s: &mut Stream, request: &[u8]) -> std::io::Result<Vec<u8>> {
        s.write_all(request)?;
        s.flush()?;
        let mut head = [0u8; 8];
        s.read_exact(&mut head)?;
        let [_, _, _, ty, l0, l1, l2, l3] = head;
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        if ty != 0x01 || len > ttlv::MAX_MESSAGE || !len.is_multiple_of(8) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the answer is not a TTLV structure",
            ));
        }
        let mut body = vec![0u8; len];
        s.read_exact(&mut body)?;
        let mut msg = head.to_vec();
        msg.append(&mut body);
        Ok(msg)
    }

    /// Sends one operation and returns its response payload, or the server's refusal.
    fn call(
        &self,
        operation: u32,
        payload: Vec<Item>,
    ) -> Result<core::result::Result<Item, Refused>> {
        let request = structure(
            tag::REQUEST_MESSAGE,
            vec![
                structure(
                    tag::REQUEST_HEADER,
                    vec![
                        structure(
                            tag::PROTOCOL_VERSION,
                            vec![
                                item(tag::PROTOCOL_VERSION_MAJOR, Value::Integer(1)),
                                item(tag::PROTOCOL_VERSION_MINOR, Value::Integer(4)),
                            ],
                        ),
                        item(tag::BATCH_COUNT, Value::Integer(1)),
                    ],
                ),
                structure(
                    tag::BATCH_ITEM,
                    vec![
                        item(tag::OPERATION, Value::Enumeration(operation)),
                        structure(tag::REQUEST_PAYLOAD, payload),
                    ],
                ),
            ],
        );
        let mut bytes = request.to_bytes();
        drop(request);
        let answer = self.round_trip(&bytes);
        bytes.zeroize();
        let mut answer = answer?;
        let msg = Item::decode(&answer);
        answer.zeroize();
        let msg = msg.map_err(|e| Error::BackendProtocol(e.0))?;
        if msg.tag != tag::RESPONSE_MESSAGE {
            return Err(Error::BackendProtocol(
                "the KMIP answer is not a Response Message",
            ));
        }
        let batch = msg
            .child(tag::BATCH_ITEM)
            .ok_or(Error::BackendProtocol("the KMIP answer has no Batch Item"))?;
        match batch.enumeration(tag::RESULT_STATUS) {
            Some(0) => Ok(Ok(batch
                .child(tag::RESPONSE_PAYLOAD)
                .cloned()
                .unwrap_or_else(|| structure(tag::RESPONSE_PAYLOAD, vec![])))),
            Some(_) => Ok(Err(Refused {
                reason: batch.enumeration(tag::RESULT_REASON).unwrap_or(0),
                message: batch
                    .text(tag::RESULT_MESSAGE)
                    .unwrap_or("no message")
                    .chars()
                    .take(300)
                    .collect(),
            })),
            None => Err(Error::BackendProtocol(
                "the KMIP answer has no Result Status",
            )),
        }
    }

    fn round_trip(&self, request: &[u8]) -> Result<Vec<u8>> {
        // A pooled connection may have been closed by the server since: one more
        // try on a fresh one. A fresh connection's failure is final.
        let pooled = self.pool.lock().map_err(|_| unavailable("poisoned"))?.pop();
        let (mut s, was_pooled) = match pooled {
            Some(s) => (s, true),
            None => (self.open_stream()?, false),
        };
        let answer = match Self::exchange(&mut s, request) {
            Ok(a) => a,
            Err(_) if was_pooled => {
                s = self.open_stream()?;
                Self::exchange(&mut s, request)
                    .map_err(|e| unavailable(format!("{}: {e}", self.cfg.address)))?
            }
            Err(e) => return Err(unavailable(format!("{}: {e}", self.cfg.address))),
        };
        if let Ok(mut p) = self.pool.lock()
            && p.len() < POOL
        {
            p.push(s);
        }
        Ok(answer)
    }

    fn uid(handle: &KeyHandle) -> Result<String> {
        let h = handle.0.expose();
        let rest = h
            .strip_prefix(HANDLE_MAGIC.as_slice())
            .ok_or_else(|| {
                Error::BackendUnavailable(
                    "this key version lives in another backend than the KMIP server (its handle is not a KMIP one)".into(),
                )
            })?;
        String::from_utf8(rest.to_vec())
            .map_err(|_| Error::BackendProtocol("a KMIP handle that is not UTF-8"))
    }

    fn handle(uid: &str) -> KeyHandle {
        let mut h = HANDLE_MAGIC.to_vec();
        h.extend_from_slice(uid.as_bytes());
        KeyHandle(SecretBytes::new(h))
    }

    /// A refusal for an operation on an object, as strongroom's code.
    fn refused(what: &str, uid: &str, r: &Refused) -> Error {
        match r.reason {
            reason::ITEM_NOT_FOUND => Error::KeyNotFound(format!(
                "the KMIP server no longer holds object {uid} (deleted outside strongroom?)"
            )),
            _ => unavailable(format!(
                "{what} refused: {} (reason {:#x})",
                r.message, r.reason
            )),
        }
    }

    fn attribute(name: &str, value: Value) -> Item {
        structure(
            tag::ATTRIBUTE,
            vec![
                item(tag::ATTRIBUTE_NAME, Value::Text(name.into())),
                item(tag::ATTRIBUTE_VALUE, value),
            ],
        )
    }

    fn template(&self, bits: i32) -> Result<Item> {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|_| Error::EntropyUnavailable)?;
        let name: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        Ok(structure(
            tag::TEMPLATE_ATTRIBUTE,
            vec![
                Self::attribute("Cryptographic Algorithm", Value::Enumeration(ALGORITHM_AES)),
                Self::attribute("Cryptographic Length", Value::Integer(bits)),
                Self::attribute(
                    "Cryptographic Usage Mask",
                    Value::Integer(USAGE_ENCRYPT_DECRYPT),
                ),
                Self::attribute(
                    "Name",
                    Value::Structure(vec![
                        item(
                            tag::NAME_VALUE,
                            Value::Text(format!("{}{name}", self.cfg.name_prefix)),
                        ),
                        item(tag::NAME_TYPE, Value::Enumeration(NAME_UNINTERPRETED_TEXT)),
                    ]),
                ),
            ],
        ))
    }

    fn aes_bits(spec: KeySpec) -> Result<i32> {
        spec.symmetric_key_len()
            .and_then(|n| i32::try_from(n * 8).ok())
            .ok_or(Error::Unsupported(
                "the KMIP backend holds AES keys only (RSA / EC keys need a server with Digested Data signing)",
            ))
    }

    /// Activates a new object and returns its handle.
    fn activate(&self, uid: &str) -> Result<KeyHandle> {
        self.call(
            op::ACTIVATE,
            vec![item(tag::UNIQUE_IDENTIFIER, Value::Text(uid.into()))],
        )?
        .map_err(|r| Self::refused("Activate", uid, &r))?;
        Ok(Self::handle(uid))
    }

    fn new_uid(answer: &Item) -> Result<String> {
        answer
            .text(tag::UNIQUE_IDENTIFIER)
            .map(str::to_owned)
            .ok_or(Error::BackendProtocol("the KMIP answer names no object"))
    }

    fn create_now(&self, spec: KeySpec) -> Result<KeyHandle> {
        let bits = Self::aes_bits(spec)?;
        let answer = self
            .call(
                op::CREATE,
                vec![
                    item(tag::OBJECT_TYPE, Value::Enumeration(OBJECT_SYMMETRIC_KEY)),
                    self.template(bits)?,
                ],
            )?
            .map_err(|r| {
                unavailable(format!(
                    "Create refused: {} (reason {:#x})",
                    r.message, r.reason
                ))
            })?;
        let uid = Self::new_uid(&answer)?;
        self.activate(&uid)
    }

    fn register_now(&self, spec: KeySpec, material: &SecretBytes) -> Result<KeyHandle> {
        let bits = Self::aes_bits(spec)?;
        if material.expose().len() * 8 != usize::try_from(bits).unwrap_or(0) {
            return Err(Error::InvalidParameter {
                name: "EncryptedKeyMaterial",
                reason: "the key material's length does not match the key's spec".into(),
            });
        }
        let answer = self
            .call(
                op::REGISTER,
                vec![
                    item(tag::OBJECT_TYPE, Value::Enumeration(OBJECT_SYMMETRIC_KEY)),
                    self.template(bits)?,
                    structure(
                        tag::SYMMETRIC_KEY,
                        vec![structure(
                            tag::KEY_BLOCK,
                            vec![
                                item(tag::KEY_FORMAT_TYPE, Value::Enumeration(KEY_FORMAT_RAW)),
                                structure(
                                    tag::KEY_VALUE,
                                    vec![item(
                                        tag::KEY_MATERIAL,
                                        Value::Bytes(material.expose().to_vec()),
                                    )],
                                ),
                                item(
                                    tag::CRYPTOGRAPHIC_ALGORITHM,
                                    Value::Enumeration(ALGORITHM_AES),
                                ),
                                item(tag::CRYPTOGRAPHIC_LENGTH, Value::Integer(bits)),
                            ],
                        )],
                    ),
                ],
            )?
            .map_err(|r| {
                unavailable(format!(
                    "Register refused: {} (reason {:#x})",
                    r.message, r.reason
                ))
            })?;
        let uid = Self::new_uid(&answer)?;
        self.activate(&uid)
    }

    fn gcm_parameters() -> Item {
        structure(
            tag::CRYPTOGRAPHIC_PARAMETERS,
            vec![
                item(tag::BLOCK_CIPHER_MODE, Value::Enumeration(MODE_GCM)),
                item(
                    tag::CRYPTOGRAPHIC_ALGORITHM,
                    Value::Enumeration(ALGORITHM_AES),
                ),
                item(tag::TAG_LENGTH, Value::Integer(16)),
            ],
        )
    }

    fn encrypt_now(&self, handle: &KeyHandle, plaintext: &[u8], aad: &[u8]) -> Result<Sealed> {
        let uid = Self::uid(handle)?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| Error::EntropyUnavailable)?;
        let mut payload = vec![
            item(tag::UNIQUE_IDENTIFIER, Value::Text(uid.clone())),
            Self::gcm_parameters(),
            item(tag::DATA, Value::Bytes(plaintext.to_vec())),
            item(tag::IV_COUNTER_NONCE, Value::Bytes(nonce.to_vec())),
        ];
        if !aad.is_empty() {
            payload.push(item(
                tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
                Value::Bytes(aad.to_vec()),
            ));
        }
        let answer = self
            .call(op::ENCRYPT, payload)?
            .map_err(|r| Self::refused("Encrypt", &uid, &r))?;
        let mut ciphertext = answer
            .bytes(tag::DATA)
            .ok_or(Error::BackendProtocol(
                "the KMIP Encrypt answer has no Data",
            ))?
            .to_vec();
        let tag16 = answer
            .bytes(tag::AUTHENTICATED_ENCRYPTION_TAG)
            .filter(|t| t.len() == 16)
            .ok_or(Error::BackendProtocol(
                "the KMIP Encrypt answer has no 16-byte authentication tag",
            ))?;
        if ciphertext.len() != plaintext.len() {
            return Err(Error::BackendProtocol(
                "the KMIP Encrypt answer's Data is not as long as the plaintext (not GCM?)",
            ));
        }
        if answer
            .bytes(tag::IV_COUNTER_NONCE)
            .is_some_and(|n| n != nonce.as_slice())
        {
            return Err(Error::BackendProtocol(
                "the KMIP server used another nonce than the one sent",
            ));
        }
        ciphertext.extend_from_slice(tag16);
        Ok(Sealed { nonce, ciphertext })
    }

    fn decrypt_now(
        &self,
        handle: &KeyHandle,
        nonce: &[u8; 12],
        ciphertext: &[u8],
        aad: &[u8],
    ) -> Result<SecretBytes> {
        let uid = Self::uid(handle)?;
        let split = ciphertext
            .len()
            .checked_sub(16)
            .ok_or(Error::InvalidCiphertext)?;
        let (body, tag16) = ciphertext.split_at(split);
        let mut payload = vec![
            item(tag::UNIQUE_IDENTIFIER, Value::Text(uid.clone())),
            Self::gcm_parameters(),
            item(tag::DATA, Value::Bytes(body.to_vec())),
            item(tag::IV_COUNTER_NONCE, Value::Bytes(nonce.to_vec())),
        ];
        // KMIP 1.4's order: the additional data, then the tag.
        if !aad.is_empty() {
            payload.push(item(
                tag::AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
                Value::Bytes(aad.to_vec()),
            ));
        }
        payload.push(item(
            tag::AUTHENTICATED_ENCRYPTION_TAG,
            Value::Bytes(tag16.to_vec()),
        ));
        let answer = match self.call(op::DECRYPT, payload)? {
            Ok(a) => a,
            // A failed tag check is Cryptographic Failure in the specification;
            // PyKMIP lets the exception through as General Failure. The object was
            // found and usable (else Item Not Found / Permission Denied), so either
            // says the ciphertext, its nonce or its associated data is wrong.
            Err(r)
                if r.reason == reason::CRYPTOGRAPHIC_FAILURE
                    || r.reason == reason::GENERAL_FAILURE =>
            {
                return Err(Error::InvalidCiphertext);
            }
            Err(r) => return Err(Self::refused("Decrypt", &uid, &r)),
        };
        let plain = answer.bytes(tag::DATA).ok_or(Error::BackendProtocol(
            "the KMIP Decrypt answer has no Data",
        ))?;
        Ok(SecretBytes::from_slice(plain))
    }

    /// Whether the server still holds the object behind `handle` (Get Attributes).
    ///
    /// # Errors
    /// As every call.
    pub fn holds(&self, handle: &KeyHandle) -> Result<bool> {
        let uid = Self::uid(handle)?;
        match self.call(
            op::GET_ATTRIBUTES,
            vec![item(tag::UNIQUE_IDENTIFIER, Value::Text(uid.clone()))],
        )? {
            Ok(_) => Ok(true),
            Err(r) if r.reason == reason::ITEM_NOT_FOUND => Ok(false),
            Err(r) => Err(Self::refused("Get Attributes", &uid, &r)),
        }
    }

    /// The Unique Identifiers of every object the server lets this client see
    /// (Locate with no filter): what an operator compares with the store's keys.
    ///
    /// # Errors
    /// As every call.
    pub fn object_ids(&self) -> Result<Vec<String>> {
        let answer = self
            .call(op::LOCATE, vec![])?
            .map_err(|r| unavailable(format!("Locate refused: {}", r.message)))?;
        let mut ids: Vec<String> = answer
            .children()
            .iter()
            .filter(|i| i.tag == tag::UNIQUE_IDENTIFIER)
            .filter_map(|i| match &i.value {
                Value::Text(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The object's Unique Identifier on the server (for operators and tests).
    ///
    /// # Errors
    /// A handle that is not a KMIP one.
    pub fn object_id(handle: &KeyHandle) -> Result<String> {
        Self::uid(handle)
    }

    /// Revokes and destroys the object now (what a deletion does once its window has
    /// passed).
    ///
    /// # Errors
    /// As every call; `Forbidden.KeyNotFound` when it is already gone.
    pub fn destroy_now(&self, handle: &KeyHandle) -> Result<()> {
        let uid = Self::uid(handle)?;
        let id = || item(tag::UNIQUE_IDENTIFIER, Value::Text(uid.clone()));
        match self.call(
            op::REVOKE,
            vec![
                id(),
                structure(
                    tag::REVOCATION_REASON,
                    vec![item(
                        tag::REVOCATION_REASON_CODE,
                        Value::Enumeration(REVOKED_CESSATION_OF_OPERATION),
                    )],
                ),
            ],
        )? {
            Ok(_) => {}
            Err(r) if r.reason == reason::ITEM_NOT_FOUND => {
                return Err(Self::refused("Revoke", &uid, &r));
            }
            // Already revoked, or a server that destroys active objects: Destroy says.
            Err(_) => {}
        }
        self.call(op::DESTROY, vec![id()])?
            .map_err(|r| Self::refused("Destroy", &uid, &r))?;
        Ok(())
    }
}

impl KeyBackend for KmipBackend {
    fn protection_level(&self) -> ProtectionLevel {
        self.cfg.protection_level
    }

    fn out_of_process(&self) -> bool {
        true
    }

    fn generate<'a>(&'a self, spec: KeySpec) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move { self.create_now(spec) })
    }

    fn key_specs(&self) -> Vec<KeySpec> {
        KeySpec::ALL
            .iter()
            .copied()
            .filter(|s| s.symmetric_key_len().is_some())
            .collect()
    }

    fn supports_import(&self) -> bool {
        true
    }

    fn import<'a>(
        &'a self,
        spec: KeySpec,
        material: &'a SecretBytes,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move { self.register_now(spec, material) })
    }

    fn destroy<'a>(&'a self, handle: &'a KeyHandle) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.destroy_now(handle) {
                Ok(()) | Err(Error::KeyNotFound(_)) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn encrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Sealed>> {
        Box::pin(async move { self.encrypt_now(handle, plaintext, aad) })
    }

    fn decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        nonce: &'a [u8; 12],
        ciphertext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move { self.decrypt_now(handle, nonce, ciphertext, aad) })
    }
}
