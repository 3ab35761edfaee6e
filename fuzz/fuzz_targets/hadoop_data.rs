//! A datanode's Hadoop data transfer port (`datanode::hadoop`) on arbitrary
//! bytes, three ways:
//! - raw bytes, on a node that belongs to no cluster yet (so every block
//!   operation is refused after its message is read: the framing, the
//!   varint lengths and the message decoding are what is exercised);
//! - a well-formed `WRITE_BLOCK` of a block of the node's cluster (with no
//!   further datanodes: nothing ever leaves this process), at any stage,
//!   checksum and length, followed by arbitrary packet bytes: the packet
//!   reader, the CRC32C checks, the acknowledgements, recovery and append
//!   refusals, finalizing;
//! - a well-formed `READ_BLOCK` of a stored block with any range, followed
//!   by arbitrary bytes (the client's read status).
//!
//! Properties: no panic, and no hang (every run ends within seconds: the
//! client's side is shut once its bytes are written).
#![no_main]
use arbitrary::Arbitrary;
use datanode::events::event_channel;
use datanode::metrics::{Metrics, ScannerStatus};
use datanode::node::Node;
use datanode::store::BlockStore;
use dfs_common::checksum::Sha256Hasher;
use dfs_common::hadoop::proto::{DatanodeInfoProto, ExtendedBlockProto};
use dfs_common::hadoop::transfer::{self, *};
use dfs_common::hadoop::{hadoop_block_id, pool_id, BlockToken};
use dfs_common::ids::{BlockId, ClusterId, NodeId};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(Vec<u8>),
    Write {
        stage: u8,
        checksum: u8,
        bytes_per_checksum: u16,
        min_bytes: u32,
        carry_digest: bool,
        packets: Vec<u8>,
    },
    Read {
        offset: u32,
        len: u32,
        checksums: bool,
        rest: Vec<u8>,
    },
}

struct World {
    rt: tokio::runtime::Runtime,
    bare: Arc<Node>,
    joined: Arc<Node>,
    cluster: ClusterId,
    stored: BlockId,
    _dirs: Vec<tempfile::TempDir>,
}

fn node(rt: &tokio::runtime::Runtime, dir: &std::path::Path, cluster: Option<ClusterId>) -> Arc<Node> {
    let store = rt.block_on(BlockStore::open(dir, None)).unwrap();
    // The link that would read these events is not running.
    let (events, rx) = event_channel();
    std::mem::forget(rx);
    Arc::new(Node {
        id: NodeId::new(),
        advertise: "http://127.0.0.1:1".into(),
        rack: dfs_common::proto::datanode::DEFAULT_RACK.into(),
        hadoop_port: None,
        rbw: Default::default(),
        store,
        events,
        metrics: Metrics::default(),
        scanner: ScannerStatus::default(),
        keys: None,
        cluster: std::sync::Mutex::new(cluster),
        data_dir: dir.to_path_buf(),
    })
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let cluster = ClusterId::new();
        let bare = node(&rt, a.path(), None);
        let joined = node(&rt, b.path(), Some(cluster));
        let stored = BlockId::new();
        rt.block_on(async {
            let mut w = joined.store.writer(stored, None).await.unwrap();
            w.write(&vec![7u8; 70_000]).await.unwrap();
            w.finish(Default::default()).await.unwrap();
        });
        World {
            rt,
            bare,
            joined,
            cluster,
            stored,
            _dirs: vec![a, b],
        }
    })
}

fn header(w: &World, block: BlockId, len: u64, carry_digest: bool) -> ClientOperationHeaderProto {
    ClientOperationHeaderProto {
        base_header: BaseHeaderProto {
            block: ExtendedBlockProto {
                pool_id: pool_id(w.cluster),
                block_id: hadoop_block_id(block),
                generation_stamp: 1001,
                num_bytes: Some(len),
            },
            token: Some(
                BlockToken {
                    block,
                    access: None,
                    file_state: carry_digest.then(|| Sha256Hasher::new().state(0)),
                    source: None,
                }
                .to_proto(),
            ),
        },
        client_name: "fuzz".into(),
    }
}

fn op(code: u8, m: impl Message) -> Vec<u8> {
    let mut out = transfer::VERSION.to_be_bytes().to_vec();
    out.push(code);
    out.extend_from_slice(&m.encode_length_delimited_to_vec());
    out
}

fuzz_target!(|input: Input| {
    let w = world();
    let fresh = BlockId::new();
    let (node, bytes) = match input {
        Input::Raw(b) => (w.bare.clone(), b),
        Input::Write {
            stage,
            checksum,
            bytes_per_checksum,
            min_bytes,
            carry_digest,
            packets,
        } => {
            let m = OpWriteBlockProto {
                header: header(w, fresh, u64::from(min_bytes), carry_digest),
                // Never another datanode: nothing leaves this process.
                targets: Vec::<DatanodeInfoProto>::new(),
                source: None,
                stage: i32::from(stage % 10),
                pipeline_size: 1,
                min_bytes_rcvd: u64::from(min_bytes),
                max_bytes_rcvd: u64::from(min_bytes),
                latest_generation_stamp: 1001,
                requested_checksum: ChecksumProto {
                    r#type: i32::from(checksum % 4),
                    bytes_per_checksum: u32::from(bytes_per_checksum),
                },
                storage_type: None,
                target_storage_types: Vec::new(),
            };
            let mut b = op(OP_WRITE_BLOCK, m);
            b.extend_from_slice(&packets);
            (w.joined.clone(), b)
        }
        Input::Read {
            offset,
            len,
            checksums,
            rest,
        } => {
            let m = OpReadBlockProto {
                header: header(w, w.stored, 70_000, false),
                offset: u64::from(offset),
                len: u64::from(len),
                send_checksums: Some(checksums),
            };
            let mut b = op(OP_READ_BLOCK, m);
            b.extend_from_slice(&rest);
            (w.joined.clone(), b)
        }
    };
    w.rt.block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let serving = tokio::spawn(async move {
            let (mut r, mut wr) = tokio::io::split(server);
            let _ = datanode::hadoop::connection(&mut r, &mut wr, &node, Duration::from_secs(1)).await;
        });
        let talk = async {
            let _ = client.write_all(&bytes).await;
            let _ = client.shutdown().await;
            let mut out = Vec::new();
            let _ = client.read_to_end(&mut out).await;
        };
        let both = async {
            tokio::join!(talk, serving).1.unwrap();
        };
        tokio::time::timeout(Duration::from_secs(10), both)
            .await
            .expect("the data port hung");
        // What a write left: gone, so that runs do not pile up.
        let _ = w.joined.store.delete(fresh).await;
        let _ = w.joined.rbw.take_broken(fresh);
    });
});
