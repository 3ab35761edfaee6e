//! The dfs DataNode: stores block replicas on local disk, receives them in
//! write pipelines, serves them verified, and reports to the namenode.
//!
//! # Layout
//!
//! From the leaves up; no module uses one listed after it, except this file,
//! which wires them all (the module graph is a DAG).
//!
//! - [`error`]: `DatanodeError`; [`events`]: the [`events::BlockEvent`]s the
//!   data path pushes to the namenode link; [`peer`]: the HTTP client for
//!   other datanodes; [`metrics`]: counters for `/health` and `/metrics`
//!   (the scanner's included); [`direct`]: direct-I/O files and buffers;
//!   [`limits`]: what one HTTP client may cost (body idle timeout, streams
//!   per peer IP, a JSON body on every error answer).
//! - [`config`]: flags + TOML → [`config::Config`].
//! - [`identity`]: the `NodeId`, created once and kept in every data dir.
//! - [`store`]: `BlockStore`, the only module that touches block files and
//!   claims durability (temp → fsync → rename → fsync dir; verify on read),
//!   one file per job (layout, index, write, commit, read, remove).
//! - [`storage`]: this node's capacity and the file system under it, as
//!   heartbeats report them.
//! - [`disks`]: `DiskChecker`, a background worker that probes the data dirs,
//!   reports the replicas of a failed one lost, and stops the node past
//!   `--max-failed-disks`.
//! - [`node`]: [`Node`], the state every part shares.
//! - [`receiver`]: `PUT /blocks/{id}`: writes locally while forwarding to the
//!   next pipeline hop (HDFS `BlockReceiver`).
//! - [`sender`]: `GET /blocks/{id}` and re-replication: streams verified bytes
//!   out; quarantines and reports a bad replica (HDFS `BlockSender`).
//! - [`scanner`]: `BlockScanner`, a background worker that re-verifies every
//!   replica at a bounded rate; quarantines and reports what fails.
//! - [`commands`]: executes the namenode's commands (delete, replicate).
//! - [`heartbeat`]: `NamenodeLink`, the only module that calls the namenode
//!   (HDFS `BPServiceActor`): register, heartbeats, block reports; other
//!   modules only push events onto its channel.
//! - [`rbw`]: replicas being written through Hadoop's protocol whose
//!   pipeline broke (kept for recovery), and file digest chains.
//! - [`hadoop`]: Hadoop's DataTransferProtocol
//!   (`--hadoop-data-listen`), reading through [`sender`] and writing
//!   through [`store`] like every other door.
//! - [`api`]: the route table, and the one place errors become HTTP;
//!   [`webhdfs`]: the WebHDFS `CREATE`/`APPEND`/`OPEN` landing, a relay
//!   through `dfs_client` like any client.
//!
//! # Startup and shutdown
//!
//! [`Datanode::start`] reads the identity, opens the store, starts the
//! namenode link, the block scanner, the disk checker, then the HTTP server.
//! [`Datanode::stop`] undoes it in reverse: the server stops accepting and
//! lets in-flight requests finish (an unfinished write removes its temp
//! file), the disk checker stops, the scanner stops between two pieces, then
//! the link flushes what
//! it can (including the scanner's last reports) and stops. Block reads keep
//! working while the namenode is away.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod api;
pub mod commands;
pub mod config;
/// Block file I/O, shared with the client's downloads.
pub use dfs_common::direct;
pub mod disks;
pub mod error;
pub mod events;
pub mod hadoop;
pub mod heartbeat;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod node;
pub mod peer;
pub mod rbw;
pub mod receiver;
pub mod scanner;
pub mod sender;
pub mod storage;
pub mod store;
pub mod webhdfs;

pub use crate::node::Node;

use crate::config::Config;
use crate::error::{DatanodeError, Result};
use crate::heartbeat::NamenodeLink;
use crate::metrics::{Metrics, ScannerStatus};
use crate::scanner::{BlockScanner, ScanSettings};
use crate::store::BlockStore;
use actix_web::{web, App, HttpServer};
use dfs_common::ids::NodeId;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long a graceful stop waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A running datanode: HTTP server plus namenode link.
pub struct Datanode {
    node: Arc<Node>,
    addr: SocketAddr,
    server: actix_web::dev::ServerHandle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    scanner_cancel: CancellationToken,
    scanner_task: tokio::task::JoinHandle<()>,
    link_cancel: CancellationToken,
    link_tasks: Vec<tokio::task::JoinHandle<()>>,
    disk_cancel: CancellationToken,
    disk_task: tokio::task::JoinHandle<()>,
    hadoop_cancel: CancellationToken,
    hadoop_task: Option<tokio::task::JoinHandle<()>>,
    /// Tripped when the node must stop (too many failed disks).
    fatal: Arc<disks::Fatal>,
}

impl Datanode {
    /// Starts a datanode (binding `config.listen`; port 0 picks a free port).
    pub async fn start(config: Config) -> Result<Datanode> {
        let (data_dirs, tolerate) = (config.data_dirs.clone(), config.max_failed_disks);
        let (ident, home, cluster) = tokio::task::spawn_blocking(move || {
            let ident = identity::load_tolerating(&data_dirs, tolerate)?;
            // Node-level files live in the first data dir that works.
            let home = data_dirs
                .iter()
                .find(|d| !ident.failed.iter().any(|(f, _)| f == *d))
                .cloned()
                .unwrap_or_else(|| config::defaults::DATA_DIR.into());
            let cluster = identity::load_cluster(&home)?;
            Ok::<_, DatanodeError>((ident, home, cluster))
        })
        .await??;
        let id = ident.id;
        let store = BlockStore::open_dirs_tolerating(
            &config.data_dirs,
            config.capacity,
            config.max_failed_disks,
            &ident.failed,
        )
        .await?;

        // Every certificate file is read before anything listens, and the
        // trust is set before any client is built.
        let tls = config.tls.server_config().map_err(DatanodeError::Config)?;
        config
            .tls
            .install_client_trust()
            .map_err(DatanodeError::Config)?;
        let listener = std::net::TcpListener::bind(&config.listen)
            .map_err(|e| DatanodeError::io(format!("cannot listen on {}", config.listen), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| DatanodeError::io("reading bound address", e))?;
        let advertise = config.advertise_url(addr);
        let hadoop_listener = match &config.hadoop_data_listen {
            Some(a) => Some(tokio::net::TcpListener::bind(a).await.map_err(|e| {
                DatanodeError::io(format!("cannot listen on {a} (--hadoop-data-listen)"), e)
            })?),
            None => None,
        };
        let hadoop_port = match &hadoop_listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|e| DatanodeError::io("reading the Hadoop data address", e))?
                    .port(),
            ),
            None => None,
        };

        let (events, events_rx) = events::event_channel();
        let node = Arc::new(Node {
            id,
            advertise,
            rack: config.rack.clone(),
            hadoop_port,
            rbw: rbw::Registry::default(),
            store,
            events,
            metrics: Metrics::default(),
            scanner: ScannerStatus::default(),
            keys: config
                .cluster_secret
                .as_deref()
                .map(dfs_common::auth::ClusterKeys::derive),
            cluster: std::sync::Mutex::new(cluster),
            data_dir: home,
        });

        // One link per namenode, each with its own copy of the replica
        // events; replica commands are taken from the leader's alone.
        let link_cancel = CancellationToken::new();
        let urls = config.namenodes();
        let leaders = Arc::new(heartbeat::Leaders::new(urls.len()));
        let mut link_tasks = Vec::with_capacity(urls.len());
        if let [url] = urls.as_slice() {
            let link = NamenodeLink::new(node.clone(), url, events_rx, leaders)?;
            link_tasks.push(tokio::spawn(link.run(link_cancel.clone())));
        } else {
            let mut copies = Vec::with_capacity(urls.len());
            for url in &urls {
                let (tx, rx) = events::event_channel();
                copies.push(tx);
                let link = NamenodeLink::new(node.clone(), url, rx, leaders.clone())?;
                link_tasks.push(tokio::spawn(link.run(link_cancel.clone())));
            }
            link_tasks.push(tokio::spawn(events::fan_out(
                events_rx,
                copies,
                link_cancel.clone(),
            )));
        }

        let scanner_cancel = CancellationToken::new();
        let scanner = BlockScanner::new(
            node.clone(),
            ScanSettings {
                rate: config.scan_rate,
                period: config.scan_period,
            },
        );
        let scanner_task = tokio::spawn(scanner.run(scanner_cancel.clone()));

        let hadoop_cancel = CancellationToken::new();
        let hadoop_task = hadoop_listener.map(|l| {
            log::info!(
                "Hadoop data transfer listening on {}",
                l.local_addr()
                    .map_or_else(|e| e.to_string(), |a| a.to_string())
            );
            hadoop::serve(
                l,
                node.clone(),
                config.limits.request_timeout,
                hadoop_cancel.clone(),
            )
        });

        let fatal = Arc::new(disks::Fatal::default());
        let disk_cancel = CancellationToken::new();
        let checker = disks::DiskChecker::new(node.clone(), config.max_failed_disks, fatal.clone());
        let disk_task = tokio::spawn(checker.run(disk_cancel.clone()));

        let landing = web::Data::new(webhdfs::Landing {
            client: dfs_client::DfsClient::new(&config.namenode)
                .map_err(|e| DatanodeError::Config(format!("--namenode: {e}")))?,
        });
        let data = web::Data::from(node.clone());
        let limits = config.limits;
        let guard = web::Data::new(limits::guard(limits));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(guard.clone())
                // One peer client per worker: its pooled connections live on
                // that worker's runtime.
                .app_data(web::Data::new(peer::PeerClient::new()))
                .app_data(landing.clone())
                .configure(api::configure)
                .configure(webhdfs::configure)
                .default_service(web::to(api::not_found))
                .wrap(actix_web::middleware::from_fn(limits::enforce))
                .wrap(limits::error_shape())
        })
        // Slowloris: a request head not complete within this is answered
        // 408 and the connection closed.
        .client_request_timeout(limits.request_timeout)
        .client_disconnect_timeout(Duration::from_secs(2))
        // Longer than any dfs client keeps an idle connection (see the constant).
        .keep_alive(dfs_common::limits::defaults::SERVER_KEEP_ALIVE)
        .on_connect(dfs_http::tls::on_connect)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => server.listen(listener),
        }
        .map_err(|e| DatanodeError::io("starting HTTP server", e))?
        .run();
        let handle = server.handle();
        let server_task = tokio::spawn(server);
        log::info!(
            "datanode {id} listening on {addr}, advertised as {}",
            node.advertise
        );
        Ok(Datanode {
            node,
            addr,
            server: handle,
            server_task,
            scanner_cancel,
            scanner_task,
            link_cancel,
            link_tasks,
            disk_cancel,
            disk_task,
            hadoop_cancel,
            hadoop_task,
            fatal,
        })
    }

    /// Resolves when the node must stop on its own (too many failed disks;
    /// [`Datanode::fatal_reason`] says why).
    pub async fn fatal(&self) {
        self.fatal.tripped().await
    }

    /// Why the node must stop, if it must.
    pub fn fatal_reason(&self) -> Option<String> {
        self.fatal.why()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The advertised base URL.
    pub fn url(&self) -> &str {
        &self.node.advertise
    }

    pub fn node_id(&self) -> NodeId {
        self.node.id
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Graceful stop, in reverse start order.
    pub async fn stop(self) -> Result<()> {
        self.hadoop_cancel.cancel();
        if let Some(t) = self.hadoop_task {
            if let Err(e) = t.await {
                log::error!("Hadoop data transfer task failed: {e}");
            }
        }
        self.server.stop(true).await;
        match self.server_task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::error!("HTTP server ended with an error: {e}"),
            Err(e) => log::error!("HTTP server task failed: {e}"),
        }
        self.disk_cancel.cancel();
        if let Err(e) = self.disk_task.await {
            log::error!("disk checker task failed: {e}");
        }
        self.scanner_cancel.cancel();
        if let Err(e) = self.scanner_task.await {
            log::error!("block scanner task failed: {e}");
        }
        self.link_cancel.cancel();
        for t in self.link_tasks {
            t.await?;
        }
        log::info!("datanode {} stopped", self.node.id);
        Ok(())
    }
}

/// Runs a datanode until `shutdown` resolves, then stops it gracefully.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<()> {
    let dn = Datanode::start(config).await?;
    tokio::select! {
        _ = shutdown => log::info!("shutting down"),
        _ = dn.fatal() => log::error!("stopping: too many data dirs failed"),
    }
    let fatal = dn.fatal_reason();
    dn.stop().await?;
    match fatal {
        Some(why) => Err(DatanodeError::DisksFailed(why)),
        None => Ok(()),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            log::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                log::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
