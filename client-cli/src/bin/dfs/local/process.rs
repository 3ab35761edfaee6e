//! The child processes of `dfs local`: finding the programs, starting a
//! service with its output appended to its log, waiting for one to exit,
//! and stopping them (shape after neon's `background_process.rs`).
//!
//! What it does not do: decide what runs (see [`super::layout`]) or what
//! an exit means for the cluster (`run`, in `mod.rs`).
//!
//! Invariants:
//! - Children run in their own process group (a terminal's Ctrl-C reaches
//!   only `dfs local`, which stops them in order), and on Linux they get
//!   SIGTERM if `dfs local` dies (`PR_SET_PDEATHSIG`), so none outlives it.
//! - Stopping is SIGTERM, up to [`STOP_TIMEOUT`], then SIGKILL; datanodes
//!   first (they report to the namenode), then the namenode. Every child
//!   is reaped before [`stop_all`] returns.
use super::layout::Service;
use super::messages::say;
use crate::error::{io_failure, CliResult};
use crate::time::local_time;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long each group of children gets between SIGTERM and SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `name` in `exe_dir` (beside `dfs`), else the first on `path_var`.
pub fn find_program(
    name: &str,
    exe_dir: Option<&Path>,
    path_var: Option<&OsStr>,
) -> Option<PathBuf> {
    exe_dir
        .map(|d| d.join(name))
        .into_iter()
        .chain(
            path_var
                .into_iter()
                .flat_map(|p| std::env::split_paths(p).map(|d| d.join(name))),
        )
        .find(|p| is_executable(p))
}

/// A started service.
pub struct Running {
    pub svc: Service,
    pub child: Child,
    pub pid: libc::pid_t,
}

/// Runs in the child between fork and exec: only async-signal-safe calls.
fn detach_and_tie_to(parent: libc::pid_t) -> std::io::Result<()> {
    // Own process group: a terminal's Ctrl-C reaches only `dfs local`.
    // SAFETY: plain syscalls on the calling (child) process.
    if unsafe { libc::setpgid(0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: as above.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // We may have died before the prctl took hold.
        if unsafe { libc::getppid() } != parent {
            return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = parent;
    Ok(())
}

/// Starts `svc` from `program`, its stdout and stderr appended to its log
/// after a line that marks the start.
pub fn spawn(svc: &Service, program: &Path) -> CliResult<Running> {
    let open_log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&svc.log)
    };
    let mut log = open_log().map_err(|e| io_failure(svc.log.display(), &e))?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let _ = writeln!(
        log,
        "==== dfs local: {} starting at {} ====",
        svc.name,
        local_time(now_ms, true)
    );
    let log2 = log
        .try_clone()
        .map_err(|e| io_failure(svc.log.display(), &e))?;
    let mut cmd = Command::new(program);
    cmd.args(&svc.args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .kill_on_drop(true);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the hook only makes async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || detach_and_tie_to(parent));
    }
    let child = cmd
        .spawn()
        .map_err(|e| io_failure(format!("cannot start {}", program.display()), &e))?;
    let pid = child.id().unwrap_or(0) as libc::pid_t;
    Ok(Running {
        svc: svc.clone(),
        child,
        pid,
    })
}

/// SIGTERM to every child of `group` still running, up to [`STOP_TIMEOUT`],
/// then SIGKILL.
async fn stop_group(group: &mut [&mut Running], json: bool) {
    for r in group.iter_mut() {
        if matches!(r.child.try_wait(), Ok(None)) && r.pid > 0 {
            // SAFETY: `r.pid` is our child and not yet reaped (try_wait said
            // it is running), so the pid cannot have been reused.
            unsafe {
                libc::kill(r.pid, libc::SIGTERM);
            }
        }
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    for r in group.iter_mut() {
        if tokio::time::timeout_at(deadline, r.child.wait())
            .await
            .is_err()
        {
            say(
                json,
                &format!(
                    "{} did not stop within {}s: killing it",
                    r.svc.name,
                    STOP_TIMEOUT.as_secs()
                ),
            );
            let _ = r.child.kill().await;
        }
    }
}

/// Stops every child: datanodes first (they report to the namenode), then
/// the namenode.
pub async fn stop_all(running: &mut [Running], json: bool) {
    let (mut namenode, mut datanodes): (Vec<&mut Running>, Vec<&mut Running>) =
        running.iter_mut().partition(|r| r.svc.is_namenode());
    stop_group(&mut datanodes, json).await;
    stop_group(&mut namenode, json).await;
}

/// Resolves when any child exits: (its index, how it ended). Pending
/// forever when there is none.
pub async fn first_exit(running: &mut [Running]) -> (usize, String) {
    if running.is_empty() {
        return std::future::pending().await;
    }
    let waits = running.iter_mut().map(|r| Box::pin(r.child.wait()));
    let (res, idx, _) = futures_util::future::select_all(waits).await;
    let how = match res {
        Ok(status) => status.to_string(),
        Err(e) => format!("cannot wait for it: {e}"),
    };
    (idx, how)
}

/// The first child that has already exited, without waiting: (its index,
/// how it ended).
pub fn exited(running: &mut [Running]) -> Option<(usize, String)> {
    running
        .iter_mut()
        .enumerate()
        .find_map(|(i, r)| match r.child.try_wait() {
            Ok(Some(status)) => Some((i, status.to_string())),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_programs() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let (beside, on_path) = (t.path().join("bin"), t.path().join("path"));
        std::fs::create_dir_all(&beside).unwrap();
        std::fs::create_dir_all(&on_path).unwrap();
        let make = |p: PathBuf, mode: u32| {
            std::fs::write(&p, b"#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let nn_path = make(on_path.join("namenode"), 0o755);
        let path_var = std::env::join_paths([t.path().join("nowhere"), on_path.clone()]).unwrap();
        assert_eq!(
            find_program("namenode", Some(&beside), Some(&path_var)),
            Some(nn_path)
        );
        let nn_beside = make(beside.join("namenode"), 0o755);
        assert_eq!(
            find_program("namenode", Some(&beside), Some(&path_var)),
            Some(nn_beside)
        );
        make(beside.join("datanode"), 0o644); // not executable
        assert_eq!(
            find_program("datanode", Some(&beside), Some(&path_var)),
            None
        );
        assert_eq!(find_program("datanode", None, None), None);
    }
}
