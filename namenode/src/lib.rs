//! `namenode`: the dfs NameNode. It holds the names (directory tree), the
//! file → blocks map and the block → replicas map, chooses where new blocks
//! go, tracks datanodes by their heartbeats, and serves the HTTP APIs and the
//! web UI. It never relays block bytes on the native path: clients stream
//! blocks to datanodes themselves.
//!
//! # Layout
//!
//! - [`config`]: flags + TOML → a validated [`Config`].
//! - [`error`]: [`NamenodeError`], the domain errors (no HTTP).
//! - [`namesystem`]: the one door to the state (HDFS FSNamesystem): lock,
//!   change memory + queue a journal write, unlock, sync, then queue datanode work.
//! - [`commands`]: the command log's vocabulary: every change to the
//!   replicated namespace is a command with its inputs decided, applied by
//!   `Namespace::apply` ([`namespace::apply`]), the one way it changes.
//! - [`request_id`]: the client call being served (for the retry cache,
//!   [`namespace::retry`]).
//! - [`namespace`]: the directory tree, files being written, block map, all
//!   in memory; pure synchronous operations that record their changes in a
//!   transaction ([`namespace::ops`], [`namespace::write`],
//!   [`namespace::report`]).
//! - [`blocks`]: block → owner, length, digest, replicas; node → blocks.
//! - [`meta_store`]: the only door to the metadata files ([`journal`]): a base and a log of the above.
//! - [`records`]: the persisted records and their legacy forms (a leaf: the
//!   store and the domain modules share it, not each other's types).
//! - [`placement`]: pure, capacity-weighted rendezvous hashing (new blocks,
//!   copy targets, which replicas to keep).
//! - [`health`]: pure replica counting and block health, shared by fsck,
//!   the summary and the replication monitor.
//! - [`datanodes`]: datanode registry, liveness, admin state
//!   (decommissioning), per-node command queues.
//! - [`safemode`]: the startup gate (no changes, copies or deletions until
//!   enough blocks are reported).
//! - [`workers`], [`leases`], [`heartbeat`], [`replication_monitor`]: background
//!   work (expiring abandoned writes, marking silent datanodes dead,
//!   keeping every block at its replication: copies, excess and corrupt
//!   replica deletion, decommission drain; what to copy or delete is
//!   decided by [`replication`], pure queues and choices).
//! - [`balancer`] (pure: who is over or under, which replica moves where)
//!   and [`replication::balancing`] (its leader-memory state and the step the
//!   replication tick runs: copy through a pending copy, then delete the
//!   source's replica once the target reports it).
//! - [`checkpoint`]: point-in-time checkpoints of the metadata (backup,
//!   the namenode's own in `<data-dir>/checkpoints`, restore).
//! - [`metrics`]: `/metrics` text.
//! - [`api`]: the route table, one module per audience, one error mapping.
//! - [`auth`]: access control (off by default): who is calling, the auth
//!   middleware, block access tokens, the web UI login.
//!
//! # Data flow of a write
//!
//! `POST /rpc/v1/create` registers a pending file (persisted, invisible) →
//! `add_block` allocates a block id and a pipeline from [`placement`] over
//! the live datanodes → the client streams the block to the datanodes, which
//! report it on `/internal/v1/block_received` → `complete` checks the block
//! list and makes the file visible in one journal frame, synced before the
//! answer. A writer that stops renewing its lease is abandoned by the lease
//! monitor and its blocks are deleted through heartbeat replies.
//!
//! # Data flow of a repair
//!
//! A datanode dies (heartbeat monitor), a replica is reported corrupt
//! (`bad_block`, `report_bad_replica`, a digest mismatch in a report), a
//! write completes short, `setrep` raises replication, or a node starts
//! decommissioning → the affected blocks enter the replication monitor's
//! needed queue → each tick picks a source and targets and puts
//! `Command::Replicate` on the source's heartbeat queue, tracked as pending
//! with a deadline → the target's `block_received` completes it. Excess
//! replicas (a dead node came back, setrep lowered) and corrupt ones (once
//! a good copy is live elsewhere) leave as `Command::Delete`. None of this
//! runs in safe mode.
//!
//! # Startup and shutdown
//!
//! [`run`] opens the store and loads the namespace, binds the listener,
//! starts the workers, then serves until SIGINT/SIGTERM (actix handles the
//! signals and drains connections); then it stops the workers (reverse start
//! order) and flushes the store.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod balancer;
pub mod blocks;
pub mod bulk_index;
pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod datanodes;
pub mod error;
pub mod hadoop;
pub mod health;
pub mod heartbeat;
pub mod journal;
pub mod leases;
pub mod load;
pub mod meta_store;
pub mod metrics;
pub mod migrate;
pub mod namespace;
pub mod namesystem;
pub mod placement;
pub mod raft;
pub mod records;
pub mod replication;
pub mod replication_monitor;
pub mod request_id;
pub mod s3;
pub mod safemode;
pub mod trash;
pub mod workers;

pub use config::Config;
pub use error::NamenodeError;

use anyhow::Context;
use namesystem::Namesystem;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// How long in-flight requests get to finish at shutdown.
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;
/// How long a connection being closed may take to acknowledge it.
const CLIENT_DISCONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Reloads the users file on every SIGHUP (`kill -HUP`), so that a token
/// or a user taken out of it stops working without a restart; a file that
/// does not load leaves the users in force as they were, and says why.
fn reload_users_on_sighup(security: Arc<auth::Security>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("cannot listen for SIGHUP ({e}): the users file is read at start only");
            return;
        }
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match security.reload() {
                Ok(n) => log::info!("users file reloaded on SIGHUP: {n} users in force"),
                Err(e) => log::error!(
                    "users file NOT reloaded on SIGHUP, the users in force stay as they were: {e}"
                ),
            }
        }
    });
}

/// Runs the namenode until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let ns = Arc::new(Namesystem::open(config.clone()).await.with_context(|| {
        format!(
            "cannot open the namenode metadata in {}",
            config.data_dir.display()
        )
    })?);
    // Every certificate file is read before anything listens, and the
    // trust is set before any client is built.
    let tls = config
        .tls
        .server_config()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    config
        .tls
        .install_client_trust()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let listener = TcpListener::bind(&config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;

    // How the seed endpoints and the S3 door reach this namenode: over
    // loopback, or with TLS through its advertised URL (the name its
    // certificate holds; the certificate of a namenode that advertises no
    // name holds its listening address).
    let own_url = if config.tls.serve.is_some() {
        config.advertised(addr)
    } else {
        self_url("http", addr)
    };
    let client = dfs_client::DfsClient::new(&own_url).map_err(|e| anyhow::anyhow!("{e}"))?;
    let security = match &config.auth {
        Some(path) => {
            let s = auth::Security::load(path, config.block_token_lifetime)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            log::info!("access control on: users from {}", path.display());
            Some(s)
        }
        None => None,
    };
    let group = raft::group::Group::start(
        ns.clone(),
        &config.advertised(addr),
        &config.peers,
        config.join,
        raft::group::Timings {
            heartbeat_ms: config.raft_heartbeat_interval.as_millis() as u64,
            election_min_ms: config.raft_election_timeout.as_millis() as u64,
            election_max_ms: 2 * config.raft_election_timeout.as_millis() as u64,
            snapshot_every: config.raft_snapshot_every,
        },
        // Raft traffic comes in under /internal/v1, which access control
        // opens to the cluster credential only.
        security.as_ref().map(|s| s.keys().node_credential()),
    )
    .await
    .context("cannot start the namenode's raft group")?;
    let security = security.map(std::sync::Arc::new);
    if let Some(s) = &security {
        reload_users_on_sighup(s.clone());
    }
    let auth_data = actix_web::web::Data::new(auth::Auth(security.clone()));
    let audit_file = config.audit_log.as_deref();
    let audit = audit::AuditLog::open(audit_file, config.audit_log_max_size, config.audit_stdout)
        .with_context(|| match audit_file {
        Some(f) => format!("cannot open the audit log {}", f.display()),
        None => "cannot start the audit log".into(),
    })?;
    if let Some(f) = audit_file {
        log::info!("audit log: {}", f.display());
    }
    let audit_data = actix_web::web::Data::new(audit);

    let mut workers = workers::Workers::new();
    leases::start(&mut workers, ns.clone());
    heartbeat::start(&mut workers, ns.clone());
    replication_monitor::start(&mut workers, ns.clone());
    checkpoint::start(&mut workers, ns.clone());
    trash::start(&mut workers, ns.clone());

    let ns_data = actix_web::web::Data::from(ns.clone());
    let group_data = actix_web::web::Data::from(group.clone());
    let forwarder = actix_web::web::Data::new(
        api::forward::Forwarder::new().context("cannot make the forwarding client")?,
    );
    let s3_server = match &config.s3_listen {
        Some(addr) => Some(s3::serve(
            addr,
            ns.clone(),
            security.clone(),
            client.clone(),
            config.s3_domains.clone(),
            config.limits,
            tls.clone(),
        )?),
        None => None,
    };
    let hadoop = match &config.hadoop_rpc_listen {
        Some(addr) => Some(
            hadoop::serve(
                addr,
                hadoop::calls::Door {
                    client: client.clone(),
                    ns: ns.clone(),
                    http: dfs_client::tls::client_builder()
                        .context("cannot make the Hadoop door's datanode client")?
                        .build()
                        .context("cannot make the Hadoop door's datanode client")?,
                    writes: Default::default(),
                    defaults: hadoop::calls::Defaults {
                        block_size: config.block_size,
                        replication: config.replication,
                        trash_minutes: config.trash_interval.as_secs() / 60,
                    },
                    security: security.clone(),
                },
                config.limits.request_timeout,
            )
            .await?,
        ),
        None => None,
    };
    let hadoop_door = actix_web::web::Data::new(api::client::HadoopDoor(
        hadoop.as_ref().map(|(_, addr)| *addr),
    ));
    let hadoop = hadoop.map(|(task, _)| task);
    let client_data = actix_web::web::Data::new(client);
    let limits = config.limits;
    let guard_data = actix_web::web::Data::new(api::limits::guard(limits));
    let cluster_only = actix_web::web::Data::new(dfs_http::tls::ClusterOnly {
        prefix: dfs_common::proto::datanode::INTERNAL_PREFIX,
        on: config.tls.client_auth,
    });
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(ns_data.clone())
            .app_data(group_data.clone())
            .app_data(forwarder.clone())
            .app_data(client_data.clone())
            .app_data(hadoop_door.clone())
            .app_data(guard_data.clone())
            .app_data(auth_data.clone())
            .app_data(audit_data.clone())
            .app_data(cluster_only.clone())
            .configure(api::configure)
            // Who is calling (access control on): runs inside the limits.
            .wrap(actix_web_httpauth::middleware::HttpAuthentication::with_fn(
                auth::validate,
            ))
            // The audit log sees the answer, refusals included, and the
            // caller the authentication found; the leader keeps it (a
            // follower forwards before this).
            .wrap(actix_web::middleware::from_fn(audit::record))
            // A follower hands what it does not answer itself to the
            // leader, credentials and all (outside the authentication).
            // (A namenode alone always leads: it goes straight through.)
            .wrap(actix_web::middleware::from_fn(api::forward::forward))
            // Mutual TLS: the cluster's own routes want a peer certificate
            // (before a follower forwards them).
            .wrap(actix_web::middleware::from_fn(dfs_http::tls::cluster_only))
            .wrap(actix_web::middleware::from_fn(api::limits::enforce))
            .wrap(api::limits::error_shape())
    })
    // Slowloris: a request head not complete within this is answered 408
    // and the connection closed.
    .client_request_timeout(limits.request_timeout)
    .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
    // Longer than any dfs client keeps an idle connection (see the constant).
    .keep_alive(dfs_common::limits::defaults::SERVER_KEEP_ALIVE)
    .on_connect(dfs_http::tls::on_connect)
    .workers(handler_threads())
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS);
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls),
        None => server.listen(listener),
    }
    .context("cannot start the HTTP server")?
    .run();
    log::info!(
        "namenode listening on {}",
        self_url(config.tls.scheme(), addr)
    );
    let s3_handle = s3_server.map(|s| {
        let handle = s.handle();
        tokio::spawn(s);
        handle
    });
    let served = server.await;
    if let Some(h) = s3_handle {
        h.stop(true).await;
    }
    if let Some(h) = hadoop {
        h.abort();
    }

    log::info!("namenode shutting down");
    workers.stop().await;
    group.shutdown().await;
    ns.flush().await.context("final metadata flush failed")?;
    let folding = ns.clone();
    match tokio::task::spawn_blocking(move || folding.compact_at_stop()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::warn!("the log was not folded at stop ({e}): the next start replays it"),
        Err(e) => log::warn!("the log was not folded at stop ({e}): the next start replays it"),
    }
    served.context("HTTP server failed")?;
    log::info!("namenode stopped");
    Ok(())
}

/// HTTP worker threads: one per core, and at least two (a change that runs
/// long on its worker, a recursive delete of a big tree, must not stall
/// every connection of a one-core host). No handler blocks its thread on the
/// namespace lock (changes wait for their turn asynchronously,
/// `Namesystem::lock_async`; reads that find the namespace busy, and full
/// block reports, run on the blocking pool), so more workers than cores
/// only add switches between them: with 8 on 2 cores, 16 clients' `stat`,
/// `mkdir` and `rename` ran 10-20 % slower than with 2, and the p99 of
/// `/health` under 16 writers was no better (docs/BENCHMARKS.md, ninth
/// session of issue 17).
fn handler_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(MIN_HANDLER_THREADS)
}

const MIN_HANDLER_THREADS: usize = 2;

/// The URL of a listening address (`scheme` `http` or `https`), with a
/// wildcard host replaced by loopback: what the namenode advertises when
/// not told (`--advertise`).
pub fn self_url(scheme: &str, addr: SocketAddr) -> String {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("{scheme}://{a}")
}
