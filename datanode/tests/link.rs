//! The namenode link against a fake namenode (an actix server speaking the
//! bincode protocol): registration, incremental reports, commands, restart.
mod common;
use actix_web::{web, App, HttpResponse, HttpServer};
use common::wait_for;
use datanode::config::Config;
use datanode::storage::{filesystem_of, host_id};
use datanode::Datanode;
use dfs_common::checksum::{BlockChecksums, Sha256Digest, CHUNK_SIZE};
use dfs_common::codec;
use dfs_common::ids::{BlockId, ClusterId, NodeId};
use dfs_common::proto::data::PIPELINE_HEADER;
use dfs_common::proto::datanode::{
    BadBlockReport, Command, FilesystemReport, Heartbeat, HeartbeatReply, IncrementalBlockReport,
    RegisterRequest, RegisterResponse, StorageReport,
};
use dfs_common::proto::DatanodeInfo;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{sleep, Instant};

/// The fake namenode's cluster (the same across its restarts).
fn cluster() -> ClusterId {
    ClusterId::from_bytes([7; 16])
}

#[derive(Default)]
struct Fake {
    registrations: Vec<RegisterRequest>,
    heartbeats: u64,
    received: Vec<(NodeId, BlockId)>,
    deleted: Vec<(NodeId, BlockId)>,
    bad: Vec<BadBlockReport>,
    commands: HashMap<NodeId, Vec<Command>>,
    /// Nodes to forget (as a restarted namenode would) until they register again.
    forgotten: HashSet<NodeId>,
}

type Shared = web::Data<Mutex<Fake>>;

fn bincode_ok<T: serde::Serialize>(v: &T) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(codec::CONTENT_TYPE)
        .body(codec::encode(v).unwrap())
}

async fn register(s: Shared, body: web::Bytes) -> HttpResponse {
    let req: RegisterRequest = codec::decode(&body).unwrap();
    let mut f = s.lock().unwrap();
    f.forgotten.remove(&req.node.id);
    f.registrations.push(req);
    bincode_ok(&RegisterResponse {
        heartbeat_interval_ms: 50,
        block_report_interval_ms: 60_000,
        cluster_id: cluster(),
    })
}

async fn heartbeat(s: Shared, body: web::Bytes) -> HttpResponse {
    let hb: Heartbeat = codec::decode(&body).unwrap();
    let mut f = s.lock().unwrap();
    f.heartbeats += 1;
    // Like the real namenode: a node it has not heard register (it
    // restarted, or forgot) is told to register again.
    let known = f.registrations.iter().any(|r| r.node.id == hb.node_id);
    if !known || f.forgotten.contains(&hb.node_id) {
        return bincode_ok(&HeartbeatReply {
            commands: vec![Command::Reregister],
            leadership: None,
        });
    }
    let commands = f.commands.remove(&hb.node_id).unwrap_or_default();
    bincode_ok(&HeartbeatReply {
        commands,
        leadership: None,
    })
}

async fn block_received(s: Shared, body: web::Bytes) -> HttpResponse {
    let r: IncrementalBlockReport = codec::decode(&body).unwrap();
    let mut f = s.lock().unwrap();
    f.received
        .extend(r.received.iter().map(|b| (r.node_id, b.id)));
    f.deleted.extend(r.deleted.iter().map(|b| (r.node_id, *b)));
    HttpResponse::Ok().finish()
}

async fn bad_block(s: Shared, body: web::Bytes) -> HttpResponse {
    let r: BadBlockReport = codec::decode(&body).unwrap();
    s.lock().unwrap().bad.push(r);
    HttpResponse::Ok().finish()
}

async fn start_fake() -> (Arc<Mutex<Fake>>, String, actix_web::dev::ServerHandle) {
    start_fake_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
}

fn start_fake_on(
    listener: std::net::TcpListener,
) -> (Arc<Mutex<Fake>>, String, actix_web::dev::ServerHandle) {
    let state = web::Data::new(Mutex::new(Fake::default()));
    let shared = state.clone().into_inner();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/internal/v1/register", web::post().to(register))
            .route("/internal/v1/heartbeat", web::post().to(heartbeat))
            .route(
                "/internal/v1/block_received",
                web::post().to(block_received),
            )
            .route("/internal/v1/bad_block", web::post().to(bad_block))
            .route(
                "/internal/v1/block_report",
                web::post().to(|| async { HttpResponse::Ok().finish() }),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (shared, url, handle)
}

async fn start(dir: &std::path::Path, namenode: &str) -> Datanode {
    start_with(dir, namenode, |_| {}).await
}

async fn start_with(
    dir: &std::path::Path,
    namenode: &str,
    tweak: impl FnOnce(&mut Config),
) -> Datanode {
    let mut config = Config {
        namenode: namenode.to_string(),
        listen: "127.0.0.1:0".into(),
        data_dirs: vec![dir.to_path_buf()],
        ..Config::default()
    };
    tweak(&mut config);
    Datanode::start(config).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Writes a block to `url` (no pipeline); returns its id and digest.
async fn put_block(url: &str, bytes: &[u8]) -> (BlockId, Sha256Digest) {
    let id = BlockId::new();
    let resp = client()
        .put(format!("{url}/blocks/{id}"))
        .header(PIPELINE_HEADER, "")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    (id, Sha256Digest::of(bytes))
}

fn replicate(id: BlockId, len: usize, sha256: Sha256Digest, to: &Datanode) -> Command {
    Command::Replicate {
        block_id: id,
        len: len as u64,
        sha256,
        targets: vec![DatanodeInfo {
            id: to.node_id(),
            addr: to.url().to_string(),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_registers_reports_and_runs_commands() {
    let (fake, nn, _handle) = start_fake().await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), &nn).await;
    let b = start(db.path(), &nn).await;
    wait_for("registration", || {
        fake.lock().unwrap().registrations.len() == 2
    })
    .await;
    {
        let f = fake.lock().unwrap();
        let r = f
            .registrations
            .iter()
            .find(|r| r.node.id == a.node_id())
            .unwrap();
        assert_eq!(r.node.addr, a.url());
        assert!(r.storage.capacity > 0);
        assert!(r.blocks.is_empty());
    }

    // A write is reported promptly.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let sha = Sha256Digest::of(&bytes);
    let id = BlockId::new();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = client
        .put(format!("{}/blocks/{id}", a.url()))
        .header(PIPELINE_HEADER, "")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    wait_for("block_received", || {
        fake.lock().unwrap().received.contains(&(a.node_id(), id))
    })
    .await;

    // Replicate a → b.
    let cmd = Command::Replicate {
        block_id: id,
        len: bytes.len() as u64,
        sha256: sha,
        targets: vec![DatanodeInfo {
            id: b.node_id(),
            addr: b.url().to_string(),
        }],
    };
    fake.lock().unwrap().commands.insert(a.node_id(), vec![cmd]);
    wait_for("replica on b", || b.node().store.get(id).is_some()).await;
    wait_for("b reports it", || {
        fake.lock().unwrap().received.contains(&(b.node_id(), id))
    })
    .await;

    // Delete on a.
    fake.lock()
        .unwrap()
        .commands
        .insert(a.node_id(), vec![Command::Delete { blocks: vec![id] }]);
    wait_for("deleted report", || {
        fake.lock().unwrap().deleted.contains(&(a.node_id(), id))
    })
    .await;
    assert!(a.node().store.get(id).is_none());

    // A corrupt replica on b, read by a client: quarantined and reported.
    let path = b.node().store.block_path(id);
    let mut on_disk = std::fs::read(&path).unwrap();
    on_disk[10] ^= 1;
    std::fs::write(&path, on_disk).unwrap();
    let _ = client
        .get(format!("{}/blocks/{id}", b.url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    wait_for("bad_block report", || {
        fake.lock()
            .unwrap()
            .bad
            .iter()
            .any(|r| r.block_id == id && r.node_id == b.node_id())
    })
    .await;

    // The namenode "restarts": the next heartbeat says Reregister.
    let before = fake.lock().unwrap().registrations.len();
    fake.lock()
        .unwrap()
        .forgotten
        .extend([a.node_id(), b.node_id()]);
    wait_for("re-registration", || {
        fake.lock().unwrap().registrations.len() >= before + 2
    })
    .await;

    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_waits_for_a_late_namenode() {
    // Pick the fake's port first, start the datanode, then the namenode.
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nn = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let a = start(dir.path(), &nn).await;
    // Reads and health work meanwhile.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let h = client
        .get(format!("{}/health", a.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);

    let state = web::Data::new(Mutex::new(Fake::default()));
    let shared = state.clone().into_inner();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/internal/v1/register", web::post().to(register))
            .route("/internal/v1/heartbeat", web::post().to(heartbeat))
    })
    .workers(1)
    .disable_signals()
    .bind(nn.trim_start_matches("http://"))
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    wait_for("late registration", || {
        shared.lock().unwrap().registrations.len() == 1
    })
    .await;
    wait_for("heartbeats", || shared.lock().unwrap().heartbeats >= 2).await;
    assert!(a
        .node()
        .metrics
        .registered
        .load(std::sync::atomic::Ordering::Relaxed));
    a.stop().await.unwrap();
    handle.stop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_source_is_reported_and_the_target_keeps_nothing() {
    let (fake, nn, _handle) = start_fake().await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), &nn).await;
    let b = start(db.path(), &nn).await;
    wait_for("registration", || {
        fake.lock().unwrap().registrations.len() == 2
    })
    .await;

    let bytes: Vec<u8> = (0..(3 * CHUNK_SIZE + 5) as u32)
        .map(|i| (i % 241) as u8)
        .collect();
    // (1) a flipped byte: the CRC of its chunk fails mid-stream.
    let (flipped, sha1) = put_block(a.url(), &bytes).await;
    // (2) a flipped byte whose chunk CRC was "fixed" too: every chunk passes,
    // only the whole-block SHA-256 gives it away, before the last piece.
    let (sneaky, sha2) = put_block(a.url(), &bytes).await;
    let mut bad = bytes.clone();
    bad[CHUNK_SIZE + 3] ^= 0x80;
    let mut on_disk = std::fs::read(a.node().store.block_path(flipped)).unwrap();
    on_disk[CHUNK_SIZE + 3] ^= 0x80;
    std::fs::write(a.node().store.block_path(flipped), on_disk).unwrap();
    let mut meta = BlockChecksums::of(&bad);
    meta.sha256 = sha2;
    std::fs::write(
        a.node().store.block_path(sneaky),
        datanode::store::replica_file_bytes(&bad, &meta).unwrap(),
    )
    .unwrap();

    fake.lock().unwrap().commands.insert(
        a.node_id(),
        vec![
            replicate(flipped, bytes.len(), sha1, &b),
            replicate(sneaky, bytes.len(), sha2, &b),
        ],
    );
    for id in [flipped, sneaky] {
        wait_for("bad_block from the source", || {
            fake.lock()
                .unwrap()
                .bad
                .iter()
                .any(|r| r.block_id == id && r.node_id == a.node_id())
        })
        .await;
        assert!(a.node().store.get(id).is_none(), "source quarantined it");
    }
    // Give the target time to finish whatever it received, then check it kept nothing.
    wait_for("no transfers in flight", || {
        a.node().metrics.active_transfers() == 0 && b.node().metrics.active_transfers() == 0
    })
    .await;
    for id in [flipped, sneaky] {
        assert!(b.node().store.get(id).is_none(), "target refused {id}");
        assert!(!fake.lock().unwrap().received.contains(&(b.node_id(), id)));
    }
    assert_eq!(std::fs::read_dir(db.path().join("tmp")).unwrap().count(), 0);
    assert_eq!(
        a.node().metrics.replications_failed.load(Ordering::Relaxed),
        2
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_commands_at_once_are_queued_and_unknown_deletes_are_harmless() {
    let (fake, nn, _handle) = start_fake().await;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(da.path(), &nn).await;
    let b = start(db.path(), &nn).await;
    wait_for("registration", || {
        fake.lock().unwrap().registrations.len() == 2
    })
    .await;

    let mut commands = Vec::new();
    let mut ids = Vec::new();
    for i in 0..12u8 {
        let bytes = vec![i; 100_000 + usize::from(i)];
        let (id, sha) = put_block(a.url(), &bytes).await;
        commands.push(replicate(id, bytes.len(), sha, &b));
        // The same command twice in a row is queued once.
        commands.push(replicate(id, bytes.len(), sha, &b));
        ids.push(id);
    }
    let strangers = vec![BlockId::new(), BlockId::new()];
    commands.push(Command::Delete {
        blocks: strangers.clone(),
    });
    fake.lock().unwrap().commands.insert(a.node_id(), commands);
    wait_for("all replicas on b", || {
        ids.iter().all(|id| b.node().store.get(*id).is_some())
    })
    .await;
    wait_for("unknown deletes reported", || {
        let f = fake.lock().unwrap();
        strangers
            .iter()
            .all(|id| f.deleted.contains(&(a.node_id(), *id)))
    })
    .await;
    wait_for("replications counted", || {
        a.node().metrics.replications_ok.load(Ordering::Relaxed) >= 12
    })
    .await;
    assert!(
        a.node().metrics.replications_ok.load(Ordering::Relaxed) <= 24,
        "duplicates may run after the first finished, never more"
    );
    assert_eq!(
        a.node().metrics.replications_queued.load(Ordering::Relaxed),
        0
    );
    // Still heartbeating and serving.
    let hb = fake.lock().unwrap().heartbeats;
    wait_for("heartbeats go on", || {
        fake.lock().unwrap().heartbeats > hb + 2
    })
    .await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namenode_and_datanode_restarts_bring_full_reports() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (fake, nn, handle) = start_fake_on(listener);
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), &nn).await;
    wait_for("registration", || {
        fake.lock().unwrap().registrations.len() == 1
    })
    .await;
    let (id, _) = put_block(a.url(), b"kept across restarts").await;

    // The namenode dies (all state lost) and comes back on the same port.
    handle.stop(false).await;
    let failures = a.node().metrics.heartbeat_failures.load(Ordering::Relaxed);
    wait_for("heartbeats failing", || {
        a.node().metrics.heartbeat_failures.load(Ordering::Relaxed) > failures
    })
    .await;
    let (fake, _, handle) = start_fake_on(std::net::TcpListener::bind(addr).unwrap());
    let back = std::time::Instant::now();
    wait_for("re-registration", || {
        fake.lock().unwrap().registrations.len() == 1
    })
    .await;
    assert!(
        back.elapsed() < Duration::from_secs(3),
        "re-registered after {:?} (heartbeat every 50 ms)",
        back.elapsed()
    );
    {
        let f = fake.lock().unwrap();
        let blocks: Vec<BlockId> = f.registrations[0].blocks.iter().map(|b| b.id).collect();
        assert_eq!(blocks, vec![id], "full report on re-registration");
    }
    wait_for("registrations counted", || {
        a.node().metrics.registrations.load(Ordering::Relaxed) >= 2
    })
    .await;

    // The datanode restarts with its old blocks: they are in its registration.
    a.stop().await.unwrap();
    let a = start(dir.path(), &nn).await;
    wait_for("registration after restart", || {
        fake.lock().unwrap().registrations.len() == 2
    })
    .await;
    {
        let f = fake.lock().unwrap();
        let r = &f.registrations[1];
        assert_eq!(r.node.id, a.node_id(), "same identity");
        assert_eq!(r.blocks.iter().map(|b| b.id).collect::<Vec<_>>(), vec![id]);
    }
    a.stop().await.unwrap();
    handle.stop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanner_finds_a_flipped_byte_and_reports_it() {
    let (fake, nn, _handle) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let a = start_with(dir.path(), &nn, |c| {
        c.scan_period = Duration::from_secs(1);
        c.scan_rate = 1 << 30;
    })
    .await;
    wait_for("registration", || {
        fake.lock().unwrap().registrations.len() == 1
    })
    .await;
    let bytes = vec![7u8; 2 * CHUNK_SIZE + 1];
    let (good, _) = put_block(a.url(), &bytes).await;
    let (bad, _) = put_block(a.url(), &bytes).await;
    let path = a.node().store.block_path(bad);
    let mut on_disk = std::fs::read(&path).unwrap();
    on_disk[CHUNK_SIZE] ^= 1;
    std::fs::write(&path, on_disk).unwrap();
    let flipped_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;

    // Wait, as an end-to-end test would, for a pass that started after the flip.
    let health = || async {
        client()
            .get(format!("{}/health", a.url()))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let mut h = health().await;
    for _ in 0..200 {
        if h["scanner"]["last_pass_started_unix_ms"].as_u64().unwrap() >= flipped_at {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        h = health().await;
    }
    let s = &h["scanner"];
    assert!(
        s["last_pass_started_unix_ms"].as_u64().unwrap() >= flipped_at,
        "{h}"
    );
    assert!(s["passes_completed"].as_u64().unwrap() >= 1);
    assert_eq!(s["corrupt_found"].as_u64(), Some(1), "{h}");
    assert!(s["blocks_scanned"].as_u64().unwrap() >= 1);
    assert!(s["bytes_scanned"].as_u64().unwrap() >= bytes.len() as u64);
    assert!(s["last_pass_finished_unix_ms"].as_u64().unwrap() >= flipped_at);
    assert_eq!(s["scan_period_ms"].as_u64(), Some(1000));
    wait_for("bad_block report from the scanner", || {
        fake.lock().unwrap().bad.iter().any(|r| r.block_id == bad)
    })
    .await;
    assert!(a.node().store.get(bad).is_none());
    assert!(a.node().store.get(good).is_some());
    let metrics = client()
        .get(format!("{}/metrics", a.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("dfs_datanode_scanner_corrupt_total 1"),
        "{metrics}"
    );
    a.stop().await.unwrap();
}

// Heartbeats that name the file system, and a namenode too old to read them
// (the link's fallback to the first heartbeat shape, heartbeat.rs).

/// [`Heartbeat`] as a namenode of the first shape (before file system
/// identities) reads it.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct FirstHeartbeat {
    node_id: NodeId,
    storage: StorageReport,
    active_transfers: u32,
}

#[derive(Default)]
struct Seen {
    /// Heartbeats read, with the file system each named.
    heartbeats: Vec<Option<FilesystemReport>>,
    refused: u64,
}

/// A namenode that reads heartbeats of the first shape only (`old`),
/// or of both.
fn fake_namenode(old: bool) -> (Arc<Mutex<Seen>>, String, actix_web::dev::ServerHandle) {
    let seen = web::Data::new(Mutex::new(Seen::default()));
    let shared = seen.clone().into_inner();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
                .app_data(seen.clone())
                .app_data(web::Data::new(old))
                .route(
                    "/internal/v1/register",
                    web::post().to(|| async {
                        let reply = RegisterResponse {
                            heartbeat_interval_ms: 50,
                            block_report_interval_ms: 60_000,
                            cluster_id: ClusterId::from_bytes([9; 16]),
                        };
                        HttpResponse::Ok().body(codec::encode(&reply).unwrap())
                    }),
                )
                .route(
                    "/internal/v1/heartbeat",
                    web::post().to(
                        |seen: web::Data<Mutex<Seen>>,
                         old: web::Data<bool>,
                         body: web::Bytes| async move {
                            let mut seen = seen.lock().unwrap();
                            let read = if **old {
                                codec::decode::<FirstHeartbeat>(&body).map(|_| None)
                            } else {
                                codec::decode::<Heartbeat>(&body).map(|hb| hb.filesystem)
                            };
                            match read {
                                Ok(fs) => {
                                    seen.heartbeats.push(fs);
                                    HttpResponse::Ok().body(
                                        codec::encode(&HeartbeatReply::default()).unwrap(),
                                    )
                                }
                                Err(e) => {
                                    seen.refused += 1;
                                    HttpResponse::BadRequest()
                                        .body(format!("malformed Heartbeat: {e}"))
                                }
                            }
                        },
                    ),
                )
                .default_service(web::to(|| async { HttpResponse::Ok().finish() }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (shared, url, handle)
}

async fn heartbeats_seen(seen: &Mutex<Seen>, n: usize) -> Vec<Option<FilesystemReport>> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = seen.lock().unwrap().heartbeats.clone();
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "only {} heartbeats", got.len());
        sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_name_the_file_system_unless_the_namenode_is_older() {
    for old in [false, true] {
        let (seen, url, server) = fake_namenode(old);
        let dir = tempfile::tempdir().unwrap();
        let dn = Datanode::start(Config {
            namenode: url,
            listen: "127.0.0.1:0".into(),
            data_dirs: vec![dir.path().to_path_buf()],
            ..Config::default()
        })
        .await
        .unwrap();
        let got = heartbeats_seen(&seen, 3).await;
        let refused = seen.lock().unwrap().refused;
        dn.stop().await.unwrap();
        server.stop(true).await;
        if old {
            // One refusal, then the first shape that it reads.
            assert!(got.iter().all(Option::is_none));
            if !host_id().is_empty() {
                assert_eq!(refused, 1);
            }
            continue;
        }
        assert_eq!(refused, 0);
        if host_id().is_empty() {
            assert!(got.iter().all(Option::is_none), "no host, no file system");
            continue;
        }
        let fs = got.last().unwrap().clone().expect("the file system");
        let here = filesystem_of(dir.path(), host_id()).unwrap();
        assert_eq!(fs.id, here.id, "the data dir's file system");
        assert_eq!(fs.total, here.total);
        assert!(fs.available <= fs.free && fs.free <= fs.total, "{fs:?}");
    }
}
