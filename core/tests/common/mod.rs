#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Shared helpers for the core integration tests.

use std::sync::Arc;

use strongroom::backend::remote::{BackendServer, LoopbackTransport, RemoteBackend};
use strongroom::backend::software::SoftwareBackend;
use strongroom::env::OsEntropy;
use strongroom::storage::{KdfParams, MemoryStorage};
use strongroom::time::ManualClock;
use strongroom::{Env, KeyBackend, Kms, KmsOptions, RootSecret, Storage};

pub fn env() -> Env {
    Env::new(
        Arc::new(OsEntropy),
        Arc::new(ManualClock::new(1_795_392_000_000)),
    )
}

/// Which backend a test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Software,
    /// Every call encoded on the wire protocol, awaited, decoded.
    Loopback,
    /// A PKCS#11 token (SoftHSM2): keys generated and used in the token.
    Pkcs11,
}

impl Backend {
    /// The protection level its keys have.
    pub fn protection_level(self) -> strongroom::ProtectionLevel {
        match self {
            Backend::Pkcs11 => strongroom::ProtectionLevel::Hsm,
            _ => strongroom::ProtectionLevel::Software,
        }
    }
}

pub fn backend(kind: Backend, env: &Env) -> Arc<dyn KeyBackend> {
    match kind {
        Backend::Software => Arc::new(SoftwareBackend::new(env.clone())),
        Backend::Loopback => {
            let server = BackendServer::with_handle_key(
                Arc::new(SoftwareBackend::new(env.clone())),
                env.clone(),
                strongroom::SecretBytes::from_slice(&[0x5A; 32]),
            )
            .unwrap();
            let t = Arc::new(LoopbackTransport(Arc::new(server)));
            Arc::new(pollster::block_on(RemoteBackend::connect(t)).unwrap())
        }
        Backend::Pkcs11 => strongroom_pkcs11::Pkcs11Backend::open(
            &strongroom_pkcs11::testing::token("strongroom-conformance"),
        )
        .unwrap(),
    }
}

pub fn open_with(kind: Backend, storage: Arc<dyn Storage>, pass: &str) -> strongroom::Result<Kms> {
    let env = env();
    let backend = backend(kind, &env);
    pollster::block_on(Kms::open(KmsOptions {
        env,
        storage,
        root: RootSecret::passphrase(pass),
        kdf: KdfParams::insecure_fast(),
        backend: Some(backend),
    }))
}

pub fn memory(kind: Backend) -> (Kms, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    (
        open_with(kind, storage.clone(), "correct horse").unwrap(),
        storage,
    )
}

/// A fake clock to drive time-based behaviour.
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_795_392_000_000))
}

/// Test-only deterministic byte stream: SHA-256(seed || counter) blocks.
pub struct Deterministic(pub std::sync::atomic::AtomicU64);
impl strongroom::Entropy for Deterministic {
    fn fill(&self, buf: &mut [u8]) -> strongroom::Result<()> {
        use sha2::Digest;
        for chunk in buf.chunks_mut(32) {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let d = sha2::Sha256::new()
                .chain_update(b"strongroom vectors")
                .chain_update(n.to_be_bytes())
                .finalize();
            chunk.copy_from_slice(&d[..chunk.len()]);
        }
        Ok(())
    }
}

/// The shared-vector check: with `STRONGROOM_REGEN_VECTORS` set, writes `fresh` to
/// `path` first; then the file on disk must equal `fresh` (`what` says what changed),
/// and its contents are returned for the checks that follow.
pub fn check_vectors(path: &str, fresh: &serde_json::Value, what: &str) -> serde_json::Value {
    if std::env::var_os("STRONGROOM_REGEN_VECTORS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(fresh).unwrap() + "\n").unwrap();
    }
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(&on_disk, fresh, "{what} (regenerate only on purpose)");
    on_disk
}
