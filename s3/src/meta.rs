//! What S3 keeps beside an object's bytes, as the file's extended
//! attributes (replicated with the namespace, following renames):
//!
//! | attribute | what |
//! | --- | --- |
//! | `s3.etag` | `<etag>:<sha256 hex>`: the ETag (MD5 hex, or `<hex>-N` for a multipart object) and the digest of the bytes it was computed over |
//! | `s3.content-type`, `s3.content-encoding`, `s3.content-disposition`, `s3.content-language`, `s3.cache-control`, `s3.expires` | the headers of the PUT, answered on GET and HEAD |
//! | `user.<name>` | `x-amz-meta-<name>` |
//!
//! The ETag is bound to the bytes: a file changed by another door (an
//! append through WebHDFS) no longer has the digest its `s3.etag` names,
//! and gets the ETag of a file S3 did not write: the first 32 hex digits
//! of its SHA-256, with `-1` (the multipart form, which clients do not
//! take for an MD5 to check).
use actix_web::http::header::HeaderMap;
use dfs_common::proto::client::{FileStatus, Xattrs};

pub const ETAG: &str = "s3.etag";
pub const USER_PREFIX: &str = "user.";
/// The standard headers kept as they were sent.
pub const KEPT_HEADERS: [&str; 6] = [
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];
/// S3's type for an object stored without one.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// The most user metadata S3 takes in one object (names and values).
pub const MAX_USER_METADATA: usize = 2048;

/// The ETag of `st`, quoted: the one S3 stored when it still matches the
/// bytes, else one made from the SHA-256.
pub fn etag(st: &FileStatus, xattrs: &Xattrs) -> String {
    let sha = st.sha256.map(|d| d.to_hex()).unwrap_or_default();
    if let Some((etag, bound)) = xattrs.get(ETAG).and_then(|v| v.split_once(':')) {
        if bound == sha {
            return format!("\"{etag}\"");
        }
    }
    let short = sha.get(..32).unwrap_or(&sha);
    format!("\"{short}-1\"")
}

/// The `s3.etag` attribute of bytes with this ETag (unquoted) and digest.
pub fn etag_attr(etag: &str, sha256_hex: &str) -> String {
    format!("{etag}:{sha256_hex}")
}

/// The attributes a PUT (or a multipart upload's start) gives its object:
/// the kept headers and `x-amz-meta-*`. Too much metadata is refused.
pub fn from_headers(headers: &HeaderMap) -> Result<Xattrs, crate::error::S3Error> {
    let mut x = Xattrs::new();
    let mut user_size = 0;
    for (name, value) in headers {
        let name = name.as_str();
        let Ok(value) = value.to_str() else {
            continue;
        };
        if let Some(meta) = name.strip_prefix("x-amz-meta-") {
            user_size += meta.len() + value.len();
            x.insert(format!("{USER_PREFIX}{meta}"), value.to_string());
        } else if KEPT_HEADERS.contains(&name) {
            x.insert(format!("s3.{name}"), value.to_string());
        }
    }
    if user_size > MAX_USER_METADATA {
        return Err(crate::error::S3Error::new(
            "MetadataTooLarge",
            actix_web::http::StatusCode::BAD_REQUEST,
            format!("user metadata of {user_size} bytes is over S3's {MAX_USER_METADATA}"),
        ));
    }
    Ok(x)
}

/// The metadata of `xattrs` that a copy keeps (everything but the ETag).
pub fn without_etag(xattrs: &Xattrs) -> Xattrs {
    xattrs
        .iter()
        .filter(|(k, _)| k.as_str() != ETAG)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The headers a GET or HEAD answers with, from the attributes.
pub fn headers(xattrs: &Xattrs) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut typed = false;
    for (k, v) in xattrs {
        if let Some(meta) = k.strip_prefix(USER_PREFIX) {
            out.push((format!("x-amz-meta-{meta}"), v.clone()));
        } else if let Some(h) = k.strip_prefix("s3.") {
            if KEPT_HEADERS.contains(&h) {
                typed |= h == "content-type";
                out.push((h.to_string(), v.clone()));
            }
        }
    }
    if !typed {
        out.push(("content-type".into(), DEFAULT_CONTENT_TYPE.into()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::checksum::Sha256Digest;

    fn status(bytes: &[u8]) -> FileStatus {
        FileStatus {
            path: "/b/k".parse().unwrap(),
            name: "k".into(),
            file_type: dfs_common::proto::client::FileType::File,
            length: bytes.len() as u64,
            replication: 3,
            block_size: 1 << 20,
            modification_time: 0,
            access_time: 0,
            owner: "o".into(),
            group: "g".into(),
            permission: 0o644,
            sha256: Some(Sha256Digest::of(bytes)),
            children: 0,
            blocks: 1,
            inode_id: 9,
        }
    }

    #[test]
    fn the_etag_holds_only_for_the_bytes_it_was_made_of() {
        let st = status(b"hello");
        let sha = st.sha256.unwrap().to_hex();
        let mut x = Xattrs::new();
        x.insert(
            ETAG.into(),
            etag_attr("5d41402abc4b2a76b9719d911017c592", &sha),
        );
        assert_eq!(etag(&st, &x), "\"5d41402abc4b2a76b9719d911017c592\"");
        // Appended through another door: the digest moved on.
        let changed = status(b"hello world");
        let e = etag(&changed, &x);
        assert!(e.ends_with("-1\"") && e.len() == 36, "{e}");
        assert_eq!(etag(&changed, &Xattrs::new()), e);
    }

    #[test]
    fn metadata_round_trips_through_headers() {
        let mut h = HeaderMap::new();
        h.insert("content-type".parse().unwrap(), "text/csv".parse().unwrap());
        h.insert("x-amz-meta-owner".parse().unwrap(), "ann".parse().unwrap());
        h.insert("x-amz-date".parse().unwrap(), "x".parse().unwrap());
        let x = from_headers(&h).unwrap();
        assert_eq!(x.len(), 2, "{x:?}");
        let back = headers(&x);
        assert!(back.contains(&("content-type".into(), "text/csv".into())));
        assert!(back.contains(&("x-amz-meta-owner".into(), "ann".into())));
        assert!(
            headers(&Xattrs::new()).contains(&("content-type".into(), DEFAULT_CONTENT_TYPE.into()))
        );
        let mut big = HeaderMap::new();
        big.insert(
            "x-amz-meta-a".parse().unwrap(),
            "x".repeat(3000).parse().unwrap(),
        );
        assert_eq!(from_headers(&big).unwrap_err().code, "MetadataTooLarge");
    }
}
