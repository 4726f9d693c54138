//! Streaming envelope service code over `std::io` ([`Kms::encrypt_stream`],
//! [`Kms::decrypt_stream`]); the adapters live in `crate::envelope::io`.

use alloc::vec::Vec;
use std::io::{Read, Write};

use crate::envelope::io::{CHUNK, from_io, read_header, read_some};
use crate::envelope::{EncryptEnvelopeRequest, EnvelopeInfo};
use crate::error::Result;
use crate::kms::Kms;

impl Kms {
    /// Encrypts everything `src` yields into an envelope written to `dst`, holding at
    /// most one frame in memory. Returns the plaintext length. Blocking I/O: call it
    /// from a thread that may block.
    ///
    /// # Errors
    /// As [`Kms::envelope_encryptor`]; `Rejected.Io` for I/O failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// let mut out = Vec::new();
    /// kms.encrypt_stream(&EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], ..Default::default() }, &mut &b"streamed"[..], &mut out).await?;
    /// # });
    /// ```
    pub async fn encrypt_stream<R: Read + ?Sized, W: Write + ?Sized>(
        &self,
        req: &EncryptEnvelopeRequest,
        src: &mut R,
        dst: &mut W,
    ) -> Result<u64> {
        let mut enc = self.envelope_encryptor(req, None).await?;
        let mut chunk = alloc::vec![0u8; CHUNK];
        let mut out = Vec::with_capacity(CHUNK + enc.frame_length() + 64);
        let mut total = 0u64;
        loop {
            let n = read_some(src, &mut chunk)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            enc.update(chunk.get(..n).unwrap_or_default(), &mut out)?;
            dst.write_all(&out).map_err(from_io)?;
            out.clear();
        }
        // The final frame, and a signed message's signature.
        self.finish_envelope(enc, &mut out).await?;
        dst.write_all(&out).map_err(from_io)?;
        dst.flush().map_err(from_io)?;
        Ok(total)
    }

    /// Decrypts an envelope read from `src` into `dst`, frame by frame. Plaintext of a
    /// frame is written only after it authenticates, but a failure at frame n leaves
    /// frames before it written: on error, discard what `dst` received.
    ///
    /// # Errors
    /// As [`Kms::decrypt_envelope`]; `Rejected.Io` for I/O failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let message = kms.encrypt_envelope(EncryptEnvelopeRequest { key_ids: vec![key_id.clone()], plaintext: b"any size".to_vec(), ..Default::default() }).await?;
    /// let mut out = Vec::new();
    /// let info = kms.decrypt_stream(&mut &message[..], &mut out, None::<&EncryptionContext>).await?;
    /// # });
    /// ```
    pub async fn decrypt_stream<R: Read + ?Sized, W: Write + ?Sized>(
        &self,
        src: &mut R,
        dst: &mut W,
        expected: impl Into<crate::envelope::ContextCheck<'_>>,
    ) -> Result<EnvelopeInfo> {
        let (header, leftover) = read_header(src)?;
        let (mut dec, info) = self.open_envelope(&header, expected).await?;
        let mut out = Vec::new();
        dec.update(&leftover, &mut out)?;
        dst.write_all(&out).map_err(from_io)?;
        let mut chunk = alloc::vec![0u8; CHUNK];
        loop {
            let n = read_some(src, &mut chunk)?;
            if n == 0 {
                break;
            }
            out.clear();
            dec.update(chunk.get(..n).unwrap_or_default(), &mut out)?;
            dst.write_all(&out).map_err(from_io)?;
        }
        dec.finish()?;
        dst.flush().map_err(from_io)?;
        Ok(info)
    }
}
