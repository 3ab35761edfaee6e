//! `dfs local` end to end, as the Python and browser harnesses use it: the
//! real `dfs local --port 0 --ports-file F` starts a cluster on free
//! 127.0.0.1 ports and writes where everything is; a file goes in and out
//! through its namenode; a datanode killed with SIGKILL is reported while
//! the cluster goes on; SIGTERM stops every process, exits 0 and removes
//! the ports file; a second run on the same data dir finds the file again
//! (the CONTRACT's promise); and the namenode dying stops it all with
//! exit 1.
use dfs_client::{DfsClient, NoProgress, UploadOptions};
use dfs_tests::{bin, p, test_data, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

const READY: Duration = Duration::from_secs(90);

/// One `dfs local` run; killed (SIGKILL, its children then get SIGTERM
/// from the kernel) if the test ends without stopping it, and its output
/// and logs printed when the test fails.
struct Local {
    child: Child,
    ports_file: PathBuf,
    out: PathBuf,
    logs: PathBuf,
}

impl Local {
    fn start(data: &Path, ports_file: &Path, out: &Path) -> Local {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .unwrap();
        let child = Command::new(bin("dfs"))
            .args([
                "local",
                "--port",
                "0",
                "--datanodes",
                "3",
                "--block-size",
                "1MiB",
            ])
            .arg("--data-dir")
            .arg(data)
            .arg("--ports-file")
            .arg(ports_file)
            .args([
                "--namenode-arg=--heartbeat-interval",
                "--namenode-arg=300ms",
                "--namenode-arg",
                "--dead-node-timeout",
                "--namenode-arg",
                "2s",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn dfs local");
        Local {
            child,
            ports_file: ports_file.to_path_buf(),
            out: out.to_path_buf(),
            logs: data.join("logs"),
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The ports file's document, once it is there; fails at once if
    /// `dfs local` exits first.
    async fn ready(&mut self) -> Value {
        let (child, file, out) = (&mut self.child, &self.ports_file, &self.out);
        wait_until("the ports file", READY, || {
            let r = (|| {
                if let Some(status) = child.try_wait()? {
                    let text = std::fs::read_to_string(out).unwrap_or_default();
                    anyhow::bail!("dfs local exited ({status}) before it was ready:\n{text}");
                }
                match std::fs::read_to_string(file) {
                    Ok(text) => Ok(Some(serde_json::from_str::<Value>(&text)?)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e.into()),
                }
            })();
            std::future::ready(r)
        })
        .await
        .unwrap()
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal(&self, sig: libc::c_int) {
        signal(self.child.id(), sig);
    }

    /// Waits for `dfs local` to exit.
    async fn exit(&mut self) -> ExitStatus {
        let child = &mut self.child;
        wait_until("dfs local to exit", Duration::from_secs(40), || {
            std::future::ready(child.try_wait().map_err(Into::into))
        })
        .await
        .unwrap()
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("----- dfs local's output -----\n{}", self.output());
            for e in std::fs::read_dir(&self.logs)
                .into_iter()
                .flatten()
                .flatten()
            {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                eprintln!("----- {} (end) -----", e.path().display());
                for l in tail.into_iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: a plain syscall; the pid is one of this test's processes.
    let r = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(
        r,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// Whether a process `pid` exists (a zombie counts as gone).
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Every pid of the cluster's processes in a ports document.
fn child_pids(doc: &Value) -> Vec<u64> {
    let mut pids = vec![doc["namenode_pid"].as_u64().unwrap()];
    for d in doc["datanode_processes"].as_array().unwrap() {
        pids.push(d["pid"].as_u64().unwrap());
    }
    pids
}

async fn health(url: &str) -> anyhow::Result<Value> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("{url}/health"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

async fn read(c: &DfsClient, path: &str) -> Vec<u8> {
    let mut back = Vec::new();
    c.download(&p(path), &mut back, &NoProgress)
        .await
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dfs_local_runs_a_cluster_that_outlives_a_datanode_and_stops_cleanly() {
    let tmp = tempfile::Builder::new()
        .prefix("dfs-local-test-")
        .tempdir()
        .unwrap();
    let data_dir = tmp.path().join("data");
    let ports_file = tmp.path().join("ports.json");
    let data = test_data(2 * (1 << 20) + 12345, 16); // three 1 MiB blocks

    // First run: ready, the document says where everything is.
    let mut local = Local::start(&data_dir, &ports_file, &tmp.path().join("first.log"));
    let doc = local.ready().await;
    assert_eq!(doc["pid"].as_u64(), Some(u64::from(local.child.id())));
    let url = doc["namenode"].as_str().unwrap().to_string();
    let nn_port = doc["namenode_port"].as_u64().unwrap();
    assert_eq!(url, format!("http://127.0.0.1:{nn_port}"));
    assert!((20_000..32_000).contains(&nn_port), "{doc}");
    let dns = doc["datanode_processes"].as_array().unwrap().clone();
    assert_eq!(dns.len(), 3, "{doc}");
    for (i, d) in dns.iter().enumerate() {
        assert_eq!(d["name"], format!("datanode-{}", i + 1));
        assert_eq!(d["address"], format!("127.0.0.1:{}", d["port"]));
        assert_eq!(doc["datanodes"][i], d["address"]);
        assert!(Path::new(d["data_dir"].as_str().unwrap()).is_dir());
        assert!(Path::new(d["log"].as_str().unwrap()).is_file());
    }
    let pids = child_pids(&doc);
    assert!(pids.iter().all(|&p| alive(p)), "{doc}");
    let h = health(&url).await.unwrap();
    assert_eq!(
        (h["live_datanodes"].as_u64(), h["safe_mode"].as_bool()),
        (Some(3), Some(false))
    );

    // A file in and out through its namenode.
    let c = DfsClient::new(&url).unwrap();
    c.upload(
        &p("/kept/f.bin"),
        &data[..],
        &UploadOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap();
    assert!(read(&c, "/kept/f.bin").await == data, "read back differs");

    // A datanode dies: dfs local says so, and the cluster goes on.
    let victim = dns[1]["pid"].as_u64().unwrap();
    signal(victim as u32, libc::SIGKILL);
    let out = &local;
    wait_until("dfs local to report datanode-2", READY, || {
        let said = out.output();
        std::future::ready(Ok(said
            .contains("datanode-2 exited unexpectedly (signal: 9")
            .then_some(())))
    })
    .await
    .unwrap();
    let said = local.output();
    assert!(said.contains("datanode-2.log"), "{said}");
    assert!(said.contains("carries on with 2 datanodes"), "{said}");
    wait_until("the namenode to see datanode-2 dead", READY, || {
        let url = url.clone();
        async move {
            let h = health(&url).await?;
            Ok((h["live_datanodes"] == 2 && h["dead_datanodes"] == 1).then_some(()))
        }
    })
    .await
    .unwrap();
    assert!(local.running(), "dfs local stopped after a datanode died");
    assert!(ports_file.exists());
    assert!(
        read(&c, "/kept/f.bin").await == data,
        "read with a node down"
    );

    // SIGTERM: exit 0, every child gone, the ports file removed.
    local.signal(libc::SIGTERM);
    let status = local.exit().await;
    assert_eq!(status.code(), Some(0), "{}", local.output());
    for pid in &pids {
        assert!(!alive(*pid), "pid {pid} outlived dfs local");
    }
    assert!(!ports_file.exists(), "the ports file outlived dfs local");
    drop(local);

    // Second run on the same data dir (new ports): the file is there.
    let mut again = Local::start(&data_dir, &ports_file, &tmp.path().join("second.log"));
    let doc = again.ready().await;
    let url = doc["namenode"].as_str().unwrap().to_string();
    let c = DfsClient::new(&url).unwrap();
    assert!(
        read(&c, "/kept/f.bin").await == data,
        "the second run lost the file"
    );

    // The namenode dies: dfs local stops the datanodes and exits 1.
    let pids = child_pids(&doc);
    signal(doc["namenode_pid"].as_u64().unwrap() as u32, libc::SIGKILL);
    let status = again.exit().await;
    let said = again.output();
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("namenode exited unexpectedly"), "{said}");
    for pid in &pids {
        assert!(!alive(*pid), "pid {pid} outlived dfs local");
    }
    assert!(!ports_file.exists(), "the ports file outlived dfs local");
}
