//! Every JSON decoder of the wire: the native client protocol's request
//! bodies (what `/rpc/v1` takes, `common::proto::client`), the answers the
//! client and datanodes decode (statuses, listings, locations, cluster API
//! shapes, `ErrorBody`, the datanode's write acks and block meta), WebHDFS
//! bodies, and the same request types from a query string (`web::Query`, as
//! the GET endpoints read them). The first byte picks the type.
//!
//! Properties: no panic; whatever decodes re-encodes to JSON that decodes
//! again and re-encodes to the same text (a fixpoint: nothing is lost or
//! invented on the way through); every `DfsPath` inside re-validates
//! (checked by decoding again: `DfsPath` deserializes only valid paths).
#![no_main]
use actix_web::web;
use dfs_common::checksum::BlockChecksums;
use dfs_common::error::ErrorBody;
use dfs_common::proto::client::*;
use dfs_common::proto::data::WriteBlockResponse;
use dfs_common::proto::webhdfs;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

fn json<T: Serialize + DeserializeOwned + Debug>(bytes: &[u8]) {
    let Ok(value) = serde_json::from_slice::<T>(bytes) else {
        return;
    };
    fixpoint(&value);
}

fn fixpoint<T: Serialize + DeserializeOwned + Debug>(value: &T) {
    let name = std::any::type_name::<T>();
    let once = serde_json::to_string(value).expect("a decoded value encodes");
    let back: T = serde_json::from_str(&once)
        .unwrap_or_else(|e| panic!("{name} does not re-read its own JSON {once}: {e}"));
    let twice = serde_json::to_string(&back).expect("encodes");
    assert_eq!(once, twice, "{name} changes on a round trip");
}

/// As `web::Query<T>` reads a query string.
fn query<T: Serialize + DeserializeOwned + Debug>(bytes: &[u8]) {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(q) = web::Query::<T>::from_query(s) {
        fixpoint(&q.into_inner());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 40 {
        // /rpc/v1 request bodies.
        0 => json::<PathQuery>(bytes),
        1 => json::<MkdirsRequest>(bytes),
        2 => json::<ListQuery>(bytes),
        3 => json::<RenameRequest>(bytes),
        4 => json::<DeleteRequest>(bytes),
        5 => json::<CreateRequest>(bytes),
        6 => json::<AddBlockRequest>(bytes),
        7 => json::<AbandonBlockRequest>(bytes),
        8 => json::<FileIdRequest>(bytes),
        9 => json::<CompleteRequest>(bytes),
        10 => json::<AppendRequest>(bytes),
        11 => json::<SetAttributesRequest>(bytes),
        12 => json::<SetReplicationRequest>(bytes),
        13 => json::<BadReplicaReport>(bytes),
        // Answers that clients and datanodes decode.
        14 => json::<FileStatus>(bytes),
        15 => json::<DirectoryListing>(bytes),
        16 => json::<CreateResponse>(bytes),
        17 => json::<LocatedBlock>(bytes),
        18 => json::<AppendResponse>(bytes),
        19 => json::<FileLocations>(bytes),
        20 => json::<DeleteResponse>(bytes),
        21 => json::<ContentSummary>(bytes),
        22 => {
            // Has a float (repair rate): serde_json's default float parsing
            // may move the last bit, so only "decodes again" is asked.
            if let Ok(v) = serde_json::from_slice::<ClusterSummary>(bytes) {
                let once = serde_json::to_string(&v).expect("encodes");
                serde_json::from_str::<ClusterSummary>(&once).expect("re-reads");
            }
        }
        23 => json::<Vec<DatanodeReport>>(bytes),
        24 => json::<FsckReport>(bytes),
        25 => json::<SafeModeStatus>(bytes),
        26 => json::<AdminStateChange>(bytes),
        27 => json::<ErrorBody>(bytes),
        28 => json::<WriteBlockResponse>(bytes),
        29 => json::<BlockChecksums>(bytes),
        // WebHDFS bodies (HdfsCLI and fsspec read these from us; the
        // datanode reads RemoteException from the namenode).
        30 => json::<webhdfs::FileStatusBody>(bytes),
        31 => json::<webhdfs::FileStatusesBody>(bytes),
        32 => json::<webhdfs::ContentSummaryBody>(bytes),
        33 => json::<webhdfs::RemoteExceptionBody>(bytes),
        34 => json::<webhdfs::LocationBody>(bytes),
        // GET endpoints: the same types from a query string.
        35 => query::<PathQuery>(bytes),
        36 => query::<ListQuery>(bytes),
        37 => query::<SafeModeQueryShape>(bytes),
        38 => query::<webhdfs_pairs::Pairs>(bytes),
        _ => json::<webhdfs::DirectoryListingBody>(bytes),
    }
});

/// The shape of `/api/v1/safemode?action=` (the handler's own struct is
/// private; this is the same field over the same enum).
#[derive(Debug, Serialize, serde::Deserialize)]
struct SafeModeQueryShape {
    #[serde(default)]
    action: Option<SafeModeAction>,
}

mod webhdfs_pairs {
    /// WebHDFS and the seed endpoints read the query as ordered pairs.
    pub type Pairs = Vec<(String, String)>;
}
