//! The bad-input corpus (issue 8): hostile or broken requests against every
//! kind of endpoint of a real namenode and real datanodes, over plain HTTP
//! (reqwest) and, where HTTP itself must be malformed, a raw `TcpStream`.
//!
//! The corpus is a table: each [`Case`] is a request (as data), the answer
//! it must get ([`Expect`]: most often a 4xx with the API's error shape,
//! `{"error":{"code","message"}}`, or Hadoop's `RemoteException` under
//! `/webhdfs/v1`) and anything to check after it ([`After`]); one loop runs
//! them in order. After the corpus every server still answers `/health`,
//! an upload and a download still work, the tree the corpus aimed at is
//! intact, and no file named by the corpus appears anywhere on disk outside
//! the data dirs (the names carry a marker that is searched for in the
//! cluster's temp dir and its parent).
//!
//! A second test covers slow and greedy clients: a request head sent byte
//! by byte, bodies that stall (cut off, nothing kept), and the per-client
//! bound on concurrent streams (429).
use dfs_tests::{http_no_redirect, sha256_hex, test_data, wait_until, ClusterOptions, TestCluster};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
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
async fn exchange(addr: &str, request: &[u8]) -> (u16, Vec<u8>) {
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

/// One request of the corpus, what it must get, and what to check after.
struct Case {
    label: String,
    request: Request,
    expect: Expect,
    after: After,
}

enum Request {
    /// Through reqwest: a well-formed HTTP request.
    Http {
        method: Method,
        url: String,
        headers: Vec<(&'static str, String)>,
        body: Body,
    },
    /// These bytes as they are over a new connection to `addr` (host:port):
    /// what a client library would refuse to send or would normalise.
    Raw { addr: String, bytes: Vec<u8> },
}

enum Body {
    Empty,
    Form(Vec<(String, String)>),
    Json(Value),
    Bytes(Vec<u8>),
    /// A seed upload: the `directory` field, then a one-byte `file` part.
    Upload {
        directory: String,
        file_name: String,
    },
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A 4xx (exactly this status, if given) with an error body of `Shape`.
    Refused(Shape, Option<u16>),
    /// Exactly this status; the body is not looked at.
    Status(u16),
    /// Any 2xx.
    Success,
    /// Anything but a 5xx: a valid, if odd, request.
    Below500,
    /// WebHDFS's `{"boolean": false}`: Hadoop answers an impossible rename
    /// or delete so, not with an error.
    False,
    /// [`Expect::False`] with a 200, or else a WebHDFS error.
    FalseOrRefused,
    /// Malformed HTTP: a 4xx status line, or the connection closed without
    /// a word; never anything else (raw requests only).
    Http4xxOrClosed,
}

/// The usual answer: a 4xx with `{"error":{"code","message"}}`.
const REFUSED: Expect = Expect::Refused(Shape::Dfs, None);
/// The usual answer under `/webhdfs/v1`: a 4xx with a `RemoteException`.
const REMOTE_EXCEPTION: Expect = Expect::Refused(Shape::WebHdfs, None);
const NOT_FOUND: Expect = Expect::Refused(Shape::Dfs, Some(404));
const TOO_LARGE: Expect = Expect::Refused(Shape::Dfs, Some(413));

enum After {
    Nothing,
    /// A refused block write left no block file on datanode 0 and nothing
    /// readable at `{url}/blocks/{id}`.
    NoBlock {
        url: String,
        id: String,
    },
}

fn case(label: impl Into<String>, request: Request, expect: Expect) -> Case {
    Case {
        label: label.into(),
        request,
        expect,
        after: After::Nothing,
    }
}

fn http(method: Method, url: impl Into<String>, body: Body) -> Request {
    Request::Http {
        method,
        url: url.into(),
        headers: Vec::new(),
        body,
    }
}

fn get(url: impl Into<String>) -> Request {
    http(Method::GET, url, Body::Empty)
}

fn post(url: impl Into<String>) -> Request {
    http(Method::POST, url, Body::Empty)
}

/// POST of a form with these fields.
fn form(url: impl Into<String>, fields: &[(&str, &str)]) -> Request {
    let fields = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    http(Method::POST, url, Body::Form(fields))
}

/// POST of a JSON body.
fn json(url: impl Into<String>, v: Value) -> Request {
    http(Method::POST, url, Body::Json(v))
}

/// POST of `body` as `content_type`.
fn typed(url: impl Into<String>, content_type: &str, body: impl Into<Vec<u8>>) -> Request {
    Request::Http {
        method: Method::POST,
        url: url.into(),
        headers: vec![("content-type", content_type.to_string())],
        body: Body::Bytes(body.into()),
    }
}

/// A seed upload of a one-byte file `file_name` into `directory`.
fn upload(nn: &str, directory: &str, file_name: &str) -> Request {
    let body = Body::Upload {
        directory: directory.into(),
        file_name: file_name.into(),
    };
    http(Method::POST, format!("{nn}/upload_file"), body)
}

/// GET of `url` with `name=value` as its (form-encoded) query.
fn get_query(url: &str, name: &str, value: &str) -> Request {
    let url = reqwest::Url::parse_with_params(url, &[(name, value)]).unwrap();
    get(url.as_str())
}

/// `bytes` as they are, to the server at `url`.
fn raw(url: &str, bytes: impl Into<Vec<u8>>) -> Request {
    Request::Raw {
        addr: host(url),
        bytes: bytes.into(),
    }
}

/// Sends `case`, checks its answer, then what it must have left behind.
async fn run(c: &reqwest::Client, cluster: &TestCluster, case: &Case) {
    let label = case.label.as_str();
    let (status, body) = match &case.request {
        Request::Http {
            method,
            url,
            headers,
            body,
        } => {
            let mut req = c.request(method.clone(), url);
            for (k, v) in headers {
                req = req.header(*k, v.as_str());
            }
            req = match body {
                Body::Empty => req,
                Body::Form(fields) => req.form(fields),
                Body::Json(v) => req.json(v),
                Body::Bytes(b) => req.body(b.clone()),
                Body::Upload {
                    directory,
                    file_name,
                } => {
                    let file = Part::bytes(b"x".to_vec()).file_name(file_name.clone());
                    req.multipart(
                        Form::new()
                            .text("directory", directory.clone())
                            .part("file", file),
                    )
                }
            };
            // No answer is a failure too: a server answers even a body it
            // refuses (from the declared length, before reading it).
            let r = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("{label}: no answer: {e:?}"));
            let status = r.status().as_u16();
            (status, r.bytes().await.unwrap().to_vec())
        }
        Request::Raw { addr, bytes } if matches!(case.expect, Expect::Http4xxOrClosed) => {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(bytes).await.unwrap();
            let mut buf = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
            let text = String::from_utf8_lossy(&buf);
            assert!(
                text.is_empty() || text.starts_with("HTTP/1.1 4"),
                "{label}: {text}"
            );
            return;
        }
        Request::Raw { addr, bytes } => exchange(addr, bytes).await,
    };
    let text = String::from_utf8_lossy(&body);
    let boolean_false = || {
        let v: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{label}: not JSON ({e}): {text}"));
        assert_eq!(v["boolean"], false, "{label}");
    };
    match case.expect {
        Expect::Refused(shape, want) => {
            if let Some(want) = want {
                assert_eq!(status, want, "{label}: {text}");
            }
            check_4xx(label, status, &body, shape);
        }
        Expect::Status(want) => assert_eq!(status, want, "{label}: {text}"),
        Expect::Success => assert!((200..300).contains(&status), "{label}: {status} {text}"),
        Expect::Below500 => assert!(status < 500, "{label}: {status} {text}"),
        Expect::False => boolean_false(),
        Expect::FalseOrRefused if status == 200 => boolean_false(),
        Expect::FalseOrRefused => {
            check_4xx(label, status, &body, Shape::WebHdfs);
        }
        Expect::Http4xxOrClosed => unreachable!("only raw requests expect it"),
    }
    if let After::NoBlock { url, id } = &case.after {
        assert!(
            cluster.block_file(0, id).is_none(),
            "{label}: a block was kept"
        );
        let r = c.get(format!("{url}/blocks/{id}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{label}: readable after refusal");
    }
}

// ------------------------------------------------------------------ the corpus
// One case a line: the tables are kept out of rustfmt's hands.

/// Bad paths through every door that takes one (the seed endpoints' forms
/// and JSON, the native RPC, rename, upload, the cluster API), and bad file
/// names in the multipart part itself.
#[rustfmt::skip]
fn path_cases(nn: &str) -> Vec<Case> {
    let long_name = format!("/{MARK}{}", "n".repeat(300));
    let bad_paths: Vec<(&str, String)> = vec![
        ("dot-dot", format!("/keep/../{MARK}")),
        ("dot-dot only", "..".into()),
        ("leading dot-dot", format!("/../../{MARK}")),
        ("dot", format!("/keep/./{MARK}")),
        ("percent-encoded dot-dot", format!("/keep/%2e%2e/{MARK}")),
        ("NUL", format!("/keep/{MARK}\0x")),
        ("300-byte name", long_name.clone()),
        ("5000-byte path", format!("/{MARK}").repeat(5000 / (MARK.len() + 1) + 1)),
        ("600 levels", format!("/{MARK}").repeat(600)),
        ("double slash", format!("/keep//{MARK}")),
        ("only slashes", "//".into()),
        ("relative", format!("{MARK}/x")),
        ("empty", String::new()),
        ("backslash dot-dot", format!("..\\..\\{MARK}")),
    ];
    let mut cases = Vec::new();
    for (label, path) in &bad_paths {
        let path = path.as_str();
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
            let expect = if literal_ok {
                Expect::Below500
            } else if endpoint == "list_directory" && path.is_empty() {
                Expect::Success // an empty directory_name lists the root, as documented
            } else {
                REFUSED
            };
            cases.push(case(format!("{endpoint} {label}"), form(format!("{nn}/{endpoint}"), &[(field, path)]), expect));
        }
        if literal_ok {
            continue;
        }
        cases.extend([
            case(format!("create_directory JSON {label}"), json(format!("{nn}/create_directory"), json!({ "directory_name": path })), REFUSED),
            case(format!("rpc mkdirs {label}"), json(format!("{nn}/rpc/v1/mkdirs"), json!({ "path": path, "parents": true })), REFUSED),
            case(format!("rename to {label}"), form(format!("{nn}/rename"), &[("src", "/keep/f.bin"), ("dst", path)]), REFUSED),
        ]);
        // An empty upload `directory` means the root, as documented (and an
        // empty `path` the whole namespace).
        if path.is_empty() {
            continue;
        }
        cases.extend([
            case(format!("upload_file directory {label}"), upload(nn, path, &format!("{MARK}.bin")), REFUSED),
            case(format!("api blocks {label}"), get_query(&format!("{nn}/api/v1/blocks"), "path", path), REFUSED),
            case(format!("api fsck {label}"), get_query(&format!("{nn}/api/v1/fsck"), "path", path), REFUSED),
        ]);
    }
    cases.extend([
        case("dot-dot file name", upload(nn, "/keep", ".."), REFUSED),
        case("300-byte file name", upload(nn, "/keep", long_name.trim_start_matches('/')), REFUSED),
        case("NUL file name", upload(nn, "/keep", "a\0zzescape"), REFUSED),
    ]);
    cases
}

/// WebHDFS: the path is in the URL, percent-encoded or not, and the
/// parameters are typed. Sent raw: an HTTP client library would resolve
/// `%2e%2e` before sending.
#[rustfmt::skip]
fn webhdfs_cases(nn: &str, dn: &str) -> Vec<Case> {
    let w = "/webhdfs/v1";
    let long_name = format!("/{MARK}{}", "n".repeat(300));
    let long_url_path = "/a".repeat(2600);
    let deep_path = format!("/{MARK}").repeat(600);
    let on_namenode: Vec<(&str, &str, String)> = vec![
        ("%2e%2e", "PUT", format!("{w}/keep/%2e%2e/{MARK}?op=MKDIRS")),
        ("%2E%2E upper", "PUT", format!("{w}/%2E%2E/%2E%2E/{MARK}?op=MKDIRS")),
        ("encoded slash dot-dot", "PUT", format!("{w}/keep%2F..%2F{MARK}?op=MKDIRS")),
        ("NUL", "PUT", format!("{w}/keep/{MARK}%00x?op=MKDIRS")),
        ("invalid UTF-8", "PUT", format!("{w}/keep/{MARK}%FF%FE?op=MKDIRS")),
        ("double slash", "PUT", format!("{w}/keep//{MARK}?op=MKDIRS")),
        ("300-byte name", "PUT", format!("{w}{long_name}?op=MKDIRS")),
        ("5000-byte path", "PUT", format!("{w}{long_url_path}?op=MKDIRS")),
        ("600 levels", "PUT", format!("{w}{deep_path}?op=MKDIRS")),
        ("no op", "GET", format!("{w}/keep")),
        ("unknown op", "GET", format!("{w}/keep?op=FROBNICATE")),
        ("negative offset", "GET", format!("{w}/keep/f.bin?op=OPEN&offset=-1")),
        ("huge offset", "GET", format!("{w}/keep/f.bin?op=OPEN&offset=99999999999999999999")),
        ("offset past the end", "GET", format!("{w}/keep/f.bin?op=OPEN&offset=100001")),
        ("negative length", "GET", format!("{w}/keep/f.bin?op=OPEN&length=-5")),
        ("bad replication", "PUT", format!("{w}/keep/f.bin?op=SETREPLICATION&replication=-1")),
        ("bad permission", "PUT", format!("{w}/keep?op=SETPERMISSION&permission=999")),
        ("bad boolean", "DELETE", format!("{w}/keep?op=DELETE&recursive=maybe")),
        ("rename to bad destination", "PUT", format!("{w}/keep/f.bin?op=RENAME&destination=/keep/../{MARK}")),
    ];
    let mut cases = Vec::new();
    for (label, method, target) in on_namenode {
        let request = raw(nn, format!("{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        let expect = if label == "rename to bad destination" { Expect::FalseOrRefused } else { REMOTE_EXCEPTION };
        cases.push(case(format!("webhdfs {label}"), request, expect));
    }
    // The same cases on a datanode's WebHDFS landing.
    for (label, method, target) in [
        ("%2e%2e", "PUT", format!("{w}/keep/%2e%2e/{MARK}?op=CREATE&namenoderpcaddress=x")),
        ("NUL", "PUT", format!("{w}/keep/{MARK}%00?op=CREATE&namenoderpcaddress=x")),
        ("negative offset", "GET", format!("{w}/keep/f.bin?op=OPEN&offset=-3&namenoderpcaddress=x")),
        ("no op", "GET", format!("{w}/keep/f.bin")),
    ] {
        let request = raw(dn, format!("{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndata"));
        cases.push(case(format!("datanode webhdfs {label}"), request, REMOTE_EXCEPTION));
    }
    cases
}

/// Namespace operations that must be refused (renames into a subtree,
/// deleting `/`), parameters of the wrong kind, bodies that do not parse,
/// unknown routes and actions, garbage on the datanode-facing endpoints.
#[rustfmt::skip]
fn namespace_cases(nn: &str) -> Vec<Case> {
    let w = format!("{nn}/webhdfs/v1");
    let (json_type, form_type) = ("application/json", "application/x-www-form-urlencoded");
    let mut cases = vec![
        case("rename into its own subtree", form(format!("{nn}/rename"), &[("src", "/keep"), ("dst", "/keep/sub/inner")]), REFUSED),
        case("rename onto itself", form(format!("{nn}/rename"), &[("src", "/keep"), ("dst", "/keep")]), Expect::Below500),
        case("rpc rename into its own subtree", json(format!("{nn}/rpc/v1/rename"), json!({"src": "/keep", "dst": "/keep/sub/x"})), REFUSED),
        case("webhdfs rename into own subtree", http(Method::PUT, format!("{w}/keep?op=RENAME&destination=/keep/sub/x"), Body::Empty), Expect::False),
        case("rename /", form(format!("{nn}/rename"), &[("src", "/"), ("dst", "/keep/root")]), REFUSED),
        case("delete_directory /", form(format!("{nn}/delete_directory"), &[("directory_name", "/"), ("recursive", "true")]), REFUSED),
        case("delete_file /", form(format!("{nn}/delete_file"), &[("file_name", "/"), ("recursive", "true")]), REFUSED),
        case("rpc delete /", json(format!("{nn}/rpc/v1/delete"), json!({"path": "/", "recursive": true})), REFUSED),
        case("webhdfs DELETE /", http(Method::DELETE, format!("{w}/?op=DELETE&recursive=true"), Body::Empty), Expect::False),
        case("non-empty without recursive", form(format!("{nn}/delete_directory"), &[("directory_name", "/keep")]), Expect::Status(409)),
        case("download missing", form(format!("{nn}/download_file"), &[("file_name", "/keep/missing.bin")]), NOT_FOUND),
        case("download a directory", form(format!("{nn}/download_file"), &[("file_name", "/keep/sub")]), REFUSED),
        // Parameters of the wrong kind.
        case("delete_directory recursive=perhaps", form(format!("{nn}/delete_directory"), &[("directory_name", "/keep"), ("recursive", "perhaps")]), REFUSED),
        case("upload_file as a form", form(format!("{nn}/upload_file"), &[("directory", "/keep")]), REFUSED),
        case("rename without dst", form(format!("{nn}/rename"), &[("src", "/keep")]), REFUSED),
        case("create_directory empty form", form(format!("{nn}/create_directory"), &[]), REFUSED),
    ];
    for (label, body) in [
        ("JSON array", "[1,2]"),
        ("JSON nested", r#"{"directory_name":{"x":1}}"#),
        ("broken JSON", r#"{"directory_name": "/a"#),
    ] {
        cases.push(case(label, typed(format!("{nn}/create_directory"), json_type, body), REFUSED));
        cases.push(case(format!("rpc {label}"), typed(format!("{nn}/rpc/v1/create"), json_type, body), REFUSED));
    }
    cases.extend([
        case("rpc negative replication", json(format!("{nn}/rpc/v1/create"), json!({"path": "/keep/neg", "replication": -1, "block_size": -5})), REFUSED),
        case("rpc zero block size", json(format!("{nn}/rpc/v1/create"), json!({"path": "/keep/zero", "block_size": 0})), REFUSED),
        case("invalid UTF-8 form body", typed(format!("{nn}/create_directory"), form_type, b"directory_name=%2Fkeep%2F\xff\xfe".to_vec()), REFUSED),
        case("percent-encoded invalid UTF-8", typed(format!("{nn}/create_directory"), form_type, "directory_name=%2Fkeep%2F%FF%FE"), REFUSED),
        case("unsupported content type", typed(format!("{nn}/create_directory"), "application/xml", "<x/>"), REFUSED),
        case("unknown route", get(format!("{nn}/no/such/endpoint")), NOT_FOUND),
        case("decommission unknown node", post(format!("{nn}/api/v1/datanodes/{MARK}/decommission")), REFUSED),
        case("bad safemode action", post(format!("{nn}/api/v1/safemode?action=explode")), REFUSED),
    ]);
    for ep in ["register", "heartbeat", "block_report", "block_received", "bad_block"] {
        let garbage = http(Method::POST, format!("{nn}/internal/v1/{ep}"), Body::Bytes(vec![0xff; 64]));
        cases.push(case(format!("internal {ep} garbage"), garbage, REFUSED));
    }
    cases
}

/// Bodies over the limits: sent whole, or only declared (refused at once,
/// without the body being sent).
#[rustfmt::skip]
fn oversized_cases(nn: &str) -> Vec<Case> {
    let json_type = "application/json";
    let mut cases = vec![
        case("oversized seed body", typed(format!("{nn}/create_directory"), json_type, format!(r#"{{"directory_name":"/keep/{}"}}"#, "x".repeat(400 << 10))), TOO_LARGE),
    ];
    for path in ["/rpc/v1/create", "/create_directory", "/internal/v1/heartbeat"] {
        let request = raw(nn, format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000000\r\nConnection: close\r\n\r\n{{"));
        cases.push(case(format!("huge Content-Length {path}"), request, TOO_LARGE));
    }
    // Past the JSON limit (64 MiB), sent whole: the namenode answers 413
    // from the declared length before it reads the body. (A reset instead
    // of that answer once passed silently; `run` fails it now.)
    cases.push(case("oversized JSON body", typed(format!("{nn}/rpc/v1/mkdirs"), json_type, format!(r#"{{"path":"/x","pad":"{}"}}"#, "p".repeat(70 << 20))), TOO_LARGE));
    cases
}

/// Malformed and truncated multipart, and malformed HTTP itself (the server
/// answers 400 or closes, and lives).
#[rustfmt::skip]
fn malformed_cases(nn: &str) -> Vec<Case> {
    let part = |boundary: &str, body: &str| {
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"directory\"\r\n\r\n/keep\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{MARK}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n{body}")
    };
    let bound = "multipart/form-data; boundary=BOUND";
    let multipart: Vec<(&str, &str, String)> = vec![
        ("truncated multipart", bound, part("BOUND", "some bytes but no closing boundary")),
        ("wrong boundary", "multipart/form-data; boundary=OTHER", format!("{}\r\n--BOUND--\r\n", part("BOUND", "data"))),
        ("no boundary", "multipart/form-data", format!("{}\r\n--BOUND--\r\n", part("BOUND", "data"))),
        ("not multipart", "text/plain", "hello".into()),
        ("garbage", bound, "\u{1}\u{2}garbage\r\n\r\n--".into()),
        ("headers never end", bound, format!("--BOUND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{MARK}\"\r\n")),
        ("empty form", bound, "--BOUND--\r\n".into()),
    ];
    let mut cases = Vec::new();
    for (label, ct, body) in multipart {
        let request = raw(nn, format!("POST /upload_file HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()));
        cases.push(case(format!("upload_file {label}"), request, REFUSED));
    }
    for (label, req) in [
        ("bad request line", "GARBAGE\r\n\r\n"),
        ("bad header", "GET /health HTTP/1.1\r\nHost x\r\n\r\n"),
        ("NUL in the target", "GET /webhdfs/v1/a\0b?op=LISTSTATUS HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        ("bad Content-Length", "POST /create_directory HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n"),
    ] {
        cases.push(case(label, raw(nn, req), Expect::Http4xxOrClosed));
    }
    cases
}

/// The datanode's block endpoints: ids that are not block ids, unknown
/// blocks, block writes with wrong or malformed checksums and lengths
/// (refused, nothing kept), bad ranges on a real block (`block` on
/// `holder`), a method and a route that do not exist.
#[rustfmt::skip]
fn block_cases(nn: &str, dn: &str, holder: &str, block: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    for id in [
        "not-a-block",
        "..",
        "..%2F..%2F..%2Fzzescape",
        "%2e%2e%2f%2e%2e%2fzzescape",
        "00000000-0000-0000-0000-000000000000%00",
        "zzescape.blk",
    ] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let request = http(method.clone(), format!("{dn}/blocks/{id}"), Body::Bytes(b"block bytes".to_vec()));
            cases.push(case(format!("{method} /blocks/{id}"), request, REFUSED));
        }
        cases.push(case(format!("meta of {id}"), get(format!("{dn}/blocks/{id}/meta")), REFUSED));
    }
    let unknown = "0190a0b0-0000-7000-8000-000000000001";
    cases.extend([
        case("GET unknown block", get(format!("{dn}/blocks/{unknown}")), NOT_FOUND),
        case("meta unknown block", get(format!("{dn}/blocks/{unknown}/meta")), NOT_FOUND),
        case("DELETE unknown block", http(Method::DELETE, format!("{dn}/blocks/{unknown}"), Body::Empty), NOT_FOUND),
    ]);
    // Wrong and malformed checksums, wrong lengths: refused, nothing kept.
    let payload = test_data(10_000, 5);
    let wrong = sha256_hex(b"something else");
    let puts: Vec<(&str, &'static str, &str, u16)> = vec![
        ("wrong sha256", "x-dfs-expected-sha256", &wrong, 412),
        ("malformed sha256", "x-dfs-expected-sha256", "xyz", 400),
        ("short sha256", "x-dfs-expected-sha256", "abcd", 400),
        ("wrong length", "x-dfs-expected-len", "9999", 412),
        ("negative length", "x-dfs-expected-len", "-1", 400),
        ("huge length", "x-dfs-expected-len", "18446744073709551615", 413),
        ("unknown digest trailer", "x-dfs-digest-trailer", "md5", 400),
        // The payload's last 36 bytes taken as a trailer: its CRCs cannot match the rest.
        ("bogus digest trailer", "x-dfs-digest-trailer", "sha256+crc32c-v1", 412),
        ("bad pipeline", "x-dfs-pipeline", "file:///etc/passwd", 400),
    ];
    for (label, header, value, want) in puts {
        let id = fresh_block_id();
        let url = format!("{dn}/blocks/{id}");
        let request = Request::Http { method: Method::PUT, url, headers: vec![(header, value.to_string())], body: Body::Bytes(payload.clone()) };
        let after = After::NoBlock { url: dn.to_string(), id };
        cases.push(Case { label: format!("PUT {label}"), request, expect: Expect::Refused(Shape::Dfs, Some(want)), after });
    }
    let huge = format!("PUT /blocks/{} HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\nConnection: close\r\n\r\nabc", fresh_block_id());
    cases.push(case("declared huge block", raw(dn, huge), TOO_LARGE));
    for (label, q) in [
        ("negative offset", "offset=-1"),
        ("huge offset", "offset=18446744073709551615"),
        ("offset overflow", "offset=99999999999999999999999"),
        ("offset past the end", "offset=70000"),
        ("negative length", "length=-1"),
        ("huge range", "offset=10&length=18446744073709551615"),
        ("not a number", "offset=abc"),
    ] {
        cases.push(case(format!("block range {label}"), get(format!("{holder}/blocks/{block}?{q}")), REFUSED));
    }
    cases.extend([
        case("POST /blocks (no such method)", post(format!("{dn}/blocks/{unknown}")), REFUSED),
        case("datanode unknown route", get(format!("{dn}/{MARK}")), REFUSED),
        // Extra parameters are ignored, never misread.
        case("download negative offset", get(format!("{nn}/download_file?file_name=/keep/f.bin&offset=-1")), Expect::Below500),
    ]);
    cases
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
    let locations = cluster
        .client()
        .locations(&dfs_tests::p("/keep/f.bin"))
        .await
        .unwrap();
    let first = &locations.blocks[0];

    let holder = &first.replicas[0].addr;
    let corpus = [
        path_cases(&nn),
        webhdfs_cases(&nn, &dn),
        namespace_cases(&nn),
        oversized_cases(&nn),
        malformed_cases(&nn),
        block_cases(&nn, &dn, holder, &first.block_id.to_string()),
    ];
    for case in corpus.iter().flatten() {
        run(&c, &cluster, case).await;
    }

    // --- afterwards -----------------------------------------------------------
    // The tree the corpus aimed at is intact.
    let st = cluster.client().status(&dfs_tests::p("/keep/f.bin")).await;
    assert_eq!(st.expect("/keep/f.bin survives").length, data.len() as u64);
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

/// A block id no test has used.
fn fresh_block_id() -> String {
    format!("0190a0b0-0000-7000-8000-{:012x}", rand_u48())
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
    let id = fresh_block_id();
    let mut s = TcpStream::connect(host(&dn)).await.unwrap();
    let head = format!(
        "PUT /blocks/{id} HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&test_data(1_500_000, 9)).await.unwrap();
    wait_until(
        "the stalled write to hold a temp file",
        Duration::from_secs(5),
        || async { Ok((!cluster.temp_files(0).is_empty()).then_some(())) },
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
        || async { Ok(cluster.temp_files(0).is_empty().then_some(())) },
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
            let tmps = cluster.temp_files(0).len() + cluster.temp_files(1).len();
            Ok((blocks == 0 && tmps == 0).then_some(()))
        },
    )
    .await
    .unwrap();

    // Greedy: with two block writes held open, a third from the same client
    // gets 429 with a clear message; once they finish, writes work again.
    let mut held = Vec::new();
    for _ in 0..2 {
        let id = fresh_block_id();
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
    let id = fresh_block_id();
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
            let id = fresh_block_id();
            let r = c.put(format!("{dn}/blocks/{id}")).body("x").send().await?;
            Ok(r.status().is_success().then_some(()))
        },
    )
    .await
    .unwrap();

    still_alive(&cluster, "after slow clients").await;
}
