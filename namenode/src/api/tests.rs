//! The route table end to end, in process: status codes, error bodies,
//! extractor errors, the bincode internal API and a whole write.
use crate::namesystem::Namesystem;
use actix_web::http::StatusCode;
use actix_web::{test, web, App};
use dfs_common::checksum::Sha256Digest;
use dfs_common::codec;
use dfs_common::error::{ErrorBody, ErrorCode};
use dfs_common::ids::NodeId;
use dfs_common::proto::client::*;
use dfs_common::proto::datanode::*;
use dfs_common::proto::DatanodeInfo;
use serde_json::json;

/// The whole route table over a fresh namesystem in `dir` (a macro: the
/// service type cannot be named without depending on actix-http).
macro_rules! app {
    ($dir:expr) => {{
        let config = crate::Config {
            data_dir: $dir.to_path_buf(),
            block_size: 4096,
            ..crate::Config::default()
        };
        let ns = web::Data::new(Namesystem::open(config).await.unwrap());
        let client = web::Data::new(dfs_client::DfsClient::new("http://127.0.0.1:1").unwrap());
        test::init_service(
            App::new()
                .app_data(ns)
                .app_data(client)
                .configure(super::configure),
        )
        .await
    }};
}

async fn error_of(resp: actix_web::dev::ServiceResponse) -> (StatusCode, ErrorBody) {
    let status = resp.status();
    let body: ErrorBody = test::read_body_json(resp).await;
    (status, body)
}

#[actix_web::test]
async fn errors_have_the_error_body() {
    let dir = tempfile::tempdir().unwrap();
    let app = app!(dir.path());

    let req = test::TestRequest::get()
        .uri("/rpc/v1/status?path=/a/../b")
        .to_request();
    let (status, body) = error_of(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body.error.code, ErrorCode::BadRequest);
    assert!(
        body.error.message.contains("'.' or '..'"),
        "{}",
        body.error.message
    );

    let req = test::TestRequest::post()
        .uri("/rpc/v1/mkdirs")
        .set_json(json!({"path": "rel/x"}))
        .to_request();
    let (status, body) = error_of(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.error.message.contains("not absolute"),
        "{}",
        body.error.message
    );

    let req = test::TestRequest::post()
        .uri("/rpc/v1/mkdirs")
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json")
        .to_request();
    assert_eq!(
        test::call_service(&app, req).await.status(),
        StatusCode::BAD_REQUEST
    );

    let req = test::TestRequest::get().uri("/no/such/route").to_request();
    let (status, body) = error_of(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body.error.code, ErrorCode::NotFound);

    let req = test::TestRequest::get()
        .uri("/rpc/v1/status?path=/missing")
        .to_request();
    let (status, body) = error_of(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body.error.message, "/missing does not exist");

    let req = test::TestRequest::post()
        .uri("/rpc/v1/mkdirs")
        .set_json(json!({"path": "/x/y", "parents": true}))
        .to_request();
    let st: FileStatus = test::call_and_read_body_json(&app, req).await;
    assert_eq!(st.path.as_str(), "/x/y");
    let req = test::TestRequest::post()
        .uri("/rpc/v1/delete")
        .set_json(json!({"path": "/x"}))
        .to_request();
    let (status, body) = error_of(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body.error.message, "directory /x is not empty");

    // No datanodes: 503.
    let req = test::TestRequest::post()
        .uri("/rpc/v1/create")
        .set_json(json!({"path": "/f"}))
        .to_request();
    let c: CreateResponse = test::call_and_read_body_json(&app, req).await;
    let req = test::TestRequest::post()
        .uri("/rpc/v1/add_block")
        .set_json(json!({"file_id": c.file_id}))
        .to_request();
    let (status, body) = error_of(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body.error.code, ErrorCode::Unavailable);

    // Malformed bincode: 400.
    let req = test::TestRequest::post()
        .uri("/internal/v1/heartbeat")
        .set_payload(vec![1u8, 2])
        .to_request();
    assert_eq!(
        test::call_service(&app, req).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn a_whole_write_through_http() {
    let dir = tempfile::tempdir().unwrap();
    let app = app!(dir.path());
    let node = DatanodeInfo {
        id: NodeId::new(),
        addr: "http://127.0.0.1:9864".into(),
    };
    // A create that asks for its first block when no datanode is up: the
    // file is created, without a block (the writer's add_block says why).
    let req = test::TestRequest::post()
        .uri("/rpc/v1/create")
        .set_json(json!({"path": "/early", "first_block": true}))
        .to_request();
    let early: CreateResponse = test::call_and_read_body_json(&app, req).await;
    assert_eq!(early.block, None);

    let reg = RegisterRequest {
        cluster_id: None,
        node: node.clone(),
        storage: StorageReport {
            capacity: 1 << 30,
            used: 0,
            available: 1 << 30,
        },
        blocks: vec![],
        version: "t".into(),
        rack: None,
        hadoop_port: None,
    };
    let req = test::TestRequest::post()
        .uri("/internal/v1/register")
        .set_payload(codec::encode(&reg).unwrap())
        .to_request();
    let body = test::call_and_read_body(&app, req).await;
    let r: RegisterResponse = codec::decode(&body).unwrap();
    assert_eq!(r.heartbeat_interval_ms, 3000);

    let req = test::TestRequest::post()
        .uri("/rpc/v1/create")
        .set_json(json!({"path": "/d/f"}))
        .to_request();
    let c: CreateResponse = test::call_and_read_body_json(&app, req).await;
    assert_eq!(c.block_size, 4096);
    assert_eq!(c.block, None, "not asked for");
    // Asked for, with a datanode up: placed as add_block would.
    let req = test::TestRequest::post()
        .uri("/rpc/v1/create")
        .set_json(json!({"path": "/d/g", "first_block": true}))
        .to_request();
    let g: CreateResponse = test::call_and_read_body_json(&app, req).await;
    let first = g.block.expect("a first block");
    assert_eq!(
        (first.offset, first.replicas.clone()),
        (0, vec![node.clone()])
    );
    let req = test::TestRequest::post()
        .uri("/rpc/v1/renew_lease")
        .set_json(json!({"file_id": c.file_id}))
        .to_request();
    let empty: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(empty, json!({}));
    let req = test::TestRequest::post()
        .uri("/rpc/v1/add_block")
        .set_json(json!({"file_id": c.file_id}))
        .to_request();
    let b: LocatedBlock = test::call_and_read_body_json(&app, req).await;
    assert_eq!(b.replicas, vec![node.clone()]);

    // The datanode reports the block before complete.
    let data = b"hello world";
    let rb = ReportedBlock {
        id: b.block_id,
        len: data.len() as u64,
        sha256: Sha256Digest::of(data),
    };
    let inc = IncrementalBlockReport {
        node_id: node.id,
        received: vec![rb],
        deleted: vec![],
    };
    let req = test::TestRequest::post()
        .uri("/internal/v1/block_received")
        .set_payload(codec::encode(&inc).unwrap())
        .to_request();
    assert!(test::call_service(&app, req).await.status().is_success());
    // Not visible yet.
    let req = test::TestRequest::get()
        .uri("/rpc/v1/list?path=/")
        .to_request();
    let l: DirectoryListing = test::call_and_read_body_json(&app, req).await;
    assert!(l.entries.is_empty());

    let complete = CompleteRequest {
        file_id: c.file_id,
        blocks: vec![CommittedBlock {
            block_id: b.block_id,
            len: rb.len,
            sha256: rb.sha256,
            replicas: vec![node.id],
        }],
        length: rb.len,
        sha256: Sha256Digest::of(data),
        sha256_state: None,
        xattrs: None,
    };
    let req = test::TestRequest::post()
        .uri("/rpc/v1/complete")
        .set_json(&complete)
        .to_request();
    let st: FileStatus = test::call_and_read_body_json(&app, req).await;
    assert_eq!(st.length, 11);

    let req = test::TestRequest::get()
        .uri("/rpc/v1/locations?path=/d/f")
        .to_request();
    let loc: FileLocations = test::call_and_read_body_json(&app, req).await;
    assert_eq!(loc.blocks[0].replicas, vec![node.clone()]);
    assert_eq!(loc.blocks[0].sha256, Some(rb.sha256));
    let req = test::TestRequest::get()
        .uri("/api/v1/blocks?path=/d/f")
        .to_request();
    let loc2: FileLocations = test::call_and_read_body_json(&app, req).await;
    assert_eq!(loc2, loc);

    let req = test::TestRequest::get()
        .uri("/rpc/v1/content_summary?path=/")
        .to_request();
    let du: ContentSummary = test::call_and_read_body_json(&app, req).await;
    assert_eq!(
        (du.file_count, du.directory_count, du.space_consumed),
        (1, 2, 33)
    );

    let req = test::TestRequest::get().uri("/api/v1/fsck").to_request();
    let fsck: FsckReport = test::call_and_read_body_json(&app, req).await;
    assert!(fsck.healthy);
    assert_eq!(fsck.under_replicated_blocks, 1, "replication 3, one node");

    let req = test::TestRequest::get().uri("/api/v1/summary").to_request();
    let s: ClusterSummary = test::call_and_read_body_json(&app, req).await;
    assert_eq!((s.files, s.blocks, s.live_datanodes), (1, 1, 1));
    let req = test::TestRequest::get()
        .uri("/api/v1/datanodes")
        .to_request();
    let dns: Vec<DatanodeReport> = test::call_and_read_body_json(&app, req).await;
    assert_eq!(dns[0].blocks, 1);
    assert_eq!(dns[0].state, DatanodeState::Live);

    let req = test::TestRequest::get().uri("/health").to_request();
    let h: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["live_datanodes"], 1);
    let req = test::TestRequest::get().uri("/metrics").to_request();
    let m = test::call_and_read_body(&app, req).await;
    assert!(std::str::from_utf8(&m)
        .unwrap()
        .contains("dfs_namenode_files 1\n"));

    let req = test::TestRequest::post()
        .uri("/rpc/v1/rename")
        .set_json(json!({"src": "/d/f", "dst": "/g"}))
        .to_request();
    let st: FileStatus = test::call_and_read_body_json(&app, req).await;
    assert_eq!(st.path.as_str(), "/g");
    let req = test::TestRequest::post()
        .uri("/rpc/v1/setrep")
        .set_json(json!({"path": "/g", "replication": 1}))
        .to_request();
    let st: FileStatus = test::call_and_read_body_json(&app, req).await;
    assert_eq!(st.replication, 1);
    let req = test::TestRequest::post()
        .uri("/rpc/v1/delete")
        .set_json(json!({"path": "/g"}))
        .to_request();
    let d: DeleteResponse = test::call_and_read_body_json(&app, req).await;
    assert_eq!(d.bytes_deleted, 11);

    // The deletion rides on the next heartbeat.
    let hb = Heartbeat {
        node_id: node.id,
        storage: reg.storage,
        active_transfers: 0,
        filesystem: None,
        disks: None,
    };
    let req = test::TestRequest::post()
        .uri("/internal/v1/heartbeat")
        .set_payload(codec::encode(&hb).unwrap())
        .to_request();
    let reply: HeartbeatReply = codec::decode(&test::call_and_read_body(&app, req).await).unwrap();
    assert_eq!(
        reply.commands,
        vec![Command::Delete {
            blocks: vec![b.block_id]
        }]
    );
}

#[actix_web::test]
async fn operator_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let app = app!(dir.path());
    let node = DatanodeInfo {
        id: NodeId::new(),
        addr: "http://127.0.0.1:9864".into(),
    };
    let reg = RegisterRequest {
        cluster_id: None,
        node: node.clone(),
        storage: StorageReport {
            capacity: 1 << 30,
            used: 0,
            available: 1 << 30,
        },
        blocks: vec![],
        version: "t".into(),
        rack: None,
        hadoop_port: None,
    };
    let req = test::TestRequest::post()
        .uri("/internal/v1/register")
        .set_payload(codec::encode(&reg).unwrap())
        .to_request();
    assert!(test::call_service(&app, req).await.status().is_success());

    // Safe mode: get, enter (changes refused with 503), leave.
    let req = test::TestRequest::get()
        .uri("/api/v1/safemode")
        .to_request();
    let st: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(st, json!({"safe_mode": false, "reason": null}));
    let req = test::TestRequest::post()
        .uri("/api/v1/safemode?action=enter")
        .to_request();
    let st: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(st["safe_mode"], true);
    let req = test::TestRequest::post()
        .uri("/rpc/v1/mkdirs")
        .set_json(json!({"path": "/x"}))
        .to_request();
    let (status, body) = error_of(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body.error.code, ErrorCode::Unavailable);
    assert!(
        body.error.message.contains("safe mode"),
        "{}",
        body.error.message
    );
    let req = test::TestRequest::get().uri("/health").to_request();
    let h: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["safe_mode"], true);
    let req = test::TestRequest::post()
        .uri("/api/v1/safemode?action=bogus")
        .to_request();
    assert_eq!(
        test::call_service(&app, req).await.status(),
        StatusCode::BAD_REQUEST
    );
    let req = test::TestRequest::post()
        .uri("/api/v1/safemode?action=leave")
        .to_request();
    let st: serde_json::Value = test::call_and_read_body_json(&app, req).await;
    assert_eq!(st["safe_mode"], false);

    // Decommission by address (URL-encoded), recommission by id prefix.
    let req = test::TestRequest::post()
        .uri("/api/v1/datanodes/http%3A%2F%2F127.0.0.1%3A9864/decommission")
        .to_request();
    let ch: AdminStateChange = test::call_and_read_body_json(&app, req).await;
    assert_eq!(ch.node.id, node.id);
    // No blocks: drained at once.
    assert_eq!(ch.node.admin_state, AdminState::Decommissioned);
    let req = test::TestRequest::post()
        .uri("/api/v1/datanodes/127.0.0.1:9864/decommission")
        .to_request();
    let ch: AdminStateChange = test::call_and_read_body_json(&app, req).await;
    assert_eq!(
        ch.node.admin_state,
        AdminState::Decommissioned,
        "idempotent"
    );
    let req = test::TestRequest::get().uri("/api/v1/summary").to_request();
    let s: ClusterSummary = test::call_and_read_body_json(&app, req).await;
    assert_eq!(s.decommissioned_datanodes, 1);
    let prefix = &node.id.to_string()[..6];
    let req = test::TestRequest::post()
        .uri(&format!("/api/v1/datanodes/{prefix}/recommission"))
        .to_request();
    let ch: AdminStateChange = test::call_and_read_body_json(&app, req).await;
    assert_eq!(ch.node.admin_state, AdminState::Normal);
    let req = test::TestRequest::post()
        .uri("/api/v1/datanodes/0000ffff/decommission")
        .to_request();
    let (status, body) = error_of(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body.error.code, ErrorCode::NotFound);

    let req = test::TestRequest::get().uri("/metrics").to_request();
    let m = test::call_and_read_body(&app, req).await;
    let m = std::str::from_utf8(&m).unwrap();
    assert!(m.contains("dfs_namenode_safe_mode 0\n"), "{m}");
    assert!(m.contains("dfs_namenode_replication_pending_copies 0\n"));
}

/// A changing call names itself with `x-dfs-request-id`; sent again with
/// the same id, it is answered from the retry cache (the same answer, not
/// a 404); a malformed id is a 400 and changes nothing.
#[actix_web::test]
async fn retried_calls_carry_their_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let app = app!(dir.path());
    let post = |uri: &str, body: serde_json::Value, id: &str| {
        test::TestRequest::post()
            .uri(uri)
            .insert_header((REQUEST_ID_HEADER, id.to_string()))
            .set_json(body)
            .to_request()
    };
    let id = dfs_common::ids::RequestId::new().to_string();
    let resp = test::call_service(
        &app,
        post(
            "/rpc/v1/mkdirs",
            json!({"path": "/a", "parents": true}),
            &id,
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let rename = json!({"src": "/a", "dst": "/b"});
    let id = dfs_common::ids::RequestId::new().to_string();
    let first = test::call_service(&app, post("/rpc/v1/rename", rename.clone(), &id)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: serde_json::Value = test::read_body_json(first).await;
    let again = test::call_service(&app, post("/rpc/v1/rename", rename.clone(), &id)).await;
    assert_eq!(again.status(), StatusCode::OK, "answered from the cache");
    let again: serde_json::Value = test::read_body_json(again).await;
    assert_eq!(again, first);
    let other = dfs_common::ids::RequestId::new().to_string();
    let fresh = test::call_service(&app, post("/rpc/v1/rename", rename.clone(), &other)).await;
    assert_eq!(
        fresh.status(),
        StatusCode::NOT_FOUND,
        "a new call is applied"
    );
    let bad = test::call_service(
        &app,
        post("/rpc/v1/mkdirs", json!({"path": "/c"}), "not-a-uuid"),
    )
    .await;
    let (status, body) = error_of(bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.error.message.contains(REQUEST_ID_HEADER),
        "{}",
        body.error.message
    );
    let req = test::TestRequest::get()
        .uri("/rpc/v1/status?path=/c")
        .to_request();
    assert_eq!(
        test::call_service(&app, req).await.status(),
        StatusCode::NOT_FOUND
    );
}
