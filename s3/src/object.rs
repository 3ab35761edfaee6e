//! Objects: PutObject (an upload through the write pipeline, checked as
//! it streams), GetObject and HeadObject (Range, the conditional headers,
//! the verified read path), DeleteObject(s), CopyObject.
use crate::bucket::{self, xml_ok};
use crate::checksum::{BodyCheck, CheckedBody};
use crate::error::{from_client, S3Error, S3Result};
use crate::meta;
use crate::request::{body_error, bucket_path, object_path, Ctx, Md5Slot};
use crate::sigv4::Payload;
use crate::xml::{self, XMLNS};
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use dfs_client::{ClientError, DfsClient, NoProgress, UploadOptions, XattrSource};
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileStatus, FileType, Xattrs};
use futures_util::TryStreamExt;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The MD5 of nothing: the ETag of an empty object (a "folder" marker).
pub const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// Writes `reader` to `path` as an object: replaced if it exists, parents
/// made; `attrs` and the ETag (the MD5 of the bytes read, or `etag` when
/// given: a multipart object's) set in the same change as it appears.
/// A body that fails a check ends the upload with that check's error,
/// and nothing is stored.
pub async fn store(
    dfs: &DfsClient,
    path: &DfsPath,
    reader: impl AsyncRead + Unpin,
    md5: Md5Slot,
    attrs: Xattrs,
    etag: Option<String>,
) -> S3Result<(FileStatus, String)> {
    store_with(dfs, path, reader, md5, attrs, etag, None).await
}

/// [`store`] in blocks of `block_size` (the namenode's when `None`).
pub async fn store_with(
    dfs: &DfsClient,
    path: &DfsPath,
    reader: impl AsyncRead + Unpin,
    md5: Md5Slot,
    attrs: Xattrs,
    etag: Option<String>,
    block_size: Option<u64>,
) -> S3Result<(FileStatus, String)> {
    let chosen = Arc::new(std::sync::Mutex::new(None::<String>));
    let seen = chosen.clone();
    let source = XattrSource(Arc::new(move |sha| {
        let etag = etag.clone().unwrap_or_else(|| {
            let md5 = md5.lock().map(|m| *m).unwrap_or(None);
            md5.map(hex::encode).unwrap_or_default()
        });
        if let Ok(mut s) = seen.lock() {
            *s = Some(etag.clone());
        }
        let mut x = attrs.clone();
        if !etag.is_empty() {
            x.insert(meta::ETAG.into(), meta::etag_attr(&etag, &sha.to_hex()));
        }
        x
    }));
    let opts = UploadOptions {
        overwrite: true,
        create_parent: true,
        xattrs: Some(source),
        block_size,
        ..UploadOptions::default()
    };
    let st = dfs
        .upload(path, reader, &opts, &NoProgress)
        .await
        .map_err(|e| match e {
            ClientError::Io(e) => body_error(&e),
            ClientError::Remote {
                code: ErrorCode::Conflict,
                message,
                ..
            } => S3Error::new(
                "OperationAborted",
                StatusCode::CONFLICT,
                format!("{message} (a directory, or a write in progress, is in the way)"),
            ),
            other => from_client(other, path.as_str()),
        })?;
    let etag = chosen
        .lock()
        .ok()
        .and_then(|e| e.clone())
        .unwrap_or_default();
    Ok((st, format!("\"{etag}\"")))
}

pub async fn put(ctx: &mut Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let key = ctx.key()?.to_string();
    let path = object_path(&bucket, &key)?;
    bucket::require(ctx, &bucket).await?;
    if key.ends_with('/') {
        return put_folder(ctx, &path).await;
    }
    let attrs = meta::from_headers(ctx.req.headers())?;
    let (reader, md5) = ctx.body()?;
    let (st, etag) = store(&ctx.dfs, &path, reader, md5, attrs, None).await?;
    log::info!("S3 put {} ({} bytes)", st.path, st.length);
    Ok(HttpResponse::Ok().insert_header(("etag", etag)).finish())
}

/// A key ending in `/` with no bytes (what S3 consoles make for a
/// folder): the directory.
async fn put_folder(ctx: &mut Ctx, path: &DfsPath) -> S3Result<HttpResponse> {
    let (mut reader, _) = ctx.body()?;
    let mut one = [0u8; 1];
    if reader.read(&mut one).await.map_err(|e| body_error(&e))? != 0 {
        return Err(S3Error::invalid_argument(
            "a key ending in / is a folder and takes no bytes",
        ));
    }
    ctx.dfs
        .mkdirs(path, true)
        .await
        .map_err(|e| from_client(e, path.as_str()))?;
    Ok(HttpResponse::Ok()
        .insert_header(("etag", format!("\"{EMPTY_MD5}\"")))
        .finish())
}

/// The status of an object's file: `NoSuchKey`, or `NoSuchBucket` when
/// the bucket is what is missing.
pub async fn status(ctx: &Ctx, bucket: &str, key: &str) -> S3Result<FileStatus> {
    let path = object_path(bucket, key)?;
    match ctx.dfs.status(&path).await {
        Ok(st) => Ok(st),
        Err(e) if e.code() == ErrorCode::NotFound => {
            bucket::require(ctx, bucket).await?;
            Err(S3Error::no_such_key(key))
        }
        Err(e) => Err(from_client(e, key)),
    }
}

/// The attributes of one file.
pub async fn xattrs_of(dfs: &DfsClient, path: &DfsPath) -> S3Result<Xattrs> {
    Ok(dfs
        .xattrs(std::slice::from_ref(path))
        .await
        .map_err(|e| from_client(e, path.as_str()))?
        .pop()
        .unwrap_or_default())
}

/// GetObject, or HeadObject (`head`: the same headers, no body).
pub async fn get(ctx: &Ctx, head: bool) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?;
    let key = ctx.key()?;
    let st = status(ctx, bucket, key).await?;
    if st.file_type == FileType::Directory {
        if !key.ends_with('/') {
            return Err(S3Error::no_such_key(key));
        }
        let mut r = HttpResponse::Ok();
        r.insert_header(("etag", format!("\"{EMPTY_MD5}\"")))
            .insert_header(("last-modified", http_date(st.modification_time)))
            .content_type(meta::DEFAULT_CONTENT_TYPE);
        return Ok(r.finish());
    }
    let x = xattrs_of(&ctx.dfs, &st.path).await?;
    let etag = meta::etag(&st, &x);
    if let Some(early) = preconditions(ctx.req.headers(), &etag, st.modification_time)? {
        return Ok(early);
    }
    let (offset, len, partial) = match ctx.header("range") {
        Some(r) => match parse_range(r, st.length)? {
            Some((a, b)) => (a, b - a + 1, true),
            None => (0, st.length, false),
        },
        None => (0, st.length, false),
    };
    let mut r = if partial {
        HttpResponse::PartialContent()
    } else {
        HttpResponse::Ok()
    };
    r.insert_header(("etag", etag))
        .insert_header(("last-modified", http_date(st.modification_time)))
        .insert_header(("accept-ranges", "bytes"))
        // The bytes as stored, whatever compression middleware thinks.
        .insert_header(("content-encoding", "identity"));
    for (k, v) in meta::headers(&x) {
        r.insert_header((k, v));
    }
    response_overrides(ctx, &mut r);
    if partial {
        r.insert_header((
            "content-range",
            format!("bytes {offset}-{}/{}", offset + len - 1, st.length),
        ));
    }
    if head || len == 0 {
        r.no_chunking(len);
        return Ok(r.streaming(futures_util::stream::empty::<
            Result<bytes::Bytes, std::io::Error>,
        >()));
    }
    let reader = ctx
        .dfs
        .open(&st.path, offset, Some(len))
        .await
        .map_err(|e| from_client(e, key))?
        .primed()
        .await
        .map_err(|e| from_client(e, key))?;
    let what = st.path.to_string();
    let body = reader.inspect_err(move |e| log::error!("S3 get of {what} cut short: {e}"));
    r.no_chunking(len);
    Ok(r.streaming(body))
}

/// `response-content-type=...` and the like (presigned GETs use them).
fn response_overrides(ctx: &Ctx, r: &mut HttpResponseBuilder) {
    for h in [
        "content-type",
        "content-language",
        "expires",
        "cache-control",
        "content-disposition",
        "content-encoding",
    ] {
        if let Some(v) = ctx.param(&format!("response-{h}")) {
            r.insert_header((h, v.to_string()));
        }
    }
}

/// If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since, as
/// S3 judges them: `Some` answer (412 or 304) when they stop the GET.
pub fn preconditions(
    headers: &HeaderMap,
    etag: &str,
    mtime_ms: u64,
) -> S3Result<Option<HttpResponse>> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let matches = |list: &str| {
        list.split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_matches('"') == etag.trim_matches('"'))
    };
    let mtime = UNIX_EPOCH + Duration::from_secs(mtime_ms / 1000);
    let failed = || {
        S3Error::new(
            "PreconditionFailed",
            StatusCode::PRECONDITION_FAILED,
            "at least one of the preconditions you specified did not hold",
        )
    };
    let not_modified = || {
        HttpResponse::NotModified()
            .insert_header(("etag", etag.to_string()))
            .finish()
    };
    if let Some(m) = get("if-match") {
        if !matches(m) {
            return Err(failed());
        }
    } else if let Some(t) =
        get("if-unmodified-since").and_then(|t| httpdate::parse_http_date(t).ok())
    {
        if mtime > t {
            return Err(failed());
        }
    }
    if let Some(m) = get("if-none-match") {
        if matches(m) {
            return Ok(Some(not_modified()));
        }
    } else if let Some(t) = get("if-modified-since").and_then(|t| httpdate::parse_http_date(t).ok())
    {
        if mtime <= t {
            return Ok(Some(not_modified()));
        }
    }
    Ok(None)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against an object of `len` bytes:
/// the first and last byte. `None` for what S3 ignores (other units,
/// several ranges); 416 `InvalidRange` for one that misses the object.
pub fn parse_range(h: &str, len: u64) -> S3Result<Option<(u64, u64)>> {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let invalid = || {
        S3Error::new(
            "InvalidRange",
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("the range {h:?} is not satisfiable for an object of {len} bytes"),
        )
    };
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().map_err(|_| invalid());
    let (first, last) = if a.is_empty() {
        let n = num(b)?;
        if n == 0 || len == 0 {
            return Err(invalid());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let first = num(a)?;
        let last = if b.is_empty() { u64::MAX } else { num(b)? };
        if first >= len || last < first {
            return Err(invalid());
        }
        (first, last.min(len - 1))
    };
    Ok(Some((first, last)))
}

pub fn http_date(ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

/// DeleteObject: gone or never there, 204 alike (S3), the bucket must
/// exist. A folder key deletes its directory only when empty.
pub async fn delete(ctx: &Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?;
    let key = ctx.key()?;
    bucket::require(ctx, bucket).await?;
    delete_key(&ctx.dfs, bucket, key).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete_key(dfs: &DfsClient, bucket: &str, key: &str) -> S3Result<()> {
    let path = object_path(bucket, key)?;
    let st = match dfs.status(&path).await {
        Ok(st) => st,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(()),
        Err(e) => return Err(from_client(e, key)),
    };
    if st.file_type == FileType::Directory && (!key.ends_with('/') || st.children > 0) {
        // Not an object: a prefix of others (S3 has nothing to delete here).
        return Ok(());
    }
    match dfs.delete(&path, false).await {
        Ok(_) => {}
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(()),
        Err(e) => return Err(from_client(e, key)),
    }
    remove_empty_parents(dfs, bucket, &path).await;
    Ok(())
}

/// S3 has no directories: the ones a deleted key leaves empty go too, up
/// to the bucket, so they do not linger as prefixes. One that is not
/// empty (a write raced in) stays: the namenode refuses it atomically.
async fn remove_empty_parents(dfs: &DfsClient, bucket: &str, path: &DfsPath) {
    let Ok(top) = bucket_path(bucket) else {
        return;
    };
    let mut cur = path.parent();
    while let Some(dir) = cur {
        if dir == top || dir.is_root() {
            break;
        }
        match dfs.status(&dir).await {
            Ok(st) if st.file_type == FileType::Directory && st.children == 0 => {}
            _ => break,
        }
        if dfs.delete(&dir, false).await.is_err() {
            break;
        }
        cur = dir.parent();
    }
}

/// DeleteObjects: up to 1,000 keys; each deleted or its error reported.
pub async fn delete_objects(ctx: &mut Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    bucket::require(ctx, &bucket).await?;
    let body = ctx.small_body().await?;
    let req: xml::Delete = xml::from_xml(&body)?;
    if req.objects.len() > 1000 {
        return Err(S3Error::malformed_xml(
            "a DeleteObjects request names at most 1,000 keys",
        ));
    }
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for o in req.objects {
        match delete_key(&ctx.dfs, &bucket, &o.key).await {
            Ok(()) if req.quiet => {}
            Ok(()) => deleted.push(xml::Deleted { key: o.key }),
            Err(e) => errors.push(xml::DeleteError {
                key: o.key,
                code: e.code.to_string(),
                message: e.message,
            }),
        }
    }
    xml::to_xml(&xml::DeleteResult {
        xmlns: XMLNS,
        deleted,
        errors,
    })
    .map(xml_ok)
}

/// `x-amz-copy-source`: `[/]bucket/key`, URL-encoded (a `versionId` other
/// than `null` is refused: dfs keeps one version).
pub fn copy_source(ctx: &Ctx) -> S3Result<(String, String)> {
    let raw = ctx.header("x-amz-copy-source").unwrap_or_default();
    let (raw, version) = raw.split_once('?').unwrap_or((raw, ""));
    if !version.is_empty() && version != "versionId=null" {
        return Err(S3Error::not_implemented("dfs keeps no object versions"));
    }
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| S3Error::invalid_argument("x-amz-copy-source is not UTF-8"))?;
    let s = decoded.strip_prefix('/').unwrap_or(&decoded);
    let (b, k) = s
        .split_once('/')
        .ok_or_else(|| S3Error::invalid_argument("x-amz-copy-source must be bucket/key"))?;
    if k.is_empty() {
        return Err(S3Error::invalid_argument("x-amz-copy-source names no key"));
    }
    Ok((b.to_string(), k.to_string()))
}

/// The object `x-amz-copy-source` names, its attributes, its copy
/// conditions checked (CopyObject, UploadPartCopy).
pub async fn checked_copy_source(ctx: &Ctx) -> S3Result<(FileStatus, Xattrs)> {
    let (sb, sk) = copy_source(ctx)?;
    let src = status(ctx, &sb, &sk).await?;
    if src.file_type == FileType::Directory {
        return Err(S3Error::no_such_key(&sk));
    }
    let x = xattrs_of(&ctx.dfs, &src.path).await?;
    copy_preconditions(
        ctx.req.headers(),
        &meta::etag(&src, &x),
        src.modification_time,
    )?;
    Ok((src, x))
}

/// The source's copy conditions (`x-amz-copy-source-if-*`): 412 when one
/// does not hold.
pub fn copy_preconditions(headers: &HeaderMap, etag: &str, mtime_ms: u64) -> S3Result<()> {
    let mut h = HeaderMap::new();
    for (from, to) in [
        ("x-amz-copy-source-if-match", "if-match"),
        ("x-amz-copy-source-if-none-match", "if-none-match"),
        ("x-amz-copy-source-if-modified-since", "if-modified-since"),
        (
            "x-amz-copy-source-if-unmodified-since",
            "if-unmodified-since",
        ),
    ] {
        if let Some(v) = headers.get(from) {
            if let Ok(name) = actix_web::http::header::HeaderName::try_from(to) {
                h.insert(name, v.clone());
            }
        }
    }
    match preconditions(&h, etag, mtime_ms)? {
        Some(_) => Err(S3Error::new(
            "PreconditionFailed",
            StatusCode::PRECONDITION_FAILED,
            "a copy source condition did not hold",
        )),
        None => Ok(()),
    }
}

/// A reader of a source object's verified bytes `[offset, offset+len)`,
/// with the slot its MD5 lands in.
pub async fn source_reader(
    dfs: &DfsClient,
    st: &FileStatus,
    offset: u64,
    len: u64,
) -> S3Result<(Box<dyn AsyncRead + Unpin>, Md5Slot)> {
    let plain: Box<dyn AsyncRead + Unpin> = if len == 0 {
        Box::new(tokio::io::empty())
    } else {
        let r = dfs
            .open(&st.path, offset, Some(len))
            .await
            .map_err(|e| from_client(e, st.path.as_str()))?;
        Box::new(tokio_util::io::StreamReader::new(
            r.map_err(|e| std::io::Error::other(e.to_string())),
        ))
    };
    let check = BodyCheck::from_headers(&HeaderMap::new(), &Payload::Unsigned)?;
    let (checked, md5) = CheckedBody::new(plain, check);
    Ok((Box::new(checked), md5))
}

/// CopyObject: a new file with the source's bytes (read verified, written
/// through the pipeline: it shares nothing with the source) and its
/// metadata, or the request's with `x-amz-metadata-directive: REPLACE`.
pub async fn copy(ctx: &mut Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let key = ctx.key()?.to_string();
    let dst = object_path(&bucket, &key)?;
    let (src, src_x) = checked_copy_source(ctx).await?;
    bucket::require(ctx, &bucket).await?;
    let replace = ctx
        .header("x-amz-metadata-directive")
        .is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
    if src.path == dst && !replace {
        return Err(S3Error::invalid_request(
            "this copy request is illegal because it is trying to copy an object to itself without changing the object's metadata",
        ));
    }
    let attrs = if replace {
        meta::from_headers(ctx.req.headers())?
    } else {
        meta::without_etag(&src_x)
    };
    // The (empty) request body is read and checked like any other.
    drop(ctx.small_body().await?);
    let (reader, md5) = source_reader(&ctx.dfs, &src, 0, src.length).await?;
    let (st, etag) = store(&ctx.dfs, &dst, reader, md5, attrs, None).await?;
    log::info!("S3 copy {} to {} ({} bytes)", src.path, st.path, st.length);
    xml::to_xml(&xml::CopyObjectResult {
        xmlns: XMLNS,
        last_modified: xml::iso8601(st.modification_time),
        etag,
    })
    .map(xml_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-1000", 100).unwrap(), Some((0, 99)));
        assert_eq!(parse_range("bytes=5-1000", 100).unwrap(), Some((5, 99)));
        assert_eq!(parse_range("bytes=0-1,5-6", 100).unwrap(), None);
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
        for bad in [
            "bytes=100-",
            "bytes=9-5",
            "bytes=-0",
            "bytes=x-1",
            "bytes=5",
        ] {
            assert_eq!(
                parse_range(bad, 100).unwrap_err().code,
                "InvalidRange",
                "{bad}"
            );
        }
        assert!(parse_range("bytes=0-", 0).is_err());
    }

    #[test]
    fn conditions() {
        let mut h = HeaderMap::new();
        h.insert("if-match".parse().unwrap(), "\"abc\"".parse().unwrap());
        assert!(preconditions(&h, "\"abc\"", 0).unwrap().is_none());
        assert_eq!(preconditions(&h, "\"x\"", 0).unwrap_err().status, 412);
        let mut h = HeaderMap::new();
        h.insert("if-none-match".parse().unwrap(), "\"abc\"".parse().unwrap());
        assert_eq!(
            preconditions(&h, "\"abc\"", 0).unwrap().unwrap().status(),
            304
        );
        let mut h = HeaderMap::new();
        h.insert(
            "if-modified-since".parse().unwrap(),
            http_date(10_000_000).parse().unwrap(),
        );
        assert!(preconditions(&h, "\"a\"", 5_000_000).unwrap().is_some());
        assert!(preconditions(&h, "\"a\"", 20_000_000).unwrap().is_none());
    }
}
