//! Limits that both servers enforce on their HTTP clients, defined once:
//! how long a client may take to send its request head, how long a request
//! body may stay silent, and how many data streams one client (peer IP) may
//! have open at once. The servers apply them at their edge (an actix
//! middleware and server settings); this module holds only the values and
//! the pure per-client counter, [`PeerStreams`].
//!
//! The defaults are generous: they cut off clients that are broken or
//! hostile (slowloris: a request head sent byte by byte, a body that stops
//! half-way and holds a temp file and a write pipeline open), never a
//! client that is merely slow on a busy network.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The defaults, in one place.
pub mod defaults {
    use std::time::Duration;

    /// Time to send the request head (line and headers) after connecting or
    /// after the previous request on a kept-alive connection.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// A request body that delivers no byte for this long is cut off (the
    /// dfs client's own stall timeout towards a datanode is 60 s).
    pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Concurrent data streams (block reads and writes, relayed uploads and
    /// downloads) one peer IP may have open. A datanode's pipeline peers and
    /// a namenode relaying for many users count as one client each, hence
    /// the generous value.
    pub const MAX_STREAMS_PER_CLIENT: u32 = 256;
    /// How long a server keeps an idle kept-alive connection open (actix's
    /// own default is 5 s).
    pub const SERVER_KEEP_ALIVE: Duration = Duration::from_secs(75);
    /// How long a dfs client keeps an idle pooled connection: well under
    /// [`SERVER_KEEP_ALIVE`], so that a client never sends a request on a
    /// connection the server is closing at that moment (hyper then fails it
    /// with "connection closed before message completed", after the server
    /// may or may not have seen it).
    pub const CLIENT_POOL_IDLE: Duration = Duration::from_secs(30);
}

/// Limits on what one HTTP client may cost a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// See [`defaults::REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// See [`defaults::BODY_IDLE_TIMEOUT`].
    pub body_idle_timeout: Duration,
    /// See [`defaults::MAX_STREAMS_PER_CLIENT`].
    pub max_streams_per_client: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: defaults::REQUEST_TIMEOUT,
            body_idle_timeout: defaults::BODY_IDLE_TIMEOUT,
            max_streams_per_client: defaults::MAX_STREAMS_PER_CLIENT,
        }
    }
}

impl Limits {
    /// Checks that every limit is usable (a zero would refuse everything).
    pub fn validate(&self) -> Result<(), String> {
        if self.request_timeout.is_zero() {
            return Err("--request-timeout must be greater than 0".into());
        }
        if self.body_idle_timeout.is_zero() {
            return Err("--body-idle-timeout must be greater than 0".into());
        }
        if self.max_streams_per_client == 0 {
            return Err("--max-streams-per-client must be at least 1".into());
        }
        Ok(())
    }
}

/// Counts the open streams of each peer and refuses one over the limit.
/// Cheap to clone (shared inside); a [`StreamPermit`] gives its slot back
/// when dropped.
#[derive(Debug, Clone)]
pub struct PeerStreams {
    max: u32,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// One open stream of a peer; dropping it closes the stream's slot.
#[derive(Debug)]
pub struct StreamPermit {
    peer: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// Every critical section is a single insert, increment or removal, so a
/// poisoned lock still holds consistent counts.
fn lock(m: &Mutex<HashMap<IpAddr, u32>>) -> MutexGuard<'_, HashMap<IpAddr, u32>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PeerStreams {
    pub fn new(max_per_peer: u32) -> Self {
        Self {
            max: max_per_peer,
            open: Arc::default(),
        }
    }

    pub fn max_per_peer(&self) -> u32 {
        self.max
    }

    /// A slot for one more stream of `peer`, or `None` when it already has
    /// the most it may.
    pub fn try_acquire(&self, peer: IpAddr) -> Option<StreamPermit> {
        let mut open = lock(&self.open);
        let n = open.entry(peer).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(StreamPermit {
            peer,
            open: self.open.clone(),
        })
    }

    /// Streams `peer` has open now.
    pub fn open(&self, peer: IpAddr) -> u32 {
        lock(&self.open).get(&peer).copied().unwrap_or(0)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(n) = open.get_mut(&self.peer) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // No entry outlives its peer's last stream: the map stays as
                // small as the set of clients active right now.
                open.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn clients_let_go_of_idle_connections_before_servers_do() {
        assert!(defaults::CLIENT_POOL_IDLE * 2 <= defaults::SERVER_KEEP_ALIVE);
    }

    use super::*;

    #[test]
    fn counts_per_peer_and_frees_on_drop() {
        let s = PeerStreams::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let p1 = s.try_acquire(a).unwrap();
        let _p2 = s.try_acquire(a).unwrap();
        assert!(s.try_acquire(a).is_none(), "third stream of a is refused");
        let _q = s.try_acquire(b).expect("another peer has its own budget");
        assert_eq!(s.open(a), 2);
        drop(p1);
        assert_eq!(s.open(a), 1);
        assert!(s.try_acquire(a).is_some());
        drop(_q);
        assert_eq!(s.open(b), 0);
        assert!(lock(&s.open).get(&b).is_none(), "idle peers leave no entry");
    }

    #[test]
    fn validate_refuses_zeros() {
        assert!(Limits::default().validate().is_ok());
        let l = Limits {
            max_streams_per_client: 0,
            ..Limits::default()
        };
        assert!(l.validate().is_err());
        let l = Limits {
            body_idle_timeout: Duration::ZERO,
            ..Limits::default()
        };
        assert!(l.validate().is_err());
    }
}
