//! [`TestCluster`]: a namenode and N datanodes as real processes on
//! 127.0.0.1, free ports, one temp dir; start, stop, kill and restart each
//! process, find their block files, run the `dfs` CLI against them.
//!
//! Dropping the cluster kills every process. When that happens during a
//! panic (a failing test) the tail of every process log is printed and the
//! temp dir is kept so the logs can be read.
//!
//! Binaries are found in `$DFS_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`, else
//! `<workspace>/target/debug` ([`bin_dir`]).
use crate::wait::wait_until;
use anyhow::{Context, Result};
use dfs_client::DfsClient;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{ClusterSummary, FsckReport};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where the binaries under test live.
pub fn bin_dir() -> PathBuf {
    if let Ok(d) = std::env::var("DFS_BIN_DIR") {
        return PathBuf::from(d);
    }
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(t).join("debug");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug")
}

/// The path of one binary, or a panic that says how to build it.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "binary {} is missing: run `cargo build --workspace --bins` first (or set DFS_BIN_DIR)",
        p.display()
    );
    p
}

/// A port that was free a moment ago on 127.0.0.1.
///
/// Ports come from below Linux's ephemeral range (32768+), so an outgoing
/// connection can't take one between this check and the server's bind, and
/// from a process-wide counter, so tests running in parallel never get the
/// same one. The start differs per process (by pid).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 15_000;
    const SPAN: u32 = 17_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = (std::process::id() * 7919) % SPAN;
    for _ in 0..SPAN {
        let port = (LOW + (base + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 between {LOW} and {}", LOW + SPAN)
}

/// Knobs for a test cluster. Defaults suit tests: small blocks, fast
/// heartbeats, short timeouts.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Namenodes (1: a namenode of its own; more: a group, each given
    /// every other's URL in `--peers`).
    pub namenodes: usize,
    pub datanodes: usize,
    pub block_size: u64,
    pub replication: u16,
    pub heartbeat_interval: &'static str,
    pub dead_node_timeout: &'static str,
    pub lease_timeout: &'static str,
    /// Extra flags for the namenode (e.g. `--orphan-grace 2s`).
    pub namenode_args: Vec<String>,
    /// Extra flags for every datanode (e.g. `--scan-period 1s`).
    pub datanode_args: Vec<String>,
    /// Data dirs (disks) of datanode `i` (1 past the end): its first is
    /// `datanode-{i}`, the others `datanode-{i}-disk{n}`.
    pub disks_at: Vec<usize>,
    /// Extra flags for datanode `i` alone (e.g. `--rack /r1`), after
    /// `datanode_args`; a datanode past the end gets none.
    pub datanode_args_at: Vec<Vec<String>>,
    /// Bearer token the harness's own client and `dfs` calls use (a
    /// cluster with access control on; pass `--auth` in `namenode_args`).
    pub token: Option<String>,
    /// Environment variables for every namenode (e.g. a test hook).
    pub namenode_env: Vec<(&'static str, &'static str)>,
    /// HTTPS everywhere: a throwaway CA and one certificate for
    /// `localhost`/`127.0.0.1` (in `ROOT/tls`), given to every process as
    /// `--tls-cert`, `--tls-key` and `--tls-ca`, to `dfs` as `DFS_CA_FILE`.
    pub tls: bool,
    /// With `tls`: mutual TLS between the cluster's processes too.
    pub tls_client_auth: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            namenodes: 1,
            datanodes: 3,
            block_size: 1 << 20,
            replication: 3,
            heartbeat_interval: "300ms",
            dead_node_timeout: "3s",
            lease_timeout: "3s",
            namenode_args: Vec::new(),
            datanode_args: Vec::new(),
            disks_at: Vec::new(),
            datanode_args_at: Vec::new(),
            token: None,
            namenode_env: Vec::new(),
            tls: false,
            tls_client_auth: false,
        }
    }
}

impl ClusterOptions {
    /// `datanodes` datanodes that the namenode declares dead after 2 s of
    /// silence, whose orphans go after 2 s and whose copies time out after
    /// 10 s: for tests of repair (healing, disks, racks).
    pub fn healing(datanodes: usize) -> Self {
        ClusterOptions {
            datanodes,
            dead_node_timeout: "2s",
            heartbeat_interval: "300ms",
            namenode_args: vec![
                "--orphan-grace".into(),
                "2s".into(),
                "--replication-pending-timeout".into(),
                "10s".into(),
            ],
            ..Default::default()
        }
    }
}

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, program: &Path, args: &[String], log: &Path) -> Result<Proc> {
        Self::spawn_env(name, program, args, &[], log)
    }

    fn spawn_env(
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        log: &Path,
    ) -> Result<Proc> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let err = out.try_clone()?;
        let child = Command::new(program)
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("DFS_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    fn signal(&mut self, sig: i32) {
        // Safe: plain kill(2) on a child we own and have not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    fn stop(mut self, grace: Duration) {
        self.signal(libc::SIGTERM);
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A namenode and N datanodes, real processes on 127.0.0.1.
pub struct TestCluster {
    pub opts: ClusterOptions,
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    nn_ports: Vec<u16>,
    dn_ports: Vec<u16>,
    namenodes: Vec<Option<Proc>>,
    datanodes: Vec<Option<Proc>>,
    /// The certificates of a cluster with `tls` on.
    pki: Option<dfs_client::tls::ThrowawayPki>,
}

impl TestCluster {
    /// Starts a cluster and waits until every datanode is live.
    pub async fn start(opts: ClusterOptions) -> TestCluster {
        let dir = tempfile::Builder::new()
            .prefix("dfs-test-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("logs")).expect("logs dir");
        let nn_ports = (0..opts.namenodes.max(1)).map(|_| free_port()).collect();
        let dn_ports = (0..opts.datanodes).map(|_| free_port()).collect();
        let pki = opts.tls.then(|| {
            dfs_client::tls::throwaway_pki(&root.join("tls"), &["localhost", "127.0.0.1"])
                .expect("certificates")
        });
        let mut c = TestCluster {
            pki,
            datanodes: (0..opts.datanodes).map(|_| None).collect(),
            namenodes: (0..opts.namenodes.max(1)).map(|_| None).collect(),
            opts,
            dir: Some(dir),
            root,
            nn_ports,
            dn_ports,
        };
        for i in 0..c.namenodes.len() {
            c.start_namenode_at(i, &[], &[]);
        }
        for i in 0..c.opts.datanodes {
            c.start_datanode(i);
        }
        c.wait_live(c.opts.datanodes).await;
        c
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The first namenode's URL.
    pub fn namenode_url(&self) -> String {
        self.namenode_url_at(0)
    }

    pub fn namenode_url_at(&self, i: usize) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.nn_ports[i])
    }

    /// `https` with [`ClusterOptions::tls`], else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.pki.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The certificates of a cluster with TLS on.
    pub fn pki(&self) -> Option<&dfs_client::tls::ThrowawayPki> {
        self.pki.as_ref()
    }

    /// What a client of this cluster trusts: its CA (TLS on), else nothing
    /// but the system's roots.
    pub fn trust(&self) -> dfs_client::tls::Trust {
        match &self.pki {
            Some(p) => dfs_client::tls::Trust::ca_file(&p.ca).expect("the cluster's CA"),
            None => dfs_client::tls::Trust::system(),
        }
    }

    /// An HTTP client for this cluster's ports (its CA trusted, no proxy),
    /// following no redirect.
    pub fn http(&self) -> reqwest::Client {
        self.http_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client")
    }

    /// A client builder for this cluster's ports: its CA trusted (TLS on),
    /// or no certificate at all (plain HTTP; nothing to load).
    fn http_builder(&self) -> reqwest::ClientBuilder {
        match &self.pki {
            Some(_) => dfs_client::tls::client_builder_trusting(&self.trust()),
            None => dfs_client::tls::plain_client_builder(),
        }
    }

    /// The flags that turn TLS on for a server of this cluster.
    fn tls_args(&self) -> Vec<String> {
        let Some(p) = &self.pki else {
            return Vec::new();
        };
        let mut args: Vec<String> = vec![
            "--tls-cert".into(),
            p.cert.display().to_string(),
            "--tls-key".into(),
            p.key.display().to_string(),
            "--tls-ca".into(),
            p.ca.display().to_string(),
        ];
        if self.opts.tls_client_auth {
            args.push("--tls-client-auth".into());
        }
        args
    }

    /// Every namenode's URL, comma-separated (what datanodes, `dfs` and the
    /// client are given).
    pub fn namenode_urls(&self) -> String {
        (0..self.nn_ports.len())
            .map(|i| self.namenode_url_at(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every namenode's URL, the leader's first (one namenode: its URL):
    /// what a benchmark's clients are given, so that they talk to the
    /// leader and measure the group, not a follower's forwarding.
    pub async fn urls_leader_first(&self) -> String {
        let lead = if self.nn_ports.len() > 1 {
            crate::wait::wait_until("a leader", Duration::from_secs(60), || async {
                Ok(self.leader().await)
            })
            .await
            .unwrap_or(0)
        } else {
            0
        };
        std::iter::once(lead)
            .chain((0..self.nn_ports.len()).filter(|i| *i != lead))
            .map(|i| self.namenode_url_at(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn datanode_url(&self, i: usize) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.dn_ports[i])
    }

    /// Datanode `i`'s (first) data dir.
    pub fn datanode_dir(&self, i: usize) -> PathBuf {
        self.root.join(format!("datanode-{i}"))
    }

    /// Every data dir of datanode `i` (see [`ClusterOptions::disks_at`]).
    pub fn datanode_dirs(&self, i: usize) -> Vec<PathBuf> {
        let n = self.opts.disks_at.get(i).copied().unwrap_or(1).max(1);
        let mut dirs = vec![self.datanode_dir(i)];
        dirs.extend((1..n).map(|d| self.root.join(format!("datanode-{i}-disk{d}"))));
        dirs
    }

    pub fn namenode_dir(&self) -> PathBuf {
        self.namenode_dir_at(0)
    }

    pub fn namenode_dir_at(&self, i: usize) -> PathBuf {
        match i {
            0 => self.root.join("namenode"),
            i => self.root.join(format!("namenode-{i}")),
        }
    }

    pub fn client(&self) -> DfsClient {
        DfsClient::trusting(&self.namenode_urls(), &self.trust())
            .expect("client")
            .with_token(self.opts.token.clone())
    }

    /// Process id of the namenode (for memory measurements).
    pub fn namenode_pid(&self) -> Option<u32> {
        self.namenodes[0].as_ref().map(|p| p.child.id())
    }

    pub fn datanode_pid(&self, i: usize) -> Option<u32> {
        self.datanodes[i].as_ref().map(|p| p.child.id())
    }

    pub fn start_namenode(&mut self) {
        self.start_namenode_with(&[]);
    }

    /// Starts the namenode with flags for this start only beside its usual
    /// ones (e.g. `--restore FILE`).
    pub fn start_namenode_with(&mut self, extra: &[&str]) {
        self.start_namenode_env(extra, &[]);
    }

    /// [`Self::start_namenode_with`], with environment variables for this
    /// start only (e.g. a test hook).
    pub fn start_namenode_env(&mut self, extra: &[&str], env: &[(&str, &str)]) {
        self.start_namenode_at(0, extra, env);
    }

    /// Starts namenode `i` with `extra` flags and `env` for this start.
    pub fn start_namenode_at(&mut self, i: usize, extra: &[&str], env: &[(&str, &str)]) {
        assert!(self.namenodes[i].is_none(), "namenode {i} already running");
        let o = &self.opts;
        let mut args: Vec<String> = vec![
            "--listen".into(),
            format!("127.0.0.1:{}", self.nn_ports[i]),
            "--data-dir".into(),
            self.namenode_dir_at(i).display().to_string(),
            "--block-size".into(),
            o.block_size.to_string(),
            "--replication".into(),
            o.replication.to_string(),
            "--heartbeat-interval".into(),
            o.heartbeat_interval.into(),
            "--dead-node-timeout".into(),
            o.dead_node_timeout.into(),
            "--lease-timeout".into(),
            o.lease_timeout.into(),
        ];
        if i >= self.opts.namenodes.max(1) {
            // Added later (`add_namenode_slot`): it joins an existing group.
            args.push("--join".into());
        } else if self.opts.namenodes > 1 {
            args.push("--peers".into());
            args.push(
                (0..self.opts.namenodes)
                    .map(|i| self.namenode_url_at(i))
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        args.extend(self.tls_args());
        args.extend(o.namenode_args.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        let (name, log) = match i {
            0 => ("namenode".to_string(), self.root.join("logs/namenode.log")),
            i => (
                format!("namenode-{i}"),
                self.root.join(format!("logs/namenode-{i}.log")),
            ),
        };
        let mut envs = o.namenode_env.clone();
        envs.extend(env.iter().copied());
        self.namenodes[i] = Some(
            Proc::spawn_env(&name, &bin("namenode"), &args, &envs, &log).expect("spawn namenode"),
        );
    }

    /// A place for one more namenode (its own port and data dir), started
    /// with `--join` by [`Self::start_namenode_at`]; returns its index. Its
    /// URL is in [`Self::namenode_urls`] from now on (datanodes started or
    /// restarted later report to it too).
    pub fn add_namenode_slot(&mut self) -> usize {
        self.nn_ports.push(free_port());
        self.namenodes.push(None);
        self.namenodes.len() - 1
    }

    /// A place for one more datanode (its own port and data dir), not
    /// started; returns its index.
    pub fn add_datanode_slot(&mut self) -> usize {
        self.dn_ports.push(free_port());
        self.datanodes.push(None);
        self.datanodes.len() - 1
    }

    /// Whether namenode `i` was started and not stopped or killed since.
    pub fn namenode_running(&self, i: usize) -> bool {
        self.namenodes[i].is_some()
    }

    /// SIGTERM to namenode `i` (a clean stop).
    pub fn stop_namenode_at(&mut self, i: usize) {
        if let Some(p) = self.namenodes[i].take() {
            p.stop(Duration::from_secs(10));
        }
    }

    /// Whether namenode `i` exited by itself (reaped then), with its status.
    pub fn namenode_exit_at(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        let p = self.namenodes[i].as_mut()?;
        let status = p.child.try_wait().ok().flatten();
        if status.is_some() {
            self.namenodes[i] = None;
        }
        status
    }

    /// SIGKILL namenode `i` (a crash).
    pub fn kill_namenode_at(&mut self, i: usize) {
        if let Some(p) = self.namenodes[i].take() {
            p.kill();
        }
    }

    /// SIGSTOP (`freeze`) or SIGCONT namenode `i`.
    pub fn freeze_namenode_at(&mut self, i: usize, freeze: bool) {
        if let Some(p) = self.namenodes[i].as_mut() {
            p.signal(if freeze { libc::SIGSTOP } else { libc::SIGCONT });
        }
    }

    /// Which namenode leads now, by their own word (`GET /api/v1/namenodes`
    /// of each running one): `None` while none does.
    pub async fn leader(&self) -> Option<usize> {
        self.leader_besides(None).await
    }

    /// [`Self::leader`], leaving out namenode `not` (one cut off from the
    /// others may still think it leads).
    pub async fn leader_besides(&self, not: Option<usize>) -> Option<usize> {
        for i in (0..self.namenodes.len()).filter(|i| Some(*i) != not) {
            if self.namenodes[i].is_some()
                && self.namenode_role(i).await.as_deref() == Some("leader")
            {
                return Some(i);
            }
        }
        None
    }

    /// Namenode `i`'s role as it says (`leader`, `follower`, ...), if it
    /// answers.
    pub async fn namenode_role(&self, i: usize) -> Option<String> {
        let http = self
            .http_builder()
            .timeout(Duration::from_secs(2))
            .build()
            .ok()?;
        let url = format!("{}/api/v1/namenodes", self.namenode_url_at(i));
        let v: serde_json::Value = http.get(&url).send().await.ok()?.json().await.ok()?;
        v["self_role"].as_str().map(str::to_string)
    }

    pub fn start_datanode(&mut self, i: usize) {
        let url = self.namenode_urls();
        self.start_datanode_against(i, &url);
    }

    /// Starts datanode `i` (its own data dir and port) reporting to the
    /// namenode at `namenode_url`, which may be another cluster's.
    pub fn start_datanode_against(&mut self, i: usize, namenode_url: &str) {
        self.start_datanode_args(i, namenode_url, &[]);
    }

    /// Starts datanode `i` as [`TestCluster::start_datanode`] does, with
    /// `extra` flags (e.g. `--max-failed-disks 1` for a node of several
    /// disks).
    pub fn start_datanode_with(&mut self, i: usize, extra: &[&str]) {
        let url = self.namenode_urls();
        self.start_datanode_args(i, &url, extra);
    }

    fn start_datanode_args(&mut self, i: usize, namenode_url: &str, extra: &[&str]) {
        assert!(self.datanodes[i].is_none(), "datanode {i} already running");
        let mut args: Vec<String> = vec![
            "--namenode".into(),
            namenode_url.to_string(),
            "--listen".into(),
            format!("127.0.0.1:{}", self.dn_ports[i]),
            "--data-dir".into(),
            self.datanode_dirs(i)
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
        ];
        // TLS flags in `extra` replace the cluster's (a datanode with
        // certificates of its own).
        if !extra.iter().any(|a| a.starts_with("--tls-")) {
            args.extend(self.tls_args());
        }
        args.extend(self.opts.datanode_args.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        if let Some(own) = self.opts.datanode_args_at.get(i) {
            args.extend(own.iter().cloned());
        }
        let log = self.root.join(format!("logs/datanode-{i}.log"));
        let name = format!("datanode-{i}");
        self.datanodes[i] =
            Some(Proc::spawn(&name, &bin("datanode"), &args, &log).expect("spawn datanode"));
    }

    /// SIGKILL datanode `i` (a crash).
    pub fn kill_datanode(&mut self, i: usize) {
        if let Some(p) = self.datanodes[i].take() {
            p.kill();
        }
    }

    /// Whether datanode `i` exited by itself (reaped then), with its status.
    pub fn datanode_exit(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        let p = self.datanodes[i].as_mut()?;
        let status = p.child.try_wait().ok().flatten();
        if status.is_some() {
            self.datanodes[i] = None;
        }
        status
    }

    /// Datanode `i`'s log so far.
    pub fn datanode_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.root.join(format!("logs/datanode-{i}.log")))
            .unwrap_or_default()
    }

    /// SIGTERM datanode `i` (a clean stop).
    pub fn stop_datanode(&mut self, i: usize) {
        if let Some(p) = self.datanodes[i].take() {
            p.stop(Duration::from_secs(10));
        }
    }

    /// Whether the namenode process exited (reaped then; `None` if none
    /// was started).
    pub fn namenode_exited(&mut self) -> Option<bool> {
        let p = self.namenodes[0].as_mut()?;
        let gone = matches!(p.child.try_wait(), Ok(Some(_)));
        if gone {
            self.namenodes[0] = None;
        }
        Some(gone)
    }

    pub fn kill_namenode(&mut self) {
        self.kill_namenode_at(0);
    }

    pub fn stop_namenode(&mut self) {
        self.stop_namenode_within(Duration::from_secs(10));
    }

    /// SIGTERM to the namenode, SIGKILL if it has not exited within
    /// `grace` (a large namespace takes seconds to fold its log into a base).
    pub fn stop_namenode_within(&mut self, grace: Duration) {
        if let Some(p) = self.namenodes[0].take() {
            p.stop(grace);
        }
    }

    /// Stops every process cleanly, starts them all again, waits until live.
    pub async fn restart_all(&mut self) {
        for i in 0..self.datanodes.len() {
            self.stop_datanode(i);
        }
        self.stop_namenode();
        self.start_namenode();
        for i in 0..self.datanodes.len() {
            self.start_datanode(i);
        }
        self.wait_live(self.datanodes.len()).await;
    }

    pub async fn summary(&self) -> Result<ClusterSummary> {
        Ok(self.client().summary().await?)
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.datanodes[i].is_some()
    }

    /// The fsck report of the whole namespace.
    pub async fn fsck(&self) -> Result<FsckReport> {
        Ok(self.client().fsck(&DfsPath::root()).await?)
    }

    /// Waits until fsck of `/` shows every block at exactly its replication
    /// (nothing under-, over-replicated, missing or corrupt) and the namenode
    /// has no repair work queued or in flight.
    pub async fn wait_fully_replicated(&self, timeout: Duration) {
        wait_until("full replication (fsck clean)", timeout, || async {
            let f = self.fsck().await?;
            let s = self.summary().await?;
            let clean = f.healthy
                && f.under_replicated_blocks == 0
                && f.over_replicated_blocks == 0
                && f.missing_blocks == 0
                && f.corrupt_blocks == 0
                && f.healthy_blocks == f.blocks
                && s.replication.queued_blocks == 0
                && s.replication.pending_copies == 0;
            if clean {
                Ok(Some(()))
            } else {
                Err(anyhow::anyhow!(
                    "fsck: {} blocks, {} healthy, {} under, {} over, {} missing, {} corrupt; queued {} pending {}",
                    f.blocks,
                    f.healthy_blocks,
                    f.under_replicated_blocks,
                    f.over_replicated_blocks,
                    f.missing_blocks,
                    f.corrupt_blocks,
                    s.replication.queued_blocks,
                    s.replication.pending_copies
                ))
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// `/health` of datanode `i` as JSON.
    pub async fn datanode_health(&self, i: usize) -> Result<serde_json::Value> {
        Ok(self
            .http()
            .get(format!("{}/health", self.datanode_url(i)))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Index of the datanode serving at `addr`.
    pub fn node_index(&self, addr: &str) -> Option<usize> {
        (0..self.dn_ports.len()).find(|&i| self.datanode_url(i) == addr.trim_end_matches('/'))
    }

    /// Every block file on every datanode still running or not: (node, block id).
    pub fn all_block_files(&self) -> Vec<(usize, String)> {
        let mut v = Vec::new();
        for i in 0..self.dn_ports.len() {
            for f in self.block_files(i) {
                if let Some(stem) = f.file_stem() {
                    v.push((i, stem.to_string_lossy().into_owned()));
                }
            }
        }
        v
    }

    /// Waits until the namenode answers and counts exactly `n` live datanodes.
    pub async fn wait_live(&self, n: usize) {
        let client = self.client();
        wait_until(
            &format!("{n} live datanodes"),
            Duration::from_secs(30),
            || {
                let client = client.clone();
                async move {
                    let s = client.summary().await?;
                    Ok((s.live_datanodes as usize == n).then_some(()))
                }
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Every finalized block file (`*.blk`) under datanode `i`'s data dirs.
    pub fn block_files(&self, i: usize) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in self.datanode_dirs(i) {
            walk(&dir.join("blocks"), &mut out);
        }
        out.retain(|p| p.extension().is_some_and(|e| e == "blk"));
        out.sort();
        out
    }

    /// The block file of `block` on datanode `i`, if it holds one.
    pub fn block_file(&self, i: usize, block: &str) -> Option<PathBuf> {
        self.block_files(i)
            .into_iter()
            .find(|p| p.file_stem().is_some_and(|s| s.to_string_lossy() == block))
    }

    /// Temp files of block writes in progress on datanode `i` (its `tmp/`).
    pub fn temp_files(&self, i: usize) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in self.datanode_dirs(i) {
            walk(&dir.join("tmp"), &mut out);
        }
        out.sort();
        out
    }

    /// Runs the `dfs` CLI against this cluster.
    pub fn dfs(&self, args: &[&str]) -> Output {
        self.dfs_with_stdin(args, None)
    }

    pub fn dfs_with_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        use std::io::Write;
        let mut cmd = Command::new(bin("dfs"));
        if let Some(t) = &self.opts.token {
            cmd.env("DFS_TOKEN", t);
        }
        match &self.pki {
            Some(p) => cmd.env(dfs_client::tls::CA_FILE_ENV, &p.ca),
            None => cmd.env_remove(dfs_client::tls::CA_FILE_ENV),
        };
        cmd.args(args)
            .env("DFS_NAMENODE", self.namenode_urls())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn dfs");
        if let Some(data) = stdin {
            let mut sin = child.stdin.take().expect("stdin");
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _ = sin.write_all(&data);
            });
        }
        child.wait_with_output().expect("dfs output")
    }

    /// Runs `dfs` and asserts it fails (exit 1) with `needle` in its error.
    pub fn dfs_fails(&self, args: &[&str], needle: &str) {
        let out = self.dfs(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "dfs {args:?}: {err}");
        assert!(
            err.contains(needle),
            "dfs {args:?}: {err:?} lacks {needle:?}"
        );
    }

    /// `dfs cat PATH`: the file's bytes (asserts success).
    pub fn dfs_cat(&self, path: &str) -> Vec<u8> {
        let out = self.dfs(&["cat", path]);
        assert!(
            out.status.success(),
            "cat {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Waits until the datanodes hold exactly `n` block files (`what`
    /// says why, in the failure).
    pub async fn wait_block_files(&self, n: usize, what: &str) {
        wait_until(what, Duration::from_secs(30), || async {
            Ok((self.all_block_files().len() == n).then_some(()))
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}: {} block files", self.all_block_files().len()));
    }

    /// Runs `dfs` and asserts success, returning stdout as text.
    pub fn dfs_ok(&self, args: &[&str]) -> String {
        let out = self.dfs(args);
        assert!(
            out.status.success(),
            "dfs {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn all_procs(&mut self) -> Vec<Proc> {
        let mut v: Vec<Proc> = self.datanodes.iter_mut().filter_map(Option::take).collect();
        v.extend(self.namenodes.iter_mut().filter_map(Option::take));
        v
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        let logs: Vec<(String, PathBuf)> = self
            .namenodes
            .iter()
            .flatten()
            .chain(self.datanodes.iter().flatten())
            .map(|p| (p.name.clone(), p.log.clone()))
            .collect();
        for p in self.all_procs() {
            p.kill();
        }
        if failing || std::env::var_os("DFS_KEEP_CLUSTER").is_some() {
            for (name, log) in logs.iter().filter(|_| failing) {
                eprintln!(
                    "----- last lines of {name} ({}) -----\n{}",
                    log.display(),
                    tail(log, 40)
                );
            }
            if let Some(d) = self.dir.take() {
                let kept = d.keep();
                eprintln!("test cluster files kept in {}", kept.display());
            }
        }
    }
}
