//! What the namespace verbs print: `ls` lines, `stat`'s `Key: value`
//! lines, `du` lines, and the summary line of a finished `put`/`get`.
//!
//! Pure: each function returns the text; times come as local times unless
//! a test passes its own clock.
use super::{size_with_bytes, table, Align};
use crate::time::local_time;
use dfs_common::proto::client::{ContentSummary, FileStatus, FileType, QuotaUsage};
use dfs_common::units::human_bytes;
use serde::Serialize;

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

/// What `quota set|clear` prints: `/q: files 3 of 10, bytes 1.5 KiB of none`.
pub fn quota_line(q: &QuotaUsage) -> String {
    let limit = |l: Option<u64>, show: &dyn Fn(u64) -> String| l.map_or("none".to_string(), show);
    format!(
        "{}: files and directories {} of {}, bytes {} of {}\n",
        q.path,
        q.names,
        limit(q.files_quota, &|n| n.to_string()),
        human_bytes(q.space_consumed),
        limit(q.bytes_quota, &human_bytes)
    )
}

/// One row of `count`: what `du -s` counts, with the quotas (`-q`).
#[derive(Serialize)]
pub struct Counted {
    #[serde(flatten)]
    pub summary: ContentSummary,
    /// With `-q`: the quotas and what is used against them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaUsage>,
}

/// `count`'s columns as `hdfs dfs -count [-q]` prints them (`none` and
/// `inf` where there is no quota; what remains may be negative when a
/// quota was set below what was used).
pub fn count_table(rows: &[Counted], quota: bool, header: bool) -> String {
    let mut out = String::new();
    if header {
        if quota {
            out.push_str(&format!(
                "{:>12} {:>15} {:>15} {:>15} ",
                "QUOTA", "REM_QUOTA", "SPACE_QUOTA", "REM_SPACE_QUOTA"
            ));
        }
        out.push_str(&format!(
            "{:>12} {:>12} {:>18} PATHNAME\n",
            "DIR_COUNT", "FILE_COUNT", "CONTENT_SIZE"
        ));
    }
    for r in rows {
        if let Some(q) = r.quota.as_ref().filter(|_| quota) {
            let rem = |limit: Option<u64>, used: u64| {
                limit.map_or(("none".to_string(), "inf".to_string()), |l| {
                    (l.to_string(), (l as i128 - used as i128).to_string())
                })
            };
            let (nq, nrem) = rem(q.files_quota, q.names);
            let (sq, srem) = rem(q.bytes_quota, q.space_consumed);
            out.push_str(&format!("{nq:>12} {nrem:>15} {sq:>15} {srem:>15} "));
        }
        let s = &r.summary;
        out.push_str(&format!(
            "{:>12} {:>12} {:>18} {}\n",
            s.directory_count, s.file_count, s.length, s.path
        ));
    }
    out
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
        files_quota: None,
        bytes_quota: None,
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
}
