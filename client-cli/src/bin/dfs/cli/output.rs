//! Output: human text (aligned tables, `hdfs dfs`-like lines, sizes via
//! `human_bytes`, local times) or one JSON document; and the only place that
//! writes to stdout.
//!
//! The formatting functions are pure (they return strings) so they can be
//! tested; [`emit`] and [`emit_json`] do the writing and turn a closed pipe
//! into [`CliError::BrokenPipe`].
use crate::error::{io_failure, CliError, CliResult};
use crate::time::local_time;
use dfs_client::SafeModeStatus;
use dfs_common::proto::client::{
    AdminState, BlockHealth, ClusterSummary, ContentSummary, DatanodeReport, DatanodeState,
    FileStatus, FileType, FsckReport, OrphansReport, ReplicationProgress, UnknownReplicas,
};
use dfs_common::units::human_bytes;
use serde::Serialize;
use std::io::Write;

/// Writes `text` to stdout as is.
pub fn emit(text: &str) -> CliResult {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| io_failure("cannot write to stdout", &e))
}

/// Writes `value` as one pretty JSON document and a newline.
pub fn emit_json<T: Serialize + ?Sized>(value: &T) -> CliResult {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))?;
    text.push('\n');
    emit(&text)
}

/// Column alignment in [`table`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Align {
    Left,
    Right,
}

/// Renders rows as columns separated by one space, each padded to its
/// widest cell; trailing spaces trimmed; every line ends with `\n`.
pub fn table(rows: &[Vec<String>], align: &[Align]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut width = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            let pad = width[i] - cell.chars().count();
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `drwxr-xr-x` / `-rw-r--r--`.
pub fn permission_string(file_type: FileType, perm: u16) -> String {
    let mut s = String::with_capacity(10);
    s.push(if file_type == FileType::Directory {
        'd'
    } else {
        '-'
    });
    for shift in [6u16, 3, 0] {
        let bits = (perm >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// `ls` lines: permissions, replication, owner, group, size, mtime, path.
pub fn ls_table(entries: &[FileStatus]) -> String {
    ls_table_with(entries, |ms| local_time(ms, false))
}

pub fn ls_table_with(entries: &[FileStatus], time: impl Fn(u64) -> String) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let dir = e.file_type == FileType::Directory;
            vec![
                permission_string(e.file_type, e.permission),
                if dir {
                    "-".into()
                } else {
                    e.replication.to_string()
                },
                e.owner.clone(),
                e.group.clone(),
                human_bytes(e.length),
                time(e.modification_time),
                e.path.to_string(),
            ]
        })
        .collect();
    use Align::*;
    table(&rows, &[Left, Right, Left, Left, Right, Left, Left])
}

/// The `du -v` header (as `hdfs dfs -du -v` names its columns).
pub const DU_HEADER: [&str; 3] = ["SIZE", "WITH_ALL_REPLICAS", "PATH"];

/// `du` lines: size, space consumed (all replicas), path; with `header`,
/// a first line naming the columns.
pub fn du_table(sums: &[ContentSummary], header: bool) -> String {
    let head = header.then(|| DU_HEADER.iter().map(|h| h.to_string()).collect());
    let rows: Vec<Vec<String>> = head
        .into_iter()
        .chain(sums.iter().map(|s| {
            vec![
                human_bytes(s.length),
                human_bytes(s.space_consumed),
                s.path.to_string(),
            ]
        }))
        .collect();
    table(&rows, &[Align::Right, Align::Right, Align::Left])
}

/// What `put -v`/`get -v` (and either on a terminal) print when a file is
/// done: `put a.iso -> /d/a.iso: 1.0 GiB in 3.2s (320.0 MiB/s)`.
pub fn transfer_line(verb: &str, from: &str, to: &str, bytes: u64, secs: f64) -> String {
    let rate = if secs > 0.0 {
        format!("{}/s", human_bytes((bytes as f64 / secs) as u64))
    } else {
        "-".into()
    };
    format!(
        "{verb} {from} -> {to}: {} in {secs:.1}s ({rate})\n",
        human_bytes(bytes)
    )
}

/// What `du` shows for a file, computed from its status (no request).
pub fn file_summary(s: &FileStatus) -> ContentSummary {
    ContentSummary {
        path: s.path.clone(),
        length: s.length,
        file_count: 1,
        directory_count: 0,
        space_consumed: s.length.saturating_mul(u64::from(s.replication)),
        block_count: s.blocks,
    }
}

fn size_with_bytes(n: u64) -> String {
    if n < 1024 {
        human_bytes(n)
    } else {
        format!("{} ({n} bytes)", human_bytes(n))
    }
}

/// `stat`: one `Key: value` line each.
pub fn stat_text(s: &FileStatus) -> String {
    stat_text_with(s, |ms| local_time(ms, true))
}

pub fn stat_text_with(s: &FileStatus, time: impl Fn(u64) -> String) -> String {
    let dir = s.file_type == FileType::Directory;
    let mut rows: Vec<Vec<String>> = vec![
        vec!["Path:".into(), s.path.to_string()],
        vec![
            "Type:".into(),
            if dir { "directory" } else { "file" }.into(),
        ],
    ];
    if dir {
        rows.push(vec!["Entries:".into(), s.children.to_string()]);
    } else {
        rows.push(vec!["Size:".into(), size_with_bytes(s.length)]);
        rows.push(vec!["Replication:".into(), s.replication.to_string()]);
        rows.push(vec!["Block size:".into(), human_bytes(s.block_size)]);
        rows.push(vec!["Blocks:".into(), s.blocks.to_string()]);
    }
    rows.push(vec!["Owner:".into(), s.owner.clone()]);
    rows.push(vec!["Group:".into(), s.group.clone()]);
    rows.push(vec![
        "Permission:".into(),
        format!(
            "{} ({:03o})",
            permission_string(s.file_type, s.permission),
            s.permission
        ),
    ]);
    rows.push(vec!["Modified:".into(), time(s.modification_time)]);
    if !dir {
        rows.push(vec!["Accessed:".into(), time(s.access_time)]);
    }
    if let Some(h) = &s.sha256 {
        rows.push(vec!["SHA-256:".into(), h.to_hex()]);
    }
    rows.push(vec!["Inode:".into(), s.inode_id.to_string()]);
    // A fixed label column, so the layout does not depend on the entry.
    rows.iter()
        .map(|r| format!("{:<13}{}\n", r[0], r[1]))
        .collect()
}

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

fn admin_state_name(a: AdminState) -> &'static str {
    match a {
        AdminState::Normal => "normal",
        AdminState::Decommissioning => "decommissioning",
        AdminState::Decommissioned => "decommissioned",
    }
}

/// `report`: the summary, then one row per datanode.
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
                "replication {}, block size {}",
                s.default_replication,
                human_bytes(s.default_block_size)
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
            match n.state {
                DatanodeState::Live => "live".into(),
                DatanodeState::Dead => "DEAD".into(),
            },
            admin_state_name(n.admin_state).into(),
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
            Left, Left, Left, Left, Right, Right, Right, Right, Right, Right, Right, Right,
        ],
    ));
    out.push_str(&shared_filesystems_text(nodes));
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
pub fn safe_mode_text(s: &SafeModeStatus) -> String {
    match (s.safe_mode, s.reason.as_deref()) {
        (true, Some(r)) if !r.is_empty() => format!("Safe mode is ON ({r})\n"),
        (true, _) => "Safe mode is ON\n".into(),
        (false, _) => "Safe mode is OFF\n".into(),
    }
}

/// `fsck`: the problem blocks, totals, then the verdict line.
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
pub(crate) mod tests {
    use super::*;
    use dfs_common::path::DfsPath;

    pub fn status(path: &str, dir: bool, len: u64) -> FileStatus {
        let p = DfsPath::parse(path).unwrap();
        FileStatus {
            name: p.name().unwrap_or("").to_string(),
            path: p,
            file_type: if dir {
                FileType::Directory
            } else {
                FileType::File
            },
            length: len,
            replication: if dir { 0 } else { 3 },
            block_size: if dir { 0 } else { 64 << 20 },
            modification_time: 1_700_000_000_000,
            access_time: 1_700_000_000_000,
            owner: "alice".into(),
            group: "supergroup".into(),
            permission: if dir { 0o755 } else { 0o644 },
            sha256: None,
            children: 0,
            blocks: if dir { 0 } else { 1 },
            inode_id: 7,
        }
    }

    #[test]
    fn permissions() {
        assert_eq!(permission_string(FileType::Directory, 0o755), "drwxr-xr-x");
        assert_eq!(permission_string(FileType::File, 0o644), "-rw-r--r--");
        assert_eq!(permission_string(FileType::File, 0o000), "----------");
        assert_eq!(permission_string(FileType::File, 0o777), "-rwxrwxrwx");
    }

    #[test]
    fn table_alignment() {
        let rows = vec![
            vec!["a".to_string(), "1".to_string(), "x".to_string()],
            vec!["bbb".to_string(), "100".to_string(), "".to_string()],
        ];
        assert_eq!(
            table(&rows, &[Align::Left, Align::Right, Align::Left]),
            "a     1 x\nbbb 100\n"
        );
        assert_eq!(table(&[], &[]), "");
    }

    #[test]
    fn ls_lines() {
        let entries = vec![
            status("/d", true, 0),
            status("/d/big.bin", false, 3 * 1024 * 1024 + 1),
        ];
        let text = ls_table_with(&entries, |_| "2023-11-14 22:13".into());
        assert_eq!(
            text,
            "drwxr-xr-x - alice supergroup     0 B 2023-11-14 22:13 /d\n\
             -rw-r--r-- 3 alice supergroup 3.0 MiB 2023-11-14 22:13 /d/big.bin\n"
        );
    }

    #[test]
    fn transfer_lines() {
        assert_eq!(
            transfer_line("put", "a.iso", "/d/a.iso", 3 << 30, 2.0),
            "put a.iso -> /d/a.iso: 3.0 GiB in 2.0s (1.5 GiB/s)\n"
        );
        assert!(transfer_line("get", "/e", "e", 0, 0.0).ends_with("0 B in 0.0s (-)\n"));
    }

    #[test]
    fn du_lines() {
        let f = status("/a/f", false, 2048);
        let mut d = file_summary(&status("/a/sub", false, 0));
        d.length = 10;
        d.space_consumed = 30;
        let text = du_table(&[file_summary(&f), d.clone()], false);
        assert_eq!(text, "2.0 KiB 6.0 KiB /a/f\n   10 B    30 B /a/sub\n");
        let text = du_table(&[d], true);
        assert_eq!(
            text,
            "SIZE WITH_ALL_REPLICAS PATH\n10 B              30 B /a/sub\n"
        );
        assert_eq!(file_summary(&f).space_consumed, 6144);
        assert_eq!(file_summary(&f).file_count, 1);
    }

    #[test]
    fn stat_lines() {
        let mut f = status("/a/f", false, 5000);
        f.sha256 = Some(dfs_common::checksum::Sha256Digest::empty());
        let text = stat_text_with(&f, |_| "T".into());
        assert!(
            text.contains("Size:        4.9 KiB (5000 bytes)\n"),
            "{text}"
        );
        assert!(text.contains("Permission:  -rw-r--r-- (644)\n"), "{text}");
        assert!(text.contains("SHA-256:     e3b0c442"), "{text}");
        let d = stat_text_with(&status("/a", true, 0), |_| "T".into());
        assert!(
            d.contains("Type:        directory\n") && !d.contains("Size:"),
            "{d}"
        );
    }

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
            "NODE ADDRESS STATE ADMIN CAPACITY USED USED% AVAILABLE BLOCKS TO-DRAIN COPYING HEARTBEAT\n",
            " http://127.0.0.1:9864 live decommissioning 0 B 0 B - 0 B 12 7 2 0.0s ago\n",
            " http://127.0.0.1:9865 DEAD normal 0 B 0 B - 0 B 0 - 0 0.0s ago\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
        let mut s = summary();
        s.safe_mode = false;
        assert!(squash(&report_text(&s, &[])).contains("Safe mode: off\n"));
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
