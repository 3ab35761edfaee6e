//! `/metrics`: a handful of gauges in the Prometheus text format, written by
//! hand from the cluster summary (no exporter, no second HTTP server).
use dfs_common::proto::client::ClusterSummary;
use std::fmt::Write;

/// Renders the gauges. `pending_files` and `meta_bytes` are not in the
/// summary, so they come separately.
pub fn render(s: &ClusterSummary, pending_files: u64, meta_bytes: u64) -> String {
    let gauges: [(&str, &str, u64); 14] = [
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
            "Capacity of the live datanodes.",
            s.capacity,
        ),
        (
            "dfs_namenode_used_bytes",
            "Block data on the live datanodes.",
            s.used,
        ),
        (
            "dfs_namenode_available_bytes",
            "Space the live datanodes can still take.",
            s.available,
        ),
        (
            "dfs_namenode_metadata_bytes",
            "Bytes the metadata store uses on disk.",
            meta_bytes,
        ),
    ];
    let mut out = String::with_capacity(2048);
    for (name, help, value) in gauges {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let text = render(&s, 2, 1234);
        assert!(text.contains("dfs_namenode_live_datanodes 3\n"));
        assert!(text.contains("# TYPE dfs_namenode_files gauge\ndfs_namenode_files 7\n"));
        assert!(text.contains("dfs_namenode_files_being_written 2\n"));
    }
}
