//! Process measurements: run a command to completion and record its wall
//! time and peak RSS; read and reset a running server's RSS high-water
//! mark. Linux only (/proc).
use crate::cluster::TestCluster;
use anyhow::{ensure, Context, Result};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a command to completion; its wall time and peak RSS.
///
/// The peak is the highest VmHWM read from /proc every 10 ms while it runs.
/// (wait4's ru_maxrss is no use here: Linux carries the parent's high-water
/// mark across fork+exec, so every child would report this process's.)
pub fn run_measured(cmd: &mut Command) -> Result<(f64, u64)> {
    let t = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let pid = child.id();
    let mut stderr = child.stderr;
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut s);
        }
        s
    });
    let mut status = 0;
    let mut peak = 0u64;
    loop {
        peak = peak.max(proc_rss(pid).0);
        // Safe: waitpid on our own child, WNOHANG.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        ensure!(r >= 0, "waitpid failed");
        if r == pid as libc::pid_t {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = t.elapsed().as_secs_f64();
    let err = err_reader.join().unwrap_or_default();
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed ({status}): {}",
        err.trim()
    );
    Ok((secs, peak))
}

/// (VmHWM, VmRSS) of a running process, in bytes.
pub fn proc_rss(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time (user + system) a running process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    // utime and stime are fields 14 and 15: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / hz
}

/// Resets a process's VmHWM to its current RSS (Linux `clear_refs` 5).
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// ("namenode" | "datanode-I", pid) of every server process of `cluster`
/// that is running.
/// Seconds of one run of `cmd`, and the CPU-seconds the cluster's servers
/// spent meanwhile.
pub fn timed(cluster: &TestCluster, mut cmd: Command) -> Result<(f64, f64)> {
    let pids: Vec<u32> = server_pids(cluster).into_iter().map(|(_, p)| p).collect();
    let cpu = || pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let before = cpu();
    let (secs, _) = run_measured(&mut cmd)?;
    Ok((secs, cpu() - before))
}

pub fn server_pids(cluster: &TestCluster) -> Vec<(String, u32)> {
    let mut servers = Vec::new();
    if let Some(pid) = cluster.namenode_pid() {
        servers.push(("namenode".to_string(), pid));
    }
    for i in 0..cluster.opts.datanodes {
        if let Some(pid) = cluster.datanode_pid(i) {
            servers.push((format!("datanode-{i}"), pid));
        }
    }
    servers
}

/// Runs `work` (which gives its seconds) and adds the row `figure`: how
/// many CPU cores the processes `pids` kept busy meanwhile.
pub async fn with_cores(
    rep: &mut super::report::Report,
    figure: &str,
    pids: &[u32],
    work: impl std::future::Future<Output = Result<f64>>,
) -> Result<f64> {
    let cpu = || pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let before = cpu();
    let secs = work.await?;
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    rep.add(
        figure,
        (cpu() - before) / secs.max(1e-9),
        "cores",
        Some((ncpu, "the machine's cores")),
        None,
    );
    Ok(secs)
}
