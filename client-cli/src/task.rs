//! [`AbortOnDrop`]: a spawned task that ends with its owner.
//!
//! The write path spawns the HTTP request of a block and the lease renewal;
//! neither may outlive the upload that started it, whether the upload ends,
//! fails, or its future is dropped.
use tokio::task::JoinHandle;

/// Aborts a spawned task when dropped (the upload failed or was dropped).
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);
impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
