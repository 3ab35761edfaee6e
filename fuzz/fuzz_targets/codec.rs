//! Every bincode decoder: the datanode ↔ namenode messages (what
//! `/internal/v1` decodes and what the datanode decodes from its answers),
//! the datanode's block `.meta` file, and every value the namenode's
//! `meta_store` keeps in the journal. The first byte picks the type, the rest is
//! the encoded value (format-version byte first).
//!
//! Properties: decoding never panics or over-allocates (libFuzzer's
//! malloc/RSS limits catch a length prefix taken on trust); whatever
//! decodes re-encodes to bytes that decode to the same value and re-encode
//! to themselves (a fixpoint), never longer than the input. (Not always the
//! input itself: bincode's varint decoder accepts a number in a longer form
//! than needed, `[251, 0, 0]` for 0, and the encoder writes the short one.)
#![no_main]
use dfs_common::checksum::{BlockChecksums, Sha256Hasher, Sha256State};
use dfs_common::codec;
use dfs_common::proto::datanode::{
    BadBlockReport, BlockReport, Command, Heartbeat, HeartbeatReply, IncrementalBlockReport,
    RegisterRequest, RegisterResponse,
};
use libfuzzer_sys::fuzz_target;
use namenode::blocks::BlockMeta;
use namenode::datanodes::{LegacyNodeRecord, NodeRecord};
use namenode::namespace::inode::{InodeRecord, LegacyPendingFile, PendingFile};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

fn round_trip<T: Serialize + DeserializeOwned + Debug>(bytes: &[u8]) {
    let Ok(value) = codec::decode::<T>(bytes) else {
        return;
    };
    let name = std::any::type_name::<T>();
    let again = codec::encode(&value).expect("a decoded value encodes");
    assert!(again.len() <= bytes.len(), "{name} grew: {value:?}");
    let back: T = codec::decode(&again).expect("re-encoded bytes decode");
    assert_eq!(format!("{back:?}"), format!("{value:?}"), "{name} changed");
    let third = codec::encode(&back).expect("encodes");
    assert_eq!(third, again, "{name} is not a fixpoint: {value:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 17 {
        // Namenode /internal/v1 request bodies.
        0 => round_trip::<RegisterRequest>(bytes),
        1 => round_trip::<Heartbeat>(bytes),
        2 => round_trip::<BlockReport>(bytes),
        3 => round_trip::<IncrementalBlockReport>(bytes),
        4 => round_trip::<BadBlockReport>(bytes),
        // What the datanode decodes from the namenode's answers.
        5 => round_trip::<RegisterResponse>(bytes),
        6 => round_trip::<HeartbeatReply>(bytes),
        7 => round_trip::<Command>(bytes),
        // The datanode's block .meta file.
        8 => {
            round_trip::<BlockChecksums>(bytes);
            if let Ok(m) = codec::decode::<BlockChecksums>(bytes) {
                // Asking about any chunk of any meta file is safe.
                let _ = m.is_consistent();
                // (Indexes as the datanode uses them: 0..=crcs.len().)
                for i in [0, m.crcs.len() / 2, m.crcs.len()] {
                    let _ = m.chunk_len(i);
                    let _ = m.verify_chunk(i, bytes);
                }
            }
        }
        // The namenode's stored values (meta_store).
        9 => round_trip::<InodeRecord>(bytes),
        10 => round_trip::<PendingFile>(bytes),
        11 => round_trip::<LegacyPendingFile>(bytes),
        12 => round_trip::<BlockMeta>(bytes),
        13 => round_trip::<NodeRecord>(bytes),
        14 => round_trip::<LegacyNodeRecord>(bytes),
        15 => {
            round_trip::<Sha256State>(bytes);
            if let Ok(state) = codec::decode::<Sha256State>(bytes) {
                // A stored midstate that is not one is refused, not trusted.
                if let Some(mut h) = Sha256Hasher::resume(&state) {
                    h.update(b"more");
                    let _ = h.finish();
                }
            }
        }
        _ => round_trip::<u64>(bytes),
    }
});
