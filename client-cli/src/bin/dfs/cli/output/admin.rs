//! What the cluster administration verbs print: `report` (summary, repair
//! progress, datanodes, shared file systems), `fsck` (problem blocks,
//! totals, verdict), `decommission`/`recommission`, `safemode` and
//! `orphans`.
//!
//! Pure: each function returns the text.
use super::{size_with_bytes, table, Align};
use dfs_client::SafeModeStatus;
use dfs_common::proto::client::{
    AdminState, BlockHealth, ClusterSummary, DatanodeReport, DatanodeState, FsckReport,
    OrphansReport, ReplicationProgress, UnknownReplicas,
};
use dfs_common::proto::datanode::DiskState;
use dfs_common::units::human_bytes;

/// "3d 4h", "2h 5m", "4m 10s", "12s".
pub fn format_uptime(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "ON (12 of 40 blocks reported)" / "off".
fn safe_mode_state(on: bool, reason: Option<&str>) -> String {
    match (on, reason) {
        (true, Some(r)) if !r.is_empty() => format!("ON ({r})"),
        (true, _) => "ON".into(),
        (false, _) => "off".into(),
    }
}

/// The repair line of `report`: what re-replication still has to do, how
/// fast it goes, and when it should be done.
pub fn repair_text(p: &ReplicationProgress) -> String {
    let idle = p.queued_blocks == 0 && p.pending_copies == 0 && p.remaining_bytes == 0;
    if idle {
        return format!(
            "idle ({} copied since start)",
            plural(p.completed_copies, "block", "blocks")
        );
    }
    let mut s = format!(
        "{} queued, {} in flight, {} to copy",
        p.queued_blocks,
        p.pending_copies,
        human_bytes(p.remaining_bytes)
    );
    if p.bytes_per_sec > 0.0 {
        let eta = (p.remaining_bytes as f64 / p.bytes_per_sec).ceil() as u64;
        s.push_str(&format!(
            " at {}/s, ETA {}",
            human_bytes(p.bytes_per_sec as u64),
            format_uptime(eta)
        ));
    } else {
        s.push_str(", no copy finished lately");
    }
    s
}

/// The ADMIN column: the admin state, or maintenance and when it ends.
fn admin_column(n: &DatanodeReport) -> String {
    if !n.in_maintenance {
        return admin_state_name(n.admin_state).into();
    }
    match n.maintenance_ends_in_ms {
        Some(ms) => format!("maintenance ({}s left)", ms.div_ceil(1000)),
        None => "maintenance".into(),
    }
}

fn admin_state_name(a: AdminState) -> &'static str {
    match a {
        AdminState::Normal => "normal",
        AdminState::Decommissioning => "decommissioning",
        AdminState::Decommissioned => "decommissioned",
    }
}

/// `report`: the summary, then one row per datanode.
/// A namenode as `dfs report` found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamenodeStatus {
    pub url: String,
    /// `leader`, `follower`, `candidate`, `learner`, or `unreachable`.
    pub role: String,
    pub term: Option<u64>,
    pub last_applied: Option<u64>,
}

/// The namenodes' lines of `dfs report` (nothing for a namenode of its
/// own, or of an earlier version).
pub fn namenodes_text(nodes: &[NamenodeStatus]) -> String {
    if nodes.len() < 2 {
        return String::new();
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            vec![
                n.url.clone(),
                n.role.clone(),
                n.term.map_or_else(|| "-".into(), |t| format!("term {t}")),
                n.last_applied
                    .map_or_else(|| "-".into(), |a| format!("applied {a}")),
            ]
        })
        .collect();
    let mut out = format!("\nNamenodes ({}):\n", nodes.len());
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(&format!("  {}\n", line.join("  ").trim_end()));
    }
    out
}

pub fn report_text(s: &ClusterSummary, nodes: &[DatanodeReport]) -> String {
    let kv = vec![
        vec![
            "Namenode:".into(),
            format!("version {}, up {}", s.version, format_uptime(s.uptime_secs)),
        ],
        vec![
            "Safe mode:".into(),
            safe_mode_state(s.safe_mode, s.safe_mode_reason.as_deref()),
        ],
        vec![
            "Datanodes:".into(),
            format!(
                "{} live, {} dead, {} decommissioning, {} decommissioned",
                s.live_datanodes,
                s.dead_datanodes,
                s.decommissioning_datanodes,
                s.decommissioned_datanodes
            ),
        ],
        vec!["Capacity:".into(), capacity_text(s)],
        vec![
            "Used:".into(),
            format!("{} ({})", human_bytes(s.used), percent(s.used, s.capacity)),
        ],
        vec!["Available:".into(), human_bytes(s.available)],
        vec![
            "Non-dfs used:".into(),
            format!(
                "{} (other files), {} reserved by the file system{}",
                human_bytes(s.non_dfs_used),
                human_bytes(s.reserved),
                if s.filesystems == 1 { "" } else { "s" }
            ),
        ],
        vec![
            "Files:".into(),
            format!("{} ({} directories)", s.files, s.directories),
        ],
        vec![
            "Blocks:".into(),
            format!(
                "{} ({} under-replicated, {} over-replicated, {} corrupt, {} missing)",
                s.blocks,
                s.under_replicated_blocks,
                s.over_replicated_blocks,
                s.corrupt_blocks,
                s.missing_blocks
            ),
        ],
        vec!["Corrupt replicas:".into(), s.corrupt_replicas.to_string()],
        vec![
            "Unknown replicas:".into(),
            unknown_replicas_text(&s.unknown_replicas),
        ],
        vec!["Repair:".into(), repair_text(&s.replication)],
        vec![
            "Defaults:".into(),
            format!(
                "replication {}, block size {}, trash {}",
                s.default_replication,
                human_bytes(s.default_block_size),
                match s.trash_interval_secs {
                    0 => "off".to_string(),
                    t => humantime::format_duration(std::time::Duration::from_secs(t)).to_string(),
                }
            ),
        ],
    ];
    let mut out = table(&kv, &[Align::Left, Align::Left]);
    out.push('\n');
    if !s.cluster_id.is_empty() {
        out.push_str(&format!("Cluster id: {}\n", s.cluster_id));
    }
    if let Some(why) = &s.unknown_replicas.reason {
        out.push_str(&format!("Held: {why}\n"));
    }
    if !s.refused_datanodes.is_empty() {
        out.push_str(&format!(
            "Refused: {} datanode{} of another cluster cannot join:\n",
            s.refused_datanodes.len(),
            if s.refused_datanodes.len() == 1 {
                ""
            } else {
                "s"
            }
        ));
        for r in &s.refused_datanodes {
            out.push_str(&format!(
                "  {} ({}, {} attempts, last {} s ago): {}\n",
                r.addr, r.id, r.attempts, r.last_attempt_secs_ago, r.message
            ));
        }
    }
    if !s.cluster_id.is_empty()
        || s.unknown_replicas.reason.is_some()
        || !s.refused_datanodes.is_empty()
    {
        out.push('\n');
    }
    if nodes.is_empty() {
        out.push_str("No datanodes.\n");
        return out;
    }
    let mut rows: Vec<Vec<String>> = vec![[
        "NODE",
        "ADDRESS",
        "RACK",
        "STATE",
        "ADMIN",
        "CAPACITY",
        "USED",
        "USED%",
        "AVAILABLE",
        "BLOCKS",
        "TO-DRAIN",
        "COPYING",
        "HEARTBEAT",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect()];
    for n in nodes {
        let id = n.id.to_string();
        rows.push(vec![
            id.chars().take(8).collect(),
            n.addr.clone(),
            if n.rack.is_empty() {
                "-".into()
            } else {
                n.rack.clone()
            },
            match n.state {
                DatanodeState::Live => "live".into(),
                DatanodeState::Dead => "DEAD".into(),
            },
            admin_column(n),
            human_bytes(n.capacity),
            human_bytes(n.used),
            percent(n.used, n.capacity),
            human_bytes(n.available),
            n.blocks.to_string(),
            if n.admin_state == AdminState::Decommissioning {
                n.decommission_remaining_blocks.to_string()
            } else {
                "-".into()
            },
            n.replication_in_flight.to_string(),
            format!("{:.1}s ago", n.last_heartbeat_ms as f64 / 1000.0),
        ]);
    }
    use Align::*;
    out.push_str(&table(
        &rows,
        &[
            Left, Left, Left, Left, Left, Right, Right, Right, Right, Right, Right, Right, Right,
        ],
    ));
    out.push_str(&shared_filesystems_text(nodes));
    out.push_str(&disks_text(nodes));
    out
}

/// The data dirs of the nodes that have several, or a failed one (a node of
/// one disk in service is all in its row already).
fn disks_text(nodes: &[DatanodeReport]) -> String {
    let shown: Vec<&DatanodeReport> = nodes
        .iter()
        .filter(|n| n.disks.len() > 1 || n.disks.iter().any(|d| d.state == DiskState::Failed))
        .collect();
    if shown.is_empty() {
        return String::new();
    }
    let mut rows: Vec<Vec<String>> = vec![[
        "NODE",
        "DATA DIR",
        "STATE",
        "CAPACITY",
        "USED",
        "AVAILABLE",
        "BLOCKS",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect()];
    for n in shown {
        let id: String = n.id.to_string().chars().take(8).collect();
        for d in &n.disks {
            rows.push(vec![
                id.clone(),
                d.dir.clone(),
                match d.state {
                    DiskState::InService => "in service".into(),
                    DiskState::Failed if d.error.is_empty() => "FAILED".into(),
                    DiskState::Failed => format!("FAILED: {}", d.error),
                },
                human_bytes(d.capacity),
                human_bytes(d.used),
                human_bytes(d.available),
                d.blocks.to_string(),
            ]);
        }
    }
    use Align::*;
    let mut out = String::from("\nDisks:\n");
    out.push_str(&table(
        &rows,
        &[Left, Left, Left, Right, Right, Right, Right],
    ));
    out
}

/// "252.0 GiB on 1 file system": the summary counts each file system once.
fn capacity_text(s: &ClusterSummary) -> String {
    if s.filesystems == 0 {
        return human_bytes(s.capacity);
    }
    format!(
        "{} on {}",
        human_bytes(s.capacity),
        plural(u64::from(s.filesystems), "file system", "file systems")
    )
}

/// A line per file system under more than one live datanode, saying
/// why the capacity is not the sum of the rows.
fn shared_filesystems_text(nodes: &[DatanodeReport]) -> String {
    let mut by_fs: std::collections::BTreeMap<&str, Vec<&DatanodeReport>> = Default::default();
    for n in nodes.iter().filter(|n| n.state == DatanodeState::Live) {
        if let Some(fs) = &n.filesystem {
            by_fs.entry(fs).or_default().push(n);
        }
    }
    let mut out = String::new();
    for (fs, shared) in by_fs.into_iter().filter(|(_, v)| v.len() > 1) {
        let ids: Vec<String> = shared
            .iter()
            .map(|n| n.id.to_string().chars().take(8).collect())
            .collect();
        out.push_str(&format!(
            "Shared file system {fs}: {} ({}); its size and free space count once in Capacity and Available.\n",
            plural(shared.len() as u64, "datanode", "datanodes"),
            ids.join(", ")
        ));
    }
    out
}

/// `decommission` / `recommission`: the node's new state in one line.
pub fn admin_state_text(n: &DatanodeReport) -> String {
    let id: String = n.id.to_string().chars().take(8).collect();
    let what = match n.admin_state {
        AdminState::Normal => "in normal service".to_string(),
        AdminState::Decommissioning => format!(
            "decommissioning: {} still to copy elsewhere",
            plural(n.decommission_remaining_blocks, "block", "blocks")
        ),
        AdminState::Decommissioned => {
            "decommissioned: every block has its replicas elsewhere; it can be stopped".into()
        }
    };
    let dead = if n.state == DatanodeState::Dead {
        " (dead)"
    } else {
        ""
    };
    let maintenance = match n.maintenance_ends_in_ms {
        None => "in maintenance until ended".to_string(),
        Some(ms) => format!(
            "in maintenance for {} more",
            format_uptime(ms.div_ceil(1000))
        ),
    };
    let what = match (n.in_maintenance, n.admin_state) {
        (false, _) => what,
        // Maintenance is what a node in normal service is in, when it is.
        (true, AdminState::Normal) => maintenance,
        (true, _) => format!("{what}, {maintenance}"),
    };
    format!("Datanode {id} at {}{dead} is {what}\n", n.addr)
}

/// `decommission` of node `n` that still holds copies its blocks need,
/// when too few other datanodes can take them (`nodes`: every datanode;
/// files wanting `replication`): why it will not drain by itself, and that
/// it must not be stopped (the web UI's wording). `None` when the copies
/// can be made.
pub fn drain_blocked_text(
    n: &DatanodeReport,
    nodes: &[DatanodeReport],
    replication: u16,
) -> Option<String> {
    let usable = nodes
        .iter()
        .filter(|d| d.state == DatanodeState::Live && d.admin_state == AdminState::Normal)
        .count() as u64;
    let blocked = n.admin_state == AdminState::Decommissioning
        && n.decommission_remaining_blocks > 0
        && usable < u64::from(replication);
    blocked.then(|| {
        format!(
            "It cannot be drained until a datanode joins or comes back: only {} can take copies \
             but files want {replication} replicas. Do not stop it: it holds copies its blocks need.\n",
            plural(usable, "datanode", "datanodes")
        )
    })
}

/// `safemode`: "Safe mode is ON (reason)" / "Safe mode is OFF".
/// One line on the balancer (`dfs balancer --status`, `dfs report`).
pub fn balancer_line(b: &dfs_common::proto::client::BalancerStatus) -> String {
    let state = if b.running {
        format!("running (threshold {} points)", b.threshold)
    } else {
        match &b.last_stop {
            Some(why) => format!("not running ({why})"),
            None => "not running".to_string(),
        }
    };
    format!(
        "Balancer: {state}; moved {} in {} moves ({} abandoned), {} in flight; average used {:.1}%, {} nodes over, {} under; bandwidth {}/s",
        human_bytes(b.bytes_moved),
        b.moves_done,
        b.moves_abandoned,
        b.moves_in_flight,
        b.average_used_pct,
        b.nodes_over,
        b.nodes_under,
        human_bytes(b.bandwidth)
    )
}

pub fn safe_mode_text(s: &SafeModeStatus) -> String {
    match (s.safe_mode, s.reason.as_deref()) {
        (true, Some(r)) if !r.is_empty() => format!("Safe mode is ON ({r})\n"),
        (true, _) => "Safe mode is ON\n".into(),
        (false, _) => "Safe mode is OFF\n".into(),
    }
}

/// "none", or how many unknown replicas are held and how many wait.
pub fn unknown_replicas_text(u: &UnknownReplicas) -> String {
    if u.held == 0 && u.waiting == 0 {
        return "none".into();
    }
    let mut parts = Vec::new();
    if u.held > 0 {
        parts.push(format!(
            "{} held on {} datanode{} (dfs orphans delete)",
            u.held,
            u.held_nodes,
            if u.held_nodes == 1 { "" } else { "s" }
        ));
    }
    if u.waiting > 0 {
        parts.push(format!("{} strays to be deleted", u.waiting));
    }
    parts.join(", ")
}

/// `dfs orphans`: per datanode.
pub fn orphans_text(r: &OrphansReport) -> String {
    let mut out = format!(
        "Unknown replicas: {}\n",
        unknown_replicas_text(&r.unknown_replicas)
    );
    if let Some(why) = &r.unknown_replicas.reason {
        out.push_str(&format!("Held: {why}\n"));
    }
    if !r.nodes.is_empty() {
        let mut rows = vec![["NODE", "ADDRESS", "HELD", "WAITING", "KNOWN"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()];
        for n in &r.nodes {
            rows.push(vec![
                n.id.to_string(),
                n.addr.clone(),
                n.held.to_string(),
                n.waiting.to_string(),
                n.known.to_string(),
            ]);
        }
        use Align::*;
        out.push('\n');
        out.push_str(&table(&rows, &[Left, Left, Right, Right, Right]));
    }
    out
}

/// `fsck`: the problem blocks, totals, then the verdict line.
pub fn fsck_text(r: &FsckReport) -> String {
    let mut out = String::new();
    if !r.problems.is_empty() {
        let mut rows = vec![["PATH", "BLOCK", "HEALTH", "LIVE", "EXPECTED"]
            .iter()
            .map(|s| s.to_string())
            .collect()];
        for p in &r.problems {
            rows.push(vec![
                p.path.to_string(),
                p.block_id.to_string(),
                health_name(p.health).into(),
                p.live_replicas.to_string(),
                p.expected_replicas.to_string(),
            ]);
        }
        use Align::*;
        out.push_str(&table(&rows, &[Left, Left, Left, Right, Right]));
        out.push('\n');
    }
    let kv = vec![
        vec!["Status:".into(), verdict(r).into()],
        vec!["Total size:".into(), size_with_bytes(r.total_bytes)],
        vec!["Directories:".into(), r.directories.to_string()],
        vec!["Files:".into(), r.files.to_string()],
        vec!["Blocks:".into(), r.blocks.to_string()],
        vec!["Healthy blocks:".into(), r.healthy_blocks.to_string()],
        vec![
            "Under-replicated blocks:".into(),
            r.under_replicated_blocks.to_string(),
        ],
        vec![
            "Over-replicated blocks:".into(),
            r.over_replicated_blocks.to_string(),
        ],
        vec!["Corrupt blocks:".into(), r.corrupt_blocks.to_string()],
        vec!["Missing blocks:".into(), r.missing_blocks.to_string()],
        vec![
            "Mis-replicated blocks:".into(),
            r.mis_replicated_blocks.to_string(),
        ],
        vec!["Live datanodes:".into(), r.live_datanodes.to_string()],
        vec!["Dead datanodes:".into(), r.dead_datanodes.to_string()],
        vec![
            "Decommissioning datanodes:".into(),
            r.decommissioning_datanodes.to_string(),
        ],
        vec![
            "Safe mode:".into(),
            if r.safe_mode { "ON" } else { "off" }.into(),
        ],
        vec![
            "Unknown replicas:".into(),
            unknown_replicas_text(&r.unknown_replicas),
        ],
    ];
    out.push_str(&table(&kv, &[Align::Left, Align::Right]));
    if let Some(why) = &r.unknown_replicas.reason {
        out.push_str(&format!("Held: {why}\n"));
    }
    let listed = r.problems.len() as u64;
    let problems =
        r.under_replicated_blocks + r.over_replicated_blocks + r.corrupt_blocks + r.missing_blocks;
    if listed > 0 && listed < problems {
        out.push_str(&format!(
            "(only the first {} problem blocks are listed)\n",
            r.problems.len()
        ));
    }
    out.push_str(&format!(
        "\nThe filesystem under path '{}' is {}\n",
        r.path,
        verdict(r)
    ));
    out
}

fn health_name(h: BlockHealth) -> &'static str {
    match h {
        BlockHealth::Healthy => "healthy",
        BlockHealth::UnderReplicated => "under-replicated",
        BlockHealth::OverReplicated => "over-replicated",
        BlockHealth::Missing => "MISSING",
        BlockHealth::Corrupt => "CORRUPT",
    }
}

/// What makes an unhealthy report unhealthy: "2 missing blocks, 1 corrupt
/// block" (for the `dfs:` error line).
pub fn fsck_damage(r: &FsckReport) -> String {
    let mut parts = Vec::new();
    if r.missing_blocks > 0 || r.corrupt_blocks == 0 {
        parts.push(plural(r.missing_blocks, "missing block", "missing blocks"));
    }
    if r.corrupt_blocks > 0 {
        parts.push(plural(r.corrupt_blocks, "corrupt block", "corrupt blocks"));
    }
    parts.join(", ")
}

pub fn verdict(r: &FsckReport) -> &'static str {
    if r.healthy {
        "HEALTHY"
    } else {
        "CORRUPT"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn namenodes_are_listed_with_their_roles() {
        use super::{namenodes_text, NamenodeStatus};
        let n = |url: &str, role: &str, term: Option<u64>| NamenodeStatus {
            url: url.into(),
            role: role.into(),
            term,
            last_applied: term.map(|t| t * 10),
        };
        assert_eq!(namenodes_text(&[n("http://a:1", "leader", Some(2))]), "");
        let text = namenodes_text(&[
            n("http://a:1", "leader", Some(2)),
            n("http://bb:2", "follower", Some(2)),
            n("http://c:3", "unreachable", None),
        ]);
        assert_eq!(
            text,
            "\nNamenodes (3):\n  http://a:1   leader       term 2  applied 20\n  http://bb:2  follower     term 2  applied 20\n  http://c:3   unreachable  -       -\n"
        );
    }

    use super::*;
    use dfs_common::path::DfsPath;

    #[test]
    fn uptime() {
        assert_eq!(format_uptime(5), "5s");
        assert_eq!(format_uptime(65), "1m 5s");
        assert_eq!(format_uptime(3 * 3600 + 120), "3h 2m");
        assert_eq!(format_uptime(2 * 86_400 + 3600), "2d 1h");
    }

    #[test]
    fn percent_of_nothing() {
        assert_eq!(percent(1, 0), "-");
        assert_eq!(percent(1, 4), "25.0%");
    }

    #[test]
    fn repair_line() {
        let mut p = ReplicationProgress {
            completed_copies: 1,
            ..Default::default()
        };
        assert_eq!(repair_text(&p), "idle (1 block copied since start)");
        p.queued_blocks = 3;
        p.pending_copies = 2;
        p.remaining_bytes = 300 << 20;
        assert_eq!(
            repair_text(&p),
            "3 queued, 2 in flight, 300.0 MiB to copy, no copy finished lately"
        );
        p.bytes_per_sec = (1 << 20) as f64;
        assert_eq!(
            repair_text(&p),
            "3 queued, 2 in flight, 300.0 MiB to copy at 1.0 MiB/s, ETA 5m 0s"
        );
    }

    fn summary() -> ClusterSummary {
        ClusterSummary {
            version: "0.1.0".into(),
            uptime_secs: 65,
            safe_mode: true,
            safe_mode_reason: Some("3 of 9 blocks reported".into()),
            live_datanodes: 3,
            dead_datanodes: 1,
            decommissioning_datanodes: 1,
            decommissioned_datanodes: 0,
            blocks: 9,
            under_replicated_blocks: 2,
            over_replicated_blocks: 1,
            corrupt_blocks: 1,
            missing_blocks: 0,
            corrupt_replicas: 4,
            ..Default::default()
        }
    }

    #[test]
    fn report_lines() {
        let nodes = vec![
            DatanodeReport {
                addr: "http://127.0.0.1:9864".into(),
                admin_state: AdminState::Decommissioning,
                decommission_remaining_blocks: 7,
                replication_in_flight: 2,
                blocks: 12,
                rack: "/dc1/r1".into(),
                ..Default::default()
            },
            DatanodeReport {
                addr: "http://127.0.0.1:9865".into(),
                state: DatanodeState::Dead,
                ..Default::default()
            },
        ];
        let text = squash(&report_text(&summary(), &nodes));
        for want in [
            "Safe mode: ON (3 of 9 blocks reported)\n",
            "Datanodes: 3 live, 1 dead, 1 decommissioning, 0 decommissioned\n",
            "Blocks: 9 (2 under-replicated, 1 over-replicated, 1 corrupt, 0 missing)\n",
            "Corrupt replicas: 4\n",
            "Repair: idle (0 blocks copied since start)\n",
            "NODE ADDRESS RACK STATE ADMIN CAPACITY USED USED% AVAILABLE BLOCKS TO-DRAIN COPYING HEARTBEAT\n",
            " http://127.0.0.1:9864 /dc1/r1 live decommissioning 0 B 0 B - 0 B 12 7 2 0.0s ago\n",
            " http://127.0.0.1:9865 - DEAD normal 0 B 0 B - 0 B 0 - 0 0.0s ago\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        let mut s = summary();
        s.safe_mode = false;
        assert!(squash(&report_text(&s, &[])).contains("Safe mode: off\n"));
    }

    #[test]
    fn report_lists_the_disks_of_nodes_with_several() {
        use dfs_common::proto::datanode::DiskReport;
        let disk = |dir: &str, failed: bool| DiskReport {
            dir: dir.into(),
            state: if failed {
                DiskState::Failed
            } else {
                DiskState::InService
            },
            error: if failed { "gone".into() } else { String::new() },
            used: 1024,
            blocks: 3,
            ..Default::default()
        };
        let one = DatanodeReport {
            addr: "http://127.0.0.1:9864".into(),
            disks: vec![disk("/solo", false)],
            ..Default::default()
        };
        let text = squash(&report_text(&summary(), std::slice::from_ref(&one)));
        assert!(!text.contains("Disks:"), "{text}");
        let three = DatanodeReport {
            addr: "http://127.0.0.1:9865".into(),
            disks: vec![disk("/d1", false), disk("/d2", true), disk("/d3", false)],
            ..Default::default()
        };
        let text = squash(&report_text(&summary(), &[one, three]));
        for want in [
            "Disks:\n",
            "NODE DATA DIR STATE CAPACITY USED AVAILABLE BLOCKS\n",
            " /d1 in service 0 B 1.0 KiB 0 B 3\n",
            " /d2 FAILED: gone 0 B 1.0 KiB 0 B 3\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        assert!(!text.contains("/solo"), "{text}");
    }

    #[test]
    fn report_says_which_file_systems_are_shared() {
        let gib = 1u64 << 30;
        let node = |i: u8, fs: Option<&str>| DatanodeReport {
            id: dfs_common::ids::NodeId::from_bytes([i; 16]),
            filesystem: fs.map(str::to_owned),
            ..Default::default()
        };
        let nodes = vec![
            node(0xa1, Some("16dcd27a:fd00")),
            node(0xb2, Some("16dcd27a:fd00")),
            node(0xc3, Some("16dcd27a:fd01")),
            node(0xd4, None),
        ];
        let mut s = summary();
        s.capacity = 252 * gib;
        s.filesystems = 1;
        s.non_dfs_used = 30 * gib;
        s.reserved = 160 * gib;
        let text = squash(&report_text(&s, &nodes));
        for want in [
            "Capacity: 252.0 GiB on 1 file system\n",
            "Non-dfs used: 30.0 GiB (other files), 160.0 GiB reserved by the file system\n",
            "Shared file system 16dcd27a:fd00: 2 datanodes (a1a1a1a1, b2b2b2b2); its size and free space count once in Capacity and Available.\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        assert!(!text.contains("fd01:"), "not shared: {text}");
        // An older namenode's summary: no file-system count.
        s.filesystems = 0;
        assert!(squash(&report_text(&s, &[])).contains("Capacity: 252.0 GiB\n"));
    }

    /// Each line with its runs of spaces made one (tables pad to widths).
    fn squash(text: &str) -> String {
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") + "\n")
            .collect()
    }

    #[test]
    fn admin_lines() {
        let mut n = DatanodeReport {
            id: dfs_common::ids::NodeId::from_bytes([0xab; 16]),
            addr: "http://10.0.0.5:9864".into(),
            admin_state: AdminState::Decommissioning,
            decommission_remaining_blocks: 1,
            ..Default::default()
        };
        assert_eq!(
            admin_state_text(&n),
            "Datanode abababab at http://10.0.0.5:9864 is decommissioning: 1 block still to copy elsewhere\n"
        );
        // 3 nodes, replication 3: the two others cannot take its copies.
        let others = |admin: AdminState| DatanodeReport {
            admin_state: admin,
            ..Default::default()
        };
        let mut nodes = vec![
            n.clone(),
            others(AdminState::Normal),
            others(AdminState::Normal),
        ];
        assert_eq!(
            drain_blocked_text(&n, &nodes, 3).unwrap(),
            "It cannot be drained until a datanode joins or comes back: only 2 datanodes can take \
             copies but files want 3 replicas. Do not stop it: it holds copies its blocks need.\n"
        );
        assert_eq!(drain_blocked_text(&n, &nodes, 2), None);
        nodes.push(others(AdminState::Normal));
        assert_eq!(drain_blocked_text(&n, &nodes, 3), None);
        // A dead node takes no copies.
        nodes[3].state = DatanodeState::Dead;
        assert!(drain_blocked_text(&n, &nodes, 3).is_some());
        n.decommission_remaining_blocks = 0;
        assert_eq!(drain_blocked_text(&n, &nodes, 3), None);
        n.admin_state = AdminState::Decommissioned;
        assert_eq!(drain_blocked_text(&n, &nodes, 3), None);
        assert!(admin_state_text(&n).contains("it can be stopped"));
        n.admin_state = AdminState::Normal;
        n.state = DatanodeState::Dead;
        assert_eq!(
            admin_state_text(&n),
            "Datanode abababab at http://10.0.0.5:9864 (dead) is in normal service\n"
        );
        n.in_maintenance = true;
        n.maintenance_ends_in_ms = Some(1_800_000);
        assert_eq!(
            admin_state_text(&n),
            "Datanode abababab at http://10.0.0.5:9864 (dead) is in maintenance for 30m 0s more\n"
        );
        n.maintenance_ends_in_ms = None;
        n.admin_state = AdminState::Decommissioning;
        n.decommission_remaining_blocks = 2;
        assert_eq!(
            admin_state_text(&n),
            "Datanode abababab at http://10.0.0.5:9864 (dead) is decommissioning: 2 blocks still to copy elsewhere, in maintenance until ended\n"
        );
        n.in_maintenance = false;
        n.admin_state = AdminState::Normal;
        let on = SafeModeStatus {
            safe_mode: true,
            reason: Some("entered by an operator".into()),
        };
        assert_eq!(
            safe_mode_text(&on),
            "Safe mode is ON (entered by an operator)\n"
        );
        assert_eq!(
            safe_mode_text(&SafeModeStatus::default()),
            "Safe mode is OFF\n"
        );
    }

    #[test]
    fn fsck_lines() {
        use dfs_common::proto::client::FsckProblem;
        let mut r = FsckReport {
            path: DfsPath::parse("/data").unwrap(),
            files: 2,
            blocks: 3,
            healthy_blocks: 1,
            under_replicated_blocks: 1,
            corrupt_blocks: 1,
            mis_replicated_blocks: 4,
            live_datanodes: 2,
            dead_datanodes: 1,
            decommissioning_datanodes: 1,
            safe_mode: false,
            healthy: false,
            problems: vec![FsckProblem {
                path: DfsPath::parse("/data/a").unwrap(),
                block_id: dfs_common::ids::BlockId::new(),
                health: BlockHealth::Corrupt,
                live_replicas: 0,
                expected_replicas: 3,
            }],
            ..Default::default()
        };
        let text = squash(&fsck_text(&r));
        for want in [
            " CORRUPT 0 3\n",
            "Corrupt blocks: 1\n",
            "Mis-replicated blocks: 4\n",
            "Dead datanodes: 1\n",
            "Decommissioning datanodes: 1\n",
            "Safe mode: off\n",
            "(only the first 1 problem blocks are listed)\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        assert!(text.ends_with("The filesystem under path '/data' is CORRUPT\n"));
        assert_eq!(fsck_damage(&r), "1 corrupt block");
        r.missing_blocks = 2;
        assert_eq!(fsck_damage(&r), "2 missing blocks, 1 corrupt block");
        r.corrupt_blocks = 0;
        assert_eq!(fsck_damage(&r), "2 missing blocks");
    }
}
