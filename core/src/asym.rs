//! Asymmetric key material: RSA 2048/3072/4096, NIST P-256 and secp256k1.
//!
//! Private keys are PKCS#8 v1 DER inside [`SecretBytes`] (what the software backend
//! seals into the store); public keys are SubjectPublicKeyInfo DER, shown to users as
//! PEM. Signatures take a SHA-256 digest, as Alibaba's AsymmetricSign does; ECDSA
//! signatures are DER (`SEQUENCE { r, s }`), RSA signatures are the modulus length.
//!
//! The operations run on AWS-LC (aws-lc-rs, feature `aws-lc`): constant-time RSA and
//! ECDSA, the build used by the CLI, the Python wheel and native Rust users. Builds
//! without it (wasm32, `no_std`) refuse asymmetric keys with `Rejected.Unsupported`
//! for now; see docs/SECURITY.md for why the pure-Rust `rsa` crate is not the fallback
//! yet.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::vocab::KeySpec;

/// Whether this build has an RSA / EC implementation: AWS-LC (native builds) or
/// RustCrypto (feature `rustcrypto-asym`, the wasm build).
pub const AVAILABLE: bool = cfg!(any(feature = "aws-lc", feature = "rustcrypto-asym"));

/// Digest length AsymmetricSign / AsymmetricVerify take (SHA-256).
pub const DIGEST_LEN: usize = 32;

named_enum!(
    param = "Algorithm";
    /// AsymmetricSign / AsymmetricVerify algorithms.
    SigningAlgorithm {
        /// RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 32.
        RsaPssSha256 = (1, "RSA_PSS_SHA_256"),
        /// RSASSA-PKCS1-v1_5 with SHA-256.
        RsaPkcs1Sha256 = (2, "RSA_PKCS1_SHA_256"),
        /// ECDSA with SHA-256 (DER signature), for EC_P256 and EC_P256K.
        EcdsaSha256 = (3, "ECDSA_SHA_256"),
    }
);

named_enum!(
    param = "Algorithm";
    /// AsymmetricEncrypt / AsymmetricDecrypt algorithms.
    EncryptionAlgorithm {
        /// RSAES-OAEP, SHA-256 and MGF1-SHA-256.
        RsaesOaepSha256 = (1, "RSAES_OAEP_SHA_256"),
        /// RSAES-OAEP, SHA-1 and MGF1-SHA-1.
        RsaesOaepSha1 = (2, "RSAES_OAEP_SHA_1"),
    }
);

named_enum!(
    /// ExportDataKey / GenerateAndExportDataKey: how the data key is wrapped under the
    /// caller's RSA public key. strongroom only *encrypts* with these (the holder of
    /// the private key decrypts), so PKCS#1 v1.5 opens no padding oracle here.
    WrappingAlgorithm {
        /// RSAES-OAEP, SHA-256 and MGF1-SHA-256.
        RsaesOaepSha256 = (1, "RSAES_OAEP_SHA_256"),
        /// RSAES-OAEP, SHA-1 and MGF1-SHA-1.
        RsaesOaepSha1 = (2, "RSAES_OAEP_SHA_1"),
        /// RSAES-PKCS1-v1_5 (for modules that take nothing else).
        RsaesPkcs1V15 = (3, "RSAES_PKCS1_V1_5"),
    }
);

impl KeySpec {
    /// Whether this spec is RSA.
    #[must_use]
    pub fn is_rsa(self) -> bool {
        matches!(self, KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096)
    }

    /// Whether this spec is an elliptic curve.
    #[must_use]
    pub fn is_ec(self) -> bool {
        matches!(self, KeySpec::EcP256 | KeySpec::EcP256K)
    }

    /// RSA modulus length in bytes.
    #[must_use]
    pub fn rsa_modulus_len(self) -> Option<usize> {
        match self {
            KeySpec::Rsa2048 => Some(256),
            KeySpec::Rsa3072 => Some(384),
            KeySpec::Rsa4096 => Some(512),
            _ => None,
        }
    }
}

impl EncryptionAlgorithm {
    fn hash_len(self) -> usize {
        match self {
            EncryptionAlgorithm::RsaesOaepSha256 => 32,
            EncryptionAlgorithm::RsaesOaepSha1 => 20,
        }
    }

    /// The largest plaintext this algorithm takes under `spec`: k − 2·hLen − 2
    /// (RSA_2048: 190 B with SHA-256, 214 B with SHA-1 — Alibaba's limits).
    #[must_use]
    pub fn max_plaintext(self, spec: KeySpec) -> Option<usize> {
        spec.rsa_modulus_len().map(|k| k - 2 * self.hash_len() - 2)
    }
}

/// Checks that `alg` suits a key of `spec`.
///
/// # Errors
/// `InvalidParameter.Algorithm`.
pub fn check_signing(spec: KeySpec, alg: SigningAlgorithm) -> Result<()> {
    let ok = match alg {
        SigningAlgorithm::RsaPssSha256 | SigningAlgorithm::RsaPkcs1Sha256 => spec.is_rsa(),
        SigningAlgorithm::EcdsaSha256 => spec.is_ec(),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::param(
            "Algorithm",
            alloc::format!("{alg} does not apply to a {spec} key"),
        ))
    }
}

/// Checks that a key of `spec` can encrypt with `alg` (RSA only).
///
/// # Errors
/// `InvalidParameter.Algorithm`.
pub fn check_encryption(spec: KeySpec, _alg: EncryptionAlgorithm) -> Result<()> {
    if spec.is_rsa() {
        Ok(())
    } else {
        Err(Error::param(
            "Algorithm",
            alloc::format!("{spec} keys cannot encrypt (RSA keys with ENCRYPT/DECRYPT usage can)"),
        ))
    }
}

/// Checks a digest's length.
///
/// # Errors
/// `InvalidParameter.Digest`.
pub fn check_digest(digest: &[u8]) -> Result<()> {
    if digest.len() == DIGEST_LEN {
        Ok(())
    } else {
        Err(Error::param(
            "Digest",
            alloc::format!(
                "a SHA-256 digest is {DIGEST_LEN} bytes, not {}",
                digest.len()
            ),
        ))
    }
}

/// What a signature covers, as AsymmetricSign / AsymmetricVerify take it: the 32-byte
/// SHA-256 digest (Alibaba's input), or the message itself (hashed with SHA-256 by
/// strongroom). Bindings that accept either build it with [`SignInput::one_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInput<'a> {
    /// SHA-256 of the message.
    Digest(&'a [u8]),
    /// The message.
    Message(&'a [u8]),
}

impl<'a> SignInput<'a> {
    /// Exactly one of `digest` and `message`.
    ///
    /// # Errors
    /// `InvalidParameter.Digest` when both or neither are given.
    pub fn one_of(digest: Option<&'a [u8]>, message: Option<&'a [u8]>) -> Result<Self> {
        match (digest, message) {
            (Some(d), None) => Ok(SignInput::Digest(d)),
            (None, Some(m)) => Ok(SignInput::Message(m)),
            _ => Err(Error::param(
                "Digest",
                "give exactly one of a digest and a message",
            )),
        }
    }

    /// The SHA-256 digest signed: as given, or of the message.
    #[must_use]
    pub fn digest(self) -> Vec<u8> {
        match self {
            SignInput::Digest(d) => d.to_vec(),
            SignInput::Message(m) => crate::vocab::sha256(m),
        }
    }
}

/// SubjectPublicKeyInfo DER → PEM (`-----BEGIN PUBLIC KEY-----`, 64-column lines).
#[must_use]
pub fn spki_pem(der: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let b64 = Base64::encode_string(der);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(core::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

/// PKCS#8 DER → PEM (`PRIVATE KEY`), built in buffers sized up front (no growth
/// leaves an unwiped copy) and wiped when dropped.
///
/// # Errors
/// `InternalFailure` if the encoder refuses its own length (it does not).
pub fn pkcs8_pem(der: &[u8]) -> Result<SecretBytes> {
    use base64ct::{Base64, Encoding};
    const BEGIN: &[u8] = b"-----BEGIN PRIVATE KEY-----\n";
    const END: &[u8] = b"-----END PRIVATE KEY-----\n";
    let mut b64 = SecretBytes::zeroed(Base64::encoded_len(der));
    Base64::encode(der, b64.expose_mut())
        .map_err(|_| Error::Internal("PEM encoding of a private key"))?;
    let body = b64.expose();
    let lines = body.len().div_ceil(64);
    let mut pem = SecretBytes::zeroed(BEGIN.len() + body.len() + lines + END.len());
    let mut at = 0;
    let out = pem.expose_mut();
    let mut put = |bytes: &[u8]| {
        if let Some(dst) = out.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        at += bytes.len();
    };
    put(BEGIN);
    for chunk in body.chunks(64) {
        put(chunk);
        put(b"\n");
    }
    put(END);
    Ok(pem)
}

/// PEM (`PUBLIC KEY`) → SubjectPublicKeyInfo DER.
///
/// # Errors
/// `InvalidParameter.PublicKey` when it is not a PEM public key.
pub fn pem_spki(pem: &str) -> Result<Vec<u8>> {
    use base64ct::{Base64, Encoding};
    let bad = |why: &str| Error::param("PublicKey", alloc::format!("not a PEM public key: {why}"));
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .ok_or_else(|| bad("no BEGIN PUBLIC KEY line"))?
        .strip_suffix("-----END PUBLIC KEY-----")
        .ok_or_else(|| bad("no END PUBLIC KEY line"))?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = Base64::decode_vec(&b64).map_err(|_| bad("bad base64"))?;
    if der.first() != Some(&0x30) {
        return Err(bad("not DER"));
    }
    Ok(der)
}

/// A map of parsed keys that forgets everything once it holds 1024 entries: parsing
/// again is only slower, and this bounds the memory a stream of distinct keys takes.
#[cfg_attr(
    not(any(feature = "aws-lc", feature = "rustcrypto-asym")),
    allow(dead_code)
)]
pub(crate) struct Bounded<K, V>(spin::Mutex<alloc::collections::BTreeMap<K, V>>);

#[cfg_attr(
    not(any(feature = "aws-lc", feature = "rustcrypto-asym")),
    allow(dead_code)
)]
impl<K: Ord, V: Clone> Bounded<K, V> {
    const ENTRIES: usize = 1024;

    /// The value for `k`, made by `make` (outside the lock) when absent.
    pub(crate) fn get_or_try(&self, k: K, make: impl FnOnce() -> Result<V>) -> Result<V> {
        if let Some(v) = self.0.lock().get(&k) {
            return Ok(v.clone());
        }
        let v = make()?;
        let mut m = self.0.lock();
        if m.len() >= Self::ENTRIES {
            m.clear();
        }
        m.insert(k, v.clone());
        Ok(v)
    }
}

impl<K, V> Default for Bounded<K, V> {
    fn default() -> Self {
        Bounded(spin::Mutex::new(alloc::collections::BTreeMap::new()))
    }
}

/// SHA-256 of a key's encoding: what the caches are keyed by.
#[cfg_attr(
    not(any(feature = "aws-lc", feature = "rustcrypto-asym")),
    allow(dead_code)
)]
pub(crate) fn fingerprint(der: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(der).into()
}

#[cfg(feature = "aws-lc")]
mod imp {
    use alloc::sync::Arc;
    use alloc::vec::Vec;

    use aws_lc_rs::digest::{Digest, SHA256};
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{
        KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
        OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    };
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};

    use super::{Bounded, EncryptionAlgorithm, SigningAlgorithm, WrappingAlgorithm, fingerprint};
    use crate::error::{Error, Result};
    use crate::secret::SecretBytes;
    use crate::vocab::KeySpec;

    fn ec_alg(spec: KeySpec) -> Option<&'static signature::EcdsaSigningAlgorithm> {
        match spec {
            KeySpec::EcP256 => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
            KeySpec::EcP256K => Some(&signature::ECDSA_P256K1_SHA256_ASN1_SIGNING),
            _ => None,
        }
    }

    fn material() -> Error {
        Error::BackendProtocol("stored asymmetric key material does not parse")
    }

    /// A private key parsed once. Parsing an RSA PKCS#8 key (with AWS-LC's key
    /// checks) costs ~250 µs, several times a signature, so the software backend
    /// keeps parsed keys by the SHA-256 of their PKCS#8 (bounded; see [`KeyCache`]).
    pub(super) enum Parsed {
        Rsa(RsaKeyPair),
        RsaDecrypt(OaepPrivateDecryptingKey),
        Ec(EcdsaKeyPair),
    }

    const SIGN: u8 = 1;
    const DECRYPT: u8 = 2;

    /// Parsed private keys, keyed by (SHA-256 of the PKCS#8, operation), and derived
    /// public keys, keyed by SHA-256 of the PKCS#8.
    #[derive(Default)]
    pub struct KeyCache {
        parsed: Bounded<([u8; 32], u8), Arc<Parsed>>,
        public: Bounded<[u8; 32], Vec<u8>>,
    }

    impl KeyCache {
        fn get(&self, spec: KeySpec, pkcs8: &[u8], op: u8) -> Result<Arc<Parsed>> {
            self.parsed.get_or_try((fingerprint(pkcs8), op), || {
                Ok(Arc::new(if let Some(alg) = ec_alg(spec) {
                    Parsed::Ec(EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(|_| material())?)
                } else if op == DECRYPT {
                    let d = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| material())?;
                    Parsed::RsaDecrypt(OaepPrivateDecryptingKey::new(d).map_err(|_| material())?)
                } else {
                    Parsed::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| material())?)
                }))
            })
        }

        pub fn public_key(&self, spec: KeySpec, pkcs8: &[u8]) -> Result<Vec<u8>> {
            self.public
                .get_or_try(fingerprint(pkcs8), || self.derive_public(spec, pkcs8))
        }

        fn derive_public(&self, spec: KeySpec, pkcs8: &[u8]) -> Result<Vec<u8>> {
            Ok(match &*self.get(spec, pkcs8, SIGN)? {
                Parsed::Ec(kp) => kp
                    .public_key()
                    .as_der()
                    .map_err(|_| material())?
                    .as_ref()
                    .to_vec(),
                Parsed::Rsa(kp) => kp
                    .public_key()
                    .as_der()
                    .map_err(|_| material())?
                    .as_ref()
                    .to_vec(),
                Parsed::RsaDecrypt(_) => return Err(material()),
            })
        }

        pub fn sign(
            &self,
            spec: KeySpec,
            pkcs8: &[u8],
            alg: SigningAlgorithm,
            digest: &[u8],
        ) -> Result<Vec<u8>> {
            let d = Digest::import_less_safe(digest, &SHA256)
                .map_err(|_| Error::param("Digest", "a SHA-256 digest is 32 bytes"))?;
            let failed = || Error::BackendProtocol("signing failed");
            match &*self.get(spec, pkcs8, SIGN)? {
                Parsed::Ec(kp) => Ok(kp.sign_digest(&d).map_err(|_| failed())?.as_ref().to_vec()),
                Parsed::Rsa(kp) => {
                    let pad: &'static dyn signature::RsaEncoding = match alg {
                        SigningAlgorithm::RsaPssSha256 => &signature::RSA_PSS_SHA256,
                        _ => &signature::RSA_PKCS1_SHA256,
                    };
                    let mut sig = alloc::vec![0u8; kp.public_modulus_len()];
                    kp.sign_digest(pad, &d, &mut sig).map_err(|_| failed())?;
                    Ok(sig)
                }
                Parsed::RsaDecrypt(_) => Err(material()),
            }
        }

        pub fn decrypt(
            &self,
            spec: KeySpec,
            pkcs8: &[u8],
            alg: EncryptionAlgorithm,
            ct: &[u8],
        ) -> Result<SecretBytes> {
            let Parsed::RsaDecrypt(k) = &*self.get(spec, pkcs8, DECRYPT)? else {
                return Err(material());
            };
            open_oaep(k, alg, ct)
        }
    }

    /// Parsed public keys for verification, keyed by SHA-256(SPKI) and algorithm.
    #[derive(Default)]
    pub struct PublicKeyCache {
        verifiers: Bounded<([u8; 32], SigningAlgorithm), Arc<signature::ParsedPublicKey>>,
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
            let d = Digest::import_less_safe(digest, &SHA256)
                .map_err(|_| Error::param("Digest", "a SHA-256 digest is 32 bytes"))?;
            let parsed = self.verifiers.get_or_try((fingerprint(spki), alg), || {
                Ok(Arc::new(
                    signature::UnparsedPublicKey::new(verification(spec, alg), spki)
                        .parse()
                        .map_err(|_| Error::param("PublicKey", "not a public key of this spec"))?,
                ))
            })?;
            Ok(parsed.verify_digest_sig(&d, sig).is_ok())
        }
    }

    fn verification(
        spec: KeySpec,
        alg: SigningAlgorithm,
    ) -> &'static dyn signature::VerificationAlgorithm {
        match (alg, spec) {
            (SigningAlgorithm::EcdsaSha256, KeySpec::EcP256) => &signature::ECDSA_P256_SHA256_ASN1,
            (SigningAlgorithm::EcdsaSha256, _) => &signature::ECDSA_P256K1_SHA256_ASN1,
            (SigningAlgorithm::RsaPssSha256, _) => &signature::RSA_PSS_2048_8192_SHA256,
            (SigningAlgorithm::RsaPkcs1Sha256, _) => &signature::RSA_PKCS1_2048_8192_SHA256,
        }
    }

    fn open_oaep(
        k: &OaepPrivateDecryptingKey,
        alg: EncryptionAlgorithm,
        ct: &[u8],
    ) -> Result<SecretBytes> {
        if ct.len() != k.key_size_bytes() {
            return Err(Error::InvalidCiphertext);
        }
        let mut out = SecretBytes::zeroed(k.min_output_size());
        let n = k
            .decrypt(oaep(alg), ct, out.expose_mut(), None)
            .map_err(|_| Error::InvalidCiphertext)?
            .len();
        Ok(SecretBytes::from_slice(
            out.expose().get(..n).unwrap_or_default(),
        ))
    }

    pub fn generate(spec: KeySpec) -> Result<SecretBytes> {
        let failed = || Error::BackendProtocol("key generation failed");
        if let Some(alg) = ec_alg(spec) {
            let kp = EcdsaKeyPair::generate(alg).map_err(|_| failed())?;
            let doc = kp.to_pkcs8v1().map_err(|_| failed())?;
            return Ok(SecretBytes::from_slice(doc.as_ref()));
        }
        let size = match spec {
            KeySpec::Rsa2048 => KeySize::Rsa2048,
            KeySpec::Rsa3072 => KeySize::Rsa3072,
            KeySpec::Rsa4096 => KeySize::Rsa4096,
            _ => return Err(Error::Unsupported("not an asymmetric key spec")),
        };
        let kp = RsaKeyPair::generate(size).map_err(|_| failed())?;
        let der = kp.as_der().map_err(|_| failed())?;
        Ok(SecretBytes::from_slice(der.as_ref()))
    }

    pub fn verify(
        spec: KeySpec,
        spki: &[u8],
        alg: SigningAlgorithm,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<bool> {
        let d = Digest::import_less_safe(digest, &SHA256)
            .map_err(|_| Error::param("Digest", "a SHA-256 digest is 32 bytes"))?;
        Ok(
            signature::UnparsedPublicKey::new(verification(spec, alg), spki)
                .verify_digest(&d, sig)
                .is_ok(),
        )
    }

    fn oaep(alg: EncryptionAlgorithm) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
        match alg {
            EncryptionAlgorithm::RsaesOaepSha256 => &OAEP_SHA256_MGF1SHA256,
            EncryptionAlgorithm::RsaesOaepSha1 => &OAEP_SHA1_MGF1SHA1,
        }
    }

    pub fn encrypt(spki: &[u8], alg: EncryptionAlgorithm, pt: &[u8]) -> Result<Vec<u8>> {
        let bad = || {
            Error::param(
                "PublicKey",
                "not an RSA public key (SubjectPublicKeyInfo DER)",
            )
        };
        let pk = PublicEncryptingKey::from_der(spki).map_err(|_| bad())?;
        let pk = OaepPublicEncryptingKey::new(pk).map_err(|_| bad())?;
        let limit = pk.max_plaintext_size(oaep(alg));
        if pt.len() > limit {
            return Err(Error::PlaintextTooLarge {
                size: pt.len(),
                limit,
            });
        }
        let mut out = alloc::vec![0u8; pk.ciphertext_size()];
        let n = pk
            .encrypt(oaep(alg), pt, &mut out, None)
            .map_err(|_| Error::BackendProtocol("RSA-OAEP encryption failed"))?
            .len();
        out.truncate(n);
        Ok(out)
    }

    pub fn wrap(spki: &[u8], spec: KeySpec, alg: WrappingAlgorithm, pt: &[u8]) -> Result<Vec<u8>> {
        let bad = |why: &str| Error::param("PublicKey", alloc::string::String::from(why));
        let pk = PublicEncryptingKey::from_der(spki)
            .map_err(|_| bad("not an RSA public key (SubjectPublicKeyInfo DER or PEM)"))?;
        let want = spec
            .rsa_modulus_len()
            .ok_or_else(|| Error::param("WrappingKeySpec", "RSA_2048, RSA_3072 or RSA_4096"))?;
        if pk.key_size_bytes() != want {
            return Err(bad(&alloc::format!(
                "a {}-bit key, not the {spec} that WrappingKeySpec names",
                pk.key_size_bits()
            )));
        }
        let limit = want - 11;
        match alg {
            WrappingAlgorithm::RsaesOaepSha256 => {
                encrypt(spki, EncryptionAlgorithm::RsaesOaepSha256, pt)
            }
            WrappingAlgorithm::RsaesOaepSha1 => {
                encrypt(spki, EncryptionAlgorithm::RsaesOaepSha1, pt)
            }
            WrappingAlgorithm::RsaesPkcs1V15 if pt.len() > limit => Err(Error::PlaintextTooLarge {
                size: pt.len(),
                limit,
            }),
            WrappingAlgorithm::RsaesPkcs1V15 => {
                let mut out = alloc::vec![0u8; want];
                let n = aws_lc_rs::rsa::Pkcs1PublicEncryptingKey::new(pk)
                    .and_then(|k| k.encrypt(pt, &mut out).map(|c| c.len()))
                    .map_err(|_| Error::BackendProtocol("RSA encryption failed"))?;
                out.truncate(n);
                Ok(out)
            }
        }
    }

    pub fn ecdsa_raw_to_der(_: KeySpec, _: &[u8]) -> Result<Vec<u8>> {
        Err(Error::Unsupported(
            "raw ECDSA signatures come from WebCrypto, in the wasm build only",
        ))
    }

    pub fn ecdsa_der_to_raw(_: KeySpec, _: &[u8]) -> Result<Vec<u8>> {
        Err(Error::Unsupported(
            "raw ECDSA signatures go to WebCrypto, in the wasm build only",
        ))
    }

    pub fn kwp_wrap(kek: &[u8; 32], pt: &[u8]) -> Result<Vec<u8>> {
        use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrapPadded};
        let k = KeyEncryptionKey::new(&AES_256, kek)
            .map_err(|_| Error::BackendProtocol("key wrap failed"))?;
        let mut out = alloc::vec![0u8; pt.len().div_ceil(8) * 8 + 8];
        let n = k
            .wrap_with_padding(pt, &mut out)
            .map_err(|_| Error::BackendProtocol("key wrap failed"))?
            .len();
        out.truncate(n);
        Ok(out)
    }

    pub fn kwp_unwrap(kek: &[u8; 32], ct: &[u8]) -> Result<SecretBytes> {
        use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrapPadded};
        let k = KeyEncryptionKey::new(&AES_256, kek).map_err(|_| super::bad_kwp())?;
        let mut out = SecretBytes::zeroed(ct.len());
        let n = k
            .unwrap_with_padding(ct, out.expose_mut())
            .map_err(|_| super::bad_kwp())?
            .len();
        Ok(SecretBytes::from_slice(
            out.expose().get(..n).unwrap_or_default(),
        ))
    }

    pub fn canonical_private_key(spec: KeySpec, der: &[u8]) -> Result<SecretBytes> {
        let bad = || super::bad_material(spec);
        if let Some(alg) = ec_alg(spec) {
            let kp = EcdsaKeyPair::from_pkcs8(alg, der).map_err(|_| bad())?;
            let doc = kp.to_pkcs8v1().map_err(|_| bad())?;
            return Ok(SecretBytes::from_slice(doc.as_ref()));
        }
        let want = spec.rsa_modulus_len().ok_or_else(bad)?;
        let kp = RsaKeyPair::from_pkcs8(der).map_err(|_| bad())?;
        if kp.public_modulus_len() != want {
            return Err(bad());
        }
        let doc = kp.as_der().map_err(|_| bad())?;
        Ok(SecretBytes::from_slice(doc.as_ref()))
    }

    pub fn decrypt(pkcs8: &[u8], alg: EncryptionAlgorithm, ct: &[u8]) -> Result<SecretBytes> {
        let k = PrivateDecryptingKey::from_pkcs8(pkcs8)
            .map_err(|_| material())
            .and_then(|k| OaepPrivateDecryptingKey::new(k).map_err(|_| material()))?;
        open_oaep(&k, alg, ct)
    }
}

#[cfg(all(not(feature = "aws-lc"), feature = "rustcrypto-asym"))]
#[path = "asym_rustcrypto.rs"]
mod imp;

#[cfg(not(any(feature = "aws-lc", feature = "rustcrypto-asym")))]
mod imp {
    use alloc::vec::Vec;

    use super::{EncryptionAlgorithm, SigningAlgorithm, WrappingAlgorithm};
    use crate::error::{Error, Result};
    use crate::secret::SecretBytes;
    use crate::vocab::KeySpec;

    const NO: Error = Error::Unsupported(
        "asymmetric keys need AWS-LC (native builds) or the rustcrypto-asym feature (wasm); this build has neither",
    );

    /// Nothing to cache without an asymmetric implementation.
    #[derive(Default)]
    pub struct KeyCache;

    /// Nothing to cache without an asymmetric implementation.
    #[derive(Default)]
    pub struct PublicKeyCache;

    impl PublicKeyCache {
        pub fn verify(
            &self,
            _: KeySpec,
            _: &[u8],
            _: SigningAlgorithm,
            _: &[u8],
            _: &[u8],
        ) -> Result<bool> {
            Err(NO)
        }
    }

    impl KeyCache {
        pub fn public_key(&self, _: KeySpec, _: &[u8]) -> Result<Vec<u8>> {
            Err(NO)
        }
        pub fn sign(&self, _: KeySpec, _: &[u8], _: SigningAlgorithm, _: &[u8]) -> Result<Vec<u8>> {
            Err(NO)
        }
        pub fn decrypt(
            &self,
            _: KeySpec,
            _: &[u8],
            _: EncryptionAlgorithm,
            _: &[u8],
        ) -> Result<SecretBytes> {
            Err(NO)
        }
    }

    pub fn generate(_: KeySpec) -> Result<SecretBytes> {
        Err(NO)
    }
    pub fn verify(_: KeySpec, _: &[u8], _: SigningAlgorithm, _: &[u8], _: &[u8]) -> Result<bool> {
        Err(NO)
    }
    pub fn wrap(_: &[u8], _: KeySpec, _: WrappingAlgorithm, _: &[u8]) -> Result<Vec<u8>> {
        Err(NO)
    }
    pub fn encrypt(_: &[u8], _: EncryptionAlgorithm, _: &[u8]) -> Result<Vec<u8>> {
        Err(NO)
    }
    pub fn decrypt(_: &[u8], _: EncryptionAlgorithm, _: &[u8]) -> Result<SecretBytes> {
        Err(NO)
    }
    pub fn ecdsa_raw_to_der(_: KeySpec, _: &[u8]) -> Result<Vec<u8>> {
        Err(NO)
    }
    pub fn ecdsa_der_to_raw(_: KeySpec, _: &[u8]) -> Result<Vec<u8>> {
        Err(NO)
    }
    pub fn kwp_wrap(_: &[u8; 32], _: &[u8]) -> Result<Vec<u8>> {
        Err(NO)
    }
    pub fn kwp_unwrap(_: &[u8; 32], _: &[u8]) -> Result<SecretBytes> {
        Err(NO)
    }
    pub fn canonical_private_key(_: KeySpec, _: &[u8]) -> Result<SecretBytes> {
        Err(NO)
    }
}

/// A fresh private key of `spec` (PKCS#8 v1 DER).
///
/// # Errors
/// `Rejected.Unsupported` without AWS-LC or for a symmetric spec.
pub fn generate(spec: KeySpec) -> Result<SecretBytes> {
    imp::generate(spec)
}

/// Parsed private keys (and their public halves) kept by the software backend, so a
/// key is parsed once rather than on every call. Bounded (1024 entries, then cleared).
#[derive(Default)]
pub struct KeyCache(imp::KeyCache);

impl core::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyCache")
    }
}

impl KeyCache {
    /// The SubjectPublicKeyInfo DER of a private key of `spec`.
    ///
    /// # Errors
    /// `Rejected.BackendProtocol` when the material does not parse.
    pub fn public_key(&self, spec: KeySpec, pkcs8: &[u8]) -> Result<Vec<u8>> {
        self.0.public_key(spec, pkcs8)
    }

    /// Signs a SHA-256 `digest`.
    ///
    /// # Errors
    /// `InvalidParameter.Digest`, `InvalidParameter.Algorithm`.
    pub fn sign(
        &self,
        spec: KeySpec,
        pkcs8: &[u8],
        alg: SigningAlgorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>> {
        check_signing(spec, alg)?;
        check_digest(digest)?;
        self.0.sign(spec, pkcs8, alg, digest)
    }

    /// RSA-OAEP decryption. Every failure is the same `InvalidCiphertext`.
    ///
    /// # Errors
    /// `InvalidCiphertext`.
    pub fn decrypt(
        &self,
        spec: KeySpec,
        pkcs8: &[u8],
        alg: EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        self.0.decrypt(spec, pkcs8, alg, ciphertext)
    }
}

/// Parsed public keys kept by a [`crate::Kms`] for AsymmetricVerify (bounded).
#[derive(Default)]
pub struct PublicKeyCache(imp::PublicKeyCache);

impl core::fmt::Debug for PublicKeyCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PublicKeyCache")
    }
}

impl PublicKeyCache {
    /// As [`verify`], parsing each public key once.
    ///
    /// # Errors
    /// `InvalidParameter.Digest`, `InvalidParameter.Algorithm`, `InvalidParameter.PublicKey`.
    pub fn verify(
        &self,
        spec: KeySpec,
        spki: &[u8],
        alg: SigningAlgorithm,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<bool> {
        check_signing(spec, alg)?;
        check_digest(digest)?;
        self.0.verify(spec, spki, alg, digest, sig)
    }
}

/// As [`verify`], over a digest or a message, with the public key as DER or PEM.
///
/// # Errors
/// As [`verify`]; `InvalidParameter.PublicKey` for PEM that does not parse.
pub fn verify_input(
    spec: KeySpec,
    public_key: &[u8],
    alg: SigningAlgorithm,
    input: SignInput<'_>,
    sig: &[u8],
) -> Result<bool> {
    verify(spec, &spki_der(public_key)?, alg, &input.digest(), sig)
}

/// Verifies `sig` over a SHA-256 `digest` with a SubjectPublicKeyInfo DER key.
/// A wrong signature is `Ok(false)`.
///
/// # Errors
/// `InvalidParameter.Digest`, `InvalidParameter.Algorithm`.
pub fn verify(
    spec: KeySpec,
    spki: &[u8],
    alg: SigningAlgorithm,
    digest: &[u8],
    sig: &[u8],
) -> Result<bool> {
    check_signing(spec, alg)?;
    check_digest(digest)?;
    imp::verify(spec, spki, alg, digest, sig)
}

/// RSA-OAEP encryption to a SubjectPublicKeyInfo DER key.
///
/// # Errors
/// `InvalidParameter.PlaintextTooLarge`, `InvalidParameter.PublicKey`.
pub fn encrypt(spki: &[u8], alg: EncryptionAlgorithm, plaintext: &[u8]) -> Result<Vec<u8>> {
    imp::encrypt(spki, alg, plaintext)
}

/// Wraps `plaintext` (a data key) under an RSA public key of `spec` for export.
/// `public_key` is SubjectPublicKeyInfo, DER or PEM.
///
/// # Errors
/// `InvalidParameter.PublicKey` (not RSA, or not the size `spec` names),
/// `InvalidParameter.WrappingKeySpec`, `InvalidParameter.PlaintextTooLarge`;
/// `Rejected.Unsupported` without AWS-LC.
pub fn wrap_for_export(
    public_key: &[u8],
    spec: KeySpec,
    alg: WrappingAlgorithm,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    imp::wrap(&spki_der(public_key)?, spec, alg, plaintext)
}

/// A SubjectPublicKeyInfo given as PEM (`-----BEGIN PUBLIC KEY-----`) or DER, as DER.
///
/// # Errors
/// `InvalidParameter.PublicKey` for PEM that does not parse.
pub fn spki_der(public_key: &[u8]) -> Result<Vec<u8>> {
    if public_key.starts_with(b"-----BEGIN") {
        let text = core::str::from_utf8(public_key)
            .map_err(|_| Error::param("PublicKey", "not UTF-8 PEM"))?;
        pem_spki(text)
    } else {
        Ok(public_key.to_vec())
    }
}

/// An ECDSA signature in WebCrypto's fixed-width `r ‖ s` form, as DER (what
/// AsymmetricSign returns). For a [`crate::backend::PlatformAsym`] that signs on
/// WebCrypto.
///
/// # Errors
/// `Rejected.BackendProtocol` when `raw` is not a signature of `spec`'s size;
/// `Rejected.Unsupported` without the RustCrypto implementation.
pub fn ecdsa_raw_to_der(spec: KeySpec, raw: &[u8]) -> Result<Vec<u8>> {
    imp::ecdsa_raw_to_der(spec, raw)
}

/// AES-256 key wrap with padding (RFC 5649, "KWP"): the second half of BYOK's
/// RSA_AES_KEY_WRAP. For tests and for callers preparing material.
///
/// # Errors
/// `Rejected.Unsupported` without an implementation; `InvalidParameter.Plaintext`
/// for empty input.
pub fn kwp_wrap(kek: &[u8; 32], plaintext: &[u8]) -> Result<Vec<u8>> {
    if plaintext.is_empty() {
        return Err(Error::param("Plaintext", "nothing to wrap"));
    }
    imp::kwp_wrap(kek, plaintext)
}

/// Unwraps AES-256 KWP (RFC 5649); any failure (integrity check, length) is one
/// `InvalidParameter.EncryptedKeyMaterial`.
///
/// # Errors
/// As described; `Rejected.Unsupported` without an implementation.
pub fn kwp_unwrap(kek: &[u8; 32], wrapped: &[u8]) -> Result<SecretBytes> {
    imp::kwp_unwrap(kek, wrapped)
}

/// Checks that `pkcs8` is a private key of `spec` (RSA modulus size, EC curve) and
/// returns it re-encoded as this build's canonical PKCS#8 v1, as generated keys are
/// stored (BYOK of asymmetric keys).
///
/// # Errors
/// `InvalidParameter.EncryptedKeyMaterial` when it is not such a key;
/// `Rejected.Unsupported` without an implementation.
pub fn canonical_private_key(spec: KeySpec, pkcs8: &[u8]) -> Result<SecretBytes> {
    imp::canonical_private_key(spec, pkcs8)
}

#[cfg_attr(
    not(any(feature = "aws-lc", feature = "rustcrypto-asym")),
    allow(dead_code)
)]
pub(crate) fn bad_material(spec: KeySpec) -> Error {
    Error::param(
        "EncryptedKeyMaterial",
        alloc::format!("the unwrapped material is not a PKCS#8 {spec} private key"),
    )
}

#[cfg_attr(
    not(any(feature = "aws-lc", feature = "rustcrypto-asym")),
    allow(dead_code)
)]
pub(crate) fn bad_kwp() -> Error {
    Error::param(
        "EncryptedKeyMaterial",
        "the AES key-wrap layer does not unwrap (integrity check failed)",
    )
}

/// A DER ECDSA signature as WebCrypto's fixed-width `r ‖ s`, parsed as strictly as
/// verification parses it (so a signature the built-in verifier would refuse for its
/// encoding is refused here too).
///
/// # Errors
/// `InvalidParameter.Value` for a malformed signature; `Rejected.Unsupported` without
/// the RustCrypto implementation.
pub fn ecdsa_der_to_raw(spec: KeySpec, der: &[u8]) -> Result<Vec<u8>> {
    imp::ecdsa_der_to_raw(spec, der)
}

/// RSA-OAEP decryption. Every failure is the same `InvalidCiphertext`.
///
/// # Errors
/// `InvalidCiphertext`.
pub fn decrypt(pkcs8: &[u8], alg: EncryptionAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
    imp::decrypt(pkcs8, alg, ciphertext)
}
