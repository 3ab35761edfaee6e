//! Multipart uploads. An upload is a directory of its bucket's staging
//! area, `/<bucket>/.s3-multipart/<upload id>/`: a file `upload` whose
//! extended attributes hold the key and the object's metadata, and one
//! file per part (`part-00001`...), each written through the pipeline as
//! it arrives (with its MD5 as ETag), so parts are durable and replicated
//! like any file and an upload survives a namenode failover.
//!
//! A part is written as one block of its own length (up to 128 MiB), so
//! parts of one size, as clients send them, line up as one file's blocks.
//! Complete then joins them without a copy: it reads them once, verified,
//! for the whole's SHA-256, and the namenode moves their blocks to the
//! object (`ConcatRequest`). Parts that do not line up (sizes that differ,
//! or over 128 MiB and not a multiple of the block size) are copied into
//! the object, in order, read verified (see the README for what each
//! costs). Either way the ETag is S3's `md5-of-md5s-N`, and the upload is
//! removed. Its answer starts at once and carries spaces while the copy
//! runs, then the result or an `<Error>` (S3's own way: a 200 whose body
//! is an error, which SDKs check for), so no client times out on a large
//! object. Abort removes it. The staging area is no key: listings never
//! show it and keys under it are refused.
use crate::bucket::{self, xml_ok};
use crate::error::{from_client, S3Error, S3Result};
use crate::meta;
use crate::object::{self, source_reader, store, store_with, xattrs_of};
use crate::request::{bucket_path, object_path, Ctx, STAGING};
use crate::xml::{self, XMLNS};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileStatus, Xattrs};
use futures_util::{StreamExt, TryStreamExt};
use md5::Digest;

/// The attribute of an upload's `upload` file naming its key.
const KEY_ATTR: &str = "s3.key";
const MARKER: &str = "upload";
pub const MAX_PARTS: u32 = 10_000;
/// The smallest part but the last (S3's `EntityTooSmall`).
pub const MIN_PART: u64 = 5 << 20;

fn upload_dir(bucket: &str, id: &str) -> S3Result<DfsPath> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(S3Error::no_such_upload(id));
    }
    bucket_path(bucket)?
        .join(STAGING)
        .and_then(|d| d.join(id))
        .map_err(|e| S3Error::internal(e.to_string()))
}

fn part_name(n: u32) -> String {
    format!("part-{n:05}")
}

fn part_number(ctx: &Ctx) -> S3Result<u32> {
    ctx.param("partNumber")
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(format!("partNumber must be a number from 1 to {MAX_PARTS}"))
        })
}

fn upload_id(ctx: &Ctx) -> S3Result<String> {
    Ok(ctx.param("uploadId").unwrap_or_default().to_string())
}

/// The upload's directory and its attributes, checked to be for `key`.
async fn open_upload(ctx: &Ctx, bucket: &str, key: &str, id: &str) -> S3Result<(DfsPath, Xattrs)> {
    let dir = upload_dir(bucket, id)?;
    let marker = dir
        .join(MARKER)
        .map_err(|e| S3Error::internal(e.to_string()))?;
    match ctx.dfs.status(&marker).await {
        Ok(_) => {}
        Err(e) if e.code() == ErrorCode::NotFound => {
            bucket::require(ctx, bucket).await?;
            return Err(S3Error::no_such_upload(id));
        }
        Err(e) => return Err(from_client(e, key)),
    }
    let x = xattrs_of(&ctx.dfs, &marker).await?;
    if x.get(KEY_ATTR).map(String::as_str) != Some(key) {
        return Err(S3Error::no_such_upload(id));
    }
    Ok((dir, x))
}

pub async fn create(ctx: &mut Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let key = ctx.key()?.to_string();
    object_path(&bucket, &key)?;
    bucket::require(ctx, &bucket).await?;
    let mut attrs = meta::from_headers(ctx.req.headers())?;
    attrs.insert(KEY_ATTR.into(), key.clone());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let marker = upload_dir(&bucket, &id)?
        .join(MARKER)
        .map_err(|e| S3Error::internal(e.to_string()))?;
    let (body, md5) = ctx.body()?;
    store(&ctx.dfs, &marker, body, md5, attrs, Some(String::new())).await?;
    log::info!("S3 multipart upload {id} of {bucket}/{key} started");
    xml::to_xml(&xml::InitiateMultipartUploadResult {
        xmlns: XMLNS,
        bucket,
        key,
        upload_id: id,
    })
    .map(xml_ok)
}

pub async fn upload_part(ctx: &mut Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let key = ctx.key()?.to_string();
    let n = part_number(ctx)?;
    let id = upload_id(ctx)?;
    let (dir, _) = open_upload(ctx, &bucket, &key, &id).await?;
    let path = dir
        .join(&part_name(n))
        .map_err(|e| S3Error::internal(e.to_string()))?;
    let len = ctx
        .header("x-amz-decoded-content-length")
        .or_else(|| ctx.header("content-length"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (body, md5) = ctx.body()?;
    let (_, etag) = store_with(
        &ctx.dfs,
        &path,
        body,
        md5,
        Xattrs::new(),
        None,
        part_block_size(len),
    )
    .await?;
    Ok(HttpResponse::Ok().insert_header(("etag", etag)).finish())
}

pub async fn upload_part_copy(ctx: &mut Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let key = ctx.key()?.to_string();
    let n = part_number(ctx)?;
    let id = upload_id(ctx)?;
    let (dir, _) = open_upload(ctx, &bucket, &key, &id).await?;
    let (src, _) = object::checked_copy_source(ctx).await?;
    let (offset, len) = match ctx.header("x-amz-copy-source-range") {
        Some(r) => match object::parse_range(r, src.length)? {
            Some((a, b)) => (a, b - a + 1),
            None => {
                return Err(S3Error::invalid_argument(
                    "x-amz-copy-source-range must be bytes=first-last",
                ))
            }
        },
        None => (0, src.length),
    };
    drop(ctx.small_body().await?);
    let path = dir
        .join(&part_name(n))
        .map_err(|e| S3Error::internal(e.to_string()))?;
    let (reader, md5) = source_reader(&ctx.dfs, &src, offset, len).await?;
    let (st, etag) = store_with(
        &ctx.dfs,
        &path,
        reader,
        md5,
        Xattrs::new(),
        None,
        part_block_size(Some(len)),
    )
    .await?;
    xml::to_xml(&xml::CopyPartResult {
        xmlns: XMLNS,
        last_modified: xml::iso8601(st.modification_time),
        etag,
    })
    .map(xml_ok)
}

/// The parts stored so far, by number, with their ETags (unquoted).
async fn parts(ctx: &Ctx, dir: &DfsPath) -> S3Result<Vec<(u32, FileStatus, String)>> {
    let entries = ctx
        .dfs
        .list(dir)
        .await
        .map_err(|e| from_client(e, dir.as_str()))?;
    let mut parts: Vec<(u32, FileStatus)> = entries
        .into_iter()
        .filter_map(|e| {
            let n = e.name.strip_prefix("part-")?.parse().ok()?;
            Some((n, e))
        })
        .collect();
    parts.sort_by_key(|(n, _)| *n);
    let paths: Vec<DfsPath> = parts.iter().map(|(_, e)| e.path.clone()).collect();
    let xattrs = ctx
        .dfs
        .xattrs(&paths)
        .await
        .map_err(|e| from_client(e, dir.as_str()))?;
    Ok(parts
        .into_iter()
        .zip(xattrs)
        .map(|((n, st), x)| {
            let etag = meta::etag(&st, &x).trim_matches('"').to_string();
            (n, st, etag)
        })
        .collect())
}

pub async fn list_parts(ctx: &Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let key = ctx.key()?.to_string();
    let id = upload_id(ctx)?;
    let (dir, _) = open_upload(ctx, &bucket, &key, &id).await?;
    let marker: u32 = ctx
        .param("part-number-marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let max: usize = ctx
        .param("max-parts")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000)
        .min(1000);
    let all: Vec<_> = parts(ctx, &dir)
        .await?
        .into_iter()
        .filter(|(n, _, _)| *n > marker)
        .collect();
    let truncated = all.len() > max;
    let page: Vec<xml::Part> = all
        .into_iter()
        .take(max)
        .map(|(n, st, etag)| xml::Part {
            part_number: n,
            last_modified: xml::iso8601(st.modification_time),
            etag: format!("\"{etag}\""),
            size: st.length,
        })
        .collect();
    let next = page.last().map_or(marker, |p| p.part_number);
    xml::to_xml(&xml::ListPartsResult {
        xmlns: XMLNS,
        bucket,
        key,
        upload_id: id,
        part_number_marker: marker,
        next_part_number_marker: next,
        max_parts: max,
        is_truncated: truncated,
        parts: page,
        storage_class: "STANDARD",
    })
    .map(xml_ok)
}

pub async fn complete(ctx: &mut Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let key = ctx.key()?.to_string();
    let id = upload_id(ctx)?;
    let dst = object_path(&bucket, &key)?;
    let (dir, marker_x) = open_upload(ctx, &bucket, &key, &id).await?;
    // Its x-amz-checksum-* headers are the whole object's, not the XML's.
    let body = ctx
        .small_body_checked(|c| c.without_checksum_headers())
        .await?;
    let req: xml::CompleteMultipartUpload = xml::from_xml(&body)?;
    if req.parts.is_empty() {
        return Err(S3Error::malformed_xml("the upload names no part"));
    }
    let stored = parts(ctx, &dir).await?;
    let invalid_part = |n: u32| {
        S3Error::new(
            "InvalidPart",
            StatusCode::BAD_REQUEST,
            format!("part {n} was not uploaded, or its ETag does not match"),
        )
    };
    let mut chosen: Vec<FileStatus> = Vec::new();
    let mut md5s = md5::Md5::new();
    let mut prev = 0;
    let count = req.parts.len();
    for (i, p) in req.parts.iter().enumerate() {
        if p.part_number <= prev {
            return Err(S3Error::new(
                "InvalidPartOrder",
                StatusCode::BAD_REQUEST,
                "the parts must be listed in ascending order of their numbers",
            ));
        }
        prev = p.part_number;
        let Some((_, st, etag)) = stored.iter().find(|(n, _, _)| *n == p.part_number) else {
            return Err(invalid_part(p.part_number));
        };
        if p.etag.trim().trim_matches('"') != etag {
            return Err(invalid_part(p.part_number));
        }
        if i + 1 < count && st.length < MIN_PART {
            return Err(S3Error::new(
                "EntityTooSmall",
                StatusCode::BAD_REQUEST,
                format!(
                    "part {} is {} bytes; every part but the last must be at least 5 MiB",
                    p.part_number, st.length
                ),
            ));
        }
        let raw = hex::decode(etag).map_err(|_| invalid_part(p.part_number))?;
        md5s.update(&raw);
        chosen.push(st.clone());
    }
    let etag = format!("{}-{count}", hex::encode(md5s.finalize()));
    let mut attrs = marker_x;
    attrs.remove(KEY_ATTR);
    let job = Assembly {
        dfs: ctx.dfs.clone(),
        parts: chosen,
        dst,
        attrs,
        etag,
        dir,
        id,
        bucket,
        key,
    };
    // The copy takes as long as the object is big: the answer starts now
    // and says nothing but spaces until it ends (S3 does the same), so a
    // client's read timeout does not cut a long Complete short; its
    // outcome, the result or an error, ends the body.
    let (tx, done) = tokio::sync::oneshot::channel();
    actix_web::rt::spawn(async move {
        let _ = tx.send(job.run().await);
    });
    let body = futures_util::stream::unfold(Some(done), |state| async move {
        let mut done = state?;
        let piece = tokio::select! {
            r = &mut done => {
                let text = match r {
                    Ok(Ok(xml)) => xml,
                    Ok(Err(e)) => e.to_xml_fragment(),
                    Err(_) => S3Error::internal("the assembly stopped").to_xml_fragment(),
                };
                return Some((Ok::<_, std::io::Error>(bytes::Bytes::from(text)), None));
            }
            _ = tokio::time::sleep(KEEPALIVE) => bytes::Bytes::from_static(b" "),
        };
        Some((Ok(piece), Some(done)))
    });
    let head = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        ))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/xml")
        .streaming(head.chain(body)))
}

/// The largest part written as one block (larger ones take the
/// namenode's block size).
const MAX_PART_BLOCK: u64 = 128 << 20;

/// A part of `len` bytes is written as one block of its own length (at
/// least 64 KiB), so parts of one size line up and Complete can join them
/// without a copy; unknown or large lengths take the namenode's block size.
fn part_block_size(len: Option<u64>) -> Option<u64> {
    len.filter(|l| *l > 0 && *l <= MAX_PART_BLOCK)
        .map(|l| l.max(64 << 10))
}

/// How often a long Complete sends a space to keep its answer alive.
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(10);

/// A Complete, once its request is checked: the object written from the
/// parts, then the upload removed.
struct Assembly {
    dfs: dfs_client::DfsClient,
    parts: Vec<FileStatus>,
    dst: DfsPath,
    attrs: Xattrs,
    etag: String,
    dir: DfsPath,
    id: String,
    bucket: String,
    key: String,
}

impl Assembly {
    /// The answer's XML (without its declaration).
    async fn run(self) -> S3Result<String> {
        let (st, etag) = match self.lined_up() {
            true => match self.join().await {
                Ok(done) => done,
                // The namenode judged otherwise (a part in a snapshot, say):
                // the copy works whatever the blocks.
                Err(e) if matches!(e.code(), ErrorCode::BadRequest | ErrorCode::Conflict) => {
                    log::info!(
                        "S3 multipart upload {}: parts not joined ({e}); copying them",
                        self.id
                    );
                    self.copy().await?
                }
                Err(e) => return Err(from_client(e, &self.key)),
            },
            false => self.copy().await?,
        };
        if let Err(e) = self.dfs.delete(&self.dir, true).await {
            log::warn!(
                "S3 multipart upload {}: the parts were not removed: {e}",
                self.id
            );
        }
        log::info!(
            "S3 multipart upload {} completed as {} ({} bytes)",
            self.id,
            st.path,
            st.length
        );
        let xml = xml::to_xml(&xml::CompleteMultipartUploadResult {
            xmlns: XMLNS,
            location: format!("/{}/{}", self.bucket, self.key),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            etag,
        })?;
        // The declaration went out first.
        Ok(xml
            .split_once('\n')
            .map_or(xml.clone(), |(_, body)| body.to_string()))
    }

    /// Whether the parts' blocks line up as one file's (each part but the
    /// last a whole number of blocks of the first's block size, the last
    /// one block at most or of that size too): then they are joined.
    fn lined_up(&self) -> bool {
        let Some(first) = self.parts.first() else {
            return false;
        };
        let b = first.block_size;
        let n = self.parts.len();
        b > 0
            && self.parts.iter().enumerate().all(|(i, p)| {
                if i + 1 < n {
                    p.block_size == b && p.length > 0 && p.length % b == 0
                } else {
                    p.block_size == b || p.length <= b
                }
            })
    }

    /// The parts joined without a copy: read once, verified, for the
    /// whole's SHA-256, then their blocks moved to the object.
    async fn join(&self) -> Result<(FileStatus, String), dfs_client::ClientError> {
        let mut h = dfs_common::checksum::Sha256Hasher::new();
        for p in self.parts.iter().filter(|p| p.length > 0) {
            let mut r = self.dfs.open(&p.path, 0, None).await?;
            while let Some(piece) = r.next().await {
                h.update(&piece?);
            }
        }
        let sha256 = h.finish();
        let mut xattrs = self.attrs.clone();
        xattrs.insert(
            meta::ETAG.into(),
            meta::etag_attr(&self.etag, &sha256.to_hex()),
        );
        let st = self
            .dfs
            .concat(&dfs_common::proto::client::ConcatRequest {
                parts: self.parts.iter().map(|p| p.path.clone()).collect(),
                dst: self.dst.clone(),
                sha256,
                xattrs,
            })
            .await?;
        Ok((st, format!("\"{}\"", self.etag)))
    }

    /// The parts copied into the object, in order, read verified.
    async fn copy(&self) -> S3Result<(FileStatus, String)> {
        let dfs = self.dfs.clone();
        let parts = self.parts.clone();
        let stream = futures_util::stream::iter(parts.into_iter().filter(|st| st.length > 0))
            .then(move |st| {
                let dfs = dfs.clone();
                async move {
                    dfs.open(&st.path, 0, None)
                        .await
                        .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
                        .map_err(|e| std::io::Error::other(e.to_string()))
                }
            })
            .try_flatten();
        let reader = tokio_util::io::StreamReader::new(Box::pin(stream));
        let unused = std::sync::Arc::new(std::sync::Mutex::new(None));
        store(
            &self.dfs,
            &self.dst,
            reader,
            unused,
            self.attrs.clone(),
            Some(self.etag.clone()),
        )
        .await
    }
}

pub async fn abort(ctx: &Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let key = ctx.key()?.to_string();
    let id = upload_id(ctx)?;
    let (dir, _) = open_upload(ctx, &bucket, &key, &id).await?;
    ctx.dfs
        .delete(&dir, true)
        .await
        .map_err(|e| from_client(e, &key))?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn list_uploads(ctx: &Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let root = bucket::require(ctx, &bucket).await?;
    let prefix = ctx.param("prefix").unwrap_or("");
    let staging = root
        .join(STAGING)
        .map_err(|e| S3Error::internal(e.to_string()))?;
    let dirs = match ctx.dfs.list(&staging).await {
        Ok(d) => d,
        Err(e) if e.code() == ErrorCode::NotFound => Vec::new(),
        Err(e) => return Err(from_client(e, &bucket)),
    };
    let markers: Vec<DfsPath> = dirs
        .iter()
        .filter_map(|d| d.path.join(MARKER).ok())
        .collect();
    let xattrs = ctx
        .dfs
        .xattrs(&markers)
        .await
        .map_err(|e| from_client(e, &bucket))?;
    let mut uploads: Vec<xml::Upload> = dirs
        .iter()
        .zip(xattrs)
        .filter_map(|(d, x)| {
            let key = x.get(KEY_ATTR)?.clone();
            key.starts_with(prefix).then(|| xml::Upload {
                key,
                upload_id: d.name.clone(),
                initiated: xml::iso8601(d.modification_time),
                storage_class: "STANDARD",
            })
        })
        .collect();
    uploads.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
    let max = 1000;
    let truncated = uploads.len() > max;
    uploads.truncate(max);
    xml::to_xml(&xml::ListMultipartUploadsResult {
        xmlns: XMLNS,
        bucket,
        key_marker: String::new(),
        upload_id_marker: String::new(),
        max_uploads: max,
        is_truncated: truncated,
        uploads,
    })
    .map(xml_ok)
}
