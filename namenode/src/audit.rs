//! The audit log: one line per request that reaches the namespace or asks
//! for access, in the spirit of HDFS's `hdfs-audit.log`: when, who (the
//! authenticated user), from where, what (the operation), on what (source
//! and destination paths), and how it ended (allowed, denied or failed, with
//! the HTTP status). Never a token: credentials in the query are not
//! logged, and bodies are read only for the paths they name.
//!
//! `--audit-log FILE` writes text lines to FILE, renamed to FILE.1 (FILE.1
//! to FILE.2 ..., the oldest of [`KEPT`] dropped) when it would pass
//! `--audit-log-max-size`; `--audit-stdout` prints each entry as one JSON
//! object per line on stdout.
//!
//! What is logged: every request but the datanode and Raft protocol
//! (`/internal/...`), `/health`, `/metrics` and the web UI's static files.
//! A follower that forwards a request to the leader logs nothing: the
//! leader, which decides, logs it (with the follower as the address and
//! what the follower says the client's address was).
//!
//! Invariants:
//! - A denied request (401, 403) is always logged, with its user when one
//!   was authenticated.
//! - A failure to write the log never fails the request; it is reported
//!   once in the namenode's log until writing works again.
use crate::auth::Identity;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use actix_web::HttpMessage;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Old files kept beside the current one (FILE.1 .. FILE.KEPT).
pub const KEPT: usize = 5;
/// The header a follower adds to a forwarded request: the address the
/// client came from (recorded as the follower's word, beside its address,
/// and only on a forwarded request).
const CLIENT_ADDR_HEADER: &str = "x-forwarded-for";
/// Bodies up to this size are read for the paths they name (JSON and
/// form bodies of the RPC and seed calls; never an upload).
const PEEK_LIMIT: usize = 64 * 1024;

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// `allowed`, `denied` or `failed`.
    pub result: &'static str,
    pub status: u16,
    /// The authenticated user; `None` with access control off, or when the
    /// request was refused before it had one.
    pub user: Option<String>,
    /// Where the request came from (the peer's address).
    pub ip: String,
    /// What the forwarding namenode said the client's address was.
    pub forwarded_for: Option<String>,
    /// The operation: the RPC name, the WebHDFS `op`, the seed endpoint,
    /// or the method and path for anything else.
    pub cmd: String,
    pub src: Option<String>,
    pub dst: Option<String>,
}

impl Entry {
    /// The text line (HDFS's `key=value` shape, tab separated; a value is
    /// written with `{:?}` when it holds a tab, a newline or a quote, so a
    /// path cannot forge a line).
    pub fn line(&self) -> String {
        fn v(s: Option<&str>) -> String {
            match s {
                None => "null".into(),
                Some(s) if s.contains(['\t', '\n', '\r', '"']) || s.is_empty() => format!("{s:?}"),
                Some(s) => s.to_string(),
            }
        }
        format!(
            "{}\t{}\tstatus={}\tugi={}\tip={}\tforwarded_for={}\tcmd={}\tsrc={}\tdst={}",
            self.time,
            match self.result {
                "allowed" => "allowed=true",
                "denied" => "allowed=false",
                _ => "allowed=true\tfailed=true",
            },
            self.status,
            v(self.user.as_deref()),
            v(Some(&self.ip)),
            v(self.forwarded_for.as_deref()),
            v(Some(&self.cmd)),
            v(self.src.as_deref()),
            v(self.dst.as_deref()),
        )
    }
}

/// Where entries go (app data; nowhere: no audit log).
pub struct AuditLog {
    file: Option<Mutex<Rotating>>,
    stdout_json: bool,
}

impl AuditLog {
    /// Opens (appends to) `file` if given. Fails when it cannot be written.
    pub fn open(file: Option<&Path>, max_size: u64, stdout_json: bool) -> std::io::Result<Self> {
        let file = match file {
            Some(p) => Some(Mutex::new(Rotating::open(p, max_size)?)),
            None => None,
        };
        Ok(AuditLog { file, stdout_json })
    }

    /// Whether entries go anywhere.
    pub fn enabled(&self) -> bool {
        self.file.is_some() || self.stdout_json
    }

    pub fn record(&self, e: &Entry) {
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            f.write_line(&e.line());
        }
        if self.stdout_json {
            if let Ok(json) = serde_json::to_string(e) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{json}");
            }
        }
    }
}

/// An append-only file renamed aside when it would pass `max_size`.
struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    /// The last write failed (reported once until one succeeds).
    failing: bool,
}

impl Rotating {
    fn open(path: &Path, max_size: u64) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Rotating {
            path: path.to_path_buf(),
            file,
            size,
            max_size: max_size.max(1),
            failing: false,
        })
    }

    fn write_line(&mut self, line: &str) {
        let n = line.len() as u64 + 1;
        if self.size > 0 && self.size + n > self.max_size {
            if let Err(e) = self.rotate() {
                self.failed(&e);
            }
        }
        match writeln!(self.file, "{line}") {
            Ok(()) => {
                self.size += n;
                if self.failing {
                    log::info!("audit log {}: writing again", self.path.display());
                    self.failing = false;
                }
            }
            Err(e) => self.failed(&e),
        }
    }

    fn failed(&mut self, e: &std::io::Error) {
        if !self.failing {
            log::error!("audit log {}: cannot write: {e}", self.path.display());
            self.failing = true;
        }
    }

    /// FILE.(KEPT-1) → FILE.KEPT, ..., FILE → FILE.1, then a new FILE.
    fn rotate(&mut self) -> std::io::Result<()> {
        let aside = |i: usize| {
            let mut name = self.path.as_os_str().to_owned();
            name.push(format!(".{i}"));
            PathBuf::from(name)
        };
        for i in (1..KEPT).rev() {
            match std::fs::rename(aside(i), aside(i + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, aside(1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Whether requests to `path` are left out of the audit log.
fn unaudited(path: &str) -> bool {
    path.starts_with(dfs_common::proto::datanode::INTERNAL_PREFIX)
        || matches!(path, "/health" | "/metrics" | "/" | "/favicon.ico")
        || path.starts_with("/ui")
        || path.starts_with("/static")
        || path == "/api/v1/openapi.json"
}

/// The operation and its paths as the URL gives them.
fn from_url(path: &str, query: &str) -> (String, Option<String>, Option<String>) {
    let q: Vec<(String, String)> = web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if let Some(rest) = path.strip_prefix("/webhdfs/v1") {
        let op = get("op").unwrap_or_else(|| "?".into()).to_ascii_lowercase();
        let src = if rest.is_empty() { "/" } else { rest };
        let src = percent_decode(src);
        return (format!("webhdfs.{op}"), Some(src), get("destination"));
    }
    let cmd = if let Some(op) = path.strip_prefix("/rpc/v1/") {
        op.replace('/', ".")
    } else if let Some(rest) = path.strip_prefix("/api/v1/") {
        format!("api.{}", rest.replace('/', "."))
    } else if let Some(rest) = path.strip_prefix("/auth/") {
        format!("auth.{rest}")
    } else {
        path.trim_start_matches('/').replace('/', ".")
    };
    let src = get("path")
        .or_else(|| get("src"))
        .or_else(|| get("file_name"))
        .or_else(|| get("directory"));
    let dst = get("dst").or_else(|| get("destination"));
    (cmd, src, dst)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The paths a small JSON or form body names (`path`, `src`, `dst`,
/// `destination`, `file_name`, `directory`).
fn from_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let field =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let src = field(&v, "path")
            .or_else(|| field(&v, "src"))
            .or_else(|| field(&v, "file_name"))
            .or_else(|| field(&v, "directory"));
        let dst = field(&v, "dst").or_else(|| field(&v, "destination"));
        return (src, dst);
    }
    let text = std::str::from_utf8(body).unwrap_or("");
    let (_, src, dst) = from_url("", text);
    (src, dst)
}

/// The middleware: records each audited request once its answer is known.
pub async fn record(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let log = match req.app_data::<web::Data<AuditLog>>() {
        Some(log) if log.enabled() => log.clone(),
        _ => return next.call(req).await,
    };
    let path = req.path().to_string();
    if unaudited(&path) {
        return next.call(req).await;
    }
    let (cmd, mut src, mut dst) = from_url(&path, req.query_string());
    // Small bodies that may name the paths (never an upload's).
    let small = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > 0 && n <= PEEK_LIMIT);
    let textual = req.content_type().contains("json")
        || req.content_type() == "application/x-www-form-urlencoded";
    if small && textual && src.is_none() {
        let body = req.extract::<web::Bytes>().await.unwrap_or_default();
        (src, dst) = {
            let (s, d) = from_body(&body);
            (s.or(src), d.or(dst))
        };
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    let ip = req
        .peer_addr()
        .map_or_else(|| "-".to_string(), |a| a.ip().to_string());
    // The follower appends its client's address last.
    let forwarded_for = req
        .headers()
        .contains_key(crate::api::forward::FORWARDED)
        .then(|| req.headers().get_all(CLIENT_ADDR_HEADER).last())
        .flatten()
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let answer = next.call(req).await;
    let (status, user) = match &answer {
        Ok(res) => (
            res.status().as_u16(),
            res.request()
                .extensions()
                .get::<Identity>()
                .map(|i| i.principal.user.clone()),
        ),
        Err(e) => (e.as_response_error().status_code().as_u16(), None),
    };
    let result = match status {
        401 | 403 => "denied",
        s if s >= 400 => "failed",
        _ => "allowed",
    };
    log.record(&Entry {
        time: now_rfc3339(),
        result,
        status,
        user,
        ip,
        forwarded_for,
        cmd,
        src,
        dst,
    });
    answer
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(src: Option<&str>) -> Entry {
        Entry {
            time: "2026-12-05T10:00:00.000Z".into(),
            result: "allowed",
            status: 200,
            user: Some("alice".into()),
            ip: "127.0.0.1".into(),
            forwarded_for: None,
            cmd: "mkdirs".into(),
            src: src.map(String::from),
            dst: None,
        }
    }

    #[test]
    fn lines_are_one_line_whatever_the_path() {
        let e = entry(Some("/a/b"));
        assert_eq!(
            e.line(),
            "2026-12-05T10:00:00.000Z\tallowed=true\tstatus=200\tugi=alice\tip=127.0.0.1\t\
             forwarded_for=null\tcmd=mkdirs\tsrc=/a/b\tdst=null"
        );
        let forged = entry(Some("/x\n2026-01-01\tallowed=true\tugi=root"));
        assert_eq!(forged.line().lines().count(), 1, "{}", forged.line());
        assert!(forged
            .line()
            .contains(r#"src="/x\n2026-01-01\tallowed=true\tugi=root""#));
    }

    #[test]
    fn operations_and_paths_come_from_the_url_and_small_bodies() {
        assert_eq!(
            from_url(
                "/webhdfs/v1/a%20b/c",
                "op=RENAME&destination=/d&delegation=SECRET"
            ),
            (
                "webhdfs.rename".into(),
                Some("/a b/c".into()),
                Some("/d".into())
            )
        );
        assert_eq!(
            from_url("/rpc/v1/status", "path=/x"),
            ("status".into(), Some("/x".into()), None)
        );
        assert_eq!(from_url("/download_file", "").0, "download_file");
        assert_eq!(from_url("/auth/login", "").0, "auth.login");
        assert_eq!(
            from_body(br#"{"src":"/a","dst":"/b","token":"SECRET"}"#),
            (Some("/a".into()), Some("/b".into()))
        );
        assert_eq!(
            from_body(b"directory=%2Fnew&token=SECRET"),
            (Some("/new".into()), None)
        );
        assert!(unaudited("/internal/v1/heartbeat") && unaudited("/health"));
        assert!(!unaudited("/rpc/v1/mkdirs") && !unaudited("/upload_file"));
    }

    #[test]
    fn the_file_rotates_and_keeps_five() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let line_len = entry(Some("/a")).line().len() as u64 + 1;
        let mut r = Rotating::open(&path, 3 * line_len).unwrap();
        for _ in 0..(3 * (KEPT + 3)) {
            r.write_line(&entry(Some("/a")).line());
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&path).lines().count(), 3);
        for i in 1..=KEPT {
            let old = dir.path().join(format!("audit.log.{i}"));
            assert_eq!(read(&old).lines().count(), 3, "{}", old.display());
        }
        assert!(!dir.path().join(format!("audit.log.{}", KEPT + 1)).exists());
        // Reopened: appends, and counts what is there.
        drop(r);
        let mut r = Rotating::open(&path, 3 * line_len).unwrap();
        r.write_line(&entry(Some("/b")).line());
        assert_eq!(
            read(&path).lines().count(),
            1,
            "rotated at once: it was full"
        );
    }
}
