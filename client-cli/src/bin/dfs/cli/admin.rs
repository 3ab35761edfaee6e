//! Cluster and replication verbs: `setrep [-w]`, `checksum`, `fsck`,
//! `report`, `decommission` / `recommission`, `safemode`.
use super::ctx::{parse_path, Ctx};
use super::output::{self, emit, emit_json};
use super::progress::StatusLine;
use crate::error::{CliError, CliResult};
use dfs_client::{SafeModeAction, SafeModeStatus};
use dfs_common::ids::NodeId;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::FileType;
use dfs_common::proto::client::{
    AdminState, ClusterSummary, DatanodeReport, DatanodeState, LocatedBlock,
};
use serde::Serialize;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How often `setrep -w` looks at the file's replicas.
const WAIT_POLL: Duration = Duration::from_secs(1);

/// `wait`: with `-w`, the longest to wait for every block to reach
/// `replication` live replicas.
/// `setrep [-w] N PATH`: a file, or every file below a directory (as
/// HDFS's `-setrep`, with or without `-R`).
pub async fn setrep(ctx: &Ctx, replication: u16, path: &str, wait: Option<Duration>) -> CliResult {
    let path = parse_path(path)?;
    let is_dir = ctx.client.status(&path).await?.file_type == FileType::Directory;
    let changed = if is_dir {
        super::verbs::setrep_tree(ctx, replication, &path).await?
    } else {
        vec![ctx.client.set_replication(&path, replication).await?]
    };
    if !ctx.json {
        let files = if is_dir {
            format!(" ({} files)", changed.len())
        } else {
            String::new()
        };
        emit(&format!("Replication {replication} set: {path}{files}\n"))?;
    }
    if let Some(timeout) = wait {
        let started = Instant::now();
        for f in &changed {
            let left = timeout.saturating_sub(started.elapsed());
            wait_replication(ctx, &f.path, replication, left).await?;
        }
    }
    match (ctx.json, is_dir) {
        (false, _) => Ok(()),
        (true, true) => emit_json(&changed),
        (true, false) => emit_json(&changed[0]),
    }
}

/// `setrep -w`: waits until every block of the file `path` has exactly
/// `replication` live replicas, or `timeout` passes.
async fn wait_replication(
    ctx: &Ctx,
    path: &DfsPath,
    replication: u16,
    timeout: Duration,
) -> CliResult {
    {
        let started = Instant::now();
        let line = StatusLine::new(ctx.progress);
        loop {
            let (locations, nodes) =
                tokio::try_join!(ctx.client.locations(path), ctx.client.datanodes())?;
            let w = ReplicationWait::of(&locations.blocks, &nodes, replication);
            if w.is_done() {
                break;
            }
            if started.elapsed() >= timeout {
                return Err(CliError::Failed(format!(
                    "gave up waiting for {path} after {}: {}",
                    output::admin::format_uptime(timeout.as_secs()),
                    w.describe(replication)
                )));
            }
            line.set(format!("Waiting for {path}: {}", w.describe(replication)));
            tokio::time::sleep(WAIT_POLL.min(timeout.saturating_sub(started.elapsed()))).await;
        }
        drop(line);
        if !ctx.json {
            emit(&format!(
                "Every block of {path} has {replication} replica{} (waited {})\n",
                if replication == 1 { "" } else { "s" },
                output::admin::format_uptime(started.elapsed().as_secs())
            ))?;
        }
    }
    Ok(())
}

/// Where `setrep -w` stands: how many blocks have exactly the wanted number
/// of replicas on live nodes in normal service (a decommissioning node's
/// copy is on its way out, so it does not count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationWait {
    pub blocks: usize,
    pub done: usize,
    /// Blocks with more replicas than wanted (waiting for excess deletion).
    pub over: usize,
}

impl ReplicationWait {
    pub fn of(blocks: &[LocatedBlock], nodes: &[DatanodeReport], replication: u16) -> Self {
        let away: HashSet<NodeId> = nodes
            .iter()
            .filter(|n| n.state == DatanodeState::Dead || n.admin_state != AdminState::Normal)
            .map(|n| n.id)
            .collect();
        let mut w = ReplicationWait {
            blocks: blocks.len(),
            done: 0,
            over: 0,
        };
        for b in blocks {
            let live = b
                .replicas
                .iter()
                .map(|r| r.id)
                .filter(|id| !away.contains(id))
                .collect::<HashSet<_>>()
                .len();
            match live.cmp(&usize::from(replication)) {
                std::cmp::Ordering::Equal => w.done += 1,
                std::cmp::Ordering::Greater => w.over += 1,
                std::cmp::Ordering::Less => {}
            }
        }
        w
    }

    pub fn is_done(&self) -> bool {
        self.done == self.blocks
    }

    pub fn describe(&self, replication: u16) -> String {
        let mut s = format!(
            "{} of {} block{} at {replication} replica{}",
            self.done,
            self.blocks,
            if self.blocks == 1 { "" } else { "s" },
            if replication == 1 { "" } else { "s" },
        );
        if self.over > 0 {
            s.push_str(&format!(", {} with too many", self.over));
        }
        s
    }
}

/// `dfs --json checksum`.
#[derive(Serialize)]
struct Checksum {
    path: String,
    algorithm: &'static str,
    sha256: String,
    length: u64,
}

pub async fn checksum(ctx: &Ctx, path: &str) -> CliResult {
    let path = parse_path(path)?;
    let s = ctx.client.status(&path).await?;
    let digest = s.sha256.ok_or_else(|| {
        CliError::Failed(format!("{path} is a directory (checksum needs a file)"))
    })?;
    if ctx.json {
        emit_json(&Checksum {
            path: path.to_string(),
            algorithm: "SHA-256",
            sha256: digest.to_hex(),
            length: s.length,
        })
    } else {
        emit(&format!("{}  {path}\n", digest.to_hex()))
    }
}

/// Prints the report; a report with missing or corrupt blocks is a failure
/// (exit 1), so scripts can use `dfs fsck` as a check.
pub async fn fsck(ctx: &Ctx, path: &str) -> CliResult {
    let path = parse_path(path)?;
    let r = ctx.client.fsck(&path).await?;
    if ctx.json {
        emit_json(&r)?;
    } else {
        emit(&output::admin::fsck_text(&r))?;
    }
    if r.healthy {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "the filesystem under {path} is {}: {}",
            output::admin::verdict(&r),
            output::admin::fsck_damage(&r)
        )))
    }
}

/// `dfs --json report`.
#[derive(Serialize)]
struct Report {
    summary: ClusterSummary,
    datanodes: Vec<DatanodeReport>,
    /// Each namenode as it answers itself (empty from a namenode of an
    /// earlier version).
    namenodes: Vec<output::admin::NamenodeStatus>,
    /// The balancer (none from a namenode without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    balancer: Option<dfs_common::proto::client::BalancerStatus>,
}

pub async fn report(ctx: &Ctx) -> CliResult {
    let (summary, datanodes) = tokio::try_join!(ctx.client.summary(), ctx.client.datanodes())?;
    let namenodes = namenode_statuses(ctx).await;
    let balancer = ctx.client.balancer_status().await.ok();
    if ctx.json {
        emit_json(&Report {
            summary,
            datanodes,
            namenodes,
            balancer,
        })
    } else {
        let mut text = output::admin::report_text(&summary, &datanodes);
        if let Some(b) = &balancer {
            text.push_str(&format!("{}\n", output::admin::balancer_line(b)));
        }
        text.push_str(&output::admin::namenodes_text(&namenodes));
        emit(&text)
    }
}

/// Every namenode of the group, asked one by one (its own role, term and
/// applied index; `unreachable` when it does not answer in a few seconds).
async fn namenode_statuses(ctx: &Ctx) -> Vec<output::admin::NamenodeStatus> {
    let Ok(group) = ctx.client.namenodes().await else {
        return Vec::new();
    };
    let asks = group.namenodes.iter().map(|n| async move {
        let own = match dfs_client::DfsClient::new(&n.url) {
            Ok(c) => tokio::time::timeout(std::time::Duration::from_secs(3), c.namenodes())
                .await
                .ok()
                .and_then(|r| r.ok()),
            Err(_) => None,
        };
        output::admin::NamenodeStatus {
            url: n.url.clone(),
            role: own
                .as_ref()
                .map_or_else(|| "unreachable".into(), |r| r.self_role.clone()),
            term: own.as_ref().map(|r| r.term),
            last_applied: own.as_ref().map(|r| r.last_applied),
        }
    });
    futures_util::future::join_all(asks).await
}

/// `dfs namenode add|remove URL`: the change, then the group as
/// `dfs report` shows it.
pub async fn change_namenodes(ctx: &Ctx, action: super::args::NamenodeArg) -> CliResult {
    use super::args::NamenodeArg;
    let (group, done) = match &action {
        NamenodeArg::Add { url } => (ctx.client.add_namenode(url).await?, format!("added {url}")),
        NamenodeArg::Remove { url } => (
            ctx.client.remove_namenode(url).await?,
            format!("removed {url}"),
        ),
    };
    if ctx.json {
        return emit_json(&group);
    }
    let statuses = namenode_statuses(ctx).await;
    let mut text = format!("{done}\n");
    if statuses.len() < 2 {
        text.push_str(&format!(
            "\nNamenodes ({}): {}\n",
            group.namenodes.len(),
            group
                .namenodes
                .iter()
                .map(|n| format!("{} ({})", n.url, n.role))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    } else {
        text.push_str(&output::admin::namenodes_text(&statuses));
    }
    emit(&text)
}

/// `decommission` (`drain`) or `recommission` one datanode.
pub async fn set_admin_state(ctx: &Ctx, node: &str, drain: bool) -> CliResult {
    let change = if drain {
        ctx.client.decommission(node).await?
    } else {
        ctx.client.recommission(node).await?
    };
    if ctx.json {
        return emit_json(&change);
    }
    let mut text = output::admin::admin_state_text(&change.node);
    if drain && change.node.admin_state == AdminState::Decommissioning {
        let (summary, nodes) = tokio::try_join!(ctx.client.summary(), ctx.client.datanodes())?;
        let why =
            output::admin::drain_blocked_text(&change.node, &nodes, summary.default_replication);
        text.push_str(&why.unwrap_or_default());
    }
    emit(&text)
}

/// `maintenance NODE [--for DUR]` or `maintenance NODE --end`.
pub async fn maintenance(
    ctx: &Ctx,
    node: &str,
    duration: Option<std::time::Duration>,
    end: bool,
) -> CliResult {
    let change = if end {
        ctx.client.end_maintenance(node).await?
    } else {
        ctx.client.maintenance(node, duration).await?
    };
    if ctx.json {
        return emit_json(&change);
    }
    emit(&output::admin::admin_state_text(&change.node))
}

/// `balancer [--threshold PCT] | --status | --stop`.
pub async fn balancer(ctx: &Ctx, threshold: f64, status: bool, stop: bool) -> CliResult {
    let s = if stop {
        ctx.client.stop_balancer().await?
    } else if status {
        ctx.client.balancer_status().await?
    } else {
        ctx.client.start_balancer(threshold).await?
    };
    if ctx.json {
        return emit_json(&s);
    }
    emit(&format!("{}\n", output::admin::balancer_line(&s)))
}

pub async fn safemode(ctx: &Ctx, action: SafeModeAction) -> CliResult {
    let s: SafeModeStatus = ctx.client.safe_mode(action).await?;
    if ctx.json {
        emit_json(&s)
    } else {
        emit(&output::admin::safe_mode_text(&s))
    }
}

/// `hadoop-token FILE`: a Hadoop token file of the caller, once per
/// service (Hadoop's client picks the token by the door's `ip:port`).
pub async fn hadoop_token(
    ctx: &Ctx,
    file: &std::path::Path,
    services: Vec<String>,
    lifetime: Option<std::time::Duration>,
) -> CliResult {
    let t = ctx.client.hadoop_token(lifetime).await?;
    let services = if services.is_empty() {
        let port = t.door_port.ok_or_else(|| {
            CliError::Usage(
                "this namenode serves no Hadoop door (--hadoop-rpc-listen): name the door \
                 with --service HOST:PORT"
                    .into(),
            )
        })?;
        let url = reqwest::Url::parse(ctx.client.namenode_url())
            .map_err(|e| CliError::Failed(format!("the namenode URL: {e}")))?;
        let host = url.host_str().unwrap_or("127.0.0.1").to_string();
        token_services(&[format!("{host}:{port}")])?
    } else {
        token_services(&services)?
    };
    let bytes = (|| {
        let identifier = hex::decode(&t.identifier).ok()?;
        let password = hex::decode(&t.password).ok()?;
        Some(dfs_common::hadoop::token::credentials_file(
            &identifier,
            &password,
            &services,
        ))
    })()
    .ok_or_else(|| CliError::Failed("the namenode's token does not decode".into()))?;
    crate::local::write_private(file, &bytes)
        .map_err(|e| crate::error::io_failure(file.display(), &e))?;
    if ctx.json {
        return emit_json(&serde_json::json!({
            "file": file,
            "user": t.user,
            "expires_ms": t.expires_ms,
            "services": services,
        }));
    }
    emit(&format!(
        "wrote {}: a Hadoop token of {} for {}, until {}\nexport HADOOP_TOKEN_FILE_LOCATION={}\n",
        file.display(),
        t.user,
        services.join(", "),
        crate::time::local_time(t.expires_ms, true),
        file.display()
    ))
}

/// The services a token is for, as Hadoop's client names the door it
/// connects to: `ip:port` (each address a host name has), or a nameservice
/// (`ha-hdfs:NAME`) as given.
fn token_services(given: &[String]) -> Result<Vec<String>, CliError> {
    use std::net::ToSocketAddrs;
    let mut out = Vec::new();
    for s in given {
        if s.starts_with("ha-hdfs:") {
            out.push(s.clone());
            continue;
        }
        let addrs = s
            .to_socket_addrs()
            .map_err(|e| CliError::Usage(format!("--service {s}: not HOST:PORT ({e})")))?;
        for a in addrs {
            let name = a.to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

/// `s3 key create|list|delete`.
pub async fn s3_key(ctx: &Ctx, action: super::args::S3KeyArg) -> CliResult {
    use super::args::S3KeyArg;
    match action {
        S3KeyArg::Create { user } => {
            let k = ctx.client.create_s3_key(&user).await?;
            if ctx.json {
                return emit_json(&k);
            }
            emit(&format!(
                "access key: {}\nsecret:     {}\nuser:       {}\n(the secret is shown only now)\n",
                k.access_key,
                k.secret.as_deref().unwrap_or(""),
                k.user
            ))
        }
        S3KeyArg::List => {
            let keys = ctx.client.s3_keys().await?;
            if ctx.json {
                return emit_json(&keys);
            }
            let mut out = String::new();
            for k in &keys {
                out.push_str(&format!(
                    "{}  {}  {}\n",
                    k.access_key,
                    crate::time::local_time(k.created, true),
                    k.user
                ));
            }
            emit(&out)
        }
        S3KeyArg::Delete { access_key } => {
            ctx.client.delete_s3_key(&access_key).await?;
            if ctx.json {
                return emit_json(&serde_json::json!({ "deleted": access_key }));
            }
            emit(&format!("deleted S3 key {access_key}\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::ids::BlockId;
    use dfs_common::proto::DatanodeInfo;

    #[test]
    fn token_services_are_ip_and_port_as_hadoop_names_them() {
        let got = token_services(&[
            "127.0.0.1:8020".into(),
            "localhost:8020".into(),
            "ha-hdfs:dfs".into(),
        ])
        .unwrap();
        assert_eq!(got[0], "127.0.0.1:8020");
        assert!(got.contains(&"ha-hdfs:dfs".to_string()));
        // localhost is an address already listed (or ::1), never a name.
        assert!(got
            .iter()
            .all(|s| s == "ha-hdfs:dfs" || s.parse::<std::net::SocketAddr>().is_ok()));
        for bad in ["127.0.0.1", "127.0.0.1:x", "127.0.0.1:99999"] {
            assert!(
                matches!(token_services(&[bad.into()]), Err(CliError::Usage(_))),
                "{bad}"
            );
        }
    }

    fn id(i: u8) -> NodeId {
        NodeId::from_bytes([i; 16])
    }

    fn block(holders: &[u8]) -> LocatedBlock {
        LocatedBlock {
            block_id: BlockId::new(),
            offset: 0,
            len: 1,
            sha256: None,
            replicas: holders
                .iter()
                .map(|&i| DatanodeInfo {
                    id: id(i),
                    addr: format!("http://n{i}"),
                })
                .collect(),
            access_token: None,
        }
    }

    fn node(i: u8, admin_state: AdminState) -> DatanodeReport {
        DatanodeReport {
            id: id(i),
            admin_state,
            ..Default::default()
        }
    }

    #[test]
    fn replication_wait_counts_exact_live_normal_replicas() {
        let nodes = vec![
            node(1, AdminState::Normal),
            node(2, AdminState::Normal),
            node(3, AdminState::Decommissioning),
            DatanodeReport {
                state: DatanodeState::Dead,
                ..node(4, AdminState::Normal)
            },
        ];
        let blocks = vec![
            block(&[1, 2]),    // done
            block(&[1, 3]),    // the decommissioning copy does not count
            block(&[1, 2, 5]), // 5 is unknown to the report: live, counts
            block(&[2, 4]),    // the dead node does not count
            block(&[1, 1, 2]), // a repeated node counts once
        ];
        let w = ReplicationWait::of(&blocks, &nodes, 2);
        assert_eq!(
            w,
            ReplicationWait {
                blocks: 5,
                done: 2,
                over: 1
            }
        );
        assert!(!w.is_done());
        assert_eq!(
            w.describe(2),
            "2 of 5 blocks at 2 replicas, 1 with too many"
        );
        let w = ReplicationWait::of(&blocks[..1], &nodes, 2);
        assert!(w.is_done());
        assert_eq!(w.describe(1), "1 of 1 block at 1 replica");
        // An empty file has nothing to wait for.
        assert!(ReplicationWait::of(&[], &nodes, 3).is_done());
    }
}
