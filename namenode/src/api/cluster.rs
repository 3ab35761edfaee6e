//! The cluster API (`/api/v1/summary`, `datanodes`, `fsck`, `blocks`), the
//! operator actions (`/api/v1/safemode`, `/api/v1/datanodes/{node}/
//! decommission|recommission|maintenance|maintenance/end`,
//! `/api/v1/orphans/delete`, `/api/v1/balancer[/stop]`), metadata
//! checkpoints (`/api/v1/checkpoint`) and the operational endpoints
//! `/health` and `/metrics`.
use super::error::ApiError;
use crate::auth::Caller;
use crate::metrics;
use crate::namespace::permission::Check;
use crate::namesystem::{Namesystem, OperatorView, SafeModeAction, SafeModeStatus};
use actix_web::{web, HttpResponse};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{
    AdminStateChange, ClusterSummary, DatanodeReport, FileLocations, FsckReport, OrphansDeleted,
    OrphansReport, PathQuery,
};
use serde::Deserialize;

type Ns = web::Data<Namesystem>;
type Answer<T> = Result<web::Json<T>, ApiError>;

pub const API_PREFIX: &str = "/api/v1";

pub fn configure(cfg: &mut web::ServiceConfig) {
    let r = |name: &str| format!("{API_PREFIX}/{name}");
    cfg.route(&r("summary"), web::get().to(summary))
        .route(&r("datanodes"), web::get().to(datanodes))
        .route(&r("fsck"), web::get().to(fsck))
        .route(&r("blocks"), web::get().to(blocks))
        .route(&r("safemode"), web::post().to(safemode))
        .route(&r("safemode"), web::get().to(safemode_get))
        .route(
            &r("datanodes/{node:.+}/decommission"),
            web::post().to(decommission),
        )
        .route(
            &r("datanodes/{node:.+}/recommission"),
            web::post().to(recommission),
        )
        .route(
            &r("datanodes/{node:.+}/maintenance"),
            web::post().to(maintenance),
        )
        .route(
            &r("datanodes/{node:.+}/maintenance/end"),
            web::post().to(end_maintenance),
        )
        .route(&r("balancer"), web::get().to(balancer_status))
        .route(&r("balancer"), web::post().to(start_balancer))
        .route(&r("balancer/stop"), web::post().to(stop_balancer))
        .route(&r("orphans"), web::get().to(orphans))
        .route(&r("orphans/delete"), web::post().to(delete_orphans))
        .route(&r("checkpoint"), web::get().to(checkpoint))
        .route(&r("namenodes"), web::get().to(namenodes))
        .route(&r("namenodes"), web::post().to(add_namenode))
        .route(&r("namenodes"), web::delete().to(remove_namenode))
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics_text));
}

#[derive(Debug, Deserialize)]
struct OptionalPath {
    #[serde(default)]
    path: Option<DfsPath>,
}

/// The namenodes and who leads, as this one sees them (answered by every
/// namenode itself, not forwarded).
async fn namenodes(
    group: Option<web::Data<crate::raft::group::Group>>,
) -> Answer<dfs_common::proto::client::NamenodesReport> {
    match group {
        Some(g) => Ok(web::Json(g.report())),
        None => Err(crate::error::NamenodeError::Unavailable(
            "this namenode's raft group is not started".into(),
        )
        .into()),
    }
}

/// A namenode to add or remove, by the URL it advertises.
#[derive(Debug, Deserialize)]
struct MemberUrl {
    url: String,
}

type GroupData = Option<web::Data<crate::raft::group::Group>>;

fn started(group: GroupData) -> Result<web::Data<crate::raft::group::Group>, ApiError> {
    group.ok_or_else(|| {
        crate::error::NamenodeError::Unavailable("this namenode's raft group is not started".into())
            .into()
    })
}

/// `dfs namenode add URL`: makes the namenode at URL (started with
/// `--join`) a voter; answers with the group as it is then. Run by the
/// leader (followers forward it).
async fn add_namenode(
    group: GroupData,
    caller: Caller,
    body: web::Json<MemberUrl>,
) -> Answer<dfs_common::proto::client::NamenodesReport> {
    caller.require_superuser("adding a namenode")?;
    let g = started(group)?;
    g.add_member(&body.url).await?;
    Ok(web::Json(g.report()))
}

/// `dfs namenode remove URL`.
async fn remove_namenode(
    group: GroupData,
    caller: Caller,
    q: web::Query<MemberUrl>,
) -> Answer<dfs_common::proto::client::NamenodesReport> {
    caller.require_superuser("removing a namenode")?;
    let g = started(group)?;
    g.remove_member(&q.url).await?;
    Ok(web::Json(g.report()))
}

async fn summary(ns: Ns) -> Answer<ClusterSummary> {
    Ok(web::Json(ns.summary()?))
}

async fn datanodes(ns: Ns) -> Answer<Vec<DatanodeReport>> {
    Ok(web::Json(ns.datanode_reports().await?))
}

/// `fsck?path=` (default `/`).
async fn fsck(ns: Ns, q: web::Query<OptionalPath>) -> Answer<FsckReport> {
    let path = q.into_inner().path.unwrap_or_else(DfsPath::root);
    Ok(web::Json(ns.fsck(&path).await?))
}

#[derive(Debug, Deserialize)]
struct SafeModeQuery {
    #[serde(default)]
    action: Option<SafeModeAction>,
}

/// `POST safemode?action=get|enter|leave` (HDFS `dfsadmin -safemode`);
/// without `action`, `get`.
async fn safemode(ns: Ns, caller: Caller, q: web::Query<SafeModeQuery>) -> Answer<SafeModeStatus> {
    let action = q.into_inner().action.unwrap_or(SafeModeAction::Get);
    if action != SafeModeAction::Get {
        caller.require_superuser("entering or leaving safe mode")?;
    }
    Ok(web::Json(ns.safe_mode_action(action).await?))
}

/// `GET safemode`: only ever reads.
async fn safemode_get(ns: Ns) -> Answer<SafeModeStatus> {
    Ok(web::Json(ns.safe_mode_action(SafeModeAction::Get).await?))
}

#[derive(Debug, Deserialize)]
struct BalancerQuery {
    /// Percentage points around the cluster's average used share
    /// (default 10).
    #[serde(default)]
    threshold: Option<String>,
}

/// `GET balancer`: what the balancer is doing.
async fn balancer_status(ns: Ns) -> Answer<dfs_common::proto::client::BalancerStatus> {
    Ok(web::Json(ns.balancer_status()))
}

/// `POST balancer[?threshold=PCT]`: starts (or restarts) the balancer.
async fn start_balancer(
    ns: Ns,
    caller: Caller,
    q: web::Query<BalancerQuery>,
) -> Answer<dfs_common::proto::client::BalancerStatus> {
    caller.require_superuser("starting the balancer")?;
    let threshold = match q.into_inner().threshold.as_deref().map(str::trim) {
        None | Some("") => crate::balancer::DEFAULT_THRESHOLD,
        Some(t) => t.parse::<f64>().map_err(|_| {
            crate::error::NamenodeError::InvalidArgument(format!(
                "bad balancer threshold {t:?}: a number of percentage points (0..=100)"
            ))
        })?,
    };
    Ok(web::Json(ns.start_balancer(threshold).await?))
}

/// `POST balancer/stop`: no new move; moves in flight finish.
async fn stop_balancer(
    ns: Ns,
    caller: Caller,
) -> Answer<dfs_common::proto::client::BalancerStatus> {
    caller.require_superuser("stopping the balancer")?;
    Ok(web::Json(ns.stop_balancer().await?))
}

/// `{node}`: a node id, a unique prefix of one (≥ 4 hex digits), or its
/// address (`host:port` or URL, percent-encoded or not).
async fn decommission(ns: Ns, caller: Caller, node: web::Path<String>) -> Answer<AdminStateChange> {
    caller.require_superuser("decommissioning")?;
    let node = ns.set_admin_state(&node, true).await?;
    Ok(web::Json(AdminStateChange { node }))
}

#[derive(Debug, Deserialize)]
struct MaintenanceQuery {
    /// How long (`30m`, `2h`); none: until ended.
    #[serde(default, rename = "for")]
    duration: Option<String>,
}

/// `POST datanodes/{node}/maintenance[?for=DUR]`: the node may be stopped
/// without its blocks being copied (replicated, with the time it ends).
async fn maintenance(
    ns: Ns,
    caller: Caller,
    node: web::Path<String>,
    q: web::Query<MaintenanceQuery>,
) -> Answer<AdminStateChange> {
    caller.require_superuser("putting a datanode into maintenance")?;
    let duration = match q.into_inner().duration.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let d = dfs_common::units::parse_duration(s).map_err(|e| {
                crate::error::NamenodeError::InvalidArgument(format!(
                    "bad maintenance duration {s:?}: {e}"
                ))
            })?;
            if d.is_zero() {
                return Err(crate::error::NamenodeError::InvalidArgument(
                    "the maintenance duration must be more than zero".into(),
                )
                .into());
            }
            Some(d)
        }
    };
    let node = ns.enter_maintenance(&node, duration).await?;
    Ok(web::Json(AdminStateChange { node }))
}

/// `POST datanodes/{node}/maintenance/end`: a silent node is dead again.
async fn end_maintenance(
    ns: Ns,
    caller: Caller,
    node: web::Path<String>,
) -> Answer<AdminStateChange> {
    caller.require_superuser("ending a datanode's maintenance")?;
    let node = ns.end_maintenance(&node).await?;
    Ok(web::Json(AdminStateChange { node }))
}

/// Replicas of blocks the namespace does not know, per datanode.
async fn orphans(ns: Ns) -> Answer<OrphansReport> {
    Ok(web::Json(ns.orphans().await?))
}

/// The operator's word: delete every replica of an unknown block.
async fn delete_orphans(ns: Ns, caller: Caller) -> Answer<OrphansDeleted> {
    caller.require_superuser("deleting replicas of unknown blocks")?;
    Ok(web::Json(ns.delete_orphans().await?))
}

/// A consistent checkpoint of the metadata (what `dfs backup` saves and
/// `namenode --restore` loads), streamed from a temp file so that a slow
/// reader holds nothing open in the store.
async fn checkpoint(ns: Ns, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_superuser("taking a checkpoint of the metadata")?;
    let (file, summary) = crate::checkpoint::to_temp_file(ns.into_inner())
        .await
        .map_err(|e| ApiError::internal(format!("cannot write a checkpoint: {e}")))?;
    let body =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 1 << 20);
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            "content-disposition",
            format!(
                "attachment; filename=\"dfs-{}-{}.{}\"",
                summary.header.cluster_id,
                summary.header.created_ms,
                dfs_common::checkpoint::EXTENSION
            ),
        ))
        .insert_header(("x-dfs-checkpoint-records", summary.records.to_string()))
        .no_chunking(summary.bytes)
        .streaming(body))
}

async fn recommission(ns: Ns, caller: Caller, node: web::Path<String>) -> Answer<AdminStateChange> {
    caller.require_superuser("recommissioning")?;
    let node = ns.set_admin_state(&node, false).await?;
    Ok(web::Json(AdminStateChange { node }))
}

async fn blocks(ns: Ns, caller: Caller, q: web::Query<PathQuery>) -> Answer<FileLocations> {
    super::check_path(&ns, &caller, &q.path, Check::traverse()).await?;
    Ok(web::Json(ns.locations_async(&q.path).await?))
}

/// 200 while the process serves (also in safe mode: the process is
/// fine, it is waiting for reports); says how the cluster stands. Like the
/// summary and `/metrics`, it reads the published counters and never waits
/// for the namespace or replication locks (see `namesystem::views`).
async fn health(ns: Ns) -> Result<HttpResponse, ApiError> {
    let OperatorView {
        summary: s,
        extras: x,
        ..
    } = ns.operator_view();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "live_datanodes": s.live_datanodes,
        "dead_datanodes": s.dead_datanodes,
        "awaiting_registration_datanodes": x.awaiting_registration,
        "decommissioning_datanodes": s.decommissioning_datanodes,
        "decommissioned_datanodes": s.decommissioned_datanodes,
        "safe_mode": s.safe_mode,
        "safe_mode_reason": s.safe_mode_reason,
        "blocks": s.blocks,
        "under_replicated_blocks": s.under_replicated_blocks,
        "over_replicated_blocks": s.over_replicated_blocks,
        "missing_blocks": s.missing_blocks,
        "corrupt_blocks": s.corrupt_blocks,
        "corrupt_replicas": s.corrupt_replicas,
        "orphan_replicas": x.orphan_replicas,
        "replication": s.replication,
        "version": s.version,
        "uptime_secs": s.uptime_secs,
    })))
}

async fn metrics_text(
    ns: Ns,
    group: Option<web::Data<crate::raft::group::Group>>,
) -> Result<HttpResponse, ApiError> {
    let v = ns.operator_view();
    let mut text = metrics::render(
        &v.summary,
        v.files_being_written,
        ns.store_size(),
        &v.extras,
        &ns.change_times(),
    );
    if let Some(g) = group {
        text.push_str(&metrics::render_raft(&g.report()));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
