//! `dfs local`: one namenode (or `--namenodes N`, a Raft group of N) and N
//! datanodes on 127.0.0.1, as child
//! processes, until Ctrl-C (or SIGTERM, SIGHUP). The one launcher of
//! clusters outside the Rust tests: the Python and browser test harnesses
//! start theirs with `dfs local --port 0 --ports-file F`.
//!
//! It runs the real `namenode` and `datanode` binaries (found beside the
//! running `dfs`, else on PATH) with their flags; it knows nothing of their
//! insides beyond `/health` (and `/api/v1/datanodes` for a failed start's
//! message). This file is the script that ties the jobs together:
//! - [`layout`]: the flags, and what runs where (pure);
//! - [`ports`]: the fixed port scheme, or free ports for `--port 0`;
//! - [`process`]: starting, waiting for and stopping the children;
//! - [`ready`]: when the cluster is ready, and why not;
//! - [`ready_doc`]: the JSON document for `--json` and `--ports-file`;
//! - [`banner`]: the text a person sees once it is ready;
//! - [`messages`]: progress lines, and how a service exited with its log.
//!
//! Invariants:
//! - Layout under DIR: `namenode/` (or `namenode-K/` with several),
//!   `datanode-K/`, `logs/<name>.log` (appended). The same DIR on a later run gives each service the same
//!   data dir, so every file is found again.
//! - Children run in their own process group (a terminal's Ctrl-C reaches
//!   only us, and we stop them in order: datanodes, then the namenodes;
//!   SIGTERM, up to 10 s, then SIGKILL), and on Linux they get SIGTERM if
//!   we die (`PR_SET_PDEATHSIG`), so none outlives `dfs local`.
//! - Until the cluster is ready, any child that exits fails the start
//!   (exit 1, naming the child and its log, with the log's tail).
//! - Once it is ready, a datanode that exits on its own is reported (how,
//!   its log and the log's tail) and the cluster carries on without it, as
//!   a DFS does when it loses a node (and as `docker compose` does with a
//!   service). So is a namenode that exits while a majority of the
//!   namenodes still runs (the group serves on: with `--namenodes 3`, the
//!   loss of one). The namenodes left falling below a majority (with one
//!   namenode: it exiting) stops every other child, and `dfs local` exits 1
//!   naming the last one to go and its log.
//! - A signal stops every child and `dfs local` exits 0. The ports file
//!   exists only between ready and the last child's end.
mod banner;
mod layout;
mod messages;
mod ports;
mod process;
mod ready;
mod ready_doc;

use crate::error::{io_failure, CliError, CliResult};
pub use layout::LocalArgs;
use messages::say;
use process::{stop_all, Running};
use ready_doc::{remove_ports_file, write_ports_file, ReadyDoc};
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The signals that stop a cluster: Ctrl-C, SIGTERM, a closed terminal.
struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl StopSignals {
    fn new() -> CliResult<StopSignals> {
        let listen = |kind| signal(kind).map_err(|e| io_failure("cannot listen for signals", &e));
        Ok(StopSignals {
            int: listen(SignalKind::interrupt())?,
            term: listen(SignalKind::terminate())?,
            hup: listen(SignalKind::hangup())?,
        })
    }

    /// Resolves at the next one.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

/// The namenodes' ports and the datanodes': fixed from `--port`, or picked.
/// The S3 API's port on each namenode (every one serves it, so S3 outlives
/// any one of them): from `--s3-port` (default PORT+8, so 9878; past the
/// namenodes' own ports when there are more than 8) up, or free ones
/// (`--port 0`); none with `--no-s3`.
fn choose_s3_ports(args: &LocalArgs) -> CliResult<Vec<u16>> {
    let n = args.namenodes.max(1);
    if args.no_s3 {
        return Ok(Vec::new());
    }
    let first = match (args.s3_port, args.port) {
        (Some(p), _) if p != 0 => p,
        (_, 0) | (Some(_), _) => return ports::pick_free(usize::from(n)),
        (None, p) => p.checked_add(8.max(n)).ok_or_else(|| {
            CliError::Usage(format!(
                "--port {p} leaves no room for S3 at PORT+8; give --s3-port"
            ))
        })?,
    };
    let ports: Vec<u16> = (0..n)
        .map(|i| first.checked_add(i))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            CliError::Usage(format!("--s3-port {first} leaves no room for {n} ports"))
        })?;
    for p in &ports {
        ports::check_free(*p)?;
    }
    Ok(ports)
}

/// The key `dfs local` prints: the one it made before (kept in
/// `<root>/s3-key.json`) while the cluster still has it, else a new one
/// for the user `dfs` (the owner of everything with access control off).
async fn s3_key(
    root: &Path,
    namenodes: &str,
    trust: &dfs_client::tls::Trust,
    endpoint: String,
) -> CliResult<Option<ready_doc::S3Info>> {
    let file = root.join("s3-key.json");
    let client = dfs_client::DfsClient::trusting(namenodes, trust)?
        .with_token(std::env::var("DFS_TOKEN").ok());
    let known = client.s3_keys().await?;
    let kept = std::fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice::<ready_doc::S3Info>(&b).ok())
        .filter(|k| known.iter().any(|c| c.access_key == k.access_key));
    let mut info = match kept {
        Some(k) => k,
        None => {
            let made = client.create_s3_key("dfs").await?;
            let info = ready_doc::S3Info {
                endpoint: String::new(),
                access_key: made.access_key,
                secret: made.secret.unwrap_or_default(),
            };
            let body = serde_json::to_vec_pretty(&info)
                .map_err(|e| CliError::Failed(format!("cannot write the S3 key: {e}")))?;
            write_private(&file, &body).map_err(|e| io_failure(file.display(), &e))?;
            info
        }
    };
    info.endpoint = endpoint;
    Ok(Some(info))
}

/// The `--tls` certificates: the ones an earlier `--tls` start made (a CA
/// the user already trusts stays good), else new ones; the trust in the CA
/// that `dfs local` itself connects with.
fn throwaway_certificates(files: &layout::TlsFiles) -> CliResult<dfs_client::tls::Trust> {
    let kept = [&files.ca, &files.cert, &files.key]
        .iter()
        .all(|f| f.exists());
    if !kept {
        dfs_client::tls::throwaway_pki(&files.dir, &["localhost", "127.0.0.1"])?;
    }
    Ok(dfs_client::tls::Trust::ca_file(&files.ca)?)
}

/// Writes `body` to `path`, readable by its owner only (a secret).
pub(crate) fn write_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(body)
}

/// Hadoop IPC's port on each namenode: from `--hadoop-rpc-port` up, or
/// 8020 up with the default `--port` (Hadoop's own default), else free ones;
/// none with `--no-hadoop-rpc`.
fn choose_hadoop_ports(args: &LocalArgs) -> CliResult<Vec<u16>> {
    let n = args.namenodes.max(1);
    if args.no_hadoop_rpc {
        return Ok(Vec::new());
    }
    let first = match (args.hadoop_rpc_port, args.port) {
        (Some(p), _) if p != 0 => p,
        (None, DEFAULT_PORT) => HADOOP_RPC_PORT,
        _ => return ports::pick_free(usize::from(n)),
    };
    let ports: Vec<u16> = (0..n)
        .map(|i| first.checked_add(i))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--hadoop-rpc-port {first} leaves no room for {n} ports"
            ))
        })?;
    for p in &ports {
        ports::check_free(*p)?;
    }
    Ok(ports)
}

/// `dfs local`'s default namenode port, and Hadoop IPC's.
const DEFAULT_PORT: u16 = 9870;
const HADOOP_RPC_PORT: u16 = 8020;

fn choose_ports(args: &LocalArgs) -> CliResult<(Vec<u16>, Vec<u16>)> {
    let nns = usize::from(args.namenodes.max(1));
    if args.port == 0 {
        let mut picked = ports::pick_free(usize::from(args.datanodes) + nns)?;
        let dn = picked.split_off(nns);
        return Ok((picked, dn));
    }
    let nn = ports::namenode_ports(args.port, args.namenodes.max(1)).map_err(CliError::Usage)?;
    let dn = ports::datanode_ports(args.port, args.datanodes, args.namenodes)
        .map_err(CliError::Usage)?;
    for port in nn.iter().chain(&dn) {
        ports::check_free(*port)?;
    }
    Ok((nn, dn))
}

/// Until a signal (`Ok`) or the namenodes left are no longer a majority
/// (`Err`); a datanode that exits, or a namenode while a majority is left,
/// is reported and the others carry on.
async fn supervise(
    running: &mut Vec<Running>,
    namenodes: usize,
    signals: &mut StopSignals,
    json: bool,
) -> CliResult {
    loop {
        let exit = tokio::select! {
            e = process::first_exit(running) => Some(e),
            _ = signals.recv() => None,
        };
        let Some((idx, how)) = exit else {
            say(json, "stopping...");
            stop_all(running, json).await;
            say(json, "stopped");
            return Ok(());
        };
        let gone = running.remove(idx);
        let msg = messages::exited(&gone.svc, &how);
        if gone.svc.is_namenode() {
            let left = running.iter().filter(|r| r.svc.is_namenode()).count();
            if left < layout::majority(namenodes) {
                say(json, "stopping the others...");
                stop_all(running, json).await;
                if namenodes > 1 {
                    return Err(CliError::Failed(format!(
                        "{msg}; {left} of {namenodes} namenodes are left, fewer than a majority"
                    )));
                }
                return Err(CliError::Failed(msg));
            }
            say(
                json,
                &format!(
                    "dfs local: {msg}; the cluster carries on with {left} of {namenodes} namenodes \
                     (it needs {})",
                    layout::majority(namenodes)
                ),
            );
            continue;
        }
        let left = running.iter().filter(|r| !r.svc.is_namenode()).count();
        say(
            json,
            &format!(
                "dfs local: {msg}; the cluster carries on with {left} datanode{}",
                if left == 1 { "" } else { "s" }
            ),
        );
    }
}

pub async fn run(args: LocalArgs, json: bool) -> CliResult {
    let root =
        std::path::absolute(&args.data_dir).map_err(|e| io_failure(args.data_dir.display(), &e))?;
    if let Some(w) = layout::namenodes_warning(args.namenodes) {
        let _ = writeln!(std::io::stderr(), "{w}");
    }
    let (nn_ports, dn_ports) = choose_ports(&args)?;
    let mut layout =
        layout::layout_on(&args, &root, &nn_ports, &dn_ports).map_err(CliError::Usage)?;
    let s3_ports = choose_s3_ports(&args)?;
    for (nn, port) in layout.namenodes.iter_mut().zip(&s3_ports) {
        nn.args
            .extend(["--s3-listen".into(), format!("127.0.0.1:{port}").into()]);
    }
    let s3_port = s3_ports.first().copied();
    let hadoop_ports = choose_hadoop_ports(&args)?;
    for (nn, port) in layout.namenodes.iter_mut().zip(&hadoop_ports) {
        nn.args.extend([
            "--hadoop-rpc-listen".into(),
            format!("127.0.0.1:{port}").into(),
        ]);
    }
    if !hadoop_ports.is_empty() {
        // Hadoop's client reads and writes blocks at the datanodes' own
        // port (any free one: each tells the namenodes when it registers).
        for dn in &mut layout.datanodes {
            dn.args
                .extend(["--hadoop-data-listen".into(), "127.0.0.1:0".into()]);
        }
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let path_var = std::env::var_os("PATH");
    let find = |name: &str| {
        process::find_program(name, exe_dir.as_deref(), path_var.as_deref()).ok_or_else(|| {
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
    let ports_file = args.ports_file.as_deref();
    if let Some(f) = ports_file {
        remove_ports_file(f); // a stale one from an earlier run
    }
    let trust = match &layout.tls {
        Some(files) => throwaway_certificates(files)?,
        None => dfs_client::tls::Trust::system(),
    };

    let mut signals = StopSignals::new()?;
    let mut running: Vec<Running> = Vec::new();
    for svc in layout.services() {
        let program = if svc.is_namenode() {
            &namenode_bin
        } else {
            &datanode_bin
        };
        match process::spawn(svc, program) {
            Ok(r) => running.push(r),
            Err(e) => {
                stop_all(&mut running, json).await;
                return Err(e);
            }
        }
    }

    // With several namenodes, readiness asks which leads (an API that
    // needs a credential when access control is on: DFS_TOKEN's).
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = std::env::var("DFS_TOKEN").ok().filter(|t| !t.is_empty()) {
        if let Ok(mut v) = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")) {
            v.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, v);
        }
    }
    let http = dfs_client::tls::client_builder_trusting(&trust)
        .timeout(Duration::from_secs(2))
        .default_headers(headers)
        .build()
        .map_err(|e| CliError::Failed(format!("cannot make an HTTP client: {e}")))?;
    let ready = tokio::select! {
        r = ready::wait_ready(&layout, &http, &mut running) => r.map(|()| true),
        _ = signals.recv() => Ok(false),
    };
    let announced = match ready {
        Ok(true) => {
            let scheme = layout.namenode().scheme;
            let s3 = match s3_port {
                Some(port) => s3_key(
                    &root,
                    &layout.namenode_list(),
                    &trust,
                    format!("{scheme}://127.0.0.1:{port}"),
                )
                .await
                .unwrap_or_else(|err| {
                    let e = err.message().unwrap_or("failed");
                    // Access control on, without a superuser's DFS_TOKEN:
                    // S3 is served, the keys are the operator's to make.
                    let _ = writeln!(
                        std::io::stderr(),
                        "dfs local: S3 is served on 127.0.0.1:{port}, but no key was made ({e}); \
                             make one with `dfs s3 key create USER`"
                    );
                    None
                }),
                None => None,
            };
            let endpoints = s3_ports
                .iter()
                .map(|p| format!("{scheme}://127.0.0.1:{p}"))
                .collect();
            let hadoop = hadoop_ports
                .iter()
                .map(|p| format!("hdfs://127.0.0.1:{p}"))
                .collect();
            announce(&args, &layout, &running, endpoints, s3, hadoop, json)
        }
        Ok(false) => {
            stop_all(&mut running, json).await;
            say(json, "stopped");
            return Ok(());
        }
        Err(e) => Err(e),
    };
    let result = match announced {
        Ok(()) => supervise(&mut running, layout.namenodes.len(), &mut signals, json).await,
        Err(e) => {
            stop_all(&mut running, json).await;
            Err(e)
        }
    };
    if let Some(f) = ports_file {
        remove_ports_file(f);
    }
    result
}

/// Says the cluster is ready: the ports file, then `--json`'s document or
/// the banner.
fn announce(
    args: &LocalArgs,
    layout: &layout::Layout,
    running: &[Running],
    s3_endpoints: Vec<String>,
    s3: Option<ready_doc::S3Info>,
    hadoop: Vec<String>,
    json: bool,
) -> CliResult {
    let pid_of = |svc: &layout::Service| {
        running
            .iter()
            .find(|r| r.svc.name == svc.name)
            .map_or(0, |r| r.pid as u32)
    };
    let mut doc = ReadyDoc::new(layout, pid_of, std::process::id());
    doc.s3_endpoint = s3_endpoints.first().cloned();
    doc.s3_endpoints = s3_endpoints;
    doc.s3 = s3.clone();
    doc.hadoop_rpc = hadoop.first().cloned();
    doc.hadoop_rpc_endpoints = hadoop;
    if let Some(f) = &args.ports_file {
        write_ports_file(f, &doc)?;
    }
    if json {
        let _ = writeln!(std::io::stdout(), "{}", doc.to_line());
    } else {
        let add_to_path = banner::dir_to_add_to_path();
        say(
            false,
            &banner::banner(layout, args.port == 9870, add_to_path.as_deref()),
        );
        if let Some(s3) = &s3 {
            say(false, &banner::s3_lines(s3));
        }
        if let Some(h) = &doc.hadoop_rpc {
            say(
                false,
                &format!(
                    "Hadoop (hadoop fs, Spark; see README \"From Hadoop and Spark\"):\n  {h}/\n"
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::layout::test_support::args;

    #[test]
    fn hadoop_ports_default_given_free_or_none() {
        let none = LocalArgs {
            no_hadoop_rpc: true,
            ..args(1, 9870)
        };
        assert!(choose_hadoop_ports(&none).unwrap().is_empty());
        let free = ports::pick_free(1).unwrap()[0];
        let given = LocalArgs {
            hadoop_rpc_port: Some(free),
            ..args(1, 9870)
        };
        assert_eq!(choose_hadoop_ports(&given).unwrap(), vec![free]);
        // Free ones, one per namenode, when the namenodes' port is not the
        // default.
        let picked = choose_hadoop_ports(&LocalArgs {
            namenodes: 3,
            ..args(1, 0)
        })
        .unwrap();
        assert_eq!(picked.len(), 3);
        // A port that is taken is refused with its number.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let busy = LocalArgs {
            hadoop_rpc_port: Some(port),
            ..args(1, 9870)
        };
        assert!(choose_hadoop_ports(&busy).is_err());
    }
}
