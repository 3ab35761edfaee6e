//! A request taken apart: who signed it ([`crate::sigv4`]), which bucket
//! and key it names (path style `/<bucket>/<key>`, or virtual-host style
//! `<bucket>.<domain>/<key>`), its query, and its body as a checked byte
//! stream. Routing it is `crate::router`'s job.
use crate::checksum::{BodyCheck, CheckedBody};
use crate::chunked::{self, ChunkMode};
use crate::error::{S3Error, S3Result};
use crate::sigv4::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};
use dfs_client::DfsClient;
use dfs_common::path::DfsPath;
use futures_util::TryStreamExt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The name under a bucket where multipart uploads keep their parts
/// (`/<bucket>/.s3-multipart/<upload id>/`): never an object key, never
/// listed.
pub const STAGING: &str = ".s3-multipart";

/// One request, authenticated.
pub struct Ctx {
    pub req: HttpRequest,
    /// The cluster, as the key's user.
    pub dfs: DfsClient,
    pub bucket: Option<String>,
    /// Decoded; `None` for a bucket-level request.
    pub key: Option<String>,
    /// Decoded query parameters (a name without `=` has an empty value).
    pub query: BTreeMap<String, String>,
    pub payload: Payload,
    body: Option<dfs_http::limits::IdleTimeout<web::Payload>>,
}

/// The MD5 of the body, once it was read to its end.
pub type Md5Slot = Arc<Mutex<Option<[u8; 16]>>>;

impl Ctx {
    /// A request whose signature was checked, acting through `dfs`.
    pub fn new(
        req: HttpRequest,
        dfs: DfsClient,
        address: (Option<String>, Option<String>),
        query: BTreeMap<String, String>,
        payload: Payload,
        body: web::Payload,
        idle: std::time::Duration,
    ) -> Self {
        Ctx {
            req,
            dfs,
            bucket: address.0,
            key: address.1,
            query,
            payload,
            body: Some(dfs_http::limits::IdleTimeout::new(body, idle)),
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.query.contains_key(name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers().get(name).and_then(|v| v.to_str().ok())
    }

    pub fn bucket(&self) -> S3Result<&str> {
        self.bucket
            .as_deref()
            .ok_or_else(|| S3Error::invalid_request("this operation needs a bucket"))
    }

    pub fn key(&self) -> S3Result<&str> {
        self.key
            .as_deref()
            .ok_or_else(|| S3Error::invalid_request("this operation needs a key"))
    }

    /// The body as plain bytes: de-chunked, each check applied as the
    /// bytes pass and at the end (an error instead of the end when one
    /// fails), and the slot its MD5 lands in. Only once per request.
    pub fn body(&mut self) -> S3Result<(Box<dyn AsyncRead + Unpin>, Md5Slot)> {
        self.body_checked(|c| c)
    }

    /// [`Ctx::body`], its checks adjusted by `adjust` first.
    pub fn body_checked(
        &mut self,
        adjust: impl FnOnce(BodyCheck) -> BodyCheck,
    ) -> S3Result<(Box<dyn AsyncRead + Unpin>, Md5Slot)> {
        let body = self
            .body
            .take()
            .ok_or_else(|| S3Error::internal("the request body was read twice"))?;
        let headers = self.req.headers();
        let stream = body.map_err(|e| std::io::Error::other(e.to_string()));
        let plain: Box<dyn AsyncRead + Unpin> = match &self.payload {
            Payload::StreamingSigned { trailer, chain } => {
                let mode = ChunkMode {
                    signer: Some(chain.clone()),
                    trailer: if *trailer {
                        trailer_algorithm(headers)?
                    } else {
                        None
                    },
                    decoded_length: decoded_length(headers)?,
                };
                Box::new(chunked::decode(stream, mode))
            }
            Payload::StreamingUnsignedTrailer => {
                let mode = ChunkMode {
                    signer: None,
                    trailer: trailer_algorithm(headers)?,
                    decoded_length: decoded_length(headers)?,
                };
                Box::new(chunked::decode(stream, mode))
            }
            Payload::Unsigned | Payload::Sha256(_) => {
                Box::new(tokio_util::io::StreamReader::new(stream))
            }
        };
        let check = adjust(BodyCheck::from_headers(headers, &self.payload)?);
        let (checked, md5) = CheckedBody::new(plain, check);
        Ok((Box::new(checked), md5))
    }

    /// A small body read whole (XML requests), checked as every body.
    pub async fn small_body(&mut self) -> S3Result<Vec<u8>> {
        self.small_body_checked(|c| c).await
    }

    /// [`Ctx::small_body`], its checks adjusted by `adjust` first.
    pub async fn small_body_checked(
        &mut self,
        adjust: impl FnOnce(BodyCheck) -> BodyCheck,
    ) -> S3Result<Vec<u8>> {
        let (reader, _) = self.body_checked(adjust)?;
        let mut out = Vec::new();
        let mut limited = reader.take(crate::xml::MAX_XML_BODY as u64 + 1);
        limited
            .read_to_end(&mut out)
            .await
            .map_err(|e| body_error(&e))?;
        if out.len() > crate::xml::MAX_XML_BODY {
            return Err(S3Error::new(
                "MaxMessageLengthExceeded",
                StatusCode::BAD_REQUEST,
                format!("the XML body is over {} bytes", crate::xml::MAX_XML_BODY),
            ));
        }
        Ok(out)
    }
}

/// An error of reading a body: the S3 error a check put in it, else an
/// incomplete body.
pub fn body_error(e: &std::io::Error) -> S3Error {
    crate::checksum::s3_error_of(e)
        .unwrap_or_else(|| S3Error::incomplete_body(format!("the request body broke off: {e}")))
}

fn trailer_algorithm(
    headers: &actix_web::http::header::HeaderMap,
) -> S3Result<Option<crate::checksum::Algorithm>> {
    match headers.get("x-amz-trailer").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(name)) => Ok(Some(crate::checksum::Algorithm::from_header_name(
            name.trim(),
        )?)),
        Some(Err(_)) => Err(S3Error::invalid_argument("x-amz-trailer is not text")),
    }
}

fn decoded_length(headers: &actix_web::http::header::HeaderMap) -> S3Result<Option<u64>> {
    match headers.get("x-amz-decoded-content-length") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| {
                S3Error::invalid_argument("x-amz-decoded-content-length is not a number")
            }),
    }
}

/// The file of `key` in `bucket`: `/<bucket>/<key>` by the dfs path rules
/// (no empty component, `.` or `..`, NUL); the staging area is no key.
pub fn object_path(bucket: &str, key: &str) -> S3Result<DfsPath> {
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    if trimmed.is_empty() {
        return Err(S3Error::new(
            "KeyTooLongError",
            StatusCode::BAD_REQUEST,
            "an empty key names no object",
        ));
    }
    if key.len() > 1024 {
        return Err(S3Error::new(
            "KeyTooLongError",
            StatusCode::BAD_REQUEST,
            "a key is at most 1024 bytes",
        ));
    }
    if trimmed == STAGING || trimmed.starts_with(&format!("{STAGING}/")) {
        return Err(S3Error::invalid_argument(format!(
            "keys under {STAGING}/ are reserved for multipart uploads"
        )));
    }
    format!("/{bucket}/{trimmed}")
        .parse::<DfsPath>()
        .map_err(|e| {
            S3Error::invalid_argument(format!(
                "the key {key:?} cannot be a dfs path (no empty, `.` or `..` part, no NUL): {e}"
            ))
        })
}

/// A bucket's directory; the name by S3's rules (3 to 63 characters of
/// lower-case letters, digits, `.` and `-`, starting and ending with a
/// letter or digit).
pub fn bucket_path(bucket: &str) -> S3Result<DfsPath> {
    if !valid_bucket_name(bucket) {
        return Err(S3Error::new(
            "InvalidBucketName",
            StatusCode::BAD_REQUEST,
            format!("{bucket:?} is not a valid bucket name (3 to 63 of a-z 0-9 . -)"),
        ));
    }
    format!("/{bucket}")
        .parse::<DfsPath>()
        .map_err(|e| S3Error::invalid_argument(e.to_string()))
}

pub fn valid_bucket_name(b: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&b.len())
        && b.chars().all(ok_char)
        && edge(b.chars().next())
        && edge(b.chars().last())
        && !b.contains("..")
}

/// The decoded query of `raw`: `+` is kept (clients encode a space as
/// `%20`); a name without `=` has an empty value.
pub fn parse_query(raw: &str) -> S3Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k)?, decode(v)?);
    }
    Ok(out)
}

fn decode(s: &str) -> S3Result<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| S3Error::invalid_argument(format!("{s:?} is not UTF-8 once decoded")))
}

/// The bucket and key a request names.
pub fn address(
    req: &HttpRequest,
    domains: &[String],
) -> S3Result<(Option<String>, Option<String>)> {
    let path = decode(req.uri().path())?;
    let rest = path.strip_prefix('/').unwrap_or(&path);
    let (bucket, key) = match vhost_bucket(req, domains) {
        Some(b) => (Some(b), rest),
        None => match rest.split_once('/') {
            Some((b, k)) => (Some(b.to_string()), k),
            None if rest.is_empty() => (None, ""),
            None => (Some(rest.to_string()), ""),
        },
    };
    let key = (!key.is_empty()).then(|| key.to_string());
    Ok((bucket, key))
}

/// The bucket a virtual-host-style request names in its `Host`
/// (`<bucket>.localhost`, `<bucket>.<--s3-domain>`).
pub fn vhost_bucket(req: &HttpRequest, domains: &[String]) -> Option<String> {
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    domains
        .iter()
        .map(String::as_str)
        .chain(["localhost"])
        .find_map(|d| host.strip_suffix(d).and_then(|b| b.strip_suffix('.')))
        .filter(|b| !b.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn keys_become_paths_or_clean_errors() {
        assert_eq!(object_path("b", "a/c.txt").unwrap().as_str(), "/b/a/c.txt");
        assert_eq!(object_path("b", "dir/").unwrap().as_str(), "/b/dir");
        for bad in [
            "",
            "a//b",
            "../x",
            "a/./b",
            "a/../../etc",
            "a\0b",
            ".s3-multipart/x",
        ] {
            assert!(object_path("b", bad).is_err(), "{bad:?}");
        }
        assert!(object_path("b", &"k".repeat(1025)).is_err());
    }

    #[test]
    fn bucket_names_follow_s3() {
        for ok in ["abc", "my-bucket.2", "a1b"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in ["ab", "Abc", "-abc", "abc-", "a..b", "a_b", &"a".repeat(64)] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn path_and_virtual_host_addressing() {
        let r = TestRequest::get()
            .uri("/bkt/a/b%20c.txt")
            .insert_header(("host", "127.0.0.1:9878"))
            .to_http_request();
        assert_eq!(
            address(&r, &[]).unwrap(),
            (Some("bkt".into()), Some("a/b c.txt".into()))
        );
        let r = TestRequest::get()
            .uri("/a/b")
            .insert_header(("host", "bkt.localhost:9878"))
            .to_http_request();
        assert_eq!(
            address(&r, &[]).unwrap(),
            (Some("bkt".into()), Some("a/b".into()))
        );
        let r = TestRequest::get()
            .uri("/")
            .insert_header(("host", "bkt.s3.example.org"))
            .to_http_request();
        assert_eq!(
            address(&r, &["s3.example.org".into()]).unwrap(),
            (Some("bkt".into()), None)
        );
        let r = TestRequest::get().uri("/").to_http_request();
        assert_eq!(address(&r, &[]).unwrap(), (None, None));
    }

    #[test]
    fn queries_decode() {
        let q = parse_query("list-type=2&prefix=a%2Fb&delimiter=%2F&uploads").unwrap();
        assert_eq!(q["prefix"], "a/b");
        assert_eq!(q["uploads"], "");
        assert!(parse_query("a=%ff").is_err());
    }
}
