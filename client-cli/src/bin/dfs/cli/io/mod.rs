//! Byte-moving verbs: `put`, `get`, `cat`.
//!
//! Where things go is decided by pure functions ([`put::plan_put`],
//! [`get::get_destination`], [`get::temp_path_for`]) from what exists, then
//! the transfers run through `dfs_client` (which verifies every byte).
//!
//! Layout: `put.rs` (planning and uploading) · `cat.rs` (a file to stdout,
//! for `cat` and `get REMOTE -`) · `get.rs` (into a local file, through a
//! temp file).
//!
//! Invariant: progress bars only where
//! [`Ctx::progress`](super::ctx::Ctx::progress) allows, and for `cat`/`get -`
//! only when stdout is a regular file (a bar next to a pager is noise). The
//! other invariants are in each verb's module.
mod cat;
mod get;
mod put;

pub use cat::cat;
pub use get::get;
pub use put::put;
