//! The whole namenode over real HTTP: `namenode::run` in a background
//! thread (fresh data dir, no datanodes, access control off) and one raw
//! HTTP/1.1 request per input, built from structured fuzz input: a method,
//! one of the route families (WebHDFS, `/api/v1`, `/rpc/v1`, the bincode
//! `/internal/v1`, the seed endpoints, the UI), a fuzzed path tail and query
//! (any bytes; only those HTTP cannot carry are percent-encoded, so bad
//! escapes, `..`, `%2F`, NUL and non-UTF-8 reach the server), a content
//! type and a fuzzed body. Everything in the server runs in this process,
//! so libFuzzer sees its coverage.
//!
//! Properties: the server always answers (a panicking handler drops the
//! connection, which fails here); never with a 5xx other than 503 (no
//! datanodes, safe mode) or 507; and every error it answers in JSON is
//! the documented shape (`{"error":{"code","message"}}`, or WebHDFS's
//! `RemoteException`).
#![no_main]
use arbitrary::Arbitrary;
use dfs_common::error::ErrorBody;
use dfs_common::proto::webhdfs::RemoteExceptionBody;
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const ROUTES: &[&str] = &[
    "/webhdfs/v1",
    "/webhdfs/v1/",
    "/api/v1/",
    "/api/v1/datanodes/",
    "/rpc/v1/",
    "/internal/v1/",
    "/create_directory",
    "/delete_directory",
    "/upload_file",
    "/download_file",
    "/file_list",
    "/list_directory",
    "/delete_file",
    "/rename",
    "/file_info",
    "/",
    "/health",
    "/metrics",
];
const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"];
const CONTENT_TYPES: &[&str] = &[
    "",
    "application/json",
    "application/x-dfs-bincode",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=B",
    "text/plain",
    "application/octet-stream",
];

#[derive(Debug, Arbitrary)]
struct Request {
    method: u8,
    route: u8,
    tail: Vec<u8>,
    query: Option<Vec<u8>>,
    content_type: u8,
    body: Vec<u8>,
}

struct Server {
    addr: SocketAddr,
}

/// The data dir: `dfs-fuzz-nn-<pid>` on tmpfs when there is one (every
/// namespace change is fsynced). libFuzzer leaves by `exit`, so nothing
/// removes it at the end; each run removes those of processes gone.
fn data_dir() -> PathBuf {
    let base = Path::new(if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    });
    if let Ok(entries) = std::fs::read_dir(base) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("dfs-fuzz-nn-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    let dir = base.join(format!("dfs-fuzz-nn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let config = namenode::Config {
            listen: addr.to_string(),
            data_dir: data_dir(),
            replication: 1,
            block_size: 4096,
            ..namenode::Config::default()
        };
        std::thread::spawn(move || {
            let result = actix_web::rt::System::new().block_on(namenode::run(config));
            panic!("the namenode stopped: {result:?}");
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "the namenode did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { addr }
    })
}

/// Bytes that cannot stand in a request target are percent-encoded; the
/// rest (including `%`, `/`, `.`, `?`, `&`, `=`) go as they are.
fn target_bytes(out: &mut Vec<u8>, raw: &[u8]) {
    for &b in raw {
        if b.is_ascii_graphic() && b != b'#' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

fn send(r: &Request) -> (u16, String, Vec<u8>) {
    let method = METHODS[r.method as usize % METHODS.len()];
    let route = ROUTES[r.route as usize % ROUTES.len()];
    let ct = CONTENT_TYPES[r.content_type as usize % CONTENT_TYPES.len()];
    let mut head = Vec::new();
    head.extend_from_slice(method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(route.as_bytes());
    target_bytes(&mut head, &r.tail);
    if let Some(q) = &r.query {
        head.push(b'?');
        target_bytes(&mut head, q);
    }
    head.extend_from_slice(b" HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
    if !ct.is_empty() {
        head.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
    }
    head.extend_from_slice(format!("Content-Length: {}\r\n\r\n", r.body.len()).as_bytes());
    head.extend_from_slice(&r.body);

    let mut s = TcpStream::connect(server().addr).expect("the namenode is listening");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(&head).expect("request sent");
    let mut resp = Vec::new();
    if let Err(e) = s.read_to_end(&mut resp) {
        panic!(
            "no complete answer to {:?}: {e}",
            String::from_utf8_lossy(&head)
        );
    }
    let text = String::from_utf8_lossy(&resp);
    let status: u16 = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no HTTP answer to {:?} (the connection was dropped: a panic?): {text:?}",
                String::from_utf8_lossy(&head)
            )
        });
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(resp.len(), |i| i + 4);
    let headers = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    (status, headers, resp[split..].to_vec())
}

fuzz_target!(|r: Request| {
    let (status, headers, body) = send(&r);
    assert!(
        !(500..600).contains(&status) || status == 503 || status == 507,
        "{status} for {r:?}: {}",
        String::from_utf8_lossy(&body)
    );
    let json = headers.contains("content-type: application/json");
    if status >= 400 && json && !body.is_empty() && !headers.contains("transfer-encoding: chunked")
    {
        assert!(
            serde_json::from_slice::<ErrorBody>(&body).is_ok()
                || serde_json::from_slice::<RemoteExceptionBody>(&body).is_ok(),
            "{status} for {r:?} has an undocumented error body: {}",
            String::from_utf8_lossy(&body)
        );
    }
});
