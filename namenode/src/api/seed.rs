//! The seed endpoints: the original form-style HTTP API, kept as documented.
//!
//! Each handler is an ordinary client of the cluster: it relays through
//! `dfs_client::DfsClient` (app data, pointing at this namenode) and never
//! touches namenode internals, so uploads take the same write path as
//! `dfs put` and downloads hand out only verified bytes, as `dfs get` does.
//! File bytes are streamed through, never buffered.
//!
//! Parameters may be sent as a form (`application/x-www-form-urlencoded` or
//! `multipart/form-data`), as a JSON object (`application/json`; strings,
//! numbers and booleans), or in the query string; the body wins over the
//! query. Paths follow the dfs path rules (absolute, `/`-separated). Booleans
//! accept `true/false/1/0/yes/no/on/off` in any case.
//!
//! | endpoint | parameters | success |
//! | --- | --- | --- |
//! | `POST /create_directory` | `directory_name` (parents are made) | 201, the directory's `FileStatus` |
//! | `POST /delete_directory` | `directory_name`, optional `recursive` | 200, `{"files_deleted","directories_deleted","bytes_deleted"}`; 409 on a non-empty directory without `recursive`; 400 on a file |
//! | `POST /upload_file` | multipart: part `file` (its filename names the file); optional fields `directory` (default `/`), `replication`, `overwrite`, `file_name` (when the part has no filename), sent *before* `file` or in the query string | 201, the new file's `FileStatus`; 409 if it exists and `overwrite` is not set |
//! | `POST /download_file` (also `GET`) | `file_name` | 200, the bytes; `Content-Length`, `Content-Type: application/octet-stream`, `Content-Disposition: attachment; filename="…"`, `X-Checksum-SHA256: <hex>`, `ETag: "<hex>"`; 400 on a directory |
//! | `GET /file_list` (also `POST`) | none | 200, `{"files":[{"path","size","replication","sha256","modification_time"}…]}`, every file |
//! | `POST /list_directory` (also `GET`) | `directory_name` (default `/`) | 200, `{"path","entries":[FileStatus…],"has_more":false}` |
//! | `POST /delete_file` | `file_name` | 200, as `/delete_directory`; 400 on a directory |
//! | `POST /rename` | `src` and `dst` (or `old_name` and `new_name`), optional `overwrite` | 200, the moved entry's `FileStatus`; moving into an existing directory puts it inside |
//! | `POST /file_info` (also `GET`) | `file_name` | 200, `{"status":FileStatus,"blocks":[{"block_id","offset","len","sha256","replicas":[{"id","addr"}]}…]}` |
//!
//! `path` is accepted in place of `directory_name` / `file_name`.
//!
//! Errors are `{"error":{"code","message"}}` with the code's status: 400 bad
//! input (a bad path carries the path parser's message), 404 missing, 409
//! conflict, 503 not enough datanodes or safe mode, 507 no space. A download
//! that fails before its first byte answers with that JSON error; one that
//! fails later (no intact replica left) is cut short, so the client sees a
//! body shorter than `Content-Length`, never a wrong byte.
use super::error::ApiError;
use actix_multipart::{Field, Multipart};
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use dfs_client::{ClientError, DfsClient, NoProgress, UploadOptions};
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{DirectoryListing, FileLocations, FileStatus, FileType};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// The largest value a small form field (not the file) may have.
const MAX_FIELD_BYTES: usize = 4096;
/// Parts of an upload form that are neither the file nor a known field are
/// read and ignored, up to this size.
const MAX_IGNORED_PART_BYTES: usize = 1024 * 1024;

/// Mounts the seed endpoints. Expects `web::Data<dfs_client::DfsClient>` in
/// app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/create_directory", web::post().to(create_directory))
        .route("/delete_directory", web::post().to(delete_directory))
        .route("/upload_file", web::post().to(upload_file))
        .route("/download_file", web::post().to(download_file))
        .route("/download_file", web::get().to(download_file))
        .route("/file_list", web::get().to(file_list))
        .route("/file_list", web::post().to(file_list))
        .route("/list_directory", web::post().to(list_directory))
        .route("/list_directory", web::get().to(list_directory))
        .route("/delete_file", web::post().to(delete_file))
        .route("/rename", web::post().to(rename))
        .route("/file_info", web::post().to(file_info))
        .route("/file_info", web::get().to(file_info));
}

// --- errors ---------------------------------------------------------------

/// A seed endpoint's error: a relayed `ClientError` or a bad parameter. It
/// becomes `{"error":{"code","message"}}` with the code's status through
/// [`ApiError`], like every other error of the namenode.
#[derive(Debug)]
struct SeedError {
    code: ErrorCode,
    message: String,
}

impl SeedError {
    fn bad(message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::BadRequest,
            message: message.into(),
        }
    }

    fn api(&self) -> ApiError {
        ApiError::new(self.code, self.message.clone())
    }
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ClientError> for SeedError {
    fn from(e: ClientError) -> Self {
        Self {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Answered through the namenode's one error-to-HTTP conversion.
impl ResponseError for SeedError {
    fn status_code(&self) -> StatusCode {
        self.api().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.api().error_response()
    }
}

type SeedResult = Result<HttpResponse, SeedError>;

// --- parameters -----------------------------------------------------------

/// Request parameters from the query string and the body (form, multipart
/// form or JSON object), the body's winning.
#[derive(Debug, Default)]
struct Params(HashMap<String, String>);

impl Params {
    fn from_query(query: &str) -> Result<Self, SeedError> {
        let mut p = Params::default();
        p.add_urlencoded(query)?;
        Ok(p)
    }

    async fn from_request(req: &HttpRequest, body: web::Bytes) -> Result<Self, SeedError> {
        let mut p = Self::from_query(req.query_string())?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(p);
        }
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if ct.starts_with("application/json")
            || (ct.is_empty() && body.trim_ascii_start().starts_with(b"{"))
        {
            p.add_json(&body)?;
        } else if ct.starts_with("multipart/form-data") {
            let stream = futures_util::stream::once(async move { Ok(body) });
            let mut form = Multipart::new(req.headers(), stream);
            while let Some(field) = form.next().await {
                let mut field =
                    field.map_err(|e| SeedError::bad(format!("bad multipart form: {e}")))?;
                let name = field.name().unwrap_or_default().to_string();
                let value = read_text_field(&mut field, &name).await?;
                p.0.insert(name, value);
            }
        } else if ct.is_empty()
            || ct.starts_with("application/x-www-form-urlencoded")
            || ct.starts_with("text/plain")
        {
            let text = std::str::from_utf8(&body)
                .map_err(|_| SeedError::bad("the form body is not UTF-8"))?;
            p.add_urlencoded(text)?;
        } else {
            return Err(SeedError::bad(format!(
                "unsupported Content-Type {ct:?}: send the parameters as a form or a JSON object"
            )));
        }
        Ok(p)
    }

    fn add_urlencoded(&mut self, text: &str) -> Result<(), SeedError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let pairs = dfs_common::proto::webhdfs::parse_query(text)
            .map_err(|e| SeedError::bad(format!("bad form parameters: {e}")))?;
        self.0.extend(pairs);
        Ok(())
    }

    fn add_json(&mut self, body: &[u8]) -> Result<(), SeedError> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| SeedError::bad(format!("the body is not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(SeedError::bad(
                "the JSON body must be an object of parameters",
            ));
        };
        for (k, v) in map {
            let s = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => {
                    return Err(SeedError::bad(format!(
                        "parameter `{k}` must be a string, number or boolean"
                    )))
                }
            };
            self.0.insert(k, s);
        }
        Ok(())
    }

    /// The first of `names` that is present.
    fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.0.get(*n))
            .map(String::as_str)
    }

    fn path(&self, names: &[&str]) -> Result<DfsPath, SeedError> {
        let first = names.first().copied().unwrap_or("path");
        match self.get(names) {
            Some(s) => parse_path(first, s),
            None => Err(SeedError::bad(format!("missing parameter `{first}`"))),
        }
    }

    fn path_or_root(&self, names: &[&str]) -> Result<DfsPath, SeedError> {
        match self.get(names) {
            Some(s) if !s.trim().is_empty() => {
                parse_path(names.first().copied().unwrap_or("path"), s)
            }
            _ => Ok(DfsPath::root()),
        }
    }

    fn flag(&self, name: &str) -> Result<bool, SeedError> {
        match self.get(&[name]) {
            None => Ok(false),
            Some(v) => parse_bool(name, v),
        }
    }
}

fn parse_path(name: &str, value: &str) -> Result<DfsPath, SeedError> {
    DfsPath::parse(value.trim()).map_err(|e| SeedError::bad(format!("{name}: {e}")))
}

fn parse_bool(name: &str, value: &str) -> Result<bool, SeedError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(SeedError::bad(format!(
            "`{name}` must be true or false, not {value:?}"
        ))),
    }
}

fn parse_replication(value: &str) -> Result<u16, SeedError> {
    match value.trim().parse::<u16>() {
        Ok(n) if (1..=dfs_common::MAX_REPLICATION).contains(&n) => Ok(n),
        _ => Err(SeedError::bad(format!(
            "`replication` must be a whole number from 1 to {}, not {value:?}",
            dfs_common::MAX_REPLICATION
        ))),
    }
}

/// A small form field's value, at most [`MAX_FIELD_BYTES`].
async fn read_text_field(field: &mut Field, name: &str) -> Result<String, SeedError> {
    let bytes = field
        .bytes(MAX_FIELD_BYTES)
        .await
        .map_err(|_| {
            SeedError::bad(format!(
                "form field `{name}` is longer than {MAX_FIELD_BYTES} bytes"
            ))
        })?
        .map_err(|e| SeedError::bad(format!("reading form field `{name}`: {e}")))?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| SeedError::bad(format!("form field `{name}` is not UTF-8")))
}

// --- namespace handlers ---------------------------------------------------

async fn create_directory(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["directory_name", "path"])?;
    let status = dfs.mkdirs(&path, true).await?;
    Ok(HttpResponse::Created().json(status))
}

async fn delete_directory(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["directory_name", "path"])?;
    let recursive = p.flag("recursive")?;
    if dfs.status(&path).await?.file_type != FileType::Directory {
        return Err(SeedError::bad(format!(
            "{path} is a file, not a directory; use /delete_file"
        )));
    }
    let deleted = dfs.delete(&path, recursive).await?;
    Ok(HttpResponse::Ok().json(deleted))
}

async fn delete_file(dfs: web::Data<DfsClient>, req: HttpRequest, body: web::Bytes) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["file_name", "path"])?;
    if dfs.status(&path).await?.file_type == FileType::Directory {
        return Err(SeedError::bad(format!(
            "{path} is a directory, not a file; use /delete_directory"
        )));
    }
    let deleted = dfs.delete(&path, false).await?;
    Ok(HttpResponse::Ok().json(deleted))
}

async fn rename(dfs: web::Data<DfsClient>, req: HttpRequest, body: web::Bytes) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let src = p.path(&["src", "old_name"])?;
    let dst = p.path(&["dst", "new_name"])?;
    let overwrite = p.flag("overwrite")?;
    let status = dfs.rename(&src, &dst, overwrite).await?;
    Ok(HttpResponse::Ok().json(status))
}

async fn list_directory(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path_or_root(&["directory_name", "path"])?;
    let entries = dfs.list(&path).await?;
    Ok(HttpResponse::Ok().json(DirectoryListing {
        path,
        entries,
        has_more: false,
    }))
}

async fn file_info(dfs: web::Data<DfsClient>, req: HttpRequest, body: web::Bytes) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["file_name", "path"])?;
    let status = dfs.status(&path).await?;
    let info = if status.file_type == FileType::Directory {
        FileLocations {
            status,
            blocks: Vec::new(),
        }
    } else {
        dfs.locations(&path).await?
    };
    Ok(HttpResponse::Ok().json(info))
}

/// One row of `/file_list`.
#[derive(serde::Serialize)]
struct FileListEntry {
    path: DfsPath,
    size: u64,
    replication: u16,
    sha256: Option<String>,
    modification_time: u64,
}

async fn file_list(dfs: web::Data<DfsClient>) -> SeedResult {
    let mut files = Vec::new();
    let mut dirs = VecDeque::from([DfsPath::root()]);
    while let Some(dir) = dirs.pop_front() {
        let entries = match dfs.list(&dir).await {
            Ok(entries) => entries,
            // Removed while we walked: not an error for a listing.
            Err(e) if dir != DfsPath::root() && e.code() == ErrorCode::NotFound => continue,
            // Access control on: the caller sees what it may list.
            Err(e) if dir != DfsPath::root() && e.code() == ErrorCode::Forbidden => continue,
            Err(e) => return Err(e.into()),
        };
        for e in entries {
            match e.file_type {
                FileType::Directory => dirs.push_back(e.path),
                FileType::File => files.push(FileListEntry {
                    path: e.path,
                    size: e.length,
                    replication: e.replication,
                    sha256: e.sha256.map(|d| d.to_hex()),
                    modification_time: e.modification_time,
                }),
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(HttpResponse::Ok().json(serde_json::json!({ "files": files })))
}

// --- upload ---------------------------------------------------------------

/// The options of an upload form, from the query string and the fields that
/// come before the `file` part.
struct UploadForm {
    directory: Option<String>,
    file_name: Option<String>,
    replication: Option<u16>,
    overwrite: bool,
}

impl UploadForm {
    fn set(&mut self, name: &str, value: String) -> Result<(), SeedError> {
        match name {
            "directory" | "directory_name" => self.directory = Some(value),
            "file_name" => self.file_name = Some(value),
            "replication" if value.trim().is_empty() => self.replication = None,
            "replication" => self.replication = Some(parse_replication(&value)?),
            "overwrite" => self.overwrite = parse_bool("overwrite", &value)?,
            _ => {}
        }
        Ok(())
    }

    fn is_option(name: &str) -> bool {
        matches!(
            name,
            "directory" | "directory_name" | "file_name" | "replication" | "overwrite"
        )
    }

    /// Where the file goes: `directory` joined with the part's filename (its
    /// last component, as some browsers send a whole local path).
    fn target(&self, part_filename: Option<&str>) -> Result<DfsPath, SeedError> {
        let dir = match self.directory.as_deref() {
            Some(d) if !d.trim().is_empty() => parse_path("directory", d)?,
            _ => DfsPath::root(),
        };
        let from_part = part_filename
            .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f))
            .filter(|f| !f.is_empty());
        let Some(name) = from_part.or(self.file_name.as_deref().filter(|f| !f.is_empty())) else {
            return Err(SeedError::bad("the `file` part has no filename (choose a file, or send a `file_name` field before it)"));
        };
        dir.join(name)
            .map_err(|e| SeedError::bad(format!("file name {name:?}: {e}")))
    }
}

async fn upload_file(dfs: web::Data<DfsClient>, req: HttpRequest, form: Multipart) -> SeedResult {
    let status = read_upload_form(req.query_string(), form, &mut ClusterSink(&dfs)).await?;
    Ok(HttpResponse::Created().json(status))
}

/// Where the `file` part of an upload form goes. The handler stores it in
/// the cluster ([`ClusterSink`]); the fuzz target reads it into memory
/// ([`fuzzing::upload_form`]), so the form reader is exercised without one.
trait UploadSink {
    type Stored;
    /// Takes the part's bytes from `reader` and stores them at `path`.
    async fn store<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        path: &DfsPath,
        opts: &UploadOptions,
        reader: R,
    ) -> Result<Self::Stored, SeedError>;
    /// Takes a stored file back out (the form was refused after it).
    async fn discard(&mut self, stored: Self::Stored);
}

/// Relays the file into the write pipeline through `dfs_client`.
struct ClusterSink<'a>(&'a DfsClient);

impl UploadSink for ClusterSink<'_> {
    type Stored = FileStatus;

    async fn store<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        path: &DfsPath,
        opts: &UploadOptions,
        reader: R,
    ) -> Result<FileStatus, SeedError> {
        let status = self
            .0
            .upload(path, reader, opts, &NoProgress)
            .await
            .map_err(|e| match e {
                // Only the source fails as I/O: the request body broke off.
                ClientError::Io(e) => {
                    SeedError::bad(format!("the uploaded file could not be read: {e}"))
                }
                other if other.code() == ErrorCode::Conflict && !opts.overwrite => {
                    let mut e = SeedError::from(other);
                    e.message.push_str(" (send overwrite=true to replace it)");
                    e
                }
                other => other.into(),
            })?;
        log::info!(
            "seed upload: wrote {} ({} bytes)",
            status.path,
            status.length
        );
        Ok(status)
    }

    async fn discard(&mut self, status: FileStatus) {
        if let Err(e) = self.0.delete(&status.path, false).await {
            log::warn!(
                "seed upload: could not remove {} after a refused form: {e}",
                status.path
            );
        }
    }
}

/// Reads an upload form: options from `query` and the fields before the
/// `file` part, then the part itself into `sink`; refuses (and discards the
/// stored file) when anything but other parts follows it.
async fn read_upload_form<S: UploadSink>(
    query: &str,
    mut form: Multipart,
    sink: &mut S,
) -> Result<S::Stored, SeedError> {
    let query = Params::from_query(query)?;
    let mut opts = UploadForm {
        directory: None,
        file_name: None,
        replication: None,
        overwrite: false,
    };
    for (k, v) in &query.0 {
        opts.set(k, v.clone())?;
    }
    let mut uploaded: Option<S::Stored> = None;
    let mut failed: Option<SeedError> = None;
    let mut late: Option<String> = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| {
            SeedError::bad(format!(
                "/upload_file needs a multipart/form-data body with a `file` part: {e}"
            ))
        })?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if uploaded.is_some() || failed.is_some() {
                late = Some("only one `file` part may be sent".into());
                break;
            }
            let filename = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_string);
            let path = opts.target(filename.as_deref())?;
            let upload_opts = UploadOptions {
                overwrite: opts.overwrite,
                replication: opts.replication,
                block_size: None,
                ..Default::default()
            };
            // The part's bytes go straight into the write pipeline.
            let reader = tokio_util::io::StreamReader::new(
                field.map_err(|e| std::io::Error::other(e.to_string())),
            );
            match sink.store(&path, &upload_opts, reader).await {
                Ok(stored) => uploaded = Some(stored),
                // Stored at the default `/`: a `directory` sent after the
                // file may be why it failed (a same-named file at `/`), so
                // read on and blame the field order if one comes.
                Err(e) if opts.directory.is_none() => failed = Some(e),
                Err(e) => return Err(e),
            }
        } else if UploadForm::is_option(&name) {
            let value = read_text_field(&mut field, &name).await?;
            if uploaded.is_some() || failed.is_some() {
                late = Some(format!(
                    "form field `{name}` came after the `file` part; send it before `file` (or as a query parameter)"
                ));
                break;
            }
            opts.set(&name, value)?;
        } else {
            // Something else (a submit button, say): read and ignore.
            let ignored = field.bytes(MAX_IGNORED_PART_BYTES).await;
            if ignored.is_err() {
                return Err(SeedError::bad(format!(
                    "unexpected large form part `{name}` (only `file` may be large)"
                )));
            }
        }
    }
    if let Some(e) = failed {
        return Err(match late {
            Some(problem) => SeedError::bad(format!(
                "{problem}; nothing was stored (without it the file went to /: {e})"
            )),
            None => e,
        });
    }
    match (uploaded, late) {
        (None, _) => Err(SeedError::bad("the form has no `file` part")),
        (Some(stored), Some(problem)) => {
            // The request is refused as a whole: take the file back out.
            sink.discard(stored).await;
            Err(SeedError::bad(format!(
                "{problem}; the upload was discarded"
            )))
        }
        (Some(stored), None) => Ok(stored),
    }
}

/// For the fuzz target (`fuzz/fuzz_targets/upload_form.rs`): the real
/// `/upload_file` form reader over a form the caller builds, with the file
/// part read into memory instead of the cluster.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// What an accepted upload form asked for.
    #[derive(Debug)]
    pub struct Upload {
        pub path: DfsPath,
        pub overwrite: bool,
        pub replication: Option<u16>,
        pub content: Vec<u8>,
    }

    struct Memory;

    impl UploadSink for Memory {
        type Stored = Upload;

        async fn store<R: tokio::io::AsyncRead + Unpin>(
            &mut self,
            path: &DfsPath,
            opts: &UploadOptions,
            mut reader: R,
        ) -> Result<Upload, SeedError> {
            let mut content = Vec::new();
            reader
                .read_to_end(&mut content)
                .await
                .map_err(|e| SeedError::bad(format!("the uploaded file could not be read: {e}")))?;
            Ok(Upload {
                path: path.clone(),
                overwrite: opts.overwrite,
                replication: opts.replication,
                content,
            })
        }

        async fn discard(&mut self, _: Upload) {}
    }

    /// The upload, or the 400 answer's status and message.
    pub async fn upload_form(query: &str, form: Multipart) -> Result<Upload, (u16, String)> {
        read_upload_form(query, form, &mut Memory)
            .await
            .map_err(|e| (e.status_code().as_u16(), e.message))
    }
}

// --- download -------------------------------------------------------------

async fn download_file(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["file_name", "path"])?;
    // Primed: a file whose first block cannot be read gets a JSON error
    // rather than a cut-off body.
    let reader = dfs.open(&path, 0, None).await?.primed().await?;
    let len = reader.len;
    let status = reader.status.clone();
    let file = path.to_string();
    let body = reader.inspect_err(move |e| log::error!("seed download of {file} cut short: {e}"));

    let mut resp = HttpResponse::Ok();
    resp.no_chunking(len)
        .content_type("application/octet-stream")
        // Already-compressed or not, these bytes must arrive as stored and
        // match Content-Length: keep compression middleware off them.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .insert_header(attachment(path.name().unwrap_or("download")));
    if let Some(sha) = status.sha256 {
        resp.insert_header(("X-Checksum-SHA256", sha.to_hex()))
            .insert_header((header::ETAG, format!("\"{}\"", sha.to_hex())));
    }
    Ok(resp.streaming(body))
}

/// `Content-Disposition: attachment; filename="…"`, with an ASCII fallback
/// and `filename*` for names that are not plain ASCII.
fn attachment(name: &str) -> ContentDisposition {
    let plain = name.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(fallback)];
    if !plain {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: name.as_bytes().to_vec(),
        }));
    }
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "1", "yes", "On"] {
            assert!(parse_bool("x", t).unwrap());
        }
        for f in ["false", "0", "No", "off", ""] {
            assert!(!parse_bool("x", f).unwrap());
        }
        assert!(parse_bool("x", "maybe").is_err());
    }

    #[test]
    fn params_from_json_and_form() {
        let mut p = Params::from_query("directory_name=%2Fq&recursive=1").unwrap();
        p.add_json(br#"{"directory_name":"/a b","recursive":true,"n":3,"x":null}"#)
            .unwrap();
        assert_eq!(p.path(&["directory_name"]).unwrap().as_str(), "/a b");
        assert!(p.flag("recursive").unwrap());
        assert_eq!(p.get(&["n"]), Some("3"));
        assert!(p.add_json(b"[1]").is_err());
        let mut p = Params::default();
        p.add_urlencoded("file_name=%2Fx%2Fy+z&old_name=%2Fa")
            .unwrap();
        assert_eq!(p.path(&["file_name"]).unwrap().as_str(), "/x/y z");
        assert_eq!(p.path(&["src", "old_name"]).unwrap().as_str(), "/a");
        let e = p.path(&["dst", "new_name"]).unwrap_err();
        assert!(e.message.contains("`dst`"));
        p.add_urlencoded("file_name=relative").unwrap();
        let e = p.path(&["file_name"]).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains("not absolute"), "{}", e.message);
    }

    #[test]
    fn upload_target() {
        let mut f = UploadForm {
            directory: None,
            file_name: None,
            replication: None,
            overwrite: false,
        };
        assert_eq!(f.target(Some("a.txt")).unwrap().as_str(), "/a.txt");
        assert_eq!(
            f.target(Some("C:\\Users\\me\\b.bin")).unwrap().as_str(),
            "/b.bin"
        );
        assert!(f.target(Some("")).is_err());
        assert!(f.target(None).is_err());
        assert!(f.target(Some("..")).is_err());
        f.set("directory", "/d/e".into()).unwrap();
        f.set("file_name", "n".into()).unwrap();
        assert_eq!(f.target(None).unwrap().as_str(), "/d/e/n");
        assert!(f.set("replication", "0".into()).is_err());
        f.set("replication", "2".into()).unwrap();
        assert_eq!(f.replication, Some(2));
        f.set("directory", "nope".into()).unwrap();
        assert!(f.target(Some("x")).is_err());
    }

    /// The form reader the handler uses, over an in-memory form in small
    /// chunks (the `upload_form` fuzz target does this at scale).
    #[actix_web::test]
    async fn upload_form_reader() {
        async fn read(query: &str, body: &str) -> Result<fuzzing::Upload, (u16, String)> {
            let mut headers = actix_web::http::header::HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("multipart/form-data; boundary=B"),
            );
            let chunks: Vec<_> = body
                .as_bytes()
                .chunks(7)
                .map(|c| Ok::<_, actix_web::error::PayloadError>(web::Bytes::copy_from_slice(c)))
                .collect();
            let form = Multipart::new(&headers, futures_util::stream::iter(chunks));
            fuzzing::upload_form(query, form).await
        }
        let part = |name: &str, extra: &str, value: &str| {
            format!(
                "--B\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n{value}\r\n"
            )
        };
        let body = part("directory", "", "/docs")
            + &part(
                "file",
                "; filename=\"C:\\\\x\\\\r.pdf\"",
                "--B-ish\r\nbytes",
            )
            + &part("submit", "", "Upload")
            + "--B--\r\n";
        let u = read("overwrite=true", &body).await.unwrap();
        assert_eq!(u.path.as_str(), "/docs/r.pdf");
        assert!(u.overwrite);
        assert_eq!(u.content, b"--B-ish\r\nbytes");

        let late =
            part("file", "; filename=\"a\"", "x") + &part("overwrite", "", "true") + "--B--\r\n";
        let (status, msg) = read("", &late).await.unwrap_err();
        assert_eq!(status, 400);
        assert!(msg.contains("came after the `file` part"), "{msg}");
        // The namenode's replication range, as every door enforces it (the
        // upload_form fuzz target found the form reader taking 111).
        let too_many = part("replication", "", "111") + &part("file", "; filename=\"a\"", "x");
        let (status, msg) = read("", &(too_many + "--B--\r\n")).await.unwrap_err();
        assert_eq!(status, 400);
        assert!(msg.contains("1 to 32"), "{msg}");
        let (status, _) = read("", "--B\r\nContent-Disposition: form-data; name=\"fi")
            .await
            .unwrap_err();
        assert_eq!(status, 400);
        let (status, _) = read("", &(part("file", "; filename=\"..\"", "x") + "--B--\r\n"))
            .await
            .unwrap_err();
        assert_eq!(status, 400);
    }

    #[test]
    fn attachment_header() {
        let h = attachment("report \"q\".txt").to_string();
        assert!(h.starts_with("attachment; filename="), "{h}");
        let h = attachment("données.csv").to_string();
        assert!(h.contains("filename*=UTF-8''donn%C3%A9es.csv"), "{h}");
    }
}
