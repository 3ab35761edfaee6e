//! Access control on the namenode: who is calling (authentication), and
//! the tokens the namenode hands out. Off unless `--auth FILE` names a users
//! file; then every API needs a credential, and the permission checker
//! (`namespace::permission`) decides what the caller may do.
//!
//! What it does not do: decide permissions (that is the checker, asked by
//! the API handlers) or talk TLS (there is none yet: tokens cross the wire
//! in clear text).
//!
//! The users file (TOML):
//! ```toml
//! cluster_secret = "a long random string"   # or cluster_secret_file = "..."
//! session_lifetime = "8h"                    # web UI login cookie, relays
//! [users.alice]
//! token = "alice-secret-token"
//! groups = ["staff"]
//! [users.hdfs]
//! token = "admin-token"
//! superuser = true
//! ```
//!
//! Credentials accepted, in this order ([`validate`], the middleware):
//! `Authorization: Bearer <token>` (a configured token, or a user token this
//! namenode signed); the web UI's session cookie (a signed user token); on
//! WebHDFS, the `delegation=<token>` query parameter (HdfsCLI's
//! `TokenClient`; also what this namenode puts in its redirects). The
//! datanode endpoints (`/internal/v1/...`) take only the datanode
//! credential derived from the cluster secret.
//!
//! Open without credentials: `/health`, the web UI's static files (`/`,
//! `/ui/...`), `/api/v1/openapi.json` and the login endpoints
//! (`/auth/login`, `/auth/logout`, `/auth/whoami` answers 401 itself).
//! `/metrics` needs a credential like any API.
//!
//! Invariants: configured tokens are kept and looked up only as keyed
//! digests (`ClusterKeys::token_digest`), never compared byte by byte; a
//! signed user token names a user of the file, and a user removed from the
//! file is refused even with an unexpired signed token.
use crate::error::NamenodeError;
use crate::namespace::permission::{Check, Principal};
use crate::namesystem::Namesystem;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use actix_web_httpauth::extractors::bearer::BearerAuth;
use dfs_common::auth::{
    is_user_token, now_ms, BlockOp, BlockToken, ClusterKeys, UserToken, DELEGATION_PARAM,
    SESSION_COOKIE,
};
use dfs_common::error::ErrorCode;
use dfs_common::ids::{BlockId, FileId};
use dfs_common::path::DfsPath;
use dfs_common::proto::client::LocatedBlock;
use dfs_common::units::HumanDuration;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::future::{ready, Ready};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long a login (the web UI's cookie) and a relay's token last unless
/// the users file says otherwise.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long the `delegation` token in a WebHDFS redirect lasts: the data
/// step must start within it, and a long upload calls the namenode (next
/// block, complete) with it until its end.
pub const REDIRECT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The shortest cluster secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

/// One user of the users file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub token: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub superuser: bool,
}

/// The users file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    #[serde(default)]
    pub cluster_secret: Option<String>,
    #[serde(default)]
    pub cluster_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub session_lifetime: Option<HumanDuration>,
    #[serde(default)]
    pub users: BTreeMap<String, UserEntry>,
}

/// Reads and parses the users file at `path`.
fn read_users_file(path: &Path) -> Result<UsersFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("users file {}: {e}", path.display()))
}

/// Where a relative `cluster_secret_file` of the users file at `path` is.
fn base_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// Reads a secret from a file: the first line, trimmed.
pub fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read cluster secret file {}: {e}", path.display()))?;
    let secret = text.lines().next().unwrap_or("").trim().to_string();
    check_secret(&secret).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(secret)
}

pub fn check_secret(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(format!(
            "the cluster secret must be at least {MIN_SECRET_LEN} characters"
        ));
    }
    Ok(())
}

/// Access control, loaded and ready.
#[derive(Debug)]
pub struct Security {
    keys: ClusterKeys,
    /// The users: replaced whole when the users file is reloaded.
    people: RwLock<People>,
    /// The users file it was loaded from, if any (what a reload reads).
    source: Option<PathBuf>,
    pub block_token_lifetime: Duration,
    pub session_lifetime: Duration,
}

/// The users of the users file, and their tokens.
#[derive(Debug)]
struct People {
    users: HashMap<String, UserEntry>,
    /// token digest → user name.
    by_token: HashMap<String, String>,
}

impl Security {
    pub fn load(path: &Path, block_token_lifetime: Duration) -> Result<Self, String> {
        let mut s = Self::from_file(read_users_file(path)?, base_of(path), block_token_lifetime)
            .map_err(|e| format!("users file {}: {e}", path.display()))?;
        s.source = Some(path.to_path_buf());
        Ok(s)
    }

    /// Reads the users file again and puts its users and tokens in force
    /// at once (SIGHUP): a user or token taken out of it stops working for
    /// every request from then on, signed user tokens of a removed user
    /// included. A file that does not load, or that changes the cluster
    /// secret (which the datanodes and the other namenodes share: that
    /// takes a restart of all of them), changes nothing and says why.
    /// Returns how many users are in force.
    pub fn reload(&self) -> Result<usize, String> {
        let Some(path) = &self.source else {
            return Err("access control was not loaded from a users file".into());
        };
        let new = Self::from_file(
            read_users_file(path)?,
            base_of(path),
            self.block_token_lifetime,
        )
        .map_err(|e| format!("users file {}: {e}", path.display()))?;
        // Keys derived from the same secret give the same digests.
        const PROBE: &str = "same-cluster-secret?";
        if new.keys.token_digest(PROBE) != self.keys.token_digest(PROBE) {
            return Err(format!(
                "users file {}: the cluster secret changed; a new secret takes a restart \
                 of every namenode and datanode",
                path.display()
            ));
        }
        if new.session_lifetime != self.session_lifetime {
            log::warn!(
                "users file {}: a new session_lifetime takes effect at the next restart",
                path.display()
            );
        }
        let people = new.people.into_inner().unwrap_or_else(|e| e.into_inner());
        let n = people.users.len();
        *self.people.write().unwrap_or_else(|e| e.into_inner()) = people;
        Ok(n)
    }

    /// `base`: where a relative `cluster_secret_file` is found.
    pub fn from_file(
        file: UsersFile,
        base: &Path,
        block_token_lifetime: Duration,
    ) -> Result<Self, String> {
        let secret = match (&file.cluster_secret, &file.cluster_secret_file) {
            (Some(s), None) => {
                check_secret(s)?;
                s.clone()
            }
            (None, Some(p)) => read_secret_file(&base.join(p))?,
            _ => return Err("give exactly one of cluster_secret and cluster_secret_file".into()),
        };
        let keys = ClusterKeys::derive(&secret);
        let mut by_token = HashMap::new();
        for (name, u) in &file.users {
            if name.is_empty() || name.chars().any(|c| c.is_control() || c == ':') {
                return Err(format!("user name {name:?} is not allowed"));
            }
            if u.token.len() < MIN_SECRET_LEN {
                return Err(format!(
                    "user {name}: token must be at least {MIN_SECRET_LEN} characters"
                ));
            }
            if by_token
                .insert(keys.token_digest(&u.token), name.clone())
                .is_some()
            {
                return Err(format!("user {name}: token is shared with another user"));
            }
        }
        if block_token_lifetime.is_zero() {
            return Err("the block token lifetime must be greater than 0".into());
        }
        Ok(Security {
            keys,
            people: RwLock::new(People {
                users: file.users.into_iter().collect(),
                by_token,
            }),
            source: None,
            block_token_lifetime,
            session_lifetime: file
                .session_lifetime
                .map_or(DEFAULT_SESSION_LIFETIME, |d| d.0),
        })
    }

    pub fn keys(&self) -> &ClusterKeys {
        &self.keys
    }

    fn people(&self) -> std::sync::RwLockReadGuard<'_, People> {
        self.people.read().unwrap_or_else(|e| e.into_inner())
    }

    fn principal(&self, name: &str) -> Option<Principal> {
        self.people().users.get(name).map(|u| Principal {
            user: name.to_string(),
            groups: u.groups.clone(),
            superuser: u.superuser,
        })
    }

    /// A configured token or a user token this namenode signed → its user
    /// (who must still be in the users file).
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let name = if is_user_token(token) {
            self.keys.verify_user(token, now_ms()).ok()?.user
        } else {
            self.people()
                .by_token
                .get(&self.keys.token_digest(token))?
                .clone()
        };
        self.principal(&name)
    }

    /// A signed user token for `user`, valid for `lifetime`.
    pub fn user_token(&self, user: &str, lifetime: Duration) -> String {
        self.keys.sign_user(&UserToken {
            user: user.to_string(),
            expires_ms: now_ms().saturating_add(lifetime.as_millis() as u64),
        })
    }

    /// A Hadoop delegation token of `user` for the Hadoop door, valid for
    /// `lifetime`: its identifier (`dfs_common::hadoop::token`) and
    /// password.
    pub fn hadoop_token(&self, user: &str, lifetime: Duration) -> (Vec<u8>, Vec<u8>, u64) {
        let now = now_ms();
        let expires_ms = now.saturating_add(lifetime.as_millis() as u64);
        let identifier = dfs_common::hadoop::token::Identifier {
            owner: user.to_string(),
            renewer: String::new(),
            real_user: String::new(),
            issue_ms: now,
            max_ms: expires_ms,
            sequence: 0,
            master_key_id: 0,
        }
        .encode();
        let password = self.keys.hadoop_password(&identifier);
        (identifier, password, expires_ms)
    }

    /// The owner and password of the Hadoop delegation token `identifier`
    /// names, or why it no longer works (expired, its owner no longer in
    /// the users file, not one of this cluster's).
    pub fn hadoop_token_owner(&self, identifier: &[u8]) -> Result<(String, Vec<u8>), String> {
        let id = dfs_common::hadoop::token::Identifier::decode(identifier)?;
        if id.max_ms <= now_ms() {
            let at = std::time::UNIX_EPOCH + Duration::from_millis(id.max_ms);
            return Err(format!(
                "the token of {} expired at {}: ask for a new one (dfs hadoop-token)",
                id.owner,
                humantime::format_rfc3339_seconds(at)
            ));
        }
        if self.principal(&id.owner).is_none() {
            return Err(format!("{} is not a user of this cluster", id.owner));
        }
        Ok((id.owner, self.keys.hadoop_password(identifier)))
    }

    /// A block access token for `block` and `op`, issued to `user`.
    pub fn block_token(&self, block: BlockId, op: BlockOp, user: &str) -> String {
        self.keys.sign_block(&BlockToken {
            block,
            op,
            expires_ms: now_ms().saturating_add(self.block_token_lifetime.as_millis() as u64),
            user: user.to_string(),
        })
    }
}

/// `client` acting as `user` for a door that relays its users' calls (S3,
/// Hadoop): with access control on, with a token of theirs lasting
/// `lifetime`, so the namespace checks their rights; off, as it is.
pub fn acting_as(
    client: &dfs_client::DfsClient,
    security: Option<&Security>,
    user: &str,
    lifetime: Duration,
) -> dfs_client::DfsClient {
    match security {
        Some(sec) => client
            .clone()
            .with_token(Some(sec.user_token(user, lifetime))),
        None => client.clone(),
    }
}

/// App data: access control, or none (off).
#[derive(Debug, Default)]
pub struct Auth(pub Option<Arc<Security>>);

impl Auth {
    pub fn off() -> Self {
        Auth(None)
    }
    pub fn on(security: Security) -> Self {
        Auth(Some(Arc::new(security)))
    }
    pub fn security(&self) -> Option<&Arc<Security>> {
        self.0.as_ref()
    }
}

/// The authenticated caller of a request, put in its extensions by
/// [`validate`]; `relay_token` is a signed user token this namenode uses to
/// act for the caller (its seed relays, WebHDFS redirects).
#[derive(Debug, Clone)]
pub struct Identity {
    pub principal: Principal,
    pub relay_token: String,
    /// What signs the caller's block tokens and redirects.
    pub security: Arc<Security>,
}

/// Who a handler acts for: `None` when access control is off (no checks).
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Identity>);

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        self.0.as_ref().map(|i| &i.principal)
    }
    pub fn user(&self) -> Option<&str> {
        self.principal().map(|p| p.user.as_str())
    }
    /// Whose trash the caller's deletes go to: the caller, or the default
    /// owner (`dfs`) with access control off.
    pub fn trash_user(&self) -> &str {
        self.user().unwrap_or(crate::records::DEFAULT_OWNER)
    }
}

impl Caller {
    /// Checks `check` on `path` for the caller; passes when access control
    /// is off.
    pub fn check(
        &self,
        ns: &Namesystem,
        path: &DfsPath,
        check: Check,
    ) -> Result<(), NamenodeError> {
        match self.principal() {
            Some(p) => ns.check_permission(p, path, &check),
            None => Ok(()),
        }
    }

    /// The caller wrote (is writing) the file `file_id`.
    pub fn check_writer(&self, ns: &Namesystem, file_id: FileId) -> Result<(), NamenodeError> {
        match self.principal() {
            Some(p) => ns.check_writer(p, file_id),
            None => Ok(()),
        }
    }

    /// Operator actions: the superuser only (when access control is on).
    pub fn require_superuser(&self, what: &str) -> Result<(), NamenodeError> {
        match self.principal() {
            Some(p) if !p.superuser => Err(NamenodeError::PermissionDenied(format!(
                "Permission denied: {what} needs the superuser, not user={}",
                p.user
            ))),
            _ => Ok(()),
        }
    }

    /// Who owns what the caller makes: the caller itself when access
    /// control is on (a client cannot make files for someone else),
    /// otherwise what the client asked for (WebHDFS `user.name`).
    pub fn owner_of_new(&self, asked: Option<&str>) -> Option<String> {
        match self.user() {
            Some(u) => Some(u.to_string()),
            None => asked.map(str::to_string),
        }
    }

    /// Puts block access tokens for `op` on `blocks` (access control on).
    pub fn sign_blocks(&self, blocks: &mut [LocatedBlock], op: BlockOp) {
        let Some(id) = &self.0 else {
            return;
        };
        for b in blocks {
            b.access_token = Some(id.security.block_token(b.block_id, op, &id.principal.user));
        }
    }

    /// The token a redirect hands on (WebHDFS `delegation=`), valid for
    /// [`REDIRECT_TOKEN_LIFETIME`].
    pub fn redirect_token(&self) -> Option<String> {
        let id = self.0.as_ref()?;
        Some(
            id.security
                .user_token(&id.principal.user, REDIRECT_TOKEN_LIFETIME),
        )
    }
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(Caller(req.extensions().get::<Identity>().cloned())))
    }
}

/// Paths anyone may call (see the module doc).
fn is_open(path: &str) -> bool {
    matches!(
        path,
        "/health" | "/" | "/api/v1/openapi.json" | "/auth/login" | "/auth/logout" | "/auth/whoami"
    ) || path.starts_with("/ui/")
}

/// A 401 answer in the shape of the API family asked.
pub fn unauthorized(path: &str, message: &str) -> HttpResponse {
    let mut resp = dfs_http::error::error_response(
        path,
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthorized,
        message.to_string(),
    );
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// The credential a request carries: bearer, then cookie, then (WebHDFS)
/// `delegation` parameters; the first that authenticates wins.
fn authenticate(sec: &Security, req: &ServiceRequest, bearer: Option<&str>) -> Option<Principal> {
    if let Some(t) = bearer {
        return sec.authenticate(t);
    }
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        if let Some(p) = sec.authenticate(c.value()) {
            return Some(p);
        }
    }
    if dfs_http::error::is_webhdfs(req.path()) {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string()).ok()?;
        return pairs
            .iter()
            .filter(|(k, _)| k == DELEGATION_PARAM)
            .find_map(|(_, v)| sec.authenticate(v));
    }
    None
}

/// The auth middleware's check (`actix_web_httpauth`'s `HttpAuthentication::with_fn`).
pub async fn validate(
    req: ServiceRequest,
    bearer: Option<BearerAuth>,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    let Some(auth) = req.app_data::<web::Data<Auth>>().cloned() else {
        return Ok(req);
    };
    let Some(sec) = auth.security() else {
        return Ok(req);
    };
    let path = req.path().to_string();
    if is_open(&path) {
        return Ok(req);
    }
    let bearer = bearer.as_ref().map(|b| b.token());
    // Judged on the decoded path, as the router sees it: `/%69nternal/...`
    // or `//internal/...` must not pass as a user path.
    if canonical(&path).starts_with(dfs_common::proto::datanode::INTERNAL_PREFIX) {
        return match bearer {
            Some(cred) if sec.keys().verify_node_credential(cred) => Ok(req),
            _ => Err((
                refuse(unauthorized(
                    &path,
                    "datanode not admitted: missing or wrong cluster secret",
                )),
                req,
            )),
        };
    }
    match authenticate(sec, &req, bearer) {
        Some(principal) => {
            let relay_token = sec.user_token(&principal.user, sec.session_lifetime);
            let mut req = req;
            // The seed endpoints and the WebHDFS data relay call this
            // namenode through `dfs_client`: let them call as the caller.
            if let Some(client) = req.app_data::<web::Data<dfs_client::DfsClient>>() {
                let mine = client
                    .as_ref()
                    .clone()
                    .with_token(Some(relay_token.clone()));
                let mut ext = actix_web::dev::Extensions::new();
                ext.insert(web::Data::new(mine));
                req.add_data_container(std::rc::Rc::new(ext));
            }
            req.extensions_mut().insert(Identity {
                principal,
                relay_token,
                security: sec.clone(),
            });
            Ok(req)
        }
        None => {
            let why = if bearer.is_some() {
                "the bearer token is not valid"
            } else {
                "authentication required: send Authorization: Bearer <token> (DFS_TOKEN for the CLI) or log in"
            };
            Err((refuse(unauthorized(&path, why)), req))
        }
    }
}

/// `path` percent-decoded, with runs of `/` made one.
fn canonical(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let hex = |c: u8| (c as char).to_digit(16);
        if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        if b == b'/' && out.last() == Some(&b'/') {
            i += 1;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn refuse(resp: HttpResponse) -> actix_web::Error {
    actix_web::error::InternalError::from_response("unauthorized", resp).into()
}

// --- the web UI's login -----------------------------------------------------

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/whoami", web::get().to(whoami));
}

/// The session cookie; `Secure` (never sent over plain HTTP) when the
/// namenode serves HTTPS.
fn session_cookie(value: String, max_age: Duration, req: &HttpRequest) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(req.app_config().secure())
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(
            max_age.as_secs() as i64,
        ))
        .finish()
}

/// `POST /auth/login` (JSON or form `token`): sets the session cookie.
async fn login(auth: Option<web::Data<Auth>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(sec) = auth.as_ref().and_then(|a| a.security()) else {
        return HttpResponse::Ok().json(serde_json::json!({"user": null, "auth": false}));
    };
    let form: Option<LoginForm> = serde_json::from_slice(&body)
        .ok()
        .or_else(|| token_from_form(&body));
    let Some(form) = form else {
        return dfs_http::error::contract_answer(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "send {\"token\": \"...\"} as JSON or a form".into(),
        );
    };
    match sec.authenticate(form.token.trim()) {
        Some(p) => {
            let value = sec.user_token(&p.user, sec.session_lifetime);
            HttpResponse::Ok()
                .cookie(session_cookie(value, sec.session_lifetime, &req))
                .json(serde_json::json!({"user": p.user, "auth": true}))
        }
        None => unauthorized(req.path(), "unknown token"),
    }
}

fn token_from_form(body: &[u8]) -> Option<LoginForm> {
    let text = std::str::from_utf8(body).ok()?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(text).ok()?;
    pairs
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| LoginForm { token: v.clone() })
}

/// `POST /auth/logout`: clears the cookie.
async fn logout(req: HttpRequest) -> HttpResponse {
    let mut c = session_cookie(String::new(), Duration::ZERO, &req);
    c.make_removal();
    HttpResponse::Ok().cookie(c).json(serde_json::json!({}))
}

/// `GET /auth/whoami`: who the cookie or bearer says (401 if nobody, when
/// access control is on).
async fn whoami(
    auth: Option<web::Data<Auth>>,
    req: HttpRequest,
    bearer: Option<BearerAuth>,
) -> HttpResponse {
    let Some(sec) = auth.as_ref().and_then(|a| a.security()) else {
        return HttpResponse::Ok().json(serde_json::json!({"user": null, "auth": false}));
    };
    let bearer = bearer.map(|b| b.token().to_string());
    let token = bearer.or_else(|| req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()));
    match token.and_then(|t| sec.authenticate(&t)) {
        Some(p) => HttpResponse::Ok().json(serde_json::json!({
            "user": p.user, "groups": p.groups, "superuser": p.superuser, "auth": true
        })),
        None => unauthorized(req.path(), "not logged in"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Security {
        let file: UsersFile = toml::from_str(
            r#"
            cluster_secret = "0123456789abcdef-secret"
            [users.alice]
            token = "alice-token-0123456789"
            groups = ["staff"]
            [users.root]
            token = "root-token-0123456789"
            superuser = true
            "#,
        )
        .unwrap();
        Security::from_file(file, Path::new("."), Duration::from_secs(600)).unwrap()
    }

    #[test]
    fn tokens_authenticate_their_users() {
        let s = sample();
        let a = s.authenticate("alice-token-0123456789").unwrap();
        assert_eq!(a.user, "alice");
        assert_eq!(a.groups, vec!["staff"]);
        assert!(!a.superuser);
        assert!(s.authenticate("root-token-0123456789").unwrap().superuser);
        assert!(s.authenticate("alice-token-012345678").is_none());
        assert!(s.authenticate("").is_none());
        // Signed user tokens: for users of the file only.
        let t = s.user_token("alice", Duration::from_secs(60));
        assert_eq!(s.authenticate(&t).unwrap().user, "alice");
        let ghost = s.user_token("ghost", Duration::from_secs(60));
        assert!(s.authenticate(&ghost).is_none());
        let expired = s.user_token("alice", Duration::ZERO);
        assert!(s.authenticate(&expired).is_none());
    }

    /// A reload puts the file's users in force at once: a removed user's
    /// tokens (configured and signed) stop working, a new one's start; a
    /// file that does not load or changes the secret changes nothing.
    #[test]
    fn a_reload_revokes_and_a_bad_file_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let write = |users: &str, secret: &str| {
            std::fs::write(&path, format!("cluster_secret = \"{secret}\"\n{users}")).unwrap()
        };
        const SECRET: &str = "0123456789abcdef-secret";
        let alice = "[users.alice]\ntoken = \"alice-token-0123456789\"\n";
        let root = "[users.root]\ntoken = \"root-token-0123456789\"\nsuperuser = true\n";
        let carol = "[users.carol]\ntoken = \"carol-token-0123456789\"\n";
        write(&format!("{alice}{root}"), SECRET);
        let s = Security::load(&path, Duration::from_secs(600)).unwrap();
        let signed = s.user_token("alice", Duration::from_secs(60));
        assert_eq!(
            s.authenticate("alice-token-0123456789").unwrap().user,
            "alice"
        );
        assert_eq!(s.authenticate(&signed).unwrap().user, "alice");

        write(&format!("{root}{carol}"), SECRET);
        assert_eq!(s.reload().unwrap(), 2);
        assert!(s.authenticate("alice-token-0123456789").is_none());
        assert!(
            s.authenticate(&signed).is_none(),
            "a signed token of a removed user"
        );
        assert_eq!(
            s.authenticate("carol-token-0123456789").unwrap().user,
            "carol"
        );

        // Not TOML, a short token, another secret: refused, nothing changes.
        for (bad, why) in [
            ("[users.x\n".to_string(), "users file"),
            (format!("{root}[users.y]\ntoken = \"short\"\n"), "at least"),
        ] {
            write(&bad, SECRET);
            let e = s.reload().unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        write(
            &format!("{root}{carol}{alice}"),
            "another-secret-0123456789",
        );
        assert!(s.reload().unwrap_err().contains("cluster secret changed"));
        assert_eq!(
            s.authenticate("carol-token-0123456789").unwrap().user,
            "carol"
        );
        assert!(s.authenticate("alice-token-0123456789").is_none());
        std::fs::remove_file(&path).unwrap();
        assert!(s.reload().unwrap_err().contains("cannot read users file"));
        assert!(s.authenticate("root-token-0123456789").unwrap().superuser);
    }

    #[test]
    fn bad_users_files_are_refused() {
        for (toml, why) in [
            ("[users.a]\ntoken = \"0123456789abcdef\"", "no secret"),
            ("cluster_secret = \"short\"", "short secret"),
            (
                "cluster_secret = \"0123456789abcdef\"\n[users.a]\ntoken = \"x\"",
                "short token",
            ),
            (
                "cluster_secret = \"0123456789abcdef\"\n[users.a]\ntoken = \"0123456789abcdef\"\n[users.b]\ntoken = \"0123456789abcdef\"",
                "shared token",
            ),
        ] {
            let file: UsersFile = toml::from_str(toml).unwrap();
            assert!(
                Security::from_file(file, Path::new("."), Duration::from_secs(1)).is_err(),
                "{why}"
            );
        }
        assert!(toml::from_str::<UsersFile>("typo = 1").is_err());
    }

    #[test]
    fn internal_paths_are_recognised_however_written() {
        for p in [
            "/internal/v1/heartbeat",
            "//internal/v1/x",
            "/%69nternal/v1/x",
            "/internal%2Fv1/x",
        ] {
            assert!(canonical(p).starts_with("/internal/v1"), "{p}");
        }
        assert_eq!(canonical("/a%2"), "/a%2");
        assert_eq!(canonical("/%"), "/%");
    }

    #[test]
    fn open_paths() {
        assert!(is_open("/health"));
        assert!(is_open("/ui/app.js"));
        assert!(!is_open("/metrics"));
        assert!(!is_open("/rpc/v1/list"));
        assert!(!is_open("/api/v1/summary"));
    }
}
