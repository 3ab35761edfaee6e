//! Unit tests of [`Namesystem`] over a real metadata store in a temp dir.
use super::*;
use dfs_common::checksum::Sha256Digest;
use dfs_common::proto::client::CommittedBlock;
use dfs_common::proto::datanode::{ReportedBlock, StorageReport};
use std::time::Duration;

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        block_size: 4096,
        replication: 2,
        ..Config::default()
    }
}

fn p(s: &str) -> DfsPath {
    DfsPath::parse(s).unwrap()
}

fn create_req(path: &str) -> CreateRequest {
    serde_json::from_value(serde_json::json!({ "path": path })).unwrap()
}

async fn register(ns: &Namesystem, blocks: Vec<ReportedBlock>) -> NodeId {
    register_on(ns, blocks, None).await
}

async fn register_on(ns: &Namesystem, blocks: Vec<ReportedBlock>, rack: Option<&str>) -> NodeId {
    let id = NodeId::new();
    let storage = StorageReport {
        capacity: 1 << 30,
        used: 0,
        available: 1 << 30,
    };
    ns.register(&RegisterRequest {
        cluster_id: None,
        node: DatanodeInfo {
            id,
            addr: format!("http://dn-{id}"),
        },
        storage,
        blocks,
        version: "t".into(),
        rack: rack.map(str::to_string),
        hadoop_port: None,
    })
    .await
    .unwrap();
    id
}

async fn put(ns: &Namesystem, path: &str, data: &[u8]) -> FileStatus {
    put_with(ns, path, data, None).await
}

/// `put`, the file given extended attributes as it completes (as the S3
/// door completes an object).
async fn put_with(
    ns: &Namesystem,
    path: &str,
    data: &[u8],
    xattrs: Option<dfs_common::proto::client::Xattrs>,
) -> FileStatus {
    let (c, b) = first_block(ns, path).await;
    ns.complete(&CompleteRequest {
        file_id: c.file_id,
        blocks: vec![CommittedBlock {
            block_id: b.block_id,
            len: data.len() as u64,
            sha256: Sha256Digest::of(data),
            replicas: b.replicas.iter().map(|r| r.id).collect(),
        }],
        length: data.len() as u64,
        sha256: Sha256Digest::of(data),
        sha256_state: None,
        xattrs,
    })
    .await
    .unwrap()
}

/// A file at `path` being written, with its first block allocated.
async fn being_written(ns: &Namesystem, path: &str) -> FileId {
    first_block(ns, path).await.0.file_id
}

/// Creates `path` and allocates its first block.
async fn first_block(ns: &Namesystem, path: &str) -> (CreateResponse, LocatedBlock) {
    let c = ns.create(&create_req(path)).await.unwrap();
    let b = ns
        .add_block(&AddBlockRequest {
            file_id: c.file_id,
            exclude: vec![],
        })
        .await
        .unwrap();
    (c, b)
}

#[tokio::test]
async fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (node, pending_id, file) = {
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let node = register(&ns, vec![]).await;
        register(&ns, vec![]).await;
        ns.mkdirs(&p("/a/b"), true).await.unwrap();
        let file = put(&ns, "/a/f", b"hello").await;
        ns.rename(&p("/a/f"), &p("/a/b"), false).await.unwrap();
        ns.mkdirs(&p("/gone"), false).await.unwrap();
        ns.delete(&p("/gone"), false).await.unwrap();
        ns.set_replication(&p("/a/b/f"), 1).await.unwrap();
        let pending = being_written(&ns, "/w").await;
        (node, pending, file)
    };
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let st = ns.status(&p("/a/b/f")).unwrap();
    assert_eq!(st.length, 5);
    assert_eq!(st.replication, 1);
    assert_eq!(st.inode_id, file.inode_id);
    assert_eq!(st.sha256, Some(Sha256Digest::of(b"hello")));
    assert!(ns.status(&p("/gone")).is_err());
    assert!(ns.status(&p("/a/f")).is_err());
    let loc = ns.locations(&p("/a/b/f")).unwrap();
    assert_eq!(loc.blocks.len(), 1);
    // No datanode has registered since the restart: nothing live to read from.
    assert!(loc.blocks[0].replicas.is_empty());
    let reports = ns.datanode_reports().await.unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().any(|r| r.id == node));
    // The writer can carry on after the restart.
    ns.renew_lease(pending_id).await.unwrap();
    assert_eq!(ns.counts().unwrap().files_being_written, 1);
    // Blocks exist but none is reported yet: safe mode refuses changes.
    let s = ns.summary().unwrap();
    assert!(s.safe_mode);
    assert!(
        s.safe_mode_reason
            .as_deref()
            .unwrap()
            .contains("0 of 1 blocks reported"),
        "{s:?}"
    );
    let e = ns.mkdirs(&p("/new"), false).await.unwrap_err();
    assert!(matches!(e, NamenodeError::SafeMode(_)), "{e:?}");
    assert!(ns.fsck(&DfsPath::root()).await.unwrap().safe_mode);
    ns.safe_mode_action(SafeModeAction::Leave).await.unwrap();
    // New inodes do not reuse old ids.
    let d = ns.mkdirs(&p("/new"), false).await.unwrap();
    assert!(d.inode_id > st.inode_id);
}

#[tokio::test]
async fn concurrent_creates_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let ns = std::sync::Arc::new(Namesystem::open(test_config(dir.path())).await.unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let ns = ns.clone();
            tokio::spawn(async move { ns.create(&create_req("/same")).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(matches!(e, NamenodeError::LeaseHeld(_)), "{e:?}"),
        }
    }
    assert_eq!(ok, 1);
}

fn hb(id: NodeId) -> Heartbeat {
    Heartbeat {
        node_id: id,
        storage: StorageReport {
            capacity: 1 << 30,
            used: 0,
            available: 1 << 30,
        },
        active_transfers: 0,
        filesystem: None,
        disks: None,
    }
}

/// Commands waiting for `id`.
async fn commands(ns: &Namesystem, id: NodeId) -> Vec<DnCommand> {
    ns.heartbeat(&hb(id)).await.commands
}

fn replica_of(block: BlockId, data: &[u8]) -> ReportedBlock {
    ReportedBlock {
        id: block,
        len: data.len() as u64,
        sha256: Sha256Digest::of(data),
    }
}

async fn received(ns: &Namesystem, node: NodeId, rb: ReportedBlock) {
    ns.block_received(&IncrementalBlockReport {
        node_id: node,
        received: vec![rb],
        deleted: vec![],
    })
    .await
    .unwrap();
}

async fn deleted(ns: &Namesystem, node: NodeId, block: BlockId) {
    ns.block_received(&IncrementalBlockReport {
        node_id: node,
        received: vec![],
        deleted: vec![block],
    })
    .await
    .unwrap();
}

fn holders(ns: &Namesystem, path: &str) -> Vec<NodeId> {
    let mut v: Vec<NodeId> = ns.locations(&p(path)).unwrap().blocks[0]
        .replicas
        .iter()
        .map(|r| r.id)
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn reports_reconcile_and_deletions_ride_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.orphan_grace = Duration::ZERO;
    let ns = Namesystem::open(config).await.unwrap();
    let a = register(&ns, vec![]).await;
    let b = register(&ns, vec![]).await;
    let f = put(&ns, "/f", b"data").await;
    assert_eq!(f.replication, 2);
    let loc = ns.locations(&p("/f")).unwrap();
    let block = loc.blocks[0].block_id;
    assert_eq!(loc.blocks[0].replicas.len(), 2);
    assert!(commands(&ns, a).await.is_empty());
    assert_eq!(
        ns.heartbeat(&hb(NodeId::new())).await.commands,
        vec![DnCommand::Reregister]
    );

    // b reports a stranger block and lacks the real one (the real one
    // was recorded just now, so this report may predate it: kept).
    let stranger = replica_of(BlockId::new(), b"?");
    ns.block_report(&BlockReport {
        node_id: b,
        blocks: vec![stranger],
    })
    .await
    .unwrap();
    assert!(
        commands(&ns, b).await.is_empty(),
        "orphans wait for the monitor"
    );
    assert_eq!(ns.locations(&p("/f")).unwrap().blocks[0].replicas.len(), 2);
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(
        commands(&ns, b).await,
        vec![DnCommand::Delete {
            blocks: vec![stranger.id]
        }]
    );
    let good = replica_of(block, b"data");
    // A client reports a bad replica: not served any more, deleted since
    // a good one remains, and the block queued for a copy.
    ns.report_bad_replica(&BadReplicaReport {
        block_id: block,
        node_id: a,
        reason: "crc".into(),
    })
    .await
    .unwrap();
    assert_eq!(holders(&ns, "/f"), vec![b]);
    let s = ns.summary().unwrap();
    assert_eq!((s.corrupt_replicas, s.under_replicated_blocks), (1, 1));
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(
        commands(&ns, a).await,
        vec![DnCommand::Delete {
            blocks: vec![block]
        }]
    );
    let fsck = ns.fsck(&DfsPath::root()).await.unwrap();
    assert_eq!(fsck.under_replicated_blocks, 1);
    assert!(fsck.healthy);
    deleted(&ns, a, block).await;
    assert_eq!(ns.summary().unwrap().corrupt_replicas, 0);
    // The last replica goes bad: the block is corrupt, nothing is served,
    // and the bad copy is never deleted by us.
    ns.bad_block(&BadBlockReport {
        node_id: b,
        block_id: block,
        reason: "scan".into(),
    })
    .await
    .unwrap();
    ns.replication_tick(Instant::now()).await.unwrap();
    assert!(commands(&ns, b).await.is_empty());
    let s = ns.summary().unwrap();
    assert_eq!((s.corrupt_blocks, s.missing_blocks), (1, 0));
    assert!(ns.locations(&p("/f")).unwrap().blocks[0]
        .replicas
        .is_empty());
    let fsck = ns.fsck(&DfsPath::root()).await.unwrap();
    assert_eq!(fsck.corrupt_blocks, 1);
    assert!(!fsck.healthy);
    // A fresh good copy arrives (re-replicated, say).
    received(&ns, b, good).await;
    assert_eq!(holders(&ns, "/f"), vec![b]);
    // Deleting the file queues deletions for recorded replicas.
    ns.delete(&p("/f"), false).await.unwrap();
    assert_eq!(
        commands(&ns, b).await,
        vec![DnCommand::Delete {
            blocks: vec![block]
        }]
    );
    let s = ns.summary().unwrap();
    assert_eq!((s.files, s.blocks, s.live_datanodes), (0, 0, 2));
}

/// The Replicate command queued for `source`, if any.
fn replicate_of(cmds: &[DnCommand]) -> Option<(BlockId, Vec<NodeId>)> {
    cmds.iter().find_map(|c| match c {
        DnCommand::Replicate {
            block_id, targets, ..
        } => Some((*block_id, targets.iter().map(|t| t.id).collect())),
        _ => None,
    })
}

/// A namesystem in `dir` declaring nodes dead after 5 s of silence, three
/// datanodes, and `/f` written (its block on two of them).
async fn three_nodes_and_a_file(dir: &std::path::Path) -> (Namesystem, [NodeId; 3]) {
    let mut config = test_config(dir);
    config.dead_node_timeout = Duration::from_secs(5);
    let ns = Namesystem::open(config).await.unwrap();
    let nodes = [
        register(&ns, vec![]).await,
        register(&ns, vec![]).await,
        register(&ns, vec![]).await,
    ];
    put(&ns, "/f", b"data").await;
    (ns, nodes)
}

#[tokio::test(start_paused = true)]
async fn a_dead_node_is_repaired_and_its_return_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, nodes) = three_nodes_and_a_file(dir.path()).await;
    let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
    let had = holders(&ns, "/f");
    let (lost, kept) = (had[0], had[1]);
    let spare = *nodes.iter().find(|n| !had.contains(n)).unwrap();
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(ns.summary().unwrap().replication.pending_copies, 0);

    // `lost` goes silent.
    tokio::time::advance(Duration::from_secs(4)).await;
    for n in [kept, spare] {
        commands(&ns, n).await;
    }
    tokio::time::advance(Duration::from_secs(2)).await;
    for n in [kept, spare] {
        commands(&ns, n).await;
    }
    assert_eq!(ns.check_dead_nodes(Instant::now()).await, vec![lost]);
    assert_eq!(ns.summary().unwrap().under_replicated_blocks, 1);
    ns.replication_tick(Instant::now()).await.unwrap();
    let s = ns.summary().unwrap();
    assert_eq!(
        (s.replication.pending_copies, s.replication.queued_blocks),
        (1, 0)
    );
    let rows = ns.datanode_reports().await.unwrap();
    let row = |id| {
        rows.iter()
            .find(|r| r.id == id)
            .unwrap()
            .replication_in_flight
    };
    assert_eq!((row(kept), row(spare)), (1, 1));
    // The only live holder sends to the only other live node.
    assert_eq!(
        replicate_of(&commands(&ns, kept).await),
        Some((block, vec![spare]))
    );
    // Not scheduled twice.
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(replicate_of(&commands(&ns, kept).await), None);
    received(&ns, spare, replica_of(block, b"data")).await;
    let s = ns.summary().unwrap();
    assert_eq!(s.replication.pending_copies, 0);
    assert_eq!(s.replication.completed_copies, 1);
    assert_eq!(s.replication.completed_bytes, 4);
    assert_eq!(s.under_replicated_blocks, 0);

    // `lost` comes back with its old replica: three live, two wanted.
    assert!(ns.heartbeat(&hb(lost)).await.commands.is_empty());
    assert_eq!(ns.summary().unwrap().over_replicated_blocks, 1);
    ns.replication_tick(Instant::now()).await.unwrap();
    let s = ns.summary().unwrap();
    assert_eq!(s.replication.excess_deleted, 1);
    assert_eq!(s.over_replicated_blocks, 0);
    let mut deletes = 0;
    for n in [lost, kept, spare] {
        deletes += commands(&ns, n)
            .await
            .iter()
            .filter(|c| matches!(c, DnCommand::Delete { .. }))
            .count();
    }
    assert_eq!(deletes, 1);
    assert_eq!(holders(&ns, "/f").len(), 2);
    assert!(ns.fsck(&DfsPath::root()).await.unwrap().healthy);
}

#[tokio::test(start_paused = true)]
async fn a_block_on_one_rack_gains_a_rack_then_sheds_a_replica() {
    let dir = tempfile::tempdir().unwrap();
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    // Two nodes on the default rack hold the block (replication 2).
    let old = [register(&ns, vec![]).await, register(&ns, vec![]).await];
    put(&ns, "/f", b"data").await;
    let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
    ns.replication_tick(Instant::now()).await.unwrap();
    let f = ns.fsck(&DfsPath::root()).await.unwrap();
    assert_eq!((f.mis_replicated_blocks, f.healthy_blocks), (0, 1));

    // A node on a second rack joins: the block is on too few racks.
    let new = register_on(&ns, vec![], Some("/r2")).await;
    let rows = ns.datanode_reports().await.unwrap();
    let rack = |id| rows.iter().find(|r| r.id == id).unwrap().rack.clone();
    assert_eq!(
        (rack(old[0]), rack(new)),
        ("/default-rack".into(), "/r2".into())
    );
    let f = ns.fsck(&DfsPath::root()).await.unwrap();
    assert_eq!((f.mis_replicated_blocks, f.healthy_blocks), (1, 1));
    assert!(f.healthy);

    // Repair: first a copy to the new rack (nothing is deleted yet)...
    ns.replication_tick(Instant::now()).await.unwrap();
    let mut sent = None;
    for n in old {
        if let Some(r) = replicate_of(&commands(&ns, n).await) {
            sent = Some(r);
        }
    }
    assert_eq!(sent, Some((block, vec![new])));
    assert_eq!(holders(&ns, "/f").len(), 2);
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(
        holders(&ns, "/f").len(),
        2,
        "not scheduled twice, nothing trimmed"
    );
    // ...then, with three, one of the two on the default rack goes.
    received(&ns, new, replica_of(block, b"data")).await;
    ns.replication_tick(Instant::now()).await.unwrap();
    let kept = holders(&ns, "/f");
    assert_eq!(kept.len(), 2);
    assert!(kept.contains(&new));
    let f = ns.fsck(&DfsPath::root()).await.unwrap();
    assert_eq!((f.mis_replicated_blocks, f.healthy_blocks), (0, 1));
    assert_eq!(ns.summary().unwrap().replication.excess_deleted, 1);
    // A bad rack name is refused.
    let bad = RegisterRequest {
        cluster_id: None,
        node: DatanodeInfo {
            id: NodeId::new(),
            addr: "http://dn-bad".into(),
        },
        storage: StorageReport::default(),
        blocks: vec![],
        version: "t".into(),
        rack: Some("no-slash".into()),
        hadoop_port: None,
    };
    assert!(matches!(
        ns.register(&bad).await,
        Err(NamenodeError::InvalidArgument(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn new_blocks_spread_over_racks() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.replication = 3;
    config.dead_node_timeout = Duration::from_secs(5);
    let ns = Namesystem::open(config).await.unwrap();
    let mut rack_of = std::collections::HashMap::new();
    for r in ["/a", "/a", "/b", "/b", "/c", "/c"] {
        rack_of.insert(register_on(&ns, vec![], Some(r)).await, r);
    }
    for i in 0..20 {
        put(&ns, &format!("/f{i}"), b"data").await;
        let racks: std::collections::HashSet<&str> = holders(&ns, &format!("/f{i}"))
            .iter()
            .map(|n| rack_of[n])
            .collect();
        assert_eq!(racks.len(), 3, "file {i}");
    }
    let f = ns.fsck(&DfsPath::root()).await.unwrap();
    assert_eq!((f.mis_replicated_blocks, f.healthy_blocks), (0, 20));
}

#[tokio::test(start_paused = true)]
async fn a_lost_replica_is_copied_to_the_rack_that_lost_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.replication = 3;
    config.dead_node_timeout = Duration::from_secs(5);
    let ns = Namesystem::open(config).await.unwrap();
    let mut rack_of = std::collections::HashMap::new();
    let mut nodes = Vec::new();
    for r in ["/a", "/a", "/b", "/b", "/c", "/c"] {
        let n = register_on(&ns, vec![], Some(r)).await;
        rack_of.insert(n, r);
        nodes.push(n);
    }
    put(&ns, "/f", b"data").await;
    let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
    let had = holders(&ns, "/f");
    let lost = had[0];
    // The lost replica's rack-mate is the only node on a rack the block
    // is no longer on.
    let mate = *nodes
        .iter()
        .find(|n| **n != lost && rack_of[*n] == rack_of[&lost])
        .unwrap();
    assert!(!had.contains(&mate));
    tokio::time::advance(Duration::from_secs(4)).await;
    for n in nodes.iter().filter(|n| **n != lost) {
        commands(&ns, *n).await;
    }
    tokio::time::advance(Duration::from_secs(2)).await;
    for n in nodes.iter().filter(|n| **n != lost) {
        commands(&ns, *n).await;
    }
    assert_eq!(ns.check_dead_nodes(Instant::now()).await, vec![lost]);
    ns.replication_tick(Instant::now()).await.unwrap();
    let mut sent = None;
    for n in had.iter().filter(|n| **n != lost) {
        if let Some(r) = replicate_of(&commands(&ns, *n).await) {
            sent = Some(r);
        }
    }
    assert_eq!(sent, Some((block, vec![mate])));
}

#[tokio::test(start_paused = true)]
async fn copies_are_throttled_and_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.replication = 1;
    config.replication_max_streams = 1;
    config.replication_pending_timeout = Duration::from_secs(10);
    let ns = Namesystem::open(config).await.unwrap();
    let a = register(&ns, vec![]).await;
    put(&ns, "/f1", b"one").await;
    put(&ns, "/f2", b"two").await;
    let b = register(&ns, vec![]).await;
    ns.set_replication(&p("/f1"), 2).await.unwrap();
    ns.set_replication(&p("/f2"), 2).await.unwrap();
    ns.replication_tick(Instant::now()).await.unwrap();
    let s = ns.summary().unwrap();
    assert_eq!(
        (s.replication.pending_copies, s.replication.queued_blocks),
        (1, 1),
        "one stream per node"
    );
    assert_eq!(s.replication.remaining_bytes, 6);
    let (first, targets) = replicate_of(&commands(&ns, a).await).unwrap();
    assert_eq!(targets, vec![b]);
    // Nobody confirms: the copy times out and is scheduled again.
    tokio::time::advance(Duration::from_secs(11)).await;
    commands(&ns, b).await;
    ns.replication_tick(Instant::now()).await.unwrap();
    let s = ns.summary().unwrap();
    assert_eq!(s.replication.timed_out_copies, 1);
    assert_eq!(s.replication.pending_copies, 1);
    let (again, _) = replicate_of(&commands(&ns, a).await).unwrap();
    // Fewest live replicas first, then by id: the same block again.
    assert_eq!(again, first);
}

#[tokio::test(start_paused = true)]
async fn a_short_write_is_repaired_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let a = register(&ns, vec![]).await;
    let b = register(&ns, vec![]).await;
    let (c, lb) = first_block(&ns, "/f").await;
    let first = lb.replicas[0].id;
    let other = if first == a { b } else { a };
    ns.complete(&CompleteRequest {
        file_id: c.file_id,
        blocks: vec![CommittedBlock {
            block_id: lb.block_id,
            len: 2,
            sha256: Sha256Digest::of(b"hi"),
            replicas: vec![first],
        }],
        length: 2,
        sha256: Sha256Digest::of(b"hi"),
        sha256_state: None,
        xattrs: None,
    })
    .await
    .unwrap();
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(
        replicate_of(&commands(&ns, first).await),
        Some((lb.block_id, vec![other]))
    );
}

#[tokio::test(start_paused = true)]
async fn safe_mode_after_restart_and_presumed_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.dead_node_timeout = Duration::from_secs(30);
    let (a, b, block) = {
        let ns = Namesystem::open(config.clone()).await.unwrap();
        assert!(!ns.summary().unwrap().safe_mode, "empty namespace");
        let a = register(&ns, vec![]).await;
        let b = register(&ns, vec![]).await;
        put(&ns, "/f", b"data").await;
        let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
        (a, b, block)
    };
    let ns = Namesystem::open(config).await.unwrap();
    assert!(ns.in_safe_mode());
    let e = ns.create(&create_req("/g")).await.unwrap_err();
    assert!(e.to_string().contains("0 of 1 blocks reported"), "{e}");
    assert!(e.to_string().contains("99.9%"), "{e}");
    ns.replication_tick(Instant::now()).await.unwrap();
    // Nodes from before count while they have time to register.
    let s = ns.summary().unwrap();
    assert_eq!((s.under_replicated_blocks, s.missing_blocks), (0, 0));
    // a registers with the block: everything reported, safe mode ends.
    ns.register(&RegisterRequest {
        cluster_id: None,
        node: DatanodeInfo {
            id: a,
            addr: format!("http://dn-{a}"),
        },
        storage: StorageReport {
            capacity: 1 << 30,
            used: 0,
            available: 1 << 30,
        },
        blocks: vec![replica_of(block, b"data")],
        version: "t".into(),
        rack: None,
        hadoop_port: None,
    })
    .await
    .unwrap();
    let s = ns.summary().unwrap();
    assert!(!s.safe_mode);
    assert_eq!(s.safe_mode_reason, None);
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(ns.summary().unwrap().replication.pending_copies, 0);
    assert_eq!(ns.health_extras().unwrap().awaiting_registration, 1);
    // b never registers: after the timeout it is dead and the block is
    // copied (here nowhere to: one live node, so it stays queued).
    tokio::time::advance(Duration::from_secs(31)).await;
    commands(&ns, a).await;
    assert_eq!(ns.check_dead_nodes(Instant::now()).await, vec![b]);
    ns.replication_tick(Instant::now()).await.unwrap();
    let s = ns.summary().unwrap();
    assert_eq!(s.under_replicated_blocks, 1);
    assert_eq!(s.replication.queued_blocks, 1);
    // Operators can enter and leave.
    let st = ns.safe_mode_action(SafeModeAction::Enter).await.unwrap();
    assert!(st.safe_mode);
    assert!(ns.mkdirs(&p("/x"), true).await.is_err());
    let st = ns.safe_mode_action(SafeModeAction::Leave).await.unwrap();
    assert_eq!(
        st,
        SafeModeStatus {
            safe_mode: false,
            reason: None
        }
    );
    ns.mkdirs(&p("/x"), true).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn decommission_drains_then_recommission_trims() {
    let dir = tempfile::tempdir().unwrap();
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let nodes = [
        register(&ns, vec![]).await,
        register(&ns, vec![]).await,
        register(&ns, vec![]).await,
    ];
    put(&ns, "/f", b"data").await;
    let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
    let had = holders(&ns, "/f");
    let (leaving, kept) = (had[0], had[1]);
    let spare = *nodes.iter().find(|n| !had.contains(n)).unwrap();

    // By a unique id prefix.
    let prefix = &leaving.to_string()[..12];
    let r = ns.set_admin_state(prefix, true).await.unwrap();
    assert_eq!(r.id, leaving);
    assert_eq!(r.admin_state, AdminState::Decommissioning);
    assert_eq!(r.decommission_remaining_blocks, 1);
    let s = ns.summary().unwrap();
    assert_eq!(s.decommissioning_datanodes, 1);
    assert_eq!(s.under_replicated_blocks, 1);
    // It still serves reads, last.
    let loc = ns.locations(&p("/f")).unwrap();
    assert_eq!(loc.blocks[0].replicas.last().unwrap().id, leaving);
    // Its block is copied to the spare (from either holder).
    let mut cmds = Vec::new();
    for n in [leaving, kept] {
        cmds.extend(replicate_of(&commands(&ns, n).await));
    }
    assert_eq!(cmds, vec![(block, vec![spare])]);
    received(&ns, spare, replica_of(block, b"data")).await;
    ns.replication_tick(Instant::now()).await.unwrap();
    let rows = ns.datanode_reports().await.unwrap();
    let row = rows.iter().find(|r| r.id == leaving).unwrap();
    assert_eq!(row.admin_state, AdminState::Decommissioned);
    assert_eq!(ns.summary().unwrap().decommissioned_datanodes, 1);
    // New blocks avoid it.
    for _ in 0..5 {
        let (c, lb) = first_block(&ns, "/g").await;
        assert!(lb.replicas.iter().all(|r| r.id != leaving));
        ns.abandon_file(c.file_id).await.unwrap();
    }
    // By address; back to normal, and the excess copy is trimmed.
    let addr = format!("http://dn-{leaving}");
    let r = ns.set_admin_state(&addr, false).await.unwrap();
    assert_eq!(r.admin_state, AdminState::Normal);
    let s = ns.summary().unwrap();
    assert_eq!(s.replication.excess_deleted, 1);
    assert_eq!(s.over_replicated_blocks, 0);
    assert_eq!(holders(&ns, "/f").len(), 2);
    // Unknown and ambiguous names.
    assert!(matches!(
        ns.set_admin_state("ffffffffffff", true).await,
        Err(NamenodeError::NotFound(_))
    ));
    assert!(matches!(
        ns.set_admin_state("127.0.0.1:1", true).await,
        Err(NamenodeError::NotFound(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn admin_state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let a = {
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let a = register(&ns, vec![]).await;
        ns.set_admin_state(&a.to_string(), true).await.unwrap();
        a
    };
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let rows = ns.datanode_reports().await.unwrap();
    // No blocks anywhere: it drains at once... on the next tick, once registered.
    assert_eq!(rows[0].id, a);
    assert_ne!(rows[0].admin_state, AdminState::Normal);
}

#[tokio::test(start_paused = true)]
async fn lease_expiry_abandons_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let a = register(&ns, vec![]).await;
    let (c, b) = first_block(&ns, "/w").await;
    assert_eq!(c.lease_renew_interval_ms, 20_000);
    assert_eq!(b.replicas.len(), 1, "one live node");
    tokio::time::advance(Duration::from_secs(30)).await;
    ns.renew_lease(c.file_id).await.unwrap();
    tokio::time::advance(Duration::from_secs(45)).await;
    assert!(ns.expire_leases(Instant::now()).await.unwrap().is_empty());
    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(
        ns.expire_leases(Instant::now()).await.unwrap(),
        vec![p("/w")]
    );
    // The datanode learns to delete the block with its next heartbeat.
    let hb = Heartbeat {
        node_id: a,
        storage: StorageReport::default(),
        active_transfers: 0,
        filesystem: None,
        disks: None,
    };
    assert_eq!(
        ns.heartbeat(&hb).await.commands,
        vec![DnCommand::Delete {
            blocks: vec![b.block_id]
        }]
    );
    assert!(ns.renew_lease(c.file_id).await.is_err());
    assert!(ns.status(&p("/w")).is_err());
}

#[tokio::test(start_paused = true)]
async fn dead_nodes_get_no_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.dead_node_timeout = Duration::from_secs(2);
    let ns = Namesystem::open(config).await.unwrap();
    register(&ns, vec![]).await;
    let c = ns.create(&create_req("/w")).await.unwrap();
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(ns.check_dead_nodes(Instant::now()).await.len(), 1);
    let e = ns
        .add_block(&AddBlockRequest {
            file_id: c.file_id,
            exclude: vec![],
        })
        .await
        .unwrap_err();
    assert!(matches!(e, NamenodeError::NoLiveDatanodes(_)));
    assert_eq!(ns.summary().unwrap().dead_datanodes, 1);
}

#[tokio::test]
async fn another_clusters_datanode_is_refused_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let theirs = ClusterId::new();
    let node = DatanodeInfo {
        id: NodeId::new(),
        addr: "http://stranger:1".into(),
    };
    let req = |cluster_id| RegisterRequest {
        cluster_id,
        node: node.clone(),
        storage: StorageReport::default(),
        blocks: vec![replica_of(BlockId::new(), b"theirs")],
        version: "t".into(),
        rack: None,
        hadoop_port: None,
    };
    let e = ns.register(&req(Some(theirs))).await.unwrap_err();
    assert!(matches!(e, NamenodeError::Conflict(_)), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("belongs to cluster {theirs}")),
        "{e}"
    );
    let s = ns.summary().unwrap();
    assert_eq!(s.live_datanodes, 0);
    assert_eq!(s.refused_datanodes.len(), 1);
    assert_eq!(s.refused_datanodes[0].cluster_id, theirs.to_string());
    assert_eq!(
        s.unknown_replicas,
        UnknownReplicas::default(),
        "its report was not looked at"
    );
    // Its own cluster's id is accepted (and the refusal forgotten).
    let ok = ns.register(&req(Some(ns.cluster_id()))).await.unwrap();
    assert_eq!(ok.cluster_id, ns.cluster_id());
    let s = ns.summary().unwrap();
    assert!(s.refused_datanodes.is_empty());
    assert_eq!(s.unknown_replicas.held, 1, "reported at registration: held");
    // The cluster id survives a restart.
    let id = ns.cluster_id();
    drop(ns);
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    assert_eq!(ns.cluster_id(), id);
    // The operator's word deletes held replicas.
    let n = register(&ns, vec![replica_of(BlockId::new(), b"x")]).await;
    let d = ns.delete_orphans().await.unwrap();
    assert_eq!((d.replicas, d.nodes), (1, 1));
    assert!(commands(&ns, n)
        .await
        .iter()
        .any(|c| matches!(c, DnCommand::Delete { blocks } if blocks.len() == 1)));
}

/// Safe mode entered by an operator is a command: it survives a restart
/// (until an operator leaves it), and so does leaving it.
#[tokio::test]
async fn operator_safe_mode_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        let st = ns.safe_mode_action(SafeModeAction::Enter).await.unwrap();
        assert!(st.safe_mode);
        ns.flush().await.unwrap();
    }
    {
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        assert!(ns.in_safe_mode(), "entered before the restart");
        assert!(ns.mkdirs(&p("/x"), true).await.is_err());
        ns.safe_mode_action(SafeModeAction::Leave).await.unwrap();
        ns.mkdirs(&p("/x"), true).await.unwrap();
    }
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    assert!(!ns.in_safe_mode(), "left before the restart");
}

/// A checkpoint is the state machine at one point of the command log:
/// restored into an empty data dir, it goes on from the next command, with
/// the retry cache of the calls before it.
#[tokio::test]
async fn a_checkpoint_restores_the_state_machine() {
    let (dir, restored) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let call = dfs_common::ids::RequestId::new();
    let (file, applied) = {
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        register(&ns, vec![]).await;
        ns.mkdirs(&p("/a"), true).await.unwrap();
        put(&ns, "/a/f", b"hello").await;
        let moved = crate::request_id::scope(Some(call), ns.rename(&p("/a/f"), &p("/a/g"), false))
            .await
            .unwrap();
        ns.flush().await.unwrap();
        let (file, _) =
            crate::checkpoint::write_into(ns.store(), ns.cluster_id(), &dir.path().join("cp"))
                .unwrap();
        (file, (ns.applied_index().unwrap(), moved))
    };
    // A startup image of an earlier version, left behind: never read, and
    // removed at the first start.
    let leftover = restored.path().join("namespace.image");
    std::fs::copy(&file, &leftover).unwrap();
    let to = restored.path().to_path_buf();
    tokio::task::spawn_blocking(move || crate::checkpoint::restore(&file, &to))
        .await
        .unwrap()
        .unwrap();
    let ns = Namesystem::open(test_config(restored.path()))
        .await
        .unwrap();
    assert!(!leftover.exists());
    assert_eq!(ns.applied_index().unwrap(), applied.0);
    // Its block is not reported here: out of safe mode by hand (a command).
    ns.safe_mode_action(SafeModeAction::Leave).await.unwrap();
    // The rename's retry is answered from the cache, not refused (404).
    let again = crate::request_id::scope(Some(call), ns.rename(&p("/a/f"), &p("/a/g"), false))
        .await
        .unwrap();
    assert_eq!(again, applied.1);
    ns.mkdirs(&p("/b"), false).await.unwrap();
    assert_eq!(ns.applied_index().unwrap(), applied.0 + 3);
}

/// The snapshot the operators' endpoints read (`views::Published`) against
/// a full recount under the locks: counts and block health (a walk of
/// every inode and block), unknown replicas, replication progress.
async fn assert_published_exact(ns: &Namesystem, after: &str) {
    let published = ns.published();
    let view = ns.datanodes.view(Instant::now());
    let walk = ns.lock().unwrap().counts(&view);
    assert_eq!(published.counts, walk, "counts after {after}");
    assert_eq!(
        published.unknown_replicas,
        ns.orphans().await.unwrap().unknown_replicas,
        "unknown replicas after {after}"
    );
    let at = published.at.expect("published at open");
    assert_eq!(
        published.replication,
        ns.repl().progress(at),
        "replication after {after}"
    );
    // What the endpoints show is that snapshot.
    let v = ns.operator_view();
    let s = &v.summary;
    assert_eq!(
        (
            s.files,
            s.directories,
            s.blocks,
            s.missing_blocks,
            s.corrupt_blocks,
            s.under_replicated_blocks,
            s.over_replicated_blocks,
            s.corrupt_replicas,
            v.files_being_written,
            v.extras.orphan_replicas,
        ),
        (
            walk.files,
            walk.directories,
            walk.blocks,
            walk.missing,
            walk.corrupt_blocks,
            walk.under_replicated,
            walk.over_replicated,
            walk.corrupt_replicas,
            walk.files_being_written,
            walk.orphan_replicas,
        ),
        "the operator view after {after}"
    );
    assert_eq!(ns.summary().unwrap(), *s, "the summary after {after}");
}

#[tokio::test(start_paused = true)]
async fn published_counters_equal_a_recount() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.dead_node_timeout = Duration::from_secs(5);
    let ns = Namesystem::open(config).await.unwrap();
    assert_published_exact(&ns, "open").await;
    let nodes = [
        register(&ns, vec![]).await,
        register(&ns, vec![]).await,
        register(&ns, vec![]).await,
    ];
    assert_published_exact(&ns, "registrations").await;
    put(&ns, "/f1", b"one").await;
    put(&ns, "/f2", b"two").await;
    ns.mkdirs(&p("/d/e"), true).await.unwrap();
    put(&ns, "/d/e/f3", b"three").await;
    assert_published_exact(&ns, "writes").await;
    let w = ns.create(&create_req("/w")).await.unwrap();
    ns.add_block(&AddBlockRequest {
        file_id: w.file_id,
        exclude: vec![],
    })
    .await
    .unwrap();
    assert_published_exact(&ns, "a write under way").await;
    ns.set_replication(&p("/f1"), 3).await.unwrap();
    assert_published_exact(&ns, "setrep").await;
    // A bad replica from a reader, then the last good one of a block.
    let f2 = ns.locations(&p("/f2")).unwrap().blocks[0].block_id;
    let f2_holders = holders(&ns, "/f2");
    ns.report_bad_replica(&BadReplicaReport {
        block_id: f2,
        node_id: f2_holders[0],
        reason: "crc".into(),
    })
    .await
    .unwrap();
    assert_published_exact(&ns, "a bad replica").await;
    ns.bad_block(&BadBlockReport {
        node_id: f2_holders[1],
        block_id: f2,
        reason: "scan".into(),
    })
    .await
    .unwrap();
    assert_published_exact(&ns, "a corrupt block").await;
    // A node with a replica of no block (held: reported at registration).
    let stranger = register(&ns, vec![replica_of(BlockId::new(), b"?")]).await;
    assert_published_exact(&ns, "an unknown replica").await;
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_published_exact(&ns, "a tick").await;
    ns.rename(&p("/f1"), &p("/d/g"), false).await.unwrap();
    ns.delete(&p("/d"), true).await.unwrap();
    assert_published_exact(&ns, "rename and delete -r").await;
    // A node dies (the others keep beating), then comes back.
    let lost = nodes[0];
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(2)).await;
        for n in nodes.iter().chain([&stranger]).filter(|n| **n != lost) {
            commands(&ns, *n).await;
        }
    }
    assert_eq!(ns.check_dead_nodes(Instant::now()).await, vec![lost]);
    assert_published_exact(&ns, "a death").await;
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_published_exact(&ns, "a tick after a death").await;
    // (Its heartbeat may carry deletions queued while it was away.)
    ns.heartbeat(&hb(lost)).await;
    assert_published_exact(&ns, "a return").await;
    ns.settle_block_health(Instant::now()).await.unwrap();
    assert_published_exact(&ns, "the monitor's settling").await;
    ns.delete_orphans().await.unwrap();
    assert_published_exact(&ns, "orphans deleted").await;
    // And the numbers a restart starts from (the tally built at load).
    ns.flush().await.unwrap();
    drop(ns);
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    assert_published_exact(&ns, "a restart").await;
    assert!(ns.published().counts.files >= 1);
}

/// [`Namesystem::compact_at_stop`] off the runtime, as the namenode's stop
/// calls it.
fn compact_at_stop(ns: &Namesystem) -> Result<()> {
    std::thread::scope(|s| s.spawn(|| ns.compact_at_stop()).join().unwrap())
}

/// Every record of `ns` in its stored form, sorted.
fn records(ns: &Namesystem) -> Vec<crate::meta_store::Write> {
    let mut all = Vec::new();
    ns.lock()
        .unwrap()
        .export(1000, |txn: &mut Txn| {
            all.extend(txn.take_writes()?);
            Ok::<(), NamenodeError>(())
        })
        .unwrap();
    all.sort();
    all
}

/// A namespace with some of everything: directories, complete and pending
/// files, blocks, datanodes (one decommissioning), a remembered retry,
/// operator safe mode.
async fn populated(dir: &std::path::Path) -> Namesystem {
    let ns = Namesystem::open(test_config(dir)).await.unwrap();
    let node = register(&ns, vec![]).await;
    register(&ns, vec![]).await;
    ns.mkdirs(&p("/a/b"), true).await.unwrap();
    put(&ns, "/a/f", b"hello").await;
    put(&ns, "/a/b/g", b"world").await;
    let call = dfs_common::ids::RequestId::new();
    crate::request_id::scope(Some(call), ns.rename(&p("/a/f"), &p("/a/h"), false))
        .await
        .unwrap();
    ns.set_replication(&p("/a/h"), 1).await.unwrap();
    being_written(&ns, "/w").await;
    ns.set_admin_state(&node.to_string(), true).await.unwrap();
    ns.safe_mode_action(SafeModeAction::Enter).await.unwrap();
    ns.flush().await.unwrap();
    ns
}

fn journal_files(dir: &std::path::Path) -> crate::journal::Listing {
    crate::journal::list(&dir.join(crate::journal::DIR)).unwrap()
}

/// The same state after a crash (the log replayed over no base), after a
/// clean stop (the log folded into a base) and after a start from that
/// base with more changes logged on top.
#[tokio::test]
async fn the_log_and_the_base_restart_into_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let (before, applied) = {
        let ns = populated(dir.path()).await;
        (records(&ns), ns.applied_index().unwrap())
    };
    assert!(before.len() > 10);
    assert!(journal_files(dir.path()).base.is_none());
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    assert_eq!(records(&ns), before, "replayed from the log");
    assert_eq!(ns.applied_index().unwrap(), applied);
    // A stop folds only a log of some length: this one, at once.
    compact_at_stop(&ns).unwrap();
    assert!(journal_files(dir.path()).base.is_none());
    assert!(ns.store().compact(0).unwrap());
    drop(ns);
    let files = journal_files(dir.path());
    assert!(files.base.is_some());
    assert!(files.segments.is_empty(), "{:?}", files.segments);
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    assert_eq!(records(&ns), before, "read from the base");
    ns.safe_mode_action(SafeModeAction::Leave).await.unwrap();
    ns.mkdirs(&p("/after"), false).await.unwrap();
    ns.delete(&p("/a/b/g"), false).await.unwrap();
    let after = records(&ns);
    drop(ns);
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    assert_eq!(records(&ns), after, "the base with the log laid over it");
    ns.status(&p("/after")).unwrap();
    assert!(ns.status(&p("/a/b/g")).is_err());
    assert_eq!(ns.counts().unwrap().files_being_written, 1);
}

#[tokio::test]
async fn no_fold_after_a_failed_commit() {
    let dir = tempfile::tempdir().unwrap();
    let ns = populated(dir.path()).await;
    ns.fail(&NamenodeError::Internal("test".into()));
    assert!(compact_at_stop(&ns).is_err());
    assert!(journal_files(dir.path()).base.is_none());
}

/// A data dir whose namenode ([`populated`]) stopped cleanly, and the path
/// of its base.
async fn stopped_with_a_base() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ns = populated(dir.path()).await;
    assert!(ns.store().compact(0).unwrap());
    drop(ns);
    let base = journal_files(dir.path()).base.unwrap().path;
    (dir, base)
}

/// A damaged base (a changed byte, a cut end) is never served in part: the
/// start fails and says so, and nothing is changed.
#[tokio::test]
async fn a_damaged_base_refuses_the_start() {
    let (dir, base) = stopped_with_a_base().await;
    let good = std::fs::read(&base).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    for bad in [flipped, good[..good.len() - 5].to_vec()] {
        std::fs::write(&base, &bad).unwrap();
        let err = Namesystem::open(test_config(dir.path()))
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains("does not load"), "{err}");
        assert_eq!(std::fs::read(&base).unwrap(), bad, "left as it was");
    }
    std::fs::write(&base, &good).unwrap();
    // Whole, but under the name of another group: not trusted either.
    let files = journal_files(dir.path());
    let jdir = dir.path().join(crate::journal::DIR);
    let renamed = crate::journal::base_path(&jdir, files.base.unwrap().lsn + 5);
    std::fs::rename(&base, &renamed).unwrap();
    let err = Namesystem::open(test_config(dir.path()))
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("not the group its name says"),
        "{err}"
    );
    std::fs::rename(&renamed, &base).unwrap();
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    assert_eq!(ns.status(&p("/a/b/g")).unwrap().length, 5);
}

#[tokio::test]
async fn a_base_claiming_huge_sizes_is_bounded_by_its_length() {
    let (dir, base) = stopped_with_a_base().await;
    // The sizes record's value, rewritten to claim 2^60 inodes and blocks
    // (the checksum then fails, but only at the end, after the maps were
    // sized).
    let mut bytes = std::fs::read(&base).unwrap();
    let small = dfs_common::codec::encode(&(5u64, 5u64)).unwrap();
    let at = bytes
        .windows(b"x/sizes".len())
        .position(|w| w == b"x/sizes")
        .unwrap()
        + b"x/sizes".len()
        + 4;
    let huge = dfs_common::codec::encode(&(1u64 << 60, 1u64 << 60)).unwrap();
    assert!(huge.len() > small.len());
    let len = u32::from_le_bytes(bytes[at - 4..at].try_into().unwrap()) as usize;
    bytes.splice(at - 4..at + len, {
        let mut v = (huge.len() as u32).to_le_bytes().to_vec();
        v.extend_from_slice(&huge);
        v
    });
    std::fs::write(&base, bytes).unwrap();
    assert!(Namesystem::open(test_config(dir.path())).await.is_err());
}

/// A crash mid-write leaves a torn frame at the log's end: cut off, and
/// every acknowledged change kept. Damage with whole frames after it is
/// not a torn write: the start is refused.
#[tokio::test]
async fn a_torn_log_tail_is_cut_and_damage_inside_refused() {
    let dir = tempfile::tempdir().unwrap();
    let before = records(&populated(dir.path()).await);
    let seg = journal_files(dir.path()).segments.pop().unwrap();
    // Its frames, without the zeros the writer put ahead of them.
    let mut whole = std::fs::read(&seg.path).unwrap();
    let frames = crate::journal::replay(std::slice::from_ref(&seg), 0, drop, false).unwrap();
    assert!(frames.bytes > 0 && frames.bytes < whole.len() as u64);
    whole.truncate(frames.bytes as usize);
    let seg = seg.path;
    // Half a frame: a head claiming more than follows.
    let mut torn = whole.clone();
    torn.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]);
    std::fs::write(&seg, &torn).unwrap();
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    assert_eq!(records(&ns), before);
    drop(ns);
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        whole,
        "the torn frame cut off"
    );
    // A byte changed in the first frame, whole frames after it.
    let mut bad = whole.clone();
    bad[crate::journal::FRAME_HEAD + 3] ^= 1;
    std::fs::write(&seg, &bad).unwrap();
    let err = Namesystem::open(test_config(dir.path()))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("damaged"), "{err}");
    assert_eq!(std::fs::read(&seg).unwrap(), bad, "left as it was");
}

/// `/metrics`' change timings count every change that succeeds (one that
/// fails answers before its commit), and a durable change's wait for its
/// commit (an fsync) is never zero.
#[tokio::test]
async fn change_times_count_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let before = ns.change_times();
    ns.mkdirs(&p("/t/a"), true).await.unwrap();
    ns.rename(&p("/t/a"), &p("/t/b"), false).await.unwrap();
    assert!(ns.rename(&p("/t/none"), &p("/t/c"), false).await.is_err());
    let after = ns.change_times();
    assert_eq!(after.changes, before.changes + 2);
    assert!(after.durable_wait_us > before.durable_wait_us);
    assert!(after.queued_us >= before.queued_us && after.locked_us >= before.locked_us);
}

/// The room a placement scheduled on a node comes back when the node reports
/// the replica deleted or bad without ever reporting it received (a datanode
/// coalesces received-then-deleted into the deletion): it used to stay
/// taken for the reservation's TTL, ten minutes, and a nearly full node
/// refused writes it had room for.
#[tokio::test]
async fn scheduled_room_is_released_by_a_deletion_or_a_bad_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.replication = 1;
    let ns = Namesystem::open(config).await.unwrap();
    let node = register(&ns, vec![]).await;
    let placeable = |ns: &Namesystem| ns.datanodes().live(Instant::now())[0].available;
    let full = placeable(&ns);
    for how in ["deleted", "bad"] {
        let (_, b) = first_block(&ns, &format!("/{how}")).await;
        assert_eq!(
            placeable(&ns),
            full - 4096,
            "{how}: the block's room is scheduled"
        );
        match how {
            "deleted" => deleted(&ns, node, b.block_id).await,
            _ => ns
                .bad_block(&BadBlockReport {
                    node_id: node,
                    block_id: b.block_id,
                    reason: "test".into(),
                })
                .await
                .unwrap(),
        }
        assert_eq!(placeable(&ns), full, "{how}: the room is back");
    }
}

/// A member of a group with other voters that applies what it proposes at
/// once (its log is someone else's test).
struct OneOfSeveral(std::sync::Weak<Namesystem>);

impl Proposer for OneOfSeveral {
    fn propose(
        &self,
        entries: Vec<Entry>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Vec<Result<Outcome>>>> + Send + '_>,
    > {
        Box::pin(async move {
            let ns = self.0.upgrade().expect("namesystem");
            ns.apply_committed(entries, Vec::new()).await
        })
    }

    fn leadership(&self) -> dfs_common::proto::datanode::Leadership {
        dfs_common::proto::datanode::Leadership {
            term: 1,
            leader: true,
        }
    }

    fn leads_surely(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
        Box::pin(async { true })
    }

    fn several(&self) -> bool {
        true
    }
}

/// A namenode of a group that restarts (and may lead at once) takes
/// changes while it waits for block reports, where one of its own refuses
/// them; it still copies and deletes nothing, and stays in safe mode until
/// the reports come.
#[tokio::test(start_paused = true)]
async fn startup_safe_mode_takes_changes_in_a_group_of_several() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    {
        let ns = Namesystem::open(config.clone()).await.unwrap();
        register(&ns, vec![]).await;
        put(&ns, "/f", b"data").await;
    }
    let ns = std::sync::Arc::new(Namesystem::open(config).await.unwrap());
    assert!(ns.in_safe_mode());
    let e = ns.mkdirs(&p("/alone"), false).await.unwrap_err();
    assert!(matches!(e, NamenodeError::SafeMode(_)), "{e:?}");
    ns.attach(std::sync::Arc::new(OneOfSeveral(
        std::sync::Arc::downgrade(&ns),
    )));
    ns.mkdirs(&p("/grouped"), false).await.unwrap();
    ns.rename(&p("/f"), &p("/g"), false).await.unwrap();
    ns.replication_tick(Instant::now()).await.unwrap();
    assert!(ns.in_safe_mode(), "still waiting for the reports");
    // An operator's safe mode refuses changes in a group too.
    ns.safe_mode_action(SafeModeAction::Enter).await.unwrap();
    let e = ns.mkdirs(&p("/manual"), false).await.unwrap_err();
    assert!(matches!(e, NamenodeError::SafeMode(_)), "{e:?}");
}

/// The node ids of `ns`'s datanodes, as an operator names them (address).
fn addr_of(id: NodeId) -> String {
    format!("http://dn-{id}")
}

#[tokio::test(start_paused = true)]
async fn maintenance_keeps_a_silent_nodes_replicas_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, nodes) = three_nodes_and_a_file(dir.path()).await;
    let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
    let had = holders(&ns, "/f");
    let (away, kept) = (had[0], had[1]);
    let spare = *nodes.iter().find(|n| !had.contains(n)).unwrap();

    // By address or by id; unknown names are 404s.
    let row = ns.enter_maintenance(&addr_of(away), None).await.unwrap();
    assert!(row.in_maintenance);
    assert_eq!(row.maintenance_ends_in_ms, None);
    let row = ns.enter_maintenance(&away.to_string(), None).await.unwrap();
    assert!(row.in_maintenance);
    assert!(matches!(
        ns.enter_maintenance("no-such-node:1", None).await,
        Err(NamenodeError::NotFound(_))
    ));

    // It takes no new blocks.
    for i in 0..8 {
        let path = format!("/new{i}");
        put(&ns, &path, b"more").await;
        assert!(!holders(&ns, &path).contains(&away), "{path} placed on it");
    }

    // It goes silent: dead by heartbeat, but nothing is copied.
    tokio::time::advance(Duration::from_secs(4)).await;
    for n in [kept, spare] {
        commands(&ns, n).await;
    }
    tokio::time::advance(Duration::from_secs(2)).await;
    for n in [kept, spare] {
        commands(&ns, n).await;
    }
    assert_eq!(ns.check_dead_nodes(Instant::now()).await, vec![away]);
    assert_eq!(ns.summary().unwrap().under_replicated_blocks, 0);
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(ns.summary().unwrap().replication.pending_copies, 0);
    assert_eq!(replicate_of(&commands(&ns, kept).await), None);
    // Readers are not sent to it.
    assert_eq!(holders(&ns, "/f"), vec![kept]);
    let rows = ns.datanode_reports().await.unwrap();
    let r = rows.iter().find(|r| r.id == away).unwrap();
    assert!(r.in_maintenance && r.state == dfs_common::proto::client::DatanodeState::Dead);

    // Ended while it is down: it is dead as any other, its block copied.
    let row = ns.end_maintenance(&addr_of(away)).await.unwrap();
    assert!(!row.in_maintenance);
    assert_eq!(
        replicate_of(&commands(&ns, kept).await),
        Some((block, vec![spare]))
    );
}

#[tokio::test(start_paused = true)]
async fn maintenance_runs_out_and_a_comeback_counts_normally() {
    let dir = tempfile::tempdir().unwrap();
    let (ns, nodes) = three_nodes_and_a_file(dir.path()).await;
    let had = holders(&ns, "/f");
    let (away, kept) = (had[0], had[1]);
    let spare = *nodes.iter().find(|n| !had.contains(n)).unwrap();
    let row = ns
        .enter_maintenance(&addr_of(away), Some(Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(row.maintenance_ends_in_ms, Some(20_000));

    // Silent, then back before the end: its replica counts, no copies.
    for _ in 0..4 {
        tokio::time::advance(Duration::from_secs(2)).await;
        for n in [kept, spare] {
            commands(&ns, n).await;
        }
    }
    assert_eq!(ns.check_dead_nodes(Instant::now()).await, vec![away]);
    assert!(ns.heartbeat(&hb(away)).await.commands.is_empty());
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(ns.summary().unwrap().under_replicated_blocks, 0);
    assert_eq!(holders(&ns, "/f"), had);
    let rows = ns.datanode_reports().await.unwrap();
    assert!(rows.iter().find(|r| r.id == away).unwrap().in_maintenance);

    // Silent again past its end: dead as usual, its block copied.
    for _ in 0..12 {
        tokio::time::advance(Duration::from_secs(2)).await;
        for n in [kept, spare] {
            commands(&ns, n).await;
        }
        ns.check_dead_nodes(Instant::now()).await;
    }
    assert_eq!(
        ns.expire_maintenance(Instant::now()).await.unwrap(),
        vec![away]
    );
    ns.replication_tick(Instant::now()).await.unwrap();
    let rows = ns.datanode_reports().await.unwrap();
    assert!(!rows.iter().find(|r| r.id == away).unwrap().in_maintenance);
    assert_eq!(ns.summary().unwrap().replication.pending_copies, 1);
}

#[tokio::test(start_paused = true)]
async fn maintenance_is_refused_for_a_sole_live_replica() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.replication = 1;
    let ns = Namesystem::open(config).await.unwrap();
    let nodes = [register(&ns, vec![]).await, register(&ns, vec![]).await];
    put(&ns, "/one", b"data").await;
    let holder = holders(&ns, "/one")[0];
    let other = *nodes.iter().find(|n| **n != holder).unwrap();
    match ns.enter_maintenance(&addr_of(holder), None).await {
        Err(NamenodeError::Conflict(m)) => assert!(m.contains("1 block"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The other node holds nothing: it may go.
    assert!(
        ns.enter_maintenance(&addr_of(other), None)
            .await
            .unwrap()
            .in_maintenance
    );
}

/// A heartbeat from `id` reporting `used` of 1 GiB.
async fn commands_used(ns: &Namesystem, id: NodeId, used: u64) -> Vec<DnCommand> {
    let mut h = hb(id);
    h.storage.used = used;
    h.storage.available = (1u64 << 30) - used;
    ns.heartbeat(&h).await.commands
}

#[tokio::test(start_paused = true)]
async fn the_balancer_copies_then_deletes_the_source_replica() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.replication = 2;
    let ns = Namesystem::open(config).await.unwrap();
    let (a, b) = (register(&ns, vec![]).await, register(&ns, vec![]).await);
    put(&ns, "/f", b"data").await;
    let block = ns.locations(&p("/f")).unwrap().blocks[0].block_id;
    let c = register(&ns, vec![]).await;
    let full = 900u64 << 20;
    for n in [a, b] {
        commands_used(&ns, n, full).await;
    }
    commands_used(&ns, c, 0).await;
    // Not running: nothing moves.
    ns.replication_tick(Instant::now()).await.unwrap();
    assert!(replicate_of(&commands_used(&ns, a, full).await).is_none());
    assert!(ns.start_balancer(150.0).await.is_err());
    assert!(ns.start_balancer(f64::NAN).await.is_err());
    let st = ns.start_balancer(10.0).await.unwrap();
    assert!(st.running);
    ns.replication_tick(Instant::now()).await.unwrap();
    let mut source = None;
    for n in [a, b] {
        if let Some(r) = replicate_of(&commands_used(&ns, n, full).await) {
            assert_eq!(r, (block, vec![c]), "to the empty node");
            source = Some(n);
        }
    }
    let source = source.expect("a move");
    let other = if source == a { b } else { a };
    assert_eq!(ns.balancer_status().moves_in_flight, 1);
    // Nothing deleted before the copy is confirmed, however many ticks.
    for _ in 0..3 {
        ns.replication_tick(Instant::now()).await.unwrap();
        for n in [a, b] {
            let cmds = commands_used(&ns, n, full).await;
            assert!(
                !cmds.iter().any(|c| matches!(c, DnCommand::Delete { .. })),
                "{cmds:?}"
            );
        }
        assert_eq!(holders(&ns, "/f").len(), 2);
    }
    // The target reports it: the source's replica (not the other's) goes.
    received(&ns, c, replica_of(block, b"data")).await;
    ns.replication_tick(Instant::now()).await.unwrap();
    assert_eq!(
        commands_used(&ns, source, full).await,
        vec![DnCommand::Delete {
            blocks: vec![block]
        }]
    );
    assert!(commands_used(&ns, other, full).await.is_empty());
    let mut want = vec![other, c];
    want.sort();
    assert_eq!(holders(&ns, "/f"), want);
    let st = ns.balancer_status();
    assert_eq!(
        (st.bytes_moved, st.moves_done, st.moves_in_flight),
        (4, 1, 0)
    );
    // Stopped: nothing new.
    assert!(!ns.stop_balancer().await.unwrap().running);
    ns.replication_tick(Instant::now()).await.unwrap();
    assert!(replicate_of(&commands_used(&ns, other, full).await).is_none());
    assert_eq!(ns.balancer_status().last_stop.as_deref(), Some("stopped"));
}

#[tokio::test(start_paused = true)]
async fn the_balancer_gives_up_when_no_move_is_possible() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.replication = 3;
    let ns = Namesystem::open(config).await.unwrap();
    let nodes = [
        register(&ns, vec![]).await,
        register(&ns, vec![]).await,
        register(&ns, vec![]).await,
    ];
    // Every block on every node: the empty one already holds them all.
    put(&ns, "/f", b"data").await;
    assert_eq!(holders(&ns, "/f").len(), 3);
    let full = 900u64 << 20;
    commands_used(&ns, nodes[0], full).await;
    commands_used(&ns, nodes[1], full).await;
    commands_used(&ns, nodes[2], 0).await;
    ns.start_balancer(10.0).await.unwrap();
    for _ in 0..25 {
        ns.replication_tick(Instant::now()).await.unwrap();
    }
    let st = ns.balancer_status();
    assert!(!st.running, "{st:?}");
    assert_eq!(st.last_stop.as_deref(), Some("no move possible"));
    assert_eq!((st.nodes_over, st.nodes_under), (2, 1));
    for n in nodes {
        assert!(replicate_of(&commands_used(&ns, n, 0).await).is_none());
    }
}

#[tokio::test]
async fn the_trash_rolls_into_checkpoints_and_empties_after_its_interval() {
    use dfs_common::trash::checkpoint_name;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.trash_interval = Duration::from_secs(60);
    let ns = Namesystem::open(config).await.unwrap();
    register(&ns, vec![]).await;
    register(&ns, vec![]).await;
    put(&ns, "/a/f", b"x").await;
    let r = ns.trash(&p("/a/f"), false, "alice").await.unwrap();
    assert_eq!(r.moved_to, Some(p("/user/alice/.Trash/Current/a/f")));
    assert_eq!(r.deleted, DeleteResponse::default());
    // What is in a trash already is deleted at once.
    put(&ns, "/g", b"yy").await;
    let moved = ns
        .trash(&p("/g"), false, "alice")
        .await
        .unwrap()
        .moved_to
        .unwrap();
    let r = ns.trash(&moved, false, "alice").await.unwrap();
    assert_eq!(
        (r.moved_to, r.deleted.files_deleted, r.deleted.bytes_deleted),
        (None, 1, 2)
    );

    let t0 = 1_796_442_037_000;
    assert_eq!(ns.roll_trash(t0).await.unwrap(), 0);
    let first = format!("/user/alice/.Trash/{}", checkpoint_name(t0));
    ns.status(&p(&format!("{first}/a/f"))).unwrap();
    assert!(ns.status(&p("/user/alice/.Trash/Current")).is_err());
    // Something deleted meanwhile rolls into its own checkpoint; the first
    // stays until it is a whole interval old.
    put(&ns, "/h", b"z").await;
    ns.trash(&p("/h"), false, "alice").await.unwrap();
    assert_eq!(ns.roll_trash(t0 + 59_000).await.unwrap(), 0);
    let second = format!("/user/alice/.Trash/{}", checkpoint_name(t0 + 59_000));
    ns.status(&p(&first)).unwrap();
    ns.status(&p(&format!("{second}/h"))).unwrap();
    assert_eq!(ns.roll_trash(t0 + 60_000).await.unwrap(), 1);
    assert!(ns.status(&p(&first)).is_err());
    ns.status(&p(&second)).unwrap();
    // A name in the trash that is no checkpoint's is left alone.
    ns.mkdirs(&p("/user/alice/.Trash/mine"), true)
        .await
        .unwrap();
    assert_eq!(ns.roll_trash(t0 + 600_000).await.unwrap(), 1);
    ns.status(&p("/user/alice/.Trash/mine")).unwrap();

    // expunge empties it all; a second one finds nothing.
    let e = ns.expunge("alice").await.unwrap();
    assert_eq!(e.trash_root, p("/user/alice/.Trash"));
    assert_eq!(e.deleted.directories_deleted, 2, ".Trash and mine");
    assert!(ns.status(&p("/user/alice/.Trash")).is_err());
    let e = ns.expunge("alice").await.unwrap();
    assert_eq!(e.deleted, DeleteResponse::default());
}

#[tokio::test]
async fn with_the_trash_off_rm_deletes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.trash_interval = Duration::ZERO;
    let ns = Namesystem::open(config).await.unwrap();
    register(&ns, vec![]).await;
    put(&ns, "/f", b"abc").await;
    let r = ns.trash(&p("/f"), false, "dfs").await.unwrap();
    assert_eq!((r.moved_to, r.deleted.bytes_deleted), (None, 3));
    assert!(ns.status(&p("/user")).is_err(), "no trash made");
    assert_eq!(ns.roll_trash(u64::MAX).await.unwrap(), 0);
}

#[tokio::test]
async fn xattrs_and_s3_keys_follow_files_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let attrs: dfs_common::proto::client::Xattrs = [
        ("s3.etag".to_string(), "abc:def".to_string()),
        ("user.owner".to_string(), "ann".to_string()),
    ]
    .into();
    let (key, kept, gone) = {
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        register(&ns, vec![]).await;
        let f = put_with(&ns, "/b/obj", b"object", Some(attrs.clone())).await;
        assert_eq!(ns.xattrs(&[f.inode_id]).unwrap(), vec![attrs.clone()]);
        // A file written without any has none.
        let plain = put(&ns, "/b/plain", b"x").await;
        assert!(ns.xattrs(&[plain.inode_id]).unwrap()[0].is_empty());
        // They follow a rename (kept by inode) ...
        ns.rename(&p("/b/obj"), &p("/b/moved"), false)
            .await
            .unwrap();
        // ... and go with the file.
        let doomed = put_with(&ns, "/b/doomed", b"d", Some(attrs.clone())).await;
        ns.delete(&p("/b/doomed"), false).await.unwrap();
        assert!(ns.xattrs(&[doomed.inode_id]).unwrap()[0].is_empty());
        let again = put_with(&ns, "/b/other", b"1", Some(attrs.clone())).await;
        let key = ns.create_s3_key("ann").await.unwrap();
        let other = ns.create_s3_key("bob").await.unwrap();
        ns.delete_s3_key(&other.access_key).await.unwrap();
        assert!(ns.delete_s3_key(&other.access_key).await.is_err());
        (key, f.inode_id, (doomed.inode_id, again.inode_id))
    };
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let st = ns.status(&p("/b/moved")).unwrap();
    assert_eq!(st.inode_id, kept);
    assert_eq!(ns.xattrs(&[kept]).unwrap(), vec![attrs.clone()]);
    assert!(ns.xattrs(&[gone.0]).unwrap()[0].is_empty());
    assert_eq!(ns.xattrs(&[gone.1]).unwrap(), vec![attrs]);
    let (secret, user) = ns.s3_secret(&key.access_key).unwrap();
    assert_eq!(Some(secret), key.secret);
    assert_eq!(user, "ann");
    let keys = ns.s3_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].secret.is_none(), "a listing never shows a secret");
}

/// Concat joins complete files into a new one, its blocks the parts'
/// (moved, not copied: same ids, now the new file's), the parts gone, the
/// digest and attributes the caller's; it refuses, changing nothing,
/// parts whose blocks do not line up, a missing part, a directory, a part
/// listed twice; and what it made survives a restart.
#[tokio::test]
async fn concat_moves_blocks_into_a_new_file() {
    use dfs_common::proto::client::ConcatRequest;
    let dir = tempfile::tempdir().unwrap();
    let full = |seed: u8| vec![seed; 4096];
    let whole: Vec<u8> = [full(1), full(2), b"tail".to_vec()].concat();
    let blocks_of = |ns: &Namesystem, path: &str| -> Vec<BlockId> {
        ns.locations(&p(path))
            .unwrap()
            .blocks
            .iter()
            .map(|b| b.block_id)
            .collect()
    };
    let (st, moved) = {
        let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
        register(&ns, vec![]).await;
        register(&ns, vec![]).await;
        put(&ns, "/up/p1", &full(1)).await;
        put(&ns, "/up/p2", &full(2)).await;
        put(&ns, "/up/p3", b"tail").await;
        put(&ns, "/up/short", b"short").await;
        let mut moved = blocks_of(&ns, "/up/p1");
        moved.extend(blocks_of(&ns, "/up/p2"));
        moved.extend(blocks_of(&ns, "/up/p3"));
        let req = |parts: &[&str]| ConcatRequest {
            parts: parts.iter().map(|s| p(s)).collect(),
            dst: p("/b/obj"),
            sha256: Sha256Digest::of(&whole),
            xattrs: [("s3.etag".to_string(), "e-3:x".to_string())].into(),
        };
        // Refusals change nothing.
        for bad in [
            vec!["/up/short", "/up/p2"],
            vec!["/up/p1", "/up/missing"],
            vec!["/up/p1", "/up"],
            vec!["/up/p1", "/up/p1"],
            vec![],
        ] {
            assert!(ns.concat(&req(&bad)).await.is_err(), "{bad:?}");
            assert!(ns.status(&p("/b/obj")).is_err());
            assert!(ns.status(&p("/up/p1")).is_ok());
        }
        let st = ns
            .concat(&req(&["/up/p1", "/up/p2", "/up/p3"]))
            .await
            .unwrap();
        assert_eq!(st.length, whole.len() as u64);
        assert_eq!(st.blocks, 3);
        assert_eq!(st.sha256, Some(Sha256Digest::of(&whole)));
        assert_eq!(blocks_of(&ns, "/b/obj"), moved);
        for part in ["/up/p1", "/up/p2", "/up/p3"] {
            assert!(ns.status(&p(part)).is_err(), "{part} is gone");
        }
        assert_eq!(ns.xattrs(&[st.inode_id]).unwrap()[0]["s3.etag"], "e-3:x");
        // A concat onto an existing file replaces it.
        put(&ns, "/b/other", b"the old one").await;
        put(&ns, "/up/q1", &full(3)).await;
        let again = ConcatRequest {
            parts: vec![p("/up/q1")],
            dst: p("/b/other"),
            sha256: Sha256Digest::of(&full(3)),
            xattrs: Default::default(),
        };
        let replaced = ns.concat(&again).await.unwrap();
        assert_eq!(replaced.length, 4096);
        assert_eq!(replaced.sha256, Some(Sha256Digest::of(&full(3))));
        (st, moved)
    };
    let ns = Namesystem::open(test_config(dir.path())).await.unwrap();
    let after = ns.status(&p("/b/obj")).unwrap();
    assert_eq!(after.inode_id, st.inode_id);
    assert_eq!(after.sha256, st.sha256);
    assert_eq!(blocks_of(&ns, "/b/obj"), moved);
    assert_eq!(ns.status(&p("/b/other")).unwrap().length, 4096);
    assert!(ns.status(&p("/up/short")).is_ok());
}
