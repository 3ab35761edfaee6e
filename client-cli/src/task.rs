//! [`AbortOnDrop`]: a spawned task that ends with its owner.
//!
//! The write path spawns the HTTP request of a block and the lease renewal,
//! the read path the opening of the next block; none may outlive the
//! transfer that started it, whether it ends, fails, or its future is
//! dropped.
use tokio::task::JoinHandle;

/// Aborts a spawned task when dropped.
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);
impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
