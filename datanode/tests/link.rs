//! The namenode link against a fake namenode (an actix server speaking the
//! bincode protocol): registration, incremental reports, commands, restart.
use actix_web::{web, App, HttpResponse, HttpServer};
use datanode::config::Config;
use datanode::Datanode;
use dfs_common::checksum::Sha256Digest;
use dfs_common::codec;
use dfs_common::ids::{BlockId, NodeId};
use dfs_common::proto::data::PIPELINE_HEADER;
use dfs_common::proto::datanode::{
    BadBlockReport, Command, Heartbeat, HeartbeatReply, IncrementalBlockReport, RegisterRequest,
    RegisterResponse,
};
use dfs_common::proto::DatanodeInfo;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    })
}

async fn heartbeat(s: Shared, body: web::Bytes) -> HttpResponse {
    let hb: Heartbeat = codec::decode(&body).unwrap();
    let mut f = s.lock().unwrap();
    f.heartbeats += 1;
    if f.forgotten.contains(&hb.node_id) {
        return bincode_ok(&HeartbeatReply {
            commands: vec![Command::Reregister],
        });
    }
    let commands = f.commands.remove(&hb.node_id).unwrap_or_default();
    bincode_ok(&HeartbeatReply { commands })
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
    let state = web::Data::new(Mutex::new(Fake::default()));
    let shared = state.clone().into_inner();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
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
    let config = Config {
        namenode: namenode.to_string(),
        listen: "127.0.0.1:0".into(),
        advertise: None,
        data_dir: dir.to_path_buf(),
        capacity: None,
    };
    Datanode::start(config).await.unwrap()
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
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
