//! `strongroom lab`: the hands-on lab of the Alibaba KMS envelope-encryption tutorial
//! (create a CMK, generate a data key, encrypt a file locally, keep only the wrapped
//! data key beside it, unwrap it, decrypt, verify) on the envelope message format: the
//! wrapped data key travels in the message header, the body is framed AES-256-GCM with
//! a key commitment, and nothing is left to OpenSSL flags.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use sha2::{Digest, Sha256};
use strongroom::storage::KdfParams;
use strongroom::{
    CreateKeyRequest, DecryptEnvelopeRequest, EncryptEnvelopeRequest, EncryptionContext, Error,
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
    Error::Io(format!("{what}: {e}"))
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
            "encrypt the file as an envelope message: a fresh AES-256 data key (GenerateDataKey), wrapped by the CMK with EncryptionContext {}, sealed into the header; the body in authenticated 256 KiB frames",
            ctx.canonical_json()
        ),
    );
    let ct_file = dir.join(format!("{file_name}.srenv"));
    let req = EncryptEnvelopeRequest {
        key_ids: vec![key.key_id.clone()],
        encryption_context: ctx.clone(),
        ..Default::default()
    };
    {
        let mut src =
            std::fs::File::open(&plaintext_path).map_err(|e| io("opening the input file", e))?;
        let mut dst = std::io::BufWriter::new(
            std::fs::File::create(&ct_file).map_err(|e| io("creating the envelope file", e))?,
        );
        pollster::block_on(kms.encrypt_stream(&req, &mut src, &mut dst))?;
        dst.into_inner()
            .map_err(|e| io("writing the envelope file", e.into_error()))?
            .sync_all()
            .map_err(|e| io("syncing the envelope file", e))?;
    }
    let size = std::fs::metadata(&ct_file)
        .map_err(|e| io("reading the envelope file", e))?
        .len();
    if !json_mode {
        println!(
            "        wrote {} ({size} bytes); the plaintext data key never left the process and is zeroized",
            ct_file.display(),
        );
    }

    step(
        json_mode,
        4,
        "read the envelope header: it names the CMK version that wraps its data key (no KeyId needed to decrypt)",
    );
    let mut f = std::fs::File::open(&ct_file).map_err(|e| io("opening the envelope file", e))?;
    let (header, _) = strongroom::envelope::io::read_header(&mut f)?;
    for s in &header.stanzas {
        if let (Some((kid, ver)), false) = (s.key(), json_mode) {
            println!("        recipient KeyId: {kid}  KeyVersionId: {ver}");
        }
    }
    if !json_mode {
        println!(
            "        frame length {} bytes, EncryptionContext {}",
            header.frame_length,
            header.encryption_context.canonical_json()
        );
    }

    step(
        json_mode,
        5,
        "decrypt: KMS Decrypt unwraps the data key, the key commitment and header tag are checked, then each frame is authenticated before its plaintext is written",
    );
    let dec_file = dir.join(format!("{file_name}.decrypted"));
    let decrypted = {
        let mut src =
            std::fs::File::open(&ct_file).map_err(|e| io("opening the envelope file", e))?;
        let mut out = Vec::new();
        pollster::block_on(kms.decrypt_stream(&mut src, &mut out, Some(&ctx)))?;
        out
    };
    crate::write_secret_file(&dec_file, &decrypted)?;

    step(
        json_mode,
        6,
        "tamper check: one flipped bit in the envelope is refused with a clear code",
    );
    let mut tampered = std::fs::read(&ct_file).map_err(|e| io("reading the envelope file", e))?;
    if let Some(b) = tampered.last_mut() {
        *b ^= 1;
    }
    let refused = pollster::block_on(kms.decrypt_envelope(DecryptEnvelopeRequest {
        ciphertext: tampered,
        encryption_context: Some(ctx.clone()),
        ..Default::default()
    }));
    let refused_code = match &refused {
        Ok(_) => return Err(Error::Unsupported("a tampered envelope was accepted")),
        Err(e) => e.code(),
    };
    if !json_mode {
        println!("        refused: {refused_code}");
    }
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
            json!({"KeyId": key.key_id, "KeyState": deleted.key_state.as_str(), "Directory": dir.display().to_string(), "Sha256Original": h1, "Sha256Decrypted": h2, "Verified": ok, "Envelope": ct_file.display().to_string(), "TamperedRefusedWith": refused_code})
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
