//! strongroom's PKCS#11 key backend: each key version is a secret-key object generated
//! inside the token — `CKA_TOKEN`, `CKA_SENSITIVE`, not `CKA_EXTRACTABLE` — and used
//! there (AES-GCM through `C_Encrypt` / `C_Decrypt`), so the material never leaves the
//! device. The store keeps only a handle naming the object (`CKA_ID`).
//!
//! What this version does, with ProtectionLevel HSM, over a pool of logged-in
//! sessions:
//! - AES keys (Aliyun_AES_256 / 192 / 128): CreateKey, rotation (a new object per
//!   version), Encrypt, Decrypt, data keys, envelopes.
//! - RSA_2048/3072/4096, EC_P256 and EC_P256K key pairs: signing (`CKM_RSA_PKCS_PSS`,
//!   `CKM_RSA_PKCS`, `CKM_ECDSA` over strongroom's SHA-256 digest), public keys from the
//!   token's attributes, RSA-OAEP decryption.
//! - Clear codes when the module, token or PIN is wrong (at open), and when the token
//!   goes away or an object was deleted behind strongroom's back (per call).
//!
//! - A deletion carried out (its window passed) destroys the key's objects.
//!
//! - Reconnecting after the token (or the RPC server in front of it) went away, and
//!   found object handles cached by `CKA_ID` ([`Pkcs11Backend::set_handle_check`]).
//!
//! - BYOK of AES material and RSA private keys through `C_UnwrapKey` with a wrapping
//!   key pair made in the token ([`KeyBackend::unwrap_import`]): the material never
//!   enters strongroom.
//!
//! Not built (docs/TIERS.md): BYOK of EC keys into the token.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::object::AttributeType;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use strongroom::backend::{BoxFuture, KeyBackend, KeyHandle, Sealed};
use strongroom::{
    EncryptionAlgorithm, Error, KeySpec, ProtectionLevel, Result, SecretBytes, SigningAlgorithm,
};

mod spki;
#[cfg(feature = "testing")]
pub mod testing;

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
    module: std::path::PathBuf,
    /// The token's slot (found again by label after a reconnect).
    slot: Mutex<Slot>,
    /// A call saw the token, or the server in front of it, go away: the next call
    /// reconnects first (see [`Pkcs11Backend::reconnect`]).
    broken: std::sync::atomic::AtomicBool,
    /// The module's initialization this backend's sessions belong to (see
    /// [`module_generation`]).
    generation: std::sync::atomic::AtomicU64,
    /// The key specs the token's mechanism list allows (DescribeService, CreateKey).
    specs: Vec<KeySpec>,
    pin: SecretBytes,
    pool: Mutex<Vec<Session>>,
    label: String,
    /// Object handles found by `CKA_ID` (and class), with when each was last checked,
    /// so that a call does not search the token each time (C_FindObjects costs
    /// SoftHSM2 more than the AES-GCM itself). See [`Pkcs11Backend::set_handle_check`].
    /// Cleared on reconnect; entries dropped on destroy.
    handles: Mutex<HandleCache>,
    /// How long a checked handle is used without checking it again.
    handle_check: Mutex<std::time::Duration>,
}

/// Found object handles by (class, `CKA_ID`), with when each was last checked.
type HandleCache =
    std::collections::HashMap<(u64, [u8; ID_LEN]), (ObjectHandle, std::time::Instant)>;

/// A cached handle is used without re-checking its `CKA_ID` for this long by default.
pub const DEFAULT_HANDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// The key specs a token with these mechanisms can make and use: AES keys with
/// CKM_AES_KEY_GEN (a token without CKM_AES_GCM refuses their use naming it), RSA pairs
/// with CKM_RSA_PKCS_KEY_PAIR_GEN and a signature or OAEP mechanism, EC pairs with
/// CKM_EC_KEY_PAIR_GEN and CKM_ECDSA.
fn token_specs(mechs: &[MechanismType]) -> Vec<KeySpec> {
    let has = |m: MechanismType| mechs.contains(&m);
    let mut out = Vec::new();
    if has(MechanismType::AES_KEY_GEN) {
        out.extend([KeySpec::Aes256, KeySpec::Aes192, KeySpec::Aes128]);
    }
    if has(MechanismType::RSA_PKCS_KEY_PAIR_GEN)
        && (has(MechanismType::RSA_PKCS_PSS)
            || has(MechanismType::RSA_PKCS)
            || has(MechanismType::RSA_PKCS_OAEP))
    {
        out.extend([KeySpec::Rsa2048, KeySpec::Rsa3072, KeySpec::Rsa4096]);
    }
    if has(MechanismType::ECC_KEY_PAIR_GEN) && has(MechanismType::ECDSA) {
        out.extend([KeySpec::EcP256, KeySpec::EcP256K]);
    }
    out
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
static LOGINS: Mutex<Vec<(u64, [u8; 32])>> = Mutex::new(Vec::new());

fn logged_in_clear() {
    LOGINS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
}

fn logged_in(slot: Slot, set: Option<[u8; 32]>) -> Option<[u8; 32]> {
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

/// Whether an error says the token, or the server in front of it, went away (a
/// reconnect may bring it back), rather than that one call failed.
fn gone(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::CryptokiNotInitialized,
            _
        )
    )
}

/// How many times this process re-initialized `module` (after its token went away);
/// with `bump`, one more.
fn module_generation(module: &Path, bump: bool) -> u64 {
    static GENERATIONS: Mutex<Vec<(std::path::PathBuf, u64)>> = Mutex::new(Vec::new());
    let mut all = GENERATIONS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let slot = match all.iter().position(|(p, _)| p == module) {
        Some(i) => i,
        None => {
            all.push((module.to_path_buf(), 0));
            all.len() - 1
        }
    };
    let Some(entry) = all.get_mut(slot) else {
        return 0;
    };
    if bump {
        entry.1 += 1;
    }
    entry.1
}

/// Forgets every login: after C_Finalize the process is logged in nowhere.
fn forget_logins() {
    logged_in_clear();
}

/// The slot holding the token labelled `label`.
fn find_slot(ctx: &Pkcs11, label: &str, module: &Path) -> Result<Slot> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| unavailable("C_GetSlotList", &e))?;
    for s in slots {
        if let Ok(info) = ctx.get_token_info(s)
            && info.label().trim_end() == label
        {
            return Ok(s);
        }
    }
    Err(Error::BackendUnavailable(format!(
        "no PKCS#11 token labelled {label:?} in {}",
        module.display()
    )))
}

/// A token, or the RPC in front of it (p11-kit 0.24's does not carry GCM parameters),
/// without AES-GCM.
fn no_gcm() -> Error {
    Error::Unsupported(
        "this PKCS#11 token, or the RPC in front of it, has no CKM_AES_GCM: keep symmetric keys in a token that has it",
    )
}

/// Whether a failed `C_Decrypt` refused the ciphertext (GCM tag, OAEP padding):
/// CKR_ENCRYPTED_DATA_INVALID / _LEN_RANGE by the standard; SoftHSM2 answers
/// CKR_GENERAL_ERROR or CKR_FUNCTION_FAILED. A dead token answers CKR_DEVICE_*,
/// CKR_SESSION_* or CKR_TOKEN_NOT_PRESENT instead, which stay backend errors.
fn decryption_refused(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::EncryptedDataInvalid
            | RvError::EncryptedDataLenRange
            | RvError::GeneralError
            | RvError::FunctionFailed
    )
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
        let specs = token_specs(&ctx.get_mechanism_list(slot).unwrap_or_default());
        let b = Pkcs11Backend {
            ctx,
            module: cfg.module.clone(),
            slot: Mutex::new(slot),
            broken: std::sync::atomic::AtomicBool::new(false),
            generation: std::sync::atomic::AtomicU64::new(module_generation(&cfg.module, false)),
            specs,
            pin: cfg.pin.clone(),
            pool: Mutex::new(Vec::new()),
            handles: Mutex::new(std::collections::HashMap::new()),
            handle_check: Mutex::new(DEFAULT_HANDLE_CHECK),
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

    fn slot(&self) -> Slot {
        *self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn new_session(&self) -> Result<Session> {
        let slot = self.slot();
        let s = self.ctx.open_rw_session(slot).map_err(|e| {
            if gone(&e) {
                self.broken
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            unavailable("C_OpenSession", &e)
        })?;
        // The login state is the whole process's (PKCS#11 logs an application in,
        // not a session): once one backend logged in, a second one's C_Login answers
        // CKR_USER_ALREADY_LOGGED_IN whatever PIN it gives. The PIN that logged in is
        // remembered (as a hash) so that a wrong one is still refused.
        let digest: [u8; 32] = strongroom::vocab::sha256(self.pin.expose())
            .try_into()
            .unwrap_or([0; 32]);
        // One login at a time, so the PIN that logged in is recorded before another
        // session can see CKR_USER_ALREADY_LOGGED_IN.
        static LOGIN: Mutex<()> = Mutex::new(());
        let _one = LOGIN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match s.login(UserType::User, Some(&pin_of(&self.pin)?)) {
            Ok(()) => {
                logged_in(slot, Some(digest));
                Ok(s)
            }
            Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                if logged_in(slot, None).is_some_and(|d| d == digest) {
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
        f: impl Fn(&Session, ObjectHandle) -> core::result::Result<T, CkError>,
    ) -> Result<T> {
        self.with_object(handle, ObjectClass::SECRET_KEY, f)
    }

    /// [`Pkcs11Backend::with_key`] for an object of `class` (a key pair's halves share
    /// their `CKA_ID`).
    /// When the token (or the server in front of it) went away, the module is
    /// reconnected first and, if the call fails that way, reconnected and tried once
    /// more: a long-running process recovers when the token comes back.
    fn with_object<T>(
        &self,
        handle: &KeyHandle,
        class: ObjectClass,
        f: impl Fn(&Session, ObjectHandle) -> core::result::Result<T, CkError>,
    ) -> Result<T> {
        use std::sync::atomic::Ordering;
        if self.broken.load(Ordering::Relaxed) {
            self.reconnect()?;
        }
        let first = {
            let _shared = TOKEN
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.with_object_locked(handle, class, &f)
        };
        if first.is_err() && self.broken.load(Ordering::Relaxed) {
            self.reconnect()?;
            let _shared = TOKEN
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            return self.with_object_locked(handle, class, &f);
        }
        first
    }

    /// Reconnects to the token after it (or the RPC server in front of it) went away:
    /// with no other call of the process using the token, drops every pooled session,
    /// finalizes and initializes the module again (p11-kit's client module reconnects
    /// in C_Initialize), finds the token by label and logs in. Fails with
    /// `Rejected.BackendUnavailable` while the token is still away; a later call tries
    /// again.
    fn reconnect(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        let _alone = TOKEN
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.broken.load(Ordering::Relaxed) {
            return Ok(()); // another call reconnected meanwhile
        }
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        self.handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        // Another backend of this process on the same module may have re-initialized
        // it already: then only this one's sessions and login are renewed.
        let current = module_generation(&self.module, false);
        if self.generation.load(Ordering::Relaxed) == current {
            let _ = self.ctx.clone().finalize();
            match self
                .ctx
                .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            {
                Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
                Err(e) => return Err(unavailable("C_Initialize", &e)),
            }
            forget_logins();
            self.generation
                .store(module_generation(&self.module, true), Ordering::Relaxed);
        } else {
            self.generation.store(current, Ordering::Relaxed);
        }
        let slot = find_slot(&self.ctx, &self.label, &self.module)?;
        *self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = slot;
        let s = self.new_session()?;
        self.pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(s);
        self.broken.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// [`Pkcs11Backend::with_object`] for a caller that holds the token lock.
    fn with_object_locked<T>(
        &self,
        handle: &KeyHandle,
        class: ObjectClass,
        f: impl Fn(&Session, ObjectHandle) -> core::result::Result<T, CkError>,
    ) -> Result<T> {
        let id = Self::id_of(handle)?;
        let slot = (u64::from(class), id);
        let cached = self
            .handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&slot)
            .copied();
        let check = *self
            .handle_check
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let forget = || {
            self.handles
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&slot);
        };
        let found = self.with_session_locked(|s| {
            if let Some((key, checked)) = cached {
                // Checked recently: used as is. Otherwise it must still name an object
                // with this CKA_ID (an object deleted outside strongroom frees its
                // handle, which a token may give to another object).
                let fresh = checked.elapsed() < check || {
                    let same = matches!(
                        s.get_attributes(key, &[AttributeType::Id]).as_deref(),
                        Ok([Attribute::Id(got)]) if got.as_slice() == id.as_slice()
                    );
                    if same {
                        self.handles
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(slot, (key, std::time::Instant::now()));
                    }
                    same
                };
                if fresh {
                    match f(s, key) {
                        // The handle went stale within the interval: search again.
                        Err(CkError::Pkcs11(
                            RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid,
                            _,
                        )) => forget(),
                        other => return other.map(Some),
                    }
                } else {
                    forget();
                }
            }
            Ok(match Self::find(s, &id, class)? {
                Some(key) => {
                    self.handles
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(slot, (key, std::time::Instant::now()));
                    Some(f(s, key)?)
                }
                None => {
                    forget();
                    None
                }
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
        if broken {
            // The other pooled sessions went with it: reconnect before the next call.
            if let Err(e) = &out
                && gone(e)
            {
                self.broken
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        } else {
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

    /// How long a key object's handle, once found or checked, is used without checking
    /// again that it still names the object with that `CKA_ID` (default 1 s; zero
    /// checks before every use). Within the interval, an object deleted outside
    /// strongroom whose handle the token gave to a new object could be used in its
    /// place; a handle the token reports invalid is searched again at once. Deletions
    /// strongroom carries out drop their handles at once.
    pub fn set_handle_check(&self, interval: std::time::Duration) {
        *self
            .handle_check
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = interval;
    }

    fn id_of(handle: &KeyHandle) -> Result<[u8; ID_LEN]> {
        let h = handle.0.expose();
        h.strip_prefix(HANDLE_MAGIC.as_slice())
            .and_then(|id| <[u8; ID_LEN]>::try_from(id).ok())
            .ok_or(Error::BackendProtocol(
                "this key version's handle is not a PKCS#11 object reference",
            ))
    }

    fn find(
        session: &Session,
        id: &[u8],
        class: ObjectClass,
    ) -> core::result::Result<Option<ObjectHandle>, CkError> {
        let found = session.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])?;
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

    /// The `CKA_ID`s of every strongroom object in the token (labelled
    /// `strongroom:<id>`), each once: what the token holds for its stores.
    ///
    /// # Errors
    /// As every call.
    pub fn object_ids(&self) -> Result<Vec<String>> {
        self.labelled("strongroom:")
    }

    /// The `CKA_ID`s of the BYOK wrapping key pairs in the token (labelled
    /// `strongroom-import:<id>`): made by GetParametersForImport, destroyed when used,
    /// superseded or their key deleted.
    ///
    /// # Errors
    /// As every call.
    pub fn wrapping_key_ids(&self) -> Result<Vec<String>> {
        self.labelled("strongroom-import:")
    }

    fn labelled(&self, prefix: &str) -> Result<Vec<String>> {
        let _shared = TOKEN
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let labels = self.with_session_locked(|s| {
            let mut out = Vec::new();
            for o in s.find_objects(&[Attribute::Token(true)])? {
                for a in s.get_attributes(o, &[AttributeType::Label])? {
                    if let Attribute::Label(l) = a {
                        out.push(l);
                    }
                }
            }
            Ok(out)
        })?;
        let mut ids: Vec<String> = labels
            .iter()
            .filter_map(|l| {
                std::str::from_utf8(l)
                    .ok()?
                    .strip_prefix(prefix)
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Destroys the object(s) behind `handle`: what deletion does once its window
    /// has passed ([`KeyBackend::destroy`]), and what a test does to delete a key
    /// behind strongroom's back.
    ///
    /// # Errors
    /// As every call; `Forbidden.KeyNotFound` when it is already gone.
    pub fn destroy_now(&self, handle: &KeyHandle) -> Result<()> {
        let _alone = TOKEN
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = Self::id_of(handle)?;
        self.handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(_, i), _| *i != id);
        self.with_session_locked(|s| {
            let mut any = false;
            for class in [
                ObjectClass::SECRET_KEY,
                ObjectClass::PRIVATE_KEY,
                ObjectClass::PUBLIC_KEY,
            ] {
                if let Some(o) = Self::find(s, &id, class)? {
                    s.destroy_object(o)?;
                    any = true;
                }
            }
            Ok(any)
        })?
        .then_some(())
        .ok_or_else(|| {
            Error::KeyNotFound(format!(
                "the PKCS#11 object {} is gone from token {:?}",
                hex::encode(id),
                self.label
            ))
        })
    }

    /// An RSA or EC key pair in the token: the private half sensitive and not
    /// extractable; both halves share the `CKA_ID`.
    fn generate_pair(&self, spec: KeySpec, id: [u8; ID_LEN]) -> Result<KeyHandle> {
        let label = format!("strongroom:{}", hex::encode(id)).into_bytes();
        let (mech, mut public) = match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let bits: u64 = match spec {
                    KeySpec::Rsa2048 => 2048,
                    KeySpec::Rsa3072 => 3072,
                    _ => 4096,
                };
                (
                    Mechanism::RsaPkcsKeyPairGen,
                    vec![
                        Attribute::ModulusBits(bits.into()),
                        Attribute::PublicExponent(vec![1, 0, 1]),
                        Attribute::Encrypt(true),
                    ],
                )
            }
            KeySpec::EcP256 => (
                Mechanism::EccKeyPairGen,
                vec![Attribute::EcParams(spki::P256_OID.to_vec())],
            ),
            KeySpec::EcP256K => (
                Mechanism::EccKeyPairGen,
                vec![Attribute::EcParams(spki::K256_OID.to_vec())],
            ),
            _ => {
                return Err(Error::Unsupported(
                    "the PKCS#11 backend cannot make keys of this spec",
                ));
            }
        };
        let rsa = matches!(mech, Mechanism::RsaPkcsKeyPairGen);
        public.extend([
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.clone()),
        ]);
        let mut private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label),
        ];
        if rsa {
            private.push(Attribute::Decrypt(true));
        }
        let _alone = TOKEN
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.with_session_locked(|s| s.generate_key_pair(&mech, &public, &private))
            .map_err(|e| match e {
                Error::BackendUnavailable(m)
                    if m.contains("MechanismInvalid")
                        || m.contains("CurveNotSupported")
                        || m.contains("DomainParamsInvalid") =>
                {
                    Error::Unsupported("this PKCS#11 token cannot make keys of this spec")
                }
                e => e,
            })?;
        let mut h = HANDLE_MAGIC.to_vec();
        h.extend_from_slice(&id);
        Ok(KeyHandle(SecretBytes::new(h)))
    }

    fn generate_now(&self, spec: KeySpec) -> Result<KeyHandle> {
        let mut id = [0u8; ID_LEN];
        getrandom::fill(&mut id).map_err(|_| Error::EntropyUnavailable)?;
        let len: u64 = match spec {
            KeySpec::Aes256 => 32,
            KeySpec::Aes192 => 24,
            KeySpec::Aes128 => 16,
            _ => return self.generate_pair(spec, id),
        };
        let label = format!("strongroom:{}", hex::encode(id));
        let _alone = TOKEN
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut template = aes_key_template(id, label);
        template.push(Attribute::ValueLen(len.into()));
        self.with_session_locked(|s| s.generate_key(&Mechanism::AesKeyGen, &template))?;
        let mut h = HANDLE_MAGIC.to_vec();
        h.extend_from_slice(&id);
        Ok(KeyHandle(SecretBytes::new(h)))
    }
}

impl Pkcs11Backend {
    /// An RSA key pair in the token for one BYOK import: the private half only unwraps
    /// (no decrypt, no sign), is sensitive and never leaves the token.
    fn import_wrapping_key_now(&self, spec: KeySpec) -> Result<(KeyHandle, Vec<u8>)> {
        if spec != KeySpec::Rsa2048 {
            return Err(Error::Unsupported("the import wrapping key is RSA_2048"));
        }
        let mut id = [0u8; ID_LEN];
        getrandom::fill(&mut id).map_err(|_| Error::EntropyUnavailable)?;
        let label = format!("strongroom-import:{}", hex::encode(id)).into_bytes();
        let public = [
            Attribute::Token(true),
            Attribute::ModulusBits(2048u64.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Wrap(true),
            Attribute::Encrypt(false),
            Attribute::Verify(false),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.clone()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Unwrap(true),
            Attribute::Decrypt(false),
            Attribute::Sign(false),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label),
        ];
        let spki = {
            let _alone = TOKEN
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.with_session_locked(|s| {
                let (public_key, _) =
                    s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)?;
                s.get_attributes(
                    public_key,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
            })?
        };
        let (mut n, mut e) = (None, None);
        for a in spki {
            match a {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        let (Some(n), Some(e)) = (n, e) else {
            return Err(Error::BackendProtocol(
                "the token's wrapping public key attributes are malformed",
            ));
        };
        let mut h = HANDLE_MAGIC.to_vec();
        h.extend_from_slice(&id);
        Ok((KeyHandle(SecretBytes::new(h)), spki::rsa(&n, &e)))
    }

    /// C_UnwrapKey of an imported RSA private key (PKCS#8 under RSA_AES_KEY_WRAP) into a
    /// sensitive, non-extractable private key object, and its public half made from the
    /// modulus and exponent the token reads from it. The check value is the public key.
    #[allow(clippy::too_many_arguments)]
    fn unwrap_rsa_now(
        &self,
        wrapping: &KeyHandle,
        rsa: &Mechanism<'_>,
        wrapped: &[u8],
        spec: KeySpec,
        usage: strongroom::KeyUsage,
        id: [u8; ID_LEN],
        label: String,
    ) -> Result<(KeyHandle, Vec<u8>)> {
        let bits: usize = match spec {
            KeySpec::Rsa2048 => 2048,
            KeySpec::Rsa3072 => 3072,
            _ => 4096,
        };
        let sign = usage == strongroom::KeyUsage::SignVerify;
        let private = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(sign),
            Attribute::Decrypt(!sign),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.clone().into_bytes()),
        ];
        let outcome = self.with_object(wrapping, ObjectClass::PRIVATE_KEY, |s, unwrapping| {
            let key = match unwrap_key_wrapped(s, rsa, unwrapping, wrapped, &private)? {
                Ok(k) => k,
                Err(e) => return Ok(Err(e)),
            };
            let (mut n, mut e) = (Vec::new(), Vec::new());
            for a in s.get_attributes(
                key,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )? {
                match a {
                    Attribute::Modulus(v) => n = v,
                    Attribute::PublicExponent(v) => e = v,
                    _ => {}
                }
            }
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant * 8 != bits || e.is_empty() {
                let _ = s.destroy_object(key);
                return Ok(Err(Error::InvalidParameter {
                    name: "EncryptedKeyMaterial",
                    reason: format!("{spec} key material is a {bits}-bit RSA private key"),
                }));
            }
            let public = [
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::RSA),
                Attribute::Token(true),
                Attribute::Modulus(n.clone()),
                Attribute::PublicExponent(e.clone()),
                Attribute::Verify(sign),
                Attribute::Encrypt(!sign),
                Attribute::Id(id.to_vec()),
                Attribute::Label(label.clone().into_bytes()),
            ];
            if let Err(err) = s.create_object(&public) {
                let _ = s.destroy_object(key);
                return Err(err);
            }
            Ok(Ok(spki::rsa(&n, &e)))
        })?;
        let check = outcome?;
        let mut h = HANDLE_MAGIC.to_vec();
        h.extend_from_slice(&id);
        Ok((KeyHandle(SecretBytes::new(h)), check))
    }

    /// C_UnwrapKey of imported AES material into a new token key (sensitive, not
    /// extractable), and its key check value (AES-ECB of a zero block, in the token).
    fn unwrap_import_now(
        &self,
        wrapping: &KeyHandle,
        oaep: EncryptionAlgorithm,
        key_wrap: bool,
        wrapped: &[u8],
        spec: KeySpec,
        usage: strongroom::KeyUsage,
    ) -> Result<(KeyHandle, Vec<u8>)> {
        let len = match spec.symmetric_key_len() {
            Some(len) => Some(len),
            None if matches!(spec, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096) => None,
            None => {
                return Err(Error::Unsupported(
                    "BYOK of EC keys into a PKCS#11 token is not built (a token does not give an EC private key's public point): import them at ProtectionLevel SOFTWARE",
                ));
            }
        };
        let (hash, mgf) = match oaep {
            EncryptionAlgorithm::RsaesOaepSha256 => {
                (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256)
            }
            EncryptionAlgorithm::RsaesOaepSha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
            _ => {
                return Err(Error::Unsupported(
                    "the PKCS#11 backend unwraps with RSAES-OAEP only",
                ));
            }
        };
        let rsa = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()));
        let mut id = [0u8; ID_LEN];
        getrandom::fill(&mut id).map_err(|_| Error::EntropyUnavailable)?;
        let label = format!("strongroom:{}", hex::encode(id));
        let Some(len) = len else {
            return self.unwrap_rsa_now(wrapping, &rsa, wrapped, spec, usage, id, label);
        };
        // The length comes from the material (SoftHSM2 refuses CKA_VALUE_LEN here).
        let mut template = aes_key_template(id, label);
        template.push(Attribute::KeyType(KeyType::AES));
        let outcome = self.with_object(wrapping, ObjectClass::PRIVATE_KEY, |s, private| {
            let key = if key_wrap {
                match unwrap_key_wrapped(s, &rsa, private, wrapped, &template)? {
                    Ok(k) => k,
                    Err(e) => return Ok(Err(e)),
                }
            } else {
                match s.unwrap_key(&rsa, private, wrapped, &template) {
                    Ok(k) => k,
                    Err(e) => return unwrap_failure(e).map(Err),
                }
            };
            // The material's length is the spec's, or the object goes. A token that
            // does not report CKA_VALUE_LEN for unwrapped keys (SoftHSM2 says 0) is
            // checked by the key-wrap layer's length, which gives the material's;
            // RSA-OAEP alone does not (docs/API.md).
            let got = s.get_attributes(key, &[AttributeType::ValueLen])?;
            let reported = match got.as_slice() {
                [Attribute::ValueLen(n)] => u64::from(*n),
                _ => 0,
            };
            let fits = match reported {
                0 if key_wrap => wrapped.len().checked_sub(256) == Some(8 + len.div_ceil(8) * 8),
                0 => true,
                n => n == len as u64,
            };
            if !fits {
                let _ = s.destroy_object(key);
                return Ok(Err(Error::InvalidParameter {
                    name: "EncryptedKeyMaterial",
                    reason: format!("{spec} key material is {len} bytes"),
                }));
            }
            match s.encrypt(&Mechanism::AesEcb, key, &[0u8; 16]) {
                Ok(kcv) => Ok(Ok(kcv)),
                Err(e) => {
                    let _ = s.destroy_object(key);
                    Err(e)
                }
            }
        })?;
        let kcv = outcome?;
        let mut h = HANDLE_MAGIC.to_vec();
        h.extend_from_slice(&id);
        Ok((KeyHandle(SecretBytes::new(h)), kcv))
    }
}

/// A strongroom AES key object: in the token, private, sensitive, never extractable,
/// for Encrypt and Decrypt only (generated, or unwrapped from imported material).
fn aes_key_template(id: [u8; ID_LEN], label: String) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.into_bytes()),
    ]
}

/// RSA_AES_KEY_WRAP inside the token: RSA-OAEP (`rsa`) with `unwrapping` carries a
/// fresh AES-256 key (a session object, destroyed at once), and CKM_AES_KEY_WRAP_PAD
/// under it carries the material into a new object of `template`. Refusals as
/// [`unwrap_failure`] says.
fn unwrap_key_wrapped(
    s: &Session,
    rsa: &Mechanism<'_>,
    unwrapping: ObjectHandle,
    wrapped: &[u8],
    template: &[Attribute],
) -> core::result::Result<core::result::Result<ObjectHandle, Error>, CkError> {
    let Some((head, body)) = wrapped.split_at_checked(256) else {
        return Ok(Err(not_unwrapped()));
    };
    let ephemeral = match s.unwrap_key(
        rsa,
        unwrapping,
        head,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Unwrap(true),
        ],
    ) {
        Ok(k) => k,
        Err(e) => return unwrap_failure(e).map(Err),
    };
    let k = s.unwrap_key(&Mechanism::AesKeyWrapPad, ephemeral, body, template);
    let _ = s.destroy_object(ephemeral);
    match k {
        Ok(k) => Ok(Ok(k)),
        Err(e) => unwrap_failure(e).map(Err),
    }
}

/// One answer for every way the material fails to unwrap (no oracle on the padding).
fn not_unwrapped() -> Error {
    Error::InvalidParameter {
        name: "EncryptedKeyMaterial",
        reason: "does not unwrap with this token's wrapping key and the token's algorithm".into(),
    }
}

/// A C_UnwrapKey failure: the mechanism the token lacks, or material that does not
/// unwrap; other errors (the token gone) pass through.
fn unwrap_failure(e: CkError) -> core::result::Result<Error, CkError> {
    match e {
        CkError::Pkcs11(
            RvError::MechanismInvalid | RvError::MechanismParamInvalid | RvError::ArgumentsBad,
            _,
        ) => Ok(Error::Unsupported(
            "this PKCS#11 token cannot C_UnwrapKey with CKM_RSA_PKCS_OAEP and these parameters (SoftHSM2 2.6 has OAEP with SHA-1 only): use RSAES_OAEP_SHA_1 / RSA_AES_KEY_WRAP_SHA_1",
        )),
        CkError::Pkcs11(
            RvError::EncryptedDataInvalid
            | RvError::EncryptedDataLenRange
            | RvError::WrappedKeyInvalid
            | RvError::WrappedKeyLenRange
            | RvError::KeySizeRange
            | RvError::TemplateInconsistent
            | RvError::DataInvalid
            | RvError::DataLenRange
            | RvError::GeneralError,
            _,
        ) => Ok(not_unwrapped()),
        e => Err(e),
    }
}

impl KeyBackend for Pkcs11Backend {
    fn protection_level(&self) -> ProtectionLevel {
        ProtectionLevel::Hsm
    }

    fn out_of_process(&self) -> bool {
        true
    }

    fn generate<'a>(&'a self, spec: KeySpec) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move { self.generate_now(spec) })
    }

    fn unwraps_imports(&self) -> bool {
        true
    }

    fn import_wrapping_key<'a>(
        &'a self,
        spec: KeySpec,
    ) -> BoxFuture<'a, Result<(KeyHandle, Vec<u8>)>> {
        Box::pin(async move { self.import_wrapping_key_now(spec) })
    }

    fn unwrap_import<'a>(
        &'a self,
        wrapping: &'a KeyHandle,
        oaep: EncryptionAlgorithm,
        key_wrap: bool,
        wrapped: &'a [u8],
        spec: KeySpec,
        usage: strongroom::KeyUsage,
    ) -> BoxFuture<'a, Result<(KeyHandle, Vec<u8>)>> {
        Box::pin(
            async move { self.unwrap_import_now(wrapping, oaep, key_wrap, wrapped, spec, usage) },
        )
    }

    fn supports_asymmetric(&self) -> bool {
        true
    }

    fn key_specs(&self) -> Vec<KeySpec> {
        self.specs.clone()
    }

    fn destroy<'a>(&'a self, handle: &'a KeyHandle) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.destroy_now(handle) {
                Ok(()) | Err(Error::KeyNotFound(_)) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn public_key<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            let rsa = matches!(spec, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096);
            let wanted = if rsa {
                vec![AttributeType::Modulus, AttributeType::PublicExponent]
            } else {
                vec![AttributeType::EcPoint]
            };
            let attrs = self.with_object(handle, ObjectClass::PUBLIC_KEY, |s, key| {
                s.get_attributes(key, &wanted)
            })?;
            let (mut n, mut e, mut point) = (None, None, None);
            for a in attrs {
                match a {
                    Attribute::Modulus(v) => n = Some(v),
                    Attribute::PublicExponent(v) => e = Some(v),
                    Attribute::EcPoint(v) => point = Some(v),
                    _ => {}
                }
            }
            let bad = || Error::BackendProtocol("the token's public key attributes are malformed");
            match (spec, n, e, point) {
                (_, Some(n), Some(e), _) if rsa => Ok(spki::rsa(&n, &e)),
                (KeySpec::EcP256, _, _, Some(p)) => {
                    spki::ec(spki::P256_SPKI_PREFIX, &p).ok_or_else(bad)
                }
                (KeySpec::EcP256K, _, _, Some(p)) => {
                    spki::ec(spki::K256_SPKI_PREFIX, &p).ok_or_else(bad)
                }
                _ => Err(bad()),
            }
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
            let (mech, input) = match alg {
                SigningAlgorithm::RsaPssSha256 => (
                    Mechanism::RsaPkcsPss(PkcsPssParams {
                        hash_alg: MechanismType::SHA256,
                        mgf: PkcsMgfType::MGF1_SHA256,
                        s_len: 32.into(),
                    }),
                    digest.to_vec(),
                ),
                SigningAlgorithm::RsaPkcs1Sha256 => {
                    // CKM_RSA_PKCS signs a DigestInfo: SHA-256's prefix, then the digest.
                    let mut di = spki::SHA256_DIGEST_INFO.to_vec();
                    di.extend_from_slice(digest);
                    (Mechanism::RsaPkcs, di)
                }
                SigningAlgorithm::EcdsaSha256 => (Mechanism::Ecdsa, digest.to_vec()),
                _ => {
                    return Err(Error::Unsupported(
                        "the PKCS#11 backend signs with RSA_PSS_SHA_256, RSA_PKCS1_SHA_256 and ECDSA_SHA_256",
                    ));
                }
            };
            let sig = self.with_object(handle, ObjectClass::PRIVATE_KEY, |s, key| {
                s.sign(&mech, key, &input)
            })?;
            if matches!(alg, SigningAlgorithm::EcdsaSha256) {
                // The token answers r ‖ s; AsymmetricSign answers DER.
                let _ = spec;
                return spki::ecdsa_der(&sig).ok_or(Error::BackendProtocol(
                    "the token's ECDSA signature is malformed",
                ));
            }
            Ok(sig)
        })
    }

    fn asymmetric_decrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        _spec: KeySpec,
        alg: EncryptionAlgorithm,
        ciphertext: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move {
            let (hash, mgf) = match alg {
                EncryptionAlgorithm::RsaesOaepSha256 => {
                    (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256)
                }
                EncryptionAlgorithm::RsaesOaepSha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
                _ => {
                    return Err(Error::Unsupported(
                        "the PKCS#11 backend decrypts RSAES_OAEP_SHA_256 and RSAES_OAEP_SHA_1",
                    ));
                }
            };
            let mech =
                Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()));
            let out = self.with_object(handle, ObjectClass::PRIVATE_KEY, |s, key| {
                match s.decrypt(&mech, key, ciphertext) {
                    Ok(p) => Ok(Ok(p)),
                    Err(CkError::Pkcs11(RvError::MechanismInvalid
                        | RvError::MechanismParamInvalid
                        // SoftHSM2 2.6 answers OAEP with SHA-256 so at C_DecryptInit.
                        | RvError::ArgumentsBad, _)) => {
                        Ok(Err(Error::Unsupported(
                            "this PKCS#11 token has no CKM_RSA_PKCS_OAEP with these parameters (SoftHSM2 2.6 has OAEP with SHA-1 only): use RSAES_OAEP_SHA_1",
                        )))
                    }
                    Err(CkError::Pkcs11(rv, _)) if decryption_refused(rv) => {
                        Ok(Err(Error::InvalidCiphertext))
                    }
                    Err(e) => Err(e),
                }
            })??;
            Ok(SecretBytes::new(out))
        })
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
            let ciphertext = self.with_key(handle, |s, key| {
                let mut iv = nonce;
                let params = GcmParams::new(&mut iv, aad, 128.into())?;
                match s.encrypt(&Mechanism::AesGcm(params), key, plaintext) {
                    Ok(c) => Ok(Ok(c)),
                    Err(CkError::Pkcs11(
                        RvError::MechanismInvalid | RvError::MechanismParamInvalid,
                        _,
                    )) => Ok(Err(no_gcm())),
                    Err(e) => Err(e),
                }
            })??;
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
            let plain = self.with_key(handle, |s, key| {
                let mut iv = *nonce;
                let params = GcmParams::new(&mut iv, aad, 128.into())?;
                match s.decrypt(&Mechanism::AesGcm(params), key, ciphertext) {
                    Ok(p) => Ok(Ok(p)),
                    Err(CkError::Pkcs11(
                        RvError::MechanismInvalid | RvError::MechanismParamInvalid,
                        _,
                    )) => Ok(Err(no_gcm())),
                    Err(CkError::Pkcs11(rv, _)) if decryption_refused(rv) => {
                        Ok(Err(Error::InvalidCiphertext))
                    }
                    Err(e) => Err(e),
                }
            })??;
            Ok(SecretBytes::new(plain))
        })
    }
}
