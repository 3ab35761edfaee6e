//! Cluster and replication verbs: `setrep`, `checksum`, `fsck`, `report`.
use super::output::{self, emit, emit_json};
use super::{parse_path, CliError, CliResult, Ctx};
use dfs_common::proto::client::{ClusterSummary, DatanodeReport};
use serde::Serialize;

pub async fn setrep(ctx: &Ctx, replication: u16, path: &str) -> CliResult {
    let path = parse_path(path)?;
    let s = ctx.client.set_replication(&path, replication).await?;
    if ctx.json {
        emit_json(&s)
    } else {
        emit(&format!("Replication {replication} set: {path}\n"))
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

/// Prints the report; a report with missing blocks is a failure (exit 1),
/// so scripts can use `dfs fsck` as a check.
pub async fn fsck(ctx: &Ctx, path: &str) -> CliResult {
    let path = parse_path(path)?;
    let r = ctx.client.fsck(&path).await?;
    if ctx.json {
        emit_json(&r)?;
    } else {
        emit(&output::fsck_text(&r))?;
    }
    if r.healthy {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "the filesystem under {path} is {}: {} missing block{}",
            output::verdict(&r),
            r.missing_blocks,
            if r.missing_blocks == 1 { "" } else { "s" }
        )))
    }
}

/// `dfs --json report`.
#[derive(Serialize)]
struct Report {
    summary: ClusterSummary,
    datanodes: Vec<DatanodeReport>,
}

pub async fn report(ctx: &Ctx) -> CliResult {
    let (summary, datanodes) = tokio::try_join!(ctx.client.summary(), ctx.client.datanodes())?;
    if ctx.json {
        emit_json(&Report { summary, datanodes })
    } else {
        emit(&output::report_text(&summary, &datanodes))
    }
}
