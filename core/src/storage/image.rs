//! Root keys (passphrase through Argon2id, or raw) and the version-1 store image
//! (docs/FORMAT.md §Store image, version 1), which strongroom still opens and rewrites
//! as a version-2 journal store (storage/journal.rs).

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::aead;
use crate::codec::{Reader, Writer};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

pub(crate) const MAGIC: &[u8; 4] = b"SRST";
const KDF_ARGON2ID: u8 = 1;
const KDF_RAW: u8 = 2;
const V1_HEADER_LEN: usize = 70;

/// Argon2id cost parameters for deriving the root key from a passphrase. Stored in
/// the image header, so a store opens with the parameters it was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KdfParams {
    /// Memory in KiB (default 19456 = 19 MiB, OWASP's Argon2id baseline).
    pub m_cost_kib: u32,
    /// Passes (default 2).
    pub t_cost: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            m_cost_kib: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests and vectors only: never for real passphrases.
    #[must_use]
    pub fn insecure_fast() -> Self {
        KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            parallelism: 1,
        }
    }

    /// The accepted range, on create and on open: m 8 KiB–1 GiB, t 1–16, p 1–16. A
    /// store file names its own parameters, so these bounds are what a hostile file
    /// can make an opener spend (the fuzzer found 4 GiB allowed before).
    fn in_range(&self) -> bool {
        (8..=1024 * 1024).contains(&self.m_cost_kib)
            && (1..=16).contains(&self.t_cost)
            && (1..=16).contains(&self.parallelism)
            && self.m_cost_kib >= 8 * self.parallelism
    }
}

/// The most memory (KiB) Argon2id may take to open a store or a backup in this
/// runtime: 1 GiB natively (the format's own bound); 256 MiB in wasm32, where a
/// larger allocation aborts the whole instance rather than failing. A file naming more
/// is refused with `Rejected.KdfCost` before any work; stores this build creates use
/// 19 MiB unless told otherwise (docs/SECURITY.md).
#[cfg(not(target_arch = "wasm32"))]
pub const MAX_ARGON2_KIB: u32 = 1024 * 1024;
/// See the native definition.
#[cfg(target_arch = "wasm32")]
pub const MAX_ARGON2_KIB: u32 = 256 * 1024;

/// What seals the store: a passphrase (through Argon2id) or a raw 32-byte key.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RootSecret {
    /// A passphrase; the root key is Argon2id(passphrase, salt).
    Passphrase(SecretBytes),
    /// A 32-byte root key from elsewhere (an HSM, a secret manager).
    RawKey(SecretBytes),
}

impl RootSecret {
    /// A passphrase root.
    #[must_use]
    pub fn passphrase(p: &str) -> Self {
        RootSecret::Passphrase(SecretBytes::from_slice(p.as_bytes()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kdf {
    Argon2id(KdfParams),
    Raw,
}

impl Kdf {
    /// The derivation a new store sealed under `root` uses.
    pub(crate) fn for_root(root: &RootSecret, params: KdfParams) -> Result<Kdf> {
        match root {
            RootSecret::Passphrase(_) if !params.in_range() => Err(Error::param(
                "Passphrase",
                "Argon2id parameters out of range",
            )),
            // A store this runtime could not open again is not made either.
            RootSecret::Passphrase(_) if params.m_cost_kib > MAX_ARGON2_KIB => {
                Err(Error::KdfCost {
                    m_cost_kib: params.m_cost_kib,
                    cap_kib: MAX_ARGON2_KIB,
                })
            }
            RootSecret::Passphrase(_) => Ok(Kdf::Argon2id(params)),
            RootSecret::RawKey(_) => Ok(Kdf::Raw),
        }
    }

    /// Writes the 13 header bytes: derivation id and m, t, p (zeros for raw).
    pub(crate) fn write(self, w: &mut Writer) {
        match self {
            Kdf::Argon2id(k) => {
                w.u8(KDF_ARGON2ID);
                w.u32(k.m_cost_kib);
                w.u32(k.t_cost);
                w.u32(k.parallelism);
            }
            Kdf::Raw => {
                w.u8(KDF_RAW);
                w.raw(&[0u8; 12]);
            }
        }
    }

    /// Reads what [`Kdf::write`] wrote, refusing out-of-range parameters before any
    /// work is done.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Kdf> {
        let trunc = Error::StoreCorrupted("truncated header");
        let kdf_id = r.u8().ok_or(trunc.clone())?;
        let m = r.u32().ok_or(trunc.clone())?;
        let t = r.u32().ok_or(trunc.clone())?;
        let p = r.u32().ok_or(trunc)?;
        match kdf_id {
            KDF_ARGON2ID => {
                let k = KdfParams {
                    m_cost_kib: m,
                    t_cost: t,
                    parallelism: p,
                };
                if !k.in_range() {
                    return Err(Error::StoreCorrupted("Argon2id parameters out of range"));
                }
                if k.m_cost_kib > MAX_ARGON2_KIB {
                    return Err(Error::KdfCost {
                        m_cost_kib: k.m_cost_kib,
                        cap_kib: MAX_ARGON2_KIB,
                    });
                }
                Ok(Kdf::Argon2id(k))
            }
            KDF_RAW if m == 0 && t == 0 && p == 0 => Ok(Kdf::Raw),
            _ => Err(Error::StoreCorrupted("unknown root-key derivation")),
        }
    }
}

/// The root key: Argon2id(passphrase, salt) or the raw key. `WrongPassphrase` when
/// the secret's kind does not match the store's derivation.
pub(crate) fn root_key(root: &RootSecret, kdf: Kdf, salt: &[u8; 16]) -> Result<SecretBytes> {
    let mut root_key = SecretBytes::zeroed(32);
    match (root, kdf) {
        (RootSecret::Passphrase(p), Kdf::Argon2id(k)) => {
            if p.is_empty() {
                return Err(Error::param("Passphrase", "empty"));
            }
            let params = Params::new(k.m_cost_kib, k.t_cost, k.parallelism, Some(32))
                .map_err(|_| Error::param("Passphrase", "Argon2id parameters out of range"))?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into(p.expose(), salt, root_key.expose_mut())
                .map_err(|_| Error::param("Passphrase", "Argon2id failed"))?;
        }
        (RootSecret::RawKey(k), Kdf::Raw) => {
            if k.len() != 32 {
                return Err(Error::param(
                    "Passphrase",
                    "a raw root key must be 32 bytes",
                ));
            }
            root_key.expose_mut().copy_from_slice(k.expose());
        }
        _ => return Err(Error::WrongPassphrase),
    }
    Ok(root_key)
}

/// Version 1's seal key and key check.
fn derive_v1(root: &RootSecret, kdf: Kdf, salt: &[u8; 16]) -> Result<(SecretBytes, SecretBytes)> {
    let root_key = root_key(root, kdf, salt)?;
    let hk = Hkdf::<Sha256>::new(Some(salt), root_key.expose());
    let mut seal_key = SecretBytes::zeroed(32);
    let mut check = SecretBytes::zeroed(16);
    hk.expand(b"strongroom/store/v1/seal", seal_key.expose_mut())
        .and_then(|()| hk.expand(b"strongroom/store/v1/check", check.expose_mut()))
        .map_err(|_| Error::param("Passphrase", "key derivation failed"))?;
    Ok((seal_key, check))
}

/// Opens a version-1 image (a whole state sealed under the root): the state bytes.
pub(crate) fn open_v1(image: &[u8], root: &RootSecret) -> Result<SecretBytes> {
    let mut r = Reader::new(image);
    if r.take(4) != Some(MAGIC.as_slice()) {
        return Err(Error::StoreCorrupted("not a strongroom store (bad magic)"));
    }
    let trunc = Error::StoreCorrupted("truncated header");
    if r.u8() != Some(1) {
        return Err(Error::StoreCorrupted("not a version-1 image"));
    }
    let kdf = Kdf::read(&mut r)?;
    let salt: [u8; 16] = r.array().ok_or(trunc.clone())?;
    let stored_check: [u8; 16] = r.array().ok_or(trunc.clone())?;
    let _generation = r.u64().ok_or(trunc.clone())?;
    let nonce: [u8; 12] = r.array().ok_or(trunc)?;
    let header = image
        .get(..V1_HEADER_LEN)
        .ok_or(Error::StoreCorrupted("truncated header"))?;
    let ct = r.rest();
    if ct.len() < aead::TAG_LEN {
        return Err(Error::StoreCorrupted("truncated body"));
    }
    let (seal_key, check) = derive_v1(root, kdf, &salt)?;
    if !bool::from(check.expose().ct_eq(&stored_check)) {
        return Err(Error::WrongPassphrase);
    }
    aead::open(seal_key.expose(), &nonce, ct, header)
        .map_err(|_| Error::StoreCorrupted("authentication failed: the image was modified"))
}
