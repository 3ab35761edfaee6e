//! ListObjectsV2 (`list-type=2`) and ListObjects: a bucket's keys in S3's
//! order (byte order of the whole key), after a start, at most
//! `max-keys`, grouped into common prefixes by a delimiter.
//!
//! With the delimiter `/` (what every tool browsing "folders" sends) a
//! listing is one directory's: the directory the prefix ends in, its
//! entries whose names start with the rest of the prefix; a directory
//! answers as a common prefix. Without a delimiter, an empty directory is
//! the folder object `dir/` (size 0), as S3 consoles make them; S3 deletes
//! remove the directories they leave empty, so those do not linger. Without a delimiter (or with another) the directories under
//! the prefix are walked in key order, skipping every subtree that lies
//! wholly before the start or outside the prefix. A directory's entries
//! are sorted as S3 sorts keys (a directory `a` as `a/`, after `a-b`).
//!
//! Continuation tokens are the last key (or prefix) answered, hex-encoded.
use crate::bucket::{self, xml_ok};
use crate::error::{from_client, S3Error, S3Result};
use crate::meta;
use crate::request::{Ctx, STAGING};
use crate::xml::{self, CommonPrefix, ListBucketResult, Object, XMLNS};
use actix_web::HttpResponse;
use dfs_client::DfsClient;
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileStatus, FileType};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the unreserved characters and `/` (`encoding-type=url`:
/// botocore decodes with `unquote_plus`, so `+` must be sent as `%2B`).
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// One item of a listing, in key order.
#[derive(Debug)]
enum Item {
    Object(String, FileStatus),
    Prefix(String),
}

impl Item {
    fn key(&self) -> &str {
        match self {
            Item::Object(k, _) | Item::Prefix(k) => k,
        }
    }
}

pub async fn list_objects(ctx: &Ctx) -> S3Result<HttpResponse> {
    let bucket = ctx.bucket()?.to_string();
    let root = bucket::require(ctx, &bucket).await?;
    let v2 = ctx.param("list-type") == Some("2");
    let prefix = ctx.param("prefix").unwrap_or("").to_string();
    let delimiter = ctx.param("delimiter").filter(|d| !d.is_empty());
    let max_keys = match ctx.param("max-keys") {
        None => 1000,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| S3Error::invalid_argument("max-keys must be a number from 0"))?
            .min(1000),
    };
    let url = match ctx.param("encoding-type") {
        None => false,
        Some("url") => true,
        Some(other) => {
            return Err(S3Error::invalid_argument(format!(
                "encoding-type {other:?} is not url"
            )))
        }
    };
    let token = match ctx.param("continuation-token").filter(|_| v2) {
        Some(t) => Some(
            hex::decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| S3Error::invalid_argument("the continuation token is not valid"))?,
        ),
        None => None,
    };
    let start_after = if v2 {
        ctx.param("start-after").map(str::to_string)
    } else {
        ctx.param("marker").map(str::to_string)
    };
    let start = token
        .clone()
        .or_else(|| start_after.clone())
        .filter(|s| !s.is_empty());

    let items = if max_keys == 0 {
        Vec::new()
    } else {
        collect(
            &ctx.dfs,
            &root,
            &prefix,
            delimiter,
            start.as_deref(),
            max_keys + 1,
        )
        .await?
    };
    let truncated = items.len() > max_keys;
    let items = &items[..items.len().min(max_keys)];
    let last = items.last().map(|i| i.key().to_string());

    let objects: Vec<&FileStatus> = items
        .iter()
        .filter_map(|i| match i {
            Item::Object(_, st) => Some(st),
            Item::Prefix(_) => None,
        })
        .collect();
    let paths: Vec<DfsPath> = objects.iter().map(|st| st.path.clone()).collect();
    let xattrs = ctx
        .dfs
        .xattrs(&paths)
        .await
        .map_err(|e| from_client(e, &bucket))?;
    let enc = |s: &str| {
        if url {
            utf8_percent_encode(s, KEY_ENCODE).to_string()
        } else {
            s.to_string()
        }
    };
    let mut contents = Vec::new();
    let mut common_prefixes = Vec::new();
    let mut xs = xattrs.iter();
    for item in items {
        match item {
            Item::Object(key, st) => {
                let x = xs.next().cloned().unwrap_or_default();
                let etag = if st.file_type == FileType::Directory {
                    format!("\"{}\"", crate::object::EMPTY_MD5)
                } else {
                    meta::etag(st, &x)
                };
                contents.push(Object {
                    key: enc(key),
                    last_modified: xml::iso8601(st.modification_time),
                    etag,
                    size: st.length,
                    storage_class: "STANDARD",
                });
            }
            Item::Prefix(p) => common_prefixes.push(CommonPrefix { prefix: enc(p) }),
        }
    }
    let count = contents.len() + common_prefixes.len();
    let next = last.filter(|_| truncated);
    let result = ListBucketResult {
        xmlns: XMLNS,
        name: bucket,
        prefix: enc(&prefix),
        marker: (!v2).then(|| enc(ctx.param("marker").unwrap_or(""))),
        next_marker: if v2 { None } else { next.as_deref().map(enc) },
        start_after: if v2 {
            start_after.as_deref().map(enc)
        } else {
            None
        },
        continuation_token: if v2 {
            ctx.param("continuation-token").map(str::to_string)
        } else {
            None
        },
        next_continuation_token: if v2 {
            next.as_deref().map(|k| hex::encode(k.as_bytes()))
        } else {
            None
        },
        key_count: v2.then_some(count),
        max_keys,
        delimiter: delimiter.map(enc),
        encoding_type: url.then(|| "url".to_string()),
        is_truncated: truncated,
        contents,
        common_prefixes,
    };
    xml::to_xml(&result).map(xml_ok)
}

/// A directory's entries in S3's key order (the staging area left out).
async fn sorted_entries(dfs: &DfsClient, dir: &DfsPath, top: bool) -> S3Result<Vec<FileStatus>> {
    let mut entries = match dfs.list(dir).await {
        Ok(e) => e,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(from_client(e, dir.as_str())),
    };
    entries.retain(|e| !(top && e.name == STAGING));
    // A file listed for a "directory" path: the prefix names a file.
    entries.retain(|e| e.path != *dir);
    entries.sort_by_cached_key(sort_name);
    Ok(entries)
}

fn sort_name(e: &FileStatus) -> String {
    if e.file_type == FileType::Directory {
        format!("{}/", e.name)
    } else {
        e.name.clone()
    }
}

/// The key of `st` in the bucket at `root`.
fn key_of(root: &DfsPath, st: &FileStatus) -> String {
    st.path
        .as_str()
        .strip_prefix(root.as_str())
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string()
}

/// Up to `want` items of the listing, in order, after `start`.
async fn collect(
    dfs: &DfsClient,
    root: &DfsPath,
    prefix: &str,
    delimiter: Option<&str>,
    start: Option<&str>,
    want: usize,
) -> S3Result<Vec<Item>> {
    let after = |k: &str| start.is_none_or(|s| k > s);
    // The directory holding every key with this prefix.
    let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
    let dir = if dir_part.is_empty() {
        root.clone()
    } else {
        match format!("{root}/{dir_part}").parse::<DfsPath>() {
            Ok(d) => d,
            // No directory can have that name: no key has the prefix.
            Err(_) => return Ok(Vec::new()),
        }
    };
    let mut out = Vec::new();
    if delimiter == Some("/") {
        for e in sorted_entries(dfs, &dir, dir == *root).await? {
            let key = key_of(root, &e);
            if !key.starts_with(prefix) {
                continue;
            }
            let item = if e.file_type == FileType::Directory {
                Item::Prefix(format!("{key}/"))
            } else {
                Item::Object(key, e)
            };
            if after(item.key()) {
                out.push(item);
                if out.len() >= want {
                    break;
                }
            }
        }
        return Ok(out);
    }
    // Walk the subtree in key order: a stack of sorted entries, reversed.
    let mut stack: Vec<FileStatus> = sorted_entries(dfs, &dir, dir == *root).await?;
    stack.reverse();
    let mut last_prefix: Option<String> = None;
    while let Some(e) = stack.pop() {
        let mut key = key_of(root, &e);
        if e.file_type == FileType::Directory && e.children == 0 {
            // An empty directory is the folder object `key/` (what S3
            // consoles make), listed as such.
            key.push('/');
        } else if e.file_type == FileType::Directory {
            let p = format!("{key}/");
            let in_prefix = p.starts_with(prefix) || prefix.starts_with(&p);
            let wholly_before = start.is_some_and(|s| p.as_str() < s && !s.starts_with(&p));
            if in_prefix && !wholly_before {
                let mut kids = sorted_entries(dfs, &e.path, false).await?;
                kids.reverse();
                stack.extend(kids);
            }
            continue;
        }
        if !key.starts_with(prefix) || !after(&key) {
            continue;
        }
        let item = match delimiter.and_then(|d| key[prefix.len()..].find(d).map(|i| (d, i))) {
            Some((d, i)) => {
                let p = key[..prefix.len() + i + d.len()].to_string();
                if last_prefix.as_deref() == Some(p.as_str())
                    || start.is_some_and(|s| s.ends_with(d) && p.as_str() <= s)
                {
                    continue;
                }
                last_prefix = Some(p.clone());
                Item::Prefix(p)
            }
            None => Item::Object(key, e),
        };
        out.push(item);
        if out.len() >= want {
            break;
        }
    }
    Ok(out)
}
