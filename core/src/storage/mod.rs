//! Where the sealed store image is kept.
//!
//! A [`Storage`] loads and saves one opaque, already-sealed image; it never sees a
//! key in the clear. [`MemoryStorage`] is for tests and throwaway instances;
//! [`FileStorage`] (feature `std`) is the native single-file store; bindings plug
//! their own (the Node facade writes files from JS, browsers keep an image as bytes).

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::backend::{BoxFuture, MaybeSendSync};
use crate::error::Result;

#[cfg(feature = "std")]
mod file;
pub(crate) mod image;

#[cfg(feature = "std")]
pub use file::FileStorage;
pub use image::KdfParams;

/// Keeps one sealed store image.
pub trait Storage: MaybeSendSync {
    /// The image last saved, or `None` when there is no store yet.
    ///
    /// # Errors
    /// `Rejected.StoreIo` when reading fails.
    fn load(&self) -> BoxFuture<'_, Result<Option<Vec<u8>>>>;

    /// Replaces the image, durably and atomically: after `Ok` the new image survives a
    /// crash; after `Err` (or a crash before `Ok`) the old one is intact.
    ///
    /// # Errors
    /// `Rejected.StoreIo` when writing fails.
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, Result<()>>;
}

/// A store image in memory.
#[derive(Debug, Default)]
pub struct MemoryStorage(spin::Mutex<Option<Vec<u8>>>);

impl MemoryStorage {
    /// Empty: opening a Kms on it creates a new store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Holding an existing image.
    #[must_use]
    pub fn with_image(image: Vec<u8>) -> Self {
        MemoryStorage(spin::Mutex::new(Some(image)))
    }
    /// The image currently held.
    #[must_use]
    pub fn image(&self) -> Option<Vec<u8>> {
        self.0.lock().clone()
    }
}

impl Storage for MemoryStorage {
    fn load(&self) -> BoxFuture<'_, Result<Option<Vec<u8>>>> {
        let v = self.0.lock().clone();
        Box::pin(async move { Ok(v) })
    }
    fn save<'a>(&'a self, image: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        *self.0.lock() = Some(image.to_vec());
        Box::pin(async move { Ok(()) })
    }
}
