//! RSA and ECDSA in pure Rust (RustCrypto `rsa`, `p256`, `k256`), for builds where
//! AWS-LC cannot run (wasm32). Same contract as the AWS-LC module in asym.rs: PKCS#8 v1
//! private keys, SubjectPublicKeyInfo public keys, DER ECDSA signatures, one opaque
//! error for every OAEP failure.
//!
//! RSA private-key operations here (signing, OAEP decryption) are under
//! RUSTSEC-2023-0071 (timing side channel, no patched `rsa` release): blinded with the
//! OS RNG, but not constant time. docs/SECURITY.md says where that matters.

use alloc::sync::Arc;
use alloc::vec::Vec;

use getrandom::SysRng;
use k256::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};
use p256::ecdsa::signature::hazmat::{PrehashSigner as _, PrehashVerifier as _};

use super::{Bounded, EncryptionAlgorithm, SigningAlgorithm, WrappingAlgorithm, fingerprint};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::vocab::KeySpec;

fn material() -> Error {
    Error::BackendProtocol("stored asymmetric key material does not parse")
}

fn failed() -> Error {
    Error::BackendProtocol("the asymmetric operation failed")
}

/// A private key parsed once: RSA parsing (with its CRT precomputation) costs far more
/// than a signature.
pub(super) enum Parsed {
    Rsa(rsa::PrivateKey),
    P256(p256::ecdsa::SigningKey),
    K256(k256::ecdsa::SigningKey),
}

fn parse_private(spec: KeySpec, pkcs8: &[u8]) -> Result<Parsed> {
    Ok(match spec {
        KeySpec::EcP256 => {
            Parsed::P256(p256::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(|_| material())?)
        }
        KeySpec::EcP256K => {
            Parsed::K256(k256::ecdsa::SigningKey::from_pkcs8_der(pkcs8).map_err(|_| material())?)
        }
        _ if spec.is_rsa() => {
            Parsed::Rsa(rsa::PrivateKey::from_pkcs8_der(pkcs8).map_err(|_| material())?)
        }
        _ => return Err(Error::Unsupported("not an asymmetric key spec")),
    })
}

/// Parsed private keys and derived public keys, keyed by SHA-256(PKCS#8).
#[derive(Default)]
pub struct KeyCache {
    parsed: Bounded<[u8; 32], Arc<Parsed>>,
    public: Bounded<[u8; 32], Vec<u8>>,
}

impl KeyCache {
    fn get(&self, spec: KeySpec, pkcs8: &[u8]) -> Result<Arc<Parsed>> {
        self.parsed.get_or_try(fingerprint(pkcs8), || {
            Ok(Arc::new(parse_private(spec, pkcs8)?))
        })
    }

    pub fn public_key(&self, spec: KeySpec, pkcs8: &[u8]) -> Result<Vec<u8>> {
        self.public.get_or_try(fingerprint(pkcs8), || {
            let doc = match &*self.get(spec, pkcs8)? {
                Parsed::Rsa(k) => k.to_public_key().to_public_key_der(),
                Parsed::P256(k) => k.verifying_key().to_public_key_der(),
                Parsed::K256(k) => k.verifying_key().to_public_key_der(),
            }
            .map_err(|_| material())?;
            Ok(doc.as_bytes().to_vec())
        })
    }

    pub fn sign(
        &self,
        spec: KeySpec,
        pkcs8: &[u8],
        alg: SigningAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>> {
        match &*self.get(spec, pkcs8)? {
            Parsed::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign_prehash(digest).map_err(|_| failed())?;
                Ok(s.to_der().as_bytes().to_vec())
            }
            Parsed::K256(k) => {
                let s: k256::ecdsa::Signature = k.sign_prehash(digest).map_err(|_| failed())?;
                Ok(s.to_der().as_bytes().to_vec())
            }
            Parsed::Rsa(k) => match alg {
                SigningAlgorithm::RsaPssSha256 => k
                    .pss_sign_prehash_with_rng::<sha2::Sha256, _>(&mut SysRng, digest)
                    .map_err(|_| failed()),
                _ => k
                    .pkcs1v15_sign_prehash_with_rng::<sha2::Sha256, _>(&mut SysRng, digest)
                    .map_err(|_| failed()),
            },
        }
    }

    pub fn decrypt(
        &self,
        spec: KeySpec,
        pkcs8: &[u8],
        alg: EncryptionAlgorithm,
        ct: &[u8],
    ) -> Result<SecretBytes> {
        let Parsed::Rsa(k) = &*self.get(spec, pkcs8)? else {
            return Err(material());
        };
        open_oaep(k, alg, ct)
    }
}

fn open_oaep(k: &rsa::PrivateKey, alg: EncryptionAlgorithm, ct: &[u8]) -> Result<SecretBytes> {
    use rsa::traits::PublicKeyParts as _;
    if ct.len() != k.size() {
        return Err(Error::InvalidCiphertext);
    }
    // rsa 0.10.0's OAEP decoding does not check that the encoded message starts with
    // 0x00 (RFC 8017 §7.1.2 step 3g; Wycheproof "First byte is 1" passed). Check it
    // here with a second, blinded private operation, run every time, and fold both
    // outcomes into the one error so neither is told apart.
    let leading_zero = leading_byte_is_zero(k, ct);
    let pt = match alg {
        EncryptionAlgorithm::RsaesOaepSha256 => {
            k.oaep_decrypt_with_rng::<sha2::Sha256, _>(&mut SysRng, ct)
        }
        EncryptionAlgorithm::RsaesOaepSha1 => {
            k.oaep_decrypt_with_rng::<sha1::Sha1, _>(&mut SysRng, ct)
        }
    };
    match (pt, leading_zero) {
        (Ok(pt), true) => Ok(SecretBytes::new(pt)),
        (Ok(mut pt), false) => {
            zeroize::Zeroize::zeroize(&mut pt);
            Err(Error::InvalidCiphertext)
        }
        (Err(_), _) => Err(Error::InvalidCiphertext),
    }
}

/// Whether the first octet of EM = I2OSP(c^d mod n, k) is zero.
fn leading_byte_is_zero(k: &rsa::PrivateKey, ct: &[u8]) -> bool {
    use rsa::traits::PublicKeyParts as _;
    let Ok(c) = rsa::BoxedUint::from_be_slice(ct, k.n_bits_precision()) else {
        return false;
    };
    let Ok(m) = rsa::hazmat::rsa_decrypt_and_check(k, Some(&mut SysRng), &c) else {
        return false;
    };
    let mut em = m.to_be_bytes();
    // `em` is the limb-aligned width, at least k bytes; the first octet of the k-byte
    // encoding is at len - k.
    let y = em
        .len()
        .checked_sub(k.size())
        .and_then(|i| em.get(i).copied());
    zeroize::Zeroize::zeroize(&mut em[..]);
    let mut m = m;
    zeroize::Zeroize::zeroize(&mut m);
    y == Some(0)
}

/// A parsed public key for verification.
enum Verifier {
    Rsa(rsa::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
    K256(k256::ecdsa::VerifyingKey),
}

fn bad_public() -> Error {
    Error::param("PublicKey", "not a public key of this spec")
}

fn parse_public(spec: KeySpec, spki: &[u8]) -> Result<Verifier> {
    Ok(match spec {
        KeySpec::EcP256 => Verifier::P256(
            p256::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|_| bad_public())?,
        ),
        KeySpec::EcP256K => Verifier::K256(
            k256::ecdsa::VerifyingKey::from_public_key_der(spki).map_err(|_| bad_public())?,
        ),
        _ if spec.is_rsa() => {
            Verifier::Rsa(rsa::PublicKey::from_public_key_der(spki).map_err(|_| bad_public())?)
        }
        _ => return Err(bad_public()),
    })
}

fn check(v: &Verifier, alg: SigningAlgorithm, digest: &[u8], sig: &[u8]) -> bool {
    match v {
        // High-S signatures are valid ECDSA (AWS-LC, OpenSSL and WebCrypto accept them);
        // the curve crates verify only the low-S form, so normalise first.
        Verifier::P256(k) => p256::ecdsa::Signature::from_der(sig)
            .is_ok_and(|s| k.verify_prehash(digest, &s.normalize_s()).is_ok()),
        Verifier::K256(k) => k256::ecdsa::Signature::from_der(sig)
            .is_ok_and(|s| k.verify_prehash(digest, &s.normalize_s()).is_ok()),
        Verifier::Rsa(k) => match alg {
            SigningAlgorithm::RsaPssSha256 => {
                k.pss_verify_prehash::<sha2::Sha256>(digest, sig).is_ok()
            }
            _ => k
                .pkcs1v15_verify_prehash::<sha2::Sha256>(digest, sig)
                .is_ok(),
        },
    }
}

/// Parsed public keys for verification, keyed by SHA-256(SPKI) and spec.
#[derive(Default)]
pub struct PublicKeyCache {
    verifiers: Bounded<([u8; 32], KeySpec), Arc<Verifier>>,
}

impl PublicKeyCache {
    pub fn verify(
        &self,
        spec: KeySpec,
        spki: &[u8],
        alg: SigningAlgorithm,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<bool> {
        let v = self.verifiers.get_or_try((fingerprint(spki), spec), || {
            Ok(Arc::new(parse_public(spec, spki)?))
        })?;
        Ok(check(&v, alg, digest, sig))
    }
}

pub fn generate(spec: KeySpec) -> Result<SecretBytes> {
    let doc = match spec {
        KeySpec::EcP256 => <p256::SecretKey as rsa::Generate>::try_generate_from_rng(&mut SysRng)
            .map_err(|_| Error::EntropyUnavailable)?
            .to_pkcs8_der(),
        KeySpec::EcP256K => <k256::SecretKey as rsa::Generate>::try_generate_from_rng(&mut SysRng)
            .map_err(|_| Error::EntropyUnavailable)?
            .to_pkcs8_der(),
        _ => {
            let bits = spec
                .rsa_modulus_len()
                .ok_or(Error::Unsupported("not an asymmetric key spec"))?
                * 8;
            rsa::PrivateKey::new(&mut SysRng, bits)
                .map_err(|_| Error::BackendProtocol("RSA key generation failed"))?
                .to_pkcs8_der()
        }
    }
    .map_err(|_| Error::BackendProtocol("key encoding failed"))?;
    Ok(SecretBytes::from_slice(doc.as_bytes()))
}

pub fn verify(
    spec: KeySpec,
    spki: &[u8],
    alg: SigningAlgorithm,
    digest: &[u8],
    sig: &[u8],
) -> Result<bool> {
    Ok(check(&parse_public(spec, spki)?, alg, digest, sig))
}

fn rsa_public(spki: &[u8]) -> Result<rsa::PublicKey> {
    rsa::PublicKey::from_public_key_der(spki).map_err(|_| {
        Error::param(
            "PublicKey",
            "not an RSA public key (SubjectPublicKeyInfo DER or PEM)",
        )
    })
}

fn oaep_seal(pk: &rsa::PublicKey, alg: EncryptionAlgorithm, pt: &[u8]) -> Result<Vec<u8>> {
    use rsa::traits::PublicKeyParts as _;
    let hlen = match alg {
        EncryptionAlgorithm::RsaesOaepSha256 => 32,
        EncryptionAlgorithm::RsaesOaepSha1 => 20,
    };
    let limit = pk.size().saturating_sub(2 * hlen + 2);
    if pt.len() > limit {
        return Err(Error::PlaintextTooLarge {
            size: pt.len(),
            limit,
        });
    }
    match alg {
        EncryptionAlgorithm::RsaesOaepSha256 => {
            pk.oaep_encrypt_with_rng::<sha2::Sha256, _>(&mut SysRng, pt)
        }
        EncryptionAlgorithm::RsaesOaepSha1 => {
            pk.oaep_encrypt_with_rng::<sha1::Sha1, _>(&mut SysRng, pt)
        }
    }
    .map_err(|_| Error::BackendProtocol("RSA-OAEP encryption failed"))
}

pub fn encrypt(spki: &[u8], alg: EncryptionAlgorithm, pt: &[u8]) -> Result<Vec<u8>> {
    oaep_seal(&rsa_public(spki)?, alg, pt)
}

pub fn wrap(spki: &[u8], spec: KeySpec, alg: WrappingAlgorithm, pt: &[u8]) -> Result<Vec<u8>> {
    use rsa::traits::PublicKeyParts as _;
    let pk = rsa_public(spki)?;
    let want = spec
        .rsa_modulus_len()
        .ok_or_else(|| Error::param("WrappingKeySpec", "RSA_2048, RSA_3072 or RSA_4096"))?;
    if pk.size() != want {
        return Err(Error::param(
            "PublicKey",
            alloc::format!(
                "a {}-bit key, not the {spec} that WrappingKeySpec names",
                pk.size() * 8
            ),
        ));
    }
    match alg {
        WrappingAlgorithm::RsaesOaepSha256 => {
            oaep_seal(&pk, EncryptionAlgorithm::RsaesOaepSha256, pt)
        }
        WrappingAlgorithm::RsaesOaepSha1 => oaep_seal(&pk, EncryptionAlgorithm::RsaesOaepSha1, pt),
        WrappingAlgorithm::RsaesPkcs1V15 => {
            let limit = want - 11;
            if pt.len() > limit {
                return Err(Error::PlaintextTooLarge {
                    size: pt.len(),
                    limit,
                });
            }
            pk.pkcs1v15_encrypt_with_rng(&mut SysRng, pt)
                .map_err(|_| Error::BackendProtocol("RSA encryption failed"))
        }
    }
}

pub fn ecdsa_raw_to_der(spec: KeySpec, raw: &[u8]) -> Result<Vec<u8>> {
    let bad = || Error::BackendProtocol("not a raw ECDSA signature of this curve");
    match spec {
        KeySpec::EcP256 => Ok(p256::ecdsa::Signature::from_slice(raw)
            .map_err(|_| bad())?
            .to_der()
            .as_bytes()
            .to_vec()),
        KeySpec::EcP256K => Ok(k256::ecdsa::Signature::from_slice(raw)
            .map_err(|_| bad())?
            .to_der()
            .as_bytes()
            .to_vec()),
        _ => Err(bad()),
    }
}

pub fn ecdsa_der_to_raw(spec: KeySpec, der: &[u8]) -> Result<Vec<u8>> {
    let bad = || Error::param("Value", "not a DER ECDSA signature of this curve");
    match spec {
        KeySpec::EcP256 => Ok(p256::ecdsa::Signature::from_der(der)
            .map_err(|_| bad())?
            .to_bytes()
            .to_vec()),
        KeySpec::EcP256K => Ok(k256::ecdsa::Signature::from_der(der)
            .map_err(|_| bad())?
            .to_bytes()
            .to_vec()),
        _ => Err(bad()),
    }
}

pub fn kwp_wrap(kek: &[u8; 32], pt: &[u8]) -> Result<Vec<u8>> {
    use aes_kw::KeyInit as _;
    let k = aes_kw::KwpAes256::new_from_slice(kek).map_err(|_| failed())?;
    let mut out = alloc::vec![0u8; pt.len().div_ceil(8) * 8 + 8];
    let n = k.wrap_key(pt, &mut out).map_err(|_| failed())?.len();
    out.truncate(n);
    Ok(out)
}

pub fn kwp_unwrap(kek: &[u8; 32], ct: &[u8]) -> Result<SecretBytes> {
    use aes_kw::KeyInit as _;
    let k = aes_kw::KwpAes256::new_from_slice(kek).map_err(|_| super::bad_kwp())?;
    let mut out = SecretBytes::zeroed(ct.len());
    let n = k
        .unwrap_key(ct, out.expose_mut())
        .map_err(|_| super::bad_kwp())?
        .len();
    Ok(SecretBytes::from_slice(
        out.expose().get(..n).unwrap_or_default(),
    ))
}

pub fn canonical_private_key(spec: KeySpec, der: &[u8]) -> Result<SecretBytes> {
    use rsa::traits::PublicKeyParts as _;
    let bad = || super::bad_material(spec);
    let doc = match spec {
        KeySpec::EcP256 => p256::SecretKey::from_pkcs8_der(der)
            .map_err(|_| bad())?
            .to_pkcs8_der(),
        KeySpec::EcP256K => k256::SecretKey::from_pkcs8_der(der)
            .map_err(|_| bad())?
            .to_pkcs8_der(),
        _ => {
            let want = spec.rsa_modulus_len().ok_or_else(bad)?;
            let k = rsa::PrivateKey::from_pkcs8_der(der).map_err(|_| bad())?;
            if k.size() != want {
                return Err(bad());
            }
            k.to_pkcs8_der()
        }
    }
    .map_err(|_| bad())?;
    Ok(SecretBytes::from_slice(doc.as_bytes()))
}

pub fn decrypt(pkcs8: &[u8], alg: EncryptionAlgorithm, ct: &[u8]) -> Result<SecretBytes> {
    let k = rsa::PrivateKey::from_pkcs8_der(pkcs8).map_err(|_| material())?;
    open_oaep(&k, alg, ct)
}
