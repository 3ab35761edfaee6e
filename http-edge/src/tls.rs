//! HTTPS on the servers' ports (rustls, aws-lc-rs): the four settings both
//! servers share ([`TlsFlags`] on the command line, [`TlsFile`] in the
//! config file, merged into [`Tls`]), the rustls server configuration they
//! make ([`Tls::server_config`]), and the trust every outgoing client of the
//! process gets from them ([`Tls::install_client_trust`]).
//!
//! - `--tls-cert`/`--tls-key`: the server's certificate chain and key (PEM).
//!   With them the port speaks only TLS: a plain request gets no answer.
//! - `--tls-ca`: what the process trusts when it connects (to the namenodes,
//!   to other datanodes); without it, the system's roots.
//! - `--tls-client-auth`: mutual TLS between cluster processes. The process
//!   shows its own certificate when it connects, and on its port a client's
//!   certificate, if one is shown, must come from `--tls-ca` (a bad one
//!   fails the handshake). Ordinary clients (the CLI, browsers, S3 tools)
//!   show none; the routes only cluster processes call require one
//!   ([`PeerCertificate`], checked by each server).
use clap::Args;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use rustls::ServerConfig;

/// The TLS flags; unset ones fall back to the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsFlags {
    /// Serve HTTPS only, with this certificate chain (PEM; needs --tls-key)
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) trusted when connecting to other cluster processes [default: the system's]
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Mutual TLS: cluster processes show certificates from --tls-ca to each other
    #[arg(long)]
    pub tls_client_auth: bool,
}

/// The TLS keys of a config file (`tls_cert`, `tls_key`, `tls_ca`,
/// `tls_client_auth`).
#[derive(Debug, Clone, Default)]
pub struct TlsFile {
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
    pub tls_client_auth: Option<bool>,
}

/// A server's TLS settings, merged and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// The certificate chain and key served; `None`: plain HTTP.
    pub serve: Option<(PathBuf, PathBuf)>,
    /// What outgoing connections trust; `None`: the system's roots.
    pub ca: Option<PathBuf>,
    pub client_auth: bool,
}

/// Connection data: the peer showed a certificate of the cluster's CA
/// (mutual TLS; set by [`peer_certificate`] at the handshake).
#[derive(Debug, Clone, Copy)]
pub struct PeerCertificate;

impl Tls {
    /// Each setting from its flag, else the file; then checked, so a
    /// half-given pair is an error naming its flags.
    pub fn merge(flags: &TlsFlags, file: TlsFile) -> Result<Tls, String> {
        let cert = flags.tls_cert.clone().or(file.tls_cert);
        let key = flags.tls_key.clone().or(file.tls_key);
        let tls = Tls {
            serve: match (cert, key) {
                (Some(c), Some(k)) => Some((c, k)),
                (None, None) => None,
                (Some(_), None) => return Err("--tls-cert needs --tls-key".into()),
                (None, Some(_)) => return Err("--tls-key needs --tls-cert".into()),
            },
            ca: flags.tls_ca.clone().or(file.tls_ca),
            client_auth: flags.tls_client_auth || file.tls_client_auth.unwrap_or(false),
        };
        if tls.client_auth && (tls.serve.is_none() || tls.ca.is_none()) {
            return Err(
                "--tls-client-auth needs --tls-cert, --tls-key (shown to peers) and --tls-ca \
                 (the CA their certificates come from)"
                    .into(),
            );
        }
        Ok(tls)
    }

    /// The scheme of this server's own URLs.
    pub fn scheme(&self) -> &'static str {
        if self.serve.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The rustls configuration of the port, or `None` for plain HTTP.
    /// Every file is read and checked here, so a wrong one stops the start
    /// with its name.
    pub fn server_config(&self) -> Result<Option<rustls::ServerConfig>, String> {
        let Some((cert, key)) = &self.serve else {
            return Ok(None);
        };
        let chain = certificates("--tls-cert", cert)?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("--tls-key {}: no PEM private key ({e})", key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match (&self.ca, self.client_auth) {
            (Some(ca), true) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in certificates("--tls-ca", ca)? {
                    roots
                        .add(c)
                        .map_err(|e| format!("--tls-ca {}: {e}", ca.display()))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .allow_unauthenticated()
                .build()
                .map_err(|e| format!("--tls-ca {}: {e}", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            format!(
                "--tls-cert {} and --tls-key do not make a certificate and its key: {e}",
                cert.display()
            )
        })?;
        // HTTP/1.1 only: actix's h2 would be chosen by browsers otherwise,
        // and every dfs path is built and measured on HTTP/1.1.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(config))
    }

    /// Makes this process's outgoing clients trust `--tls-ca` and, with
    /// `--tls-client-auth`, show the server's own certificate. Call once,
    /// before any client is built.
    pub fn install_client_trust(&self) -> Result<(), String> {
        let trust = match (&self.ca, &self.serve) {
            (Some(ca), _) => {
                dfs_client::tls::Trust::ca_file(ca).map_err(|e| format!("--tls-ca: {e}"))?
            }
            (None, Some(_)) => dfs_client::tls::Trust::system(),
            // A plain cluster: its processes reach each other over http://.
            (None, None) => dfs_client::tls::Trust::plain(),
        };
        let trust = match (&self.serve, self.client_auth) {
            (Some((cert, key)), true) => trust
                .with_identity(cert, key)
                .map_err(|e| format!("--tls-client-auth: {e}"))?,
            _ => trust,
        };
        dfs_client::tls::set(trust).map_err(|e| e.to_string())
    }
}

/// Every certificate of the PEM file `flag` names, or an error naming both.
fn certificates(flag: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{flag} {}: no PEM certificates ({e})", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{flag} {}: holds no certificate", path.display()));
    }
    Ok(certs)
}

/// `HttpServer::on_connect` hook: `TCP_NODELAY` on every connection (see
/// [`crate::no_delay`]), and [`PeerCertificate`] in the connection's data
/// when the peer showed a certificate the handshake verified.
pub fn on_connect(conn: &dyn std::any::Any, data: &mut actix_web::dev::Extensions) {
    crate::no_delay(conn, data);
    type Stream = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(tls) = conn.downcast_ref::<Stream>() {
        let (tcp, session) = tls.get_ref();
        if let Err(e) = tcp.set_nodelay(true) {
            log::debug!("cannot set TCP_NODELAY: {e}");
        }
        if session.peer_certificates().is_some_and(|c| !c.is_empty()) {
            data.insert(PeerCertificate);
        }
    }
}

/// Whether the request came over a connection whose peer showed a
/// certificate of the cluster's CA.
pub fn has_peer_certificate(req: &actix_web::HttpRequest) -> bool {
    req.conn_data::<PeerCertificate>().is_some()
}

/// App data for [`cluster_only`]: the routes only cluster processes call
/// start with `prefix`; `on`: mutual TLS is on, so they need a peer
/// certificate.
#[derive(Debug, Clone)]
pub struct ClusterOnly {
    pub prefix: &'static str,
    pub on: bool,
}

/// Middleware: with mutual TLS on ([`ClusterOnly`]), a request for a
/// cluster route over a connection without a cluster certificate is
/// refused (403), whatever credential it carries.
pub async fn cluster_only(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let refuse = req
        .app_data::<actix_web::web::Data<ClusterOnly>>()
        .is_some_and(|c| c.on && req.path().starts_with(c.prefix))
        && !has_peer_certificate(req.request());
    if refuse {
        log::warn!(
            "{} {} from {}: refused, no cluster certificate (--tls-client-auth)",
            req.method(),
            req.path(),
            req.peer_addr()
                .map_or_else(|| "?".to_string(), |a| a.ip().to_string())
        );
        return Err(actix_web::error::ErrorForbidden(
            "this route is for cluster processes, which show a certificate of the cluster's CA (--tls-client-auth)",
        ));
    }
    next.call(req).await.map(|r| r.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_client::tls::throwaway_pki;

    fn tls(pki: &dfs_client::tls::ThrowawayPki, client_auth: bool) -> Tls {
        Tls {
            serve: Some((pki.cert.clone(), pki.key.clone())),
            ca: Some(pki.ca.clone()),
            client_auth,
        }
    }

    #[test]
    fn a_server_config_from_good_files_and_clear_errors_from_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let pki = throwaway_pki(&dir.path().join("a"), &["localhost"]).unwrap();
        let other = throwaway_pki(&dir.path().join("b"), &["localhost"]).unwrap();
        for client_auth in [false, true] {
            let c = tls(&pki, client_auth).server_config().unwrap().unwrap();
            assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
        }
        assert!(Tls::default().server_config().unwrap().is_none());
        assert_eq!(Tls::default().scheme(), "http");
        assert_eq!(tls(&pki, false).scheme(), "https");

        // A key of another certificate.
        let mut t = tls(&pki, false);
        t.serve = Some((pki.cert.clone(), other.key.clone()));
        let e = t.server_config().unwrap_err();
        assert!(e.contains("do not make a certificate and its key"), "{e}");
        // A key file that holds none, a CA file that holds no certificate.
        let mut t = tls(&pki, false);
        t.serve = Some((pki.cert.clone(), pki.cert.clone()));
        assert!(t.server_config().unwrap_err().starts_with("--tls-key"));
        let mut t = tls(&pki, true);
        t.ca = Some(pki.key.clone());
        let e = t.server_config().unwrap_err();
        assert!(
            e.starts_with("--tls-ca") && e.contains("holds no certificate"),
            "{e}"
        );
    }

    #[test]
    fn the_flags_merge_over_the_file_and_pairs_are_checked() {
        let file = TlsFile {
            tls_cert: Some("f.pem".into()),
            tls_key: Some("f.key".into()),
            tls_ca: None,
            tls_client_auth: None,
        };
        let flags = TlsFlags {
            tls_cert: Some("g.pem".into()),
            ..TlsFlags::default()
        };
        let t = Tls::merge(&flags, file.clone()).unwrap();
        assert_eq!(t.serve, Some(("g.pem".into(), "f.key".into())));
        assert!(!t.client_auth);
        let auth = TlsFlags {
            tls_client_auth: true,
            ..TlsFlags::default()
        };
        let e = Tls::merge(&auth, file).unwrap_err();
        assert!(e.contains("--tls-client-auth needs"), "{e}");
        assert_eq!(
            Tls::merge(&TlsFlags::default(), TlsFile::default()),
            Ok(Tls::default())
        );
    }
}
