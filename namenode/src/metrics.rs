//! `/metrics`: gauges and counters in the Prometheus text format, written by
//! hand from the cluster summary (no exporter, no second HTTP server).
use crate::namesystem::{ChangeTimesSnapshot, HealthExtras};
use dfs_common::proto::client::ClusterSummary;
use std::fmt::Write;

/// Renders the metrics. `pending_files`, `meta_bytes`, `x` and `t` are not
/// in the summary, so they come separately.
pub fn render(
    s: &ClusterSummary,
    pending_files: u64,
    meta_bytes: u64,
    x: &HealthExtras,
    t: &ChangeTimesSnapshot,
) -> String {
    let r = &s.replication;
    let gauges: [(&str, &str, u64); 39] = [
        ("dfs_namenode_up", "1 while the namenode serves.", 1),
        (
            "dfs_namenode_uptime_seconds",
            "Seconds since the namenode started.",
            s.uptime_secs,
        ),
        (
            "dfs_namenode_files",
            "Complete files in the namespace.",
            s.files,
        ),
        (
            "dfs_namenode_directories",
            "Directories in the namespace (/ included).",
            s.directories,
        ),
        (
            "dfs_namenode_files_being_written",
            "Files under construction.",
            pending_files,
        ),
        ("dfs_namenode_blocks", "Blocks of complete files.", s.blocks),
        (
            "dfs_namenode_under_replicated_blocks",
            "Blocks with fewer live replicas than wanted.",
            s.under_replicated_blocks,
        ),
        (
            "dfs_namenode_missing_blocks",
            "Blocks with no live replica.",
            s.missing_blocks,
        ),
        (
            "dfs_namenode_live_datanodes",
            "Datanodes heard from recently.",
            u64::from(s.live_datanodes),
        ),
        (
            "dfs_namenode_dead_datanodes",
            "Known datanodes not heard from recently.",
            u64::from(s.dead_datanodes),
        ),
        (
            "dfs_namenode_capacity_bytes",
            "What the live datanodes may store, each file system counted once.",
            s.capacity,
        ),
        (
            "dfs_namenode_used_bytes",
            "Block data on the live datanodes.",
            s.used,
        ),
        (
            "dfs_namenode_available_bytes",
            "What the live datanodes can still take, each file system's free space counted once.",
            s.available,
        ),
        (
            "dfs_namenode_non_dfs_used_bytes",
            "Capacity taken by other files on the datanodes' file systems.",
            s.non_dfs_used,
        ),
        (
            "dfs_namenode_reserved_bytes",
            "Capacity the file systems keep back from ordinary writers (root reserve).",
            s.reserved,
        ),
        (
            "dfs_namenode_filesystems",
            "Distinct file systems under the live datanodes.",
            u64::from(s.filesystems),
        ),
        (
            "dfs_namenode_metadata_bytes",
            "Bytes the metadata store uses on disk.",
            meta_bytes,
        ),
        (
            "dfs_namenode_safe_mode",
            "1 while the namenode is in safe mode (refusing changes).",
            u64::from(s.safe_mode),
        ),
        (
            "dfs_namenode_over_replicated_blocks",
            "Blocks with more live replicas than wanted.",
            s.over_replicated_blocks,
        ),
        (
            "dfs_namenode_corrupt_blocks",
            "Blocks whose every remaining replica is corrupt.",
            s.corrupt_blocks,
        ),
        (
            "dfs_namenode_corrupt_replicas",
            "Replicas known corrupt and not yet deleted.",
            s.corrupt_replicas,
        ),
        (
            "dfs_namenode_orphan_replicas",
            "Replicas of no file waiting for their grace before deletion.",
            x.orphan_replicas,
        ),
        (
            "dfs_namenode_awaiting_registration_datanodes",
            "Datanodes known from before the restart that have not registered yet.",
            u64::from(x.awaiting_registration),
        ),
        (
            "dfs_namenode_decommissioning_datanodes",
            "Datanodes being drained.",
            u64::from(s.decommissioning_datanodes),
        ),
        (
            "dfs_namenode_decommissioned_datanodes",
            "Datanodes drained (safe to stop).",
            u64::from(s.decommissioned_datanodes),
        ),
        (
            "dfs_namenode_maintenance_datanodes",
            "Datanodes in maintenance (dfs maintenance).",
            u64::from(x.in_maintenance),
        ),
        (
            "dfs_namenode_failed_disks",
            "Data dirs (disks) out of service on the live datanodes, as their heartbeats report them.",
            x.failed_disks,
        ),
        (
            "dfs_namenode_replication_queued_blocks",
            "Blocks waiting for a copy.",
            r.queued_blocks,
        ),
        (
            "dfs_namenode_replication_pending_copies",
            "Block copies scheduled and not yet confirmed.",
            r.pending_copies,
        ),
        (
            "dfs_namenode_replication_remaining_bytes",
            "Bytes still to copy for queued and pending work.",
            r.remaining_bytes,
        ),
        (
            "dfs_namenode_replication_completed_copies_total",
            "Block copies confirmed since start.",
            r.completed_copies,
        ),
        (
            "dfs_namenode_replication_completed_bytes_total",
            "Bytes copied since start.",
            r.completed_bytes,
        ),
        (
            "dfs_namenode_replication_timed_out_copies_total",
            "Block copies that timed out and were queued again.",
            r.timed_out_copies,
        ),
        (
            "dfs_namenode_replication_excess_deleted_total",
            "Excess replicas deleted since start.",
            r.excess_deleted,
        ),
        (
            "dfs_namenode_replication_bytes_per_second",
            "Repair rate over about a minute (bytes/s, rounded).",
            r.bytes_per_sec.round() as u64,
        ),
        (
            "dfs_namenode_changes_total",
            "Namespace changes that succeeded since start (the times below are theirs).",
            t.changes,
        ),
        (
            "dfs_namenode_change_queue_microseconds_total",
            "Time changes waited for the namespace's turn.",
            t.queued_us,
        ),
        (
            "dfs_namenode_change_locked_microseconds_total",
            "Time changes held the namespace lock (applied in memory, submitted).",
            t.locked_us,
        ),
        (
            "dfs_namenode_change_durable_wait_microseconds_total",
            "Time changes waited for their commit to be durable.",
            t.durable_wait_us,
        ),
    ];
    let mut out = String::with_capacity(2048);
    for (name, help, value) in gauges {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out
}

/// The Raft group's figures as this namenode sees them (appended to
/// [`render`]'s): its term (one more per election), whether it leads, how
/// far its log is written and applied, and on the leader each member's lag.
pub fn render_raft(r: &dfs_common::proto::client::NamenodesReport) -> String {
    let gauges: [(&str, &str, u64); 5] = [
        (
            "dfs_namenode_raft_term",
            "The namenodes' current term (elections so far).",
            r.term,
        ),
        (
            "dfs_namenode_raft_leader",
            "1 while this namenode leads.",
            u64::from(r.self_role == "leader"),
        ),
        (
            "dfs_namenode_raft_last_log_index",
            "The last entry of this namenode's Raft log.",
            r.last_log_index,
        ),
        (
            "dfs_namenode_raft_last_applied_index",
            "The last entry applied to this namenode's namespace.",
            r.last_applied,
        ),
        (
            "dfs_namenode_raft_members",
            "Namenodes in the group.",
            r.namenodes.len() as u64,
        ),
    ];
    let mut out = String::with_capacity(1024);
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    let lags: Vec<_> = r
        .namenodes
        .iter()
        .filter_map(|n| n.lag.map(|l| (n, l)))
        .collect();
    if !lags.is_empty() {
        let name = "dfs_namenode_raft_member_lag_entries";
        let _ = writeln!(
            out,
            "# HELP {name} On the leader: entries each namenode's log is behind.\n# TYPE {name} gauge"
        );
        for (n, lag) in lags {
            let _ = writeln!(
                out,
                "{name}{{namenode=\"{}\"}} {lag}",
                n.url.replace(['\\', '"', '\n'], "_")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_figures_render() {
        use dfs_common::proto::client::{NamenodeInfo, NamenodesReport};
        let r = NamenodesReport {
            self_url: "http://a:1".into(),
            self_role: "leader".into(),
            term: 3,
            leader: Some("http://a:1".into()),
            last_applied: 41,
            last_log_index: 42,
            namenodes: vec![
                NamenodeInfo {
                    id: 1,
                    url: "http://a:1".into(),
                    role: "leader".into(),
                    matched: Some(42),
                    lag: Some(0),
                },
                NamenodeInfo {
                    id: 2,
                    url: "http://b:2".into(),
                    role: "follower".into(),
                    matched: Some(40),
                    lag: Some(2),
                },
            ],
        };
        let text = render_raft(&r);
        for line in [
            "dfs_namenode_raft_term 3\n",
            "dfs_namenode_raft_leader 1\n",
            "dfs_namenode_raft_last_applied_index 41\n",
            "dfs_namenode_raft_members 2\n",
            "dfs_namenode_raft_member_lag_entries{namenode=\"http://b:2\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }

    #[test]
    fn renders_gauges() {
        let s = ClusterSummary {
            version: "0".into(),
            uptime_secs: 5,
            safe_mode: false,
            live_datanodes: 3,
            dead_datanodes: 1,
            capacity: 100,
            used: 10,
            available: 90,
            files: 7,
            directories: 2,
            blocks: 9,
            under_replicated_blocks: 1,
            missing_blocks: 0,
            default_replication: 3,
            default_block_size: 4096,
            ..Default::default()
        };
        let t = ChangeTimesSnapshot {
            changes: 4,
            queued_us: 10,
            locked_us: 20,
            durable_wait_us: 30,
        };
        let x = HealthExtras {
            in_maintenance: 1,
            failed_disks: 2,
            ..Default::default()
        };
        let text = render(&s, 2, 1234, &x, &t);
        assert!(
            text.contains("# TYPE dfs_namenode_failed_disks gauge\ndfs_namenode_failed_disks 2\n")
        );
        assert!(text.contains("dfs_namenode_maintenance_datanodes 1\n"));
        assert!(text.contains("dfs_namenode_live_datanodes 3\n"));
        assert!(text.contains("# TYPE dfs_namenode_files gauge\ndfs_namenode_files 7\n"));
        assert!(text.contains("dfs_namenode_files_being_written 2\n"));
        assert!(text.contains("dfs_namenode_safe_mode 0\n"));
        assert!(text.contains("dfs_namenode_capacity_bytes 100\n"));
        assert!(text.contains("dfs_namenode_non_dfs_used_bytes 0\n"));
        assert!(text.contains("# TYPE dfs_namenode_replication_completed_copies_total counter\n"));
        assert!(text
            .contains("# TYPE dfs_namenode_changes_total counter\ndfs_namenode_changes_total 4\n"));
        assert!(text.contains("dfs_namenode_change_queue_microseconds_total 10\n"));
        assert!(text.contains("dfs_namenode_change_locked_microseconds_total 20\n"));
        assert!(text.contains("dfs_namenode_change_durable_wait_microseconds_total 30\n"));
    }
}
