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
//! Directories are read a page at a time from where the listing starts
//! (the prefix, the continuation), so a page of a listing costs about a
//! page of the namenode's, whatever the bucket's size.
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
use std::collections::{BTreeMap, VecDeque};

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

/// Entries asked of the namenode at once.
const PAGE: u32 = 1000;

/// A directory's entries in S3's key order, a page of the namenode's
/// listing at a time (never the whole directory at once). The namenode
/// lists by name; S3 orders a directory `X` as `X/`, after names such as
/// `X-1` or `X.txt`, which follow `X` by name: a directory is held back
/// until an entry sorts after it.
struct Cursor {
    dir: DfsPath,
    /// The bucket's own directory (its staging area is left out).
    top: bool,
    /// The name to list after next (`None`: from the start).
    after: Option<String>,
    done: bool,
    ready: VecDeque<FileStatus>,
    held: BTreeMap<String, FileStatus>,
}

impl Cursor {
    fn new(dir: DfsPath, top: bool, after: Option<String>) -> Self {
        Cursor {
            dir,
            top,
            after: after.filter(|a| !a.is_empty()),
            done: false,
            ready: VecDeque::new(),
            held: BTreeMap::new(),
        }
    }

    async fn next(&mut self, dfs: &DfsClient) -> S3Result<Option<FileStatus>> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Ok(Some(e));
            }
            if self.done {
                return Ok(self.held.pop_first().map(|(_, d)| d));
            }
            let page = match dfs
                .list_page(&self.dir, self.after.as_deref(), Some(PAGE))
                .await
            {
                Ok(p) => p,
                Err(e) if e.code() == ErrorCode::NotFound => {
                    self.done = true;
                    continue;
                }
                Err(e) => return Err(from_client(e, self.dir.as_str())),
            };
            if !page.has_more || page.entries.is_empty() {
                self.done = true;
            }
            self.after = page.entries.last().map(|e| e.name.clone());
            for e in page.entries {
                // A file listed for a "directory" path: the prefix names a file.
                if e.path == self.dir || (self.top && e.name == STAGING) {
                    continue;
                }
                let key = sort_name(&e);
                while let Some((k, d)) = self.held.pop_first() {
                    if k < key {
                        self.ready.push_back(d);
                    } else {
                        self.held.insert(k, d);
                        break;
                    }
                }
                if e.file_type == FileType::Directory {
                    self.held.insert(key, e);
                } else {
                    self.ready.push_back(e);
                }
            }
        }
    }
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

/// Where a listing of the directory whose keys start with `base` may
/// start (a name to list after): every key it must give is at least the
/// prefix's and at least the start's next component there. Names between
/// the bound and those are read and skipped (a few at most).
fn lower_bound(base: &str, prefix: &str, start: Option<&str>) -> Option<String> {
    let component = |s: &str| -> Option<String> {
        let rest = s.strip_prefix(base)?;
        just_below(rest.split('/').next().unwrap_or(""))
    };
    let from_prefix = component(prefix);
    let from_start = start.and_then(component);
    from_prefix.max(from_start)
}

/// A name just below `c` (every name from `c` on is greater): its last
/// character one lower, then the highest character; `None` for "".
fn just_below(c: &str) -> Option<String> {
    let mut chars = c.chars();
    let last = chars.next_back()?;
    let mut out = chars.as_str().to_string();
    let mut code = u32::from(last);
    while code > 0 {
        code -= 1;
        if let Some(ch) = char::from_u32(code) {
            out.push(ch);
            out.push(char::MAX);
            return Some(out);
        }
    }
    // The lowest character: the prefix without it is below.
    Some(out)
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
    // Every later key is past the prefix too: the listing is over.
    let past = |k: &str| k > prefix && !k.starts_with(prefix);
    // The directory holding every key with this prefix.
    let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
    let (dir, base) = if dir_part.is_empty() {
        (root.clone(), String::new())
    } else {
        match format!("{root}/{dir_part}").parse::<DfsPath>() {
            Ok(d) => (d, format!("{dir_part}/")),
            // No directory can have that name: no key has the prefix.
            Err(_) => return Ok(Vec::new()),
        }
    };
    let top = dir == *root;
    let mut out = Vec::new();
    if delimiter == Some("/") {
        let mut cursor = Cursor::new(dir, top, lower_bound(&base, prefix, start));
        while let Some(e) = cursor.next(dfs).await? {
            let key = key_of(root, &e);
            let item = if e.file_type == FileType::Directory {
                Item::Prefix(format!("{key}/"))
            } else {
                Item::Object(key, e)
            };
            if past(item.key()) {
                break;
            }
            if !item.key().starts_with(prefix) || !after(item.key()) {
                continue;
            }
            out.push(item);
            if out.len() >= want {
                break;
            }
        }
        return Ok(out);
    }
    // Walk the subtree in key order: a cursor per directory on the way down.
    let mut stack = vec![Cursor::new(dir, top, lower_bound(&base, prefix, start))];
    let mut last_prefix: Option<String> = None;
    while let Some(cursor) = stack.last_mut() {
        let Some(e) = cursor.next(dfs).await? else {
            stack.pop();
            continue;
        };
        let mut key = key_of(root, &e);
        if e.file_type == FileType::Directory && e.children == 0 {
            // An empty directory is the folder object `key/` (what S3
            // consoles make), listed as such.
            key.push('/');
        } else if e.file_type == FileType::Directory {
            let p = format!("{key}/");
            let in_prefix = p.starts_with(prefix) || prefix.starts_with(&p);
            if !in_prefix && past(&p) {
                break;
            }
            let wholly_before = start.is_some_and(|s| p.as_str() < s && !s.starts_with(&p));
            if in_prefix && !wholly_before {
                let bound = lower_bound(&p, prefix, start);
                stack.push(Cursor::new(e.path, false, bound));
            }
            continue;
        }
        if past(&key) {
            break;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_start_just_below_what_is_wanted() {
        assert_eq!(just_below(""), None);
        let b = just_below("k14").unwrap();
        assert!(b.as_str() < "k14" && b.as_str() > "k13" && b.as_str() > "k139999");
        assert!(just_below("\u{1}").unwrap().as_str() < "\u{1}");
        // The start's next component wins when it is further on.
        let b = lower_bound("", "k", Some("k5/x")).unwrap();
        assert!(b.as_str() < "k5" && b.as_str() > "k4");
        let b = lower_bound("a/", "a/b", Some("a/c")).unwrap();
        assert!(b.as_str() < "c" && b.as_str() > "b");
        assert_eq!(lower_bound("a/", "", None), None);
    }
}
