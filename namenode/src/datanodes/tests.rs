//! Unit tests of the datanode registry and its pure parts.
use super::*;

fn info(id: NodeId) -> DatanodeInfo {
    DatanodeInfo {
        id,
        addr: format!("http://{id}"),
    }
}

fn record(addr: &str) -> NodeRecord {
    NodeRecord {
        addr: addr.into(),
        admin: AdminState::Normal,
    }
}

#[tokio::test(start_paused = true)]
async fn liveness_and_commands() {
    let known = NodeId::new();
    let dm = DatanodeManager::new(
        vec![(known, record("http://old"))],
        Duration::from_secs(2),
        Instant::now(),
    );
    let storage = StorageReport {
        capacity: 100,
        used: 10,
        available: 90,
    };
    let hb = |id| Heartbeat {
        node_id: id,
        storage,
        active_transfers: 0,
        filesystem: None,
        disks: None,
    };
    let now = Instant::now();
    // Known from the store but not registered: must re-register; its
    // replicas still count meanwhile.
    assert!(dm.heartbeat(&hb(known), now, true).is_none());
    assert!(dm.live(now).is_empty());
    assert_eq!(dm.view(now).class(&known), NodeClass::Presumed);
    assert_eq!(dm.totals(now).awaiting_registration, 1);
    assert_eq!(
        dm.register(&info(known), DEFAULT_RACK, None, storage, now),
        Some(record(&info(known).addr))
    );
    assert_eq!(
        dm.register(&info(known), DEFAULT_RACK, None, storage, now),
        None,
        "same address: nothing to store"
    );
    assert_eq!(dm.live(now).len(), 1);
    assert_eq!(dm.view(now).class(&known), NodeClass::Live);

    let b = BlockId::new();
    dm.queue_deletes(&[(known, b), (known, b), (NodeId::new(), b)]);
    // A namenode that does not lead hands out nothing, and keeps the
    // deletion for when it does.
    assert!(dm
        .heartbeat(&hb(known), now, false)
        .unwrap()
        .commands
        .is_empty());
    let out = dm.heartbeat(&hb(known), now, true).unwrap();
    assert_eq!(out.commands, vec![Command::Delete { blocks: vec![b] }]);
    assert!(!out.came_back);
    assert!(dm
        .heartbeat(&hb(known), now, true)
        .unwrap()
        .commands
        .is_empty());

    tokio::time::advance(Duration::from_secs(3)).await;
    let later = Instant::now();
    assert!(dm.live(later).is_empty());
    assert_eq!(dm.check_dead(later), vec![known]);
    assert!(dm.check_dead(later).is_empty());
    assert_eq!(dm.totals(later).dead, 1);
    assert_eq!(dm.view(later).class(&known), NodeClass::Gone);
    // A heartbeat brings it back.
    assert!(dm.heartbeat(&hb(known), later, true).unwrap().came_back);
    assert_eq!(
        dm.totals(later),
        DatanodeTotals {
            live: 1,
            dead: 0,
            space: Space {
                capacity: 100,
                used: 10,
                available: 90,
                filesystems: 1,
                ..Default::default()
            },
            ..Default::default()
        }
    );
}

const GIB: u64 = 1 << 30;

/// A node's own report: `cap` its `--capacity` (`None`: the disk's
/// size), as the datanode computes it.
fn node_on(fs: &FilesystemReport, cap: Option<u64>, used: u64) -> StorageReport {
    let capacity = cap.unwrap_or(fs.total);
    StorageReport {
        capacity,
        used,
        available: capacity.saturating_sub(used).min(fs.available),
    }
}

fn disk(host: &str, device: u64, total: u64, free: u64, available: u64) -> FilesystemReport {
    FilesystemReport {
        id: FilesystemId {
            host: host.into(),
            device,
        },
        total,
        free,
        available,
    }
}

fn space(nodes: &[(StorageReport, Option<FilesystemReport>)]) -> Space {
    let s = cluster_space(nodes.iter().map(|(s, f)| (s, f.as_ref())));
    assert_eq!(
        s.used + s.available + s.reserved + s.non_dfs_used,
        s.capacity,
        "the parts add up: {s:?}"
    );
    s
}

#[test]
fn a_shared_file_system_counts_once() {
    // This machine's disk as `df -B1` saw it: 252 GiB, 35.5 GiB used,
    // 55.4 GiB available (a large root reserve).
    let d = disk(
        "host-a",
        0xfd00,
        270_553_174_016,
        232_475_566_080,
        59_495_141_376,
    );
    let used = 3 * GIB / 2;
    let three: Vec<_> = (0..3)
        .map(|_| (node_on(&d, None, used), Some(d.clone())))
        .collect();
    let s = space(&three);
    assert_eq!(s.filesystems, 1);
    assert_eq!(s.capacity, d.total, "the disk once, not three times");
    assert_eq!(s.used, 3 * used, "every node's blocks count");
    assert_eq!(s.available, d.available);
    assert_eq!(s.reserved, d.free - d.available);
    assert_eq!(
        s.non_dfs_used,
        d.total - d.free - 3 * used,
        "df's Used less dfs"
    );

    // The same nodes as an older namenode (or older datanodes) saw
    // them: three disks.
    let old: Vec<_> = three.iter().map(|(st, _)| (*st, None)).collect();
    let s = space(&old);
    assert_eq!((s.filesystems, s.capacity), (3, 3 * d.total));
    assert_eq!(s.available, 3 * d.available);
}

#[test]
fn capacities_below_the_disk_add_up_but_free_space_does_not() {
    let d = disk("h", 1, 252 * GIB, 200 * GIB, 190 * GIB);
    // Two nodes limited to 10 GiB on one roomy disk: 20 GiB for dfs,
    // nothing reserved or taken by others within it.
    let two = [
        (node_on(&d, Some(10 * GIB), GIB), Some(d.clone())),
        (node_on(&d, Some(10 * GIB), 0), Some(d.clone())),
    ];
    assert_eq!(
        space(&two),
        Space {
            capacity: 20 * GIB,
            used: GIB,
            available: 19 * GIB,
            reserved: 0,
            non_dfs_used: 0,
            filesystems: 1,
        }
    );
    // The disk nearly full: each node alone could take its 5 GiB, both
    // together can too, but not 5 GiB each.
    let d = disk("h", 1, 252 * GIB, 6 * GIB, 5 * GIB);
    let two = [
        (node_on(&d, Some(10 * GIB), GIB), Some(d.clone())),
        (node_on(&d, Some(10 * GIB), 0), Some(d.clone())),
    ];
    let s = space(&two);
    assert_eq!((s.capacity, s.available), (20 * GIB, 5 * GIB));
    assert_eq!((s.reserved, s.non_dfs_used), (GIB, 13 * GIB));
    // A limit above the disk's size is the disk's size.
    let s = space(&[(node_on(&d, Some(1000 * GIB), 0), Some(d.clone()))]);
    assert_eq!(s.capacity, d.total);
    // One limited node and one unlimited: the disk.
    let s = space(&[
        (node_on(&d, Some(10 * GIB), 0), Some(d.clone())),
        (node_on(&d, None, 0), Some(d.clone())),
    ]);
    assert_eq!((s.capacity, s.available), (d.total, d.available));
}

#[test]
fn distinct_file_systems_and_hosts_add_up() {
    let a = disk("host-a", 1, 100, 60, 50);
    let b = disk("host-a", 2, 100, 60, 50);
    let c = disk("host-b", 1, 100, 60, 50); // same device, another machine
    let s = space(&[
        (node_on(&a, None, 10), Some(a.clone())),
        (node_on(&a, None, 10), Some(a.clone())),
        (node_on(&b, None, 10), Some(b.clone())),
        (node_on(&c, None, 10), Some(c.clone())),
        // An older datanode: on a file system of its own.
        (
            StorageReport {
                capacity: 100,
                used: 10,
                available: 50,
            },
            None,
        ),
    ]);
    assert_eq!(s.filesystems, 4);
    assert_eq!(s.capacity, 400);
    assert_eq!(s.used, 50);
    assert_eq!(s.available, 200);
    assert_eq!(s.reserved, 30);
    assert_eq!(s.non_dfs_used, 20 + 30 + 30 + 40);
}

#[test]
fn reports_taken_at_different_moments_use_the_least_free_space() {
    let before = disk("h", 1, 100, 50, 40);
    let after = disk("h", 1, 100, 30, 20);
    let s = space(&[
        (node_on(&before, None, 10), Some(before.clone())),
        (node_on(&after, None, 30), Some(after.clone())),
    ]);
    assert_eq!((s.capacity, s.used, s.available), (100, 40, 20));
    assert_eq!(s.reserved, 10);
    // Blocks beyond the capacity (a capacity lowered after they came):
    // nothing is left, nothing is negative.
    let s = cluster_space([(
        &StorageReport {
            capacity: 10,
            used: 15,
            available: 0,
        },
        Some(&before),
    )]);
    assert_eq!(
        (s.capacity, s.used, s.available, s.non_dfs_used),
        (10, 15, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn heartbeats_carry_the_file_system_and_only_live_nodes_count() {
    let dm = DatanodeManager::new(vec![], Duration::from_secs(30), Instant::now());
    let d = disk("h", 7, 1000, 600, 500);
    let (a, b) = (NodeId::new(), NodeId::new());
    for n in [a, b] {
        dm.register(
            &info(n),
            DEFAULT_RACK,
            None,
            node_on(&d, None, 0),
            Instant::now(),
        );
    }
    // Registered, no heartbeat yet: two file systems as far as we know.
    assert_eq!(dm.totals(Instant::now()).space.capacity, 2000);
    for n in [a, b] {
        let hb = Heartbeat {
            node_id: n,
            storage: node_on(&d, None, 100),
            active_transfers: 0,
            filesystem: Some(d.clone()),
            disks: None,
        };
        dm.heartbeat(&hb, Instant::now(), true).unwrap();
    }
    let t = dm.totals(Instant::now());
    assert_eq!((t.live, t.space.filesystems), (2, 1));
    assert_eq!(
        (t.space.capacity, t.space.used, t.space.available),
        (1000, 200, 500)
    );
    let rows = dm.reports(Instant::now(), |_| (0, 0, 0));
    assert!(rows.iter().all(|r| r.filesystem.as_deref() == Some("h:7")));
    assert!(
        rows.iter().all(|r| r.capacity == 1000),
        "per node stays per node"
    );
    // One goes silent: the other still has the disk.
    tokio::time::advance(Duration::from_secs(20)).await;
    let hb = Heartbeat {
        node_id: a,
        storage: node_on(&d, None, 100),
        active_transfers: 0,
        filesystem: Some(d.clone()),
        disks: None,
    };
    dm.heartbeat(&hb, Instant::now(), true).unwrap();
    tokio::time::advance(Duration::from_secs(15)).await;
    let t = dm.totals(Instant::now());
    assert_eq!((t.live, t.dead), (1, 1));
    assert_eq!((t.space.capacity, t.space.used), (1000, 100));
}

#[tokio::test(start_paused = true)]
async fn nodes_from_before_a_restart_get_one_timeout_to_register() {
    let (a, b) = (NodeId::new(), NodeId::new());
    let dm = DatanodeManager::new(
        vec![(a, record("http://a:1")), (b, record("http://b:1"))],
        Duration::from_secs(30),
        Instant::now(),
    );
    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(dm.check_dead(Instant::now()).is_empty(), "not dead yet");
    dm.register(
        &info(a),
        DEFAULT_RACK,
        None,
        StorageReport::default(),
        Instant::now(),
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(dm.check_dead(Instant::now()), vec![b]);
    let v = dm.view(Instant::now());
    assert_eq!(v.class(&a), NodeClass::Live);
    assert_eq!(v.class(&b), NodeClass::Gone);
}

#[tokio::test(start_paused = true)]
async fn admin_state_excludes_from_placement() {
    let a = NodeId::new();
    let dm = DatanodeManager::new(vec![], Duration::from_secs(30), Instant::now());
    let st = StorageReport {
        capacity: 10,
        used: 0,
        available: 10,
    };
    dm.register(&info(a), DEFAULT_RACK, None, st, Instant::now());
    assert_eq!(
        DatanodeManager::candidates(&dm.live(Instant::now())).len(),
        1
    );
    let rec = dm.set_admin(&a, AdminState::Decommissioning).unwrap();
    assert_eq!(rec.admin, AdminState::Decommissioning);
    assert!(dm.set_admin(&a, AdminState::Decommissioning).is_none());
    let live = dm.live(Instant::now());
    assert_eq!(live.len(), 1, "still live, still serves reads");
    assert!(DatanodeManager::candidates(&live).is_empty());
    assert_eq!(dm.view(Instant::now()).class(&a), NodeClass::LiveRetiring);
    assert!(dm.view(Instant::now()).targets().is_empty());
    assert_eq!(dm.totals(Instant::now()).decommissioning, 1);
}

#[test]
fn legacy_records_still_decode() {
    let old = dfs_common::codec::encode(&LegacyNodeRecord {
        addr: "http://x:1".into(),
    })
    .unwrap();
    assert!(dfs_common::codec::decode::<NodeRecord>(&old).is_err());
    let l: LegacyNodeRecord = dfs_common::codec::decode(&old).unwrap();
    assert_eq!(NodeRecord::from(l), record("http://x:1"));
}

#[test]
fn operators_name_nodes_by_id_prefix_or_address() {
    let a: NodeId = "a1b2c3d4-0000-4000-8000-000000000001".parse().unwrap();
    let b: NodeId = "a1b2ffff-0000-4000-8000-000000000002".parse().unwrap();
    let nodes = vec![
        (a, "http://127.0.0.1:9864".to_string()),
        (b, "http://127.0.0.1:9865".to_string()),
    ];
    let r = |q: &str| resolve_node(q, &nodes);
    assert_eq!(r("a1b2c3d4-0000-4000-8000-000000000001"), Ok(a));
    assert_eq!(r("a1b2c3d400004000"), Ok(a));
    assert_eq!(r("a1b2-c3"), Ok(a), "dashes ignored");
    assert_eq!(r("A1B2F"), Ok(b));
    assert!(matches!(r("a1b2"), Err(ResolveError::Ambiguous(_))));
    assert!(
        matches!(r("a1b"), Err(ResolveError::NotFound(_))),
        "too short"
    );
    assert!(matches!(r("beef"), Err(ResolveError::NotFound(_))));
    assert!(matches!(r(""), Err(ResolveError::NotFound(_))));
    assert_eq!(r("127.0.0.1:9865"), Ok(b));
    assert_eq!(r("http://127.0.0.1:9865"), Ok(b));
    assert_eq!(r("http://127.0.0.1:9865/"), Ok(b));
    assert_eq!(r("http%3A%2F%2F127.0.0.1%3A9864"), Ok(a));
    assert!(matches!(r("127.0.0.1:1"), Err(ResolveError::NotFound(_))));
}

#[tokio::test(start_paused = true)]
async fn maintenance_classes_and_expiry() {
    let (a, b) = (NodeId::new(), NodeId::new());
    let dm = DatanodeManager::new(vec![], Duration::from_secs(2), Instant::now());
    let st = StorageReport {
        capacity: 10,
        used: 0,
        available: 10,
    };
    for n in [a, b] {
        dm.register(&info(n), DEFAULT_RACK, None, st, Instant::now());
    }
    assert!(!dm.enter_maintenance(&NodeId::new(), None), "unknown");
    assert!(dm.enter_maintenance(&a, Some(Instant::now() + Duration::from_secs(10))));
    // Live in maintenance: serves, takes no new blocks.
    let now = Instant::now();
    assert_eq!(dm.view(now).class(&a), NodeClass::Live);
    assert_eq!(
        DatanodeManager::candidates(&dm.live(now))
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        vec![b]
    );
    assert_eq!(
        dm.view(now)
            .targets()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        vec![b]
    );
    // Silent: dead by heartbeat, but `Maintenance`, not gone.
    tokio::time::advance(Duration::from_secs(3)).await;
    dm.touch(&b, Instant::now());
    assert_eq!(dm.check_dead(Instant::now()), vec![a]);
    assert_eq!(dm.view(Instant::now()).class(&a), NodeClass::Maintenance);
    let row = |dm: &DatanodeManager| {
        dm.reports(Instant::now(), |_| (0, 0, 0))
            .into_iter()
            .find(|r| r.id == a)
            .unwrap()
    };
    let r = row(&dm);
    assert!(r.in_maintenance && r.state == DatanodeState::Dead);
    assert_eq!(r.maintenance_ends_in_ms, Some(7_000));
    // Run out: gone as any dead node, reported once.
    tokio::time::advance(Duration::from_secs(8)).await;
    assert_eq!(dm.view(Instant::now()).class(&a), NodeClass::Gone);
    assert_eq!(dm.expire_maintenance(Instant::now()), vec![a]);
    assert!(dm.expire_maintenance(Instant::now()).is_empty());
    assert!(!row(&dm).in_maintenance);
    // Until ended; ending it makes a silent node gone at once.
    assert!(dm.enter_maintenance(&a, None));
    assert_eq!(dm.view(Instant::now()).class(&a), NodeClass::Maintenance);
    assert_eq!(row(&dm).maintenance_ends_in_ms, None);
    assert!(dm.end_maintenance(&a));
    assert!(!dm.end_maintenance(&a), "already ended");
    assert_eq!(dm.view(Instant::now()).class(&a), NodeClass::Gone);
    // A retiring node in maintenance is not counted as a silent one.
    assert!(dm.enter_maintenance(&a, None));
    dm.set_admin(&a, AdminState::Decommissioning);
    assert_eq!(dm.view(Instant::now()).class(&a), NodeClass::Gone);
}

#[tokio::test(start_paused = true)]
async fn failed_disks_of_live_nodes_and_maintenance_are_counted() {
    use dfs_common::proto::datanode::{DiskReport, DiskState};
    let dm = DatanodeManager::new(vec![], Duration::from_secs(30), Instant::now());
    let d = disk("h", 7, 1000, 600, 500);
    let disk_in = |dir: &str, state| DiskReport {
        dir: dir.into(),
        state,
        ..Default::default()
    };
    let (a, b, c) = (NodeId::new(), NodeId::new(), NodeId::new());
    let disks = [
        vec![
            disk_in("/a1", DiskState::InService),
            disk_in("/a2", DiskState::Failed),
            disk_in("/a3", DiskState::Failed),
        ],
        vec![disk_in("/b1", DiskState::Failed)],
        vec![disk_in("/c1", DiskState::InService)],
    ];
    let beat = |n: NodeId, disks: &Vec<DiskReport>| {
        let hb = Heartbeat {
            node_id: n,
            storage: node_on(&d, None, 0),
            active_transfers: 0,
            filesystem: None,
            disks: Some(disks.clone()),
        };
        dm.heartbeat(&hb, Instant::now(), true).unwrap();
    };
    for (n, k) in [a, b, c].into_iter().zip(&disks) {
        dm.register(
            &info(n),
            DEFAULT_RACK,
            None,
            node_on(&d, None, 0),
            Instant::now(),
        );
        beat(n, k);
    }
    let t = dm.totals(Instant::now());
    assert_eq!((t.failed_disks, t.in_maintenance), (3, 0));
    assert!(dm.enter_maintenance(&c, None));
    // b goes silent: its last report no longer counts; a's does.
    tokio::time::advance(Duration::from_secs(20)).await;
    beat(a, &disks[0]);
    beat(c, &disks[2]);
    tokio::time::advance(Duration::from_secs(15)).await;
    let t = dm.totals(Instant::now());
    assert_eq!((t.live, t.dead), (2, 1));
    assert_eq!((t.failed_disks, t.in_maintenance), (2, 1));
}
