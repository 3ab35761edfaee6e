//! The datanode's one `Config`: flags (clap) over an optional TOML file over
//! [`defaults`], validated once at startup and then passed down read-only.
//!
//! Does not touch the disk beyond reading the `--config` file (and the
//! cluster secret file, when given); the data dir is
//! created by [`crate::store`] and [`crate::identity`].
//!
//! Invariants after [`Config::load`]: `namenode` and `advertise` (when set)
//! are `http(s)://` URLs without a trailing slash; `scan_rate` and
//! `scan_period` are more than zero; unknown TOML keys were refused.
use crate::error::DatanodeError;
use clap::Parser;
use dfs_common::limits::Limits;
use dfs_common::proto::datanode::{check_rack, DEFAULT_RACK};
use dfs_common::units::{parse_duration, ByteSize, HumanDuration};
use dfs_http::config::{layered, merge_limits, LimitsFile, LimitsFlags};
use dfs_http::tls::{Tls, TlsFile, TlsFlags};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every default, defined once.
pub mod defaults {
    pub const NAMENODE: &str = "http://127.0.0.1:9870";
    pub const LISTEN: &str = "127.0.0.1:9864";
    pub const DATA_DIR: &str = "./dfs-data/datanode";
    /// Block scanner read rate: a small share of one disk's bandwidth that
    /// still verifies 8 TB in about 11 days (HDFS
    /// `dfs.block.scanner.volume.bytes.per.second` defaults to 1 MiB/s).
    pub const SCAN_RATE: u64 = 8 << 20;
    /// A new full scan pass starts this long after the previous one started
    /// (HDFS `dfs.datanode.scan.period.hours` = 504; a week is enough when
    /// every read also verifies).
    pub const SCAN_PERIOD: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);
}

/// Command-line flags. Every flag is optional: unset flags fall back to the
/// `--config` file, then to [`defaults`].
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "datanode", version = dfs_common::VERSION, about = "dfs DataNode: stores blocks, serves and receives them, reports to the namenode")]
#[command(mut_arg("body_idle_timeout", |a| a.help("A block or WebHDFS body silent this long is cut off and nothing kept [default: 60s]")))]
#[command(mut_arg("max_streams_per_client", |a| a.help("Concurrent block reads/writes per client IP; more get 429 [default: 256]")))]
pub struct Cli {
    /// The namenode's URL, or every namenode's, comma-separated (the node
    /// reports to each and takes commands from the leader)
    /// [default: http://127.0.0.1:9870]
    #[arg(long, value_name = "URL[,URL...]")]
    pub namenode: Option<String>,
    /// Address to listen on [default: 127.0.0.1:9864]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// URL others use to reach this node [default: http://<listen>, 0.0.0.0 → 127.0.0.1]
    #[arg(long, value_name = "URL")]
    pub advertise: Option<String>,
    /// Where blocks and the node id are kept: one dir, or one per disk,
    /// comma-separated (new blocks go to the one with the most free space;
    /// the node id and cluster id are kept in the first)
    /// [default: ./dfs-data/datanode]
    #[arg(long, value_name = "DIR[,DIR...]")]
    pub data_dir: Option<String>,
    /// How many data dirs may fail (I/O errors, gone, read-only) before the
    /// node stops; 0 stops it at the first [default: 0]
    #[arg(long, value_name = "N")]
    pub max_failed_disks: Option<usize>,
    /// The rack this node is in (e.g. /dc1/rack1): placement spreads a
    /// block's replicas over racks [default: /default-rack]
    #[arg(long, value_name = "NAME")]
    pub rack: Option<String>,
    /// Also serve Hadoop's DataTransferProtocol here (host:port), so that
    /// Hadoop's own client (`hadoop fs`, Spark on `hdfs://`) reads and
    /// writes this node's blocks; the host named to clients is the
    /// advertised URL's [default: off]
    #[arg(long, value_name = "ADDR")]
    pub hadoop_data_listen: Option<String>,
    /// Cap on the block bytes this node stores (e.g. 10GiB) [default: the disk's size]
    #[arg(long, value_name = "SIZE")]
    pub capacity: Option<ByteSize>,
    /// Block scanner read rate in bytes per second (e.g. 8MiB) [default: 8MiB]
    #[arg(long, value_name = "SIZE")]
    pub scan_rate: Option<ByteSize>,
    /// How often a full block-scanner pass starts (e.g. 1s, 12h) [default: 1 week]
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub scan_period: Option<Duration>,
    // --request-timeout, --body-idle-timeout, --max-streams-per-client
    #[command(flatten)]
    pub limits: LimitsFlags,
    // --tls-cert, --tls-key, --tls-ca, --tls-client-auth
    #[command(flatten)]
    pub tls: TlsFlags,
    /// File whose first line is the cluster secret (access control on the
    /// namenode): this node registers with it and checks block access
    /// tokens; without a secret, block data is served to anyone [default: none]
    #[arg(long, value_name = "FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// The cluster secret itself, from the environment only
    #[arg(long, env = "DFS_CLUSTER_SECRET", hide = true, hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// TOML file with the same keys (namenode, listen, advertise, data_dir,
    /// rack, hadoop_data_listen, capacity, scan_rate, scan_period, request_timeout, body_idle_timeout,
    /// max_streams_per_client, cluster_secret_file, max_failed_disks, tls_cert,
    /// tls_key, tls_ca, tls_client_auth); flags beat it
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The keys a `--config` TOML file may set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    namenode: Option<String>,
    listen: Option<String>,
    advertise: Option<String>,
    #[serde(alias = "data-dir")]
    data_dir: Option<DataDirs>,
    #[serde(alias = "max-failed-disks")]
    max_failed_disks: Option<usize>,
    rack: Option<String>,
    #[serde(alias = "hadoop-data-listen")]
    hadoop_data_listen: Option<String>,
    capacity: Option<ByteSize>,
    #[serde(alias = "scan-rate")]
    scan_rate: Option<ByteSize>,
    #[serde(alias = "scan-period")]
    scan_period: Option<HumanDuration>,
    #[serde(alias = "request-timeout")]
    request_timeout: Option<HumanDuration>,
    #[serde(alias = "body-idle-timeout")]
    body_idle_timeout: Option<HumanDuration>,
    #[serde(alias = "max-streams-per-client")]
    max_streams_per_client: Option<u32>,
    #[serde(alias = "cluster-secret-file")]
    cluster_secret_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_ca: Option<PathBuf>,
    tls_client_auth: Option<bool>,
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
}

/// The validated configuration of one datanode process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Namenode base URL, no trailing slash.
    pub namenode: String,
    /// Address to bind (`host:port`; port 0 picks a free port).
    pub listen: String,
    /// Explicit advertised URL; `None` derives it from the bound address.
    pub advertise: Option<String>,
    /// Every data dir, one per disk (at least one, no two alike); the first
    /// holds the node id and cluster id.
    pub data_dirs: Vec<PathBuf>,
    /// Failed data dirs tolerated before the node stops (fewer than
    /// `data_dirs`).
    pub max_failed_disks: usize,
    /// Its rack: valid per [`check_rack`].
    pub rack: String,
    /// Where Hadoop's DataTransferProtocol is served (`None`: it is not).
    pub hadoop_data_listen: Option<String>,
    /// Optional cap on stored block bytes.
    pub capacity: Option<u64>,
    /// Block scanner read rate, bytes per second (> 0).
    pub scan_rate: u64,
    /// Time between the starts of two full scan passes (> 0).
    pub scan_period: Duration,
    /// What one HTTP client may cost (timeouts, concurrent streams).
    pub limits: Limits,
    /// HTTPS on the port, and what connections to the namenodes and to
    /// other datanodes trust.
    pub tls: Tls,
    /// The cluster secret (access control on): `None` serves block data
    /// without tokens and registers without a credential.
    pub cluster_secret: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namenode: defaults::NAMENODE.to_string(),
            listen: defaults::LISTEN.to_string(),
            advertise: None,
            data_dirs: vec![PathBuf::from(defaults::DATA_DIR)],
            max_failed_disks: 0,
            rack: DEFAULT_RACK.to_string(),
            hadoop_data_listen: None,
            capacity: None,
            scan_rate: defaults::SCAN_RATE,
            scan_period: defaults::SCAN_PERIOD,
            limits: Limits::default(),
            tls: Tls::default(),
            cluster_secret: None,
        }
    }
}

impl Config {
    /// Merges flags over the `--config` file (if any) over defaults, and validates.
    pub fn load(cli: Cli) -> Result<Self, DatanodeError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::merge(cli, file)
    }

    /// Parses a TOML document as a config file would be (flags absent).
    pub fn from_toml(text: &str) -> Result<Self, DatanodeError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| DatanodeError::Config(e.to_string()))?;
        Self::merge(Cli::default(), file)
    }

    fn merge(cli: Cli, file: FileConfig) -> Result<Self, DatanodeError> {
        let d = Config::default();
        let limits = merge_limits(&cli.limits, file.limits()).map_err(DatanodeError::Config)?;
        let tls = Tls::merge(&cli.tls, file.tls()).map_err(DatanodeError::Config)?;
        let config = Config {
            namenode: layered(cli.namenode, file.namenode, d.namenode),
            listen: layered(cli.listen, file.listen, d.listen),
            advertise: cli.advertise.or(file.advertise),
            data_dirs: match cli.data_dir {
                Some(list) => split_dirs(&list),
                None => file.data_dir.map_or(d.data_dirs, DataDirs::into_dirs),
            },
            max_failed_disks: layered(
                cli.max_failed_disks,
                file.max_failed_disks,
                d.max_failed_disks,
            ),
            rack: layered(cli.rack, file.rack, d.rack),
            hadoop_data_listen: cli.hadoop_data_listen.or(file.hadoop_data_listen),
            capacity: cli.capacity.or(file.capacity).map(|b| b.0),
            scan_rate: layered(cli.scan_rate, file.scan_rate, d.scan_rate),
            scan_period: layered(cli.scan_period, file.scan_period, d.scan_period),
            limits,
            tls,
            cluster_secret: match cli.cluster_secret_file.or(file.cluster_secret_file) {
                Some(path) => Some(read_secret(&path)?),
                None => cli.cluster_secret.filter(|s| !s.trim().is_empty()),
            },
        };
        config.validate()
    }

    fn validate(mut self) -> Result<Self, DatanodeError> {
        let urls = self
            .namenode
            .split(',')
            .map(|u| check_url("namenode", u))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = urls.iter().find(|u| !seen.insert(*u)) {
            return Err(DatanodeError::Config(format!(
                "--namenode names {twice} twice"
            )));
        }
        self.namenode = urls.join(",");
        if let Some(a) = &self.advertise {
            self.advertise = Some(check_url("advertise", a)?);
        }
        let scheme = format!("{}://", self.tls.scheme());
        if let Some(a) = self.advertise.as_ref().filter(|a| !a.starts_with(&scheme)) {
            return Err(DatanodeError::Config(format!(
                "--advertise {a}: this datanode serves {} (--tls-cert {}), so it is reached at {scheme}",
                self.tls.scheme(),
                if self.tls.serve.is_some() { "given" } else { "not given" },
            )));
        }
        if self.listen.trim().is_empty() || !self.listen.contains(':') {
            return Err(DatanodeError::Config(format!(
                "listen {:?} is not host:port (example: 127.0.0.1:9864)",
                self.listen
            )));
        }
        if self.data_dirs.is_empty() || self.data_dirs.iter().any(|d| d.as_os_str().is_empty()) {
            return Err(DatanodeError::Config(
                "data_dir is empty, or names an empty dir (example: /disk1/dfs,/disk2/dfs)".into(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = self.data_dirs.iter().find(|d| !seen.insert(*d)) {
            return Err(DatanodeError::Config(format!(
                "data_dir names {} twice",
                twice.display()
            )));
        }
        if self.max_failed_disks >= self.data_dirs.len() {
            return Err(DatanodeError::Config(format!(
                "max_failed_disks is {}, but the node has {} data dir(s): it must be fewer",
                self.max_failed_disks,
                self.data_dirs.len()
            )));
        }
        check_rack(&self.rack).map_err(|e| DatanodeError::Config(format!("--rack: {e}")))?;
        if self.capacity == Some(0) {
            return Err(DatanodeError::Config("capacity must be more than 0".into()));
        }
        if self.scan_rate == 0 {
            return Err(DatanodeError::Config(
                "scan_rate must be more than 0 bytes per second (example: 8MiB)".into(),
            ));
        }
        if let Some(secret) = &self.cluster_secret {
            if secret.trim().len() < MIN_SECRET_LEN {
                return Err(DatanodeError::Config(format!(
                    "the cluster secret must be at least {MIN_SECRET_LEN} characters"
                )));
            }
            self.cluster_secret = Some(secret.trim().to_string());
        }
        if self.scan_period.is_zero() {
            return Err(DatanodeError::Config(
                "scan_period must be more than 0 (example: 1week, 12h, 1s)".into(),
            ));
        }
        Ok(self)
    }

    /// The URL other processes use to reach this node: `--advertise`, or
    /// `http://<bound address>` with an unspecified IP replaced by 127.0.0.1.
    pub fn advertise_url(&self, bound: SocketAddr) -> String {
        if let Some(a) = &self.advertise {
            return a.clone();
        }
        let mut addr = bound;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("{}://{addr}", self.tls.scheme())
    }
}

/// `data_dir` in a TOML file: a list, or one string (comma-separated as
/// the flag).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum DataDirs {
    One(String),
    List(Vec<PathBuf>),
}

impl DataDirs {
    fn into_dirs(self) -> Vec<PathBuf> {
        match self {
            DataDirs::One(s) => split_dirs(&s),
            DataDirs::List(l) => l,
        }
    }
}

/// `A,B,C` → three dirs (blanks around a name are dropped; an empty name
/// stays, for `validate` to refuse).
fn split_dirs(list: &str) -> Vec<PathBuf> {
    list.split(',').map(|d| PathBuf::from(d.trim())).collect()
}

impl Config {
    /// The first data dir: the node id, the cluster id and other
    /// node-level files are kept there.
    pub fn data_dir(&self) -> &Path {
        // `validate` refuses an empty list; the default is never empty.
        self.data_dirs
            .first()
            .map_or(Path::new(defaults::DATA_DIR), |d| d.as_path())
    }
}

fn read_file(path: &Path) -> Result<FileConfig, DatanodeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DatanodeError::Config(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| DatanodeError::Config(format!("{}: {e}", path.display())))
}

impl Config {
    /// Every namenode of the cluster (`--namenode` is a comma-separated
    /// list); the datanode reports to each.
    pub fn namenodes(&self) -> Vec<String> {
        self.namenode.split(',').map(str::to_string).collect()
    }
}

fn check_url(what: &str, url: &str) -> Result<String, DatanodeError> {
    let u = url.trim().trim_end_matches('/');
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() => Ok(u.to_string()),
        _ => Err(DatanodeError::Config(format!(
            "{what} {url:?} is not an http:// URL (example: http://127.0.0.1:9870)"
        ))),
    }
}

/// The shortest cluster secret accepted (the namenode says the same).
pub const MIN_SECRET_LEN: usize = 16;

/// The first line of a secret file, trimmed.
fn read_secret(path: &Path) -> Result<String, DatanodeError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        DatanodeError::Config(format!(
            "cannot read cluster secret file {}: {e}",
            path.display()
        ))
    })?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_http::config::flag_help;

    #[test]
    fn cluster_secret_from_a_file_or_the_environment_variable() {
        assert_eq!(Config::default().cluster_secret, None, "off by default");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("secret");
        std::fs::write(&f, "  0123456789abcdef-secret \nignored\n").unwrap();
        let c = Config::from_toml(&format!(
            "cluster_secret_file = {:?}",
            f.display().to_string()
        ))
        .unwrap();
        assert_eq!(c.cluster_secret.as_deref(), Some("0123456789abcdef-secret"));
        let cli = Cli::try_parse_from(["datanode", "--cluster-secret-file", f.to_str().unwrap()])
            .unwrap();
        assert!(Config::load(cli).unwrap().cluster_secret.is_some());
        std::fs::write(&f, "short\n").unwrap();
        assert!(Config::from_toml(&format!(
            "cluster_secret_file = {:?}",
            f.display().to_string()
        ))
        .is_err());
        assert!(Config::from_toml("cluster_secret_file = \"/no/such/file\"").is_err());
        let cli = Cli {
            cluster_secret: Some("from-the-environment-0123".into()),
            ..Cli::default()
        };
        assert_eq!(
            Config::load(cli).unwrap().cluster_secret.as_deref(),
            Some("from-the-environment-0123")
        );
    }

    #[test]
    fn several_data_dirs() {
        let dirs = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        let c = Config::from_toml("data_dir = [\"/d1\", \"/d2\"]\nmax_failed_disks = 1").unwrap();
        assert_eq!(c.data_dirs, dirs(&["/d1", "/d2"]));
        assert_eq!(c.max_failed_disks, 1);
        assert_eq!(c.data_dir(), Path::new("/d1"));
        let c = Config::from_toml("data-dir = \"/d1, /d2,/d3\"").unwrap();
        assert_eq!(c.data_dirs, dirs(&["/d1", "/d2", "/d3"]));
        assert_eq!(c.max_failed_disks, 0);
        let cli = Cli::try_parse_from([
            "datanode",
            "--data-dir",
            "/a,/b,/c",
            "--max-failed-disks",
            "2",
        ])
        .unwrap();
        let c = Config::load(cli).unwrap();
        assert_eq!((c.data_dirs.len(), c.max_failed_disks), (3, 2));
        for bad in [
            "data_dir = \"/a,,/b\"",
            "data_dir = []",
            "data_dir = \"/a,/a\"",
            "data_dir = \"/a,/b\"\nmax_failed_disks = 2",
            "max_failed_disks = 1",
        ] {
            assert!(Config::from_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_apply_without_flags_or_file() {
        let c = Config::load(Cli::default()).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(
            c.advertise_url("127.0.0.1:9864".parse().unwrap()),
            "http://127.0.0.1:9864"
        );
        assert_eq!(
            c.advertise_url("0.0.0.0:5000".parse().unwrap()),
            "http://127.0.0.1:5000"
        );
    }

    #[test]
    fn toml_file_and_flags_merge() {
        let c = Config::from_toml(
            r#"
            namenode = "http://nn:9870/"
            listen = "0.0.0.0:7000"
            data_dir = "/var/dfs"
            capacity = "10GiB"
            "#,
        )
        .unwrap();
        assert_eq!(c.namenode, "http://nn:9870");
        assert_eq!(c.capacity, Some(10 << 30));
        assert_eq!(c.data_dirs, vec![PathBuf::from("/var/dfs")]);
        assert_eq!(c.rack, "/default-rack");
        let c = Config::from_toml("rack = \"/dc1/r2\"").unwrap();
        assert_eq!(c.rack, "/dc1/r2");
        let cli = Cli::try_parse_from(["datanode", "--rack", "/dc1/r3"]).unwrap();
        assert_eq!(Config::load(cli).unwrap().rack, "/dc1/r3", "the flag");
        assert_eq!(
            c.hadoop_data_listen, None,
            "Hadoop's door is off by default"
        );
        let c = Config::from_toml("hadoop_data_listen = \"0.0.0.0:9866\"").unwrap();
        assert_eq!(c.hadoop_data_listen.as_deref(), Some("0.0.0.0:9866"));
        let cli = Cli::try_parse_from(["datanode", "--hadoop-data-listen", "127.0.0.1:0"]).unwrap();
        assert_eq!(
            Config::load(cli).unwrap().hadoop_data_listen.as_deref(),
            Some("127.0.0.1:0")
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dn.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:1\"\ncapacity = 4096\nadvertise = \"http://me:1\"\n",
        )
        .unwrap();
        let cli = Cli::try_parse_from([
            "datanode",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "127.0.0.1:2",
        ])
        .unwrap();
        let c = Config::load(cli).unwrap();
        assert_eq!(c.listen, "127.0.0.1:2", "flag beats file");
        assert_eq!(c.capacity, Some(4096));
        assert_eq!(
            c.advertise_url("127.0.0.1:2".parse().unwrap()),
            "http://me:1"
        );
    }

    #[test]
    fn scanner_settings_parse_from_flags_and_file() {
        let c = Config::default();
        assert_eq!(c.scan_rate, 8 << 20);
        assert_eq!(c.scan_period, Duration::from_secs(7 * 24 * 3600));

        let c = Config::from_toml("scan_rate = \"16MiB\"\nscan_period = \"12h\"\n").unwrap();
        assert_eq!(c.scan_rate, 16 << 20);
        assert_eq!(c.scan_period, Duration::from_secs(12 * 3600));
        let c = Config::from_toml("scan_rate = 1000").unwrap();
        assert_eq!(c.scan_rate, 1000);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dn.toml");
        std::fs::write(&path, "scan_rate = \"1MiB\"\nscan_period = \"1h\"\n").unwrap();
        let cli = Cli::try_parse_from([
            "datanode",
            "--config",
            path.to_str().unwrap(),
            "--scan-period",
            "1s",
            "--scan-rate",
            "1GiB",
        ])
        .unwrap();
        let c = Config::load(cli).unwrap();
        assert_eq!(c.scan_rate, 1 << 30, "flag beats file");
        assert_eq!(c.scan_period, Duration::from_secs(1));
        let cli = Cli::try_parse_from(["datanode", "--config", path.to_str().unwrap()]).unwrap();
        let c = Config::load(cli).unwrap();
        assert_eq!(
            (c.scan_rate, c.scan_period),
            (1 << 20, Duration::from_secs(3600))
        );
    }

    #[test]
    fn tls_keys_and_the_scheme_of_the_advertised_url() {
        let c = Config::from_toml(
            "tls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\ntls_ca = \"/ca.pem\"\ntls_client_auth = true",
        )
        .unwrap();
        assert_eq!(c.tls.serve, Some(("/c.pem".into(), "/k.pem".into())));
        assert_eq!(c.tls.ca, Some("/ca.pem".into()));
        assert!(c.tls.client_auth);
        assert_eq!(
            c.advertise_url("0.0.0.0:9864".parse().unwrap()),
            "https://127.0.0.1:9864"
        );
        let e =
            Config::from_toml("tls_cert = \"/c\"\ntls_key = \"/k\"\nadvertise = \"http://dn:1\"")
                .unwrap_err()
                .to_string();
        assert!(e.contains("reached at https://"), "{e}");
        let e = Config::from_toml("tls_cert = \"/c\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--tls-cert needs --tls-key"), "{e}");
    }

    #[test]
    fn every_flag_has_its_own_description() {
        let help = flag_help(&<Cli as clap::CommandFactory>::command()).unwrap();
        assert!(help["config"].starts_with("TOML file with the same keys"));
        assert!(help["cluster_secret_file"].starts_with("File whose first line"));
        assert!(help["body_idle_timeout"].starts_with("A block or WebHDFS body"));
        assert!(help["max_streams_per_client"].starts_with("Concurrent block reads/writes"));
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(
            Config::from_toml("colour = \"red\"").is_err(),
            "unknown key"
        );
        assert!(Config::from_toml("namenode = \"nn:9870\"").is_err());
        assert!(Config::from_toml("capacity = \"lots\"").is_err());
        assert!(Config::from_toml("capacity = 0").is_err());
        assert!(Config::from_toml("listen = \"nowhere\"").is_err());
        assert!(Cli::try_parse_from(["datanode", "--capacity", "12XB"]).is_err());
        assert!(Config::from_toml("scan_rate = 0").is_err());
        assert!(Config::from_toml("scan_rate = \"fast\"").is_err());
        assert!(Config::from_toml("scan_period = \"0s\"").is_err());
        assert!(Config::from_toml("scan_period = \"often\"").is_err());
        assert!(
            Config::load(Cli::try_parse_from(["datanode", "--scan-rate", "0"]).unwrap()).is_err()
        );
        assert!(Cli::try_parse_from(["datanode", "--scan-period", "weekly"]).is_err());
        for rack in ["", "rack1", "/a b"] {
            let cli = Cli::try_parse_from(["datanode", "--rack", rack]).unwrap();
            let e = Config::load(cli).unwrap_err().to_string();
            assert!(e.contains("--rack"), "{e}");
        }
        assert!(Config::from_toml("rack = \"no-slash\"").is_err());
        let cli = Cli::try_parse_from(["datanode", "--config", "/no/such/file.toml"]).unwrap();
        assert!(Config::load(cli).is_err());
    }
}
