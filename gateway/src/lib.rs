//! `strongroom serve`: the KMS as a network service speaking Alibaba Cloud KMS's
//! OpenAPI (Version 2016-01-20; RAM's 2015-05-01 and STS's 2015-04-01 for their
//! actions), so that Alibaba's own SDKs drive it unmodified.
//!
//! Every request is authenticated here (an RPC `HMAC-SHA1` signature or an
//! `ACS3-HMAC-SHA256` Authorization header, checked against the store's AccessKeys and
//! STS tokens; timestamps more than the allowed skew away and reused nonces are
//! refused), then goes through the one dispatch ([`strongroom::Kms::call_wire`]) as the
//! principal it names, where it is authorised and audited like any other call.
//!
//! Layout: [`sign`] (the strings signatures cover), [`request`] (HTTP → signed call),
//! [`guard`] (replay memory, rate limits), [`fault`] (error bodies and statuses),
//! [`metrics`], [`tls`], and the server (feature `server`, on by default; without
//! it the crate is only the request parser and signer, for the fuzzer).

// A server on std: the core's no_std import lints do not apply.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod client_key;
#[cfg(feature = "server")]
pub mod dkms;
pub mod fault;
pub mod guard;
#[cfg(feature = "server")]
pub mod metrics;
pub mod request;
#[cfg(feature = "server")]
mod server;
pub mod sign;
#[cfg(feature = "server")]
pub mod tls;

#[cfg(feature = "server")]
pub use server::{Bound, Config, Gateway};
