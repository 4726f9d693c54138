//! `strongroom encrypt` / `strongroom decrypt`: envelope messages, streamed from a file
//! or stdin to a file or stdout with memory bounded by the frame length.
//!
//! A file OUT is written beside itself under a temporary name, synced and renamed
//! into place only on success, so a failed decryption never leaves partial plaintext
//! where the caller expects the result. On stdout, frames are written as they
//! authenticate: a failure exits non-zero after earlier frames were written.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use strongroom::{EncryptEnvelopeRequest, Error, Kms};

use crate::{EnvelopeDecryptArgs, EnvelopeEncryptArgs, EnvelopeReEncryptArgs, parse_context};

fn open_input(path: &str) -> Result<(Box<dyn Read>, Option<u64>), Error> {
    if path == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let f = File::open(path).map_err(|e| Error::Io(format!("cannot read {path}: {e}")))?;
    let len = f.metadata().ok().map(|m| m.len());
    Ok((Box::new(BufReader::with_capacity(1 << 16, f)), len))
}

/// Where output goes: stdout, or a temporary file renamed into place on success.
enum Sink {
    Stdout(BufWriter<std::io::StdoutLock<'static>>),
    File {
        w: BufWriter<File>,
        tmp: PathBuf,
        dest: PathBuf,
    },
}

impl Sink {
    fn open(path: &str) -> Result<Sink, Error> {
        if path == "-" {
            return Ok(Sink::Stdout(BufWriter::with_capacity(
                1 << 16,
                std::io::stdout().lock(),
            )));
        }
        let dest = PathBuf::from(path);
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = dest.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        // 0600 (the output may be plaintext); the rename gives `dest` this file's mode.
        let f = strongroom::storage::create_private(&tmp)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", tmp.display())))?;
        Ok(Sink::File {
            w: BufWriter::with_capacity(1 << 16, f),
            tmp,
            dest,
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(w) => w,
            Sink::File { w, .. } => w,
        }
    }

    fn commit(self) -> Result<(), Error> {
        match self {
            Sink::Stdout(mut w) => w.flush().map_err(|e| Error::Io(format!("stdout: {e}"))),
            Sink::File { w, tmp, dest } => {
                let io = |e: std::io::Error| Error::Io(format!("{}: {e}", dest.display()));
                let done = w
                    .into_inner()
                    .map_err(|e| io(e.into_error()))
                    .and_then(|f| f.sync_all().map_err(io))
                    .and_then(|()| std::fs::rename(&tmp, &dest).map_err(io));
                if done.is_err() {
                    // A full disk or a failed rename leaves no partial file behind.
                    let _ = std::fs::remove_file(&tmp);
                }
                done
            }
        }
    }

    fn abandon(self) {
        if let Sink::File { tmp, .. } = self {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

fn same_file(input: &str, output: &str) -> bool {
    input != "-"
        && output != "-"
        && match (
            Path::new(input).canonicalize(),
            Path::new(output).canonicalize(),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

fn refuse_same(a: &str, b: &str) -> Result<(), Error> {
    if same_file(a, b) {
        return Err(Error::InvalidParameter {
            name: "Output",
            reason: "the output is the input file".into(),
        });
    }
    Ok(())
}

pub(crate) fn encrypt(kms: &Kms, a: EnvelopeEncryptArgs, json_mode: bool) -> Result<(), Error> {
    refuse_same(&a.input, &a.output)?;
    let req = EncryptEnvelopeRequest {
        key_ids: a.key_ids,
        encryption_context: parse_context(&a.context.context)?,
        frame_length: a.frame_length,
        signing_key_id: a.sign_key,
        ..Default::default()
    };
    let (src, len) = open_input(&a.input)?;
    let mut src = crate::progress::reader(src, len, "encrypting", json_mode);
    let mut sink = Sink::open(&a.output)?;
    match pollster::block_on(kms.encrypt_stream(&req, &mut src, sink.writer())) {
        Ok(n) => {
            sink.commit()?;
            if json_mode {
                let mut v = json!({"KeyIds": req.key_ids, "PlaintextBytes": n});
                if let (Some(k), Some(o)) = (&req.signing_key_id, v.as_object_mut()) {
                    o.insert("SigningKeyId".into(), json!(k));
                }
                crate::print_result(&v, a.output == "-");
            }
            Ok(())
        }
        Err(e) => {
            sink.abandon();
            Err(e)
        }
    }
}

pub(crate) fn decrypt(kms: &Kms, a: EnvelopeDecryptArgs, json_mode: bool) -> Result<(), Error> {
    refuse_same(&a.input, &a.output)?;
    let expected = if a.context.context.is_empty() {
        None
    } else {
        Some(parse_context(&a.context.context)?)
    };
    let required = if a.require_context.is_empty() {
        None
    } else {
        Some(parse_context(&a.require_context)?)
    };
    let check = strongroom::ContextCheck {
        exact: expected.as_ref(),
        required: required.as_ref(),
        required_signer: a.require_signer.as_deref(),
    };
    let (src, len) = open_input(&a.input)?;
    let mut src = crate::progress::reader(src, len, "decrypting", json_mode);
    let mut sink = Sink::open(&a.output)?;
    match pollster::block_on(kms.decrypt_stream(&mut src, sink.writer(), check)) {
        Ok(info) => {
            sink.commit()?;
            let ctx: serde_json::Map<String, serde_json::Value> = info
                .encryption_context
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let signer = info.signer.as_ref().map(
                |s| json!({"KeyId": s.key_id, "KeyVersionId": s.key_version_id, "Known": s.known}),
            );
            if json_mode {
                let mut v = json!({"KeyId": info.key_id, "KeyVersionId": info.key_version_id, "EncryptionContext": ctx});
                if let (Some(s), Some(o)) = (signer, v.as_object_mut()) {
                    o.insert("Signer".into(), s);
                }
                crate::print_result(&v, a.output == "-");
            } else if let Some(s) = &info.signer
                && a.require_signer.is_none()
            {
                eprintln!(
                    "note: signed by {} version {} ({})",
                    s.key_id,
                    s.key_version_id,
                    if s.known {
                        "a key of this store"
                    } else {
                        "not a key of this store: check its public key yourself"
                    }
                );
            } else if expected.is_none()
                && required.is_none()
                && !info.encryption_context.is_empty()
            {
                eprintln!(
                    "note: decrypted without checking the EncryptionContext; the message carries {}",
                    info.encryption_context.canonical_json()
                );
            }
            Ok(())
        }
        Err(e) => {
            sink.abandon();
            Err(e)
        }
    }
}

/// `strongroom re-encrypt`: the header read, wrapped again by the KMS, written, and the
/// frames copied behind it (never decrypted).
pub(crate) fn re_encrypt(
    kms: &Kms,
    a: EnvelopeReEncryptArgs,
    json_mode: bool,
) -> Result<(), Error> {
    refuse_same(&a.input, &a.output)?;
    let expected = if a.context.context.is_empty() {
        None
    } else {
        Some(parse_context(&a.context.context)?)
    };
    let (mut src, _) = open_input(&a.input)?;
    let (header, rest) = strongroom::envelope::io::read_header(&mut src)?;
    let r = pollster::block_on(
        kms.re_encrypt_envelope(strongroom::ReEncryptEnvelopeRequest {
            message_header: header.to_bytes(),
            destination_key_ids: a.key_ids,
            encryption_context: expected,
        }),
    )?;
    let mut sink = Sink::open(&a.output)?;
    let copied = (|| -> std::io::Result<u64> {
        let w = sink.writer();
        w.write_all(&r.header)?;
        w.write_all(&rest)?;
        std::io::copy(&mut src, w)
    })();
    match copied {
        Ok(n) => {
            sink.commit()?;
            if json_mode {
                let bytes = r.header.len() as u64 + rest.len() as u64 + n;
                crate::print_result(
                    &json!({
                        "SourceKeyId": r.source_key_id,
                        "SourceKeyVersionId": r.source_key_version_id,
                        "KeyIds": r.key_ids,
                        "Bytes": bytes,
                    }),
                    a.output == "-",
                );
            }
            Ok(())
        }
        Err(e) => {
            sink.abandon();
            Err(Error::Io(format!("copying the message's frames: {e}")))
        }
    }
}
