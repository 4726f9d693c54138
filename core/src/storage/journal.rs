//! The store, version 2 (docs/FORMAT.md §Store, version 2): a header that wraps a
//! random store key under the root key, then a chain of sealed records — one
//! snapshot of the whole state followed by journal deltas, each authenticated and
//! bound to the record before it.
//!
//! Opening replays the chain. A record cut short at the end of the file (a crash
//! mid-append) is a *torn tail*: it was never acknowledged, so it is dropped and the
//! next append overwrites it. Anything else that does not authenticate — a flipped
//! bit, a removed or reordered record, a damaged header — refuses to open with
//! `Rejected.StoreCorrupted` naming what is wrong.

use alloc::vec::Vec;

use hkdf::Hkdf;
use sha2::{Digest, Sha256};

use super::image::{self, Kdf, KdfParams, RootSecret};
use crate::aead;
use crate::codec::{Reader, Writer};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::state::State;

pub(crate) const VERSION: u8 = 2;
/// Header bytes: magic 4, version 1, derivation 13, salt 16, wrap nonce 12, wrapped
/// store key 48, generation 8, header check 8.
pub(crate) const HEADER_LEN: usize = 110;
/// Record framing before the ciphertext: length 4, length check 4, kind 1, sequence 8,
/// nonce 12.
pub(crate) const RECORD_HEADER_LEN: usize = 29;
/// A record is at most this long (a snapshot of 100,000 keys is ~25 MiB).
pub(crate) const MAX_RECORD_LEN: u32 = 1 << 30;

pub(crate) const KIND_SNAPSHOT: u8 = 1;
pub(crate) const KIND_DELTA: u8 = 2;

const WRAP_INFO: &[u8] = b"strongroom/store/v2/wrap";
const CHAIN_INFO: &[u8] = b"strongroom/store/v2/chain";

/// Seals headers and records: the root-derived wrapping key and the store key.
#[derive(Clone)]
pub(crate) struct Sealer {
    kdf: Kdf,
    salt: [u8; 16],
    wrap_key: SecretBytes,
    store_key: SecretBytes,
}

impl core::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

fn wrap_key(root: &RootSecret, kdf: Kdf, salt: &[u8; 16]) -> Result<SecretBytes> {
    let root_key = image::root_key(root, kdf, salt)?;
    let mut k = SecretBytes::zeroed(32);
    Hkdf::<Sha256>::new(Some(salt), root_key.expose())
        .expand(WRAP_INFO, k.expose_mut())
        .map_err(|_| Error::param("Passphrase", "key derivation failed"))?;
    Ok(k)
}

/// Where the chain stands after the last valid record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    /// Sequence number of the last record.
    pub(crate) seq: u64,
    /// Its GCM tag, which the next record binds.
    pub(crate) tag: [u8; 16],
    /// Bytes of valid store (header and every whole, authentic record).
    pub(crate) len: u64,
}

/// A sealed record and where the chain stands after it.
pub(crate) struct Sealed {
    pub(crate) bytes: Vec<u8>,
    pub(crate) tail: Tail,
}

impl Sealer {
    /// A sealer for a new store: fresh salt, fresh random store key.
    pub(crate) fn create(root: &RootSecret, params: KdfParams, env: &Env) -> Result<Sealer> {
        let kdf = Kdf::for_root(root, params)?;
        let salt: [u8; 16] = env.random()?;
        let mut store_key = SecretBytes::zeroed(32);
        env.fill(store_key.expose_mut())?;
        Ok(Sealer {
            kdf,
            salt,
            wrap_key: wrap_key(root, kdf, &salt)?,
            store_key,
        })
    }

    /// The same store sealed under another root (fresh salt). With `rekey`, the store
    /// key is new too, so no record sealed before can be read with what follows.
    pub(crate) fn with_root(
        &self,
        root: &RootSecret,
        params: KdfParams,
        rekey: bool,
        env: &Env,
    ) -> Result<Sealer> {
        let mut next = Sealer::create(root, params, env)?;
        if !rekey {
            next.store_key = self.store_key.clone();
        }
        Ok(next)
    }

    /// The same root and salt with a new random store key.
    pub(crate) fn rekeyed(&self, env: &Env) -> Result<Sealer> {
        let mut store_key = SecretBytes::zeroed(32);
        env.fill(store_key.expose_mut())?;
        Ok(Sealer {
            store_key,
            ..self.clone()
        })
    }

    fn header(&self, generation: u64, env: &Env) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        w.raw(image::MAGIC);
        w.u8(VERSION);
        self.kdf.write(&mut w);
        w.raw(&self.salt);
        let nonce: [u8; 12] = env.random()?;
        let aad = w.buf.clone();
        w.raw(&nonce);
        w.raw(&aead::seal(
            self.wrap_key.expose(),
            &nonce,
            self.store_key.expose(),
            &aad,
        )?);
        w.u64(generation);
        let check = Sha256::digest(&w.buf);
        w.raw(check.get(..8).unwrap_or_default());
        Ok(w.buf)
    }

    /// Seals one record as the successor of `prev`.
    pub(crate) fn seal_record(
        &self,
        kind: u8,
        prev: &Tail,
        plaintext: &[u8],
        env: &Env,
    ) -> Result<Sealed> {
        let seq = prev.seq.wrapping_add(1);
        let nonce: [u8; 12] = env.random()?;
        let ct = aead::seal(
            self.store_key.expose(),
            &nonce,
            plaintext,
            &record_aad(kind, seq, &prev.tag),
        )?;
        let len = u32::try_from(ct.len())
            .ok()
            .filter(|l| *l <= MAX_RECORD_LEN)
            .ok_or(Error::QuotaExceeded("a store record is at most 1 GiB"))?;
        let mut bytes = Vec::with_capacity(RECORD_HEADER_LEN + ct.len());
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&(!len).to_be_bytes());
        bytes.push(kind);
        bytes.extend_from_slice(&seq.to_be_bytes());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ct);
        let tag = tag_of(&ct);
        Ok(Sealed {
            tail: Tail {
                seq,
                tag,
                len: prev.len + bytes.len() as u64,
            },
            bytes,
        })
    }

    /// A whole store: header (`generation`) and one snapshot of `state` whose
    /// sequence number is `seq`.
    pub(crate) fn image(
        &self,
        generation: u64,
        seq: u64,
        state: &[u8],
        env: &Env,
    ) -> Result<Sealed> {
        let mut out = self.header(generation, env)?;
        let start = Tail {
            seq: seq.wrapping_sub(1),
            tag: chain_start(&out),
            len: out.len() as u64,
        };
        let rec = self.seal_record(KIND_SNAPSHOT, &start, state, env)?;
        out.extend_from_slice(&rec.bytes);
        Ok(Sealed {
            bytes: out,
            tail: rec.tail,
        })
    }
}

fn record_aad(kind: u8, seq: u64, prev_tag: &[u8; 16]) -> [u8; 25] {
    let mut aad = [0u8; 25];
    aad[0] = kind;
    aad[1..9].copy_from_slice(&seq.to_be_bytes());
    aad[9..].copy_from_slice(prev_tag);
    aad
}

fn tag_of(ct: &[u8]) -> [u8; 16] {
    let mut t = [0u8; 16];
    if let Some(tail) = ct.get(ct.len().saturating_sub(16)..) {
        t.copy_from_slice(tail);
    }
    t
}

fn chain_start(header: &[u8]) -> [u8; 16] {
    let d = Sha256::new()
        .chain_update(CHAIN_INFO)
        .chain_update(header)
        .finalize();
    let mut t = [0u8; 16];
    t.copy_from_slice(d.get(..16).unwrap_or(&[0; 16]));
    t
}

/// A store, opened and replayed.
pub(crate) struct Opened {
    pub(crate) sealer: Sealer,
    pub(crate) state: State,
    pub(crate) generation: u64,
    /// Where the chain stands (the next record follows it). For a version-1 image,
    /// `len` is 0: it must be rewritten before anything is appended.
    pub(crate) tail: Tail,
    pub(crate) info: StoreInfo,
}

/// What opening a store found (`Kms::store_info`, `strongroom store info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreInfo {
    /// Format version of the store as found (1: a single sealed image; 2: journal).
    pub format_version: u8,
    /// Generation: how many times the store was compacted (rewritten whole).
    pub generation: u64,
    /// Bytes of the snapshot record.
    pub snapshot_bytes: u64,
    /// Journal records after the snapshot.
    pub journal_records: u64,
    /// Bytes of those records.
    pub journal_bytes: u64,
    /// Bytes of an unacknowledged record cut short by a crash, dropped on open.
    pub torn_bytes: u64,
}

/// Opens a store (version 2, or a version-1 image) with `root` and replays it.
pub(crate) fn open(bytes: &[u8], root: &RootSecret) -> Result<Opened> {
    open_collecting(bytes, root, None)
}

/// [`open`], handing each authenticated record's plaintext to `plaintexts` as well.
fn open_collecting(
    bytes: &[u8],
    root: &RootSecret,
    mut plaintexts: Option<&mut Vec<Vec<u8>>>,
) -> Result<Opened> {
    let mut r = Reader::new(bytes);
    if r.take(4) != Some(image::MAGIC.as_slice()) {
        return Err(Error::StoreCorrupted("not a strongroom store (bad magic)"));
    }
    match r.u8() {
        Some(1) => return open_v1(bytes, root),
        Some(VERSION) => {}
        Some(v) => return Err(Error::UnsupportedStoreVersion(v)),
        None => return Err(Error::StoreCorrupted("truncated header")),
    }
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or(Error::StoreCorrupted("truncated header"))?;
    let (body, check) = header.split_at(HEADER_LEN - 8);
    if Sha256::digest(body).get(..8) != Some(check) {
        return Err(Error::StoreCorrupted("header checksum mismatch"));
    }
    let kdf = Kdf::read(&mut r)?;
    let trunc = || Error::StoreCorrupted("truncated header");
    let salt: [u8; 16] = r.array().ok_or_else(trunc)?;
    let wrap_aad = bytes.get(..4 + 1 + 13 + 16).ok_or_else(trunc)?;
    let nonce: [u8; 12] = r.array().ok_or_else(trunc)?;
    let wrapped = r.take(48).ok_or_else(trunc)?;
    let generation = r.u64().ok_or_else(trunc)?;
    let wrap_key = wrap_key(root, kdf, &salt)?;
    let store_key = aead::open(wrap_key.expose(), &nonce, wrapped, wrap_aad)
        .map_err(|_| Error::WrongPassphrase)?;
    let sealer = Sealer {
        kdf,
        salt,
        wrap_key,
        store_key,
    };

    let mut info = StoreInfo {
        format_version: VERSION,
        generation,
        ..StoreInfo::default()
    };
    let mut tail = Tail {
        seq: 0,
        tag: chain_start(header),
        len: HEADER_LEN as u64,
    };
    let mut state: Option<State> = None;
    let mut pos = HEADER_LEN;
    loop {
        let rest = bytes.get(pos..).unwrap_or_default();
        if rest.is_empty() {
            break;
        }
        // A tail that is all zeros is space the file system extended without the data
        // reaching the disk: a torn append.
        let torn = rest.len() < RECORD_HEADER_LEN || rest.iter().all(|b| *b == 0);
        if torn && state.is_some() {
            info.torn_bytes = rest.len() as u64;
            break;
        }
        if torn {
            return Err(Error::StoreCorrupted(
                "the snapshot record is missing or cut short",
            ));
        }
        let mut rr = Reader::new(rest);
        let len = rr.u32().unwrap_or(0);
        let len_check = rr.u32().unwrap_or(0);
        if len_check != !len || len > MAX_RECORD_LEN || (len as usize) < aead::TAG_LEN {
            return Err(Error::StoreCorrupted("a record's length field is damaged"));
        }
        let kind = rr.u8().unwrap_or(0);
        let seq = rr.u64().unwrap_or(0);
        let rnonce: [u8; 12] = rr.array().unwrap_or_default();
        let Some(ct) = rr.take(len as usize) else {
            if state.is_some() {
                info.torn_bytes = rest.len() as u64;
                break;
            }
            return Err(Error::StoreCorrupted("the snapshot record is cut short"));
        };
        let expect_kind = if state.is_none() {
            KIND_SNAPSHOT
        } else {
            KIND_DELTA
        };
        // The last record of the file, after the snapshot, whose header (length,
        // kind, sequence number) is the one the next append would write: if its body
        // does not authenticate (zeros or stale bytes where the data never reached the
        // disk) it is what a crash mid-append leaves — a record never acknowledged —
        // and is dropped as torn. The same damage with a record after it, or a final
        // record whose header does not follow on (one removed, reordered or repeated),
        // is refused: that is not what a crash does.
        let last = state.is_some() && RECORD_HEADER_LEN + len as usize == rest.len();
        let chains = kind == expect_kind && (state.is_none() || seq == tail.seq.wrapping_add(1));
        let opened = if chains {
            aead::open(
                sealer.store_key.expose(),
                &rnonce,
                ct,
                &record_aad(kind, seq, &tail.tag),
            )
            .ok()
        } else {
            None
        };
        if last && chains && opened.is_none() {
            info.torn_bytes = rest.len() as u64;
            break;
        }
        if kind != expect_kind {
            return Err(Error::StoreCorrupted(if state.is_none() {
                "the first record is not a snapshot"
            } else {
                "a record after the snapshot is not a journal delta"
            }));
        }
        if state.is_some() && seq != tail.seq.wrapping_add(1) {
            return Err(Error::StoreCorrupted(
                "journal sequence numbers are not consecutive",
            ));
        }
        let plain = opened.ok_or_else(|| {
            Error::StoreCorrupted(if state.is_none() {
                "the snapshot record does not authenticate (modified, or not this store's)"
            } else {
                "a journal record does not authenticate (modified, removed or reordered)"
            })
        })?;
        let rec_len = (RECORD_HEADER_LEN + len as usize) as u64;
        if let Some(p) = plaintexts.as_deref_mut() {
            p.push(plain.expose().to_vec());
        }
        match state.as_mut() {
            None => {
                state = Some(State::decode(plain.expose())?);
                info.snapshot_bytes = rec_len;
            }
            Some(st) => {
                st.apply_delta(plain.expose())?;
                info.journal_records += 1;
                info.journal_bytes += rec_len;
            }
        }
        tail = Tail {
            seq,
            tag: tag_of(ct),
            len: tail.len + rec_len,
        };
        pos += RECORD_HEADER_LEN + len as usize;
    }
    let state = state.ok_or(Error::StoreCorrupted("the store has no snapshot record"))?;
    state.check_aliases()?;
    Ok(Opened {
        sealer,
        state,
        generation,
        tail,
        info,
    })
}

fn open_v1(bytes: &[u8], root: &RootSecret) -> Result<Opened> {
    let state = State::decode(image::open_v1(bytes, root)?.expose())?;
    // A version-1 image's salt and derivation carry over; it is rewritten as
    // version 2 before anything is appended (`len` 0).
    let mut r = Reader::new(bytes);
    let _ = r.take(5);
    let kdf = Kdf::read(&mut r)?;
    let salt: [u8; 16] = r.array().ok_or(Error::StoreCorrupted("truncated header"))?;
    let generation = bytes
        .get(50..58)
        .and_then(|g| <[u8; 8]>::try_from(g).ok())
        .map_or(0, u64::from_be_bytes);
    Ok(Opened {
        sealer: Sealer {
            kdf,
            salt,
            wrap_key: wrap_key(root, kdf, &salt)?,
            // Never used: Kms::open rewrites a version-1 image at once, under a
            // random store key (Sealer::rekeyed).
            store_key: SecretBytes::zeroed(32),
        },
        state,
        generation,
        tail: Tail {
            seq: 0,
            tag: [0; 16],
            len: 0,
        },
        info: StoreInfo {
            format_version: 1,
            generation,
            snapshot_bytes: bytes.len() as u64,
            ..StoreInfo::default()
        },
    })
}

/// Opens and replays a store without a [`crate::Kms`] (for `strongroom store verify`
/// and the fuzzer): what it holds, or why it will not open.
///
/// # Errors
/// As [`crate::Kms::open`]: `Rejected.StoreCorrupted`, `Rejected.StoreVersion`,
/// `Forbidden.WrongPassphrase`.
pub fn inspect(bytes: &[u8], root: &RootSecret) -> Result<(StoreInfo, usize, usize)> {
    let o = open(bytes, root)?;
    Ok((o.info, o.state.keys.len(), o.state.aliases.len()))
}

/// A values-file span: byte offset and length (docs/FORMAT.md §Values file).
pub type Span = (u64, u32);

/// [`inspect`], with the generation of the store's values file and the spans the
/// state names in it (offset, length): what `strongroom store check` holds the
/// values file against (docs/FORMAT.md §Values file).
///
/// # Errors
/// As [`inspect`].
pub fn inspect_values(
    bytes: &[u8],
    root: &RootSecret,
) -> Result<(StoreInfo, usize, u32, Vec<Span>)> {
    let o = open(bytes, root)?;
    let spans = o.state.spans().iter().map(|s| (s.offset, s.len)).collect();
    Ok((o.info, o.state.keys.len(), o.state.values_generation, spans))
}

/// For the fuzzer's seeds: the plaintext of every record of a version-2 store (the
/// snapshot, then each delta), in the framing fuzz/fuzz_targets/store.rs reads
/// (`[u16 length][bytes]` each). Holds key material in the clear: never for use
/// outside tests. Not part of the API.
///
/// # Errors
/// As [`inspect`].
#[doc(hidden)]
pub fn fuzz_seed_plaintexts(bytes: &[u8], root: &RootSecret) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    open_collecting(bytes, root, Some(&mut all))?;
    let mut out = Vec::new();
    for p in all {
        let n = u16::try_from(p.len()).map_err(|_| Error::Unsupported("a record over 64 KiB"))?;
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&p);
    }
    Ok(out)
}

/// For the fuzzer (fuzz/fuzz_targets/store.rs): replays a snapshot's and deltas'
/// *plaintexts*, as opening does once each record has authenticated, and returns the
/// number of keys and aliases. Not part of the API.
#[doc(hidden)]
pub fn replay_plaintexts(snapshot: &[u8], deltas: &[&[u8]]) -> Result<(usize, usize)> {
    let mut st = State::decode(snapshot)?;
    for d in deltas {
        st.apply_delta(d)?;
    }
    st.check_aliases()?;
    Ok((st.keys.len(), st.aliases.len()))
}
