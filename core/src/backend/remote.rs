//! The remote backend: master-key operations encoded in the strongroom wire protocol
//! (docs/FORMAT.md §Wire) and handed as bytes to a caller-supplied [`Transport`] — a
//! JS async function, a Python callable, a Rust HTTP client. [`BackendServer`] is the
//! other end: it decodes requests and runs them on any [`KeyBackend`].
//!
//! Version 2 authenticates every request and answer with HMAC-SHA256 under a client
//! key the server admits ([`WireClientKey`]), with a timestamp window and a nonce the
//! server remembers (no replays). Version 1 carried no authentication; servers refuse
//! it unless told otherwise ([`BackendServer::set_accept_v1`]).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::{BoxFuture, KeyBackend, KeyHandle, MaybeSendSync, Sealed};
use crate::aead;
use crate::asym::{EncryptionAlgorithm, SigningAlgorithm};
use crate::codec::{Reader, Writer};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::vocab::{KeySpec, KeyUsage, ProtectionLevel};

const MAGIC: &[u8; 3] = b"SRW";
const VERSION_1: u8 = 1;
const VERSION: u8 = 2;
/// The wire protocol version clients send and servers answer by default (servers read
/// version 1 too when told to: [`BackendServer::set_accept_v1`]).
pub const WIRE_VERSION: u8 = VERSION;
/// Requests are accepted this far from the server's clock, either way.
pub const WIRE_WINDOW_MS: u64 = 5 * 60 * 1000;
/// Nonces a server remembers at most (each for two windows): beyond, requests are
/// refused until old ones expire.
const MAX_NONCES: usize = 500_000;
const REQUEST_DOMAIN: &[u8] = b"strongroom wire v2 request\0";
const RESPONSE_DOMAIN: &[u8] = b"strongroom wire v2 response\0";
const TAG_LEN: usize = 32;
const OP_DESCRIBE: u8 = 1;
const OP_GENERATE: u8 = 2;
const OP_ENCRYPT: u8 = 3;
const OP_DECRYPT: u8 = 4;
const OP_PUBLIC_KEY: u8 = 5;
const OP_SIGN: u8 = 6;
const OP_ASYM_DECRYPT: u8 = 7;
const OP_IMPORT: u8 = 8;
const OP_DESTROY: u8 = 9;
/// Describe's capability bits (a byte after the protection level; absent from
/// servers that predate them, which then offer neither).
const CAN_ASYMMETRIC: u8 = 1;
const CAN_IMPORT: u8 = 2;
/// The server has Destroy (op 9).
const CAN_DESTROY: u8 = 4;
const STATUS_OK: u8 = 0;
const STATUS_ERR: u8 = 1;
/// Handles v2 carry the key's spec and usage inside the seal (v1's did not).
const HANDLE_AAD: &[u8] = b"strongroom remote handle v2";
const HANDLE_BOUND: u8 = b'B';

/// Carries one request to a backend server and brings its response back.
pub trait Transport: MaybeSendSync {
    /// Sends `request` and resolves to the response bytes.
    ///
    /// # Errors
    /// `Rejected.BackendUnavailable` when the other end cannot be reached.
    fn round_trip<'a>(&'a self, request: Vec<u8>) -> BoxFuture<'a, Result<Vec<u8>>>;
}

/// The key a client authenticates its wire-protocol requests with: an id the server
/// looks it up by, and a 32-byte secret both ends hold. The server admits it with
/// [`BackendServer::add_client`]; the client gives it to
/// [`RemoteBackend::connect_with_key`].
#[derive(Clone)]
pub struct WireClientKey {
    /// 1–64 characters of `A-Za-z0-9._-`.
    pub id: String,
    /// 32 bytes.
    pub secret: SecretBytes,
}

impl core::fmt::Debug for WireClientKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WireClientKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl WireClientKey {
    /// A fresh key: id `wk-` and 16 hex digits, a random secret.
    ///
    /// # Errors
    /// `Rejected.EntropyUnavailable`.
    pub fn generate(env: &Env) -> Result<WireClientKey> {
        let id: [u8; 8] = env.random()?;
        let secret: [u8; 32] = env.random()?;
        let k = WireClientKey {
            id: format!("wk-{}", crate::codec::hex(&id)),
            secret: SecretBytes::from_slice(&secret),
        };
        Ok(k)
    }

    /// Checks the id's form and the secret's length.
    ///
    /// # Errors
    /// `InvalidParameter.ClientKey`.
    pub fn validate(&self) -> Result<()> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !id_ok {
            return Err(Error::param(
                "ClientKey",
                "the id is 1-64 characters of A-Za-z0-9._-",
            ));
        }
        if self.secret.len() != 32 {
            return Err(Error::param("ClientKey", "the secret is 32 bytes"));
        }
        Ok(())
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn wire_mac(secret: &[u8], parts: &[&[u8]]) -> Result<[u8; TAG_LEN]> {
    use hmac::{KeyInit, Mac};
    let mut m =
        <HmacSha256 as KeyInit>::new_from_slice(secret).map_err(|_| Error::Internal("HMAC key"))?;
    for p in parts {
        m.update(p);
    }
    Ok(m.finalize().into_bytes().into())
}

fn wire_mac_ok(secret: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    for p in parts {
        m.update(p);
    }
    m.verify_slice(tag).is_ok()
}

struct ClientAuth {
    key: WireClientKey,
    env: Env,
}

/// A [`KeyBackend`] whose operations run on the far side of a [`Transport`].
pub struct RemoteBackend {
    transport: Arc<dyn Transport>,
    level: ProtectionLevel,
    capabilities: u8,
    /// Version 2's client key; `None` speaks version 1 (no authentication).
    auth: Option<ClientAuth>,
}

impl core::fmt::Debug for RemoteBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RemoteBackend")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl RemoteBackend {
    /// Connects with wire protocol version 1 (no authentication): only servers that
    /// still accept it answer. Prefer [`RemoteBackend::connect_with_key`].
    ///
    /// # Errors
    /// Transport failures; `Rejected.BackendProtocol` for a malformed answer;
    /// `Rejected.BackendUnavailable` naming the refusal from a server that no longer
    /// speaks version 1.
    pub async fn connect(transport: Arc<dyn Transport>) -> Result<Self> {
        Self::describe(transport, None).await
    }

    /// Connects with wire protocol version 2: every request carries `key`'s id, a
    /// timestamp, a fresh nonce and an HMAC-SHA256 tag; every answer is checked against
    /// the same key. Asks the server which protection level its keys have, so a key
    /// the server does not admit fails here.
    ///
    /// # Errors
    /// `InvalidParameter.ClientKey` for a malformed key; transport failures;
    /// `Rejected.BackendUnavailable` with the server's `Forbidden.WireAuthentication`
    /// or `InvalidAccessKeyId.NotFound` when it refuses the key.
    pub async fn connect_with_key(
        transport: Arc<dyn Transport>,
        key: WireClientKey,
        env: Env,
    ) -> Result<Self> {
        key.validate()?;
        Self::describe(transport, Some(ClientAuth { key, env })).await
    }

    async fn describe(transport: Arc<dyn Transport>, auth: Option<ClientAuth>) -> Result<Self> {
        let mut b = RemoteBackend {
            transport,
            level: ProtectionLevel::Software,
            capabilities: 0,
            auth,
        };
        let resp = b.call(b.request(OP_DESCRIBE)?).await?;
        let mut r = Reader::new(&resp);
        b.level = r
            .u8()
            .and_then(ProtectionLevel::from_code)
            .ok_or(Error::BackendProtocol("bad Describe response"))?;
        b.capabilities = r.u8().unwrap_or(0);
        Ok(b)
    }

    /// A request's header: version 1's, or version 2's with the client key's id, the
    /// time and a fresh nonce.
    fn request(&self, op: u8) -> Result<Writer> {
        let mut w = Writer::new();
        w.raw(MAGIC);
        match &self.auth {
            None => w.u8(VERSION_1),
            Some(a) => {
                w.u8(VERSION);
                w.bytes8(a.key.id.as_bytes());
                w.u64(a.env.now());
                let nonce: [u8; 16] = a.env.random()?;
                w.raw(&nonce);
            }
        }
        w.u8(op);
        Ok(w)
    }

    /// Sends a request (version 2: tagged) and returns the answer's body, or the
    /// server's error.
    async fn call(&self, w: Writer) -> Result<Zeroizing<Vec<u8>>> {
        let mut req = Zeroizing::new(w.buf);
        let tag = match &self.auth {
            None => None,
            Some(a) => {
                let t = wire_mac(a.key.secret.expose(), &[REQUEST_DOMAIN, &req])?;
                req.extend_from_slice(&t);
                Some(t)
            }
        };
        let resp = Zeroizing::new(self.transport.round_trip(req.to_vec()).await?);
        let mut r = Reader::new(&resp);
        if r.take(3) != Some(MAGIC.as_slice()) {
            return Err(Error::BackendProtocol("not a strongroom wire response"));
        }
        let version = r.u8();
        let (a, tag) = match (&self.auth, tag) {
            (Some(a), Some(t)) => (a, t),
            _ => {
                if version != Some(VERSION_1) {
                    return Err(Error::BackendProtocol("not a strongroom wire v1 response"));
                }
                return read_status(r);
            }
        };
        if version != Some(VERSION) {
            return Err(Error::BackendProtocol("not a strongroom wire v2 response"));
        }
        // The answer's tag covers it and this request's tag (no replayed answers).
        let authentic = resp.len() >= 5 + TAG_LEN && {
            let (body, t) = resp.split_at(resp.len() - TAG_LEN);
            wire_mac_ok(a.key.secret.expose(), &[RESPONSE_DOMAIN, &tag, body], t)
        };
        if authentic {
            return read_status(Reader::new(
                resp.get(4..resp.len() - TAG_LEN).unwrap_or_default(),
            ));
        }
        // Refusals made before the server knew the key carry no tag: an error either
        // way, never a result.
        match r.u8() {
            Some(STATUS_ERR) => {
                let code = r.str16().unwrap_or_default();
                let message = r.str16().unwrap_or_default();
                Err(remote_error(&code, message))
            }
            _ => Err(Error::BackendProtocol(
                "the backend server's answer does not authenticate under this client key",
            )),
        }
    }

    /// Sends `w` and reads one `bytes16` answer.
    async fn bytes_op(&self, w: Writer, what: &'static str) -> Result<Vec<u8>> {
        let resp = self.call(w).await?;
        let mut r = Reader::new(&resp);
        r.bytes16()
            .map(<[u8]>::to_vec)
            .ok_or(Error::BackendProtocol(what))
    }
}

/// Reads status and body (after magic and version).
fn read_status(mut r: Reader<'_>) -> Result<Zeroizing<Vec<u8>>> {
    match r.u8() {
        Some(STATUS_OK) => Ok(Zeroizing::new(r.rest().to_vec())),
        Some(STATUS_ERR) => {
            let code = r.str16().unwrap_or_default();
            let message = r.str16().unwrap_or_default();
            Err(remote_error(&code, message))
        }
        _ => Err(Error::BackendProtocol("bad response status")),
    }
}

fn remote_error(code: &str, message: String) -> Error {
    match code {
        "InvalidCiphertext" => Error::InvalidCiphertext,
        "Rejected.Unsupported" => Error::Unsupported("the remote backend does not support this"),
        "Rejected.EntropyUnavailable" => Error::EntropyUnavailable,
        "Rejected.KeyUsage" => Error::KeyUsage {
            key_id: String::from("(remote handle)"),
            usage: "another use: the server refused it",
        },
        "InvalidParameter.EncryptedKeyMaterial" => Error::param(
            "EncryptedKeyMaterial",
            format!("the remote backend: {message}"),
        ),
        _ => Error::BackendUnavailable(format!("remote {code}: {message}")),
    }
}

impl KeyBackend for RemoteBackend {
    fn protection_level(&self) -> ProtectionLevel {
        self.level
    }

    fn out_of_process(&self) -> bool {
        true
    }

    fn generate<'a>(&'a self, spec: KeySpec) -> BoxFuture<'a, Result<KeyHandle>> {
        match default_usage(spec) {
            Ok(usage) => self.generate_for(spec, usage),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn generate_for<'a>(
        &'a self,
        spec: KeySpec,
        usage: KeyUsage,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move {
            let mut w = self.request(OP_GENERATE)?;
            w.u8(spec.code());
            w.u8(usage.code());
            let resp = self.call(w).await?;
            let mut r = Reader::new(&resp);
            let h = r
                .bytes16()
                .ok_or(Error::BackendProtocol("bad Generate response"))?;
            Ok(KeyHandle(SecretBytes::from_slice(h)))
        })
    }

    fn encrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Sealed>> {
        Box::pin(async move {
            let mut w = self.request(OP_ENCRYPT)?;
            w.bytes16(handle.0.expose());
            w.bytes32(plaintext);
            w.bytes32(aad);
            let resp = self.call(w).await?;
            let mut r = Reader::new(&resp);
            let nonce = r.array::<12>();
            let ct = r.bytes32();
            match (nonce, ct) {
                (Some(nonce), Some(ct)) => Ok(Sealed {
                    nonce,
                    ciphertext: ct.to_vec(),
                }),
                _ => Err(Error::BackendProtocol("bad Encrypt response")),
            }
        })
    }

    fn decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        nonce: &'a [u8; 12],
        ciphertext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move {
            let mut w = self.request(OP_DECRYPT)?;
            w.bytes16(handle.0.expose());
            w.raw(nonce);
            w.bytes32(ciphertext);
            w.bytes32(aad);
            let resp = self.call(w).await?;
            let mut r = Reader::new(&resp);
            let pt = r
                .bytes32()
                .ok_or(Error::BackendProtocol("bad Decrypt response"))?;
            Ok(SecretBytes::from_slice(pt))
        })
    }

    fn supports_asymmetric(&self) -> bool {
        self.capabilities & CAN_ASYMMETRIC != 0
    }

    fn destroy<'a>(&'a self, handle: &'a KeyHandle) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // A server without Destroy (version 1) keeps what it made.
            if self.capabilities & CAN_DESTROY == 0 {
                return Ok(());
            }
            let mut w = self.request(OP_DESTROY)?;
            w.bytes16(handle.0.expose());
            self.call(w).await.map(|_| ())
        })
    }

    fn supports_import(&self) -> bool {
        self.capabilities & CAN_IMPORT != 0
    }

    fn import<'a>(
        &'a self,
        spec: KeySpec,
        material: &'a SecretBytes,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        match default_usage(spec) {
            Ok(usage) => self.import_for(spec, usage, material),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn import_for<'a>(
        &'a self,
        spec: KeySpec,
        usage: KeyUsage,
        material: &'a SecretBytes,
    ) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move {
            let mut w = self.request(OP_IMPORT)?;
            w.u8(spec.code());
            w.bytes32(material.expose());
            w.u8(usage.code());
            // `call` takes the buffer into a Zeroizing one: the material is wiped.
            let resp = self.call(w).await?;
            let mut r = Reader::new(&resp);
            let h = r
                .bytes16()
                .ok_or(Error::BackendProtocol("bad Import response"))?;
            Ok(KeyHandle(SecretBytes::from_slice(h)))
        })
    }

    fn public_key<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let mut w = self.request(OP_PUBLIC_KEY)?;
            w.bytes16(handle.0.expose());
            w.u8(spec.code());
            self.bytes_op(w, "bad PublicKey response").await
        })
    }

    fn sign<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
        alg: SigningAlgorithm,
        digest: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let mut w = self.request(OP_SIGN)?;
            w.bytes16(handle.0.expose());
            w.u8(spec.code());
            w.u8(alg.code());
            w.bytes16(digest);
            self.bytes_op(w, "bad Sign response").await
        })
    }

    fn asymmetric_decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
        alg: EncryptionAlgorithm,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move {
            let mut w = self.request(OP_ASYM_DECRYPT)?;
            w.bytes16(handle.0.expose());
            w.u8(spec.code());
            w.u8(alg.code());
            w.bytes16(ciphertext);
            let resp = self.call(w).await?;
            let mut r = Reader::new(&resp);
            r.bytes16()
                .map(SecretBytes::from_slice)
                .ok_or(Error::BackendProtocol("bad AsymmetricDecrypt response"))
        })
    }
}

/// The one usage a spec allows, for requests that do not name one: symmetric keys
/// encrypt, EC keys sign; an RSA key can do either, so its usage must be given.
fn default_usage(spec: KeySpec) -> Result<KeyUsage> {
    match spec {
        s if s.symmetric_key_len().is_some() => Ok(KeyUsage::EncryptDecrypt),
        KeySpec::EcP256 | KeySpec::EcP256K => Ok(KeyUsage::SignVerify),
        _ => Err(Error::param(
            "KeyUsage",
            "an RSA key's usage must be given (ENCRYPT/DECRYPT or SIGN/VERIFY)",
        )),
    }
}

/// The usage a Generate / Import request names (a byte after its other fields since
/// handles are bound; without it, the spec's one), checked against the spec.
fn usage_of(spec: KeySpec, byte: Option<u8>) -> Result<KeyUsage> {
    let usage = match byte {
        Some(u) => KeyUsage::from_code(u).ok_or(Error::BackendProtocol("malformed request"))?,
        None => default_usage(spec)?,
    };
    let fits = match spec {
        s if s.symmetric_key_len().is_some() => usage == KeyUsage::EncryptDecrypt,
        KeySpec::EcP256 | KeySpec::EcP256K => usage == KeyUsage::SignVerify,
        _ => true,
    };
    if fits {
        Ok(usage)
    } else {
        Err(Error::param("KeyUsage", "not a usage this KeySpec has"))
    }
}

/// Seals the handles a [`BackendServer`] gives out, and opens them again. Handles live
/// in clients' stores for as long as the keys do, so what seals them must outlive the
/// server process: a key kept in a strongroom store (`BackendServer::with_store`) or
/// one the operator keeps elsewhere ([`BackendServer::with_handle_key`]).
pub trait HandleSealer: MaybeSendSync {
    /// Seals handle bytes for a client.
    ///
    /// # Errors
    /// Whatever keeps the sealing key.
    fn seal<'a>(&'a self, handle: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>>>;
    /// Opens what [`HandleSealer::seal`] made.
    ///
    /// # Errors
    /// `InvalidParameter.KeyHandle` for anything this sealer did not make.
    fn open<'a>(&'a self, sealed: &'a [u8]) -> BoxFuture<'a, Result<SecretBytes>>;
}

/// Handles sealed (AES-256-GCM, random nonce) under a 32-byte key the caller keeps.
struct KeySealer {
    key: SecretBytes,
    env: Env,
}

impl HandleSealer for KeySealer {
    fn seal<'a>(&'a self, handle: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>>> {
        let r = (|| {
            let nonce: [u8; 12] = self.env.random()?;
            let mut out = nonce.to_vec();
            out.extend(aead::seal(self.key.expose(), &nonce, handle, HANDLE_AAD)?);
            Ok(out)
        })();
        Box::pin(async move { r })
    }
    fn open<'a>(&'a self, sealed: &'a [u8]) -> BoxFuture<'a, Result<SecretBytes>> {
        let mut r = Reader::new(sealed);
        let out = match r.array::<12>() {
            None => Err(Error::param("KeyHandle", "too short")),
            Some(nonce) => aead::open(self.key.expose(), &nonce, r.rest(), HANDLE_AAD)
                .map_err(|_| Error::param("KeyHandle", "not issued by this server")),
        };
        Box::pin(async move { out })
    }
}

/// A handle as the server opened it: the inner backend's handle, and the spec and
/// usage it was issued for.
struct Bound {
    handle: KeyHandle,
    spec: KeySpec,
    usage: KeyUsage,
}

impl Bound {
    /// Refuses an operation the handle was not issued for (a signing handle sent to
    /// AsymmetricDecrypt, an RSA handle sent as an EC one, …).
    fn check(&self, usage: KeyUsage, spec: Option<KeySpec>) -> Result<&KeyHandle> {
        let spec_ok = match spec {
            Some(s) => s == self.spec,
            None => self.spec.symmetric_key_len().is_some(),
        };
        if self.usage != usage || !spec_ok {
            return Err(Error::KeyUsage {
                key_id: String::from("(remote handle)"),
                usage: self.usage.as_str(),
            });
        }
        Ok(&self.handle)
    }
}

/// The serving end of the wire protocol: decodes a request, runs it on `inner`, and
/// encodes the response. Handles it gives out are the inner backend's handles, bound
/// to the key's spec and usage, sealed by a [`HandleSealer`] that outlives the server
/// (a client never sees material even when the inner backend is the software one,
/// and a handle works only for what its key is for).
pub struct BackendServer {
    inner: Arc<dyn KeyBackend>,
    sealer: Box<dyn HandleSealer>,
    env: Env,
    /// The client keys admitted (version 2).
    clients: spin::Mutex<Vec<WireClientKey>>,
    /// Whether unauthenticated version-1 requests are served (default: no).
    accept_v1: core::sync::atomic::AtomicBool,
    /// Nonces seen within the window: a set, and their expiry in arrival order.
    seen: spin::Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    set: alloc::collections::BTreeSet<[u8; 16]>,
    order: alloc::collections::VecDeque<(u64, [u8; 16])>,
}

impl core::fmt::Debug for BackendServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BackendServer").finish_non_exhaustive()
    }
}

impl BackendServer {
    /// A server whose handles are sealed under `handle_key` (32 bytes), which the
    /// caller keeps: every handle ever issued needs it, after restarts too. A store
    /// can keep it instead: `BackendServer::with_store`.
    ///
    /// # Errors
    /// `InvalidParameter.KeyHandle` when the key is not 32 bytes.
    pub fn with_handle_key(
        inner: Arc<dyn KeyBackend>,
        env: Env,
        handle_key: SecretBytes,
    ) -> Result<Self> {
        if handle_key.len() != 32 {
            return Err(Error::param("KeyHandle", "the handle key must be 32 bytes"));
        }
        Ok(Self::with_sealer(
            inner,
            Box::new(KeySealer {
                key: handle_key,
                env: env.clone(),
            }),
            env,
        ))
    }

    /// A server whose handles `sealer` seals; `env`'s clock judges request timestamps.
    #[must_use]
    pub fn with_sealer(
        inner: Arc<dyn KeyBackend>,
        sealer: Box<dyn HandleSealer>,
        env: Env,
    ) -> Self {
        BackendServer {
            inner,
            sealer,
            env,
            clients: spin::Mutex::new(Vec::new()),
            accept_v1: core::sync::atomic::AtomicBool::new(false),
            seen: spin::Mutex::new(Seen::default()),
        }
    }

    /// Admits a client key: requests tagged with it are served (wire version 2). A key
    /// with the same id is replaced.
    ///
    /// # Errors
    /// `InvalidParameter.ClientKey` for a malformed key.
    pub fn add_client(&self, key: WireClientKey) -> Result<()> {
        key.validate()?;
        let mut c = self.clients.lock();
        c.retain(|k| k.id != key.id);
        c.push(key);
        Ok(())
    }

    /// Makes a fresh client key and admits it; give it to the client.
    ///
    /// # Errors
    /// `Rejected.EntropyUnavailable`.
    pub fn create_client(&self) -> Result<WireClientKey> {
        let k = WireClientKey::generate(&self.env)?;
        self.add_client(k.clone())?;
        Ok(k)
    }

    /// Withdraws a client key; later requests under it are refused. Whether it was
    /// admitted.
    pub fn remove_client(&self, id: &str) -> bool {
        let mut c = self.clients.lock();
        let before = c.len();
        c.retain(|k| k.id != id);
        c.len() != before
    }

    /// Serves unauthenticated version-1 requests too (off by default: version 1 must
    /// then be carried by a channel that authenticates both ends).
    pub fn set_accept_v1(&self, accept: bool) {
        self.accept_v1
            .store(accept, core::sync::atomic::Ordering::Relaxed);
    }

    /// Remembers a nonce until two windows have passed; refuses one seen before.
    fn fresh_nonce(&self, nonce: [u8; 16], now: u64) -> Result<()> {
        let mut seen = self.seen.lock();
        while seen.order.front().is_some_and(|(exp, _)| *exp <= now) {
            if let Some((_, n)) = seen.order.pop_front() {
                seen.set.remove(&n);
            }
        }
        if seen.set.contains(&nonce) {
            return Err(Error::WireAuthentication(
                "the nonce was used before (a replay)",
            ));
        }
        if seen.set.len() >= MAX_NONCES {
            return Err(Error::QuotaExceeded(
                "the backend server remembers too many recent nonces: retry later",
            ));
        }
        seen.set.insert(nonce);
        seen.order
            .push_back((now.saturating_add(2 * WIRE_WINDOW_MS), nonce));
        Ok(())
    }

    /// Checks a version-2 request's header and tag; returns the client's secret, the
    /// request's tag and the operation bytes (op and body).
    fn authenticate<'r>(&self, request: &'r [u8]) -> Result<(SecretBytes, [u8; 32], &'r [u8])> {
        let bad = || Error::BackendProtocol("malformed request");
        let split = request.len().checked_sub(TAG_LEN).ok_or_else(bad)?;
        let (signed, tag) = request.split_at(split);
        let mut r = Reader::new(signed);
        r.take(4).ok_or_else(bad)?;
        let id = r
            .bytes8()
            .and_then(|b| core::str::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let ts = r.u64().ok_or_else(bad)?;
        let nonce = r.array::<16>().ok_or_else(bad)?;
        let op = r.rest();
        if op.is_empty() {
            return Err(bad());
        }
        let secret = self
            .clients
            .lock()
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.secret.clone())
            .ok_or_else(|| Error::InvalidAccessKeyId(id.into()))?;
        if !wire_mac_ok(secret.expose(), &[REQUEST_DOMAIN, signed], tag) {
            return Err(Error::WireAuthentication(
                "the request's tag does not match (another secret, or altered in transit)",
            ));
        }
        let now = self.env.now();
        if ts.abs_diff(now) > WIRE_WINDOW_MS {
            return Err(Error::WireAuthentication(
                "the request's timestamp is more than 5 minutes from the server's clock",
            ));
        }
        self.fresh_nonce(nonce, now)?;
        let mut t = [0u8; 32];
        t.copy_from_slice(tag);
        Ok((secret, t, op))
    }

    async fn seal_handle(&self, h: &KeyHandle, spec: KeySpec, usage: KeyUsage) -> Result<Vec<u8>> {
        let mut bound = Zeroizing::new(Vec::with_capacity(3 + h.0.len()));
        bound.extend_from_slice(&[HANDLE_BOUND, spec.code(), usage.code()]);
        bound.extend_from_slice(h.0.expose());
        self.sealer.seal(&bound).await
    }

    async fn open_handle(&self, sealed: &[u8]) -> Result<Bound> {
        let opened = self.sealer.open(sealed).await?;
        let mut r = Reader::new(opened.expose());
        let bad = || Error::param("KeyHandle", "not issued by this server");
        if r.u8() != Some(HANDLE_BOUND) {
            return Err(bad());
        }
        let spec = r.u8().and_then(KeySpec::from_code).ok_or_else(bad)?;
        let usage = r.u8().and_then(KeyUsage::from_code).ok_or_else(bad)?;
        Ok(Bound {
            handle: KeyHandle(SecretBytes::from_slice(r.rest())),
            spec,
            usage,
        })
    }

    /// Serves one request. Never fails: errors are encoded in the response, which a
    /// version-2 request's client key tags (refusals made before the key is known are
    /// not tagged).
    pub async fn handle(&self, request: &[u8]) -> Vec<u8> {
        let mut head = Reader::new(request);
        let magic_ok = head.take(3) == Some(MAGIC.as_slice());
        let version = head.u8();
        let answer = |version: u8, r: Result<Zeroizing<Vec<u8>>>| {
            let mut w = Writer::new();
            w.raw(MAGIC);
            w.u8(version);
            match r {
                Ok(body) => {
                    w.u8(STATUS_OK);
                    w.raw(&body);
                }
                Err(e) => {
                    w.u8(STATUS_ERR);
                    w.str16(e.code());
                    w.str16(&format!("{e}"));
                }
            }
            w.buf
        };
        match version {
            _ if !magic_ok => answer(
                VERSION,
                Err(Error::BackendProtocol("not a strongroom wire request")),
            ),
            Some(VERSION_1) => {
                if !self.accept_v1.load(core::sync::atomic::Ordering::Relaxed) {
                    return answer(
                        VERSION_1,
                        Err(Error::BackendProtocol(
                            "wire protocol version 1 (unauthenticated) is refused by this server: connect with a client key (version 2)",
                        )),
                    );
                }
                answer(VERSION_1, self.dispatch(head.rest()).await)
            }
            Some(VERSION) => match self.authenticate(request) {
                Err(e) => answer(VERSION, Err(e)),
                Ok((secret, tag, op)) => {
                    let mut out = answer(VERSION, self.dispatch(op).await);
                    match wire_mac(secret.expose(), &[RESPONSE_DOMAIN, &tag, &out]) {
                        Ok(t) => out.extend_from_slice(&t),
                        Err(e) => out = answer(VERSION, Err(e)),
                    }
                    out
                }
            },
            _ => answer(
                VERSION,
                Err(Error::BackendProtocol("unsupported wire version")),
            ),
        }
    }

    /// Runs one operation (its code and body).
    async fn dispatch(&self, request: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let bad = || Error::BackendProtocol("malformed request");
        let mut r = Reader::new(request);
        let mut w = Writer::new();
        match r.u8().ok_or_else(bad)? {
            OP_DESCRIBE => {
                w.u8(self.inner.protection_level().code());
                let mut caps = 0;
                if self.inner.supports_asymmetric() {
                    caps |= CAN_ASYMMETRIC;
                }
                if self.inner.supports_import() {
                    caps |= CAN_IMPORT;
                }
                w.u8(caps | CAN_DESTROY);
            }
            OP_GENERATE => {
                let spec = r.u8().and_then(KeySpec::from_code).ok_or_else(bad)?;
                let usage = usage_of(spec, r.u8())?;
                let h = self.inner.generate_for(spec, usage).await?;
                w.bytes16(&self.seal_handle(&h, spec, usage).await?);
            }
            OP_ENCRYPT => {
                let b = self.open_handle(r.bytes16().ok_or_else(bad)?).await?;
                let h = b.check(KeyUsage::EncryptDecrypt, None)?;
                let pt = r.bytes32().ok_or_else(bad)?;
                let aad = r.bytes32().ok_or_else(bad)?;
                let s = self.inner.encrypt(h, pt, aad).await?;
                w.raw(&s.nonce);
                w.bytes32(&s.ciphertext);
            }
            OP_DECRYPT => {
                let b = self.open_handle(r.bytes16().ok_or_else(bad)?).await?;
                let h = b.check(KeyUsage::EncryptDecrypt, None)?;
                let nonce = r.array::<12>().ok_or_else(bad)?;
                let ct = r.bytes32().ok_or_else(bad)?;
                let aad = r.bytes32().ok_or_else(bad)?;
                let pt = self.inner.decrypt(h, &nonce, ct, aad).await?;
                w.bytes32(pt.expose());
            }
            OP_PUBLIC_KEY => {
                let b = self.open_handle(r.bytes16().ok_or_else(bad)?).await?;
                let spec = r.u8().and_then(KeySpec::from_code).ok_or_else(bad)?;
                let h = b.check(b.usage, Some(spec))?;
                w.bytes16(&self.inner.public_key(h, spec).await?);
            }
            OP_SIGN => {
                let b = self.open_handle(r.bytes16().ok_or_else(bad)?).await?;
                let spec = r.u8().and_then(KeySpec::from_code).ok_or_else(bad)?;
                let h = b.check(KeyUsage::SignVerify, Some(spec))?;
                let alg = r
                    .u8()
                    .and_then(SigningAlgorithm::from_code)
                    .ok_or_else(bad)?;
                let digest = r.bytes16().ok_or_else(bad)?;
                crate::asym::check_signing(spec, alg)?;
                crate::asym::check_digest(digest)?;
                w.bytes16(&self.inner.sign(h, spec, alg, digest).await?);
            }
            OP_ASYM_DECRYPT => {
                let b = self.open_handle(r.bytes16().ok_or_else(bad)?).await?;
                let spec = r.u8().and_then(KeySpec::from_code).ok_or_else(bad)?;
                let h = b.check(KeyUsage::EncryptDecrypt, Some(spec))?;
                let alg = r
                    .u8()
                    .and_then(EncryptionAlgorithm::from_code)
                    .ok_or_else(bad)?;
                let ct = r.bytes16().ok_or_else(bad)?;
                let pt = self.inner.asymmetric_decrypt(h, spec, alg, ct).await?;
                w.bytes16(pt.expose());
            }
            OP_IMPORT => {
                let spec = r.u8().and_then(KeySpec::from_code).ok_or_else(bad)?;
                let material = SecretBytes::from_slice(r.bytes32().ok_or_else(bad)?);
                let usage = usage_of(spec, r.u8())?;
                let h = self.inner.import_for(spec, usage, &material).await?;
                w.bytes16(&self.seal_handle(&h, spec, usage).await?);
            }
            OP_DESTROY => {
                let b = self.open_handle(r.bytes16().ok_or_else(bad)?).await?;
                self.inner.destroy(&b.handle).await?;
            }
            _ => return Err(Error::BackendProtocol("unknown operation")),
        }
        Ok(Zeroizing::new(w.buf))
    }
}

/// The wire protocol over HTTP: each request is the body of a `POST` to `url` (a
/// `strongroom serve --backend-clients` gateway's `/strongroom-backend`, or any server
/// that hands the body to a [`BackendServer`] and answers with its bytes).
pub struct HttpTransport {
    http: Arc<dyn super::http::HttpClient>,
    url: String,
}

impl HttpTransport {
    /// A transport posting to `url` through `http`.
    #[must_use]
    pub fn new(http: Arc<dyn super::http::HttpClient>, url: impl Into<String>) -> HttpTransport {
        HttpTransport {
            http,
            url: url.into(),
        }
    }
}

impl core::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Transport for HttpTransport {
    fn round_trip<'a>(&'a self, request: Vec<u8>) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let req = Zeroizing::new(request);
            let a = self
                .http
                .send(super::http::HttpRequest {
                    method: "POST",
                    url: self.url.clone(),
                    headers: alloc::vec![(
                        String::from("content-type"),
                        String::from("application/octet-stream"),
                    )],
                    body: req.to_vec(),
                })
                .await?;
            if a.status != 200 {
                let text: String = String::from_utf8_lossy(&a.body).chars().take(300).collect();
                return Err(Error::BackendUnavailable(format!(
                    "the backend server answered HTTP {}: {text}",
                    a.status
                )));
            }
            Ok(a.body)
        })
    }
}

/// An in-process transport straight into a [`BackendServer`]: every call is really
/// encoded, awaited and decoded, which proves the async seam without a network.
#[derive(Debug, Clone)]
pub struct LoopbackTransport(pub Arc<BackendServer>);

impl Transport for LoopbackTransport {
    fn round_trip<'a>(&'a self, request: Vec<u8>) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let req = Zeroizing::new(request);
            Ok(self.0.handle(&req).await)
        })
    }
}
