//! Namespace verbs: `mkdir`, `ls`, `stat`, `du`, `rm`, `mv`. Each is one or
//! a few namenode calls through `dfs_client`; none moves file bytes.
use super::args::QuotaArg;
use super::ctx::{parse_path, Ctx};
use super::output::namespace::Counted;
use super::output::{self, emit, emit_json};
use crate::error::{hint, is_not_found, CliError, CliResult};
use dfs_client::ClientError;
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::SetQuotaRequest;
use dfs_common::proto::client::{ContentSummary, DeleteResponse, FileStatus, FileType};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;

/// How many `du` summaries are asked for at once.
const DU_CONCURRENCY: usize = 8;

pub async fn mkdir(ctx: &Ctx, paths: &[String], parents: bool) -> CliResult {
    let paths = paths
        .iter()
        .map(|p| parse_path(p))
        .collect::<CliResult<Vec<_>>>()?;
    let mut made = Vec::with_capacity(paths.len());
    for p in &paths {
        if !parents {
            // As `hdfs dfs -mkdir` (and mkdir(1)): only -p accepts what
            // exists already.
            match ctx.client.status(p).await {
                Ok(_) => return Err(CliError::Failed(format!("{p}: File exists"))),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let made_one = ctx.client.mkdirs(p, parents).await;
        made.push(made_one.map_err(|e| hint(e, is_not_found, "use -p to make parents"))?);
    }
    if ctx.json {
        emit_json(&made)?;
    }
    Ok(())
}

/// True when `list(path)` answered with the file at `path` itself rather
/// than a directory's entries (an entry of a directory is never the
/// directory).
pub fn listing_is_the_file(path: &DfsPath, entries: &[FileStatus]) -> bool {
    matches!(entries, [only] if only.path == *path && only.file_type == FileType::File)
}

pub async fn ls(ctx: &Ctx, path: &str, recursive: bool) -> CliResult {
    let path = parse_path(path)?;
    let top = ctx.client.list(&path).await?;
    let is_file = listing_is_the_file(&path, &top);
    let entries = if recursive && !is_file {
        walk(ctx, top).await?
    } else {
        top
    };
    if ctx.json {
        return emit_json(&entries);
    }
    let mut text = String::new();
    if !is_file && !recursive {
        let n = entries.len();
        text.push_str(&format!(
            "Found {n} item{}\n",
            if n == 1 { "" } else { "s" }
        ));
    }
    text.push_str(&output::namespace::ls_table(&entries));
    emit(&text)
}

/// Depth-first, each directory followed by its contents (as `hdfs dfs -ls -R`).
async fn walk(ctx: &Ctx, top: Vec<FileStatus>) -> CliResult<Vec<FileStatus>> {
    let mut out = Vec::new();
    let mut stack: Vec<FileStatus> = top.into_iter().rev().collect();
    while let Some(entry) = stack.pop() {
        if entry.file_type == FileType::Directory {
            let children = ctx.client.list(&entry.path).await?;
            stack.extend(children.into_iter().rev());
        }
        out.push(entry);
    }
    Ok(out)
}

pub async fn stat(ctx: &Ctx, path: &str) -> CliResult {
    let path = parse_path(path)?;
    let s = ctx.client.status(&path).await?;
    if ctx.json {
        emit_json(&s)
    } else {
        emit(&output::namespace::stat_text(&s))
    }
}

pub async fn du(ctx: &Ctx, path: &str, summary: bool, header: bool) -> CliResult {
    let path = parse_path(path)?;
    if summary {
        let s = ctx.client.content_summary(&path).await?;
        return if ctx.json {
            emit_json(&s)
        } else {
            emit(&output::namespace::du_table(&[s], header))
        };
    }
    let entries = ctx.client.list(&path).await?;
    let sums: Vec<ContentSummary> = futures_util::stream::iter(entries)
        .map(|e| async move {
            match e.file_type {
                FileType::File => Ok(output::namespace::file_summary(&e)),
                FileType::Directory => ctx.client.content_summary(&e.path).await,
            }
        })
        .buffered(DU_CONCURRENCY)
        .try_collect()
        .await?;
    if ctx.json {
        emit_json(&sums)
    } else {
        emit(&output::namespace::du_table(&sums, header))
    }
}

/// What `rm` did to one path: moved it to the trash, or deleted it.
#[derive(Serialize)]
struct Deleted {
    path: DfsPath,
    /// Where it is now, in the trash; `null` when deleted at once.
    moved_to: Option<DfsPath>,
    #[serde(flatten)]
    counts: DeleteResponse,
}

pub async fn rm(
    ctx: &Ctx,
    paths: &[String],
    recursive: bool,
    force: bool,
    skip_trash: bool,
) -> CliResult {
    let paths = paths
        .iter()
        .map(|p| parse_path(p))
        .collect::<CliResult<Vec<_>>>()?;
    if recursive && paths.iter().any(DfsPath::is_root) {
        return Err(CliError::Usage(
            "refusing to remove '/' (remove what is inside it instead)".into(),
        ));
    }
    let mut deleted = Vec::with_capacity(paths.len());
    for p in paths {
        let done = if skip_trash {
            ctx.client
                .delete(&p, recursive)
                .await
                .map(|counts| (None, counts))
        } else {
            let r = ctx.client.trash(&p, recursive).await;
            r.map(|t| (t.moved_to, t.deleted))
        };
        match done {
            Ok((moved_to, counts)) => {
                if !ctx.json {
                    match &moved_to {
                        Some(to) => emit(&format!("Moved {p} to the trash: {to}\n"))?,
                        None => emit(&format!("Deleted {p}\n"))?,
                    }
                }
                deleted.push(Deleted {
                    path: p,
                    moved_to,
                    counts,
                });
            }
            Err(e) if force && is_not_found(&e) => {}
            // The trash (in the user's home) is over a quota there.
            Err(e) if !skip_trash && e.code() == ErrorCode::QuotaExceeded => {
                return Err(hint(e, |_| true, "--skip-trash deletes it at once"));
            }
            Err(e) if !recursive => {
                let not_empty = |e: &ClientError| {
                    e.code() == ErrorCode::Conflict && e.to_string().contains("not empty")
                };
                return Err(hint(
                    e,
                    not_empty,
                    "use -r to remove it and everything in it",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    if ctx.json {
        emit_json(&deleted)?;
    }
    Ok(())
}

/// `expunge`: the caller's trash deleted now.
pub async fn expunge(ctx: &Ctx) -> CliResult {
    let r = ctx.client.expunge().await?;
    if ctx.json {
        return emit_json(&r);
    }
    emit(&format!(
        "Emptied {}: {} files, {} directories, {}\n",
        r.trash_root,
        r.deleted.files_deleted,
        r.deleted.directories_deleted,
        dfs_common::units::human_bytes(r.deleted.bytes_deleted)
    ))
}

/// `quota set|clear`: prints the quotas as they now are.
pub async fn quota(ctx: &Ctx, action: QuotaArg) -> CliResult {
    let req = match action {
        QuotaArg::Set { files, bytes, dir } => {
            if files.is_none() && bytes.is_none() {
                return Err(CliError::Usage(
                    "say what to limit: --files N and/or --bytes SIZE".into(),
                ));
            }
            SetQuotaRequest {
                path: parse_path(&dir)?,
                files,
                bytes: bytes.map(|b| b.0),
                ..SetQuotaRequest::default()
            }
        }
        QuotaArg::Clear { files, bytes, dir } => {
            // Neither named: both.
            let both = !files && !bytes;
            SetQuotaRequest {
                path: parse_path(&dir)?,
                clear_files: files || both,
                clear_bytes: bytes || both,
                ..SetQuotaRequest::default()
            }
        }
    };
    let q = ctx.client.set_quota(&req).await?;
    if ctx.json {
        return emit_json(&q);
    }
    emit(&output::namespace::quota_line(&q))
}

/// `count [-q] [-v] PATH...` (HDFS's `-count`).
pub async fn count(ctx: &Ctx, paths: &[String], quota: bool, header: bool) -> CliResult {
    let mut rows = Vec::with_capacity(paths.len());
    for p in paths {
        let path = parse_path(p)?;
        let summary = ctx.client.content_summary(&path).await?;
        let quota = match quota {
            true => Some(ctx.client.quota(&path).await?),
            false => None,
        };
        rows.push(Counted { summary, quota });
    }
    if ctx.json {
        return emit_json(&rows);
    }
    emit(&output::namespace::count_table(&rows, quota, header))
}

pub async fn mv(ctx: &Ctx, src: &str, dst: &str) -> CliResult {
    let (src, dst) = (parse_path(src)?, parse_path(dst)?);
    let s = match ctx.client.rename(&src, &dst, false).await {
        Ok(s) => s,
        // Missing: SRC, or DST's parent (as `hdfs dfs -mv`, it is not made).
        Err(e) if is_not_found(&e) && ctx.client.status(&src).await.is_ok() => {
            let parent = dst.parent().unwrap_or_else(DfsPath::root);
            let make = format!("make it first: dfs mkdir -p {parent}");
            return Err(hint(e, |_| true, &make));
        }
        Err(e) => return Err(e.into()),
    };
    if ctx.json {
        emit_json(&s)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::output::namespace::tests::status;

    #[test]
    fn file_vs_directory_listing() {
        let p = DfsPath::parse("/a").unwrap();
        assert!(listing_is_the_file(&p, &[status("/a", false, 1)]));
        assert!(!listing_is_the_file(&p, &[status("/a/x", false, 1)]));
        assert!(!listing_is_the_file(&p, &[]));
        assert!(!listing_is_the_file(
            &p,
            &[status("/a/x", false, 1), status("/a/y", false, 1)]
        ));
    }

    #[test]
    fn deleted_json_is_flat() {
        let d = Deleted {
            path: DfsPath::parse("/x").unwrap(),
            moved_to: None,
            counts: DeleteResponse {
                files_deleted: 1,
                directories_deleted: 0,
                bytes_deleted: 5,
            },
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["path"], "/x");
        assert_eq!(v["files_deleted"], 1);
        assert_eq!(v["bytes_deleted"], 5);
        assert_eq!(v["moved_to"], serde_json::Value::Null);
    }
}
