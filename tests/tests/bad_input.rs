//! The bad-input corpus (issue 8): hostile or broken requests against every
//! kind of endpoint of a real namenode and real datanodes, over plain HTTP
//! (reqwest) and, where HTTP itself must be malformed, a raw `TcpStream`.
//!
//! Each case must get a 4xx with the API's error shape (`{"error":{"code",
//! "message"}}`, or Hadoop's `RemoteException` under `/webhdfs/v1`). After
//! the corpus every server still answers `/health`, an upload and a
//! download still work, and no file named by the corpus appears anywhere on
//! disk outside the data dirs (the names carry a marker that is searched
//! for in the cluster's temp dir and its parent).
//!
//! A second test covers slow and greedy clients: a request head sent byte
//! by byte, bodies that stall (cut off, nothing kept), and the per-client
//! bound on concurrent streams (429).
use dfs_tests::{http_no_redirect, sha256_hex, test_data, wait_until, ClusterOptions, TestCluster};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every name the corpus tries to create contains this, so an escape onto
/// the local disk is found by name.
const MARK: &str = "zzescape";

/// Which error body shape an answer must have.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Dfs,
    WebHdfs,
}

/// Asserts a 4xx answer with a JSON error body of `shape`; returns
/// "status message".
fn check_4xx(label: &str, status: u16, body: &[u8], shape: Shape) -> String {
    let text = String::from_utf8_lossy(body);
    assert!(
        (400..500).contains(&status),
        "{label}: expected a 4xx, got {status}: {text}"
    );
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{label}: error body is not JSON ({e}): {text}"));
    let msg = match shape {
        Shape::Dfs => {
            let code = v["error"]["code"].as_str();
            assert!(code.is_some(), "{label}: no error.code in {text}");
            v["error"]["message"].as_str()
        }
        Shape::WebHdfs => {
            let e = &v["RemoteException"];
            assert!(
                e["exception"].is_string(),
                "{label}: not a RemoteException: {text}"
            );
            assert!(e["javaClassName"].is_string(), "{label}: {text}");
            e["message"].as_str()
        }
    };
    let msg = msg.unwrap_or_else(|| panic!("{label}: no message in {text}"));
    assert!(!msg.trim().is_empty(), "{label}: empty message");
    format!("{status} {msg}")
}

async fn expect_4xx(label: &str, resp: reqwest::Response, shape: Shape) -> String {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    check_4xx(label, status, &body, shape)
}

/// One HTTP/1.1 exchange over a raw socket: sends `request` as is, reads
/// the answer until the server closes (requests carry `Connection: close`).
/// Returns (status, body).
async fn raw(addr: &str, request: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut chunk = [0u8; 8192];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some((status, body)) = parse_answer(&buf) {
                return Some((status, body));
            }
        }
        parse_answer(&buf)
    })
    .await;
    match read {
        Ok(Some(answer)) => answer,
        _ => panic!(
            "no complete HTTP answer to {:?}: got {:?}",
            String::from_utf8_lossy(&request[..request.len().min(200)]),
            String::from_utf8_lossy(&buf)
        ),
    }
}

/// A complete answer in `buf` (status line, headers, `Content-Length` body).
fn parse_answer(buf: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    })?;
    let body = &buf[end + 4..];
    (body.len() >= len).then(|| (status, body[..len].to_vec()))
}

fn host(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// Every file and directory under `dir`, relative, up to `depth` levels.
fn tree(dir: &Path, depth: usize) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    fn walk(base: &Path, dir: &Path, depth: usize, out: &mut BTreeSet<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if let Ok(rel) = p.strip_prefix(base) {
                out.insert(rel.to_path_buf());
            }
            if depth > 1 && p.is_dir() && !p.is_symlink() {
                walk(base, &p, depth - 1, out);
            }
        }
    }
    walk(dir, dir, depth, &mut out);
    out
}

/// Paths (under `dir`, to `depth`) whose name carries the corpus marker.
fn marked(dir: &Path, depth: usize) -> Vec<PathBuf> {
    tree(dir, depth)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(MARK))
        .collect()
}

/// The cluster's temp dir outside its data dirs and logs: must not change.
fn outside_data_dirs(root: &Path) -> BTreeSet<PathBuf> {
    tree(root, 1)
}

/// After the corpus: every process answers, a round trip works.
async fn still_alive(cluster: &TestCluster, label: &str) {
    let c = http_no_redirect();
    let nn = cluster.namenode_url();
    let r = c.get(format!("{nn}/health")).send().await.unwrap();
    assert!(r.status().is_success(), "{label}: namenode /health");
    for i in 0..cluster.opts.datanodes {
        cluster
            .datanode_health(i)
            .await
            .unwrap_or_else(|e| panic!("{label}: datanode {i} /health: {e:#}"));
    }
    let data = test_data(150_000, 7);
    let name = format!("alive-{}.bin", label.replace(' ', "-"));
    let form = Form::new()
        .text("directory", "/alive")
        .text("overwrite", "true")
        .part("file", Part::bytes(data.clone()).file_name(name.clone()));
    let r = c
        .post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{label}: upload after the corpus: {}",
        r.text().await.unwrap()
    );
    let r = c
        .post(format!("{nn}/download_file"))
        .form(&[("file_name", format!("/alive/{name}"))])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{label}: download after the corpus"
    );
    let got = r.bytes().await.unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&data), "{label}: round trip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_corpus() {
    let cluster = TestCluster::start(ClusterOptions {
        block_size: 64 * 1024,
        replication: 2,
        ..Default::default()
    })
    .await;
    let root = cluster.root().to_path_buf();
    let parent = root.parent().unwrap().to_path_buf();
    let before_root = outside_data_dirs(&root);
    let before_parent_marked = marked(&parent, 2);
    let nn = cluster.namenode_url();
    let dn = cluster.datanode_url(0);
    let c = http_no_redirect();

    // Something to rename, delete and read in the corpus.
    let r = c
        .post(format!("{nn}/create_directory"))
        .form(&[("directory_name", "/keep/sub")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let data = test_data(100_000, 3);
    let form = Form::new()
        .text("directory", "/keep")
        .part("file", Part::bytes(data.clone()).file_name("f.bin"));
    let r = c
        .post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    // --- paths, through every door that takes one ---------------------------
    let long_name = format!("/{MARK}{}", "n".repeat(300));
    let long_path = format!("/{MARK}").repeat(5000 / (MARK.len() + 1) + 1);
    let deep_path = format!("/{MARK}").repeat(600);
    let bad_paths: Vec<(&str, String)> = vec![
        ("dot-dot", format!("/keep/../{MARK}")),
        ("dot-dot only", "..".into()),
        ("leading dot-dot", format!("/../../{MARK}")),
        ("dot", format!("/keep/./{MARK}")),
        ("percent-encoded dot-dot", format!("/keep/%2e%2e/{MARK}")),
        ("NUL", format!("/keep/{MARK}\0x")),
        ("300-byte name", long_name.clone()),
        ("5000-byte path", long_path.clone()),
        ("600 levels", deep_path.clone()),
        ("double slash", format!("/keep//{MARK}")),
        ("only slashes", "//".into()),
        ("relative", format!("{MARK}/x")),
        ("empty", String::new()),
        ("backslash dot-dot", format!("..\\..\\{MARK}")),
    ];
    for (label, path) in &bad_paths {
        // "%2e%2e" is a literal name when sent in a form; it is a valid
        // (if odd) name, so only the decoded doors must refuse it.
        let literal_ok = label.starts_with("percent");
        for (endpoint, field) in [
            ("create_directory", "directory_name"),
            ("delete_directory", "directory_name"),
            ("delete_file", "file_name"),
            ("download_file", "file_name"),
            ("file_info", "file_name"),
            ("list_directory", "directory_name"),
        ] {
            let r = c
                .post(format!("{nn}/{endpoint}"))
                .form(&[(field, path.as_str())])
                .send()
                .await
                .unwrap();
            if literal_ok {
                let s = r.status().as_u16();
                assert!(s < 500, "{endpoint} {label}: {s}");
                continue;
            }
            if endpoint == "list_directory" && path.is_empty() {
                // An empty directory_name lists the root, as documented.
                assert!(r.status().is_success());
                continue;
            }
            expect_4xx(&format!("{endpoint} {label}"), r, Shape::Dfs).await;
        }
        // The same path as JSON.
        if !literal_ok {
            let r = c
                .post(format!("{nn}/create_directory"))
                .json(&json!({ "directory_name": path }))
                .send()
                .await
                .unwrap();
            expect_4xx(&format!("create_directory JSON {label}"), r, Shape::Dfs).await;
            // Native RPC.
            let r = c
                .post(format!("{nn}/rpc/v1/mkdirs"))
                .json(&json!({ "path": path, "parents": true }))
                .send()
                .await
                .unwrap();
            expect_4xx(&format!("rpc mkdirs {label}"), r, Shape::Dfs).await;
            // Renames from and to it.
            let r = c
                .post(format!("{nn}/rename"))
                .form(&[("src", "/keep/f.bin"), ("dst", path.as_str())])
                .send()
                .await
                .unwrap();
            expect_4xx(&format!("rename to {label}"), r, Shape::Dfs).await;
            // Upload into it (an empty `directory` means the root, as
            // documented).
            if path.is_empty() {
                continue;
            }
            let form = Form::new().text("directory", path.clone()).part(
                "file",
                Part::bytes(b"x".to_vec()).file_name(format!("{MARK}.bin")),
            );
            let r = c
                .post(format!("{nn}/upload_file"))
                .multipart(form)
                .send()
                .await
                .unwrap();
            expect_4xx(&format!("upload_file directory {label}"), r, Shape::Dfs).await;
            // The cluster API.
            let r = c
                .get(format!("{nn}/api/v1/blocks"))
                .query(&[("path", path.as_str())])
                .send()
                .await
                .unwrap();
            expect_4xx(&format!("api blocks {label}"), r, Shape::Dfs).await;
            let r = c
                .get(format!("{nn}/api/v1/fsck"))
                .query(&[("path", path.as_str())])
                .send()
                .await
                .unwrap();
            if !path.is_empty() {
                expect_4xx(&format!("api fsck {label}"), r, Shape::Dfs).await;
            }
        }
    }
    // Bad file names in the multipart part itself.
    for (label, name) in [
        ("dot-dot file name", ".."),
        ("300-byte file name", long_name.trim_start_matches('/')),
        ("NUL file name", "a\0zzescape"),
    ] {
        let form = Form::new().text("directory", "/keep").part(
            "file",
            Part::bytes(b"x".to_vec()).file_name(name.to_string()),
        );
        let r = c
            .post(format!("{nn}/upload_file"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        expect_4xx(label, r, Shape::Dfs).await;
    }

    // WebHDFS: the path is in the URL, percent-encoded or not. Sent raw:
    // an HTTP client library would resolve `%2e%2e` before sending.
    let w = "/webhdfs/v1".to_string();
    let long_url_path = "/a".repeat(2600);
    let webhdfs_cases: Vec<(&str, String)> = vec![
        ("%2e%2e", format!("{w}/keep/%2e%2e/{MARK}?op=MKDIRS")),
        (
            "%2E%2E upper",
            format!("{w}/%2E%2E/%2E%2E/{MARK}?op=MKDIRS"),
        ),
        (
            "encoded slash dot-dot",
            format!("{w}/keep%2F..%2F{MARK}?op=MKDIRS"),
        ),
        ("NUL", format!("{w}/keep/{MARK}%00x?op=MKDIRS")),
        ("invalid UTF-8", format!("{w}/keep/{MARK}%FF%FE?op=MKDIRS")),
        ("double slash", format!("{w}/keep//{MARK}?op=MKDIRS")),
        ("300-byte name", format!("{w}{long_name}?op=MKDIRS")),
        ("5000-byte path", format!("{w}{long_url_path}?op=MKDIRS")),
        ("600 levels", format!("{w}{deep_path}?op=MKDIRS")),
        ("no op", format!("{w}/keep")),
        ("unknown op", format!("{w}/keep?op=FROBNICATE")),
        (
            "negative offset",
            format!("{w}/keep/f.bin?op=OPEN&offset=-1"),
        ),
        (
            "huge offset",
            format!("{w}/keep/f.bin?op=OPEN&offset=99999999999999999999"),
        ),
        (
            "offset past the end",
            format!("{w}/keep/f.bin?op=OPEN&offset=100001"),
        ),
        (
            "negative length",
            format!("{w}/keep/f.bin?op=OPEN&length=-5"),
        ),
        (
            "bad replication",
            format!("{w}/keep/f.bin?op=SETREPLICATION&replication=-1"),
        ),
        (
            "bad permission",
            format!("{w}/keep?op=SETPERMISSION&permission=999"),
        ),
        ("bad boolean", format!("{w}/keep?op=DELETE&recursive=maybe")),
        (
            "rename to bad destination",
            format!("{w}/keep/f.bin?op=RENAME&destination=/keep/../{MARK}"),
        ),
    ];
    for (label, u) in &webhdfs_cases {
        let method = if u.contains("op=MKDIRS") || u.contains("op=SET") || u.contains("op=RENAME") {
            "PUT"
        } else if u.contains("op=DELETE") {
            "DELETE"
        } else {
            "GET"
        };
        let req = format!(
            "{method} {u} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let (status, body) = raw(&host(&nn), req.as_bytes()).await;
        if *label == "rename to bad destination" && status == 200 {
            // Hadoop's RENAME answers false rather than failing.
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["boolean"], false, "{label}");
            continue;
        }
        check_4xx(&format!("webhdfs {label}"), status, &body, Shape::WebHdfs);
    }
    // The same cases on a datanode's WebHDFS landing.
    for (label, u) in [
        (
            "%2e%2e",
            format!("/webhdfs/v1/keep/%2e%2e/{MARK}?op=CREATE&namenoderpcaddress=x"),
        ),
        (
            "NUL",
            format!("/webhdfs/v1/keep/{MARK}%00?op=CREATE&namenoderpcaddress=x"),
        ),
        (
            "negative offset",
            "/webhdfs/v1/keep/f.bin?op=OPEN&offset=-3&namenoderpcaddress=x".to_string(),
        ),
        ("no op", "/webhdfs/v1/keep/f.bin".to_string()),
    ] {
        let method = if u.contains("CREATE") { "PUT" } else { "GET" };
        let req = format!(
            "{method} {u} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndata"
        );
        let (status, body) = raw(&host(&dn), req.as_bytes()).await;
        check_4xx(
            &format!("datanode webhdfs {label}"),
            status,
            &body,
            Shape::WebHdfs,
        );
    }

    // --- namespace operations that must be refused ---------------------------
    let r = c
        .post(format!("{nn}/rename"))
        .form(&[("src", "/keep"), ("dst", "/keep/sub/inner")])
        .send()
        .await
        .unwrap();
    expect_4xx("rename into its own subtree", r, Shape::Dfs).await;
    let r = c
        .post(format!("{nn}/rename"))
        .form(&[("src", "/keep"), ("dst", "/keep")])
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    assert!(s < 500, "rename onto itself: {s}");
    let r = c
        .post(format!("{nn}/rpc/v1/rename"))
        .json(&json!({"src": "/keep", "dst": "/keep/sub/x"}))
        .send()
        .await
        .unwrap();
    expect_4xx("rpc rename into its own subtree", r, Shape::Dfs).await;
    let w = format!("{nn}/webhdfs/v1");
    let r = c
        .put(format!("{w}/keep?op=RENAME&destination=/keep/sub/x"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["boolean"], false, "webhdfs rename into own subtree");
    let r = c
        .post(format!("{nn}/rename"))
        .form(&[("src", "/"), ("dst", "/keep/root")])
        .send()
        .await
        .unwrap();
    expect_4xx("rename /", r, Shape::Dfs).await;
    for (endpoint, field) in [
        ("delete_directory", "directory_name"),
        ("delete_file", "file_name"),
    ] {
        let r = c
            .post(format!("{nn}/{endpoint}"))
            .form(&[(field, "/"), ("recursive", "true")])
            .send()
            .await
            .unwrap();
        expect_4xx(&format!("{endpoint} /"), r, Shape::Dfs).await;
    }
    let r = c
        .post(format!("{nn}/rpc/v1/delete"))
        .json(&json!({"path": "/", "recursive": true}))
        .send()
        .await
        .unwrap();
    expect_4xx("rpc delete /", r, Shape::Dfs).await;
    let r = c
        .delete(format!("{w}/?op=DELETE&recursive=true"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["boolean"], false, "webhdfs DELETE /");
    // The tree is intact.
    let st = cluster.client().status(&dfs_tests::p("/keep/f.bin")).await;
    assert_eq!(st.expect("/keep/f.bin survives").length, data.len() as u64);
    let r = c
        .post(format!("{nn}/delete_directory"))
        .form(&[("directory_name", "/keep")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409, "non-empty without recursive");
    let r = c
        .post(format!("{nn}/download_file"))
        .form(&[("file_name", "/keep/missing.bin")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    expect_4xx("download missing", r, Shape::Dfs).await;
    let r = c
        .post(format!("{nn}/download_file"))
        .form(&[("file_name", "/keep/sub")])
        .send()
        .await
        .unwrap();
    expect_4xx("download a directory", r, Shape::Dfs).await;
    // Parameters of the wrong kind.
    for (endpoint, form) in [
        (
            "delete_directory",
            vec![("directory_name", "/keep"), ("recursive", "perhaps")],
        ),
        ("upload_file", vec![("directory", "/keep")]),
        ("rename", vec![("src", "/keep")]),
        ("create_directory", vec![]),
    ] {
        let r = c
            .post(format!("{nn}/{endpoint}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        expect_4xx(&format!("{endpoint} {form:?}"), r, Shape::Dfs).await;
    }
    for (label, body) in [
        ("JSON array", "[1,2]"),
        ("JSON nested", r#"{"directory_name":{"x":1}}"#),
        ("broken JSON", r#"{"directory_name": "/a"#),
    ] {
        let r = c
            .post(format!("{nn}/create_directory"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_4xx(label, r, Shape::Dfs).await;
        let r = c
            .post(format!("{nn}/rpc/v1/create"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_4xx(&format!("rpc {label}"), r, Shape::Dfs).await;
    }
    let r = c
        .post(format!("{nn}/rpc/v1/create"))
        .json(&json!({"path": "/keep/neg", "replication": -1, "block_size": -5}))
        .send()
        .await
        .unwrap();
    expect_4xx("rpc negative replication", r, Shape::Dfs).await;
    let r = c
        .post(format!("{nn}/rpc/v1/create"))
        .json(&json!({"path": "/keep/zero", "block_size": 0}))
        .send()
        .await
        .unwrap();
    expect_4xx("rpc zero block size", r, Shape::Dfs).await;
    let r = c
        .post(format!("{nn}/create_directory"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"directory_name=%2Fkeep%2F\xff\xfe".to_vec())
        .send()
        .await
        .unwrap();
    expect_4xx("invalid UTF-8 form body", r, Shape::Dfs).await;
    let r = c
        .post(format!("{nn}/create_directory"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("directory_name=%2Fkeep%2F%FF%FE")
        .send()
        .await
        .unwrap();
    expect_4xx("percent-encoded invalid UTF-8", r, Shape::Dfs).await;
    let r = c
        .post(format!("{nn}/create_directory"))
        .header("content-type", "application/xml")
        .body("<x/>")
        .send()
        .await
        .unwrap();
    expect_4xx("unsupported content type", r, Shape::Dfs).await;
    let r = c
        .get(format!("{nn}/no/such/endpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    expect_4xx("unknown route", r, Shape::Dfs).await;
    let r = c
        .post(format!("{nn}/api/v1/datanodes/{MARK}/decommission"))
        .send()
        .await
        .unwrap();
    expect_4xx("decommission unknown node", r, Shape::Dfs).await;
    let r = c
        .post(format!("{nn}/api/v1/safemode?action=explode"))
        .send()
        .await
        .unwrap();
    expect_4xx("bad safemode action", r, Shape::Dfs).await;
    for ep in [
        "register",
        "heartbeat",
        "block_report",
        "block_received",
        "bad_block",
    ] {
        let r = c
            .post(format!("{nn}/internal/v1/{ep}"))
            .body(vec![0xffu8; 64])
            .send()
            .await
            .unwrap();
        expect_4xx(&format!("internal {ep} garbage"), r, Shape::Dfs).await;
    }

    // --- oversized bodies -----------------------------------------------------
    let big = format!(r#"{{"directory_name":"/keep/{}"}}"#, "x".repeat(400 << 10));
    let r = c
        .post(format!("{nn}/create_directory"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await;
    match r {
        Ok(r) => {
            assert_eq!(r.status().as_u16(), 413, "oversized seed body");
            expect_4xx("oversized seed body", r, Shape::Dfs).await;
        }
        // The server may answer and close before the body is all sent.
        Err(e) => panic!("oversized seed body: no answer: {e}"),
    }
    // A declared Content-Length far over the limit is refused at once,
    // without the body being sent.
    for path in [
        "/rpc/v1/create",
        "/create_directory",
        "/internal/v1/heartbeat",
    ] {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000000\r\nConnection: close\r\n\r\n{{"
        );
        let (status, body) = raw(&host(&nn), req.as_bytes()).await;
        assert_eq!(
            status,
            413,
            "declared huge body on {path}: {}",
            String::from_utf8_lossy(&body)
        );
        check_4xx(
            &format!("huge Content-Length {path}"),
            status,
            &body,
            Shape::Dfs,
        );
    }
    let r = c
        .post(format!("{nn}/rpc/v1/mkdirs"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"path":"/x","pad":"{}"}}"#,
            "p".repeat(70 << 20)
        ))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413, "oversized JSON body");
        expect_4xx("oversized JSON body", r, Shape::Dfs).await;
    }

    // --- malformed and truncated multipart (raw HTTP) --------------------------
    let part = |boundary: &str, body: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"directory\"\r\n\r\n/keep\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{MARK}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n{body}"
        )
    };
    let multipart_cases: Vec<(&str, String, String)> = vec![
        (
            "truncated multipart",
            "multipart/form-data; boundary=BOUND".into(),
            part("BOUND", "some bytes but no closing boundary"),
        ),
        (
            "wrong boundary",
            "multipart/form-data; boundary=OTHER".into(),
            format!("{}\r\n--BOUND--\r\n", part("BOUND", "data")),
        ),
        (
            "no boundary",
            "multipart/form-data".into(),
            format!("{}\r\n--BOUND--\r\n", part("BOUND", "data")),
        ),
        ("not multipart", "text/plain".into(), "hello".into()),
        (
            "garbage",
            "multipart/form-data; boundary=BOUND".into(),
            "\u{1}\u{2}garbage\r\n\r\n--".into(),
        ),
        (
            "headers never end",
            "multipart/form-data; boundary=BOUND".into(),
            format!(
                "--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{MARK}\"\r\n"
            ),
        ),
        (
            "empty form",
            "multipart/form-data; boundary=BOUND".into(),
            "--BOUND--\r\n".into(),
        ),
    ];
    for (label, ct, body) in &multipart_cases {
        let req = format!(
            "POST /upload_file HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (status, resp) = raw(&host(&nn), req.as_bytes()).await;
        check_4xx(&format!("upload_file {label}"), status, &resp, Shape::Dfs);
    }
    // Malformed HTTP itself: the server answers 400 (or closes), and lives.
    for (label, req) in [
        ("bad request line", "GARBAGE\r\n\r\n".to_string()),
        ("bad header", "GET /health HTTP/1.1\r\nHost x\r\n\r\n".to_string()),
        ("NUL in the target", "GET /webhdfs/v1/a\0b?op=LISTSTATUS HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_string()),
        ("bad Content-Length", "POST /create_directory HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n".to_string()),
    ] {
        let mut s = TcpStream::connect(host(&nn)).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        let text = String::from_utf8_lossy(&buf);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 4"),
            "{label}: {text}"
        );
    }

    // --- the datanode's block endpoints ----------------------------------------
    let block_ids = [
        "not-a-block",
        "..",
        "..%2F..%2F..%2Fzzescape",
        "%2e%2e%2f%2e%2e%2fzzescape",
        "00000000-0000-0000-0000-000000000000%00",
        "zzescape.blk",
    ];
    for id in block_ids {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let r = c
                .request(method.clone(), format!("{dn}/blocks/{id}"))
                .body("block bytes")
                .send()
                .await
                .unwrap();
            expect_4xx(&format!("{method} /blocks/{id}"), r, Shape::Dfs).await;
        }
        let r = c
            .get(format!("{dn}/blocks/{id}/meta"))
            .send()
            .await
            .unwrap();
        expect_4xx(&format!("meta of {id}"), r, Shape::Dfs).await;
    }
    let unknown = "0190a0b0-0000-7000-8000-000000000001";
    for (label, r) in [
        (
            "GET unknown block",
            c.get(format!("{dn}/blocks/{unknown}"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "meta unknown block",
            c.get(format!("{dn}/blocks/{unknown}/meta"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "DELETE unknown block",
            c.delete(format!("{dn}/blocks/{unknown}"))
                .send()
                .await
                .unwrap(),
        ),
    ] {
        assert_eq!(r.status().as_u16(), 404, "{label}");
        expect_4xx(label, r, Shape::Dfs).await;
    }
    // Wrong and malformed checksums, wrong lengths: refused, nothing kept.
    let payload = test_data(10_000, 5);
    let wrong = sha256_hex(b"something else");
    let fresh = || format!("0190a0b0-0000-7000-8000-{:012x}", rand_u48());
    let put_cases: Vec<PutCase> = vec![
        (
            "wrong sha256",
            vec![("x-dfs-expected-sha256", wrong.clone())],
            412,
        ),
        (
            "malformed sha256",
            vec![("x-dfs-expected-sha256", "xyz".into())],
            400,
        ),
        (
            "short sha256",
            vec![("x-dfs-expected-sha256", "abcd".into())],
            400,
        ),
        (
            "wrong length",
            vec![("x-dfs-expected-len", "9999".into())],
            412,
        ),
        (
            "negative length",
            vec![("x-dfs-expected-len", "-1".into())],
            400,
        ),
        (
            "huge length",
            vec![("x-dfs-expected-len", "18446744073709551615".into())],
            413,
        ),
        (
            "unknown digest trailer",
            vec![("x-dfs-digest-trailer", "md5".into())],
            400,
        ),
        (
            // The payload's last 36 bytes taken as a trailer: its CRCs
            // cannot match the rest.
            "bogus digest trailer",
            vec![("x-dfs-digest-trailer", "sha256+crc32c-v1".into())],
            412,
        ),
        (
            "bad pipeline",
            vec![("x-dfs-pipeline", "file:///etc/passwd".into())],
            400,
        ),
    ];
    for (label, headers, want) in &put_cases {
        let id = fresh();
        let mut req = c.put(format!("{dn}/blocks/{id}")).body(payload.clone());
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), *want, "PUT {label}");
        expect_4xx(&format!("PUT {label}"), r, Shape::Dfs).await;
        assert!(
            cluster.block_file(0, &id).is_none(),
            "{label}: a block was kept"
        );
        let r = c.get(format!("{dn}/blocks/{id}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{label}: readable after refusal");
    }
    let req = format!(
        "PUT /blocks/{} HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\nConnection: close\r\n\r\nabc",
        fresh()
    );
    let (status, body) = raw(&host(&dn), req.as_bytes()).await;
    assert_eq!(
        status,
        413,
        "declared huge block: {}",
        String::from_utf8_lossy(&body)
    );
    check_4xx("declared huge block", status, &body, Shape::Dfs);
    // Ranges on a real block.
    let st = cluster
        .client()
        .locations(&dfs_tests::p("/keep/f.bin"))
        .await
        .unwrap();
    let b = &st.blocks[0];
    let holder = &b.replicas[0].addr;
    for (label, q) in [
        ("negative offset", "offset=-1"),
        ("huge offset", "offset=18446744073709551615"),
        ("offset overflow", "offset=99999999999999999999999"),
        ("offset past the end", "offset=70000"),
        ("negative length", "length=-1"),
        ("huge range", "offset=10&length=18446744073709551615"),
        ("not a number", "offset=abc"),
    ] {
        let r = c
            .get(format!("{holder}/blocks/{}?{q}", b.block_id))
            .send()
            .await
            .unwrap();
        expect_4xx(&format!("block range {label}"), r, Shape::Dfs).await;
    }
    let r = c
        .post(format!("{dn}/blocks/{unknown}"))
        .send()
        .await
        .unwrap();
    expect_4xx("POST /blocks (no such method)", r, Shape::Dfs).await;
    let r = c.get(format!("{dn}/{MARK}")).send().await.unwrap();
    expect_4xx("datanode unknown route", r, Shape::Dfs).await;
    for (label, u) in [(
        "download negative offset",
        format!("{nn}/download_file?file_name=/keep/f.bin&offset=-1"),
    )] {
        // Extra parameters are ignored, never misread.
        let r = c.get(&u).send().await.unwrap();
        assert!(r.status().as_u16() < 500, "{label}");
    }

    // --- afterwards -----------------------------------------------------------
    still_alive(&cluster, "after corpus").await;
    let listed: Value = c
        .get(format!("{nn}/file_list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.to_string();
    assert!(
        !listed.contains(MARK),
        "a corpus name was created: {listed}"
    );
    assert_eq!(
        outside_data_dirs(&root),
        before_root,
        "files appeared in the cluster dir outside the data dirs"
    );
    let escaped = marked(&root, 12);
    assert!(escaped.is_empty(), "corpus names on disk: {escaped:?}");
    let mut now_marked = marked(&parent, 2);
    now_marked.retain(|p| !before_parent_marked.contains(p));
    assert!(
        now_marked.is_empty(),
        "corpus names next to the cluster dir: {now_marked:?}"
    );
}

/// A block write with extra headers, and the status it must get.
type PutCase = (&'static str, Vec<(&'static str, String)>, u16);

/// A fresh 48-bit number for block ids.
fn rand_u48() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (t ^ (N.fetch_add(1, Ordering::Relaxed) << 32)) & 0xffff_ffff_ffff
}

/// Temp files of block writes in progress on datanode `i`.
fn tmp_files(cluster: &TestCluster, i: usize) -> Vec<PathBuf> {
    tree(&cluster.datanode_dir(i).join("tmp"), 3)
        .into_iter()
        .map(|p| cluster.datanode_dir(i).join("tmp").join(p))
        .filter(|p| p.is_file())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_greedy_clients() {
    let limits = |streams: &str| {
        vec![
            "--request-timeout".to_string(),
            "2s".into(),
            "--body-idle-timeout".into(),
            "2s".into(),
            "--max-streams-per-client".into(),
            streams.into(),
        ]
    };
    let cluster = TestCluster::start(ClusterOptions {
        datanodes: 2,
        replication: 2,
        block_size: 64 * 1024,
        namenode_args: limits("3"),
        datanode_args: limits("2"),
        ..Default::default()
    })
    .await;
    let nn = cluster.namenode_url();
    let dn = cluster.datanode_url(0);
    let c = http_no_redirect();

    // Slowloris: a request head sent a byte at a time never completes; the
    // server answers 408 or closes once the request timeout has passed.
    for base in [&nn, &dn] {
        let mut s = TcpStream::connect(host(base)).await.unwrap();
        let head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        let start = Instant::now();
        let mut closed_after = None;
        for byte in head {
            if s.write_all(&[*byte]).await.is_err() {
                closed_after = Some(start.elapsed());
                break;
            }
            // Did the server give up on us?
            let mut buf = [0u8; 512];
            match tokio::time::timeout(Duration::from_millis(150), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed_after = Some(start.elapsed());
                    break;
                }
                Ok(Ok(n)) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    assert!(
                        text.starts_with("HTTP/1.1 408"),
                        "slowloris on {base}: {text}"
                    );
                    closed_after = Some(start.elapsed());
                    break;
                }
                Err(_) => {}
            }
        }
        let after = closed_after.unwrap_or_else(|| {
            panic!(
                "{base} kept a slowloris connection open for {:?}",
                start.elapsed()
            )
        });
        assert!(
            after < Duration::from_secs(8),
            "{base}: cut only after {after:?}"
        );
    }

    // A block write whose body stalls half-way: cut, nothing kept, and the
    // stream's slot is given back. (Past the first MiB, which a datanode
    // holds in memory before it starts a temp file.)
    let id = format!("0190a0b0-0000-7000-8000-{:012x}", rand_u48());
    let mut s = TcpStream::connect(host(&dn)).await.unwrap();
    let head = format!(
        "PUT /blocks/{id} HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&test_data(1_500_000, 9)).await.unwrap();
    wait_until(
        "the stalled write to hold a temp file",
        Duration::from_secs(5),
        || async { Ok((!tmp_files(&cluster, 0).is_empty()).then_some(())) },
    )
    .await
    .unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut buf)).await;
    let waited = start.elapsed();
    let text = String::from_utf8_lossy(&buf);
    assert!(
        waited < Duration::from_secs(10),
        "stalled body held for {waited:?}"
    );
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 4"),
        "stalled PUT: {text}"
    );
    wait_until(
        "the temp file of the stalled write to go",
        Duration::from_secs(5),
        || async { Ok(tmp_files(&cluster, 0).is_empty().then_some(())) },
    )
    .await
    .unwrap();
    assert!(
        cluster.block_file(0, &id).is_none(),
        "a stalled write left a block"
    );

    // A seed upload whose body stalls: cut off, no file appears.
    let mut s = TcpStream::connect(host(&nn)).await.unwrap();
    let prefix = "--B\r\nContent-Disposition: form-data; name=\"directory\"\r\n\r\n/slow\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"stalled.bin\"\r\n\r\n";
    let head = format!(
        "POST /upload_file HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n{prefix}"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&test_data(200_000, 11)).await.unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "stalled upload held for {:?}",
        start.elapsed()
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 4"),
        "stalled upload: {text}"
    );
    let r = c
        .post(format!("{nn}/file_info"))
        .form(&[("file_name", "/slow/stalled.bin")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "a stalled upload left a visible file"
    );
    // Its blocks are deleted too (the abandoned write's blocks go with the
    // next heartbeats).
    wait_until(
        "no block files and temp files left",
        Duration::from_secs(20),
        || async {
            let blocks = cluster.all_block_files().len();
            let tmps = tmp_files(&cluster, 0).len() + tmp_files(&cluster, 1).len();
            Ok((blocks == 0 && tmps == 0).then_some(()))
        },
    )
    .await
    .unwrap();

    // Greedy: with two block writes held open, a third from the same client
    // gets 429 with a clear message; once they finish, writes work again.
    let mut held = Vec::new();
    for _ in 0..2 {
        let id = format!("0190a0b0-0000-7000-8000-{:012x}", rand_u48());
        let mut s = TcpStream::connect(host(&dn)).await.unwrap();
        let head = format!(
            "PUT /blocks/{id} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(b"partial").await.unwrap();
        held.push(s);
    }
    wait_until("two streams open", Duration::from_secs(5), || async {
        let h = cluster.datanode_health(0).await?;
        Ok((h["active_transfers"].as_u64() == Some(2)).then_some(()))
    })
    .await
    .unwrap();
    let id = format!("0190a0b0-0000-7000-8000-{:012x}", rand_u48());
    let r = c
        .put(format!("{dn}/blocks/{id}"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429, "third concurrent stream");
    assert!(r.headers().get("retry-after").is_some());
    let msg = expect_4xx("third concurrent stream", r, Shape::Dfs).await;
    assert!(msg.contains("too many"), "{msg}");
    // Metadata is never limited.
    assert!(cluster.datanode_health(0).await.is_ok());
    drop(held);
    wait_until(
        "a write to be accepted again",
        Duration::from_secs(10),
        || async {
            let id = format!("0190a0b0-0000-7000-8000-{:012x}", rand_u48());
            let r = c.put(format!("{dn}/blocks/{id}")).body("x").send().await?;
            Ok(r.status().is_success().then_some(()))
        },
    )
    .await
    .unwrap();

    still_alive(&cluster, "after slow clients").await;
}
