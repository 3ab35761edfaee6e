//! WebHDFS on the namenode: `/webhdfs/v1/<path>?op=...` (Hadoop's REST
//! API, parameters and JSON shapes in `dfs_common::proto::webhdfs`).
//!
//! - Metadata operations (GETFILESTATUS, LISTSTATUS[_BATCH], MKDIRS,
//!   RENAME, DELETE, SET*, GET*) call the [`Namesystem`] directly.
//! - Data operations take Hadoop's two steps: CREATE, APPEND and OPEN
//!   answer 307 with a `Location` on a datanode (or `200 {"Location":..}`
//!   with `noredirect=true`); the datanode's landing endpoint then writes or
//!   reads through `dfs_client`. With `webhdfs_data_via_namenode` the
//!   `Location` points back at this namenode instead, whose own landing
//!   ([`land`]) relays through `dfs_client` the same way, so that only the
//!   namenode's port need be reachable (NAT, containers). A request that
//!   carries `namenoderpcaddress` (every `Location` we hand out does) is a
//!   data step.
//! - Redirect targets: for OPEN a datanode holding the first block read,
//!   for CREATE and APPEND any live datanode (the pipeline of each block is
//!   chosen later by `add_block` anyway). The namenode's own address in a
//!   `Location` is the `Host` the client used, which is what it can reach.
//!
//! Errors are Hadoop's `RemoteException` JSON with Hadoop's statuses (404
//! FileNotFoundException, 403 FileAlreadyExistsException and other I/O
//! refusals, 400 IllegalArgumentException, 409 for a file another client
//! writes, 503 RetriableException in safe mode), not the `ErrorBody` of the
//! rest of the namenode: [`WebHdfsError`] is this API's one conversion.
//!
//! Hadoop's conventions kept: RENAME answers `{"boolean":false}` rather
//! than an error for a missing source or an existing destination file, and
//! DELETE answers false for a missing path.
use crate::auth::Caller;
use crate::error::NamenodeError;
use crate::namespace::permission::{Check, EXECUTE, READ, WRITE};
use crate::namesystem::Namesystem;
use actix_web::http::header::{CONTENT_LENGTH, LOCATION};
use actix_web::http::Method as HttpMethod;
use actix_web::{web, HttpRequest, HttpResponse};
use dfs_client::DfsClient;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileStatus as NativeStatus, FileType as NativeType};
use dfs_common::proto::client::{SetAttributesRequest, SetQuotaRequest, SnapshotRequest};
use dfs_common::proto::webhdfs::percent_encode as encode;
use dfs_common::proto::webhdfs::{
    permission_string, BooleanBody, ContentSummary, ContentSummaryBody, DirectoryListing,
    DirectoryListingBody, Exception, FileChecksum, FileChecksumBody, FileStatus, FileStatusBody,
    FileStatuses, FileStatusesBody, FileType, FsStatus, FsStatusBody, LocationBody, Method, Op,
    Params, PathBody, QuotaParam, QuotaUsage, QuotaUsageBody, CHECKSUM_ALGORITHM, PREFIX,
};
use dfs_common::proto::webhdfs::{
    DiffReportEntry, SnapshotDiffReport, SnapshotDiffReportBody, SnapshotEntry, SnapshotListBody,
    SnapshottableDirectory, SnapshottableDirectoryListBody,
};
use dfs_http::webhdfs::DataStep;
pub use dfs_http::webhdfs::WebHdfsError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Entries in one LISTSTATUS_BATCH page.
const BATCH_SIZE: u32 = 1000;

type Ns = web::Data<Namesystem>;
type Answer = Result<HttpResponse, WebHdfsError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource([PREFIX.to_string(), format!("{PREFIX}/{{tail:.*}}")])
            .route(web::get().to(dispatch))
            .route(web::put().to(dispatch))
            .route(web::post().to(dispatch))
            .route(web::delete().to(dispatch)),
    );
}

// --- errors ---------------------------------------------------------------

impl From<NamenodeError> for WebHdfsError {
    fn from(e: NamenodeError) -> Self {
        let exception = match &e {
            NamenodeError::NotFound(_) => Exception::FileNotFound,
            NamenodeError::AlreadyExists(_) | NamenodeError::IsADirectory(_) => {
                Exception::FileAlreadyExists
            }
            NamenodeError::NotEmpty(_) => Exception::PathIsNotEmptyDirectory,
            NamenodeError::NotADirectory(_) => Exception::ParentNotDirectory,
            NamenodeError::LeaseHeld(_) => Exception::AlreadyBeingCreated,
            NamenodeError::Conflict(_) => Exception::IoConflict,
            NamenodeError::InvalidArgument(_) => Exception::IllegalArgument,
            NamenodeError::PermissionDenied(_) => Exception::AccessControl,
            NamenodeError::NameQuotaExceeded(_) => Exception::NsQuotaExceeded,
            NamenodeError::SpaceQuotaExceeded(_) => Exception::DsQuotaExceeded,
            NamenodeError::NoLiveDatanodes(_) | NamenodeError::SafeMode(_) => Exception::Retriable,
            NamenodeError::Unavailable(_) => Exception::Standby,
            NamenodeError::NoSpace(_) => Exception::NoSpace,
            NamenodeError::Internal(_) => Exception::Io,
        };
        Self::new(exception, e.to_string())
    }
}

// --- parsing ----------------------------------------------------------------

/// One request, parsed.
#[derive(Clone)]
struct Request {
    op: Op,
    path: DfsPath,
    params: Params,
}

fn parse(req: &HttpRequest) -> Result<Request, WebHdfsError> {
    let method = match *req.method() {
        HttpMethod::GET | HttpMethod::HEAD => Method::Get,
        HttpMethod::PUT => Method::Put,
        HttpMethod::POST => Method::Post,
        HttpMethod::DELETE => Method::Delete,
        _ => {
            return Err(WebHdfsError::bad(format!(
                "unsupported method {}",
                req.method()
            )))
        }
    };
    let pairs = dfs_common::proto::webhdfs::parse_query(req.query_string())
        .map_err(|e| WebHdfsError::bad(format!("bad query string: {e}")))?;
    let params = Params::parse(&pairs).map_err(WebHdfsError::bad)?;
    let op = match &params.op {
        None => return Err(WebHdfsError::bad("missing parameter \"op\"")),
        Some(raw) => Op::parse(raw, method).map_err(WebHdfsError::bad)?,
    };
    let path = parse_path(req.uri().path())?;
    Ok(Request { op, path, params })
}

/// The path of a request's raw URL path (see
/// [`dfs_common::proto::webhdfs::path_from_url`]).
fn parse_path(raw_path: &str) -> Result<DfsPath, WebHdfsError> {
    dfs_common::proto::webhdfs::path_from_url(raw_path).map_err(WebHdfsError::bad)
}

// --- dispatch -------------------------------------------------------------

async fn dispatch(
    req: HttpRequest,
    ns: Ns,
    dfs: web::Data<DfsClient>,
    caller: Caller,
    body: web::Payload,
) -> Answer {
    let r = parse(&req)?;
    if caller.principal().is_some() {
        let (c, checked) = (caller.clone(), r.clone());
        look(&ns, move |ns| Ok(check_access(ns, &c, &checked)?)).await?;
    }
    let p = &r.params;
    let path = &r.path;
    match r.op {
        Op::GetFileStatus => {
            let st = status_of(&ns, path).await?;
            Ok(json(&FileStatusBody {
                file_status: to_webhdfs(&st, ""),
            }))
        }
        Op::ListStatus => {
            let at = path.clone();
            let statuses = look(&ns, move |ns| list_all(ns, &at)).await?;
            Ok(json(&FileStatusesBody {
                file_statuses: FileStatuses {
                    file_status: statuses,
                },
            }))
        }
        Op::ListStatusBatch => {
            let (at, after) = (path.clone(), p.start_after.clone());
            let body = look(&ns, move |ns| list_batch(ns, &at, after.as_deref())).await?;
            Ok(json(&body))
        }
        Op::GetContentSummary => {
            let s = ns
                .content_summary(path)
                .await
                .map_err(|e| missing_file(e, path))?;
            Ok(json(&ContentSummaryBody {
                content_summary: ContentSummary {
                    directory_count: s.directory_count,
                    file_count: s.file_count,
                    length: s.length,
                    quota: hadoop_quota(s.files_quota),
                    space_consumed: s.space_consumed,
                    space_quota: hadoop_quota(s.bytes_quota),
                    type_quota: BTreeMap::new(),
                },
            }))
        }
        Op::GetQuotaUsage => {
            let at = path.clone();
            let q = look(&ns, move |ns| {
                ns.quota(&at).map_err(|e| missing_file(e, &at))
            })
            .await?;
            Ok(json(&QuotaUsageBody {
                quota_usage: QuotaUsage {
                    file_and_directory_count: q.names,
                    quota: hadoop_quota(q.files_quota),
                    space_consumed: q.space_consumed,
                    space_quota: hadoop_quota(q.bytes_quota),
                    type_quota: BTreeMap::new(),
                },
            }))
        }
        Op::AllowSnapshot | Op::DisallowSnapshot | Op::DeleteSnapshot | Op::RenameSnapshot => {
            let (op, name, new_name) = match r.op {
                Op::AllowSnapshot => ("allow", None, None),
                Op::DisallowSnapshot => ("disallow", None, None),
                Op::DeleteSnapshot => ("delete", p.snapshot_name.clone(), None),
                _ => (
                    "rename",
                    p.old_snapshot_name.clone(),
                    p.snapshot_name.clone(),
                ),
            };
            let req = SnapshotRequest {
                path: path.clone(),
                name,
                new_name,
            };
            ns.snapshot(op, &req)
                .await
                .map_err(|e| missing_file(e, path))?;
            Ok(HttpResponse::Ok().finish())
        }
        Op::CreateSnapshot => {
            let req = SnapshotRequest {
                path: path.clone(),
                name: p.snapshot_name.clone(),
                new_name: None,
            };
            let made = ns
                .snapshot("create", &req)
                .await
                .map_err(|e| missing_file(e, path))?;
            Ok(json(&PathBody {
                path: made.path.to_string(),
            }))
        }
        Op::GetSnapshotList => {
            let at = path.clone();
            let list = look(&ns, move |ns| {
                let dir = at
                    .join(".snapshot")
                    .map_err(|e| WebHdfsError::bad(e.to_string()))?;
                ns.list(&dir, None, None).map_err(|e| missing_file(e, &at))
            })
            .await?;
            let entries = list
                .entries
                .iter()
                .enumerate()
                .map(|(i, st)| SnapshotEntry {
                    dir_status: to_webhdfs(st, &st.name),
                    full_path: st.path.to_string(),
                    snapshot_id: i as u64,
                    deletion_status: "ACTIVE".into(),
                })
                .collect();
            Ok(json(&SnapshotListBody {
                snapshot_list: entries,
            }))
        }
        Op::GetSnapshotDiff => {
            // Hadoop's client sends "" (or ".") for the live tree.
            let name = |n: &Option<String>| match n.as_deref() {
                None | Some("") => ".".to_string(),
                Some(s) => s.to_string(),
            };
            let (from, to) = (name(&p.old_snapshot_name), name(&p.snapshot_name));
            let at = path.clone();
            let (f, t) = (from.clone(), to.clone());
            let d = look(&ns, move |ns| {
                ns.snapshot_diff(&at, &f, &t)
                    .map_err(|e| missing_file(e, &at))
            })
            .await?;
            let shown = |n: &str| {
                if n == "." {
                    String::new()
                } else {
                    n.to_string()
                }
            };
            Ok(json(&SnapshotDiffReportBody {
                snapshot_diff_report: SnapshotDiffReport {
                    diff_list: d
                        .entries
                        .into_iter()
                        .map(|e| DiffReportEntry {
                            source_path: e.path,
                            kind: e.kind,
                            target_path: e.target,
                        })
                        .collect(),
                    from_snapshot: shown(&from),
                    snapshot_root: path.to_string(),
                    to_snapshot: shown(&to),
                },
            }))
        }
        Op::GetSnapshottableDirectoryList => {
            let dirs = look(&ns, |ns| Ok(ns.snapshottable_dirs()?)).await?;
            // As HDFS: a user who is not the superuser sees their own.
            let mine = |st: &NativeStatus| match caller.principal() {
                Some(p) if !p.superuser => st.owner == p.user,
                _ => true,
            };
            let list = dirs
                .into_iter()
                .filter(|(st, _)| mine(st))
                .map(|(st, n)| SnapshottableDirectory {
                    dir_status: to_webhdfs(&st, &st.name),
                    parent_full_path: st.path.parent().unwrap_or_else(DfsPath::root).to_string(),
                    snapshot_number: n as u64,
                    snapshot_quota: 65536,
                })
                .collect();
            Ok(json(&SnapshottableDirectoryListBody {
                snapshottable_directory_list: list,
            }))
        }
        Op::SetQuota => {
            let change = |q: Option<QuotaParam>| match q {
                None | Some(QuotaParam::Keep) => (None, false),
                Some(QuotaParam::Clear) => (None, true),
                Some(QuotaParam::Set(n)) => (Some(n), false),
            };
            let (files, clear_files) = change(p.namespace_quota);
            let (bytes, clear_bytes) = change(p.storage_space_quota);
            let req = SetQuotaRequest {
                path: path.clone(),
                files,
                bytes,
                clear_files,
                clear_bytes,
            };
            ns.set_quota(&req)
                .await
                .map_err(|e| missing_file(e, path))?;
            Ok(HttpResponse::Ok().finish())
        }
        Op::GetFileChecksum => {
            let st = status_of(&ns, path).await?;
            let digest = st.sha256.ok_or_else(|| not_a_file(path))?;
            Ok(json(&FileChecksumBody {
                file_checksum: FileChecksum {
                    algorithm: CHECKSUM_ALGORITHM.into(),
                    bytes: digest.to_hex(),
                    length: 32,
                },
            }))
        }
        Op::GetHomeDirectory => Ok(json(&PathBody {
            path: format!("/user/{}", caller.user().unwrap_or(p.user_or_default())),
        })),
        Op::GetTrashRoot => Ok(json(&PathBody {
            path: format!("/user/{}/.Trash", caller.trash_user()),
        })),
        Op::GetStatus => {
            let s = ns.summary()?;
            Ok(json(&FsStatusBody {
                fs_status: FsStatus {
                    capacity: s.capacity,
                    used: s.used,
                    remaining: s.available,
                },
            }))
        }
        Op::Mkdirs => {
            let owner = caller.owner_of_new(Some(p.user_or_default()));
            ns.mkdirs_as(path, true, owner.as_deref(), p.permission)
                .await?;
            Ok(boolean(true))
        }
        Op::Rename => rename(&ns, path, p).await,
        Op::Delete => match ns.delete(path, p.recursive.unwrap_or(false)).await {
            Ok(_) => Ok(boolean(true)),
            Err(NamenodeError::NotFound(_)) => Ok(boolean(false)),
            Err(NamenodeError::InvalidArgument(_)) if path.is_root() => Ok(boolean(false)),
            Err(e) => Err(e.into()),
        },
        Op::SetReplication => {
            let replication = p.replication.unwrap_or(ns.config().replication);
            match ns.set_replication(path, replication).await {
                Ok(_) => Ok(boolean(true)),
                Err(NamenodeError::IsADirectory(_)) => Ok(boolean(false)),
                Err(e) => Err(e.into()),
            }
        }
        Op::SetTimes => {
            let t = |v: Option<i64>| v.and_then(|t| u64::try_from(t).ok());
            set_attributes(
                &ns,
                SetAttributesRequest {
                    path: path.clone(),
                    modification_time: t(p.modification_time),
                    access_time: t(p.access_time),
                    ..Default::default()
                },
            )
            .await
        }
        Op::SetPermission => {
            set_attributes(
                &ns,
                SetAttributesRequest {
                    path: path.clone(),
                    permission: Some(p.permission.unwrap_or(0o755)),
                    ..Default::default()
                },
            )
            .await
        }
        Op::SetOwner => {
            if p.owner.is_none() && p.group.is_none() {
                return Err(WebHdfsError::bad("SETOWNER needs owner or group"));
            }
            set_attributes(
                &ns,
                SetAttributesRequest {
                    path: path.clone(),
                    owner: p.owner.clone(),
                    group: p.group.clone(),
                    ..Default::default()
                },
            )
            .await
        }
        Op::Create | Op::Append | Op::Open => {
            if p.namenode_rpc_address.is_some() {
                land(&req, &dfs, &r, body).await
            } else {
                let checked = r.clone();
                let base = look(&ns, move |ns| redirect_base(ns, &checked)).await?;
                redirect(&req, &ns, &r, base, caller.redirect_token())
            }
        }
    }
}

/// Runs `f`, which reads the namespace through its mutex, off the HTTP
/// worker thread (see [`super::off_worker`]).
async fn look<T: Send + 'static>(
    ns: &Ns,
    f: impl FnOnce(&Namesystem) -> Result<T, WebHdfsError> + Send + 'static,
) -> Result<T, WebHdfsError> {
    let ns = ns.clone().into_inner();
    web::block(move || f(&ns))
        .await
        .map_err(|e| NamenodeError::Internal(format!("a blocking read failed: {e}")))?
}

/// The status of `path`, read off the worker thread.
async fn status_of(ns: &Ns, path: &DfsPath) -> Result<NativeStatus, WebHdfsError> {
    let at = path.clone();
    look(ns, move |ns| {
        ns.status(&at).map_err(|e| missing_file(e, &at))
    })
    .await
}

/// Access control (on): what each operation needs, checked before it runs.
/// A data step relayed here (`namenoderpcaddress`) is checked by the
/// native protocol it goes through.
fn check_access(ns: &Namesystem, caller: &Caller, r: &Request) -> Result<(), NamenodeError> {
    let data_step = r.params.namenode_rpc_address.is_some()
        && matches!(r.op, Op::Create | Op::Append | Op::Open);
    if caller.principal().is_none() || data_step {
        return Ok(());
    }
    let (path, p) = (&r.path, &r.params);
    let check = match r.op {
        Op::GetFileStatus | Op::GetHomeDirectory | Op::GetTrashRoot | Op::GetStatus => {
            Check::traverse()
        }
        Op::GetFileChecksum | Op::Open => Check::target(READ),
        Op::ListStatus | Op::ListStatusBatch | Op::GetContentSummary | Op::GetQuotaUsage => {
            Check::target(READ | EXECUTE)
        }
        Op::SetQuota => return caller.require_superuser("setting a quota"),
        Op::AllowSnapshot | Op::DisallowSnapshot => {
            return caller.require_superuser("allowing snapshots")
        }
        Op::CreateSnapshot | Op::DeleteSnapshot | Op::RenameSnapshot => Check::owner(),
        Op::GetSnapshotList | Op::GetSnapshotDiff => Check::target(READ | EXECUTE),
        Op::GetSnapshottableDirectoryList => Check::traverse(),
        Op::Mkdirs => Check::ancestor(WRITE),
        Op::Create => Check {
            ancestor: WRITE,
            target: if p.overwrite.unwrap_or(false) {
                WRITE
            } else {
                0
            },
            ..Check::default()
        },
        Op::Append | Op::SetReplication | Op::SetTimes => Check::target(WRITE),
        Op::SetPermission => Check::owner(),
        Op::SetOwner => {
            if p.owner.is_some() {
                caller.require_superuser("changing the owner")?;
            }
            Check::owner()
        }
        Op::Delete => {
            return super::client::check_delete(ns, caller, path, p.recursive.unwrap_or(false))
        }
        Op::Rename => {
            return match p
                .destination
                .as_deref()
                .and_then(|d| DfsPath::parse(d.trim_end_matches('/').trim()).ok())
            {
                Some(dst) => super::client::check_rename(ns, caller, path, &dst),
                None => Ok(()), // RENAME itself answers the bad destination
            };
        }
    };
    caller.check(ns, path, check)
}

fn json<T: serde::Serialize>(body: &T) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

fn boolean(b: bool) -> HttpResponse {
    json(&BooleanBody { boolean: b })
}

/// Hadoop's wording for a missing path, which clients look for.
fn missing_file(e: NamenodeError, path: &DfsPath) -> WebHdfsError {
    match e {
        NamenodeError::NotFound(_) => WebHdfsError::new(
            Exception::FileNotFound,
            format!("File does not exist: {path}"),
        ),
        other => other.into(),
    }
}

fn not_a_file(path: &DfsPath) -> WebHdfsError {
    WebHdfsError::new(
        Exception::FileNotFound,
        format!("Path is not a file: {path}"),
    )
}

/// A native status in Hadoop's shape, listed as `suffix`.
pub fn to_webhdfs(st: &NativeStatus, suffix: &str) -> FileStatus {
    FileStatus {
        access_time: st.access_time,
        block_size: st.block_size,
        children_num: st.children,
        file_id: st.inode_id,
        group: st.group.clone(),
        length: st.length,
        modification_time: st.modification_time,
        owner: st.owner.clone(),
        path_suffix: suffix.to_string(),
        permission: permission_string(st.permission),
        replication: st.replication,
        storage_policy: 0,
        file_type: match st.file_type {
            NativeType::File => FileType::File,
            NativeType::Directory => FileType::Directory,
        },
    }
}

/// LISTSTATUS: every entry (all pages), or a file as itself with an empty
/// `pathSuffix`.
fn list_all(ns: &Namesystem, path: &DfsPath) -> Result<Vec<FileStatus>, WebHdfsError> {
    let st = ns.status(path).map_err(|e| missing_file(e, path))?;
    if st.file_type == NativeType::File {
        return Ok(vec![to_webhdfs(&st, "")]);
    }
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ns
            .list(path, after.as_deref(), None)
            .map_err(|e| missing_file(e, path))?;
        out.extend(page.entries.iter().map(|e| to_webhdfs(e, &e.name)));
        match page.entries.last() {
            Some(last) if page.has_more => after = Some(last.name.clone()),
            _ => return Ok(out),
        }
    }
}

fn list_batch(
    ns: &Namesystem,
    path: &DfsPath,
    start_after: Option<&str>,
) -> Result<DirectoryListingBody, WebHdfsError> {
    let st = ns.status(path).map_err(|e| missing_file(e, path))?;
    let (entries, remaining) = if st.file_type == NativeType::File {
        (vec![to_webhdfs(&st, "")], 0)
    } else {
        let page = ns
            .list(path, start_after, Some(BATCH_SIZE))
            .map_err(|e| missing_file(e, path))?;
        let remaining = match page.entries.last() {
            Some(last) if page.has_more => ns.count_after(path, &last.name)?,
            _ => 0,
        };
        let entries = page
            .entries
            .iter()
            .map(|e| to_webhdfs(e, &e.name))
            .collect();
        (entries, remaining)
    };
    Ok(DirectoryListingBody {
        directory_listing: DirectoryListing {
            partial_listing: FileStatusesBody {
                file_statuses: FileStatuses {
                    file_status: entries,
                },
            },
            remaining_entries: remaining,
        },
    })
}

/// Hadoop's rename: false (not an error) when the source is missing, the
/// destination's parent is missing, or a file is at the destination.
async fn rename(ns: &Namesystem, src: &DfsPath, p: &Params) -> Answer {
    let raw = p
        .destination
        .as_deref()
        .ok_or_else(|| WebHdfsError::bad("RENAME needs a destination"))?;
    let dst = DfsPath::parse(raw.trim_end_matches('/').trim())
        .or_else(|_| DfsPath::parse(raw))
        .map_err(|e| WebHdfsError::bad(format!("Invalid destination {raw:?}: {e}")))?;
    match ns.rename(src, &dst, false).await {
        Ok(_) => Ok(boolean(true)),
        Err(
            NamenodeError::NotFound(_)
            | NamenodeError::AlreadyExists(_)
            | NamenodeError::NotADirectory(_)
            | NamenodeError::InvalidArgument(_),
        ) => Ok(boolean(false)),
        Err(e) => Err(e.into()),
    }
}

/// A quota as WebHDFS shows it: -1 for none.
fn hadoop_quota(q: Option<u64>) -> i64 {
    q.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

async fn set_attributes(ns: &Namesystem, req: SetAttributesRequest) -> Answer {
    ns.set_attributes(&req)
        .await
        .map_err(|e| missing_file(e, &req.path))?;
    Ok(HttpResponse::Ok().finish())
}

// --- the first step of CREATE, APPEND, OPEN ---------------------------------

/// Rotates CREATE/APPEND targets over the live datanodes.
static NEXT_TARGET: AtomicUsize = AtomicUsize::new(0);

/// Checks in the namespace what can be checked now (a blocking read) and,
/// for OPEN, the datanode holding the first byte read.
fn redirect_base(ns: &Namesystem, r: &Request) -> Result<Option<String>, WebHdfsError> {
    let p = &r.params;
    let path = &r.path;
    let mut base: Option<String> = None;
    match r.op {
        Op::Create => match ns.status(path) {
            Ok(st) if st.file_type == NativeType::Directory => {
                return Err(WebHdfsError::new(
                    Exception::FileAlreadyExists,
                    format!("{path} already exists as a directory"),
                ));
            }
            Ok(_) if !p.overwrite.unwrap_or(false) => {
                return Err(WebHdfsError::new(
                    Exception::FileAlreadyExists,
                    format!("{path} already exists (use overwrite=true)"),
                ));
            }
            _ => {}
        },
        Op::Append => {
            let st = ns.status(path).map_err(|e| missing_file(e, path))?;
            if st.file_type == NativeType::Directory {
                return Err(not_a_file(path));
            }
        }
        Op::Open => {
            // Status first: `locations` refuses a directory with a conflict,
            // where Hadoop answers FileNotFoundException "Path is not a file".
            let st = ns.status(path).map_err(|e| missing_file(e, path))?;
            if st.file_type == NativeType::Directory {
                return Err(not_a_file(path));
            }
            let loc = ns.locations(path).map_err(|e| missing_file(e, path))?;
            let offset = p.offset.unwrap_or(0);
            if offset > loc.status.length {
                return Err(WebHdfsError::bad(format!(
                    "Offset={offset} out of the range [0, {}) of {path}",
                    loc.status.length
                )));
            }
            base = loc
                .blocks
                .iter()
                .find(|b| offset < b.offset + b.len)
                .and_then(|b| b.replicas.first())
                .map(|d| d.addr.clone());
        }
        _ => {}
    }
    Ok(base)
}

/// Picks where the data step goes (`base`: see [`redirect_base`]) and
/// answers 307 (or 200 JSON with `noredirect`).
/// `delegation`: the token the data step calls the namenode with (access
/// control on).
fn redirect(
    req: &HttpRequest,
    ns: &Namesystem,
    r: &Request,
    base: Option<String>,
    delegation: Option<String>,
) -> Answer {
    let p = &r.params;
    let namenode = request_base(req);
    let via_namenode = ns.config().webhdfs_data_via_namenode;
    let target = if via_namenode {
        namenode.clone()
    } else {
        match base {
            Some(b) => b,
            None => {
                let live = ns.datanodes().live(tokio::time::Instant::now());
                if live.is_empty() {
                    // Nothing to redirect to: this namenode relays itself
                    // (the write then fails with the namenode's reason).
                    namenode.clone()
                } else {
                    let i = NEXT_TARGET.fetch_add(1, Ordering::Relaxed) % live.len();
                    live[i].addr.clone()
                }
            }
        }
    };
    let mut location = data_url(&target, &namenode, r);
    if let Some(t) = delegation {
        location.push_str(&format!(
            "&{}={}",
            dfs_common::auth::DELEGATION_PARAM,
            encode(&t, false)
        ));
    }
    if p.noredirect {
        return Ok(json(&LocationBody { location }));
    }
    Ok(HttpResponse::TemporaryRedirect()
        .insert_header((LOCATION, location))
        .insert_header((CONTENT_LENGTH, 0))
        .finish())
}

/// `http://host:port` as the client addressed this namenode.
fn request_base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// The data step's URL on `target`: the same operation and its
/// parameters, plus `namenoderpcaddress` (which marks a data step).
fn data_url(target: &str, namenode: &str, r: &Request) -> String {
    let p = &r.params;
    let nn_addr = namenode
        .split_once("://")
        .map_or(namenode, |(_, rest)| rest);
    let mut q: Vec<(&str, String)> = vec![
        ("op", r.op.name().to_string()),
        ("namenoderpcaddress", nn_addr.to_string()),
    ];
    if let Some(u) = &p.user {
        q.push(("user.name", u.clone()));
    }
    match r.op {
        Op::Create => {
            q.push(("overwrite", p.overwrite.unwrap_or(false).to_string()));
            if let Some(v) = p.replication {
                q.push(("replication", v.to_string()));
            }
            if let Some(v) = p.block_size {
                q.push(("blocksize", v.to_string()));
            }
            if let Some(v) = p.permission {
                q.push(("permission", permission_string(v)));
            }
        }
        Op::Open => {
            q.push(("offset", p.offset.unwrap_or(0).to_string()));
            if let Some(v) = p.length {
                q.push(("length", v.to_string()));
            }
        }
        _ => {}
    }
    let query: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v, false)))
        .collect();
    format!(
        "{}{PREFIX}{}?{}",
        target.trim_end_matches('/'),
        encode(r.path.as_str(), true),
        query.join("&")
    )
}

// --- the data step, relayed by this namenode --------------------------------

/// CREATE (201 with `Location: webhdfs://...`), APPEND (200) and OPEN
/// (200, the verified bytes with `Content-Length`), through `dfs_client`
/// as an ordinary client: the request body streams into the write
/// pipeline, the file streams out of the verified read path.
async fn land(req: &HttpRequest, dfs: &DfsClient, r: &Request, body: web::Payload) -> Answer {
    let step = DataStep {
        op: r.op,
        params: &r.params,
        path: &r.path,
    };
    dfs_http::webhdfs::land(step, dfs, dfs, body, || {
        req.connection_info().host().to_string()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse_path("/webhdfs/v1").unwrap(), DfsPath::root());
        assert_eq!(parse_path("/webhdfs/v1/a/b/").unwrap().as_str(), "/a/b");
        assert!(parse_path("/webhdfs/v1/a//b").is_err());
        assert!(parse_path("/webhdfs/v1/../x").is_err());
    }
}
