//! Access-control tokens that two processes must agree on: the keys derived
//! from the cluster secret, the block access token (namenode signs,
//! datanode checks, as HDFS block tokens), the signed user token (namenode
//! signs for its relays, WebHDFS redirects and browser sessions; namenode
//! and datanodes check) and the datanode credential (a datanode proves it
//! knows the cluster secret when it registers and heartbeats).
//!
//! It does not decide who may do what (that is the namenode's permission
//! checker) and knows nothing of HTTP beyond header names.
//!
//! Invariants: every MAC is HMAC-SHA256 (`hmac` crate) under a key derived
//! from the cluster secret with a distinct label per use, so a token of
//! one kind can never pass as another; verification uses the crate's
//! constant-time `verify_slice`, never `==` on MACs; a token carries its own
//! expiry (milliseconds since the Unix epoch) and is refused at or after it.
//!
//! Token text: `<payload>.<hex MAC>`, with payload fields separated by `:`
//! and the user name hex-encoded, so no field can contain a separator.
//!
//! Block tokens roll their key: each [`BLOCK_KEY_PERIOD`] (an hour) has its
//! own, derived from the block key and the period's number, which the token
//! names. A key is honoured from the period before its own (clocks differ)
//! until [`MAX_BLOCK_TOKEN_LIFETIME`] after its period ends (the longest a
//! token signed with it may live), and never after: a leaked key, or a
//! token whatever its stated expiry, stops working then.
use crate::ids::BlockId;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The header that carries a block access token on `PUT/GET/DELETE
/// /blocks/{id}` (and on pipeline forwarding and re-replication copies).
pub const BLOCK_TOKEN_HEADER: &str = "x-dfs-block-token";
/// The cookie the namenode sets after a web UI login (value: a user token).
pub const SESSION_COOKIE: &str = "dfs_session";
/// WebHDFS query parameter carrying a token (Hadoop's `delegation`).
pub const DELEGATION_PARAM: &str = "delegation";

type HmacSha256 = Hmac<Sha256>;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
    /// Valid, but for another block or operation.
    WrongScope(String),
    /// Signed with a block key no longer (or not yet) honoured.
    RetiredKey,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed => f.write_str("malformed token"),
            TokenError::BadSignature => f.write_str("token signature does not verify"),
            TokenError::Expired => f.write_str("token expired"),
            TokenError::WrongScope(why) => write!(f, "token not valid here: {why}"),
            TokenError::RetiredKey => f.write_str("token signed with a retired key"),
        }
    }
}

impl std::error::Error for TokenError {}

/// How long one block-token key signs (see the module's doc).
pub const BLOCK_KEY_PERIOD_MS: u64 = 3600 * 1000;
/// The longest a block token may live (`--block-token-lifetime`): how long
/// a key is honoured after its period.
pub const MAX_BLOCK_TOKEN_LIFETIME_MS: u64 = 24 * 3600 * 1000;

/// One 32-byte HMAC key.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

impl Key {
    /// The key of block-key period `epoch`, derived from this one.
    fn for_epoch(&self, epoch: u64) -> Key {
        let mut m = mac_with(&self.0);
        m.update(format!("period {epoch}").as_bytes());
        Key(m.finalize().into_bytes().into())
    }

    fn sign(&self, payload: &str) -> String {
        let mut m = mac_with(&self.0);
        m.update(payload.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// Checks `<payload>.<mac>` and gives back the payload.
    fn open<'a>(&self, token: &'a str) -> Result<&'a str, TokenError> {
        let (payload, mac_hex) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let tag = hex::decode(mac_hex).map_err(|_| TokenError::Malformed)?;
        let mut m = mac_with(&self.0);
        m.update(payload.as_bytes());
        m.verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
        Ok(payload)
    }
}

/// The keys of a cluster, each derived from its shared secret
/// (HMAC-SHA256(secret, label)).
#[derive(Clone, Debug)]
pub struct ClusterKeys {
    block: Key,
    user: Key,
    node: Key,
    lookup: Key,
}

impl ClusterKeys {
    pub fn derive(secret: &str) -> Self {
        let k = |label: &str| {
            let mut m = mac_with(secret.as_bytes());
            m.update(label.as_bytes());
            Key(m.finalize().into_bytes().into())
        };
        ClusterKeys {
            block: k("dfs block token v2"),
            user: k("dfs user token v1"),
            node: k("dfs datanode credential v1"),
            lookup: k("dfs token lookup v1"),
        }
    }

    /// What a datanode sends as its bearer credential to the namenode.
    pub fn node_credential(&self) -> String {
        self.node.sign("datanode")
    }

    /// Checks a presented datanode credential (constant time).
    pub fn verify_node_credential(&self, presented: &str) -> bool {
        self.node.open(&format!("datanode.{presented}")).is_ok()
    }

    /// A keyed digest of a configured bearer token: the namenode looks
    /// tokens up by this, so it never compares secrets byte by byte.
    pub fn token_digest(&self, token: &str) -> String {
        self.lookup.sign(token)
    }

    /// Signs with the key of the present period.
    pub fn sign_block(&self, t: &BlockToken) -> String {
        self.sign_block_at(t, now_ms())
    }

    /// Signs with the key of the period `now_ms` falls in.
    pub fn sign_block_at(&self, t: &BlockToken, now_ms: u64) -> String {
        let epoch = now_ms / BLOCK_KEY_PERIOD_MS;
        let payload = format!("b2:{epoch}:{}", t.payload());
        let mac = self.block.for_epoch(epoch).sign(&payload);
        format!("{payload}.{mac}")
    }

    /// Checks a block token for `block` and one of `ops`, at `now_ms`.
    pub fn verify_block(
        &self,
        token: &str,
        block: BlockId,
        ops: &[BlockOp],
        now_ms: u64,
    ) -> Result<BlockToken, TokenError> {
        let epoch: u64 = token
            .strip_prefix("b2:")
            .and_then(|rest| rest.split(':').next())
            .and_then(|e| e.parse().ok())
            .ok_or(TokenError::Malformed)?;
        let starts = epoch.saturating_mul(BLOCK_KEY_PERIOD_MS);
        let honoured_from = starts.saturating_sub(BLOCK_KEY_PERIOD_MS);
        let honoured_until = starts
            .saturating_add(BLOCK_KEY_PERIOD_MS)
            .saturating_add(MAX_BLOCK_TOKEN_LIFETIME_MS);
        if now_ms < honoured_from || now_ms >= honoured_until {
            return Err(TokenError::RetiredKey);
        }
        let payload = self.block.for_epoch(epoch).open(token)?;
        let t = BlockToken::parse(payload.splitn(3, ':').nth(2).unwrap_or_default())?;
        if t.expires_ms <= now_ms {
            return Err(TokenError::Expired);
        }
        if t.block != block {
            return Err(TokenError::WrongScope(format!(
                "issued for block {}",
                t.block
            )));
        }
        if !ops.contains(&t.op) {
            return Err(TokenError::WrongScope(format!(
                "issued for {}, not {}",
                t.op.as_str(),
                ops.iter().map(|o| o.as_str()).collect::<Vec<_>>().join("/")
            )));
        }
        Ok(t)
    }

    pub fn sign_user(&self, t: &UserToken) -> String {
        let payload = t.payload();
        let mac = self.user.sign(&payload);
        format!("{payload}.{mac}")
    }

    /// The password of a Hadoop delegation token whose identifier is
    /// `identifier` (`hadoop::token`): a MAC under the user-token key, so
    /// any namenode of the cluster checks any token and none is stored.
    pub fn hadoop_password(&self, identifier: &[u8]) -> Vec<u8> {
        let mut m = mac_with(&self.user.0);
        m.update(b"hadoop delegation token v1\0");
        m.update(identifier);
        m.finalize().into_bytes().to_vec()
    }

    pub fn verify_user(&self, token: &str, now_ms: u64) -> Result<UserToken, TokenError> {
        let t = UserToken::parse(self.user.open(token)?)?;
        if t.expires_ms <= now_ms {
            return Err(TokenError::Expired);
        }
        Ok(t)
    }
}

/// What a block token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockOp {
    /// `GET /blocks/{id}` (and its `/meta`).
    Read,
    /// `PUT /blocks/{id}` by a client, forwarded down its pipeline.
    Write,
    /// `PUT /blocks/{id}` by a datanode copying a replica (re-replication).
    Copy,
    /// `DELETE /blocks/{id}`.
    Delete,
}

impl BlockOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockOp::Read => "read",
            BlockOp::Write => "write",
            BlockOp::Copy => "copy",
            BlockOp::Delete => "delete",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "read" => BlockOp::Read,
            "write" => BlockOp::Write,
            "copy" => BlockOp::Copy,
            "delete" => BlockOp::Delete,
            _ => return None,
        })
    }
}

/// A block access token (HDFS `BlockTokenIdentifier`): block, operation,
/// expiry and the user it was issued to (for the datanode's log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockToken {
    pub block: BlockId,
    pub op: BlockOp,
    pub expires_ms: u64,
    pub user: String,
}

impl BlockToken {
    fn payload(&self) -> String {
        format!(
            "b1:{}:{}:{}:{}",
            self.block,
            self.op.as_str(),
            self.expires_ms,
            hex::encode(self.user.as_bytes())
        )
    }

    fn parse(payload: &str) -> Result<Self, TokenError> {
        let mut f = payload.split(':');
        let (Some("b1"), Some(block), Some(op), Some(exp), Some(user), None) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            return Err(TokenError::Malformed);
        };
        Ok(BlockToken {
            block: block.parse().map_err(|_| TokenError::Malformed)?,
            op: BlockOp::parse(op).ok_or(TokenError::Malformed)?,
            expires_ms: exp.parse().map_err(|_| TokenError::Malformed)?,
            user: decode_name(user)?,
        })
    }
}

/// A signed statement "this is `user` until `expires_ms`": what the
/// namenode's relays, its WebHDFS redirects (`delegation=`) and the web
/// UI's session cookie carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    pub user: String,
    pub expires_ms: u64,
}

impl UserToken {
    fn payload(&self) -> String {
        format!(
            "u1:{}:{}",
            hex::encode(self.user.as_bytes()),
            self.expires_ms
        )
    }

    fn parse(payload: &str) -> Result<Self, TokenError> {
        let mut f = payload.split(':');
        let (Some("u1"), Some(user), Some(exp), None) = (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(TokenError::Malformed);
        };
        Ok(UserToken {
            user: decode_name(user)?,
            expires_ms: exp.parse().map_err(|_| TokenError::Malformed)?,
        })
    }
}

fn decode_name(hex_name: &str) -> Result<String, TokenError> {
    let bytes = hex::decode(hex_name).map_err(|_| TokenError::Malformed)?;
    String::from_utf8(bytes).map_err(|_| TokenError::Malformed)
}

/// Whether a string looks like a user token this module signs (so a
/// holder of several `delegation` values can pick the right one).
pub fn is_user_token(s: &str) -> bool {
    s.starts_with("u1:")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed "now" (2027) the block tests sign and check at.
    const T0: u64 = 1_800_000_000_000;

    fn block_token(block: BlockId, op: BlockOp, expires_ms: u64) -> BlockToken {
        BlockToken {
            block,
            op,
            expires_ms,
            user: "alice".into(),
        }
    }

    #[test]
    fn block_token_round_trip_and_scope() {
        let keys = ClusterKeys::derive("s3cret");
        let b = BlockId::new();
        let t = keys.sign_block_at(&block_token(b, BlockOp::Read, T0 + 2_000), T0);
        let got = keys
            .verify_block(&t, b, &[BlockOp::Read], T0 + 1_000)
            .unwrap();
        assert_eq!(got.user, "alice");
        assert_eq!(got.op, BlockOp::Read);
        // Expired at and after its expiry.
        assert_eq!(
            keys.verify_block(&t, b, &[BlockOp::Read], T0 + 2_000),
            Err(TokenError::Expired)
        );
        // Another block, another operation.
        assert!(matches!(
            keys.verify_block(&t, BlockId::new(), &[BlockOp::Read], T0 + 1_000),
            Err(TokenError::WrongScope(_))
        ));
        assert!(matches!(
            keys.verify_block(&t, b, &[BlockOp::Write, BlockOp::Copy], T0 + 1_000),
            Err(TokenError::WrongScope(_))
        ));
    }

    #[test]
    fn forged_or_foreign_tokens_are_refused() {
        let keys = ClusterKeys::derive("s3cret");
        let other = ClusterKeys::derive("other secret");
        let b = BlockId::new();
        let t = keys.sign_block_at(&block_token(b, BlockOp::Write, T0 + 9_999), T0);
        assert_eq!(
            other.verify_block(&t, b, &[BlockOp::Write], T0 + 1),
            Err(TokenError::BadSignature)
        );
        // Changing any payload byte (a later expiry) breaks the MAC.
        let forged = t.replacen(&format!(":{}:", T0 + 9_999), ":99999999999999:", 1);
        assert_ne!(forged, t);
        assert_eq!(
            keys.verify_block(&forged, b, &[BlockOp::Write], T0 + 1),
            Err(TokenError::BadSignature)
        );
        // Naming another key period breaks it too.
        let epoch = T0 / BLOCK_KEY_PERIOD_MS;
        let other_epoch = t.replacen(&format!("b2:{epoch}:"), &format!("b2:{}:", epoch - 1), 1);
        assert_eq!(
            keys.verify_block(&other_epoch, b, &[BlockOp::Write], T0 + 1),
            Err(TokenError::BadSignature)
        );
        for junk in [
            "",
            ".",
            "abc",
            "b1:x.zz",
            "b2:x.00",
            "b2:1:x.00",
            &format!("{t}00"),
        ] {
            assert!(keys
                .verify_block(junk, b, &[BlockOp::Write], T0 + 1)
                .is_err());
        }
        // A user token is not a block token, even with the same secret.
        let u = keys.sign_user(&UserToken {
            user: "alice".into(),
            expires_ms: 9_999,
        });
        assert!(keys.verify_block(&u, b, &[BlockOp::Write], 1).is_err());
    }

    #[test]
    fn block_keys_roll_and_a_retired_key_is_refused_whatever_the_expiry() {
        let keys = ClusterKeys::derive("s3cret");
        let b = BlockId::new();
        let hour = BLOCK_KEY_PERIOD_MS;
        let max = MAX_BLOCK_TOKEN_LIFETIME_MS;
        // A token that claims to live for ever.
        let forever = block_token(b, BlockOp::Read, u64::MAX);
        let t = keys.sign_block_at(&forever, T0);
        let period_end = (T0 / hour + 1) * hour;
        let ok = |now| keys.verify_block(&t, b, &[BlockOp::Read], now);
        assert!(ok(T0).is_ok());
        // Honoured for the longest token lifetime after its period ...
        assert!(ok(period_end + max - 1).is_ok());
        // ... and not a moment longer.
        assert_eq!(ok(period_end + max), Err(TokenError::RetiredKey));
        // A verifier whose clock is behind by less than a period accepts it;
        // a key of a period further ahead is not honoured yet.
        assert!(ok(T0 - hour).is_ok());
        assert_eq!(ok(T0 - 2 * hour), Err(TokenError::RetiredKey));
        // Each period signs with its own key.
        let later = keys.sign_block_at(&forever, T0 + hour);
        let strip = |t: &str| t.rsplit_once('.').unwrap().1.to_string();
        assert_ne!(strip(&later), strip(&t));
        assert!(keys
            .verify_block(&later, b, &[BlockOp::Read], T0 + hour)
            .is_ok());
    }

    #[test]
    fn user_tokens() {
        let keys = ClusterKeys::derive("s3cret");
        let t = keys.sign_user(&UserToken {
            user: "bob:the:builder".into(),
            expires_ms: 5_000,
        });
        assert!(is_user_token(&t));
        assert_eq!(keys.verify_user(&t, 4_999).unwrap().user, "bob:the:builder");
        assert_eq!(keys.verify_user(&t, 5_000), Err(TokenError::Expired));
        assert_eq!(
            ClusterKeys::derive("x").verify_user(&t, 1),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn node_credentials() {
        let keys = ClusterKeys::derive("s3cret");
        let cred = keys.node_credential();
        assert!(keys.verify_node_credential(&cred));
        assert!(!ClusterKeys::derive("wrong").verify_node_credential(&cred));
        assert!(!keys.verify_node_credential(""));
        assert!(!keys.verify_node_credential("zz"));
        // The same secret gives the same keys (namenode and datanode agree).
        assert_eq!(
            ClusterKeys::derive("s3cret").token_digest("t"),
            keys.token_digest("t")
        );
        assert_ne!(keys.token_digest("t"), keys.token_digest("u"));
    }
}
