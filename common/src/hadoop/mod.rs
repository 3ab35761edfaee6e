//! What the Hadoop doors of the namenode (`--hadoop-rpc-listen`) and of
//! the datanodes (`--hadoop-data-listen`) must agree on (issue 24):
//!
//! - [`proto`]: Hadoop IPC and `ClientNamenodeProtocol` messages;
//! - [`transfer`]: `DataTransferProtocol` messages and framing constants;
//! - [`token`]: the delegation tokens of the door with access control on;
//! - here: how a dfs block is named to Hadoop's client.
//!
//! # Naming a dfs block in Hadoop's terms
//!
//! Hadoop names a block by a block pool id, a 64-bit block id and a
//! generation stamp; dfs by a 128-bit [`BlockId`]. Nothing new is stored:
//! - the pool is the cluster ([`pool_id`]), so a datanode refuses a block
//!   of another cluster;
//! - the 64-bit id is derived from the dfs id ([`hadoop_block_id`]: its 62
//!   random low bits, never negative, since Hadoop takes a negative id for
//!   an erasure-coded block group);
//! - the dfs id itself travels in the block token ([`BlockToken`]), which
//!   Hadoop's client hands back, opaque, to every datanode it asks for the
//!   block. A datanode takes the dfs id from the token and refuses a token
//!   whose id does not derive the block id beside it. With access control
//!   on, the token also carries the dfs block access token, checked as on
//!   every other door.
use crate::checksum::{Sha256Digest, Sha256State};
use crate::ids::{BlockId, ClusterId};
use serde::{Deserialize, Serialize};

pub mod proto;
pub mod token;
pub mod transfer;

/// The block pool of a cluster, as Hadoop's client carries it.
pub fn pool_id(cluster: ClusterId) -> String {
    format!("BP-dfs-{cluster}")
}

/// The 64-bit id Hadoop's client knows a dfs block by: the UUID's low 64
/// bits (62 of them random in a v7 UUID) with the sign bit cleared.
pub fn hadoop_block_id(id: BlockId) -> u64 {
    java_id(id.as_bytes())
}

/// A positive Java `long` from a UUID's 16 bytes: its low 64 bits, the
/// sign bit cleared (Hadoop takes a negative block id for an erasure-coded
/// block group, and a file id is positive).
pub fn java_id(uuid: &[u8; 16]) -> u64 {
    let mut low = [0u8; 8];
    low.copy_from_slice(&uuid[8..]);
    u64::from_be_bytes(low) & (u64::MAX >> 1)
}

/// The generation stamp of every dfs block as Hadoop first sees it (HDFS
/// starts its stamps there too).
pub const FIRST_GENERATION_STAMP: u64 = 1001;

/// The `kind` of the tokens the namenode's door hands out.
pub const TOKEN_KIND: &str = "dfs.block";

const TOKEN_MAGIC: &[u8; 4] = b"dfs1";

/// What a Hadoop block token carries for dfs: the dfs block, the dfs
/// block access token when access control is on, and for a block being
/// written the file's SHA-256 midstate before it (see [`Chain`]) and, for
/// an append, the block whose bytes it starts with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockToken {
    pub block: BlockId,
    pub access: Option<String>,
    pub file_state: Option<Sha256State>,
    /// An append: the file's old last block and its length; a new replica
    /// starts as a copy of it (HDFS appends to the block itself; dfs
    /// blocks never change once written).
    pub source: Option<(BlockId, u64)>,
}

/// The part of a token's identifier past the block, when there is one.
#[derive(Serialize, Deserialize)]
struct Extra {
    file_state: Option<Sha256State>,
    source: Option<(BlockId, u64)>,
}

impl BlockToken {
    /// As Hadoop's `TokenProto`: the identifier is `dfs1`, the 16 bytes of
    /// the dfs id, then for a write the rest ([`Extra`], `codec`-encoded);
    /// the password the dfs access token (empty: none).
    pub fn to_proto(&self) -> proto::TokenProto {
        let mut identifier = TOKEN_MAGIC.to_vec();
        identifier.extend_from_slice(self.block.as_bytes());
        if self.file_state.is_some() || self.source.is_some() {
            let extra = Extra {
                file_state: self.file_state.clone(),
                source: self.source,
            };
            // A few dozen bytes: encoding cannot fail.
            identifier.extend_from_slice(&crate::codec::encode(&extra).unwrap_or_default());
        }
        proto::TokenProto {
            identifier,
            password: self.access.clone().unwrap_or_default().into_bytes(),
            kind: TOKEN_KIND.to_string(),
            service: String::new(),
        }
    }

    /// Reads a token back, checking it names the block Hadoop's client
    /// asks for (`hadoop_id`). The error says what is wrong.
    pub fn from_proto(token: &proto::TokenProto, hadoop_id: u64) -> Result<BlockToken, String> {
        let id = &token.identifier;
        if id.len() < 20 || &id[..4] != TOKEN_MAGIC {
            return Err(format!(
                "block {hadoop_id}: the block token is not one a dfs namenode made (kind {:?})",
                token.kind
            ));
        }
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&id[4..20]);
        let block = BlockId::from_bytes(raw);
        if hadoop_block_id(block) != hadoop_id {
            return Err(format!(
                "block {hadoop_id}: the block token names another block ({block})"
            ));
        }
        let garbled = || format!("block {hadoop_id}: the block token is garbled");
        let extra = match &id[20..] {
            [] => Extra {
                file_state: None,
                source: None,
            },
            rest => crate::codec::decode::<Extra>(rest).map_err(|_| garbled())?,
        };
        let access = match std::str::from_utf8(&token.password) {
            Ok("") => None,
            Ok(s) => Some(s.to_string()),
            Err(_) => return Err(garbled()),
        };
        Ok(BlockToken {
            block,
            access,
            file_state: extra.file_state,
            source: extra.source,
        })
    }
}

/// A file's SHA-256 carried across one block written through Hadoop's
/// protocol: the first datanode of the pipeline goes on hashing the file
/// from the midstate before the block (in its token) as the block's bytes
/// pass, so that the namenode's door can record the whole file's digest at
/// `complete` without reading a byte (`POST` [`CHAIN_PATH`] on a datanode
/// holding the block gives it; one that did not hash it as it came reads
/// the replica to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    /// The block's length and SHA-256.
    pub len: u64,
    pub sha256: Sha256Digest,
    /// The file's midstate after the block (`None` when the bytes so far
    /// are not a whole number of 64-byte SHA-256 blocks: then this was the
    /// file's last block).
    pub after: Option<Sha256State>,
    /// The file's digest, were it to end with this block.
    pub digest: Sha256Digest,
}

/// `POST /hadoop/v1/chain/{block}` on a datanode: a [`ChainRequest`] in, a
/// [`Chain`] out.
pub const CHAIN_PATH: &str = "/hadoop/v1/chain";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainRequest {
    /// The file's midstate before the block.
    pub before: Sha256State,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_block_and_no_other() {
        let state = crate::checksum::Sha256Hasher::new().state(0);
        for (access, file_state) in [
            (None, None),
            (Some("b2:abc".to_string()), None),
            (None, Some(state.clone())),
            (Some("b2:abc".to_string()), Some(state)),
        ] {
            let t = BlockToken {
                block: BlockId::new(),
                access,
                source: file_state.as_ref().map(|_| (BlockId::new(), 77)),
                file_state,
            };
            let h = hadoop_block_id(t.block);
            assert!(i64::try_from(h).is_ok(), "never negative in Java");
            assert_eq!(BlockToken::from_proto(&t.to_proto(), h), Ok(t.clone()));
            let other = hadoop_block_id(BlockId::new());
            let e = BlockToken::from_proto(&t.to_proto(), other).unwrap_err();
            assert!(e.contains("another block"), "{e}");
        }
        let foreign = proto::TokenProto {
            identifier: vec![1, 2, 3],
            password: Vec::new(),
            kind: "HDFS_BLOCK_TOKEN".into(),
            service: String::new(),
        };
        assert!(BlockToken::from_proto(&foreign, 7)
            .unwrap_err()
            .contains("not one a dfs namenode made"));
        // A dfs token with junk after its block.
        let mut junk = BlockToken {
            block: BlockId::new(),
            ..Default::default()
        }
        .to_proto();
        junk.identifier.extend_from_slice(&[9, 9, 9]);
        let h = hadoop_block_id(BlockId::from_bytes(
            junk.identifier[4..20].try_into().unwrap(),
        ));
        assert!(BlockToken::from_proto(&junk, h)
            .unwrap_err()
            .contains("garbled"));
    }
}
