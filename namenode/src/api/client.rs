//! The native client protocol: JSON under `/rpc/v1` (types in
//! `dfs_common::proto::client`). Each handler parses its typed request (paths
//! arrive as validated `DfsPath`s), calls one `Namesystem` method and
//! answers its result; endpoints with no natural result answer `{}`.
//! Calls that change the namespace run as the client call their
//! `x-dfs-request-id` header names, for the retry cache ([`as_call`]).
use super::error::ApiError;
use super::{check_access, check_path, check_writer, off_worker};
use crate::auth::Caller;
use crate::error::NamenodeError;
use crate::namespace::permission::{Check, EXECUTE, READ, WRITE};
use crate::namesystem::Namesystem;
use crate::request_id;
use actix_web::{web, HttpRequest, HttpResponse};
use dfs_common::auth::BlockOp;
use dfs_common::ids::{FileId, NodeId};
use dfs_common::proto::client::{
    AbandonBlockRequest, AddBlockRequest, AppendRequest, AppendResponse, BadReplicaReport,
    CompleteRequest, ContentSummary, CreateRequest, CreateResponse, DeleteRequest, DeleteResponse,
    DirectoryListing, ExpungeResponse, FileIdRequest, FileLocations, FileStatus, ListQuery,
    LocatedBlock, MkdirsRequest, PathQuery, QuotaUsage, RenameRequest, SetAttributesRequest,
    SetQuotaRequest, SetReplicationRequest, TrashRequest, TrashResponse, RELAY_HEADER,
    REQUEST_ID_HEADER, RPC_PREFIX,
};
use dfs_common::proto::client::{
    ConcatRequest, HadoopToken, HadoopTokenRequest, S3Key, S3KeyDeleteRequest, S3KeyList,
    S3KeyRequest, SnapshotRequest, SnapshotResponse, Xattrs, XattrsRequest, XattrsResponse,
    HADOOP_TOKEN_LIFETIME, HADOOP_TOKEN_MAX_LIFETIME, MAX_XATTR_PATHS,
};

type Ns = web::Data<Namesystem>;
type Answer<T> = Result<web::Json<T>, ApiError>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let r = |name: &str| format!("{RPC_PREFIX}/{name}");
    cfg.route(&r("mkdirs"), web::post().to(mkdirs))
        .route(&r("status"), web::get().to(status))
        .route(&r("list"), web::get().to(list))
        .route(&r("rename"), web::post().to(rename))
        .route(&r("delete"), web::post().to(delete))
        .route(&r("trash"), web::post().to(trash))
        .route(&r("expunge"), web::post().to(expunge))
        .route(&r("set_quota"), web::post().to(set_quota))
        .route(&r("snapshot/{op}"), web::post().to(snapshot))
        .route(&r("snapshot_diff"), web::get().to(snapshot_diff))
        .route(&r("quota"), web::get().to(quota))
        .route(&r("content_summary"), web::get().to(content_summary))
        .route(&r("create"), web::post().to(create))
        .route(&r("append"), web::post().to(append))
        .route(&r("set_attributes"), web::post().to(set_attributes))
        .route(&r("add_block"), web::post().to(add_block))
        .route(&r("abandon_block"), web::post().to(abandon_block))
        .route(&r("complete"), web::post().to(complete))
        .route(&r("renew_lease"), web::post().to(renew_lease))
        .route(&r("abandon_file"), web::post().to(abandon_file))
        .route(&r("locations"), web::get().to(locations))
        .route(&r("setrep"), web::post().to(setrep))
        .route(&r("report_bad_replica"), web::post().to(report_bad_replica))
        .route(&r("xattrs"), web::post().to(xattrs))
        .route(&r("concat"), web::post().to(concat))
        .route(&r("hadoop/token"), web::post().to(hadoop_token))
        .route(&r("s3/keys"), web::get().to(s3_keys))
        .route(&r("s3/keys/create"), web::post().to(create_s3_key))
        .route(&r("s3/keys/delete"), web::post().to(delete_s3_key));
}

/// `{}`: the answer of endpoints with no result.
fn empty() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({}))
}

/// Runs `f`, a call that changes the namespace, as the client call the
/// request's [`REQUEST_ID_HEADER`] names (the retry cache answers a retry
/// with the first outcome; see `namespace::retry`).
async fn as_call<T>(
    http: &HttpRequest,
    f: impl std::future::Future<Output = Result<T, NamenodeError>>,
) -> Result<T, ApiError> {
    let header = http.headers().get(REQUEST_ID_HEADER).map(|v| v.as_bytes());
    let id = request_id::parse(header).map_err(NamenodeError::InvalidArgument)?;
    Ok(request_id::scope(id, f).await?)
}

async fn mkdirs(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<MkdirsRequest>,
) -> Answer<FileStatus> {
    check_path(&ns, &caller, &req.path, Check::ancestor(WRITE)).await?;
    let owner = caller.owner_of_new(req.owner.as_deref());
    let made = ns.mkdirs_as(&req.path, req.parents, owner.as_deref(), req.permission);
    Ok(web::Json(as_call(&http, made).await?))
}

/// The datanode relaying this call's write, from [`RELAY_HEADER`]; `None`
/// when absent or not a node id (the write then just has no relay).
fn relay_of(http: &HttpRequest) -> Option<NodeId> {
    http.headers()
        .get(RELAY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Records the relay of write `file_id`, if the call came through one.
async fn note_relay(ns: &Namesystem, http: &HttpRequest, file_id: FileId) -> Result<(), ApiError> {
    if let Some(node) = relay_of(http) {
        ns.note_relay(file_id, node).await?;
    }
    Ok(())
}

async fn append(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<AppendRequest>,
) -> Answer<AppendResponse> {
    check_path(&ns, &caller, &req.path, Check::target(WRITE)).await?;
    let mut opened = as_call(&http, ns.append(&req.path)).await?;
    note_relay(&ns, &http, opened.file_id).await?;
    if let Some(last) = opened.last_block.as_mut() {
        // The old short last block is read back and written anew.
        caller.sign_blocks(std::slice::from_mut(last), BlockOp::Read);
    }
    Ok(web::Json(opened))
}

async fn set_attributes(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<SetAttributesRequest>,
) -> Answer<FileStatus> {
    let checked = req.clone();
    check_access(&ns, &caller, move |ns, c| {
        check_set_attributes(ns, c, &checked)
    })
    .await?;
    Ok(web::Json(as_call(&http, ns.set_attributes(&req)).await?))
}

/// chown: the superuser; chmod/chgrp: the owner; times: write access.
pub fn check_set_attributes(
    ns: &Namesystem,
    caller: &Caller,
    req: &SetAttributesRequest,
) -> Result<(), NamenodeError> {
    if req.owner.is_some() {
        caller.require_superuser("changing the owner")?;
    }
    if req.permission.is_some() || req.group.is_some() {
        caller.check(ns, &req.path, Check::owner())?;
    }
    if req.modification_time.is_some() || req.access_time.is_some() {
        caller.check(ns, &req.path, Check::target(WRITE))?;
    }
    Ok(())
}

async fn status(ns: Ns, caller: Caller, q: web::Query<PathQuery>) -> Answer<FileStatus> {
    let path = q.into_inner().path;
    let st = off_worker(&ns, move |ns| {
        caller.check(ns, &path, Check::traverse())?;
        ns.status(&path)
    })
    .await?;
    Ok(web::Json(st))
}

async fn list(ns: Ns, caller: Caller, q: web::Query<ListQuery>) -> Answer<DirectoryListing> {
    let q = q.into_inner();
    let listing = off_worker(&ns, move |ns| {
        caller.check(ns, &q.path, Check::target(READ | EXECUTE))?;
        ns.list(&q.path, q.start_after.as_deref(), q.limit)
    })
    .await?;
    Ok(web::Json(listing))
}

async fn rename(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<RenameRequest>,
) -> Answer<FileStatus> {
    let (src, dst) = (req.src.clone(), req.dst.clone());
    check_access(&ns, &caller, move |ns, c| check_rename(ns, c, &src, &dst)).await?;
    let renamed = ns.rename(&req.src, &req.dst, req.overwrite);
    Ok(web::Json(as_call(&http, renamed).await?))
}

/// Write on the source's parent and on where it lands (the destination, or
/// the destination directory it moves into).
pub fn check_rename(
    ns: &Namesystem,
    caller: &Caller,
    src: &dfs_common::path::DfsPath,
    dst: &dfs_common::path::DfsPath,
) -> Result<(), NamenodeError> {
    caller.check(ns, src, Check::parent(WRITE))?;
    let landing = src
        .name()
        .and_then(|n| dst.join(n).ok())
        .unwrap_or_else(|| dst.clone());
    caller.check(ns, &landing, Check::ancestor(WRITE))?;
    Ok(())
}

/// Write on the parent; a recursive delete also on every directory below.
pub fn check_delete(
    ns: &Namesystem,
    caller: &Caller,
    path: &dfs_common::path::DfsPath,
    recursive: bool,
) -> Result<(), NamenodeError> {
    let check = Check {
        parent: WRITE | EXECUTE,
        subtree: if recursive { WRITE | EXECUTE } else { 0 },
        ..Check::default()
    };
    caller.check(ns, path, check)?;
    Ok(())
}

async fn delete(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<DeleteRequest>,
) -> Answer<DeleteResponse> {
    let (path, recursive) = (req.path.clone(), req.recursive);
    check_access(&ns, &caller, move |ns, c| {
        check_delete(ns, c, &path, recursive)
    })
    .await?;
    let deleted = ns.delete(&req.path, req.recursive);
    Ok(web::Json(as_call(&http, deleted).await?))
}

/// `rm` through the trash: the permission a delete needs (moving to the
/// caller's own trash needs nothing more).
async fn trash(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<TrashRequest>,
) -> Answer<TrashResponse> {
    let (path, recursive) = (req.path.clone(), req.recursive);
    check_access(&ns, &caller, move |ns, c| {
        check_delete(ns, c, &path, recursive)
    })
    .await?;
    let moved = ns.trash(&req.path, req.recursive, caller.trash_user());
    Ok(web::Json(as_call(&http, moved).await?))
}

/// `expunge`: the caller's own trash, deleted as the caller.
async fn expunge(ns: Ns, caller: Caller, http: HttpRequest) -> Answer<ExpungeResponse> {
    let user = caller.trash_user().to_string();
    if let Ok(root) = dfs_common::trash::trash_root(&user) {
        if ns.status(&root).is_ok() {
            check_access(&ns, &caller, move |ns, c| check_delete(ns, c, &root, true)).await?;
        }
    }
    Ok(web::Json(as_call(&http, ns.expunge(&user)).await?))
}

/// Snapshots: allowing and disallowing them is the superuser's, taking,
/// deleting and renaming them the directory owner's (HDFS's rules).
async fn snapshot(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    op: web::Path<String>,
    req: web::Json<SnapshotRequest>,
) -> Answer<SnapshotResponse> {
    let op = op.into_inner();
    if op == "allow" || op == "disallow" {
        caller.require_superuser("allowing snapshots")?;
    } else {
        check_path(&ns, &caller, &req.path, Check::owner()).await?;
    }
    let done = ns.snapshot(&op, &req);
    Ok(web::Json(as_call(&http, done).await?))
}

/// A snapshot diff reads the directory: read and traverse on it.
async fn snapshot_diff(
    ns: Ns,
    caller: Caller,
    q: web::Query<dfs_common::proto::client::SnapshotDiffQuery>,
) -> Answer<dfs_common::proto::client::SnapshotDiff> {
    check_path(&ns, &caller, &q.path, Check::target(READ | EXECUTE)).await?;
    let q = q.into_inner();
    Ok(web::Json(
        off_worker(&ns, move |ns| ns.snapshot_diff(&q.path, &q.from, &q.to)).await?,
    ))
}

/// Quotas are the superuser's to set (HDFS's rule).
async fn set_quota(ns: Ns, caller: Caller, req: web::Json<SetQuotaRequest>) -> Answer<QuotaUsage> {
    caller.require_superuser("setting a quota")?;
    Ok(web::Json(ns.set_quota(&req).await?))
}

/// Concat: each part as a delete would be checked (write on its parent),
/// the target as a create that overwrites.
async fn concat(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<ConcatRequest>,
) -> Answer<FileStatus> {
    let req = req.into_inner();
    let (parts, dst) = (req.parts.clone(), req.dst.clone());
    check_access(&ns, &caller, move |ns, c| {
        for p in &parts {
            check_delete(ns, c, p, false)?;
        }
        let check = Check {
            ancestor: WRITE,
            target: WRITE,
            ..Check::default()
        };
        c.check(ns, &dst, check)
    })
    .await?;
    Ok(web::Json(as_call(&http, ns.concat(&req)).await?))
}

/// Extended attributes of some files: empty for those the caller may not
/// read (as HDFS, reading a file's `user.` attributes needs read access).
async fn xattrs(ns: Ns, caller: Caller, req: web::Json<XattrsRequest>) -> Answer<XattrsResponse> {
    let paths = req.into_inner().paths;
    if paths.len() > MAX_XATTR_PATHS {
        return Err(NamenodeError::InvalidArgument(format!(
            "at most {MAX_XATTR_PATHS} paths in one xattrs call, not {}",
            paths.len()
        ))
        .into());
    }
    let xattrs = off_worker(&ns, move |ns| {
        paths
            .iter()
            .map(|p| {
                if caller.check(ns, p, Check::target(READ)).is_err() {
                    return Ok(Xattrs::new());
                }
                match ns.status(p) {
                    Ok(st) => Ok(ns.xattrs(&[st.inode_id])?.pop().unwrap_or_default()),
                    Err(NamenodeError::NotFound(_)) => Ok(Xattrs::new()),
                    Err(e) => Err(e),
                }
            })
            .collect::<Result<Vec<_>, NamenodeError>>()
    })
    .await?;
    Ok(web::Json(XattrsResponse { xattrs }))
}

/// The S3 keys the caller may see: every key for a superuser (or with
/// access control off), else the caller's own.
async fn s3_keys(ns: Ns, caller: Caller) -> Answer<S3KeyList> {
    let mut keys = ns.s3_keys()?;
    if let Some(who) = caller.principal() {
        if !who.superuser {
            keys.retain(|k| k.user == who.user);
        }
    }
    Ok(web::Json(S3KeyList { keys }))
}

/// A key for `user`: a superuser makes one for anyone, a user for
/// themselves.
/// Where this namenode's Hadoop door listens (app data; `None`: no door).
#[derive(Debug, Clone, Copy, Default)]
pub struct HadoopDoor(pub Option<std::net::SocketAddr>);

/// A Hadoop delegation token of the caller (access control on only: with
/// it off, Hadoop's client names its user and needs no token).
///
/// Only for the user's own token (the users file's): a credential derived
/// from it (a WebHDFS redirect's, a relay's, a login cookie) lasts hours
/// and must not buy one that lasts days (HDFS, too, issues delegation
/// tokens only to a caller who did not authenticate with one).
async fn hadoop_token(
    caller: Caller,
    http: HttpRequest,
    auth: web::Data<crate::auth::Auth>,
    door: Option<web::Data<HadoopDoor>>,
    req: web::Json<HadoopTokenRequest>,
) -> Answer<HadoopToken> {
    let (Some(sec), Some(who)) = (auth.security(), caller.principal()) else {
        return Err(NamenodeError::InvalidArgument(
            "access control is off: Hadoop's client needs no token (it names its user)".into(),
        )
        .into());
    };
    let bearer = http
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_none_or(|t| dfs_common::auth::is_user_token(t.trim())) {
        return Err(NamenodeError::PermissionDenied(
            "a Hadoop token is issued for a user's own token (DFS_TOKEN from the users file), \
             not for a credential derived from one"
                .into(),
        )
        .into());
    }
    let lifetime = req
        .lifetime_secs
        .map_or(HADOOP_TOKEN_LIFETIME, std::time::Duration::from_secs);
    if lifetime.is_zero() || lifetime > HADOOP_TOKEN_MAX_LIFETIME {
        return Err(NamenodeError::InvalidArgument(format!(
            "a token lasts between 1 s and {} s",
            HADOOP_TOKEN_MAX_LIFETIME.as_secs()
        ))
        .into());
    }
    let (identifier, password, expires_ms) = sec.hadoop_token(&who.user, lifetime);
    Ok(web::Json(HadoopToken {
        user: who.user.clone(),
        identifier: hex::encode(identifier),
        password: hex::encode(password),
        expires_ms,
        door_port: door.and_then(|d| d.0).map(|a| a.port()),
    }))
}

async fn create_s3_key(ns: Ns, caller: Caller, req: web::Json<S3KeyRequest>) -> Answer<S3Key> {
    if let Some(who) = caller.principal() {
        if who.user != req.user {
            caller.require_superuser("making an S3 key for another user")?;
        }
    }
    Ok(web::Json(ns.create_s3_key(&req.user).await?))
}

async fn delete_s3_key(
    ns: Ns,
    caller: Caller,
    req: web::Json<S3KeyDeleteRequest>,
) -> Result<HttpResponse, ApiError> {
    if let Some(who) = caller.principal() {
        let owner = ns.s3_secret(&req.access_key).map(|(_, user)| user);
        if owner.as_deref() != Some(who.user.as_str()) {
            caller.require_superuser("deleting another user's S3 key")?;
        }
    }
    ns.delete_s3_key(&req.access_key).await?;
    Ok(empty())
}

async fn quota(ns: Ns, caller: Caller, q: web::Query<PathQuery>) -> Answer<QuotaUsage> {
    check_path(&ns, &caller, &q.path, Check::target(READ | EXECUTE)).await?;
    let path = q.path.clone();
    Ok(web::Json(off_worker(&ns, move |ns| ns.quota(&path)).await?))
}

async fn content_summary(
    ns: Ns,
    caller: Caller,
    q: web::Query<PathQuery>,
) -> Answer<ContentSummary> {
    check_path(&ns, &caller, &q.path, Check::target(READ | EXECUTE)).await?;
    Ok(web::Json(ns.content_summary(&q.path).await?))
}

async fn create(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<CreateRequest>,
) -> Answer<CreateResponse> {
    let mut req = req.into_inner();
    let check = Check {
        ancestor: WRITE,
        target: if req.overwrite { WRITE } else { 0 },
        ..Check::default()
    };
    check_path(&ns, &caller, &req.path, check).await?;
    req.owner = caller.owner_of_new(req.owner.as_deref());
    let mut created = as_call(&http, ns.create(&req)).await?;
    note_relay(&ns, &http, created.file_id).await?;
    if let Some(located) = created.block.as_mut() {
        caller.sign_blocks(std::slice::from_mut(located), BlockOp::Write);
    }
    Ok(web::Json(created))
}

async fn add_block(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<AddBlockRequest>,
) -> Answer<LocatedBlock> {
    check_writer(&ns, &caller, req.file_id).await?;
    let mut located = as_call(&http, ns.add_block(&req)).await?;
    caller.sign_blocks(std::slice::from_mut(&mut located), BlockOp::Write);
    Ok(web::Json(located))
}

async fn abandon_block(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<AbandonBlockRequest>,
) -> Result<HttpResponse, ApiError> {
    check_writer(&ns, &caller, req.file_id).await?;
    as_call(&http, ns.abandon_block(&req)).await?;
    Ok(empty())
}

async fn complete(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<CompleteRequest>,
) -> Answer<FileStatus> {
    check_writer(&ns, &caller, req.file_id).await?;
    Ok(web::Json(as_call(&http, ns.complete(&req)).await?))
}

async fn renew_lease(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<FileIdRequest>,
) -> Result<HttpResponse, ApiError> {
    check_writer(&ns, &caller, req.file_id).await?;
    ns.renew_lease(req.file_id).await?;
    // Again with each renewal: a restarted namenode learns it anew.
    note_relay(&ns, &http, req.file_id).await?;
    Ok(empty())
}

async fn abandon_file(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<FileIdRequest>,
) -> Result<HttpResponse, ApiError> {
    check_writer(&ns, &caller, req.file_id).await?;
    as_call(&http, ns.abandon_file(req.file_id)).await?;
    Ok(empty())
}

async fn locations(ns: Ns, caller: Caller, q: web::Query<PathQuery>) -> Answer<FileLocations> {
    check_path(&ns, &caller, &q.path, Check::target(READ)).await?;
    let mut located = ns.locations_async(&q.path).await?;
    caller.sign_blocks(&mut located.blocks, BlockOp::Read);
    Ok(web::Json(located))
}

async fn setrep(
    ns: Ns,
    caller: Caller,
    http: HttpRequest,
    req: web::Json<SetReplicationRequest>,
) -> Answer<FileStatus> {
    check_path(&ns, &caller, &req.path, Check::target(WRITE)).await?;
    let set = ns.set_replication(&req.path, req.replication);
    Ok(web::Json(as_call(&http, set).await?))
}

async fn report_bad_replica(
    ns: Ns,
    req: web::Json<BadReplicaReport>,
) -> Result<HttpResponse, ApiError> {
    ns.report_bad_replica(&req).await?;
    Ok(empty())
}
