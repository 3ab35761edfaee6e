//! `cat`, and `get REMOTE -`: files to stdout, verified, as they arrive.
//!
//! Invariants:
//! - Stdout is written without std's line buffering ([`RawStdout`]), on
//!   the library's writer thread.
//! - A progress bar only when stdout is a regular file (`dfs cat f >
//!   copy`): a bar next to a pager is noise.
use crate::cli::ctx::{parse_path, Ctx};
use crate::cli::progress::Bar;
use crate::error::CliResult;
use dfs_common::path::DfsPath;

pub async fn cat(ctx: &Ctx, paths: &[String]) -> CliResult {
    let paths = paths
        .iter()
        .map(|p| parse_path(p))
        .collect::<CliResult<Vec<_>>>()?;
    for p in &paths {
        to_stdout(ctx, p, None).await?;
    }
    Ok(())
}

/// True when stdout is a regular file (`dfs cat f > copy`).
fn stdout_is_regular_file() -> bool {
    // SAFETY: fstat only writes into the `stat` we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::fstat(libc::STDOUT_FILENO, &mut st) } == 0;
    ok && (st.st_mode & libc::S_IFMT) == libc::S_IFREG
}

pub(super) async fn to_stdout(ctx: &Ctx, path: &DfsPath, len: Option<u64>) -> CliResult {
    let bar = if ctx.progress && stdout_is_regular_file() {
        let len = match len {
            Some(n) => Some(n),
            None => Some(ctx.client.status(path).await?.length),
        };
        Bar::new(true, len, path.as_str())
    } else {
        Bar::none()
    };
    ctx.client.download_to(path, RawStdout, &bar).await?;
    Ok(())
}

/// Standard output without std's line buffering (which splits binary data
/// at its last newline and copies the rest).
struct RawStdout;

impl std::io::Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: fd 1 stays open for the process's life; `ManuallyDrop`
        // keeps this `File` from closing it.
        use std::os::fd::FromRawFd;
        let mut out =
            std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(libc::STDOUT_FILENO) });
        std::io::Write::write(&mut *out, buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
