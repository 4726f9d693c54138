//! Issuing a client key for the dedicated-instance API, in the form Alibaba's
//! instance SDKs read: a JSON file `{"KeyId": "KAAP.…", "PrivateKeyData": base64 of a
//! PKCS#12 (PBES2 AES-256, HMAC-SHA256 MAC) holding the RSA_2048 private key and a
//! self-signed certificate}`, opened with a password. The key pair is made here, on
//! the issuing side: the store is given the public key only (CreateClientKey).

use base64::Engine as _;
use rustls_pki_types::PrivatePkcs8KeyDer;
use strongroom::Error;
use strongroom::vocab::KeySpec;

/// A key pair before it is registered: its public key (PEM) for CreateClientKey.
#[derive(Debug)]
pub struct PendingClientKey {
    /// The public key, `-----BEGIN PUBLIC KEY-----`.
    pub public_key_pem: String,
    pkcs8: strongroom::SecretBytes,
}

fn failed(what: impl core::fmt::Display) -> Error {
    Error::Io(format!("cannot make the client key: {what}"))
}

/// Makes an RSA_2048 key pair.
///
/// # Errors
/// The key generator's.
pub fn generate() -> Result<PendingClientKey, Error> {
    let pkcs8 = strongroom::asym::generate(KeySpec::Rsa2048)?;
    let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(pkcs8.expose()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(failed)?;
    Ok(PendingClientKey {
        public_key_pem: kp.public_key_pem(),
        pkcs8,
    })
}

impl PendingClientKey {
    /// The client key file's JSON for `key_id` (what CreateClientKey answered), its
    /// private key sealed in PKCS#12 under `password`.
    ///
    /// # Errors
    /// When the certificate or the PKCS#12 cannot be made; an empty password.
    pub fn into_file(self, key_id: &str, password: &str) -> Result<String, Error> {
        if password.is_empty() {
            return Err(Error::InvalidParameter {
                name: "Password",
                reason: "a client key's PKCS#12 needs a password".into(),
            });
        }
        let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(self.pkcs8.expose()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(failed)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, key_id);
        let cert = params.self_signed(&kp).map_err(failed)?;
        let chain = p12_keystore::PrivateKeyChain::new(
            key_id.as_bytes(),
            p12_keystore::PrivateKey::from_der(self.pkcs8.expose()).map_err(failed)?,
            [p12_keystore::Certificate::from_der(cert.der()).map_err(failed)?],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(key_id, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        let p12 = store
            .writer(password)
            .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
            .encryption_iterations(10_000)
            .mac_iterations(10_000)
            .write()
            .map_err(failed)?;
        Ok(serde_json::json!({
            "KeyId": key_id,
            "PrivateKeyData": base64::engine::general_purpose::STANDARD.encode(p12),
        })
        .to_string())
    }
}
