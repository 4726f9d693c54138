//! `strongroom lab`: the hands-on lab of the Alibaba KMS envelope-encryption tutorial
//! (create a CMK, generate a data key, encrypt a file locally with AES-256-GCM, keep
//! only the wrapped data key beside it, unwrap it, decrypt, verify) — with the nonce
//! and tag handled for the user instead of left to OpenSSL flags.

use std::path::PathBuf;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Args;
use serde_json::json;
use sha2::{Digest, Sha256};
use strongroom::storage::KdfParams;
use strongroom::{
    CreateKeyRequest, DecryptRequest, EncryptionContext, Error, GenerateDataKeyRequest,
};

/// Options of `strongroom lab`.
#[derive(Args, Debug)]
pub(crate) struct LabArgs {
    /// Work directory for the lab's store and artifacts (default: a fresh temporary one).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// File to encrypt (default: a generated plaintext.txt).
    #[arg(long)]
    file: Option<PathBuf>,
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::StoreIo(format!("{what}: {e}"))
}

fn step(json_mode: bool, n: u32, text: &str) {
    if !json_mode {
        println!("Step {n}: {text}");
    }
}

pub(crate) fn run(args: &LabArgs, json_mode: bool) -> Result<(), Error> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            let nonce: u64 = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            std::env::temp_dir().join(format!("strongroom-lab-{}-{nonce:x}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| io("creating the lab directory", e))?;
    let store = dir.join("store");

    // A fresh store, sealed under a random passphrase that is never printed.
    let mut pw = [0u8; 24];
    getrandom_fill(&mut pw)?;
    let pass = hex::encode(pw);
    step(
        json_mode,
        1,
        &format!("open a fresh embedded store at {}", store.display()),
    );
    let kms = crate::open_store(&store, &pass, KdfParams::default())?;

    step(json_mode, 2, "CreateKey (Aliyun_AES_256, ENCRYPT/DECRYPT)");
    let key = pollster::block_on(kms.create_key(CreateKeyRequest {
        description: Some("lab-envelope-encryption-key".into()),
        ..Default::default()
    }))?;
    if !json_mode {
        println!(
            "        KeyId: {}  KeyState: {}  PrimaryKeyVersion: {}",
            key.key_id, key.key_state, key.primary_key_version
        );
    }

    let plaintext_path = match &args.file {
        Some(f) => f.clone(),
        None => {
            let p = dir.join("plaintext.txt");
            let text = format!(
                "KMS envelope encryption lab - {}\n",
                strongroom::time::iso8601(now_ms())
            );
            std::fs::write(&p, text).map_err(|e| io("writing plaintext.txt", e))?;
            p
        }
    };
    let plaintext = std::fs::read(&plaintext_path).map_err(|e| io("reading the input file", e))?;
    let file_name = plaintext_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ctx = EncryptionContext::from_pairs([("purpose", "lab"), ("file", file_name.as_str())])?;

    step(
        json_mode,
        3,
        &format!(
            "GenerateDataKey (AES_256) with EncryptionContext {}",
            ctx.canonical_json()
        ),
    );
    let dk = pollster::block_on(kms.generate_data_key(GenerateDataKeyRequest {
        key_id: key.key_id.clone(),
        encryption_context: ctx.clone(),
        ..Default::default()
    }))?;
    let key_file = dir.join("ciphertext.key.b64");
    std::fs::write(&key_file, format!("{}\n", B64.encode(&dk.ciphertext_blob)))
        .map_err(|e| io("writing the wrapped data key", e))?;

    step(
        json_mode,
        4,
        "encrypt the file locally with AES-256-GCM (fresh 96-bit nonce; nonce || ciphertext || tag)",
    );
    let mut nonce = [0u8; 12];
    getrandom_fill(&mut nonce)?;
    let aad = b"strongroom-lab-v1";
    let cipher = Aes256Gcm::new_from_slice(dk.plaintext.expose())
        .map_err(|_| Error::Unsupported("data key length"))?;
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &plaintext,
                aad,
            },
        )
        .map_err(|_| Error::Unsupported("AES-GCM encryption failed"))?;
    drop(cipher);
    drop(dk); // the plaintext data key is zeroized here; only the wrapped one is kept
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    let ct_file = dir.join("ciphertext.bin");
    std::fs::write(&ct_file, &out).map_err(|e| io("writing ciphertext.bin", e))?;
    if !json_mode {
        println!(
            "        wrote {} ({} bytes) and {}; the plaintext data key was discarded",
            ct_file.display(),
            out.len(),
            key_file.display()
        );
    }

    step(
        json_mode,
        5,
        "Decrypt the wrapped data key with KMS (no KeyId needed: the blob names it)",
    );
    let blob_text =
        std::fs::read_to_string(&key_file).map_err(|e| io("reading the wrapped data key", e))?;
    let blob = B64
        .decode(blob_text.trim())
        .map_err(|e| Error::InvalidParameter {
            name: "CiphertextBlob",
            reason: format!("malformed base64: {e}"),
        })?;
    let unwrapped = pollster::block_on(kms.decrypt(DecryptRequest {
        ciphertext_blob: blob,
        encryption_context: ctx,
    }))?;

    step(
        json_mode,
        6,
        "decrypt the file locally and check its SHA-256",
    );
    let data = std::fs::read(&ct_file).map_err(|e| io("reading ciphertext.bin", e))?;
    let (n, body) = data.split_at_checked(12).ok_or(Error::InvalidCiphertext)?;
    let nonce: [u8; 12] = n.try_into().map_err(|_| Error::InvalidCiphertext)?;
    let cipher = Aes256Gcm::new_from_slice(unwrapped.plaintext.expose())
        .map_err(|_| Error::InvalidCiphertext)?;
    let decrypted = cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
        .map_err(|_| Error::InvalidCiphertext)?;
    let dec_file = dir.join("decrypted.txt");
    std::fs::write(&dec_file, &decrypted).map_err(|e| io("writing decrypted.txt", e))?;
    let h1 = hex::encode(Sha256::digest(&plaintext));
    let h2 = hex::encode(Sha256::digest(&decrypted));
    let ok = h1 == h2;
    step(
        json_mode,
        7,
        "CreateAlias alias/lab-envelope, then clean up: ScheduleKeyDeletion (7-day PendingWindowInDays) by alias",
    );
    pollster::block_on(kms.create_alias("alias/lab-envelope", &key.key_id))?;
    let deleted = pollster::block_on(kms.schedule_key_deletion("alias/lab-envelope", 7))?;
    if !json_mode {
        println!(
            "        KeyState: {}  DeleteDate: {}",
            deleted.key_state,
            deleted.delete_date.as_deref().unwrap_or("-")
        );
    }
    if json_mode {
        println!(
            "{}",
            json!({"KeyId": key.key_id, "KeyState": deleted.key_state.as_str(), "Directory": dir.display().to_string(), "Sha256Original": h1, "Sha256Decrypted": h2, "Verified": ok})
        );
    } else {
        println!("        original  sha256 {h1}\n        decrypted sha256 {h2}");
        println!(
            "{}",
            if ok {
                "VERIFIED: round trip matches"
            } else {
                "MISMATCH"
            }
        );
        println!("artifacts in {}", dir.display());
    }
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidCiphertext)
    }
}

fn now_ms() -> u64 {
    use strongroom::Clock as _;
    strongroom::time::SystemClock.now_millis()
}

fn getrandom_fill(buf: &mut [u8]) -> Result<(), Error> {
    use strongroom::Entropy as _;
    strongroom::env::OsEntropy.fill(buf)
}
