//! strongroom's PKCS#11 key backend: each key version is a secret-key object generated
//! inside the token — `CKA_TOKEN`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE` — and used
//! there (AES-GCM through `C_Encrypt` / `C_Decrypt`), so the material never leaves the
//! device. The store keeps only a handle naming the object (`CKA_ID`).
//!
//! What this version does: symmetric keys (Aliyun_AES_256 / 192 / 128) with
//! ProtectionLevel HSM — CreateKey, rotation (a new object per version), Encrypt,
//! Decrypt, data keys, envelopes — over a pool of logged-in sessions, with clear codes
//! when the module, token or PIN is wrong (at open) and when the token goes away or an
//! object was deleted behind strongroom's back (per call). Asymmetric keys, BYOK via
//! `C_UnwrapKey`, destroying objects when deletion windows pass, and reconnecting a
//! dropped token are not built yet (docs/TIERS.md).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use strongroom::backend::{BoxFuture, KeyBackend, KeyHandle, Sealed};
use strongroom::{Error, KeySpec, ProtectionLevel, Result, SecretBytes};

/// The handle format: a magic and version, then the object's `CKA_ID`.
const HANDLE_MAGIC: &[u8; 4] = b"P11\x01";
const ID_LEN: usize = 16;

/// How to reach a token.
#[derive(Debug, Clone)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (`/usr/lib/softhsm/libsofthsm2.so`, a vendor's library, or
    /// p11-kit's client module for a remote token).
    pub module: std::path::PathBuf,
    /// The token's label.
    pub token_label: String,
    /// The user PIN.
    pub pin: SecretBytes,
    /// Sessions kept open for concurrent calls.
    pub sessions: usize,
}

/// A [`KeyBackend`] on a PKCS#11 token.
pub struct Pkcs11Backend {
    ctx: Pkcs11,
    slot: Slot,
    pin: SecretBytes,
    pool: Mutex<Vec<Session>>,
    label: String,
}

/// Token objects are made and destroyed while no other call of the process uses the
/// token (a write lock; calls take it shared): SoftHSM2's file store fails a change
/// made while another session reads with CKR_GENERAL_ERROR. Creation and destruction
/// are rare, so a real HSM loses nothing to this.
static TOKEN: std::sync::RwLock<()> = std::sync::RwLock::new(());

impl core::fmt::Debug for Pkcs11Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pkcs11Backend")
            .field("token", &self.label)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: &str, e: &CkError) -> Error {
    Error::BackendUnavailable(format!("PKCS#11 {what}: {e}"))
}

/// One initialised context per module in the process: `C_Initialize` may run once, and
/// dropping a context finalises the library for every user of it.
fn context(module: &Path) -> Result<Pkcs11> {
    static CONTEXTS: Mutex<Vec<(std::path::PathBuf, Pkcs11)>> = Mutex::new(Vec::new());
    let mut all = CONTEXTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, c)) = all.iter().find(|(p, _)| p == module) {
        return Ok(c.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| {
        Error::BackendUnavailable(format!(
            "cannot load the PKCS#11 module {}: {e}",
            module.display()
        ))
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(unavailable("C_Initialize", &e)),
    }
    all.push((module.to_path_buf(), ctx.clone()));
    Ok(ctx)
}

/// The hash of the PIN this process logged `slot` in with: set when `set` is given,
/// read otherwise.
fn logged_in(slot: Slot, set: Option<[u8; 32]>) -> Option<[u8; 32]> {
    static LOGINS: Mutex<Vec<(u64, [u8; 32])>> = Mutex::new(Vec::new());
    let mut all = LOGINS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let id = slot.id();
    if let Some(d) = set {
        all.retain(|(s, _)| *s != id);
        all.push((id, d));
        return Some(d);
    }
    all.iter().find(|(s, _)| *s == id).map(|(_, d)| *d)
}

fn pin_of(pin: &SecretBytes) -> Result<AuthPin> {
    let text = std::str::from_utf8(pin.expose()).map_err(|_| Error::InvalidParameter {
        name: "Pin",
        reason: "the PKCS#11 PIN must be UTF-8".into(),
    })?;
    Ok(AuthPin::from(text.to_string()))
}

impl Pkcs11Backend {
    /// Loads the module, finds the token by label and logs a session in.
    ///
    /// # Errors
    /// `Rejected.BackendUnavailable` naming what failed: the module does not load, no
    /// token has that label, or the PIN is wrong (`CKR_PIN_INCORRECT`).
    pub fn open(cfg: &Pkcs11Config) -> Result<Arc<Pkcs11Backend>> {
        let ctx = context(&cfg.module)?;
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| unavailable("C_GetSlotList", &e))?;
        let mut found = None;
        for s in slots {
            if let Ok(info) = ctx.get_token_info(s)
                && info.label().trim_end() == cfg.token_label
            {
                found = Some(s);
                break;
            }
        }
        let slot = found.ok_or_else(|| {
            Error::BackendUnavailable(format!(
                "no PKCS#11 token is labelled {:?}",
                cfg.token_label
            ))
        })?;
        let b = Pkcs11Backend {
            ctx,
            slot,
            pin: cfg.pin.clone(),
            pool: Mutex::new(Vec::new()),
            label: cfg.token_label.clone(),
        };
        // One session now: a wrong PIN is an error at open, not at the first call.
        let first = b.new_session()?;
        let mut pool = vec![first];
        for _ in 1..cfg.sessions.max(1) {
            pool.push(b.new_session()?);
        }
        *b.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = pool;
        Ok(Arc::new(b))
    }

    fn new_session(&self) -> Result<Session> {
        let s = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(|e| unavailable("C_OpenSession", &e))?;
        // The login state is the whole process's (PKCS#11 logs an application in,
        // not a session): once one backend logged in, a second one's C_Login answers
        // CKR_USER_ALREADY_LOGGED_IN whatever PIN it gives. The PIN that logged in is
        // remembered (as a hash) so that a wrong one is still refused.
        let digest: [u8; 32] = strongroom::vocab::sha256(self.pin.expose())
            .try_into()
            .unwrap_or([0; 32]);
        match s.login(UserType::User, Some(&pin_of(&self.pin)?)) {
            Ok(()) => {
                logged_in(self.slot, Some(digest));
                Ok(s)
            }
            Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                if logged_in(self.slot, None).is_some_and(|d| d == digest) {
                    Ok(s)
                } else {
                    Err(Error::BackendUnavailable(format!(
                        "the PKCS#11 PIN for token {:?} is wrong (another PIN is logged in)",
                        self.label
                    )))
                }
            }
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(Error::BackendUnavailable(
                format!("the PKCS#11 PIN for token {:?} is wrong", self.label),
            )),
            Err(e) => Err(unavailable("C_Login", &e)),
        }
    }

    /// Runs `f` with the object behind `handle`, in one pooled session, sharing the
    /// token with other calls.
    fn with_key<T>(
        &self,
        handle: &KeyHandle,
        f: impl FnOnce(&Session, ObjectHandle) -> core::result::Result<T, CkError>,
    ) -> Result<T> {
        let _shared = TOKEN
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.with_key_locked(handle, f)
    }

    /// [`Pkcs11Backend::with_key`] for a caller that holds the token lock.
    fn with_key_locked<T>(
        &self,
        handle: &KeyHandle,
        f: impl FnOnce(&Session, ObjectHandle) -> core::result::Result<T, CkError>,
    ) -> Result<T> {
        let id = Self::id_of(handle)?;
        let found = self.with_session_locked(|s| {
            Ok(match Self::find(s, &id)? {
                Some(key) => Some(f(s, key)?),
                None => None,
            })
        })?;
        found.ok_or_else(|| {
            Error::KeyNotFound(format!(
                "the PKCS#11 object {} is gone from token {:?} (deleted outside strongroom)",
                hex::encode(id),
                self.label
            ))
        })
    }

    /// Runs `f` with a pooled session (a new one when all are busy); a session that
    /// failed with a session or device error is dropped rather than returned. The
    /// caller holds the token lock.
    fn with_session_locked<T>(
        &self,
        f: impl FnOnce(&Session) -> core::result::Result<T, CkError>,
    ) -> Result<T> {
        let taken = self
            .pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let session = match taken {
            Some(s) => s,
            None => self.new_session()?,
        };
        let out = f(&session);
        let broken = matches!(
            &out,
            Err(CkError::Pkcs11(
                RvError::SessionHandleInvalid
                    | RvError::SessionClosed
                    | RvError::DeviceRemoved
                    | RvError::DeviceError
                    | RvError::TokenNotPresent
                    | RvError::UserNotLoggedIn,
                _
            ))
        );
        if !broken {
            self.pool
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(session);
        }
        out.map_err(|e| match e {
            CkError::Pkcs11(RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange, _) => {
                Error::InvalidCiphertext
            }
            e => unavailable("call", &e),
        })
    }

    fn id_of(handle: &KeyHandle) -> Result<[u8; ID_LEN]> {
        let h = handle.0.expose();
        h.strip_prefix(HANDLE_MAGIC.as_slice())
            .and_then(|id| <[u8; ID_LEN]>::try_from(id).ok())
            .ok_or(Error::BackendProtocol(
                "this key version's handle is not a PKCS#11 object reference",
            ))
    }

    fn find(session: &Session, id: &[u8]) -> core::result::Result<Option<ObjectHandle>, CkError> {
        let found = session.find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Id(id.to_vec()),
        ])?;
        Ok(found.first().copied())
    }

    /// Whether the object behind `handle` exists and is sensitive and not extractable
    /// (what [`KeyBackend::generate`] asks for).
    ///
    /// # Errors
    /// As every call.
    pub fn is_locked_in(&self, handle: &KeyHandle) -> Result<bool> {
        let attrs = self.with_key(handle, |s, key| {
            s.get_attributes(
                key,
                &[
                    cryptoki::object::AttributeType::Sensitive,
                    cryptoki::object::AttributeType::Extractable,
                ],
            )
        })?;
        let mut sensitive = false;
        let mut extractable = true;
        for a in attrs {
            match a {
                Attribute::Sensitive(v) => sensitive = v,
                Attribute::Extractable(v) => extractable = v,
                _ => {}
            }
        }
        Ok(sensitive && !extractable)
    }

    /// Destroys the object behind `handle` (what deletion does once its window has
    /// passed; also what a test does to delete a key behind strongroom's back).
    ///
    /// # Errors
    /// As every call; `Forbidden.KeyNotFound` when it is already gone.
    pub fn destroy(&self, handle: &KeyHandle) -> Result<()> {
        let _alone = TOKEN
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.with_key_locked(handle, |s, key| s.destroy_object(key))
    }

    fn generate_now(&self, spec: KeySpec) -> Result<KeyHandle> {
        let len: u64 = match spec {
            KeySpec::Aes256 => 32,
            KeySpec::Aes192 => 24,
            KeySpec::Aes128 => 16,
            _ => {
                return Err(Error::Unsupported(
                    "the PKCS#11 backend holds symmetric keys only (RSA and EC keys in the token are not built yet)",
                ));
            }
        };
        let mut id = [0u8; ID_LEN];
        getrandom::fill(&mut id).map_err(|_| Error::EntropyUnavailable)?;
        let label = format!("strongroom:{}", hex::encode(id));
        let _alone = TOKEN
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.with_session_locked(|s| {
            s.generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                    Attribute::Wrap(false),
                    Attribute::Unwrap(false),
                    Attribute::ValueLen(len.into()),
                    Attribute::Id(id.to_vec()),
                    Attribute::Label(label.into_bytes()),
                ],
            )
        })?;
        let mut h = HANDLE_MAGIC.to_vec();
        h.extend_from_slice(&id);
        Ok(KeyHandle(SecretBytes::new(h)))
    }
}

impl KeyBackend for Pkcs11Backend {
    fn protection_level(&self) -> ProtectionLevel {
        ProtectionLevel::Hsm
    }

    fn generate<'a>(&'a self, spec: KeySpec) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move { self.generate_now(spec) })
    }

    fn encrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Sealed>> {
        Box::pin(async move {
            let mut nonce = [0u8; 12];
            getrandom::fill(&mut nonce).map_err(|_| Error::EntropyUnavailable)?;
            let mut iv = nonce;
            let ciphertext = self.with_key(handle, |s, key| {
                let params = GcmParams::new(&mut iv, aad, 128.into())?;
                s.encrypt(&Mechanism::AesGcm(params), key, plaintext)
            })?;
            Ok(Sealed { nonce, ciphertext })
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
            let mut iv = *nonce;
            let plain = self.with_key(handle, |s, key| {
                let params = GcmParams::new(&mut iv, aad, 128.into())?;
                match s.decrypt(&Mechanism::AesGcm(params), key, ciphertext) {
                    Ok(p) => Ok(Ok(p)),
                    // A tag that does not verify: CKR_ENCRYPTED_DATA_INVALID by the
                    // standard; SoftHSM2 answers CKR_GENERAL_ERROR (a dead token
                    // answers CKR_DEVICE_* / CKR_SESSION_* / CKR_TOKEN_NOT_PRESENT).
                    Err(CkError::Pkcs11(
                        RvError::EncryptedDataInvalid
                        | RvError::EncryptedDataLenRange
                        | RvError::GeneralError
                        | RvError::FunctionFailed,
                        _,
                    )) => Ok(Err(Error::InvalidCiphertext)),
                    Err(e) => Err(e),
                }
            })??;
            Ok(SecretBytes::new(plain))
        })
    }
}
