//! The sealed store image (docs/FORMAT.md §Store image): a fixed header naming how the
//! root key is derived, then the serialized state under AES-256-GCM with the header
//! as AAD.

use alloc::vec::Vec;

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::aead;
use crate::codec::{Reader, Writer};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

const MAGIC: &[u8; 4] = b"SRST";
const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const KDF_RAW: u8 = 2;
pub(crate) const HEADER_LEN: usize = 70;

/// Argon2id cost parameters for deriving the root key from a passphrase. Stored in
/// the image header, so a store opens with the parameters it was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    fn in_range(&self) -> bool {
        (8..=4 * 1024 * 1024).contains(&self.m_cost_kib)
            && (1..=64).contains(&self.t_cost)
            && (1..=16).contains(&self.parallelism)
            && self.m_cost_kib >= 8 * self.parallelism
    }
}

/// What seals the store: a passphrase (through Argon2id) or a raw 32-byte key.
#[derive(Clone, Debug)]
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
enum Kdf {
    Argon2id(KdfParams),
    Raw,
}

/// Seals and opens images under one derived key.
#[derive(Clone, Debug)]
pub(crate) struct Sealer {
    kdf: Kdf,
    salt: [u8; 16],
    seal_key: SecretBytes,
    check: SecretBytes,
}

fn derive(root: &RootSecret, kdf: Kdf, salt: &[u8; 16]) -> Result<(SecretBytes, SecretBytes)> {
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
    let hk = Hkdf::<Sha256>::new(Some(salt), root_key.expose());
    let mut seal_key = SecretBytes::zeroed(32);
    let mut check = SecretBytes::zeroed(16);
    hk.expand(b"strongroom/store/v1/seal", seal_key.expose_mut())
        .and_then(|()| hk.expand(b"strongroom/store/v1/check", check.expose_mut()))
        .map_err(|_| Error::param("Passphrase", "key derivation failed"))?;
    Ok((seal_key, check))
}

/// A state image, opened.
pub(crate) struct Opened {
    pub(crate) sealer: Sealer,
    pub(crate) generation: u64,
    pub(crate) state: SecretBytes,
}

impl Sealer {
    /// A sealer for a new store, with a fresh salt.
    pub(crate) fn create(root: &RootSecret, params: KdfParams, env: &Env) -> Result<Sealer> {
        let kdf = match root {
            RootSecret::Passphrase(_) => {
                if !params.in_range() {
                    return Err(Error::param(
                        "Passphrase",
                        "Argon2id parameters out of range",
                    ));
                }
                Kdf::Argon2id(params)
            }
            RootSecret::RawKey(_) => Kdf::Raw,
        };
        let salt: [u8; 16] = env.random()?;
        let (seal_key, check) = derive(root, kdf, &salt)?;
        Ok(Sealer {
            kdf,
            salt,
            seal_key,
            check,
        })
    }

    fn header(&self, generation: u64, nonce: &[u8; 12]) -> Vec<u8> {
        let mut w = Writer::new();
        w.raw(MAGIC);
        w.u8(VERSION);
        match self.kdf {
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
        w.raw(&self.salt);
        w.raw(self.check.expose());
        w.u64(generation);
        w.raw(nonce);
        w.buf
    }

    /// Seals `state` as image `generation`.
    pub(crate) fn seal(&self, state: &[u8], generation: u64, env: &Env) -> Result<Vec<u8>> {
        let nonce: [u8; 12] = env.random()?;
        let mut out = self.header(generation, &nonce);
        let ct = aead::seal(self.seal_key.expose(), &nonce, state, &out)?;
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens an image with `root`.
    pub(crate) fn open(image: &[u8], root: &RootSecret) -> Result<Opened> {
        let mut r = Reader::new(image);
        if r.take(4) != Some(MAGIC.as_slice()) {
            return Err(Error::StoreCorrupted("not a strongroom store (bad magic)"));
        }
        let trunc = Error::StoreCorrupted("truncated header");
        let version = r.u8().ok_or(trunc.clone())?;
        if version != VERSION {
            return Err(Error::UnsupportedStoreVersion(version));
        }
        let kdf_id = r.u8().ok_or(trunc.clone())?;
        let m = r.u32().ok_or(trunc.clone())?;
        let t = r.u32().ok_or(trunc.clone())?;
        let p = r.u32().ok_or(trunc.clone())?;
        let kdf = match kdf_id {
            KDF_ARGON2ID => {
                let k = KdfParams {
                    m_cost_kib: m,
                    t_cost: t,
                    parallelism: p,
                };
                if !k.in_range() {
                    return Err(Error::StoreCorrupted("Argon2id parameters out of range"));
                }
                Kdf::Argon2id(k)
            }
            KDF_RAW if m == 0 && t == 0 && p == 0 => Kdf::Raw,
            _ => return Err(Error::StoreCorrupted("unknown root-key derivation")),
        };
        let salt: [u8; 16] = r.array().ok_or(trunc.clone())?;
        let stored_check: [u8; 16] = r.array().ok_or(trunc.clone())?;
        let generation = r.u64().ok_or(trunc.clone())?;
        let nonce: [u8; 12] = r.array().ok_or(trunc)?;
        let header = image
            .get(..HEADER_LEN)
            .ok_or(Error::StoreCorrupted("truncated header"))?;
        let ct = r.rest();
        if ct.len() < aead::TAG_LEN {
            return Err(Error::StoreCorrupted("truncated body"));
        }
        let (seal_key, check) = derive(root, kdf, &salt)?;
        if !bool::from(check.expose().ct_eq(&stored_check)) {
            return Err(Error::WrongPassphrase);
        }
        let state = aead::open(seal_key.expose(), &nonce, ct, header)
            .map_err(|_| Error::StoreCorrupted("authentication failed: the image was modified"))?;
        Ok(Opened {
            sealer: Sealer {
                kdf,
                salt,
                seal_key,
                check,
            },
            generation,
            state,
        })
    }
}
