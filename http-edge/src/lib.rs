//! `dfs-http`: the HTTP edge the namenode and the datanode share, so that
//! each of these exists once:
//!
//! - [`limits`]: what one client may cost a server (idle request bodies cut
//!   off, data streams per peer IP) and the middleware that gives every
//!   error answer a body;
//! - [`config`]: what both servers' configurations share: a flag beats
//!   the file beats the default, and the limits' flags and file keys;
//! - [`error`]: which error body an answer gets (WebHDFS `RemoteException`
//!   or the contract's `ErrorBody`) and how error answers are logged;
//! - [`webhdfs`]: the WebHDFS data step (CREATE, APPEND, OPEN through
//!   `dfs_client`) and WebHDFS's error type;
//! - [`tls`]: HTTPS on the port (`--tls-*`), the outgoing clients' trust,
//!   and whether a connection's peer showed a cluster certificate;
//! - [`no_delay`]: the socket setting every server connection gets.
//!
//! No routes and no domain: each process mounts these around its own.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod config;
pub mod error;
pub mod limits;
pub mod tls;
pub mod webhdfs;

/// `HttpServer::on_connect` hook. Every accepted connection sends at once
/// (`TCP_NODELAY`): a response's head and a body that follows it a moment
/// later must not wait for the client's delayed ACK (Nagle's algorithm),
/// which cost 40 ms per small read.
pub fn no_delay(conn: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Err(e) = tcp.set_nodelay(true) {
            log::debug!("cannot set TCP_NODELAY: {e}");
        }
    }
}
