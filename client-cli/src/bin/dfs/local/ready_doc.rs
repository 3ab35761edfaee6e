//! The document that says a `dfs local` cluster is ready and where
//! everything is: printed by `--json`, written to `--ports-file`, so
//! harnesses (tests/python, tests/browser) start a cluster and then read
//! its ports, pids, data dirs and logs from one place.
//!
//! What it does not do: keep the document current. It is written once,
//! when the cluster is ready; a datanode that exits later still appears.
//!
//! Invariants:
//! - The ports file appears whole or not at all (temp file beside it, then
//!   rename), only once the cluster is ready, and `dfs local` removes it
//!   when it stops, after its children are gone, so a reader that sees it
//!   gone knows every process is gone too. A stale one from an earlier run
//!   is removed at start.
//! - The fields of the older `--json` line keep their meaning (`namenode`,
//!   `web_ui`, `datanodes`, `data_dir`, `logs`); new ones are added beside.
//!   With several namenodes, `namenode` and the other `namenode_*` fields
//!   are the first namenode's; `namenodes` lists every one (also with one).
use super::layout::{Layout, Service};
use crate::error::{io_failure, CliResult};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One namenode in the document.
#[derive(Debug, Serialize)]
pub struct NamenodeEntry {
    /// `namenode` (one), or `namenode-1`, ... (several).
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub port: u16,
    pub pid: u32,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// One datanode in the document.
#[derive(Debug, Serialize)]
pub struct DatanodeEntry {
    /// `datanode-1`, ...
    pub name: String,
    pub port: u16,
    /// `127.0.0.1:PORT`.
    pub address: String,
    pub pid: u32,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct ReadyDoc {
    /// The (first) namenode's URL, `http://127.0.0.1:PORT`.
    pub namenode: String,
    pub namenode_port: u16,
    pub namenode_pid: u32,
    pub namenode_data_dir: PathBuf,
    pub namenode_log: PathBuf,
    /// Every namenode, in order (the first is `namenode`).
    pub namenodes: Vec<NamenodeEntry>,
    /// Every namenode's URL, comma-separated: what `DFS_NAMENODE` takes.
    pub namenode_list: String,
    /// The web UI's URL (the namenode's, with `/`).
    pub web_ui: String,
    /// Every datanode's `127.0.0.1:PORT`, in order.
    pub datanodes: Vec<String>,
    pub datanode_processes: Vec<DatanodeEntry>,
    /// Where all data goes (`--data-dir`, absolute).
    pub data_dir: PathBuf,
    pub logs: PathBuf,
    /// `dfs local`'s own pid: SIGTERM (or SIGINT) to it stops the cluster.
    pub pid: u32,
    /// Where S3 is served, `http://127.0.0.1:PORT` (none with `--no-s3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// Every namenode's S3 endpoint, in the namenodes' order (the first is
    /// `s3_endpoint`); empty with `--no-s3`.
    pub s3_endpoints: Vec<String>,
    /// The S3 endpoint and a working key pair (none with `--no-s3`, nor
    /// with access control on and no superuser's `DFS_TOKEN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Info>,
    /// With `--tls`: the CA certificate every URL here is signed under
    /// (what `DFS_CA_FILE`, curl's `--cacert` and boto3's `verify=` take).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Where Hadoop IPC is served, `hdfs://127.0.0.1:PORT` (none with
    /// `--no-hadoop-rpc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hadoop_rpc: Option<String>,
    /// Every namenode's Hadoop IPC address, in the namenodes' order.
    pub hadoop_rpc_endpoints: Vec<String>,
}

/// Where S3 is served, and the key `dfs local` made for it (kept in
/// `<data dir>/s3-key.json`, so every run prints the same one).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct S3Info {
    /// `http://127.0.0.1:PORT`.
    #[serde(default)]
    pub endpoint: String,
    pub access_key: String,
    pub secret: String,
}

impl ReadyDoc {
    /// From the layout, each service's pid (`pid_of`) and `dfs local`'s.
    pub fn new(layout: &Layout, pid_of: impl Fn(&Service) -> u32, own_pid: u32) -> ReadyDoc {
        let nn = layout.namenode();
        ReadyDoc {
            namenode: layout.namenode_url.clone(),
            namenode_port: nn.port,
            namenode_pid: pid_of(nn),
            namenode_data_dir: nn.data_dir.clone(),
            namenode_log: nn.log.clone(),
            namenodes: layout
                .namenodes
                .iter()
                .map(|n| NamenodeEntry {
                    name: n.name.clone(),
                    url: n.url(),
                    port: n.port,
                    pid: pid_of(n),
                    data_dir: n.data_dir.clone(),
                    log: n.log.clone(),
                })
                .collect(),
            namenode_list: layout.namenode_list(),
            web_ui: format!("{}/", layout.namenode_url),
            datanodes: layout.datanodes.iter().map(Service::address).collect(),
            datanode_processes: layout
                .datanodes
                .iter()
                .map(|d| DatanodeEntry {
                    name: d.name.clone(),
                    port: d.port,
                    address: d.address(),
                    pid: pid_of(d),
                    data_dir: d.data_dir.clone(),
                    log: d.log.clone(),
                })
                .collect(),
            data_dir: layout.root.clone(),
            logs: layout.logs.clone(),
            pid: own_pid,
            s3_endpoint: None,
            s3_endpoints: Vec::new(),
            s3: None,
            ca_file: layout.tls.as_ref().map(|t| t.ca.clone()),
            hadoop_rpc: None,
            hadoop_rpc_endpoints: Vec::new(),
        }
    }

    /// One line of JSON.
    pub fn to_line(&self) -> String {
        // A struct of strings, numbers and paths always serializes; a
        // non-UTF-8 path would fail, and then an empty object says so.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// The temp file a ports file is written through: beside it, hidden.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `doc` to `path` atomically (temp file, fsync, rename).
pub fn write_ports_file(path: &Path, doc: &ReadyDoc) -> CliResult {
    let tmp = temp_path(path);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(doc.to_line().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_failure(
            format!("cannot write the ports file {}", path.display()),
            &e,
        )
    })
}

/// Removes the ports file (best effort: gone already is fine).
pub fn remove_ports_file(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::layout::test_support::{args, layout};

    #[test]
    fn the_document_names_every_process() {
        let l = layout(&args(2, 19870), Path::new("/d")).unwrap();
        let doc = ReadyDoc::new(
            &l,
            |s| {
                if s.is_namenode() {
                    100
                } else {
                    200 + s.port as u32
                }
            },
            7,
        );
        let v: serde_json::Value = serde_json::from_str(&doc.to_line()).unwrap();
        // the fields of the older --json line
        assert_eq!(v["namenode"], "http://127.0.0.1:19870");
        assert_eq!(v["web_ui"], "http://127.0.0.1:19870/");
        assert_eq!(
            v["datanodes"],
            serde_json::json!(["127.0.0.1:19864", "127.0.0.1:19865"])
        );
        assert_eq!(v["data_dir"], "/d");
        assert_eq!(v["logs"], "/d/logs");
        // and the new ones
        assert_eq!(v["pid"], 7);
        assert_eq!(v["namenode_port"], 19870);
        assert_eq!(v["namenode_pid"], 100);
        assert_eq!(v["namenode_data_dir"], "/d/namenode");
        assert_eq!(v["namenode_log"], "/d/logs/namenode.log");
        let d2 = &v["datanode_processes"][1];
        assert_eq!(d2["name"], "datanode-2");
        assert_eq!(d2["port"], 19865);
        assert_eq!(d2["address"], "127.0.0.1:19865");
        assert_eq!(d2["pid"], 200 + 19865);
        assert_eq!(d2["data_dir"], "/d/datanode-2");
        assert_eq!(d2["log"], "/d/logs/datanode-2.log");
        // one namenode is a list of one
        assert_eq!(
            v["namenodes"],
            serde_json::json!([{"name": "namenode", "url": "http://127.0.0.1:19870",
                "port": 19870, "pid": 100, "data_dir": "/d/namenode",
                "log": "/d/logs/namenode.log"}])
        );
        assert_eq!(v["namenode_list"], "http://127.0.0.1:19870");
    }

    #[test]
    fn the_document_lists_every_namenode() {
        let a = crate::local::layout::LocalArgs {
            namenodes: 3,
            ..args(2, 19870)
        };
        let l = layout(&a, Path::new("/d")).unwrap();
        let doc = ReadyDoc::new(&l, |s| u32::from(s.port), 7);
        let v: serde_json::Value = serde_json::from_str(&doc.to_line()).unwrap();
        // the old fields name the first namenode
        assert_eq!(v["namenode"], "http://127.0.0.1:19870");
        assert_eq!(v["namenode_pid"], 19870);
        assert_eq!(v["namenode_data_dir"], "/d/namenode-1");
        assert_eq!(v["web_ui"], "http://127.0.0.1:19870/");
        let nns = v["namenodes"].as_array().unwrap();
        assert_eq!(nns.len(), 3);
        assert_eq!(nns[2]["name"], "namenode-3");
        assert_eq!(nns[2]["url"], "http://127.0.0.1:19872");
        assert_eq!(nns[2]["pid"], 19872);
        assert_eq!(nns[2]["log"], "/d/logs/namenode-3.log");
        assert_eq!(
            v["namenode_list"],
            "http://127.0.0.1:19870,http://127.0.0.1:19871,http://127.0.0.1:19872"
        );
        assert_eq!(
            v["datanodes"],
            serde_json::json!(["127.0.0.1:19864", "127.0.0.1:19865"])
        );
    }

    #[test]
    fn ports_file_is_replaced_whole_and_removed() {
        let t = tempfile::tempdir().unwrap();
        let l = layout(&args(1, 19870), t.path()).unwrap();
        let f = t.path().join("ports.json");
        std::fs::write(&f, "stale").unwrap();
        write_ports_file(&f, &ReadyDoc::new(&l, |_| 1, 2)).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(v["pid"], 2);
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["ports.json"], "no temp file left");
        remove_ports_file(&f);
        assert!(!f.exists());
        remove_ports_file(&f); // twice is fine
        let missing_dir = t.path().join("no/such/dir/ports.json");
        assert!(write_ports_file(&missing_dir, &ReadyDoc::new(&l, |_| 1, 2)).is_err());
    }
}
