#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The host's AES-256-GCM (`strongroom::PlatformGcm`, installed by the npm package in
//! Node): once installed it seals and opens every store record, secret value and
//! frame of at least `PLATFORM_GCM_MIN` bytes, with the same bytes as the software
//! AES-GCM; its verdict on a tag is final; a host that declines leaves the call to the
//! software AES-GCM. One process-wide installation, so the tests here run one at a
//! time under `SERIAL`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aes_gcm::aead::{AeadInOut, KeyInit};
use pollster::block_on;
use strongroom::storage::{FileStorage, KdfParams};
use strongroom::{
    CreateSecretRequest, Env, GetSecretValueRequest, Kms, KmsOptions, PLATFORM_GCM_MIN,
    PlatformGcm, RootSecret, SecretBytes,
};

/// A host AES-256-GCM (RustCrypto's, called directly) that counts its calls and can be
/// told to decline, or to report every tag as wrong.
struct Host {
    seals: AtomicUsize,
    opens: AtomicUsize,
    shortest: AtomicUsize,
    decline: AtomicBool,
    reject: AtomicBool,
}

impl PlatformGcm for Host {
    fn seal(
        &self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Option<[u8; 16]> {
        if self.decline.load(Ordering::SeqCst) {
            return None;
        }
        self.seals.fetch_add(1, Ordering::SeqCst);
        self.shortest.fetch_min(buf.len(), Ordering::SeqCst);
        let c = aes_gcm::Aes256Gcm::new_from_slice(key).unwrap();
        let tag = c
            .encrypt_inout_detached(&aes_gcm::Nonce::from(*nonce), aad, buf.into())
            .unwrap();
        Some(tag.into())
    }

    fn open(
        &self,
        key: &[u8; 32],
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Option<bool> {
        if self.decline.load(Ordering::SeqCst) {
            return None;
        }
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.shortest.fetch_min(buf.len(), Ordering::SeqCst);
        if self.reject.load(Ordering::SeqCst) {
            return Some(false);
        }
        let c = aes_gcm::Aes256Gcm::new_from_slice(key).unwrap();
        Some(
            c.decrypt_inout_detached(
                &aes_gcm::Nonce::from(*nonce),
                aad,
                buf.into(),
                &aes_gcm::aead::Tag::<aes_gcm::Aes256Gcm>::from(*tag),
            )
            .is_ok(),
        )
    }
}

static HOST: Host = Host {
    seals: AtomicUsize::new(0),
    opens: AtomicUsize::new(0),
    shortest: AtomicUsize::new(usize::MAX),
    decline: AtomicBool::new(false),
    reject: AtomicBool::new(false),
};
static SERIAL: Mutex<()> = Mutex::new(());

fn host() -> std::sync::MutexGuard<'static, ()> {
    let g = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // The first installation stays; every test here installs the same one.
    strongroom::set_platform_gcm(&HOST);
    assert!(
        !strongroom::set_platform_gcm(&HOST),
        "a second installation is refused"
    );
    HOST.decline.store(false, Ordering::SeqCst);
    HOST.reject.store(false, Ordering::SeqCst);
    g
}

fn counts() -> (usize, usize) {
    (
        HOST.seals.load(Ordering::SeqCst),
        HOST.opens.load(Ordering::SeqCst),
    )
}

fn software_seal(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    let c = aes_gcm::Aes256Gcm::new_from_slice(key).unwrap();
    let mut buf = pt.to_vec();
    let tag = c
        .encrypt_inout_detached(&aes_gcm::Nonce::from(nonce), aad, buf.as_mut_slice().into())
        .unwrap();
    buf.extend_from_slice(&tag);
    buf
}

#[test]
fn long_inputs_go_to_the_host_short_ones_stay_and_the_bytes_are_the_same() {
    let _g = host();
    let key = [7u8; 32];
    let nonce = [9u8; 12];
    for len in [0, 16, PLATFORM_GCM_MIN - 1, PLATFORM_GCM_MIN, 4096, 100_000] {
        let pt: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let (s0, o0) = counts();
        {
            use strongroom::hazmat::frame_gcm::{open, seal};
            let ct = seal(&key, nonce, b"aad", &pt).unwrap();
            assert_eq!(ct, software_seal(&key, nonce, b"aad", &pt), "{len} bytes");
            assert_eq!(open(&key, nonce, b"aad", &ct).unwrap().unwrap(), pt);
            let mut bad = ct.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert!(open(&key, nonce, b"aad", &bad).unwrap().is_none());
        }
        let ct = strongroom::hazmat::store_gcm::seal(&key, &nonce, b"aad", &pt).unwrap();
        assert_eq!(ct, software_seal(&key, nonce, b"aad", &pt), "{len} bytes");
        assert_eq!(
            strongroom::hazmat::store_gcm::open(&key, &nonce, b"aad", &ct).unwrap(),
            pt
        );
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(strongroom::hazmat::store_gcm::open(&key, &nonce, b"aad", &bad).is_none());
        let (s1, o1) = counts();
        if len >= PLATFORM_GCM_MIN {
            assert_eq!(
                (s1 - s0, o1 - o0),
                (2, 4),
                "{len} bytes: every long call on the host"
            );
        } else {
            assert_eq!(
                (s1, o1),
                (s0, o0),
                "{len} bytes: short calls stay in software"
            );
        }
    }
    assert!(HOST.shortest.load(Ordering::SeqCst) >= PLATFORM_GCM_MIN);
    // AES-128/192 keys (blobs of older key specs) never go to the host.
    let (s0, o0) = counts();
    let ct = strongroom::hazmat::store_gcm::seal(&[1u8; 16], &nonce, b"", &[0u8; 4096]).unwrap();
    strongroom::hazmat::store_gcm::open(&[1u8; 16], &nonce, b"", &ct).unwrap();
    assert_eq!(counts(), (s0, o0));
}

#[test]
fn a_store_and_its_secret_values_go_through_the_host() {
    let _g = host();
    let dir = std::env::temp_dir().join(format!("sr-platform-gcm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store");
    let open = || {
        block_on(Kms::open(KmsOptions {
            env: Env::system(),
            storage: Arc::new(FileStorage::open(&path).unwrap()),
            root: RootSecret::passphrase("pw"),
            kdf: KdfParams::insecure_fast(),
            backend: None,
        }))
        .unwrap()
    };
    let value = "s".repeat(4096);
    let (s0, o0) = counts();
    {
        let kms = open();
        // Enough keys that the compacted snapshot is long.
        for _ in 0..20 {
            block_on(kms.create_key(Default::default())).unwrap();
        }
        block_on(kms.create_secret(CreateSecretRequest {
            secret_name: "db".into(),
            version_id: "v1".into(),
            secret_data: SecretBytes::from_slice(value.as_bytes()),
            ..Default::default()
        }))
        .unwrap();
        block_on(kms.compact_store()).unwrap();
        block_on(kms.close()).unwrap();
    }
    let (s1, o1) = counts();
    assert!(
        s1 - s0 >= 2,
        "the secret value and the snapshot were sealed on the host"
    );
    let get = |kms: &Kms| {
        block_on(kms.get_secret_value(GetSecretValueRequest {
            secret_name: "db".into(),
            ..Default::default()
        }))
    };
    let kms = open();
    let (_, o2) = counts();
    assert!(o2 > o1, "the snapshot was opened on the host");
    assert_eq!(get(&kms).unwrap().secret_data.expose(), value.as_bytes());
    assert!(counts().1 > o2, "the value was opened on the host");
    let _ = o0;

    // The host's verdict is final: a tag it rejects is a damaged value, not a
    // second try in software.
    HOST.reject.store(true, Ordering::SeqCst);
    let e = get(&kms).unwrap_err();
    assert_eq!(e.code(), "Rejected.StoreCorrupted", "{e}");
    HOST.reject.store(false, Ordering::SeqCst);

    // A host that declines leaves everything to the software AES-GCM.
    HOST.decline.store(true, Ordering::SeqCst);
    let before = counts();
    assert_eq!(get(&kms).unwrap().secret_data.expose(), value.as_bytes());
    block_on(kms.close()).unwrap();
    let kms = open();
    assert_eq!(get(&kms).unwrap().secret_data.expose(), value.as_bytes());
    assert_eq!(counts(), before);
    block_on(kms.close()).unwrap();
    HOST.decline.store(false, Ordering::SeqCst);
    let _ = std::fs::remove_dir_all(&dir);
}
