//! `PeerClient`: the HTTP client a datanode talks to other datanodes with
//! (the next pipeline hop, a re-replication target). Nothing else: what is
//! sent, and what an answer means, is the business of [`crate::receiver`]
//! and [`crate::sender`].
//!
//! A leaf module, so that [`crate::commands`] can hand the client to the
//! sender without depending on the receiver.
//!
//! Invariants: no proxy, a bounded connect, `TCP_NODELAY`, idle pooled
//! connections let go of well before a datanode closes them
//! (`dfs_common::limits::defaults::CLIENT_POOL_IDLE`), and the process's
//! TLS trust (`--tls-ca`, `dfs_client::tls`). [`client_builder`] holds them,
//! and the link to the namenode ([`crate::heartbeat`]) builds its client
//! from it too.
use std::time::Duration;

/// The settings every HTTP client of the datanode starts from, to another
/// datanode or to the namenode (see the module's invariants).
pub fn client_builder() -> Result<reqwest::ClientBuilder, dfs_client::ClientError> {
    Ok(dfs_client::tls::client_builder()?.connect_timeout(Duration::from_secs(5)))
}

/// An HTTP client for talking to other datanodes.
#[derive(Clone)]
pub struct PeerClient(pub reqwest::Client);

impl PeerClient {
    pub fn new() -> Self {
        let built = client_builder().and_then(|b| {
            b.build()
                .map_err(|e| dfs_client::ClientError::Invalid(e.to_string()))
        });
        match built {
            Ok(c) => PeerClient(c),
            Err(e) => {
                // The trust was checked at startup (`Datanode::start` builds
                // the namenode link first); this cannot fail after that.
                log::error!("cannot build peer HTTP client ({e}); using defaults");
                PeerClient(reqwest::Client::new())
            }
        }
    }
}

impl Default for PeerClient {
    fn default() -> Self {
        Self::new()
    }
}
