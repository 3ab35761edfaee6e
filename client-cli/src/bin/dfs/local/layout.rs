//! What `dfs local` runs and where: its flags ([`LocalArgs`]) and the pure
//! function from flags, data dir and ports to the services to start
//! ([`layout_on`]), each with its program, port, data dir, log and
//! arguments.
//!
//! It does no I/O: choosing ports is [`super::ports`]' job, starting the
//! processes [`super::process`]'.
//!
//! Invariants:
//! - Layout under DIR: `namenode/` (one namenode) or `namenode-K/` (K from
//!   1, with `--namenodes N`), `datanode-K/` (K from 1), `logs/<name>.log`.
//!   The same DIR on a later run gives each service the same data dir, so
//!   every file is found again (whatever the ports).
//! - Several namenodes each get the same `--peers` list (every namenode's
//!   URL, in order) and their own `--advertise` URL; every datanode gets
//!   that list as its `--namenode`. One namenode gets neither flag (a
//!   cluster of one, as before `--namenodes`).
//! - The flags given with `--namenode-arg`/`--datanode-arg` come after the
//!   ones `dfs local` sets. One that `dfs local` sets too (`--replication`,
//!   `--block-size`) replaces `dfs local`'s own (the programs refuse a flag
//!   given twice); the ones that place a service (`--listen`, `--data-dir`,
//!   a namenode's `--peers` and, with several, `--advertise`, a datanode's
//!   `--namenode`) are refused: `--port`, `--namenodes` and `--data-dir` say
//!   that.
use super::ports::parse_port;
use clap::Args;
use dfs_common::units::ByteSize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Replication when not given: the namenode's default (3), but never more
/// than there are datanodes, or no upload could complete.
const DEFAULT_REPLICATION: u16 = 3;
/// The most namenodes `--namenodes` takes (a Raft group of more gains
/// nothing on one machine).
const MAX_NAMENODES: i64 = 9;

#[derive(Args, Debug, Clone)]
pub struct LocalArgs {
    /// How many namenodes to start (on PORT, PORT+1, ...): 3 keep serving
    /// when any one of them is lost.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_NAMENODES), value_name = "N")]
    pub namenodes: u16,
    /// How many datanodes to start.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100), value_name = "N")]
    pub datanodes: u16,
    /// Where all data and logs go.
    #[arg(long, default_value = "./dfs-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// The (first) namenode's port; more namenodes use PORT+1, ...; datanodes
    /// use PORT-6, PORT-5, ... (skipping the namenodes'). 0 picks free ports
    /// (20000-31999) for every namenode and datanode.
    #[arg(long, default_value_t = 9870, value_parser = parse_port, value_name = "PORT")]
    pub port: u16,
    /// Block size for new files, e.g. 4MiB (default: the namenode's).
    #[arg(long, value_name = "SIZE")]
    pub block_size: Option<ByteSize>,
    /// Default replication (default: 3, or N if fewer datanodes).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..), value_name = "N")]
    pub replication: Option<u16>,
    /// The S3 API's port on the first namenode, the next ones on the others
    /// [default: PORT+8, so 9878; free ones with --port 0]
    #[arg(long, value_parser = parse_port, value_name = "PORT")]
    pub s3_port: Option<u16>,
    /// Do not serve the S3 API.
    #[arg(long, conflicts_with = "s3_port")]
    pub no_s3: bool,
    /// Hadoop IPC's port (`hdfs://127.0.0.1:PORT/`) on the first namenode,
    /// the next ones on the others [default: 8020 with the default --port,
    /// free ones otherwise]
    #[arg(long, value_parser = parse_port, value_name = "PORT")]
    pub hadoop_rpc_port: Option<u16>,
    /// Do not serve Hadoop IPC.
    #[arg(long, conflicts_with = "hadoop_rpc_port")]
    pub no_hadoop_rpc: bool,
    /// Once the cluster is ready, write FILE (atomically): the JSON document
    /// --json prints, with every process's port, pid, data dir and log.
    /// Removed when dfs local stops.
    #[arg(long, value_name = "FILE")]
    pub ports_file: Option<PathBuf>,
    /// An argument for the namenode, after the ones dfs local sets; repeat
    /// for more (--namenode-arg=--dead-node-timeout --namenode-arg=2s).
    #[arg(long = "namenode-arg", value_name = "ARG", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub namenode_args: Vec<OsString>,
    /// An argument for every datanode, after the ones dfs local sets; repeat
    /// for more (--datanode-arg=--cluster-secret-file --datanode-arg=F).
    #[arg(long = "datanode-arg", value_name = "ARG", allow_hyphen_values = true,
          value_parser = clap::value_parser!(OsString))]
    pub datanode_args: Vec<OsString>,
    /// HTTPS everywhere: a throwaway CA and a certificate for localhost and
    /// 127.0.0.1 (kept in DIR/tls, made on the first --tls start), given to
    /// every process; `export DFS_CA_FILE=DIR/tls/ca.pem` for dfs.
    #[arg(long)]
    pub tls: bool,
}

/// One process to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `namenode` (or `namenode-1`, ... with several), `datanode-1`, ...
    pub name: String,
    /// The program: `namenode` or `datanode`.
    pub program: &'static str,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub args: Vec<OsString>,
    /// `https` with `--tls`, else `http`.
    pub scheme: &'static str,
}

impl Service {
    pub fn is_namenode(&self) -> bool {
        self.program == "namenode"
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` (`https://` with `--tls`).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.address())
    }
}

/// Everything `dfs local` will run, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
    pub logs: PathBuf,
    /// The first namenode's URL (the web UI's, and the one of old).
    pub namenode_url: String,
    /// One or more, never none.
    pub namenodes: Vec<Service>,
    pub datanodes: Vec<Service>,
    /// The certificates with `--tls` (made by `run` before any start).
    pub tls: Option<TlsFiles>,
}

/// Where `--tls` keeps its throwaway CA and certificate: `DIR/tls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    pub fn under(root: &Path) -> TlsFiles {
        let dir = root.join("tls");
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        }
    }

    /// The flags that give a server these files.
    fn flags(&self) -> Vec<OsString> {
        vec![
            "--tls-cert".into(),
            self.cert.clone().into(),
            "--tls-key".into(),
            self.key.clone().into(),
            "--tls-ca".into(),
            self.ca.clone().into(),
        ]
    }
}

impl Layout {
    /// In start order: the namenodes, then the datanodes.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.namenodes.iter().chain(&self.datanodes)
    }

    /// The first namenode.
    pub fn namenode(&self) -> &Service {
        &self.namenodes[0]
    }

    /// Every namenode's URL, comma-separated (what `DFS_NAMENODE`, `dfs
    /// --namenode` and `datanode --namenode` take).
    pub fn namenode_list(&self) -> String {
        self.namenodes
            .iter()
            .map(Service::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// What to warn of for `n` namenodes: an even number tolerates no more
/// failures than one fewer (a majority of 4 is 3, as of 3 it is 2).
pub fn namenodes_warning(n: u16) -> Option<String> {
    (n > 1 && n.is_multiple_of(2)).then(|| {
        format!(
            "dfs local: warning: {n} namenodes tolerate the loss of {}, no more than {} would; \
             an odd number is the usual choice",
            (n - 1) / 2,
            n - 1
        )
    })
}

/// How many of `n` namenodes must be up for the group to serve.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Whether `args` give `flag` (as `--flag V` or `--flag=V`).
fn gives(args: &[OsString], flag: &str) -> bool {
    args.iter().any(|a| {
        a.to_str()
            .is_some_and(|a| a == flag || a.strip_prefix(flag).is_some_and(|r| r.starts_with('=')))
    })
}

/// Refuses extra `args` for `program` that give one of `placing`.
fn refuse_placing(
    args: &[OsString],
    program: &str,
    placing: &[(&str, &str)],
) -> Result<(), String> {
    match placing.iter().find(|(flag, _)| gives(args, flag)) {
        Some((flag, instead)) => Err(format!(
            "--{program}-arg {flag}: dfs local sets {flag} itself; use {instead}"
        )),
        None => Ok(()),
    }
}

/// `flag value` unless the extra arguments give `flag` themselves.
fn own(out: &mut Vec<OsString>, extra: &[OsString], flag: &str, value: String) {
    if !gives(extra, flag) {
        out.push(flag.into());
        out.push(value.into());
    }
}

/// What to run, from the flags, the (absolute) data dir, one port per
/// namenode (at least one) and one per datanode.
pub fn layout_on(
    args: &LocalArgs,
    root: &Path,
    nn_ports: &[u16],
    dn_ports: &[u16],
) -> Result<Layout, String> {
    let several = nn_ports.len() > 1;
    let mut nn_placing = vec![
        ("--listen", "--port"),
        ("--data-dir", "--data-dir"),
        ("--peers", "--namenodes"),
    ];
    if several {
        nn_placing.push(("--advertise", "--port"));
    }
    refuse_placing(&args.namenode_args, "namenode", &nn_placing)?;
    let Some(&first_port) = nn_ports.first() else {
        return Err("dfs local needs at least one namenode".into());
    };
    refuse_placing(
        &args.datanode_args,
        "datanode",
        &[
            ("--listen", "--port"),
            ("--data-dir", "--data-dir"),
            ("--namenode", "--port"),
        ],
    )?;
    let logs = root.join("logs");
    let tls = args.tls.then(|| TlsFiles::under(root));
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url_of = |port: u16| format!("{scheme}://127.0.0.1:{port}");
    let namenode_url = url_of(first_port);
    let peers = nn_ports
        .iter()
        .map(|&p| url_of(p))
        .collect::<Vec<_>>()
        .join(",");
    let replication = args
        .replication
        .unwrap_or(DEFAULT_REPLICATION.min(args.datanodes));
    let namenodes = nn_ports
        .iter()
        .enumerate()
        .map(|(i, &port)| {
            let name = if several {
                format!("namenode-{}", i + 1)
            } else {
                "namenode".to_string()
            };
            let data_dir = root.join(&name);
            let mut nn_args: Vec<OsString> = vec![
                "--listen".into(),
                format!("127.0.0.1:{port}").into(),
                "--data-dir".into(),
                data_dir.clone().into(),
            ];
            if several {
                nn_args.extend([
                    "--peers".into(),
                    peers.clone().into(),
                    "--advertise".into(),
                    url_of(port).into(),
                ]);
            }
            let extra = &args.namenode_args;
            own(
                &mut nn_args,
                extra,
                "--replication",
                replication.to_string(),
            );
            if let Some(b) = args.block_size {
                own(&mut nn_args, extra, "--block-size", b.0.to_string());
            }
            nn_args.extend(tls.iter().flat_map(TlsFiles::flags));
            nn_args.extend(extra.iter().cloned());
            Service {
                log: logs.join(format!("{name}.log")),
                name,
                scheme,
                program: "namenode",
                port,
                data_dir,
                args: nn_args,
            }
        })
        .collect();
    let datanodes = dn_ports
        .iter()
        .enumerate()
        .map(|(i, &port)| {
            let name = format!("datanode-{}", i + 1);
            let data_dir = root.join(&name);
            let mut dn_args: Vec<OsString> = vec![
                "--namenode".into(),
                peers.clone().into(),
                "--listen".into(),
                format!("127.0.0.1:{port}").into(),
                "--data-dir".into(),
                data_dir.clone().into(),
            ];
            dn_args.extend(tls.iter().flat_map(TlsFiles::flags));
            dn_args.extend(args.datanode_args.iter().cloned());
            Service {
                log: logs.join(format!("{name}.log")),
                args: dn_args,
                name,
                scheme,
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
        namenodes,
        datanodes,
        tls,
    })
}

/// Flags and layouts for the unit tests of `dfs local`'s modules.
#[cfg(test)]
pub mod test_support {
    use super::*;
    use crate::local::ports::{datanode_ports, namenode_ports};

    pub fn args(n: u16, port: u16) -> LocalArgs {
        LocalArgs {
            namenodes: 1,
            datanodes: n,
            data_dir: "./dfs-data".into(),
            port,
            block_size: None,
            replication: None,
            ports_file: None,
            s3_port: None,
            no_s3: false,
            hadoop_rpc_port: None,
            no_hadoop_rpc: false,
            namenode_args: vec![],
            datanode_args: vec![],
            tls: false,
        }
    }

    /// The layout on the fixed ports (PORT, PORT+1... for the namenodes,
    /// PORT-6... for the datanodes).
    pub fn layout(a: &LocalArgs, root: &Path) -> Result<Layout, String> {
        layout_on(
            a,
            root,
            &namenode_ports(a.port, a.namenodes)?,
            &datanode_ports(a.port, a.datanodes, a.namenodes)?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{args, layout};
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn default_layout() {
        let root = Path::new("/data/dfs");
        let l = layout(&args(3, 9870), root).unwrap();
        assert_eq!(l.namenode_url, "http://127.0.0.1:9870");
        assert_eq!(l.logs, root.join("logs"));
        assert_eq!(l.namenode().log, root.join("logs/namenode.log"));
        assert_eq!(l.namenode().data_dir, root.join("namenode"));
        let nn = os(&[
            "--listen",
            "127.0.0.1:9870",
            "--data-dir",
            "/data/dfs/namenode",
            "--replication",
            "3",
        ]);
        assert_eq!(l.namenode().args, nn);
        assert_eq!(l.datanodes.len(), 3);
        let d2 = &l.datanodes[1];
        assert_eq!(d2.name, "datanode-2");
        assert_eq!(d2.program, "datanode");
        assert_eq!(d2.port, 9865);
        assert_eq!(d2.address(), "127.0.0.1:9865");
        assert_eq!(d2.data_dir, root.join("datanode-2"));
        assert_eq!(d2.log, root.join("logs/datanode-2.log"));
        let dn = os(&[
            "--namenode",
            "http://127.0.0.1:9870",
            "--listen",
            "127.0.0.1:9865",
            "--data-dir",
            "/data/dfs/datanode-2",
        ]);
        assert_eq!(d2.args, dn);
        let names: Vec<_> = l.services().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["namenode", "datanode-1", "datanode-2", "datanode-3"]
        );
        assert!(l.namenode().is_namenode() && !d2.is_namenode());
    }

    #[test]
    fn layout_passes_options() {
        let root = Path::new("/d");
        let one = layout(&args(1, 19870), root).unwrap();
        assert!(one
            .namenode()
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
            .namenode()
            .args
            .windows(2)
            .any(|w| w[0] == "--replication" && w[1] == "2"));
        assert!(l
            .namenode()
            .args
            .windows(2)
            .any(|w| w[0] == "--block-size" && w[1] == "4194304"));
        // the same flags and dir give the same layout: a second run finds its data
        assert_eq!(layout(&a, root).unwrap(), l);
    }

    #[test]
    fn picked_ports_are_used() {
        let l = layout_on(&args(2, 0), Path::new("/d"), &[23456], &[21000, 29999]).unwrap();
        assert_eq!(l.namenode_url, "http://127.0.0.1:23456");
        assert_eq!(l.namenode().port, 23456);
        assert_eq!(l.namenodes.len(), 1);
        assert_eq!(l.datanodes[0].port, 21000);
        assert_eq!(l.datanodes[1].address(), "127.0.0.1:29999");
        assert!(l.datanodes[1]
            .args
            .windows(2)
            .any(|w| w[0] == "--namenode" && w[1] == "http://127.0.0.1:23456"));
        // the data dirs do not depend on the ports
        assert_eq!(l.datanodes[1].data_dir, Path::new("/d/datanode-2"));
    }

    #[test]
    fn extra_args_come_last_and_replace_our_own() {
        let a = LocalArgs {
            block_size: Some(ByteSize(1 << 20)),
            namenode_args: os(&["--heartbeat-interval", "300ms", "--replication=2"]),
            datanode_args: os(&["--cluster-secret-file", "/s"]),
            ..args(3, 9870)
        };
        let l = layout(&a, Path::new("/d")).unwrap();
        assert_eq!(
            l.namenode().args,
            os(&[
                "--listen",
                "127.0.0.1:9870",
                "--data-dir",
                "/d/namenode",
                "--block-size",
                "1048576",
                "--heartbeat-interval",
                "300ms",
                "--replication=2",
            ])
        );
        assert_eq!(
            l.datanodes[2].args[6..],
            os(&["--cluster-secret-file", "/s"])[..]
        );
        let b = LocalArgs {
            namenode_args: os(&["--block-size", "2MiB"]),
            block_size: Some(ByteSize(1 << 20)),
            ..args(3, 9870)
        };
        let l = layout(&b, Path::new("/d")).unwrap();
        assert_eq!(
            l.namenode()
                .args
                .iter()
                .filter(|a| *a == "--block-size")
                .count(),
            1
        );
        assert!(l.namenode().args.ends_with(&os(&["--block-size", "2MiB"])));
    }

    #[test]
    fn extra_args_may_not_move_a_service() {
        for (nn, dn) in [
            (vec!["--listen", "127.0.0.1:1"], vec![]),
            (vec!["--data-dir=/x"], vec![]),
            (vec![], vec!["--namenode", "http://h:1"]),
            (vec![], vec!["--listen=127.0.0.1:2"]),
        ] {
            let a = LocalArgs {
                namenode_args: os(&nn),
                datanode_args: os(&dn),
                ..args(1, 9870)
            };
            let e = layout(&a, Path::new("/d")).unwrap_err();
            assert!(e.contains("dfs local sets"), "{e}");
        }
        // a flag that merely starts alike is not the same flag
        let a = LocalArgs {
            namenode_args: os(&["--listen-backlog", "5"]),
            ..args(1, 9870)
        };
        assert!(layout(&a, Path::new("/d")).is_ok());
    }

    #[test]
    fn tls_gives_every_process_the_certificates_and_https_urls() {
        let a = LocalArgs {
            namenodes: 3,
            tls: true,
            ..args(1, 9870)
        };
        let l = layout(&a, Path::new("/d")).unwrap();
        assert_eq!(l.namenode_url, "https://127.0.0.1:9870");
        assert_eq!(
            l.namenode_list(),
            "https://127.0.0.1:9870,https://127.0.0.1:9871,https://127.0.0.1:9872"
        );
        let files = l.tls.clone().unwrap();
        assert_eq!(files.ca, Path::new("/d/tls/ca.pem"));
        for svc in l.services() {
            let a: Vec<String> = svc
                .args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            for (flag, file) in [
                ("--tls-cert", "/d/tls/cert.pem"),
                ("--tls-key", "/d/tls/key.pem"),
                ("--tls-ca", "/d/tls/ca.pem"),
            ] {
                assert!(
                    a.windows(2).any(|w| w[0] == flag && w[1] == file),
                    "{}: {a:?}",
                    svc.name
                );
            }
            assert!(svc.url().starts_with("https://"));
        }
        let dn = &l.datanodes[0].args;
        assert!(dn
            .windows(2)
            .any(|w| w[0] == "--namenode" && w[1].to_string_lossy().starts_with("https://")));
        assert!(layout(&args(1, 9870), Path::new("/d"))
            .unwrap()
            .tls
            .is_none());
    }

    #[test]
    fn several_namenodes() {
        let root = Path::new("/d");
        let a = LocalArgs {
            namenodes: 3,
            ..args(3, 9870)
        };
        let l = layout(&a, root).unwrap();
        let peers = "http://127.0.0.1:9870,http://127.0.0.1:9871,http://127.0.0.1:9872";
        assert_eq!(l.namenode_url, "http://127.0.0.1:9870");
        assert_eq!(l.namenode_list(), peers);
        let names: Vec<_> = l.services().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "namenode-1",
                "namenode-2",
                "namenode-3",
                "datanode-1",
                "datanode-2",
                "datanode-3"
            ]
        );
        let n2 = &l.namenodes[1];
        assert!(n2.is_namenode());
        assert_eq!(n2.port, 9871);
        assert_eq!(n2.url(), "http://127.0.0.1:9871");
        assert_eq!(n2.data_dir, root.join("namenode-2"));
        assert_eq!(n2.log, root.join("logs/namenode-2.log"));
        assert_eq!(
            n2.args,
            os(&[
                "--listen",
                "127.0.0.1:9871",
                "--data-dir",
                "/d/namenode-2",
                "--peers",
                peers,
                "--advertise",
                "http://127.0.0.1:9871",
                "--replication",
                "3",
            ])
        );
        // every namenode gets the same --peers, its own --advertise
        for nn in &l.namenodes {
            assert!(nn
                .args
                .windows(2)
                .any(|w| w[0] == "--peers" && w[1] == peers));
            assert!(nn
                .args
                .windows(2)
                .any(|w| w[0] == "--advertise" && w[1] == nn.url().as_str()));
        }
        // the datanodes get the list, and ports below the namenodes'
        let ports: Vec<_> = l.datanodes.iter().map(|d| d.port).collect();
        assert_eq!(ports, [9864, 9865, 9866]);
        assert_eq!(l.datanodes[0].args[..2], os(&["--namenode", peers])[..]);
        // picked ports
        let l = layout_on(&a, root, &[25000, 21000, 23000], &[22000]).unwrap();
        assert_eq!(
            l.namenode_list(),
            "http://127.0.0.1:25000,http://127.0.0.1:21000,http://127.0.0.1:23000"
        );
        assert_eq!(l.namenodes[2].data_dir, root.join("namenode-3"));
        // one namenode keeps the layout of old: no --peers, no --advertise
        let one = layout(&args(3, 9870), root).unwrap();
        assert_eq!(one.namenodes.len(), 1);
        assert_eq!(one.namenode().name, "namenode");
        assert!(!one
            .namenode()
            .args
            .iter()
            .any(|a| a == "--peers" || a == "--advertise"));
        assert_eq!(one.namenode_list(), "http://127.0.0.1:9870");
        assert!(layout_on(&a, root, &[], &[22000]).is_err());
    }

    #[test]
    fn several_namenodes_refuse_placing_flags() {
        let three = |nn: &[&str]| LocalArgs {
            namenodes: 3,
            namenode_args: os(nn),
            ..args(3, 9870)
        };
        for nn in [&["--peers", "http://h:1"][..], &["--advertise=http://h:1"]] {
            let e = layout(&three(nn), Path::new("/d")).unwrap_err();
            assert!(e.contains("dfs local sets"), "{e}");
        }
        // with one namenode --advertise is the user's to give, --peers not
        let one = |nn: &[&str]| LocalArgs {
            namenode_args: os(nn),
            ..args(3, 9870)
        };
        assert!(layout(&one(&["--advertise", "http://h:9870"]), Path::new("/d")).is_ok());
        let e = layout(&one(&["--peers", "http://h:1"]), Path::new("/d")).unwrap_err();
        assert!(e.contains("--namenodes"), "{e}");
    }

    #[test]
    fn even_namenodes_are_warned_of() {
        assert_eq!(namenodes_warning(1), None);
        assert_eq!(namenodes_warning(3), None);
        let w = namenodes_warning(2).unwrap();
        assert!(
            w.contains("2 namenodes tolerate the loss of 0, no more than 1 would"),
            "{w}"
        );
        let w = namenodes_warning(4).unwrap();
        assert!(
            w.contains("4 namenodes tolerate the loss of 1, no more than 3 would"),
            "{w}"
        );
        assert_eq!(majority(1), 1);
        assert_eq!(majority(2), 2);
        assert_eq!(majority(3), 2);
        assert_eq!(majority(4), 3);
        assert_eq!(majority(5), 3);
    }
}
