//! `Config`: every setting of the namenode, with its defaults defined once
//! (in [`defaults`]), read from flags and an optional TOML file, validated at
//! startup and then passed down. Nothing deeper in the crate reads the
//! environment or the command line.
//!
//! Precedence: a flag beats the file, the file beats the default. The TOML
//! file uses the flag names in snake_case (`block_size = "1MiB"`,
//! `dead_node_timeout = "2s"`); an unknown key is an error, so a typo cannot
//! silently leave a default in place.
use clap::Parser;
use dfs_common::limits::Limits;
use dfs_common::units::{parse_duration, ByteSize, HumanDuration};
use dfs_http::config::{layered, merge_limits, LimitsFile, LimitsFlags};
use dfs_http::tls::{Tls, TlsFile, TlsFlags};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The defaults, in one place (CONTRACT "Binaries and their flags").
pub mod defaults {
    use std::time::Duration;

    pub const LISTEN: &str = "127.0.0.1:9870";
    pub const DATA_DIR: &str = "./dfs-data/namenode";
    pub const REPLICATION: u16 = 3;
    pub const BLOCK_SIZE: u64 = 64 << 20;
    pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
    pub const DEAD_NODE_TIMEOUT: Duration = Duration::from_secs(30);
    /// An under-construction file whose writer has not renewed its lease for
    /// this long is abandoned (its blocks deleted).
    pub const LEASE_TIMEOUT: Duration = Duration::from_secs(60);
    /// How often datanodes send a full block report.
    pub const BLOCK_REPORT_INTERVAL: Duration = Duration::from_secs(600);
    /// Block copies in flight per datanode, as a source and as a target
    /// (HDFS `dfs.namenode.replication.max-streams` is 2; with 4 a lost
    /// node's data comes back quickly and clients still get most of the disk).
    pub const REPLICATION_MAX_STREAMS: u32 = 4;
    /// Bytes per second the balancer starts moving, cluster-wide (HDFS's
    /// per-datanode default is 100 MiB/s; cluster-wide and lower here, as
    /// the namenode's balancer shares the nodes with clients and repair).
    pub const BALANCER_BANDWIDTH: u64 = 64 << 20;
    /// A scheduled copy not confirmed within this long is queued again
    /// (HDFS `dfs.namenode.reconstruction.pending.timeout-sec` is 5 min; our
    /// blocks are smaller).
    pub const REPLICATION_PENDING_TIMEOUT: Duration = Duration::from_secs(60);
    /// A replica of no file and no write in progress is deleted only once
    /// it has been unknown this long. HDFS deletes at once; the grace covers
    /// a report racing a commit or abandon (sub-second in practice), while
    /// staying short enough that strays do not linger.
    pub const ORPHAN_GRACE: Duration = Duration::from_secs(10);
    /// Fraction of complete blocks that must be reported before the
    /// namenode leaves safe mode by itself (HDFS
    /// `dfs.namenode.safemode.threshold-pct`).
    pub const SAFEMODE_THRESHOLD: f64 = 0.999;
    /// How long to stay in safe mode after the threshold is reached.
    pub const SAFEMODE_EXTENSION: Duration = Duration::ZERO;
    /// How long a block access token is valid (access control on). Short,
    /// as it travels with block locations; HDFS uses 10 h, we keep leaked
    /// tokens useless sooner.
    pub const BLOCK_TOKEN_LIFETIME: Duration = Duration::from_secs(600);
    /// How often the namenode checkpoints its metadata into its data dir.
    pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(3600);
    pub const TRASH_INTERVAL: Duration = Duration::from_secs(24 * 3600);
    /// How many of its own checkpoints it keeps.
    pub const CHECKPOINTS_KEPT: usize = 3;
    /// How often the Raft leader heartbeats the other namenodes.
    pub const RAFT_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(150);
    /// The election timeout T (openraft draws each member's from [T, 2T)):
    /// a follower that last heard the leader 2T ago (openraft 0.9's voter
    /// lease) plus its own draw starts an election, so a new leader serves
    /// within about 1.5-2.5 s of the old one's death; a follower must miss
    /// ten heartbeats in a row before it runs, so a slow fsync on a busy
    /// host does not start one (`../shared/design/HA.md`; 1 s gave 3-4 s
    /// and, after a restart, up to 9 s: docs/BENCHMARKS.md).
    pub const RAFT_ELECTION_TIMEOUT: Duration = Duration::from_millis(500);
    pub const RAFT_SNAPSHOT_EVERY: u64 = 50_000;
}

/// The most checkpoints `--checkpoints-kept` may ask for.
pub const MAX_CHECKPOINTS_KEPT: usize = 1000;

/// Limits enforced by [`Config::validate`] and by requests that choose their
/// own replication or block size.
pub use dfs_common::MAX_REPLICATION;
pub const MIN_BLOCK_SIZE: u64 = 4096;
/// The most block copies one node may be asked to run at once.
pub const MAX_REPLICATION_STREAMS: u32 = 1000;

/// The namenode's command line.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "namenode", version = dfs_common::VERSION, about = "dfs NameNode: the namespace, block map and datanode registry")]
#[command(mut_arg("body_idle_timeout", |a| a.help("A request body silent this long is cut off (stalled uploads) [default: 60s]")))]
#[command(mut_arg("max_streams_per_client", |a| a.help("Concurrent uploads/downloads relayed for one client IP; more get 429 [default: 256]")))]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:9870]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Where the metadata (the journal) lives [default: ./dfs-data/namenode]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Default replication of new files, 1..=32 [default: 3]
    #[arg(long, value_name = "N")]
    pub replication: Option<u16>,
    /// Default block size of new files (4KiB, 1MiB, 64MiB, plain bytes) [default: 64MiB]
    #[arg(long, value_name = "SIZE")]
    pub block_size: Option<ByteSize>,
    /// How often datanodes heartbeat [default: 3s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub heartbeat_interval: Option<Duration>,
    /// A datanode silent this long is dead [default: 30s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub dead_node_timeout: Option<Duration>,
    /// An unfinished upload whose writer is silent this long is abandoned [default: 60s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub lease_timeout: Option<Duration>,
    /// Block copies in flight per datanode as source and as target [default: 4]
    #[arg(long, value_name = "N")]
    pub replication_max_streams: Option<u32>,
    /// Bytes per second the balancer may move, cluster-wide (e.g. 64MiB) [default: 64MiB]
    #[arg(long, value_name = "SIZE")]
    pub balancer_bandwidth: Option<ByteSize>,
    /// A scheduled block copy not confirmed this long is retried [default: 60s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub replication_pending_timeout: Option<Duration>,
    /// A replica of no file is deleted once unknown this long [default: 10s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub orphan_grace: Option<Duration>,
    /// Fraction of blocks reported before leaving safe mode, 0..=1 [default: 0.999]
    #[arg(long, value_name = "FRACTION")]
    pub safemode_threshold: Option<f64>,
    /// Stay in safe mode this long after the threshold is reached [default: 0s]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub safemode_extension: Option<Duration>,
    /// WebHDFS CREATE/APPEND/OPEN redirect to this namenode's own data
    /// endpoints (which relay through the native protocol) instead of a
    /// datanode, so only the namenode port need be reachable (NAT,
    /// containers) [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub webhdfs_data_via_namenode: Option<bool>,
    // --request-timeout, --body-idle-timeout, --max-streams-per-client
    #[command(flatten)]
    pub limits: LimitsFlags,
    // --tls-cert, --tls-key, --tls-ca, --tls-client-auth (the S3 port too)
    #[command(flatten)]
    pub tls: TlsFlags,
    /// Turn access control on: TOML file with the cluster secret and the
    /// users (tokens, groups, superuser); see the README's Security section
    /// [default: off]
    #[arg(long, value_name = "FILE")]
    pub auth: Option<PathBuf>,
    /// How long block access tokens are valid (access control on) [default: 10m]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub block_token_lifetime: Option<Duration>,
    /// Write the audit log (one line per namespace operation and access
    /// decision: time, user, address, operation, paths, result) to FILE
    /// [default: off]
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Rename the audit log to FILE.1 (keeping 5 old ones) when it would
    /// pass this size [default: 256MiB]
    #[arg(long, value_name = "SIZE")]
    pub audit_log_max_size: Option<ByteSize>,
    /// Also print each audit entry on stdout, one JSON object per line
    #[arg(long)]
    pub audit_stdout: bool,
    /// Checkpoint the metadata into <data-dir>/checkpoints this often; 0 turns it off [default: 1h]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub checkpoint_interval: Option<Duration>,
    /// What `dfs rm` deletes stays in the user's trash this long (at most
    /// twice as long) before the namenode removes it; 0 turns the trash off [default: 1d]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub trash_interval: Option<Duration>,
    /// Serve the S3 REST API on this address (off unless given)
    #[arg(long, value_name = "ADDR")]
    pub s3_listen: Option<String>,
    /// Serve Hadoop IPC (`hdfs://HOST:PORT/` for `hadoop fs`, Spark) on
    /// this address (off unless given; namespace calls only so far)
    #[arg(long, value_name = "ADDR")]
    pub hadoop_rpc_listen: Option<String>,
    /// A domain under which S3 takes virtual-host-style requests
    /// (`BUCKET.DOMAIN`); repeat for more (`localhost` always works)
    #[arg(long = "s3-domain", value_name = "DOMAIN")]
    pub s3_domains: Vec<String>,
    /// How many of its own checkpoints to keep, 1..=1000 [default: 3]
    #[arg(long, value_name = "N")]
    pub checkpoints_kept: Option<usize>,
    /// Load this checkpoint (from `dfs backup` or <data-dir>/checkpoints)
    /// into the empty --data-dir, then start as usual; refused if the data
    /// dir already holds metadata
    #[arg(long, value_name = "FILE")]
    pub restore: Option<PathBuf>,
    /// The URL other namenodes, datanodes and clients reach this one at
    /// [default: http://<--listen>]
    #[arg(long, value_name = "URL")]
    pub advertise: Option<String>,
    /// Every namenode of the cluster (their --advertise URLs, this one's
    /// among them; the same list on each), comma-separated; none: a
    /// cluster of one namenode [default: none]
    #[arg(long, value_name = "URL,URL,URL", value_delimiter = ',')]
    pub peers: Option<Vec<String>>,
    /// Start on an empty data dir as a namenode waiting to be added to an
    /// existing group (`dfs namenode add URL`), instead of forming a group
    /// of its own; no effect once it has joined
    #[arg(long)]
    pub join: bool,
    /// How often the namenodes' leader heartbeats the others [default: 150ms]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub raft_heartbeat_interval: Option<Duration>,
    /// The election timeout T: a follower that has not heard the leader
    /// for 2T plus a draw in [T, 2T) starts an election [default: 500ms]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub raft_election_timeout: Option<Duration>,
    /// A snapshot of the namespace is built after this many Raft entries;
    /// the log keeps a fifth of that behind it, and a namenode further
    /// behind catches up from the snapshot [default: 50000]
    #[arg(long, value_name = "N")]
    pub raft_snapshot_every: Option<u64>,
    /// TOML file with the same keys in snake_case (all but restore); flags beat it
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The TOML file: every key optional, unknown keys refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub replication: Option<u16>,
    pub block_size: Option<ByteSize>,
    pub heartbeat_interval: Option<HumanDuration>,
    pub dead_node_timeout: Option<HumanDuration>,
    pub lease_timeout: Option<HumanDuration>,
    pub replication_max_streams: Option<u32>,
    pub balancer_bandwidth: Option<ByteSize>,
    pub replication_pending_timeout: Option<HumanDuration>,
    pub orphan_grace: Option<HumanDuration>,
    pub safemode_threshold: Option<f64>,
    pub safemode_extension: Option<HumanDuration>,
    pub webhdfs_data_via_namenode: Option<bool>,
    pub request_timeout: Option<HumanDuration>,
    pub body_idle_timeout: Option<HumanDuration>,
    pub max_streams_per_client: Option<u32>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
    pub tls_client_auth: Option<bool>,
    pub auth: Option<PathBuf>,
    pub block_token_lifetime: Option<HumanDuration>,
    pub audit_log: Option<PathBuf>,
    pub audit_log_max_size: Option<ByteSize>,
    pub audit_stdout: Option<bool>,
    pub checkpoint_interval: Option<HumanDuration>,
    pub trash_interval: Option<HumanDuration>,
    pub s3_listen: Option<String>,
    pub hadoop_rpc_listen: Option<String>,
    pub s3_domains: Option<Vec<String>>,
    pub checkpoints_kept: Option<usize>,
    pub advertise: Option<String>,
    pub peers: Option<Vec<String>>,
    pub join: Option<bool>,
    pub raft_heartbeat_interval: Option<HumanDuration>,
    pub raft_election_timeout: Option<HumanDuration>,
    pub raft_snapshot_every: Option<u64>,
}

/// The validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub replication: u16,
    pub block_size: u64,
    pub heartbeat_interval: Duration,
    pub dead_node_timeout: Duration,
    pub lease_timeout: Duration,
    pub block_report_interval: Duration,
    pub replication_max_streams: u32,
    /// Bytes per second the balancer may move, cluster-wide.
    pub balancer_bandwidth: u64,
    pub replication_pending_timeout: Duration,
    pub orphan_grace: Duration,
    pub safemode_threshold: f64,
    pub safemode_extension: Duration,
    /// WebHDFS data steps go through the namenode (see the flag).
    pub webhdfs_data_via_namenode: bool,
    /// What one HTTP client may cost (timeouts, concurrent streams).
    pub limits: Limits,
    /// HTTPS on the ports, and what outgoing connections trust.
    pub tls: Tls,
    /// The users file; `None`: access control off.
    pub auth: Option<PathBuf>,
    pub block_token_lifetime: Duration,
    /// Where the audit log goes; `None`: no file.
    pub audit_log: Option<PathBuf>,
    pub audit_log_max_size: u64,
    /// Audit entries as JSON lines on stdout too.
    pub audit_stdout: bool,
    /// Zero: no automatic checkpoints.
    pub checkpoint_interval: Duration,
    /// Zero: no trash (`dfs rm` deletes at once).
    pub trash_interval: Duration,
    /// Where the S3 API is served; `None`: nowhere.
    pub s3_listen: Option<String>,
    /// Where Hadoop IPC is served; `None`: nowhere.
    pub hadoop_rpc_listen: Option<String>,
    /// Virtual-host-style S3 domains.
    pub s3_domains: Vec<String>,
    pub checkpoints_kept: usize,
    /// A checkpoint to load into the empty data dir before starting (a
    /// flag only: a config file that restores at every start would be a trap).
    pub restore: Option<PathBuf>,
    /// What others reach this namenode at; `None`: `http://<listen>` (the
    /// address it listens on, a wildcard made loopback).
    pub advertise: Option<String>,
    /// Every namenode's URL, without a trailing `/`; empty: a cluster of one.
    pub peers: Vec<String>,
    /// Wait on an empty data dir to be added to a group (`--join`).
    pub join: bool,
    pub raft_heartbeat_interval: Duration,
    pub raft_election_timeout: Duration,
    pub raft_snapshot_every: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: defaults::LISTEN.to_string(),
            data_dir: PathBuf::from(defaults::DATA_DIR),
            replication: defaults::REPLICATION,
            block_size: defaults::BLOCK_SIZE,
            heartbeat_interval: defaults::HEARTBEAT_INTERVAL,
            dead_node_timeout: defaults::DEAD_NODE_TIMEOUT,
            lease_timeout: defaults::LEASE_TIMEOUT,
            block_report_interval: defaults::BLOCK_REPORT_INTERVAL,
            replication_max_streams: defaults::REPLICATION_MAX_STREAMS,
            balancer_bandwidth: defaults::BALANCER_BANDWIDTH,
            replication_pending_timeout: defaults::REPLICATION_PENDING_TIMEOUT,
            orphan_grace: defaults::ORPHAN_GRACE,
            safemode_threshold: defaults::SAFEMODE_THRESHOLD,
            safemode_extension: defaults::SAFEMODE_EXTENSION,
            webhdfs_data_via_namenode: false,
            limits: Limits::default(),
            tls: Tls::default(),
            auth: None,
            block_token_lifetime: defaults::BLOCK_TOKEN_LIFETIME,
            audit_log: None,
            audit_log_max_size: 256 << 20,
            audit_stdout: false,
            checkpoint_interval: defaults::CHECKPOINT_INTERVAL,
            trash_interval: defaults::TRASH_INTERVAL,
            s3_listen: None,
            hadoop_rpc_listen: None,
            s3_domains: Vec::new(),
            checkpoints_kept: defaults::CHECKPOINTS_KEPT,
            restore: None,
            advertise: None,
            peers: Vec::new(),
            join: false,
            raft_heartbeat_interval: defaults::RAFT_HEARTBEAT_INTERVAL,
            raft_election_timeout: defaults::RAFT_ELECTION_TIMEOUT,
            raft_snapshot_every: defaults::RAFT_SNAPSHOT_EVERY,
        }
    }
}

impl FileConfig {
    /// The keys [`merge_limits`] takes.
    fn limits(&self) -> LimitsFile {
        LimitsFile {
            request_timeout: self.request_timeout,
            body_idle_timeout: self.body_idle_timeout,
            max_streams_per_client: self.max_streams_per_client,
        }
    }

    /// The keys [`Tls::merge`] takes.
    fn tls(&self) -> TlsFile {
        TlsFile {
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            tls_ca: self.tls_ca.clone(),
            tls_client_auth: self.tls_client_auth,
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }
}

impl Config {
    /// Flags, then the file named by `--config`, then defaults; validated.
    pub fn from_args(args: Args) -> Result<Self, String> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        Self::merge(args, file)
    }

    /// Merges flags over a parsed file over the defaults, then validates.
    pub fn merge(args: Args, file: FileConfig) -> Result<Self, String> {
        let d = Config::default();
        let limits = merge_limits(&args.limits, file.limits())?;
        let tls = Tls::merge(&args.tls, file.tls())?;
        let config = Config {
            listen: layered(args.listen, file.listen, d.listen),
            data_dir: layered(args.data_dir, file.data_dir, d.data_dir),
            replication: layered(args.replication, file.replication, d.replication),
            block_size: layered(args.block_size, file.block_size, d.block_size),
            heartbeat_interval: layered(
                args.heartbeat_interval,
                file.heartbeat_interval,
                d.heartbeat_interval,
            ),
            dead_node_timeout: layered(
                args.dead_node_timeout,
                file.dead_node_timeout,
                d.dead_node_timeout,
            ),
            lease_timeout: layered(args.lease_timeout, file.lease_timeout, d.lease_timeout),
            block_report_interval: d.block_report_interval,
            replication_max_streams: layered(
                args.replication_max_streams,
                file.replication_max_streams,
                d.replication_max_streams,
            ),
            balancer_bandwidth: layered(
                args.balancer_bandwidth,
                file.balancer_bandwidth,
                d.balancer_bandwidth,
            ),
            replication_pending_timeout: layered(
                args.replication_pending_timeout,
                file.replication_pending_timeout,
                d.replication_pending_timeout,
            ),
            orphan_grace: layered(args.orphan_grace, file.orphan_grace, d.orphan_grace),
            safemode_threshold: layered(
                args.safemode_threshold,
                file.safemode_threshold,
                d.safemode_threshold,
            ),
            safemode_extension: layered(
                args.safemode_extension,
                file.safemode_extension,
                d.safemode_extension,
            ),
            webhdfs_data_via_namenode: layered(
                args.webhdfs_data_via_namenode,
                file.webhdfs_data_via_namenode,
                d.webhdfs_data_via_namenode,
            ),
            limits,
            tls,
            auth: args.auth.or(file.auth),
            block_token_lifetime: layered(
                args.block_token_lifetime,
                file.block_token_lifetime,
                d.block_token_lifetime,
            ),
            audit_log: args.audit_log.or(file.audit_log),
            audit_log_max_size: args
                .audit_log_max_size
                .or(file.audit_log_max_size)
                .map_or(d.audit_log_max_size, |b| b.0),
            audit_stdout: args.audit_stdout || file.audit_stdout.unwrap_or(false),
            checkpoint_interval: layered(
                args.checkpoint_interval,
                file.checkpoint_interval,
                d.checkpoint_interval,
            ),
            trash_interval: layered(args.trash_interval, file.trash_interval, d.trash_interval),
            s3_listen: args.s3_listen.or(file.s3_listen),
            hadoop_rpc_listen: args.hadoop_rpc_listen.or(file.hadoop_rpc_listen),
            s3_domains: if args.s3_domains.is_empty() {
                file.s3_domains.unwrap_or_default()
            } else {
                args.s3_domains
            },
            checkpoints_kept: layered(
                args.checkpoints_kept,
                file.checkpoints_kept,
                d.checkpoints_kept,
            ),
            restore: args.restore,
            advertise: args
                .advertise
                .or(file.advertise)
                .map(|u| u.trim().trim_end_matches('/').to_string()),
            peers: args
                .peers
                .or(file.peers)
                .unwrap_or_default()
                .iter()
                .map(|u| u.trim().trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty())
                .collect(),
            join: args.join || file.join.unwrap_or(false),
            raft_heartbeat_interval: layered(
                args.raft_heartbeat_interval,
                file.raft_heartbeat_interval,
                d.raft_heartbeat_interval,
            ),
            raft_election_timeout: layered(
                args.raft_election_timeout,
                file.raft_election_timeout,
                d.raft_election_timeout,
            ),
            raft_snapshot_every: layered(
                args.raft_snapshot_every,
                file.raft_snapshot_every,
                d.raft_snapshot_every,
            ),
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.listen.trim().is_empty() {
            return Err("--listen must not be empty".into());
        }
        check_replication(self.replication).map_err(|e| format!("--replication: {e}"))?;
        check_block_size(self.block_size).map_err(|e| format!("--block-size: {e}"))?;
        for (name, d) in [
            ("--heartbeat-interval", self.heartbeat_interval),
            ("--dead-node-timeout", self.dead_node_timeout),
            ("--lease-timeout", self.lease_timeout),
            ("--block-token-lifetime", self.block_token_lifetime),
            (
                "--replication-pending-timeout",
                self.replication_pending_timeout,
            ),
        ] {
            if d.is_zero() {
                return Err(format!("{name} must be greater than 0"));
            }
        }
        let max_lifetime = Duration::from_millis(dfs_common::auth::MAX_BLOCK_TOKEN_LIFETIME_MS);
        if self.block_token_lifetime > max_lifetime {
            return Err(format!(
                "--block-token-lifetime {:?} is longer than block keys are honoured ({:?}): a token would outlive its key",
                self.block_token_lifetime, max_lifetime
            ));
        }
        let scheme = format!("{}://", self.tls.scheme());
        for url in self.advertise.iter().chain(&self.peers) {
            check_url(url)?;
            if !url.starts_with(&scheme) {
                return Err(format!(
                    "{url}: this namenode serves {} (--tls-cert {}), so the URLs of the group are {scheme}",
                    self.tls.scheme(),
                    if self.tls.serve.is_some() { "given" } else { "not given" },
                ));
            }
        }
        if self.join && !self.peers.is_empty() {
            return Err("--join and --peers exclude each other: a namenode that joins learns the group from it (`dfs namenode add URL`); --peers forms a new group at the first start".into());
        }
        if self.join && self.restore.is_some() {
            return Err("--join and --restore exclude each other: a namenode that joins gets the namespace from the group".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.peers {
            if !seen.insert(p) {
                return Err(format!("--peers names {p} twice"));
            }
        }
        if self.raft_heartbeat_interval.is_zero()
            || self.raft_election_timeout < self.raft_heartbeat_interval * 3
        {
            return Err(format!(
                "--raft-election-timeout ({:?}) must be at least three --raft-heartbeat-interval ({:?}), which must be greater than 0",
                self.raft_election_timeout, self.raft_heartbeat_interval
            ));
        }
        if self.raft_snapshot_every < 10 {
            return Err(format!(
                "--raft-snapshot-every: {} is too small (at least 10 entries)",
                self.raft_snapshot_every
            ));
        }
        if !(1..=MAX_CHECKPOINTS_KEPT).contains(&self.checkpoints_kept) {
            return Err(format!(
                "--checkpoints-kept: {} is out of range (1..={MAX_CHECKPOINTS_KEPT})",
                self.checkpoints_kept
            ));
        }
        if self.balancer_bandwidth == 0 {
            return Err("--balancer-bandwidth must be more than 0".into());
        }
        if !(1..=MAX_REPLICATION_STREAMS).contains(&self.replication_max_streams) {
            return Err(format!(
                "--replication-max-streams: {} is out of range (1..={MAX_REPLICATION_STREAMS})",
                self.replication_max_streams
            ));
        }
        self.limits.validate()?;
        if !(0.0..=1.0).contains(&self.safemode_threshold) {
            return Err(format!(
                "--safemode-threshold: {} is not a fraction between 0 and 1 (0.999 means 99.9%)",
                self.safemode_threshold
            ));
        }
        Ok(())
    }

    /// The URL this namenode is reached at, given the address it listens
    /// on.
    pub fn advertised(&self, listening: std::net::SocketAddr) -> String {
        self.advertise
            .clone()
            .unwrap_or_else(|| crate::self_url(self.tls.scheme(), listening))
    }

    /// How long a replica added to the block map is protected from a full
    /// block report that lacks it: such a report may have been assembled on
    /// the datanode before the replica arrived. Two heartbeats (reports are
    /// sent between them) plus a margin for a slow network or a busy node.
    pub fn report_race_bound(&self) -> Duration {
        self.heartbeat_interval * 2 + Duration::from_secs(5)
    }

    /// How often the replication monitor runs: every second, or every
    /// heartbeat when those are faster (commands leave with heartbeats, so
    /// running more often gains nothing).
    pub fn replication_period(&self) -> Duration {
        self.heartbeat_interval
            .min(Duration::from_secs(1))
            .max(Duration::from_millis(50))
    }

    /// How often a writer should renew its lease: a third of the timeout, so
    /// two renewals can be lost before the lease expires.
    pub fn lease_renew_interval(&self) -> Duration {
        self.lease_timeout / 3
    }
}

/// A namenode's URL: `http://` or `https://`, a host, no path.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host)
            if !host.is_empty() && !host.contains('/') && !host.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{url:?} is not a namenode URL (http://HOST:PORT, no path)"
        )),
    }
}

/// Replication must be 1..=32 (flag and per-file requests alike).
pub fn check_replication(n: u16) -> Result<(), String> {
    if (1..=MAX_REPLICATION).contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "replication {n} is out of range (1..={MAX_REPLICATION})"
        ))
    }
}

/// A block is at least 4 KiB; partial chunks are fine (their CRCs cover them).
pub fn check_block_size(n: u64) -> Result<(), String> {
    if n >= MIN_BLOCK_SIZE {
        Ok(())
    } else {
        Err(format!(
            "block size {n} is too small (at least {MIN_BLOCK_SIZE} bytes)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_http::config::flag_help;

    const SAMPLE: &str = r#"
        listen = "0.0.0.0:19870"
        data_dir = "/tmp/nn"
        replication = 2
        block_size = "1MiB"
        heartbeat_interval = "500ms"
        dead_node_timeout = "2s"
        lease_timeout = "10s"
        replication_max_streams = 2
        replication_pending_timeout = "30s"
        orphan_grace = "3s"
        safemode_threshold = 0.5
        safemode_extension = "1s"
        webhdfs_data_via_namenode = true
        auth = "/etc/dfs/users.toml"
        block_token_lifetime = "2m"
        audit_log = "/var/log/dfs/audit.log"
        audit_log_max_size = "1MiB"
        audit_stdout = true
        tls_cert = "/etc/dfs/nn.pem"
        tls_key = "/etc/dfs/nn.key"
        tls_ca = "/etc/dfs/ca.pem"
        tls_client_auth = true
        hadoop_rpc_listen = "0.0.0.0:8020"
    "#;

    #[test]
    fn defaults_without_anything() {
        let c = Config::from_args(Args::default()).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listen, "127.0.0.1:9870");
        assert_eq!(c.block_size, 64 << 20);
        assert_eq!(c.lease_renew_interval(), Duration::from_secs(20));
    }

    #[test]
    fn sample_toml_parses() {
        let f = FileConfig::parse(SAMPLE).unwrap();
        let c = Config::merge(Args::default(), f).unwrap();
        assert_eq!(c.listen, "0.0.0.0:19870");
        assert_eq!(c.data_dir, PathBuf::from("/tmp/nn"));
        assert_eq!(c.replication, 2);
        assert_eq!(c.block_size, 1 << 20);
        assert_eq!(c.heartbeat_interval, Duration::from_millis(500));
        assert_eq!(c.dead_node_timeout, Duration::from_secs(2));
        assert_eq!(c.lease_timeout, Duration::from_secs(10));
        assert_eq!(c.replication_max_streams, 2);
        assert_eq!(c.replication_pending_timeout, Duration::from_secs(30));
        assert_eq!(c.orphan_grace, Duration::from_secs(3));
        assert_eq!(c.safemode_threshold, 0.5);
        assert_eq!(c.safemode_extension, Duration::from_secs(1));
        assert!(c.webhdfs_data_via_namenode);
        assert_eq!(c.auth, Some(PathBuf::from("/etc/dfs/users.toml")));
        assert_eq!(c.block_token_lifetime, Duration::from_secs(120));
        assert_eq!(c.audit_log, Some(PathBuf::from("/var/log/dfs/audit.log")));
        assert_eq!(c.audit_log_max_size, 1 << 20);
        assert!(c.audit_stdout);
        assert_eq!(c.hadoop_rpc_listen.as_deref(), Some("0.0.0.0:8020"));
        assert_eq!(
            c.tls,
            Tls {
                serve: Some(("/etc/dfs/nn.pem".into(), "/etc/dfs/nn.key".into())),
                ca: Some("/etc/dfs/ca.pem".into()),
                client_auth: true,
            }
        );
        let d = Config::default();
        assert_eq!(
            (d.audit_log, d.audit_log_max_size, d.audit_stdout),
            (None, 256 << 20, false)
        );
        assert_eq!(
            Config::default().auth,
            None,
            "access control is off by default"
        );
    }

    #[test]
    fn webhdfs_switch_as_a_flag() {
        let on = Args::try_parse_from(["namenode", "--webhdfs-data-via-namenode"]).unwrap();
        assert!(Config::from_args(on).unwrap().webhdfs_data_via_namenode);
        let off = Args::try_parse_from(["namenode", "--webhdfs-data-via-namenode=false"]).unwrap();
        let f = FileConfig::parse("webhdfs_data_via_namenode = true").unwrap();
        assert!(!Config::merge(off, f).unwrap().webhdfs_data_via_namenode);
        assert!(!Config::default().webhdfs_data_via_namenode);
    }

    #[test]
    fn flags_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nn.toml");
        std::fs::write(&path, SAMPLE).unwrap();
        let args = Args::try_parse_from([
            "namenode",
            "--config",
            path.to_str().unwrap(),
            "--replication",
            "1",
            "--block-size",
            "4KiB",
            "--dead-node-timeout",
            "5s",
            "--orphan-grace",
            "0s",
            "--safemode-threshold",
            "1",
        ])
        .unwrap();
        let c = Config::from_args(args).unwrap();
        assert_eq!(c.replication, 1);
        assert_eq!(c.block_size, 4096);
        assert_eq!(c.dead_node_timeout, Duration::from_secs(5));
        assert_eq!(c.orphan_grace, Duration::ZERO);
        assert_eq!(c.safemode_threshold, 1.0);
        assert_eq!(c.replication_max_streams, 2, "from the file");
        // Not given as flags: from the file.
        assert_eq!(c.listen, "0.0.0.0:19870");
        assert_eq!(c.heartbeat_interval, Duration::from_millis(500));
    }

    #[test]
    fn every_flag_has_its_own_description() {
        let help = flag_help(&<Args as clap::CommandFactory>::command()).unwrap();
        assert!(help["config"].starts_with("TOML file with the same keys"));
        assert!(help["request_timeout"].starts_with("Time a client has"));
        assert!(help["body_idle_timeout"].contains("(stalled uploads)"));
        assert!(help["max_streams_per_client"].starts_with("Concurrent uploads/downloads"));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(FileConfig::parse("replicaton = 3").is_err(), "unknown key");
        assert!(FileConfig::parse("block_size = \"lots\"").is_err());
        assert!(FileConfig::parse("dead_node_timeout = \"soon\"").is_err());
        for toml in [
            "replication = 0",
            "replication = 33",
            "block_size = 4095",
            "lease_timeout = \"0s\"",
            "replication_max_streams = 0",
            "replication_pending_timeout = \"0s\"",
            "safemode_threshold = 1.5",
            "safemode_threshold = -0.1",
            "block_token_lifetime = \"25h\"",
        ] {
            let f = FileConfig::parse(toml).unwrap();
            assert!(Config::merge(Args::default(), f).is_err(), "{toml}");
        }
        assert!(Args::try_parse_from(["namenode", "--block-size", "64XB"]).is_err());
        assert!(Args::try_parse_from(["namenode", "--heartbeat-interval", "x"]).is_err());
        let limits = FileConfig::parse("max_streams_per_client = 0").unwrap();
        let e = Config::merge(Args::default(), limits).unwrap_err();
        assert!(e.contains("--max-streams-per-client"), "{e}");
        let e = FileConfig::parse("request_timout = \"1s\"").unwrap_err();
        assert!(
            e.contains("request_timout"),
            "the unknown key is named: {e}"
        );
    }

    #[test]
    fn tls_settings_are_checked_together() {
        let merge = |toml: &str| Config::merge(Args::default(), FileConfig::parse(toml).unwrap());
        let e = merge("tls_cert = \"c.pem\"").unwrap_err();
        assert!(e.contains("--tls-cert needs --tls-key"), "{e}");
        let e = merge("tls_key = \"k.pem\"").unwrap_err();
        assert!(e.contains("--tls-key needs --tls-cert"), "{e}");
        let e = merge("tls_cert = \"c\"\ntls_key = \"k\"\ntls_client_auth = true").unwrap_err();
        assert!(e.contains("--tls-client-auth needs"), "{e}");
        // The URLs of a TLS namenode are https://, and of a plain one http://.
        let e = merge("tls_cert = \"c\"\ntls_key = \"k\"\nadvertise = \"http://nn1:9870\"")
            .unwrap_err();
        assert!(e.contains("https://"), "{e}");
        let e = merge("peers = [\"https://a:1\", \"https://b:1\"]\nadvertise = \"https://a:1\"")
            .unwrap_err();
        assert!(e.contains("http://"), "{e}");
        let c = merge("tls_cert = \"c\"\ntls_key = \"k\"").unwrap();
        assert_eq!(
            c.advertised("0.0.0.0:9870".parse().unwrap()),
            "https://127.0.0.1:9870"
        );
        assert_eq!(
            Config::default().advertised("127.0.0.1:1".parse().unwrap()),
            "http://127.0.0.1:1"
        );
        // Missing files are found at the start, with their flag's name.
        let e = c.tls.server_config().unwrap_err();
        assert!(e.starts_with("--tls-cert c: "), "{e}");
    }
}
