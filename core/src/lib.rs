//! strongroom — an embeddable key management service.
//!
//! One core does what a cloud KMS instance does: customer master keys (CMKs) with
//! versions, envelope encryption with data keys, and a sealed store that holds it
//! all. The core is `#![no_std]` + `alloc`; it never opens a file, a socket or the
//! system clock itself. Randomness and time come in through [`Env`], where master keys
//! live is a [`KeyBackend`], and where the sealed state is kept is a [`Storage`].
//!
//! The vocabulary follows Alibaba Cloud KMS: [`Kms::create_key`], [`Kms::encrypt`],
//! [`Kms::decrypt`] (no KeyId needed), [`Kms::generate_data_key`], … Every failure is
//! an [`Error`] with a stable [`Error::code`].
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[macro_use]
mod macros;
pub mod access;
mod aead;
pub mod api;
pub mod asym;
pub mod audit;
pub mod backend;
pub mod blob;
mod codec;
pub mod context;
pub mod env;
pub mod envelope;
mod error;
mod ids;
mod kms;
pub mod secret;
mod service;
mod state;
pub mod storage;
mod sync;
pub mod time;
pub mod vocab;

pub use aead::{PLATFORM_GCM_MIN, PlatformGcm, set_platform_gcm};
pub use api::{Action, CallHook, CallRecord, Caller, Family, Request, Resource, Response, Target};
pub use asym::{EncryptionAlgorithm, SignInput, SigningAlgorithm, WrappingAlgorithm};
pub use backend::http::{HttpClient, HttpRequest, HttpResponse};
pub use backend::{BoxFuture, KeyBackend, KeyHandle, MaybeSend, MaybeSendSync, PlatformAsym};
pub use context::EncryptionContext;
pub use env::{Clock, Entropy, Env};
pub use envelope::{
    ContextCheck, DataKeyCacheConfig, DecryptEnvelopeRequest, DecryptEnvelopeResponse,
    EncryptEnvelopeRequest, EnvelopeInfo, EnvelopeSigner, ReEncryptEnvelopeRequest,
    ReEncryptEnvelopeResponse,
};
pub use error::{EnvelopeFailure, Error, RemoteError, Result};
pub use kms::*;
pub use secret::SecretBytes;
pub use service::aliases::*;
pub use service::asymmetric::*;
#[cfg(feature = "wire")]
pub use service::connect::{Endpoint, RetryPolicy};
pub use service::crypto::*;
pub use service::import::*;
pub use service::keys::*;
pub use service::ram::*;
pub use service::secret_cache::*;
pub use service::secrets::*;
pub use storage::Storage;

/// Raw primitives for the Wycheproof tests only; not part of the API.
#[doc(hidden)]
pub mod hazmat {
    /// The blob and store AES-GCM (RustCrypto).
    pub use crate::aead::hazmat as store_gcm;
    /// The envelope frame AES-256-GCM (AWS-LC with feature `aws-lc`, else RustCrypto).
    pub use crate::envelope::frames::hazmat as frame_gcm;
}
