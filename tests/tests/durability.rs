//! An acknowledged block lives on at least two disks (CONTRACT, "Reads and
//! relayed writes"), by every door: `dfs put` of a file (a seekable source,
//! blocks overlapped), `dfs put -` from stdin (a plain stream), an append,
//! and a WebHDFS CREATE relayed by a datanode or by the namenode.
//!
//! Each test pauses its upload in the middle of a block, SIGKILLs one hop of
//! that block's pipeline, lets the upload go on (the namenode still counts
//! the dead node live and keeps placing it in pipelines: first, middle or
//! last hop), and, as soon as the upload reports success, SIGKILLs one of
//! the nodes the namenode lists for a block written after the first kill,
//! the one with the fewest replicas. The file must still read back
//! bit-exact: with one intact hop enough (the old rule), a block whose
//! middle hop was dead had a single replica, and that second kill took it.
use bytes::Bytes;
use dfs_client::{NoProgress, UploadOptions};
use dfs_common::error::ErrorCode;
use dfs_tests::{p, test_data, wait_until, ClusterOptions, TestCluster};
use std::future::Future;
use std::io::{Read, Seek, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};
use tokio::sync::oneshot;

const MB: usize = 1 << 20;
/// Where each upload stops until a hop of its pipeline is killed: in the
/// middle of block 2, past its first 512 KiB piece (a block's pipeline is
/// opened only once its first piece is read).
const GATE: usize = 2 * MB + 3 * MB / 4;
/// The block being written at the gate: it and every block after it are
/// written while the first killed node is down.
const GATE_BLOCK: usize = GATE / MB;
const LEN: usize = 20 * MB + 4321;

fn opts() -> ClusterOptions {
    ClusterOptions {
        datanodes: 4,
        block_size: MB as u64,
        replication: 3,
        // Long, so that the namenode goes on placing the killed node in the
        // pipelines of the blocks after it: many lose a hop, at every place.
        dead_node_timeout: "60s",
        ..Default::default()
    }
}

/// A local file that cannot be read past [`GATE`] until released: a
/// seekable source (as `dfs put FILE` reads one) paused mid-block.
struct GatedFile {
    data: std::io::Cursor<Vec<u8>>,
    release: Option<oneshot::Receiver<()>>,
}

impl AsyncRead for GatedFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let pos = this.data.position() as usize;
        let mut limit = buf.remaining();
        if let Some(rx) = this.release.as_mut() {
            if pos >= GATE {
                match Pin::new(rx).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(_) => this.release = None,
                }
            } else {
                limit = limit.min(GATE - pos);
            }
        }
        let n = this.data.read(buf.initialize_unfilled_to(limit))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for GatedFile {
    fn start_seek(mut self: Pin<&mut Self>, pos: std::io::SeekFrom) -> std::io::Result<()> {
        self.data.seek(pos).map(|_| ())
    }
    fn poll_complete(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<u64>> {
        Poll::Ready(Ok(self.data.position()))
    }
}

/// Waits until exactly one block write is under way, on `replication`
/// nodes (each counting one transfer, every other node none): the pipeline
/// of the block paused at the gate. SIGKILLs one of its hops (never
/// `spare`, the node relaying the upload) and returns it.
async fn kill_a_pipeline_hop(cluster: &mut TestCluster, spare: Option<usize>) -> usize {
    let n = cluster.opts.datanodes;
    let want = usize::from(cluster.opts.replication);
    let c = &*cluster;
    let hops = wait_until(
        "the paused block's pipeline",
        Duration::from_secs(60),
        || async move {
            let mut active = Vec::new();
            for i in 0..n {
                let h = c.datanode_health(i).await?;
                active.push(h["active_transfers"].as_u64().unwrap_or(0));
            }
            let hops: Vec<usize> = (0..n).filter(|&i| active[i] == 1).collect();
            if hops.len() == want && active.iter().all(|&a| a <= 1) {
                Ok(Some(hops))
            } else {
                Err(anyhow::anyhow!("transfers per datanode: {active:?}"))
            }
        },
    )
    .await
    .unwrap();
    let victim = *hops
        .iter()
        .find(|&&i| Some(i) != spare)
        .expect("a hop that does not relay the upload");
    cluster.kill_datanode(victim);
    victim
}

/// Right after the upload of `path` reported success: every block must be
/// listed on at least two nodes besides `first` (killed during the upload).
/// Then SIGKILLs a node listed for the block with the fewest such replicas
/// among those from [`GATE_BLOCK`] on (written while `first` was down), and
/// reads the file back: it must be `data`.
async fn kill_one_more_and_read_back(
    cluster: &mut TestCluster,
    path: &str,
    first: usize,
    data: &[u8],
) {
    let c = cluster.client();
    let located = c.locations(&p(path)).await.unwrap();
    assert_eq!(located.blocks.len(), data.len().div_ceil(MB));
    let holders: Vec<Vec<usize>> = located
        .blocks
        .iter()
        .map(|b| {
            b.replicas
                .iter()
                .filter_map(|r| cluster.node_index(&r.addr))
                .filter(|&i| i != first)
                .collect()
        })
        .collect();
    for (i, h) in holders.iter().enumerate() {
        assert!(
            h.len() >= 2,
            "block {i} of {path} was acknowledged on {h:?} only, besides the killed node {first}"
        );
    }
    let (_, fewest) = holders
        .iter()
        .enumerate()
        .skip(GATE_BLOCK)
        .min_by_key(|(_, h)| h.len())
        .expect("blocks after the gate");
    let second = fewest[0];
    cluster.kill_datanode(second);

    let mut back = Vec::new();
    c.download(&p(path), &mut back, &NoProgress)
        .await
        .unwrap_or_else(|e| panic!("reading {path} with nodes {first} and {second} dead: {e}"));
    assert_eq!(back.len(), data.len());
    assert!(back == data, "{path} reads back different bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_a_file_survives_a_lost_hop_and_one_more_node() {
    let mut cluster = TestCluster::start(opts()).await;
    let data = test_data(LEN, 41);
    let (go, release) = oneshot::channel();
    let file = GatedFile {
        data: std::io::Cursor::new(data.clone()),
        release: Some(release),
    };
    let client = cluster.client();
    // `dfs put FILE` uploads a regular file this way.
    let upload = tokio::spawn(async move {
        client
            .upload_seekable(&p("/put"), file, &UploadOptions::default(), &NoProgress)
            .await
    });
    let first = kill_a_pipeline_hop(&mut cluster, None).await;
    go.send(()).unwrap();
    let st = upload.await.unwrap().unwrap();
    assert_eq!(st.length, LEN as u64);
    kill_one_more_and_read_back(&mut cluster, "/put", first, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_upload_survives_a_lost_hop_and_one_more_node() {
    let mut cluster = TestCluster::start(opts()).await;
    let data = test_data(LEN, 42);
    let mut child = std::process::Command::new(dfs_tests::bin("dfs"))
        .args(["--namenode", &cluster.namenode_url(), "put", "-", "/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (go, release) = std::sync::mpsc::channel::<()>();
    let feed = data.clone();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&feed[..GATE]).unwrap();
        if release.recv().is_ok() {
            stdin.write_all(&feed[GATE..]).unwrap();
        }
        // Dropping stdin ends the input.
    });
    let first = kill_a_pipeline_hop(&mut cluster, None).await;
    go.send(()).unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "dfs put - failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    kill_one_more_and_read_back(&mut cluster, "/stdin", first, &data).await;
}

/// An append (a plain stream that starts with the old short last block)
/// keeps the rule too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_survives_a_lost_hop_and_one_more_node() {
    let mut cluster = TestCluster::start(opts()).await;
    let client = cluster.client();
    // A 7-byte last block: the appended bytes then stand in their blocks
    // where they would in a new file, shifted by 7, so the gate still falls
    // past the first piece of a block (whose pipeline is then open).
    let old = test_data(MB + 7, 45);
    client
        .upload(&p("/app"), &old[..], &UploadOptions::default(), &NoProgress)
        .await
        .unwrap();
    let more = test_data(LEN, 46);
    let (go, release) = oneshot::channel();
    let input = GatedFile {
        data: std::io::Cursor::new(more.clone()),
        release: Some(release),
    };
    let append = tokio::spawn(async move { client.append(&p("/app"), input, &NoProgress).await });
    let first = kill_a_pipeline_hop(&mut cluster, None).await;
    go.send(()).unwrap();
    let st = append.await.unwrap().unwrap();
    let mut all = old;
    all.extend_from_slice(&more);
    assert_eq!(st.length, all.len() as u64);
    kill_one_more_and_read_back(&mut cluster, "/app", first, &all).await;
}

/// A WebHDFS CREATE whose body stops at the gate until released. `relay`
/// is the node the namenode redirected the data to (None: the namenode).
async fn webhdfs_create(
    cluster: &TestCluster,
    path: &str,
    data: &[u8],
) -> (
    tokio::task::JoinHandle<reqwest::Response>,
    oneshot::Sender<()>,
    Option<usize>,
) {
    let http = dfs_tests::http_no_redirect();
    let nn = cluster.namenode_url();
    let r = http
        .put(format!("{nn}/webhdfs/v1{path}?op=CREATE"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let relay = (0..cluster.opts.datanodes)
        .find(|&i| location.starts_with(&format!("{}/", cluster.datanode_url(i))));
    let piece = |b: &[u8]| -> Vec<Result<Bytes, std::io::Error>> {
        b.chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect()
    };
    let (before, after) = (piece(&data[..GATE]), piece(&data[GATE..]));
    let (go, release) = oneshot::channel::<()>();
    use futures_util::StreamExt;
    let body = futures_util::stream::iter(before).chain(
        futures_util::stream::once(async move {
            let _ = release.await;
            futures_util::stream::iter(after)
        })
        .flatten(),
    );
    let put = http.put(location).body(reqwest::Body::wrap_stream(body));
    (
        tokio::spawn(async move { put.send().await.unwrap() }),
        go,
        relay,
    )
}

async fn webhdfs_create_survives(via_namenode: bool) {
    let mut opts = opts();
    if via_namenode {
        opts.namenode_args = vec!["--webhdfs-data-via-namenode".into()];
    }
    let mut cluster = TestCluster::start(opts).await;
    let data = test_data(LEN, 43 + u64::from(via_namenode));
    let (answer, go, relay) = webhdfs_create(&cluster, "/web", &data).await;
    assert_eq!(relay.is_none(), via_namenode, "who relays the data");
    let first = kill_a_pipeline_hop(&mut cluster, relay).await;
    go.send(()).unwrap();
    let r = answer.await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 201, "CREATE: {}", r.text().await.unwrap());
    kill_one_more_and_read_back(&mut cluster, "/web", first, &data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhdfs_create_relayed_by_a_datanode_survives_a_lost_hop_and_one_more_node() {
    webhdfs_create_survives(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhdfs_create_relayed_by_the_namenode_survives_a_lost_hop_and_one_more_node() {
    webhdfs_create_survives(true).await;
}

/// Replication 3 with a single datanode left: no block can reach two
/// durable replicas, so the upload fails, says why, and leaves no file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_live_datanode_cannot_acknowledge_replication_three() {
    let mut cluster = TestCluster::start(ClusterOptions {
        datanodes: 2,
        dead_node_timeout: "2s",
        ..opts()
    })
    .await;
    cluster.kill_datanode(1);
    cluster.wait_live(1).await;
    let out = cluster.dfs_with_stdin(&["put", "-", "/lonely"], Some(&test_data(MB + 1, 44)));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the upload was acknowledged on one disk"
    );
    assert!(
        err.contains("only 1 datanode is available") && err.contains("2 datanodes hold it"),
        "{err}"
    );
    let e = cluster.client().status(&p("/lonely")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound);
}
