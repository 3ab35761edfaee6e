//! The Hadoop door (`--hadoop-rpc-listen`): Hadoop IPC with the
//! `ClientNamenodeProtocol`, so that Hadoop's own Java client (`hadoop fs`,
//! Spark, Hive) reaches the namespace on `hdfs://host:port/` unmodified
//! (issue 24).
//!
//! - [`proto`]: the protocol messages (prost structs from Hadoop's
//!   `.proto` files);
//! - [`ipc`]: one connection's framing, header to close;
//! - [`calls`]: each call, mapped onto the namespace operation the native
//!   protocol makes, through this namenode's own `dfs_client` (the S3
//!   door's way: the same checks, and the leader followed);
//! - [`writes`]: the files being written through the door (create,
//!   addBlock, complete, append, pipeline recovery), and the file digest
//!   the datanodes carry across their blocks.
//!
//! The block data goes between Hadoop's client and the datanodes' own
//! Hadoop port (`datanode --hadoop-data-listen`).
//!
//! With access control on, a connection proves a delegation token
//! (SASL DIGEST-MD5: [`sasl`]; tokens from `dfs hadoop-token`, see
//! `dfs_common::hadoop::token`) and the door acts as its owner; SIMPLE
//! (a name without proof) is refused. Not served: Kerberos, and calls
//! outside what `hadoop fs` and Spark make.
pub mod calls;
pub mod ipc;
pub mod sasl;
pub mod writes;
pub use dfs_common::hadoop::proto;

use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

/// A call's failure as Hadoop's client reads it: the Java class of the
/// exception to throw, its message, and the `RpcErrorCodeProto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub class: &'static str,
    pub message: String,
    pub detail: i32,
}

impl Remote {
    pub fn application(class: &'static str, message: String) -> Remote {
        Remote {
            class,
            message,
            detail: proto::ERROR_APPLICATION,
        }
    }

    pub fn no_such_method(method: &str) -> Remote {
        Remote {
            class: "org.apache.hadoop.ipc.RpcNoSuchMethodException",
            message: format!(
                "Unknown method {method} called on {} protocol (not served by dfs yet)",
                proto::CLIENT_PROTOCOL
            ),
            detail: proto::ERROR_NO_SUCH_METHOD,
        }
    }

    pub fn no_such_protocol(protocol: &str) -> Remote {
        Remote {
            class: "org.apache.hadoop.ipc.RpcNoSuchProtocolException",
            message: format!("Unknown protocol: {protocol}"),
            detail: proto::ERROR_NO_SUCH_PROTOCOL,
        }
    }
}

/// The most Hadoop connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 1024;

/// Binds `addr` and serves the door until the returned task is aborted;
/// also gives the address bound.
pub async fn serve(
    addr: &str,
    door: calls::Door,
    timeout: Duration,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, std::net::SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--hadoop-rpc-listen)"))?;
    let local = listener
        .local_addr()
        .context("cannot read the Hadoop RPC address")?;
    log::info!("Hadoop RPC (hdfs://) listening on {local}");
    let door = Arc::new(door);
    let renewing = door.clone();
    let task = tokio::spawn(async move {
        let keep_leases = async move {
            let mut tick = tokio::time::interval(writes::RENEW_EVERY);
            loop {
                tick.tick().await;
                renewing.keep_leases().await;
            }
        };
        tokio::select! {
            () = keep_leases => {}
            () = accept(listener, door, timeout) => {}
        }
    });
    Ok((task, local))
}

/// Accepts connections, each served on its own task.
async fn accept(listener: tokio::net::TcpListener, door: Arc<calls::Door>, timeout: Duration) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let budget = Arc::new(ipc::budget());
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                log::warn!("Hadoop RPC: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            log::warn!("Hadoop RPC: {peer} refused, {MAX_CONNECTIONS} connections open");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (door, budget) = (door.clone(), budget.clone());
        tokio::spawn(async move {
            match ipc::serve(&mut stream, door.as_ref(), timeout, &budget).await {
                Ok(()) => {}
                Err(ipc::Ended::NotHadoop) => {
                    log::debug!("Hadoop RPC: {peer} did not speak Hadoop IPC")
                }
                Err(ipc::Ended::Fatal(why)) => log::warn!("Hadoop RPC: {peer}: {why}"),
                Err(ipc::Ended::Io(e)) => log::debug!("Hadoop RPC: {peer}: {e}"),
            }
            drop(slot);
        });
    }
}
