//! [`Progress`]: where a transfer says how far it got (the `dfs` command
//! draws bars with it; the relays ignore it, with [`NoProgress`]).
//!
//! Invariant: a transfer reports each byte of its source once, whatever it
//! had to send or read again.
/// Told how many more bytes have moved (drives progress bars).
pub trait Progress: Send + Sync {
    fn advance(&self, bytes: u64);
}

/// A progress sink that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {
    fn advance(&self, _bytes: u64) {}
}
