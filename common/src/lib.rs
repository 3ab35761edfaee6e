//! `dfs-common`: everything two dfs processes must agree on, and nothing else.
//!
//! No actix, no sled, no tokio runtime: only types and pure functions (and
//! one allocator setting that every binary applies at start).
//!
//! - [`alloc`]: allocator settings for processes that move bulk data.
//! - [`ids`]: `BlockId`, `NodeId`, `FileId` newtypes over UUIDs.
//! - [`path`]: `DfsPath`, the only parser and validator of user paths.
//! - [`checksum`]: `Sha256Digest`, streaming SHA-256, and per-chunk CRC32C.
//! - [`direct`]: file I/O past the page cache (`O_DIRECT` writes), for the
//!   datanodes' blocks and the client's downloads.
//! - [`units`]: `ByteSize` ("64MiB") and duration parsing for flags and TOML.
//! - [`codec`]: bincode with a size limit and a leading format-version byte.
//! - [`limits`]: what one HTTP client may cost a server (timeouts, streams).
//! - [`auth`]: block access tokens, signed user tokens, the datanode credential.
//! - [`error`]: `ErrorCode` and the JSON error body `{"error":{"code","message"}}`.
//! - [`hadoop`]: Hadoop's wire messages (RPC, data transfer) and how a dfs
//!   block is named in them, for the Hadoop doors of both servers.
//! - [`proto`]: the messages: client ↔ namenode (JSON), datanode ↔ namenode
//!   (bincode), client ↔ datanode (headers and raw streamed bodies).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod alloc;
pub mod auth;
pub mod checkpoint;
pub mod checksum;
pub mod codec;
pub mod direct;
pub mod error;
pub mod hadoop;
pub mod ids;
pub mod limits;
pub mod path;
pub mod proto;
pub mod trash;
pub mod units;

/// The most replicas a file may ask for: the namenode enforces it on every
/// door, the CLI refuses more before asking.
pub const MAX_REPLICATION: u16 = 32;

/// The version string every binary reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
