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
use dfs_common::units::{parse_duration, ByteSize, HumanDuration};
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
}

/// Limits enforced by [`Config::validate`] and by requests that choose their
/// own replication or block size.
pub const MAX_REPLICATION: u16 = 32;
pub const MIN_BLOCK_SIZE: u64 = 4096;

/// The namenode's command line.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "namenode", version = dfs_common::VERSION, about = "dfs NameNode: the namespace, block map and datanode registry")]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:9870]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Where the metadata (sled) lives [default: ./dfs-data/namenode]
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
    /// TOML file with the same keys in snake_case; flags beat it
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
}

/// The validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub replication: u16,
    pub block_size: u64,
    pub heartbeat_interval: Duration,
    pub dead_node_timeout: Duration,
    pub lease_timeout: Duration,
    pub block_report_interval: Duration,
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
        }
    }
}

impl FileConfig {
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
        let config = Config {
            listen: args.listen.or(file.listen).unwrap_or(d.listen),
            data_dir: args.data_dir.or(file.data_dir).unwrap_or(d.data_dir),
            replication: args
                .replication
                .or(file.replication)
                .unwrap_or(d.replication),
            block_size: args
                .block_size
                .or(file.block_size)
                .map_or(d.block_size, |b| b.0),
            heartbeat_interval: args
                .heartbeat_interval
                .or(file.heartbeat_interval.map(|h| h.0))
                .unwrap_or(d.heartbeat_interval),
            dead_node_timeout: args
                .dead_node_timeout
                .or(file.dead_node_timeout.map(|h| h.0))
                .unwrap_or(d.dead_node_timeout),
            lease_timeout: args
                .lease_timeout
                .or(file.lease_timeout.map(|h| h.0))
                .unwrap_or(d.lease_timeout),
            block_report_interval: d.block_report_interval,
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
        ] {
            if d.is_zero() {
                return Err(format!("{name} must be greater than 0"));
            }
        }
        Ok(())
    }

    /// How often a writer should renew its lease: a third of the timeout, so
    /// two renewals can be lost before the lease expires.
    pub fn lease_renew_interval(&self) -> Duration {
        self.lease_timeout / 3
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

    const SAMPLE: &str = r#"
        listen = "0.0.0.0:19870"
        data_dir = "/tmp/nn"
        replication = 2
        block_size = "1MiB"
        heartbeat_interval = "500ms"
        dead_node_timeout = "2s"
        lease_timeout = "10s"
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
        ])
        .unwrap();
        let c = Config::from_args(args).unwrap();
        assert_eq!(c.replication, 1);
        assert_eq!(c.block_size, 4096);
        assert_eq!(c.dead_node_timeout, Duration::from_secs(5));
        // Not given as flags: from the file.
        assert_eq!(c.listen, "0.0.0.0:19870");
        assert_eq!(c.heartbeat_interval, Duration::from_millis(500));
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
        ] {
            let f = FileConfig::parse(toml).unwrap();
            assert!(Config::merge(Args::default(), f).is_err(), "{toml}");
        }
        assert!(Args::try_parse_from(["namenode", "--block-size", "64XB"]).is_err());
        assert!(Args::try_parse_from(["namenode", "--heartbeat-interval", "x"]).is_err());
    }
}
