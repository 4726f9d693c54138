//! A [`BackendServer`] whose handles are sealed by a key kept in a strongroom store,
//! so the server can restart (or move) and every handle it ever issued still opens.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Deref;

use crate::backend::remote::{BackendServer, HandleSealer};
use crate::backend::{BoxFuture, KeyBackend, MaybeSendSync};
use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::kms::Kms;
use crate::secret::SecretBytes;
use crate::service::crypto::{DecryptRequest, EncryptRequest};
use crate::service::keys::CreateKeyRequest;

/// The alias of the key that seals a store-backed server's handles.
pub const HANDLE_KEY_ALIAS: &str = "alias/strongroom/backend-server-handles";

/// Seals handles with Encrypt under the store's handle key (EncryptionContext
/// `{"strongroom": "remote handle"}`), and opens them with Decrypt.
struct StoreSealer<K> {
    kms: K,
    key_id: String,
}

fn handle_context() -> Result<EncryptionContext> {
    let mut c = EncryptionContext::new();
    c.insert("strongroom", "remote handle")?;
    Ok(c)
}

impl<K: Deref<Target = Kms> + MaybeSendSync> HandleSealer for StoreSealer<K> {
    fn seal<'a>(&'a self, handle: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move {
            Ok(self
                .kms
                .encrypt(EncryptRequest {
                    key_id: self.key_id.clone(),
                    plaintext: handle.to_vec(),
                    encryption_context: handle_context()?,
                })
                .await?
                .ciphertext_blob)
        })
    }
    fn open<'a>(&'a self, sealed: &'a [u8]) -> BoxFuture<'a, Result<SecretBytes>> {
        Box::pin(async move {
            let r = self
                .kms
                .decrypt(DecryptRequest {
                    ciphertext_blob: sealed.to_vec(),
                    encryption_context: handle_context()?,
                })
                .await;
            match r {
                Ok(d) if d.key_id == self.key_id => Ok(d.plaintext),
                Ok(_) | Err(Error::InvalidCiphertext) => {
                    Err(Error::param("KeyHandle", "not issued by this server"))
                }
                Err(e) => Err(e),
            }
        })
    }
}

impl BackendServer {
    /// A server over `inner` whose handles are sealed by a key in `kms`'s store
    /// (created under `HANDLE_KEY_ALIAS` (`alias/strongroom/backend-server-handles`) on first use): reopen the same store after
    /// a restart and every handle still opens. Disabling or deleting that key revokes
    /// every handle; rotating it keeps old handles working.
    ///
    /// # Errors
    /// Store failures while creating the handle key.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # strongroom::doc_example!(kms, key_id, {
    /// # let inner: std::sync::Arc<dyn KeyBackend> = kms.backend();
    /// let server = backend::remote::BackendServer::with_store(inner, std::sync::Arc::new(kms)).await?;
    /// # });
    /// ```
    pub async fn with_store<K>(inner: Arc<dyn KeyBackend>, kms: K) -> Result<Self>
    where
        K: Deref<Target = Kms> + MaybeSendSync + 'static,
    {
        let key_id = match kms.describe_key(HANDLE_KEY_ALIAS).await {
            Ok(m) => m.key_id,
            Err(Error::AliasNotFound(_)) => {
                let m = kms
                    .create_key(CreateKeyRequest {
                        description: Some(String::from(
                            "seals the handles this store's backend server issues",
                        )),
                        ..CreateKeyRequest::default()
                    })
                    .await?;
                kms.create_alias(HANDLE_KEY_ALIAS, &m.key_id).await?;
                m.key_id
            }
            Err(e) => return Err(e),
        };
        let env = kms.env.clone();
        Ok(BackendServer::with_sealer(
            inner,
            Box::new(StoreSealer { kms, key_id }),
            env,
        ))
    }
}
