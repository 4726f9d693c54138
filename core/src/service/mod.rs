//! Service code per family: what each action does once the dispatch
//! (`crate::api`) has resolved and authorised its target.

pub mod aliases;
pub mod asymmetric;
pub(crate) mod audit;
pub mod backend_server;
#[cfg(feature = "wire")]
pub mod connect;
pub mod crypto;
pub(crate) mod envelope;
#[cfg(feature = "std")]
pub(crate) mod envelope_io;
pub mod import;
pub mod keys;
pub mod ram;
pub mod secret_cache;
pub mod secrets;
