//! `dfs local`: one namenode and N datanodes on 127.0.0.1, as child
//! processes, until Ctrl-C.
//!
//! It runs the real `namenode` and `datanode` binaries (found beside the
//! running `dfs`, else on PATH) with their flags; it knows nothing of their
//! insides beyond `/health` and `/api/v1/summary`. What to run where is
//! decided by pure functions ([`layout`], [`datanode_ports`]); the rest is
//! process plumbing (shape after neon's `background_process.rs`).
//!
//! Invariants:
//! - Layout under DIR: `namenode/`, `datanode-K/`, `logs/<name>.log`
//!   (appended). The same DIR on a later run gives each service the same
//!   data dir, so every file is found again.
//! - Children run in their own process group (a terminal's Ctrl-C reaches
//!   only us, and we stop them in order: datanodes, then the namenode;
//!   SIGTERM, up to 10 s, then SIGKILL), and on Linux they get SIGTERM if
//!   we die (`PR_SET_PDEATHSIG`), so none outlives `dfs local`.
//! - A child that exits on its own stops the whole cluster with exit 1 and
//!   names the child and its log.
use crate::error::{io_failure, CliError, CliResult};
use crate::time::local_time;
use clap::Args;
use dfs_common::units::ByteSize;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::time::Instant;

/// How long the cluster may take to come up (health + all datanodes live).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long each group of children gets between SIGTERM and SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(250);
const LOG_TAIL_LINES: usize = 20;
/// Datanodes listen just below the namenode: 9864, 9865, ... for 9870,
/// as in HDFS.
const DATANODE_PORT_OFFSET: u16 = 6;
/// Replication when not given: the namenode's default (3), but never more
/// than there are datanodes, or no upload could complete.
const DEFAULT_REPLICATION: u16 = 3;

#[derive(Args, Debug, Clone)]
pub struct LocalArgs {
    /// How many datanodes to start.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100), value_name = "N")]
    pub datanodes: u16,
    /// Where all data and logs go.
    #[arg(long, default_value = "./dfs-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// The namenode's port; datanodes use PORT-6, PORT-5, ...
    #[arg(long, default_value_t = 9870, value_parser = clap::value_parser!(u16).range(7..), value_name = "PORT")]
    pub port: u16,
    /// Block size for new files, e.g. 4MiB (default: the namenode's).
    #[arg(long, value_name = "SIZE")]
    pub block_size: Option<ByteSize>,
    /// Default replication (default: 3, or N if fewer datanodes).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub replication: Option<u16>,
}

/// One process to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `namenode`, `datanode-1`, ...
    pub name: String,
    /// The program: `namenode` or `datanode`.
    pub program: &'static str,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub args: Vec<OsString>,
}

/// Everything `dfs local` will run, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
    pub logs: PathBuf,
    pub namenode_url: String,
    pub namenode: Service,
    pub datanodes: Vec<Service>,
}

impl Layout {
    /// In start order.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        std::iter::once(&self.namenode).chain(&self.datanodes)
    }
}

/// `n` datanode ports from `port - 6` upwards, skipping `port` itself.
pub fn datanode_ports(port: u16, n: u16) -> Result<Vec<u16>, String> {
    let mut next = port
        .checked_sub(DATANODE_PORT_OFFSET)
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            format!("port {port} is too low (datanodes use the ports from {port}-6 up)")
        })?;
    let mut out = Vec::with_capacity(usize::from(n));
    while out.len() < usize::from(n) {
        if next != port {
            out.push(next);
        }
        next = next
            .checked_add(1)
            .ok_or_else(|| format!("not enough ports above {port} for {n} datanodes"))?;
    }
    Ok(out)
}

/// What to run, from the flags and the (absolute) data dir.
pub fn layout(args: &LocalArgs, root: &Path) -> Result<Layout, String> {
    let logs = root.join("logs");
    let namenode_url = format!("http://127.0.0.1:{}", args.port);
    let replication = args
        .replication
        .unwrap_or(DEFAULT_REPLICATION.min(args.datanodes));
    let nn_dir = root.join("namenode");
    let mut nn_args: Vec<OsString> = vec![
        "--listen".into(),
        format!("127.0.0.1:{}", args.port).into(),
        "--data-dir".into(),
        nn_dir.clone().into(),
        "--replication".into(),
        replication.to_string().into(),
    ];
    if let Some(b) = args.block_size {
        nn_args.push("--block-size".into());
        nn_args.push(b.0.to_string().into());
    }
    let namenode = Service {
        name: "namenode".into(),
        program: "namenode",
        port: args.port,
        data_dir: nn_dir,
        log: logs.join("namenode.log"),
        args: nn_args,
    };
    let datanodes = datanode_ports(args.port, args.datanodes)?
        .into_iter()
        .enumerate()
        .map(|(i, port)| {
            let name = format!("datanode-{}", i + 1);
            let data_dir = root.join(&name);
            Service {
                log: logs.join(format!("{name}.log")),
                args: vec![
                    "--namenode".into(),
                    namenode_url.clone().into(),
                    "--listen".into(),
                    format!("127.0.0.1:{port}").into(),
                    "--data-dir".into(),
                    data_dir.clone().into(),
                ],
                name,
                program: "datanode",
                port,
                data_dir,
            }
        })
        .collect();
    Ok(Layout {
        root: root.to_path_buf(),
        logs,
        namenode_url,
        namenode,
        datanodes,
    })
}

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

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// The end of a log file (at most its last 64 KiB are read).
fn read_log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    read().unwrap_or_default()
}

fn print_log_tail(svc: &Service) {
    let text = read_log_tail(&svc.log);
    let lines = tail_lines(&text, LOG_TAIL_LINES);
    if lines.is_empty() {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "--- last lines of {} ---", svc.log.display());
    for l in lines {
        let _ = writeln!(err, "{l}");
    }
    let _ = writeln!(err, "---");
}

/// Progress messages: best effort (a closed stdout must not stop a cluster).
fn say(json: bool, text: &str) {
    if json {
        let _ = writeln!(std::io::stderr(), "{text}");
    } else {
        let _ = writeln!(std::io::stdout(), "{text}");
    }
}

fn check_port_free(port: u16) -> CliResult {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(CliError::Failed(format!(
            "port {port} is in use: is another dfs local running? use --port"
        ))),
        Err(e) => Err(io_failure(format!("cannot listen on 127.0.0.1:{port}"), &e)),
    }
}

struct Running {
    svc: Service,
    child: Child,
    pid: libc::pid_t,
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

fn spawn(svc: &Service, program: &Path) -> CliResult<Running> {
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
async fn stop_group(group: &mut [Running], json: bool) {
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

/// Datanodes first (they report to the namenode), then the namenode.
async fn stop_all(running: &mut [Running], json: bool) {
    let (namenode, datanodes) = running.split_at_mut(running.len().min(1));
    stop_group(datanodes, json).await;
    stop_group(namenode, json).await;
}

fn exited_error(svc: &Service, how: &str) -> CliError {
    print_log_tail(svc);
    CliError::Failed(format!(
        "{} exited unexpectedly ({how}); see its log {}",
        svc.name,
        svc.log.display()
    ))
}

/// `live_datanodes` of an `/api/v1/summary` answer (bare or wrapped).
pub fn live_datanodes(v: &serde_json::Value) -> Option<u64> {
    v.get("live_datanodes")
        .or_else(|| v.get("summary").and_then(|s| s.get("live_datanodes")))
        .and_then(serde_json::Value::as_u64)
}

/// Whether an `/api/v1/datanodes` answer lists a live node on `port`.
pub fn registered_on(v: &serde_json::Value, port: u16) -> bool {
    let list = v
        .as_array()
        .or_else(|| v.get("datanodes").and_then(|d| d.as_array()));
    let suffix = format!(":{port}");
    list.into_iter().flatten().any(|n| {
        let addr = n.get("addr").and_then(|a| a.as_str()).unwrap_or("");
        let live = n.get("state").and_then(|s| s.as_str()) != Some("dead");
        live && addr.trim_end_matches('/').ends_with(&suffix)
    })
}

async fn get_json(http: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    let resp = http.get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// Until `/health` answers and every datanode is live; fails early when a
/// child exits.
async fn wait_ready(layout: &Layout, http: &reqwest::Client, running: &mut [Running]) -> CliResult {
    let health = format!("{}/health", layout.namenode_url);
    let summary = format!("{}/api/v1/summary", layout.namenode_url);
    let want = layout.datanodes.len() as u64;
    let deadline = Instant::now() + READY_TIMEOUT;
    let (mut healthy, mut live) = (false, 0);
    loop {
        for r in running.iter_mut() {
            if let Ok(Some(status)) = r.child.try_wait() {
                return Err(exited_error(&r.svc, &status.to_string()));
            }
        }
        if !healthy {
            healthy = matches!(http.get(&health).send().await, Ok(r) if r.status().is_success());
        }
        if healthy {
            live = get_json(http, &summary)
                .await
                .as_ref()
                .and_then(live_datanodes)
                .unwrap_or(live);
            if live >= want {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(not_ready_error(layout, http, healthy, live).await);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn not_ready_error(
    layout: &Layout,
    http: &reqwest::Client,
    healthy: bool,
    live: u64,
) -> CliError {
    let secs = READY_TIMEOUT.as_secs();
    if !healthy {
        print_log_tail(&layout.namenode);
        return CliError::Failed(format!(
            "the namenode did not answer {}/health within {secs}s; see its log {}",
            layout.namenode_url,
            layout.namenode.log.display()
        ));
    }
    let nodes = get_json(http, &format!("{}/api/v1/datanodes", layout.namenode_url)).await;
    let missing = layout
        .datanodes
        .iter()
        .find(|d| !nodes.as_ref().is_some_and(|v| registered_on(v, d.port)))
        .unwrap_or(&layout.namenode);
    print_log_tail(missing);
    CliError::Failed(format!(
        "only {live} of {} datanodes became live within {secs}s; see {}",
        layout.datanodes.len(),
        missing.log.display()
    ))
}

/// Resolves when any child exits: (its index, how it ended).
async fn first_exit(running: &mut [Running]) -> (usize, String) {
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

/// The directory of this `dfs` binary when a shell would not find it as
/// `dfs` (the banner then says how to put it on PATH).
fn dir_to_add_to_path() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?.canonicalize().ok()?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .filter_map(|d| d.join("dfs").canonicalize().ok())
        .next();
    match found {
        Some(first) if first == me => None,
        _ => me.parent().map(Path::to_path_buf),
    }
}

fn banner(layout: &Layout, default_port: bool, add_to_path: Option<&Path>) -> String {
    let addrs: Vec<String> = layout
        .datanodes
        .iter()
        .map(|d| format!("127.0.0.1:{}", d.port))
        .collect();
    let mut s = format!(
        "dfs local: a namenode and {n} datanode{plural} are running\n\
         \x20 web UI     {url}/\n\
         \x20 namenode   {url}\n\
         \x20 datanodes  {addrs}\n\
         \x20 data       {data}\n\
         \x20 logs       {logs}\n\
         Try, in another terminal:\n",
        n = layout.datanodes.len(),
        plural = if layout.datanodes.len() == 1 { "" } else { "s" },
        url = layout.namenode_url,
        addrs = addrs.join(" "),
        data = layout.root.display(),
        logs = layout.logs.display(),
    );
    if let Some(dir) = add_to_path {
        s.push_str(&format!("  export PATH={}:$PATH\n", dir.display()));
    }
    if !default_port {
        s.push_str(&format!("  export DFS_NAMENODE={}\n", layout.namenode_url));
    }
    s.push_str("  dfs mkdir -p /demo\n  dfs put README.md /demo/\n  dfs ls /demo\n  dfs report\n");
    s.push_str("Press Ctrl-C to stop.");
    s
}

fn signal_stream(kind: SignalKind) -> CliResult<Signal> {
    signal(kind).map_err(|e| io_failure("cannot listen for signals", &e))
}

pub async fn run(args: LocalArgs, json: bool) -> CliResult {
    let root =
        std::path::absolute(&args.data_dir).map_err(|e| io_failure(args.data_dir.display(), &e))?;
    let layout = layout(&args, &root).map_err(CliError::Usage)?;
    for svc in layout.services() {
        check_port_free(svc.port)?;
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let path_var = std::env::var_os("PATH");
    let find = |name: &str| {
        find_program(name, exe_dir.as_deref(), path_var.as_deref()).ok_or_else(|| {
            let beside = exe_dir.as_ref().map(|d| format!("in {} ", d.display())).unwrap_or_default();
            CliError::Failed(format!(
                "cannot find the `{name}` program {beside}or on PATH: build it with `cargo build --release` \
                 (it goes beside dfs in target/release)"
            ))
        })
    };
    let (namenode_bin, datanode_bin) = (find("namenode")?, find("datanode")?);
    for dir in std::iter::once(&layout.logs).chain(layout.services().map(|s| &s.data_dir)) {
        std::fs::create_dir_all(dir).map_err(|e| io_failure(dir.display(), &e))?;
    }

    let mut sigint = signal_stream(SignalKind::interrupt())?;
    let mut sigterm = signal_stream(SignalKind::terminate())?;
    let mut sighup = signal_stream(SignalKind::hangup())?;

    let mut running: Vec<Running> = Vec::new();
    for svc in layout.services() {
        let program = if svc.program == "namenode" {
            &namenode_bin
        } else {
            &datanode_bin
        };
        match spawn(svc, program) {
            Ok(r) => running.push(r),
            Err(e) => {
                stop_all(&mut running, json).await;
                return Err(e);
            }
        }
    }

    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| CliError::Failed(format!("cannot make an HTTP client: {e}")))?;
    let ready = tokio::select! {
        r = wait_ready(&layout, &http, &mut running) => r.map(|()| true),
        _ = sigint.recv() => Ok(false),
        _ = sigterm.recv() => Ok(false),
        _ = sighup.recv() => Ok(false),
    };
    match ready {
        Ok(true) => {}
        Ok(false) => {
            stop_all(&mut running, json).await;
            say(json, "stopped");
            return Ok(());
        }
        Err(e) => {
            stop_all(&mut running, json).await;
            return Err(e);
        }
    }

    if json {
        let doc = serde_json::json!({
            "namenode": layout.namenode_url,
            "web_ui": format!("{}/", layout.namenode_url),
            "datanodes": layout.datanodes.iter().map(|d| format!("127.0.0.1:{}", d.port)).collect::<Vec<_>>(),
            "data_dir": layout.root,
            "logs": layout.logs,
        });
        let _ = writeln!(std::io::stdout(), "{doc}");
    } else {
        let add_to_path = dir_to_add_to_path();
        say(
            false,
            &banner(&layout, args.port == 9870, add_to_path.as_deref()),
        );
    }

    let exited = tokio::select! {
        e = first_exit(&mut running) => Some(e),
        _ = sigint.recv() => None,
        _ = sigterm.recv() => None,
        _ = sighup.recv() => None,
    };
    match exited {
        None => {
            say(json, "stopping...");
            stop_all(&mut running, json).await;
            say(json, "stopped");
            Ok(())
        }
        Some((idx, how)) => {
            let gone = running.remove(idx);
            let err = exited_error(&gone.svc, &how);
            say(json, "stopping the others...");
            stop_all(&mut running, json).await;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(n: u16, port: u16) -> LocalArgs {
        LocalArgs {
            datanodes: n,
            data_dir: "./dfs-data".into(),
            port,
            block_size: None,
            replication: None,
        }
    }

    #[test]
    fn ports() {
        assert_eq!(datanode_ports(9870, 3).unwrap(), [9864, 9865, 9866]);
        assert_eq!(
            datanode_ports(9870, 8).unwrap(),
            [9864, 9865, 9866, 9867, 9868, 9869, 9871, 9872]
        );
        assert_eq!(datanode_ports(20000, 1).unwrap(), [19994]);
        assert!(datanode_ports(6, 1).is_err());
        assert!(datanode_ports(65535, 10).is_err());
        assert_eq!(
            datanode_ports(65535, 6).unwrap(),
            [65529, 65530, 65531, 65532, 65533, 65534]
        );
    }

    #[test]
    fn default_layout() {
        let root = Path::new("/data/dfs");
        let l = layout(&args(3, 9870), root).unwrap();
        assert_eq!(l.namenode_url, "http://127.0.0.1:9870");
        assert_eq!(l.logs, root.join("logs"));
        assert_eq!(l.namenode.log, root.join("logs/namenode.log"));
        assert_eq!(l.namenode.data_dir, root.join("namenode"));
        let nn: Vec<OsString> = [
            "--listen",
            "127.0.0.1:9870",
            "--data-dir",
            "/data/dfs/namenode",
            "--replication",
            "3",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(l.namenode.args, nn);
        assert_eq!(l.datanodes.len(), 3);
        let d2 = &l.datanodes[1];
        assert_eq!(d2.name, "datanode-2");
        assert_eq!(d2.program, "datanode");
        assert_eq!(d2.port, 9865);
        assert_eq!(d2.data_dir, root.join("datanode-2"));
        assert_eq!(d2.log, root.join("logs/datanode-2.log"));
        let dn: Vec<OsString> = [
            "--namenode",
            "http://127.0.0.1:9870",
            "--listen",
            "127.0.0.1:9865",
            "--data-dir",
            "/data/dfs/datanode-2",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(d2.args, dn);
        let names: Vec<_> = l.services().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["namenode", "datanode-1", "datanode-2", "datanode-3"]
        );
    }

    #[test]
    fn layout_passes_options() {
        let root = Path::new("/d");
        let one = layout(&args(1, 19870), root).unwrap();
        assert!(one
            .namenode
            .args
            .windows(2)
            .any(|w| w[0] == "--replication" && w[1] == "1"));
        assert_eq!(one.datanodes[0].port, 19864);
        let a = LocalArgs {
            block_size: Some(ByteSize(4 << 20)),
            replication: Some(2),
            ..args(5, 9870)
        };
        let l = layout(&a, root).unwrap();
        assert!(l
            .namenode
            .args
            .windows(2)
            .any(|w| w[0] == "--replication" && w[1] == "2"));
        assert!(l
            .namenode
            .args
            .windows(2)
            .any(|w| w[0] == "--block-size" && w[1] == "4194304"));
        // the same flags and dir give the same layout: a second run finds its data
        assert_eq!(layout(&a, root).unwrap(), l);
    }

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

    #[test]
    fn tails() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), ["b", "c"]);
        assert_eq!(tail_lines("a", 5), ["a"]);
        assert!(tail_lines("", 5).is_empty());
    }

    #[test]
    fn cluster_answers() {
        let v: serde_json::Value = serde_json::json!({"live_datanodes": 3, "dead_datanodes": 0});
        assert_eq!(live_datanodes(&v), Some(3));
        assert_eq!(
            live_datanodes(&serde_json::json!({"summary": {"live_datanodes": 2}})),
            Some(2)
        );
        assert_eq!(live_datanodes(&serde_json::json!({})), None);
        let nodes = serde_json::json!([
            {"addr": "http://127.0.0.1:9864", "state": "live"},
            {"addr": "127.0.0.1:9865/", "state": "live"},
            {"addr": "http://127.0.0.1:9866", "state": "dead"},
        ]);
        assert!(registered_on(&nodes, 9864));
        assert!(registered_on(&nodes, 9865));
        assert!(!registered_on(&nodes, 9866));
        assert!(!registered_on(&nodes, 986));
        assert!(registered_on(
            &serde_json::json!({"datanodes": [{"addr": "h:1"}]}),
            1
        ));
    }

    #[test]
    fn banner_mentions_everything() {
        let l = layout(&args(3, 19870), Path::new("/d")).unwrap();
        let b = banner(&l, false, None);
        assert!(b.contains("web UI     http://127.0.0.1:19870/"), "{b}");
        assert!(
            b.contains("export DFS_NAMENODE=http://127.0.0.1:19870"),
            "{b}"
        );
        assert!(
            b.contains("127.0.0.1:19864 127.0.0.1:19865 127.0.0.1:19866"),
            "{b}"
        );
        assert!(b.contains("data       /d\n"), "{b}");
        assert!(!banner(&l, true, None).contains("export"));
        let b = banner(&l, true, Some(Path::new("/src/dfs/target/release")));
        assert!(
            b.contains("export PATH=/src/dfs/target/release:$PATH\n  dfs mkdir"),
            "{b}"
        );
    }
}
