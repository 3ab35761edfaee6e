//! What this process trusts when it connects over `https://`, and the
//! certificate it shows when a server asks for one (mutual TLS between
//! cluster processes): one setting per process, as the system's own roots
//! are, so that every HTTP client the process builds ([`client_builder`])
//! agrees.
//!
//! - A server process sets it once at startup from its `--tls-ca` (and, with
//!   `--tls-client-auth`, its own `--tls-cert`/`--tls-key`): [`set`].
//! - The `dfs` command, and any other process that sets nothing, takes the
//!   CA file named by `DFS_CA_FILE` if there is one, else the system's roots.
//!
//! With a CA file, only that CA's certificates are trusted: a cluster's
//! certificates come from its own CA, and a public one must not vouch for a
//! namenode.
use crate::error::{ClientError, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable the `dfs` command (and any client without
/// [`set`]) reads its CA file from.
pub use crate::error::CA_FILE_ENV;

/// Trusted roots, and an optional client certificate.
#[derive(Clone, Default)]
pub struct Trust {
    roots: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
    /// The files it came from (CA; certificate and key), to tell two
    /// trusts apart.
    origin: (Option<PathBuf>, Option<(PathBuf, PathBuf)>),
    /// No certificate trusted at all ([`Trust::plain`]).
    plain: bool,
}

impl Trust {
    /// The system's roots and no client certificate.
    pub fn system() -> Trust {
        Trust::default()
    }

    /// No certificate at all: for a process of a plain-HTTP cluster, whose
    /// clients then load no roots (the system's cost milliseconds a client).
    pub fn plain() -> Trust {
        Trust {
            plain: true,
            ..Trust::default()
        }
    }

    /// Only the certificates of the PEM file `ca` (one CA or a bundle).
    pub fn ca_file(ca: &Path) -> Result<Trust> {
        let pem = std::fs::read(ca).map_err(|e| {
            ClientError::Invalid(format!("cannot read the CA file {}: {e}", ca.display()))
        })?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            ClientError::Invalid(format!("the CA file {} is not PEM: {e}", ca.display()))
        })?;
        if roots.is_empty() {
            return Err(ClientError::Invalid(format!(
                "the CA file {} holds no certificate",
                ca.display()
            )));
        }
        Ok(Trust {
            roots,
            identity: None,
            origin: (Some(ca.to_path_buf()), None),
            plain: false,
        })
    }

    /// The same, showing the certificate `cert` (PEM, with its chain) and
    /// its private key `key` (PEM) to servers that ask.
    pub fn with_identity(mut self, cert: &Path, key: &Path) -> Result<Trust> {
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| ClientError::Invalid(format!("cannot read {}: {e}", p.display())))
        };
        let mut pem = read(key)?;
        pem.push(b'\n');
        pem.extend_from_slice(&read(cert)?);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
            ClientError::Invalid(format!(
                "{} and {} are not a PEM certificate and its key: {e}",
                cert.display(),
                key.display()
            ))
        })?;
        self.identity = Some(identity);
        self.origin.1 = Some((cert.to_path_buf(), key.to_path_buf()));
        Ok(self)
    }

    fn apply(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let builder = if self.plain {
            builder.tls_certs_only(Vec::new())
        } else if self.roots.is_empty() {
            builder
        } else {
            builder.tls_certs_only(self.roots.iter().cloned())
        };
        match &self.identity {
            Some(id) => builder.identity(id.clone()),
            None => builder,
        }
    }
}

static TRUST: OnceLock<Trust> = OnceLock::new();

/// Sets this process's trust, before any client is built. Setting it again
/// from the same files changes nothing (several servers in one process, as
/// in tests); from other files it is refused, as clients built before would
/// disagree with later ones.
pub fn set(trust: Trust) -> Result<()> {
    let origin = (trust.origin.clone(), trust.plain);
    let set = TRUST.get_or_init(|| trust);
    if (set.origin.clone(), set.plain) == origin {
        Ok(())
    } else {
        Err(ClientError::Invalid(
            "this process already trusts other TLS files (one --tls-ca, --tls-cert and --tls-key per process)"
                .into(),
        ))
    }
}

/// The CA file `DFS_CA_FILE` names, if it is set and not empty.
pub fn ca_file_from_env() -> Option<PathBuf> {
    std::env::var_os(CA_FILE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// This process's trust: what [`set`] gave, else `DFS_CA_FILE`, else the
/// system's roots. An unreadable `DFS_CA_FILE` is an error every time it is
/// asked for (nothing is connected to with a trust other than the one named).
fn trust() -> Result<&'static Trust> {
    if let Some(t) = TRUST.get() {
        return Ok(t);
    }
    let t = match ca_file_from_env() {
        Some(ca) => Trust::ca_file(&ca).map_err(|e| match e {
            ClientError::Invalid(m) => ClientError::Invalid(format!("{CA_FILE_ENV}: {m}")),
            other => other,
        })?,
        None => Trust::system(),
    };
    Ok(TRUST.get_or_init(|| t))
}

/// The settings every HTTP client of dfs starts from: no proxy (cluster
/// traffic goes straight to its nodes), `TCP_NODELAY`, idle pooled
/// connections let go of before a server closes them, and this process's
/// TLS trust.
pub fn client_builder() -> Result<reqwest::ClientBuilder> {
    Ok(client_builder_trusting(trust()?))
}

/// [`client_builder`] with a trust of its own instead of the process's (a
/// program that talks to clusters of different CAs, as the tests do).
pub fn client_builder_trusting(trust: &Trust) -> reqwest::ClientBuilder {
    trust.apply(base_builder())
}

/// [`client_builder`] for a client that only ever speaks plain `http://`:
/// it trusts no certificate at all, so building it reads no roots (the
/// system's cost milliseconds to load, for every client built).
pub fn plain_client_builder() -> reqwest::ClientBuilder {
    Trust::plain().apply(base_builder())
}

fn base_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(dfs_common::limits::defaults::CLIENT_POOL_IDLE)
        .tcp_nodelay(true)
}

/// The files [`throwaway_pki`] writes.
#[derive(Debug, Clone)]
pub struct ThrowawayPki {
    /// The CA's certificate (what clients trust: `--tls-ca`, `DFS_CA_FILE`).
    pub ca: PathBuf,
    /// A certificate the CA signed, for servers and clients alike.
    pub cert: PathBuf,
    /// Its private key (mode 0600).
    pub key: PathBuf,
}

/// A throwaway certificate authority, made here and now, and one
/// certificate it signs for `hosts` (names or IP addresses), good for
/// serving and for showing to a server (mutual TLS): `ca.pem`, `cert.pem`
/// and `key.pem` in `dir`. For `dfs local --tls` and tests; the CA's own key
/// is never written, so nothing else can ever be signed by it.
pub fn throwaway_pki(dir: &Path, hosts: &[&str]) -> Result<ThrowawayPki> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let bad = |e: rcgen::Error| ClientError::Invalid(format!("cannot make certificates: {e}"));
    let ca_key = KeyPair::generate().map_err(bad)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(bad)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Its own name: a certificate of another throwaway CA is then refused
    // as of an unknown issuer, not matched by name and failed on its
    // signature.
    let made = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("dfs throwaway CA {}", made.as_nanos()),
    );
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(bad)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(bad)?;
    let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    let mut leaf = CertificateParams::new(names).map_err(bad)?;
    leaf.distinguished_name
        .push(DnType::CommonName, hosts.first().copied().unwrap_or("dfs"));
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = leaf.signed_by(&key, &issuer).map_err(bad)?;

    let pki = ThrowawayPki {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let write = |path: &Path, text: String, mode: u32| -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)
            .map_err(|e| ClientError::Invalid(format!("cannot write {}: {e}", path.display())))?;
        f.write_all(text.as_bytes())
            .map_err(|e| ClientError::Invalid(format!("cannot write {}: {e}", path.display())))
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| ClientError::Invalid(format!("cannot make {}: {e}", dir.display())))?;
    write(&pki.ca, ca_cert.pem(), 0o644)?;
    write(&pki.cert, cert.pem(), 0o644)?;
    write(&pki.key, key.serialize_pem(), 0o600)?;
    Ok(pki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throwaway_pki_loads_and_bad_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let pki = throwaway_pki(dir.path(), &["localhost", "127.0.0.1"]).unwrap();
        let t = Trust::ca_file(&pki.ca)
            .unwrap()
            .with_identity(&pki.cert, &pki.key)
            .unwrap();
        assert_eq!(t.roots.len(), 1);
        assert!(t.identity.is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&pki.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is the owner's alone");

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let msg = |r: Result<Trust>| match r {
            Err(ClientError::Invalid(m)) => m,
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("accepted"),
        };
        assert!(msg(Trust::ca_file(&junk)).contains("holds no certificate"));
        assert!(msg(Trust::ca_file(&dir.path().join("none.pem"))).contains("cannot read"));
        // A key that is not the certificate's: refused as a pair.
        let m = msg(Trust::system().with_identity(&pki.cert, &junk));
        assert!(m.contains("are not a PEM certificate and its key"), "{m}");
    }
}
