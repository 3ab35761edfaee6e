//! The smaller verbs HDFS users reach for (`hdfs dfs -touchz`, `-test`,
//! `-head`, `-tail`, `-chmod`, `-chown`, `-chgrp`, `-df`, `-cp`, `-setrep
//! -R`): each a few calls of the client library, with HDFS's exit
//! statuses and output where scripts read them.
use super::ctx::{parse_path, Ctx};
use super::output::{emit, emit_json};
use crate::error::{hint, io_failure, is_not_found, CliError, CliResult};
use dfs_client::{ClientError, NoProgress, UploadOptions};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileStatus, FileType, SetAttributesRequest};
use dfs_common::units::human_bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::io::Write;
use std::time::Duration;

/// How much `head` and `tail` show (HDFS: 1 KiB).
const TAIL_BYTES: u64 = 1024;
/// How often `tail -f` looks for more.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// `touchz PATH...`: an empty file; one that is there already must be
/// empty too (as HDFS: it is left as it is).
pub async fn touchz(ctx: &Ctx, paths: &[String]) -> CliResult {
    for p in paths {
        let path = parse_path(p)?;
        match ctx.client.status(&path).await {
            Ok(st) if st.file_type == FileType::Directory => {
                return Err(CliError::Failed(format!("{path} is a directory")))
            }
            Ok(st) if st.length > 0 => {
                return Err(CliError::Failed(format!(
                    "{path} is not a zero-length file ({} bytes)",
                    st.length
                )))
            }
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {
                let opts = UploadOptions {
                    create_parent: false,
                    ..UploadOptions::default()
                };
                let made = ctx.client.upload(&path, &[][..], &opts, &NoProgress).await;
                made.map_err(|e| hint(e, is_not_found, "make the parent first: dfs mkdir -p"))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// What `test` asks of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKind {
    /// `-e`: it exists.
    Exists,
    /// `-d`: a directory.
    Dir,
    /// `-f`: a file.
    File,
    /// `-s`: a file that is not empty.
    NonEmpty,
    /// `-z`: an empty file.
    Empty,
}

/// `test -e|-d|-f|-s|-z PATH`: exit 0 when it holds, 1 (silently) when not.
pub async fn test(ctx: &Ctx, kind: TestKind, path: &str) -> CliResult {
    let path = parse_path(path)?;
    let st = match ctx.client.status(&path).await {
        Ok(st) => Some(st),
        Err(e) if is_not_found(&e) => None,
        Err(e) => return Err(e.into()),
    };
    let is_file = |st: &FileStatus| st.file_type == FileType::File;
    let holds = match (kind, &st) {
        (_, None) => false,
        (TestKind::Exists, Some(_)) => true,
        (TestKind::Dir, Some(st)) => !is_file(st),
        (TestKind::File, Some(st)) => is_file(st),
        (TestKind::NonEmpty, Some(st)) => is_file(st) && st.length > 0,
        (TestKind::Empty, Some(st)) => is_file(st) && st.length == 0,
    };
    if holds {
        Ok(())
    } else {
        Err(CliError::False)
    }
}

/// `head PATH`: the first KiB.
pub async fn head(ctx: &Ctx, path: &str) -> CliResult {
    let path = parse_path(path)?;
    let len = file_len(ctx, &path).await?;
    write_range(ctx, &path, 0, len.min(TAIL_BYTES))
        .await
        .map(drop)
}

/// The length of the file at `path` (a directory is an error).
async fn file_len(ctx: &Ctx, path: &DfsPath) -> CliResult<u64> {
    let st = ctx.client.status(path).await?;
    if st.file_type == FileType::Directory {
        return Err(CliError::Failed(format!("{path} is a directory")));
    }
    Ok(st.length)
}

/// `tail [-f] PATH`: the last KiB; with `-f`, then what is appended, until
/// interrupted (a file replaced by a shorter one starts over from its end).
pub async fn tail(ctx: &Ctx, path: &str, follow: bool) -> CliResult {
    let path = parse_path(path)?;
    let len = file_len(ctx, &path).await?;
    let start = len.saturating_sub(TAIL_BYTES);
    let mut at = write_range(ctx, &path, start, len - start).await?;
    if !follow {
        return Ok(());
    }
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let len = file_len(ctx, &path).await?;
        if len < at {
            at = len;
        } else if len > at {
            at = write_range(ctx, &path, at, len - at).await?;
        }
    }
}

/// Writes `len` bytes of `path` from `offset` to stdout, verified as every
/// read is; returns where it stopped.
async fn write_range(ctx: &Ctx, path: &DfsPath, offset: u64, len: u64) -> CliResult<u64> {
    if len == 0 {
        return Ok(offset);
    }
    let mut r = ctx.client.open(path, offset, Some(len)).await?;
    let mut at = offset;
    let mut out = std::io::stdout().lock();
    while let Some(piece) = r.next().await {
        let piece = piece?;
        out.write_all(&piece)
            .map_err(|e| io_failure("stdout", &e))?;
        at += piece.len() as u64;
    }
    out.flush().map_err(|e| io_failure("stdout", &e))?;
    Ok(at)
}

/// Every path at and below `root` (directories before what is in them).
async fn walk(ctx: &Ctx, root: &DfsPath) -> CliResult<Vec<FileStatus>> {
    let first = ctx.client.status(root).await?;
    let mut out = Vec::new();
    let mut dirs = Vec::new();
    if first.file_type == FileType::Directory {
        dirs.push(root.clone());
    }
    out.push(first);
    while let Some(d) = dirs.pop() {
        for e in ctx.client.list(&d).await? {
            if e.file_type == FileType::Directory {
                dirs.push(e.path.clone());
            }
            out.push(e);
        }
    }
    Ok(out)
}

/// The paths a `-R` verb works on: each path, and with `recursive`
/// everything below it.
async fn targets(ctx: &Ctx, paths: &[String], recursive: bool) -> CliResult<Vec<FileStatus>> {
    let mut out = Vec::new();
    for p in paths {
        let path = parse_path(p)?;
        if recursive {
            out.extend(walk(ctx, &path).await?);
        } else {
            out.push(ctx.client.status(&path).await?);
        }
    }
    Ok(out)
}

/// `chmod [-R] MODE PATH...`: octal (`755`) or symbolic (`u+x,go-w`).
pub async fn chmod(ctx: &Ctx, mode: &str, paths: &[String], recursive: bool) -> CliResult {
    let change = ModeChange::parse(mode).map_err(CliError::Usage)?;
    for st in targets(ctx, paths, recursive).await? {
        let is_dir = st.file_type == FileType::Directory;
        let req = SetAttributesRequest {
            path: st.path.clone(),
            permission: Some(change.apply(st.permission, is_dir)),
            ..SetAttributesRequest::default()
        };
        ctx.client.set_attributes(&req).await?;
    }
    Ok(())
}

/// `chown [-R] OWNER[:GROUP] PATH...` and `chgrp [-R] GROUP PATH...`.
pub async fn chown(
    ctx: &Ctx,
    owner: Option<&str>,
    group: Option<&str>,
    paths: &[String],
    recursive: bool,
) -> CliResult {
    let name = |n: Option<&str>| n.filter(|s| !s.is_empty()).map(str::to_string);
    let (owner, group) = (name(owner), name(group));
    if owner.is_none() && group.is_none() {
        return Err(CliError::Usage(
            "name an owner, a group or both (OWNER:GROUP)".into(),
        ));
    }
    for st in targets(ctx, paths, recursive).await? {
        let req = SetAttributesRequest {
            path: st.path.clone(),
            owner: owner.clone(),
            group: group.clone(),
            ..SetAttributesRequest::default()
        };
        ctx.client.set_attributes(&req).await?;
    }
    Ok(())
}

/// `setrep -R N DIR`: every file below DIR.
pub async fn setrep_tree(
    ctx: &Ctx,
    replication: u16,
    path: &DfsPath,
) -> CliResult<Vec<FileStatus>> {
    let files: Vec<FileStatus> = walk(ctx, path)
        .await?
        .into_iter()
        .filter(|s| s.file_type == FileType::File)
        .collect();
    futures_util::stream::iter(files)
        .map(|f| async move { ctx.client.set_replication(&f.path, replication).await })
        .buffered(8)
        .try_collect()
        .await
        .map_err(CliError::from)
}

/// `snapshot allow|disallow|create|delete|rename|list`.
pub async fn snapshot(ctx: &Ctx, action: super::args::SnapshotArg) -> CliResult {
    use super::args::SnapshotArg as A;
    use dfs_common::proto::client::SnapshotRequest;
    let (op, dir, name, new_name) = match action {
        A::List { dir } => {
            let at = parse_path(&dir)?
                .join(".snapshot")
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let list = ctx.client.list(&at).await?;
            if ctx.json {
                return emit_json(&list);
            }
            let mut out = String::new();
            for s in list {
                out.push_str(&format!(
                    "{}\t{}\n",
                    s.path,
                    crate::time::local_time(s.modification_time, true)
                ));
            }
            return emit(&out);
        }
        A::Diff { dir, from, to } => {
            let d = ctx
                .client
                .snapshot_diff(&parse_path(&dir)?, &from, &to)
                .await?;
            if ctx.json {
                return emit_json(&d);
            }
            let at = |p: &str| {
                if p.is_empty() {
                    ".".to_string()
                } else {
                    format!("./{p}")
                }
            };
            let mut out = format!(
                "Difference between {} and {} under directory {}:\n",
                if from == "." {
                    "the current directory".to_string()
                } else {
                    format!("snapshot {from}")
                },
                if to == "." {
                    "the current directory".to_string()
                } else {
                    format!("snapshot {to}")
                },
                d.path
            );
            for e in &d.entries {
                let mark = match e.kind.as_str() {
                    "CREATE" => "+",
                    "DELETE" => "-",
                    "RENAME" => "R",
                    _ => "M",
                };
                match &e.target {
                    Some(t) => out.push_str(&format!("{mark}\t{} -> {}\n", at(&e.path), at(t))),
                    None => out.push_str(&format!("{mark}\t{}\n", at(&e.path))),
                }
            }
            return emit(&out);
        }
        A::Allow { dir } => ("allow", dir, None, None),
        A::Disallow { dir } => ("disallow", dir, None, None),
        A::Create { dir, name } => ("create", dir, name, None),
        A::Delete { dir, name } => ("delete", dir, Some(name), None),
        A::Rename { dir, old, new } => ("rename", dir, Some(old), Some(new)),
    };
    let req = SnapshotRequest {
        path: parse_path(&dir)?,
        name,
        new_name,
    };
    let done = ctx.client.snapshot(op, &req).await?;
    if ctx.json {
        return emit_json(&done);
    }
    match op {
        "create" => emit(&format!("Created snapshot {}\n", done.path)),
        "rename" => emit(&format!("Renamed snapshot to {}\n", done.path)),
        _ => Ok(()),
    }
}

/// `df`'s one row.
#[derive(Debug, Serialize)]
struct Df {
    filesystem: String,
    size: u64,
    used: u64,
    available: u64,
    used_percent: f64,
}

/// `df [-h]`: the cluster's capacity, as `hdfs dfs -df` shows it.
pub async fn df(ctx: &Ctx, human: bool) -> CliResult {
    let s = ctx.client.summary().await?;
    let row = Df {
        filesystem: ctx.client.namenode_url().to_string(),
        size: s.capacity,
        used: s.used,
        available: s.available,
        used_percent: if s.capacity > 0 {
            100.0 * s.used as f64 / s.capacity as f64
        } else {
            0.0
        },
    };
    if ctx.json {
        return emit_json(&row);
    }
    let n = |v: u64| if human { human_bytes(v) } else { v.to_string() };
    let rows = [
        ["Filesystem", "Size", "Used", "Available", "Use%"].map(str::to_string),
        [
            row.filesystem.clone(),
            n(row.size),
            n(row.used),
            n(row.available),
            format!("{:.0}%", row.used_percent),
        ],
    ];
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| match i {
                0 => format!("{c:<w$}", w = widths[i]),
                _ => format!("{c:>w$}", w = widths[i]),
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    emit(&out)
}

/// `cp [-f] SRC... DST`: new files with the sources' bytes (a directory
/// with everything in it), each read verified and the copy's SHA-256
/// checked against its source's; a copy shares no block with its source.
/// Into DST when it is a directory.
pub async fn cp(ctx: &Ctx, sources: &[String], dst: &str, force: bool) -> CliResult {
    let dst = parse_path(dst)?;
    let dst_is_dir = match ctx.client.status(&dst).await {
        Ok(st) => st.file_type == FileType::Directory,
        Err(e) if is_not_found(&e) => false,
        Err(e) => return Err(e.into()),
    };
    if sources.len() > 1 && !dst_is_dir {
        return Err(CliError::Failed(format!(
            "{dst}: copying several sources needs an existing directory"
        )));
    }
    for s in sources {
        let src = parse_path(s)?;
        let target = match (dst_is_dir, src.name()) {
            (true, Some(name)) => dst.join(name).map_err(|e| CliError::Usage(e.to_string()))?,
            _ => dst.clone(),
        };
        if target == src || target.starts_with(&src) {
            return Err(CliError::Failed(format!(
                "cannot copy {src} into itself ({target})"
            )));
        }
        for st in walk(ctx, &src).await? {
            let rel = st.path.as_str()[src.as_str().len()..].trim_start_matches('/');
            let to = if rel.is_empty() {
                target.clone()
            } else {
                DfsPath::parse(&format!("{}/{rel}", target.as_str().trim_end_matches('/')))
                    .map_err(|e| CliError::Usage(e.to_string()))?
            };
            if st.file_type == FileType::Directory {
                ctx.client.mkdirs(&to, true).await?;
            } else {
                copy_file(ctx, &st, &to, force).await?;
            }
        }
    }
    Ok(())
}

/// One file's copy, checked end to end; a copy that does not match its
/// source is removed.
async fn copy_file(ctx: &Ctx, src: &FileStatus, to: &DfsPath, force: bool) -> CliResult {
    let opts = copy_options(src, force);
    let exists = |e: &ClientError| e.code() == dfs_common::error::ErrorCode::Conflict;
    let made = if src.length == 0 {
        // An empty file has nothing to read.
        ctx.client.upload(to, &[][..], &opts, &NoProgress).await
    } else {
        let reader = ctx.client.open(&src.path, 0, None).await?;
        let bytes = tokio_util::io::StreamReader::new(reader.map_err(std::io::Error::other));
        ctx.client.upload(to, bytes, &opts, &NoProgress).await
    };
    let made = made.map_err(|e| hint(e, exists, "-f replaces it"))?;
    if made.sha256 != src.sha256 || made.length != src.length {
        let _ = ctx.client.delete(to, false).await;
        return Err(CliError::Failed(format!(
            "the copy of {} at {to} does not match it (removed)",
            src.path
        )));
    }
    Ok(())
}

fn copy_options(src: &FileStatus, force: bool) -> UploadOptions {
    UploadOptions {
        overwrite: force,
        create_parent: false,
        replication: Some(src.replication),
        block_size: Some(src.block_size),
        ..UploadOptions::default()
    }
}

/// A `chmod` mode: octal bits, or symbolic clauses applied in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChange {
    Octal(u16),
    /// (who mask, op, what bits, X), per clause.
    Symbolic(Vec<(u16, char, u16, bool)>),
}

impl ModeChange {
    pub fn parse(s: &str) -> Result<ModeChange, String> {
        let bad = || format!("{s:?} is not a mode (755, 0644, u+x, go-w, a=r)");
        if !s.is_empty() && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            let n = u16::from_str_radix(s, 8).map_err(|_| bad())?;
            return if n <= 0o7777 {
                Ok(ModeChange::Octal(n))
            } else {
                Err(bad())
            };
        }
        let mut clauses = Vec::new();
        for clause in s.split(',') {
            let op_at = clause.find(['+', '-', '=']).ok_or_else(bad)?;
            let (who, rest) = clause.split_at(op_at);
            let mut who_mask = 0u16;
            for c in who.chars() {
                who_mask |= match c {
                    'u' => 0o700,
                    'g' => 0o070,
                    'o' => 0o007,
                    'a' => 0o777,
                    _ => return Err(bad()),
                };
            }
            if who.is_empty() {
                who_mask = 0o777;
            }
            let mut chars = rest.chars();
            let op = chars.next().ok_or_else(bad)?;
            let (mut bits, mut big_x) = (0u16, false);
            for c in chars {
                match c {
                    'r' => bits |= 0o444,
                    'w' => bits |= 0o222,
                    'x' => bits |= 0o111,
                    'X' => big_x = true,
                    _ => return Err(bad()),
                }
            }
            clauses.push((who_mask, op, bits, big_x));
        }
        Ok(ModeChange::Symbolic(clauses))
    }

    /// The mode `old` becomes (`X`: execute for directories and for what
    /// some class may execute already).
    pub fn apply(&self, old: u16, is_dir: bool) -> u16 {
        match self {
            ModeChange::Octal(n) => *n,
            ModeChange::Symbolic(clauses) => {
                let mut m = old;
                for &(who, op, bits, big_x) in clauses {
                    let x = if big_x && (is_dir || m & 0o111 != 0) {
                        0o111
                    } else {
                        0
                    };
                    let b = (bits | x) & who;
                    m = match op {
                        '+' => m | b,
                        '-' => m & !b,
                        _ => (m & !who) | b,
                    };
                }
                m
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_modes_as_hdfs_takes_them() {
        let m = |s: &str, old: u16, dir: bool| ModeChange::parse(s).unwrap().apply(old, dir);
        assert_eq!(m("755", 0o600, false), 0o755);
        assert_eq!(m("0644", 0o777, false), 0o644);
        assert_eq!(m("u+x", 0o644, false), 0o744);
        assert_eq!(m("go-w", 0o666, false), 0o644);
        assert_eq!(m("a=r", 0o777, false), 0o444);
        assert_eq!(m("+x", 0o644, false), 0o755);
        assert_eq!(m("u=rwx,g=rx,o=", 0o000, false), 0o750);
        assert_eq!(m("a+X", 0o644, true), 0o755, "X: directories");
        assert_eq!(m("a+X", 0o644, false), 0o644, "X: not a plain file");
        assert_eq!(m("a+X", 0o744, false), 0o755, "X: already executable");
        for bad in ["", "8", "99999", "u+q", "z+x", "u", "rwx"] {
            assert!(ModeChange::parse(bad).is_err(), "{bad:?}");
        }
    }
}
