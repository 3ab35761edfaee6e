//! What the S3 door asks of the namesystem beyond the namespace: files'
//! extended attributes (an object's ETag and metadata) and the S3 access
//! keys, which are replicated records (`Command::PutS3Key`), so every
//! namenode of a group checks signatures with the same keys.
use super::*;
use crate::records::S3KeyRecord;
use dfs_common::proto::client::{S3Key, Xattrs};

impl Namesystem {
    /// The extended attributes of each inode in `ids` (empty for one with
    /// none, or gone).
    pub fn xattrs(&self, ids: &[u64]) -> Result<Vec<Xattrs>> {
        ids.iter().map(|id| self.store.xattrs(*id)).collect()
    }

    /// A new access key for `user`, its secret made here (shown once: the
    /// answer is the only place it leaves the cluster).
    pub async fn create_s3_key(&self, user: &str) -> Result<S3Key> {
        self.check_writable()?;
        if user.is_empty() || user.len() > 255 || user.chars().any(|c| c.is_control()) {
            return Err(NamenodeError::InvalidArgument(format!(
                "bad user name {user:?} for an S3 key"
            )));
        }
        let access_key = new_access_key();
        let record = S3KeyRecord {
            secret: new_secret(),
            user: user.to_string(),
            created_ms: now_ms(),
        };
        self.execute(Command::PutS3Key {
            access_key: access_key.clone(),
            record: record.clone(),
        })
        .await?;
        log::info!("S3 access key {access_key} made for user {user}");
        Ok(S3Key {
            access_key,
            secret: Some(record.secret),
            user: record.user,
            created: record.created_ms,
        })
    }

    pub async fn delete_s3_key(&self, access_key: &str) -> Result<()> {
        self.check_writable()?;
        self.execute(Command::DeleteS3Key {
            access_key: access_key.to_string(),
        })
        .await?;
        log::info!("S3 access key {access_key} deleted");
        Ok(())
    }

    /// Every key, without secrets.
    pub fn s3_keys(&self) -> Result<Vec<S3Key>> {
        Ok(self
            .lock()?
            .cluster()
            .s3_keys
            .iter()
            .map(|(k, r)| S3Key {
                access_key: k.clone(),
                secret: None,
                user: r.user.clone(),
                created: r.created_ms,
            })
            .collect())
    }

    /// The secret and user of `access_key`, for checking a signature.
    pub fn s3_secret(&self, access_key: &str) -> Option<(String, String)> {
        let ns = self.lock().ok()?;
        let r = ns.cluster().s3_keys.get(access_key)?;
        Some((r.secret.clone(), r.user.clone()))
    }
}

/// 20 characters, upper-case letters and digits, as AWS's access key ids
/// look: `DFS` and 17 random ones (88 bits).
fn new_access_key() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let random = uuid::Uuid::new_v4().as_u128();
    let mut k = String::from("DFS");
    for i in 0..17 {
        k.push(ALPHABET[((random >> (5 * i)) & 31) as usize] as char);
    }
    k
}

/// 40 characters of base-64-like text (over 220 random bits), as AWS's secrets.
fn new_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (a, b) = (
        uuid::Uuid::new_v4().as_u128(),
        uuid::Uuid::new_v4().as_u128(),
    );
    (0..40)
        .map(|i| {
            let bits = if i < 20 {
                a >> (6 * i)
            } else {
                b >> (6 * (i - 20))
            };
            ALPHABET[(bits & 63) as usize] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_look_like_aws_keys() {
        let k = new_access_key();
        assert_eq!(k.len(), 20);
        assert!(k
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_ne!(k, new_access_key());
        let s = new_secret();
        assert_eq!(s.len(), 40);
        assert_ne!(s, new_secret());
    }
}
