//! Metadata safety verbs: `backup FILE|-` (a checked checkpoint of the
//! namenode's metadata) and `orphans [list|delete]` (replicas of blocks the
//! namespace does not know, held until an operator decides).
//!
//! Invariant: `backup` to a file never leaves something that looks like a
//! backup but is not one: it writes a temp file beside FILE, checks the
//! checkpoint to its trailer as it arrives, syncs, and only then renames;
//! any failure removes the temp file and leaves FILE as it was.
use super::ctx::Ctx;
use super::output::{self, emit, emit_json};
use crate::error::{io_failure, CliError, CliResult};
use dfs_common::checkpoint::Summary;
use dfs_common::units::human_bytes;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `dfs --json backup`.
#[derive(Serialize)]
struct Backup {
    file: String,
    cluster_id: String,
    created_ms: u64,
    records: u64,
    bytes: u64,
}

pub async fn backup(ctx: &Ctx, file: &str, force: bool) -> CliResult {
    let summary = if file == "-" {
        let mut out = tokio::io::stdout();
        ctx.client.backup(&mut out).await?
    } else {
        to_file(ctx, Path::new(file), force).await?
    };
    let b = Backup {
        file: file.to_string(),
        cluster_id: summary.header.cluster_id.to_string(),
        created_ms: summary.header.created_ms,
        records: summary.records,
        bytes: summary.bytes,
    };
    let text = format!(
        "Checkpoint of cluster {}: {} records, {} ({} bytes), checked; restore with `namenode --data-dir EMPTY_DIR --restore {}`\n",
        b.cluster_id,
        b.records,
        human_bytes(b.bytes),
        b.bytes,
        if file == "-" { "FILE" } else { file }
    );
    if file == "-" {
        // Stdout holds the checkpoint itself.
        eprint!("{text}");
        Ok(())
    } else if ctx.json {
        emit_json(&b)
    } else {
        emit(&text)
    }
}

/// The temp file beside `dest` that becomes it once the backup is whole.
fn temp_beside(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    dest.with_file_name(format!(".{name}.dfs-backup-{}", std::process::id()))
}

async fn to_file(ctx: &Ctx, dest: &Path, force: bool) -> Result<Summary, CliError> {
    if dest.is_dir() {
        return Err(CliError::Failed(format!(
            "{} is a directory: name the backup file",
            dest.display()
        )));
    }
    if dest.exists() && !force {
        return Err(CliError::Failed(format!(
            "{} already exists (use -f to replace it)",
            dest.display()
        )));
    }
    let tmp = temp_beside(dest);
    let result = async {
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io_failure(dest.display(), &e))?;
        let summary = ctx.client.backup(&mut f).await?;
        f.sync_all()
            .await
            .map_err(|e| io_failure(dest.display(), &e))?;
        drop(f);
        tokio::fs::rename(&tmp, dest)
            .await
            .map_err(|e| io_failure(dest.display(), &e))?;
        Ok::<_, CliError>(summary)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

pub async fn orphans(ctx: &Ctx, delete: bool) -> CliResult {
    if delete {
        let d = ctx.client.delete_orphans().await?;
        if ctx.json {
            return emit_json(&d);
        }
        return emit(&format!(
            "Ordered {} replica{} of unknown blocks deleted on {} datanode{}\n",
            d.replicas,
            if d.replicas == 1 { "" } else { "s" },
            d.nodes,
            if d.nodes == 1 { "" } else { "s" }
        ));
    }
    let r = ctx.client.orphans().await?;
    if ctx.json {
        emit_json(&r)
    } else {
        emit(&output::admin::orphans_text(&r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temp_file_sits_beside_the_backup() {
        let t = temp_beside(Path::new("/backups/nn.dfsck"));
        assert_eq!(t.parent(), Some(Path::new("/backups")));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".nn.dfsck.dfs-backup-"), "{name}");
    }
}
