//! The datanode's one `Config`: flags (clap) over an optional TOML file over
//! [`defaults`], validated once at startup and then passed down read-only.
//!
//! Does not touch the disk beyond reading the `--config` file; the data dir is
//! created by [`crate::store`] and [`crate::identity`].
//!
//! Invariants after [`Config::load`]: `namenode` and `advertise` (when set)
//! are `http(s)://` URLs without a trailing slash; unknown TOML keys were
//! refused.
use crate::error::DatanodeError;
use clap::Parser;
use dfs_common::units::ByteSize;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every default, defined once.
pub mod defaults {
    pub const NAMENODE: &str = "http://127.0.0.1:9870";
    pub const LISTEN: &str = "127.0.0.1:9864";
    pub const DATA_DIR: &str = "./dfs-data/datanode";
}

/// Command-line flags. Every flag is optional: unset flags fall back to the
/// `--config` file, then to [`defaults`].
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "datanode", version = dfs_common::VERSION, about = "dfs DataNode: stores blocks, serves and receives them, reports to the namenode")]
pub struct Cli {
    /// Base URL of the namenode [default: http://127.0.0.1:9870]
    #[arg(long, value_name = "URL")]
    pub namenode: Option<String>,
    /// Address to listen on [default: 127.0.0.1:9864]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// URL others use to reach this node [default: http://<listen>, 0.0.0.0 → 127.0.0.1]
    #[arg(long, value_name = "URL")]
    pub advertise: Option<String>,
    /// Where blocks and the node id are kept [default: ./dfs-data/datanode]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Cap on the block bytes this node stores (e.g. 10GiB) [default: the disk's size]
    #[arg(long, value_name = "SIZE")]
    pub capacity: Option<ByteSize>,
    /// TOML file with the same keys (namenode, listen, advertise, data_dir, capacity)
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
    data_dir: Option<PathBuf>,
    capacity: Option<ByteSize>,
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
    pub data_dir: PathBuf,
    /// Optional cap on stored block bytes.
    pub capacity: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namenode: defaults::NAMENODE.to_string(),
            listen: defaults::LISTEN.to_string(),
            advertise: None,
            data_dir: PathBuf::from(defaults::DATA_DIR),
            capacity: None,
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
        let config = Config {
            namenode: cli.namenode.or(file.namenode).unwrap_or(d.namenode),
            listen: cli.listen.or(file.listen).unwrap_or(d.listen),
            advertise: cli.advertise.or(file.advertise),
            data_dir: cli.data_dir.or(file.data_dir).unwrap_or(d.data_dir),
            capacity: cli.capacity.or(file.capacity).map(|b| b.0),
        };
        config.validate()
    }

    fn validate(mut self) -> Result<Self, DatanodeError> {
        self.namenode = check_url("namenode", &self.namenode)?;
        if let Some(a) = &self.advertise {
            self.advertise = Some(check_url("advertise", a)?);
        }
        if self.listen.trim().is_empty() || !self.listen.contains(':') {
            return Err(DatanodeError::Config(format!(
                "listen {:?} is not host:port (example: 127.0.0.1:9864)",
                self.listen
            )));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(DatanodeError::Config("data_dir is empty".into()));
        }
        if self.capacity == Some(0) {
            return Err(DatanodeError::Config("capacity must be more than 0".into()));
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
        format!("http://{addr}")
    }
}

fn read_file(path: &Path) -> Result<FileConfig, DatanodeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DatanodeError::Config(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| DatanodeError::Config(format!("{}: {e}", path.display())))
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(c.data_dir, PathBuf::from("/var/dfs"));

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
        let cli = Cli::try_parse_from(["datanode", "--config", "/no/such/file.toml"]).unwrap();
        assert!(Config::load(cli).is_err());
    }
}
