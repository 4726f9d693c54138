#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! VerifyStore's key half: every key version probed in its backend, and each one the
//! backend no longer holds, cannot reach, or answers wrongly for, listed with its code —
//! a backend that fails while the store is healthy (the "dead HSM" case) is found
//! before a caller needs the key. The happy path on every real backend (software,
//! loopback, SoftHSM2, OpenBao transit, PyKMIP) is in kms.rs
//! (`verify_store_probes_every_key_version`).
#![cfg(feature = "aws-lc")]

mod common;

use std::sync::{Arc, Mutex};

use pollster::block_on;
use strongroom::backend::software::SoftwareBackend;
use strongroom::backend::{BoxFuture, KeyHandle, Sealed};
use strongroom::secret::SecretBytes;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::{
    CreateKeyRequest, EncryptionAlgorithm, KeyBackend, KeySpec, KeyUsage, Kms, KmsOptions,
    ProtectionLevel, Result, RootSecret, SigningAlgorithm,
};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Healthy,
    /// Every call fails as an unreachable device does.
    Dead,
    /// Symmetric decryption answers bytes that are not what was encrypted.
    Garbage,
}

/// The software backend behind a switch: healthy, dead, answering garbage, or
/// without some of the objects it made (a token whose object was deleted).
struct Flaky {
    inner: SoftwareBackend,
    mode: Mutex<Mode>,
    made: Mutex<Vec<KeyHandle>>,
    lost: Mutex<Vec<KeyHandle>>,
    /// Run (once) when a lost handle is asked for: what else happens meanwhile.
    on_lost: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Flaky {
    fn check(&self, handle: &KeyHandle) -> Result<()> {
        if *self.mode.lock().unwrap() == Mode::Dead {
            return Err(strongroom::Error::BackendUnavailable(
                "connection refused".into(),
            ));
        }
        if self.lost.lock().unwrap().contains(handle) {
            let hook = self.on_lost.lock().unwrap().take();
            if let Some(f) = hook {
                f();
            }
            return Err(strongroom::Error::BackendUnavailable(
                "CKR_OBJECT_HANDLE_INVALID".into(),
            ));
        }
        Ok(())
    }
}

impl KeyBackend for Flaky {
    fn protection_level(&self) -> ProtectionLevel {
        ProtectionLevel::Hsm
    }
    fn out_of_process(&self) -> bool {
        true
    }
    fn generate<'a>(&'a self, spec: KeySpec) -> BoxFuture<'a, Result<KeyHandle>> {
        Box::pin(async move {
            let h = self.inner.generate(spec).await?;
            self.made.lock().unwrap().push(h.clone());
            Ok(h)
        })
    }
    fn encrypt<'a>(
        &'a self,
        handle: &'a KeyHandle,
        plaintext: &'a [u8],
        aad: &'a [u8],
    ) -> BoxFuture<'a, Result<Sealed>> {
        Box::pin(async move {
            self.check(handle)?;
            self.inner.encrypt(handle, plaintext, aad).await
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
            self.check(handle)?;
            let pt = self.inner.decrypt(handle, nonce, ciphertext, aad).await?;
            if *self.mode.lock().unwrap() == Mode::Garbage {
                let mut wrong = pt.expose().to_vec();
                wrong[0] ^= 1;
                return Ok(SecretBytes::new(wrong));
            }
            Ok(pt)
        })
    }
    fn supports_asymmetric(&self) -> bool {
        true
    }
    fn public_key<'a>(
        &'a self,
        handle: &'a KeyHandle,
        spec: KeySpec,
    ) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            self.check(handle)?;
            self.inner.public_key(handle, spec).await
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
            self.check(handle)?;
            self.inner.sign(handle, spec, alg, digest).await
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
            self.check(handle)?;
            self.inner
                .asymmetric_decrypt(handle, spec, alg, ciphertext)
                .await
        })
    }
}

fn open() -> (Kms, Arc<Flaky>) {
    open_with(common::env())
}

fn open_with(env: strongroom::Env) -> (Kms, Arc<Flaky>) {
    let flaky = Arc::new(Flaky {
        inner: SoftwareBackend::new(env.clone()),
        mode: Mutex::new(Mode::Healthy),
        made: Mutex::new(Vec::new()),
        lost: Mutex::new(Vec::new()),
        on_lost: Mutex::new(None),
    });
    let kms = block_on(Kms::open(KmsOptions {
        env,
        storage: Arc::new(MemoryStorage::new()),
        root: RootSecret::passphrase("verify keys"),
        kdf: KdfParams::insecure_fast(),
        backend: Some(flaky.clone()),
    }))
    .unwrap();
    (kms, flaky)
}

fn hsm(spec: KeySpec, usage: KeyUsage) -> CreateKeyRequest {
    CreateKeyRequest {
        key_spec: Some(spec),
        key_usage: Some(usage),
        protection_level: Some(ProtectionLevel::Hsm),
        ..Default::default()
    }
}

fn software() -> CreateKeyRequest {
    CreateKeyRequest {
        protection_level: Some(ProtectionLevel::Software),
        ..Default::default()
    }
}

#[test]
fn a_lost_object_is_named_by_key_and_version_and_the_rest_verify() {
    let (kms, flaky) = open();
    let a = block_on(kms.create_key(hsm(KeySpec::Aes256, KeyUsage::EncryptDecrypt))).unwrap();
    let a2 = block_on(kms.create_key_version(&a.key_id)).unwrap();
    let ec = block_on(kms.create_key(hsm(KeySpec::EcP256, KeyUsage::SignVerify))).unwrap();
    let rsa = block_on(kms.create_key(hsm(KeySpec::Rsa2048, KeyUsage::EncryptDecrypt))).unwrap();
    // A SOFTWARE key beside the HSM ones is probed in the in-process backend.
    block_on(kms.create_key(software())).unwrap();

    let r = block_on(kms.verify_store()).unwrap();
    assert_eq!((r.key_versions, r.key_versions_verified), (5, 5));
    assert!(r.key_problems.is_empty());

    // The token loses A's second version and the EC key (made 2nd and 3rd).
    {
        let made = flaky.made.lock().unwrap();
        assert_eq!(made.len(), 4);
        flaky
            .lost
            .lock()
            .unwrap()
            .extend([made[1].clone(), made[2].clone()]);
    }
    let r = block_on(kms.verify_store()).unwrap();
    assert_eq!((r.key_versions, r.key_versions_verified), (5, 3));
    let mut named: Vec<(String, String, &str)> = r
        .key_problems
        .iter()
        .map(|p| (p.key_id.clone(), p.key_version_id.clone(), p.code))
        .collect();
    named.sort();
    let ec_version = block_on(kms.describe_key(&ec.key_id))
        .unwrap()
        .primary_key_version;
    let mut want = vec![
        (
            a.key_id.clone(),
            a2.key_version_id.clone(),
            "Rejected.BackendUnavailable",
        ),
        (ec.key_id.clone(), ec_version, "Rejected.BackendUnavailable"),
    ];
    want.sort();
    assert_eq!(named, want);
    assert!(
        r.key_problems
            .iter()
            .all(|p| p.message.contains("CKR_OBJECT_HANDLE_INVALID"))
    );
    // The RSA key's decrypt probe went through.
    assert!(r.key_problems.iter().all(|p| p.key_id != rsa.key_id));
}

#[test]
fn a_dead_backend_is_every_hsm_version_listed_not_an_error() {
    let (kms, flaky) = open();
    let a = block_on(kms.create_key(hsm(KeySpec::Aes256, KeyUsage::EncryptDecrypt))).unwrap();
    block_on(kms.create_key(hsm(KeySpec::Rsa2048, KeyUsage::SignVerify))).unwrap();
    block_on(kms.create_key(software())).unwrap();
    *flaky.mode.lock().unwrap() = Mode::Dead;
    let r = block_on(kms.verify_store()).unwrap();
    assert_eq!((r.key_versions, r.key_versions_verified), (3, 1));
    assert_eq!(r.key_problems.len(), 2);
    assert!(r.key_problems.iter().any(|p| p.key_id == a.key_id));
    assert!(r.key_problems.iter().all(
        |p| p.code == "Rejected.BackendUnavailable" && p.message.contains("connection refused")
    ));
    // Back up: nothing was changed by the pass.
    *flaky.mode.lock().unwrap() = Mode::Healthy;
    let r = block_on(kms.verify_store()).unwrap();
    assert_eq!((r.key_versions, r.key_versions_verified), (3, 3));
}

#[test]
fn an_answer_that_does_not_round_trip_is_a_protocol_problem() {
    let (kms, flaky) = open();
    let a = block_on(kms.create_key(hsm(KeySpec::Aes256, KeyUsage::EncryptDecrypt))).unwrap();
    *flaky.mode.lock().unwrap() = Mode::Garbage;
    let r = block_on(kms.verify_store()).unwrap();
    assert_eq!((r.key_versions, r.key_versions_verified), (1, 0));
    assert_eq!(r.key_problems.len(), 1);
    assert_eq!(r.key_problems[0].key_id, a.key_id);
    assert_eq!(r.key_problems[0].code, "Rejected.BackendProtocol");
}

#[test]
fn a_key_deleted_while_the_pass_runs_is_not_a_problem() {
    let clock = common::clock();
    let env = strongroom::Env::new(Arc::new(strongroom::env::OsEntropy), clock.clone());
    let (kms, flaky) = open_with(env);
    let kms = Arc::new(kms);
    let keep = block_on(kms.create_key(hsm(KeySpec::Aes256, KeyUsage::EncryptDecrypt))).unwrap();
    let going = block_on(kms.create_key(hsm(KeySpec::Aes256, KeyUsage::EncryptDecrypt))).unwrap();
    // The pass reaches `going`'s version after its deletion went through: the token
    // no longer has it, and neither does the store.
    let lost = flaky.made.lock().unwrap()[1].clone();
    flaky.lost.lock().unwrap().push(lost);
    let (k, id) = (kms.clone(), going.key_id.clone());
    *flaky.on_lost.lock().unwrap() = Some(Box::new(move || {
        block_on(k.schedule_key_deletion(&id, 7)).unwrap();
        clock.advance(8 * 24 * 3600 * 1000);
        block_on(k.run_due()).unwrap();
    }));
    let r = block_on(kms.verify_store()).unwrap();
    assert!(
        flaky.on_lost.lock().unwrap().is_none(),
        "the deletion ran inside the pass"
    );
    assert_eq!(
        block_on(kms.describe_key(&going.key_id))
            .unwrap_err()
            .code(),
        "Forbidden.KeyNotFound"
    );
    assert_eq!((r.key_versions, r.key_versions_verified), (1, 1));
    assert!(r.key_problems.is_empty(), "{:?}", r.key_problems);
    assert!(block_on(kms.describe_key(&keep.key_id)).is_ok());
}
