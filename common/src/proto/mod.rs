//! Protocol messages. Each message's request and response sit side by side.
//!
//! - [`client`]: client ↔ namenode, JSON under [`client::RPC_PREFIX`]; also
//!   the cluster API shapes under `/api/v1`.
//! - [`datanode`]: datanode ↔ namenode, bincode under
//!   [`datanode::INTERNAL_PREFIX`]. The namenode never calls a datanode:
//!   commands ride on heartbeat replies.
//! - [`data`]: client ↔ datanode and datanode ↔ datanode block transfer:
//!   raw streamed bodies plus a few headers.
//! - [`webhdfs`]: Hadoop's WebHDFS REST parameters and JSON shapes.
pub mod client;
pub mod data;
pub mod datanode;
pub mod webhdfs;

use crate::ids::NodeId;
use serde::{Deserialize, Serialize};

/// Where a datanode can be reached: its id and its advertised base URL
/// (`http://host:port`, no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DatanodeInfo {
    pub id: NodeId,
    pub addr: String,
}
