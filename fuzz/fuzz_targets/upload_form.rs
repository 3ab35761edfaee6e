//! The seed `/upload_file` form reader (`namenode::api::seed`), driven
//! through the real multipart parser (actix-multipart over an in-memory
//! body, split into chunks at fuzzed places) with the file part read into
//! memory instead of the cluster.
//!
//! Two kinds of input, by the first byte:
//! - a raw body under a fixed boundary: no panic, every refusal is a 400,
//!   and an accepted form names a valid path;
//! - a well-formed form built from structured input (fields before the file
//!   part, the file part, maybe fields after it): the reader's answer must
//!   be exactly what the documented rules say: the target path
//!   (`directory` joined with the part's filename, its last component, or
//!   with `file_name`), the options, and the file's bytes unchanged.
#![no_main]
use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use dfs_common::path::DfsPath;
use libfuzzer_sys::fuzz_target;
use namenode::api::seed::fuzzing::{upload_form, Upload};

const BOUNDARY: &str = "dfs-fuzz-boundary-7Hq";

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
}

fn run(query: &str, body: &[u8], cuts: &[u8]) -> Result<Upload, (u16, String)> {
    // Split the body where the fuzzer says: boundaries across chunks. No
    // empty chunks: actix-http's payload never yields one, and
    // actix-multipart 0.8.5 stops (a lost wake-up) after 16 empty chunks in
    // a row (`PayloadBuffer::poll_stream`), which this target found.
    let mut chunks = Vec::new();
    let mut rest = body;
    for &c in cuts {
        if rest.len() < 2 {
            break;
        }
        let at = 1 + (c as usize) % (rest.len() - 1);
        chunks.push(Bytes::copy_from_slice(&rest[..at]));
        rest = &rest[at..];
    }
    chunks.push(Bytes::copy_from_slice(rest));
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/form-data; boundary={BOUNDARY}"))
            .expect("a header value"),
    );
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, PayloadError>));
    let form = Multipart::new(&headers, stream);
    RT.with(|rt| rt.block_on(upload_form(query, form)))
}

#[derive(Debug, Arbitrary)]
enum FieldName {
    Directory,
    DirectoryName,
    FileName,
    Replication,
    Overwrite,
    Other(String),
}

impl FieldName {
    fn as_str(&self) -> &str {
        match self {
            FieldName::Directory => "directory",
            FieldName::DirectoryName => "directory_name",
            FieldName::FileName => "file_name",
            FieldName::Replication => "replication",
            FieldName::Overwrite => "overwrite",
            FieldName::Other(s) => s,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Form {
    before: Vec<(FieldName, String)>,
    filename: Option<String>,
    content: Vec<u8>,
    after: Vec<(FieldName, String)>,
    cuts: Vec<u8>,
}

/// Safe inside a quoted header parameter and as a field value (a header
/// cannot carry control characters).
fn plain(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() || matches!(c, '"' | '\\'))
}

fn part(out: &mut Vec<u8>, name: &str, filename: Option<&str>, value: &[u8]) {
    out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
    let mut cd = format!("Content-Disposition: form-data; name=\"{name}\"");
    if let Some(f) = filename {
        cd.push_str(&format!("; filename=\"{f}\""));
    }
    out.extend_from_slice(cd.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// An accepted form: the target path, `overwrite`, `replication`.
type Accepted = (DfsPath, bool, Option<u16>);

/// What the documented rules say the reader answers: `Some(Ok(..))`
/// accepted, `Some(Err(()))` refused, `None` when the rules leave it open.
fn expected(f: &Form) -> Option<Result<Accepted, ()>> {
    let mut dir: Option<&str> = None;
    let mut file_name: Option<&str> = None;
    let mut replication = None;
    let mut overwrite = false;
    for (name, value) in &f.before {
        match name.as_str() {
            "directory" | "directory_name" => dir = Some(value),
            "file_name" => file_name = Some(value),
            "replication" if value.trim().is_empty() => replication = None,
            "replication" => match value.trim().parse::<u16>() {
                Ok(n) if (1..=dfs_common::MAX_REPLICATION).contains(&n) => replication = Some(n),
                _ => return Some(Err(())),
            },
            "overwrite" => match truthy(value) {
                Some(b) => overwrite = b,
                None => return Some(Err(())),
            },
            // A part named `file` before the file part is the file.
            "file" => return None,
            _ => {}
        }
    }
    let dir = match dir {
        Some(d) if !d.trim().is_empty() => match DfsPath::parse(d.trim()) {
            Ok(p) => p,
            Err(_) => return Some(Err(())),
        },
        _ => DfsPath::root(),
    };
    let from_part = f
        .filename
        .as_deref()
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .filter(|n| !n.is_empty());
    let Some(name) = from_part.or(file_name.filter(|n| !n.is_empty())) else {
        return Some(Err(()));
    };
    let Ok(path) = dir.join(name) else {
        return Some(Err(()));
    };
    // A known option (or a second file) after the file refuses the form.
    let late = f.after.iter().any(|(n, _)| {
        matches!(
            n.as_str(),
            "file" | "directory" | "directory_name" | "file_name" | "replication" | "overwrite"
        )
    });
    if late {
        return Some(Err(()));
    }
    Some(Ok((path, overwrite, replication)))
}

fn structured(f: Form) {
    let fields = f.before.iter().chain(&f.after);
    let simple = fields
        .clone()
        .all(|(n, v)| plain(n.as_str()) && plain(v) && !n.as_str().is_empty() && v.len() < 4096)
        && f.filename
            .as_deref()
            .is_none_or(|n| plain(n) && !n.is_empty())
        && !f
            .content
            .windows(BOUNDARY.len())
            .any(|w| w == BOUNDARY.as_bytes());
    let mut body = Vec::new();
    for (n, v) in &f.before {
        part(&mut body, n.as_str(), None, v.as_bytes());
    }
    part(&mut body, "file", f.filename.as_deref(), &f.content);
    for (n, v) in &f.after {
        part(&mut body, n.as_str(), None, v.as_bytes());
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let got = run("", &body, &f.cuts);
    if let Err((status, msg)) = &got {
        assert_eq!(*status, 400, "{msg}");
    }
    if !simple {
        return;
    }
    match (expected(&f), got) {
        (None, _) => {}
        (Some(Ok((path, overwrite, replication))), Ok(u)) => {
            assert_eq!(u.path, path);
            assert_eq!(u.overwrite, overwrite);
            assert_eq!(u.replication, replication);
            assert!(
                u.content == f.content,
                "the file's bytes changed on the way"
            );
        }
        (Some(Err(())), Err(_)) => {}
        (want, got) => panic!("expected {want:?}, the reader said {got:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(form) = Form::arbitrary_take_rest(Unstructured::new(rest)) {
            structured(form);
        }
        return;
    }
    // Raw: `query \n cuts \n body`.
    let mut it = rest.splitn(3, |&b| b == b'\n');
    let (query, cuts, body) = (
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
    );
    let query = String::from_utf8_lossy(query);
    match run(&query, body, cuts) {
        Ok(u) => {
            assert_eq!(DfsPath::parse(u.path.as_str()).as_ref(), Ok(&u.path));
            assert!(!u.path.is_root());
            if let Some(r) = u.replication {
                assert!((1..=dfs_common::MAX_REPLICATION).contains(&r));
            }
        }
        Err((status, msg)) => assert_eq!(status, 400, "{msg}"),
    }
});
