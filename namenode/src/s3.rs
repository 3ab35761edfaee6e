//! The S3 door (`--s3-listen`): its own HTTP server running `dfs_s3`'s
//! API, which reaches the cluster through `dfs_client` as any client does
//! (so a follower's S3 requests reach the leader as every other call
//! does). This module gives it the keys (replicated records of the
//! namesystem) and, with access control on, a client acting as the key's
//! user.
use crate::auth::Security;
use crate::namesystem::Namesystem;
use anyhow::Context;
use dfs_client::DfsClient;
use std::net::TcpListener;
use std::sync::Arc;

/// How long the token of a request relayed for an S3 user lasts: longer
/// than any upload takes to call `complete`.
const RELAY_TOKEN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

struct NamenodeKeys {
    ns: Arc<Namesystem>,
    security: Option<Arc<Security>>,
    client: DfsClient,
}

impl dfs_s3::Keys for NamenodeKeys {
    fn lookup(&self, access_key: &str) -> Option<(String, String)> {
        self.ns.s3_secret(access_key)
    }

    fn client_for(&self, user: &str) -> DfsClient {
        crate::auth::acting_as(
            &self.client,
            self.security.as_deref(),
            user,
            RELAY_TOKEN_LIFETIME,
        )
    }
}

/// Binds `addr` and returns the S3 server, ready to be awaited (HTTPS with
/// `tls`, as the namenode's own port).
pub fn serve(
    addr: &str,
    ns: Arc<Namesystem>,
    security: Option<Arc<Security>>,
    client: DfsClient,
    domains: Vec<String>,
    limits: dfs_common::limits::Limits,
    tls: Option<dfs_http::tls::ServerConfig>,
) -> anyhow::Result<actix_web::dev::Server> {
    let listener =
        TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr} (S3)"))?;
    let local = listener
        .local_addr()
        .context("cannot read the S3 address")?;
    let state = actix_web::web::Data::new(dfs_s3::S3State {
        keys: Arc::new(NamenodeKeys {
            ns,
            security,
            client,
        }),
        domains,
        body_idle_timeout: limits.body_idle_timeout,
    });
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .configure(dfs_s3::configure)
    })
    .client_request_timeout(limits.request_timeout)
    .on_connect(dfs_http::no_delay)
    .shutdown_timeout(10);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls),
        None => server.listen(listener),
    }
    .context("cannot start the S3 server")?
    .run();
    log::info!("S3 API listening on {scheme}://{local}");
    Ok(server)
}
