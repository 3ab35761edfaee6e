//! The S3 door beside the native paths, in the same run and on the same
//! cluster: a large object PUT and GET through S3 against `dfs put` and
//! `dfs get` of the same file, and 4 KiB PUTs by 16 clients against 16
//! native clients' creates. The S3 client is a plain HTTP client (reqwest)
//! signing with `dfs_s3::sigv4::sign_request` (header SigV4, body
//! `UNSIGNED-PAYLOAD`, as a fast S3 client sends over a trusted link):
//! what is measured is the door, not a client's overheads. Every object
//! read back is checked against its source (SHA-256).
use super::process::{server_pids, with_cores};
use super::report::Report;
use super::transfers::{dfs_get, dfs_put, evict_blocks, sha256_file, write_source};
use super::{Sizes, MB};
use crate::cluster::{ClusterOptions, TestCluster};
use crate::data::{p, test_data};
use anyhow::{ensure, Context, Result};
use dfs_common::checksum::Sha256Hasher;
use dfs_common::units::human_bytes;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// A minimal S3 client: header-signed requests, unsigned payloads.
#[derive(Clone)]
pub struct S3Client {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    access_key: String,
    secret: String,
}

impl S3Client {
    pub fn new(endpoint: &str, access_key: &str, secret: &str) -> Result<Self> {
        let host = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Ok(S3Client {
            http: reqwest::Client::builder().no_proxy().build()?,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            host,
            access_key: access_key.into(),
            secret: secret.into(),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.request_q(method, path, "")
    }

    /// A request with a query (`raw_query` as sent, without `?`).
    fn request_q(
        &self,
        method: reqwest::Method,
        path: &str,
        raw_query: &str,
    ) -> reqwest::RequestBuilder {
        let signed = dfs_s3::sigv4::sign_request(
            method.as_str(),
            path,
            raw_query,
            &[("host".to_string(), self.host.clone())],
            dfs_s3::sigv4::UNSIGNED_PAYLOAD,
            &self.access_key,
            &self.secret,
            "us-east-1",
            SystemTime::now(),
        );
        let url = if raw_query.is_empty() {
            format!("{}{path}", self.endpoint)
        } else {
            format!("{}{path}?{raw_query}", self.endpoint)
        };
        let mut rb = self.http.request(method, url);
        for (k, v) in signed {
            rb = rb.header(k, v);
        }
        rb
    }

    pub async fn create_bucket(&self, bucket: &str) -> Result<()> {
        let r = self
            .request(reqwest::Method::PUT, &format!("/{bucket}"))
            .send()
            .await?;
        ensure!(r.status().is_success(), "CreateBucket: {}", r.text().await?);
        Ok(())
    }

    pub async fn put(&self, path: &str, body: impl Into<reqwest::Body>, len: u64) -> Result<()> {
        let r = self
            .request(reqwest::Method::PUT, path)
            .header("content-length", len)
            .body(body)
            .send()
            .await?;
        ensure!(r.status().is_success(), "PUT {path}: {}", r.text().await?);
        Ok(())
    }

    /// A multipart upload of `parts` (sizes, bytes from `src` in order),
    /// one part at a time: the seconds Complete took.
    pub async fn multipart(&self, path: &str, src: &std::path::Path, parts: &[u64]) -> Result<f64> {
        let r = self
            .request_q(reqwest::Method::POST, path, "uploads=")
            .send()
            .await?;
        ensure!(
            r.status().is_success(),
            "CreateMultipartUpload: {}",
            r.status()
        );
        let text = r.text().await?;
        let id = text
            .split("<UploadId>")
            .nth(1)
            .and_then(|s| s.split("</UploadId>").next())
            .context("no UploadId in the answer")?
            .to_string();
        let mut offset = 0u64;
        let mut etags = Vec::new();
        for (i, len) in parts.iter().enumerate() {
            let mut f = tokio::fs::File::open(src).await?;
            tokio::io::AsyncSeekExt::seek(&mut f, std::io::SeekFrom::Start(offset)).await?;
            let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(
                tokio::io::AsyncReadExt::take(f, *len),
            ));
            let q = format!("partNumber={}&uploadId={id}", i + 1);
            let r = self
                .request_q(reqwest::Method::PUT, path, &q)
                .header("content-length", *len)
                .body(body)
                .send()
                .await?;
            ensure!(
                r.status().is_success(),
                "UploadPart {}: {}",
                i + 1,
                r.status()
            );
            let etag = r
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .context("no ETag")?
                .to_string();
            etags.push(etag);
            offset += len;
        }
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (i, e) in etags.iter().enumerate() {
            xml.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
                i + 1
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let t = Instant::now();
        let r = self
            .request_q(reqwest::Method::POST, path, &format!("uploadId={id}"))
            .body(xml)
            .send()
            .await?;
        let ok = r.status().is_success();
        let text = r.text().await?;
        ensure!(
            ok && !text.contains("<Error>"),
            "CompleteMultipartUpload: {text}"
        );
        Ok(t.elapsed().as_secs_f64())
    }

    /// GET, every byte hashed: (bytes, SHA-256).
    pub async fn get(&self, path: &str) -> Result<(u64, dfs_common::checksum::Sha256Digest)> {
        let r = self.request(reqwest::Method::GET, path).send().await?;
        ensure!(r.status().is_success(), "GET {path}: {}", r.status());
        let mut h = Sha256Hasher::new();
        let mut n = 0u64;
        let mut body = r.bytes_stream();
        while let Some(piece) = body.next().await {
            let piece = piece?;
            n += piece.len() as u64;
            h.update(&piece);
        }
        Ok((n, h.finish()))
    }

    /// PUTs the local file `src` at `path`, streamed; the seconds it took.
    pub async fn put_file(&self, path: &str, src: &std::path::Path) -> Result<f64> {
        let file = tokio::fs::File::open(src).await?;
        let len = file.metadata().await?.len();
        let body =
            reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 20));
        let t = Instant::now();
        self.put(path, body, len).await?;
        Ok(t.elapsed().as_secs_f64())
    }

    /// GETs `path`, checking it is `size` bytes with the SHA-256 `want`;
    /// the seconds it took.
    pub async fn timed_get(
        &self,
        path: &str,
        size: u64,
        want: dfs_common::checksum::Sha256Digest,
    ) -> Result<f64> {
        let t = Instant::now();
        let (n, sha) = self.get(path).await?;
        let secs = t.elapsed().as_secs_f64();
        ensure!(n == size && sha == want, "GET {path} returned other bytes");
        Ok(secs)
    }

    /// `count` 4 KiB objects `PREFIX/fNNNNNN` PUT by `clients` at once; the
    /// last is read back and checked. The seconds the PUTs took.
    pub async fn small_puts(&self, prefix: &str, count: usize, clients: usize) -> Result<f64> {
        let t = Instant::now();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (s3, next, prefix) = (self.clone(), next.clone(), prefix.to_string());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return Ok::<(), anyhow::Error>(());
                    }
                    let data = test_data(4096, i as u64);
                    s3.put(&format!("{prefix}/f{i:06}"), data, 4096).await?;
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        let secs = t.elapsed().as_secs_f64();
        let last = count - 1;
        let (n, sha) = self.get(&format!("{prefix}/f{last:06}")).await?;
        let mut h = Sha256Hasher::new();
        h.update(&test_data(4096, last as u64));
        let want = h.finish();
        ensure!(
            n == 4096 && sha == want,
            "{prefix}/f{last:06} read back wrong"
        );
        Ok(secs)
    }
}

/// A cluster with S3 on, a key and the bucket `bench`; its S3 client.
pub async fn start_s3_cluster() -> Result<(TestCluster, S3Client)> {
    let s3_port = crate::cluster::free_port();
    let cluster = TestCluster::start(ClusterOptions {
        block_size: 64 << 20,
        replication: 3,
        lease_timeout: "60s",
        dead_node_timeout: "30s",
        heartbeat_interval: "1s",
        namenode_args: vec!["--s3-listen".into(), format!("127.0.0.1:{s3_port}")],
        ..Default::default()
    })
    .await;
    println!("  (cluster in {})", cluster.root().display());
    let key = cluster.client().create_s3_key("dfs").await?;
    let s3 = S3Client::new(
        &format!("http://127.0.0.1:{s3_port}"),
        &key.access_key,
        key.secret.as_deref().context("a new key has its secret")?,
    )?;
    s3.create_bucket("bench").await?;
    Ok((cluster, s3))
}

pub async fn measure(rep: &mut Report, s: &Sizes) -> Result<()> {
    let (cluster, s3) = start_s3_cluster().await?;
    big(rep, &cluster, &s3, s).await?;
    multipart(rep, &cluster, &s3, s).await?;
    small(rep, &cluster, &s3, s).await
}

/// One large object through S3 and through the CLI, same file, same run.
async fn big(rep: &mut Report, cluster: &TestCluster, s3: &S3Client, s: &Sizes) -> Result<()> {
    let size = s.transfer;
    let name = human_bytes(size);
    let dir = cluster.root().join("bench-s3");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("big.bin");
    write_source(&src, size)?;
    let want = sha256_file(&src)?;
    let f = big_figures(cluster, s3, &src, want, None).await?;
    rep.add(
        format!("S3 PUT {name}"),
        f.s3_put,
        "MB/s",
        Some((f.native_put, "dfs put, same run")),
        Some(">= 0.70"),
    );
    rep.add(
        format!("S3 GET {name} (hashed as read)"),
        f.s3_get,
        "MB/s",
        Some((f.native_get, "dfs get → stdout (/dev/null), same run")),
        Some(">= 0.70"),
    );
    std::fs::remove_file(&src)?;
    Ok(())
}

/// The big-transfer figures of one cluster with S3 on, in MB/s.
pub struct BigFigures {
    pub native_put: f64,
    pub s3_put: f64,
    pub native_get: f64,
    pub s3_get: f64,
}

/// `src` (SHA-256 `want`) up through `dfs put` and an S3 PUT, then down
/// through `dfs get` to /dev/null and an S3 GET (hashed and checked), the
/// block files dropped from the page cache before each download. With
/// `busy`, rows of the CPU cores the cluster's servers kept busy during the
/// S3 PUT and GET are added to it.
pub async fn big_figures(
    cluster: &TestCluster,
    s3: &S3Client,
    src: &std::path::Path,
    want: dfs_common::checksum::Sha256Digest,
    mut busy: Option<&mut Report>,
) -> Result<BigFigures> {
    let size = std::fs::metadata(src)?.len();
    let nn = cluster.namenode_url();
    let rate = |secs: f64| size as f64 / MB / secs.max(1e-9);
    let servers: Vec<u32> = server_pids(cluster).into_iter().map(|(_, p)| p).collect();
    cluster.client().mkdirs(&p("/bench"), true).await?;

    let t = Instant::now();
    let status = dfs_put(&nn, src, "/bench/native.bin").status()?;
    ensure!(status.success(), "dfs put failed");
    let native_put = rate(t.elapsed().as_secs_f64());
    let put = s3.put_file("/bench/s3.bin", src);
    let s3_put = rate(match busy.as_deref_mut() {
        Some(rep) => {
            let figure = "dfs servers: CPU cores busy during the S3 PUT";
            with_cores(rep, figure, &servers, put).await?
        }
        None => put.await?,
    });
    let st = cluster.client().status(&p("/bench/s3.bin")).await?;
    ensure!(
        st.length == size && st.sha256 == Some(want),
        "the S3 PUT stored other bytes"
    );

    evict_blocks(cluster);
    let t = Instant::now();
    let status = dfs_get(&nn, "/bench/native.bin", std::path::Path::new("-"))
        .stdout(std::process::Stdio::null())
        .status()?;
    ensure!(status.success(), "dfs get failed");
    let native_get = rate(t.elapsed().as_secs_f64());
    evict_blocks(cluster);
    let get = s3.timed_get("/bench/s3.bin", size, want);
    let s3_get = rate(match busy {
        Some(rep) => {
            let figure = "dfs servers: CPU cores busy during the S3 GET";
            with_cores(rep, figure, &servers, get).await?
        }
        None => get.await?,
    });
    Ok(BigFigures {
        native_put,
        s3_put,
        native_get,
        s3_get,
    })
}

/// A large object uploaded in parts, two ways: parts of one size (8 MiB,
/// the aws CLI's), which Complete joins by moving their blocks, and parts
/// of two sizes, which it copies. The figure is Complete's time; both
/// objects are checked against the source.
async fn multipart(
    rep: &mut Report,
    cluster: &TestCluster,
    s3: &S3Client,
    s: &Sizes,
) -> Result<()> {
    const PART: u64 = 8 << 20;
    let size = s.transfer;
    let name = human_bytes(size);
    let dir = cluster.root().join("bench-s3");
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("mp.bin");
    write_source(&src, size)?;
    let want = sha256_file(&src)?;
    let split = |first: u64, rest: u64| -> Vec<u64> {
        let mut parts = vec![first.min(size)];
        let mut left = size - parts[0];
        while left > 0 {
            let n = left.min(rest);
            parts.push(n);
            left -= n;
        }
        parts
    };
    let joined = s3
        .multipart("/bench/mp-joined", &src, &split(PART, PART))
        .await?;
    let copied = s3
        .multipart("/bench/mp-copied", &src, &split(PART + (1 << 20), PART))
        .await?;
    for key in ["/bench/mp-joined", "/bench/mp-copied"] {
        let st = cluster.client().status(&p(key)).await?;
        ensure!(st.sha256 == Some(want), "{key} holds other bytes");
    }
    rep.add(
        format!("S3 multipart {name}: Complete, parts of one size (joined)"),
        joined,
        "s",
        Some((copied, "parts of two sizes (copied), same run")),
        Some("< 1"),
    );
    std::fs::remove_file(&src)?;
    Ok(())
}

/// `count` 4 KiB files `DIR/fNNNNNN` created by `clients` native clients
/// at once (through `urls`, the leader first); the seconds it took.
pub async fn native_small(
    cluster: &TestCluster,
    urls: &str,
    dir: &str,
    count: usize,
    clients: usize,
) -> Result<f64> {
    cluster.client().mkdirs(&p(dir), true).await?;
    let dir = dir.to_string();
    let t = Instant::now();
    super::parallel::parallel(urls, count, clients, move |c, i| {
        let path = p(&format!("{dir}/f{i:06}"));
        async move {
            let data = test_data(4096, i as u64);
            c.upload(
                &path,
                &data[..],
                &Default::default(),
                &dfs_client::NoProgress,
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    Ok(t.elapsed().as_secs_f64())
}

/// 4 KiB PUTs by 16 clients, against 16 native clients' creates, in
/// alternating rounds (the host's drift falls on both alike).
async fn small(rep: &mut Report, cluster: &TestCluster, s3: &S3Client, s: &Sizes) -> Result<()> {
    const ROUNDS: usize = 3;
    const CLIENTS: usize = 16;
    let per = (s.small_files / ROUNDS).max(CLIENTS);
    let url = cluster.urls_leader_first().await;
    let mut secs = [0.0f64; 2];
    for round in 0..ROUNDS {
        secs[0] += native_small(
            cluster,
            &url,
            &format!("/bench/native-r{round}"),
            per,
            CLIENTS,
        )
        .await?;

        secs[1] += s3
            .small_puts(&format!("/bench/s3-r{round}"), per, CLIENTS)
            .await?;
    }
    let total = (per * ROUNDS) as f64;
    rep.add(
        format!("S3 4 KiB PUTs, {CLIENTS} clients ({})", per * ROUNDS),
        total / secs[1],
        "ops/s",
        Some((total / secs[0], "native creates, same run")),
        Some(">= 0.50"),
    );
    Ok(())
}
