//! WebHDFS (Hadoop's REST API, `/webhdfs/v1/<path>?op=...`): the request
//! parameters as real clients send them, parsed into typed values, and the
//! JSON bodies in Hadoop's shapes (`FileStatus`, `FileStatuses`,
//! `DirectoryListing`, `ContentSummary`, `FileChecksum`, `boolean`, `Path`,
//! `FsStatus`, `Location`, `RemoteException`).
//!
//! Parsing follows what HdfsCLI, fsspec and curl scripts send: `op` and
//! boolean values in any case (`overwrite=False`), unknown parameters
//! ignored (`tempdir`, `buffersize`, ...), the first of a repeated parameter
//! wins (HdfsCLI repeats `user.name` on the redirected request).
//!
//! Both the namenode (metadata operations, the redirecting first step, the
//! relayed data step) and the datanode (the data step: CREATE, APPEND, OPEN)
//! import these types, so the two sides cannot disagree on a name.
use crate::error::ErrorCode;
use crate::path::DfsPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the API lives on both namenode and datanode.
pub const PREFIX: &str = "/webhdfs/v1";

/// The user when a request names none (Hadoop's static web user).
pub const DEFAULT_USER: &str = "dr.who";

/// The operations served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    GetFileStatus,
    ListStatus,
    ListStatusBatch,
    GetContentSummary,
    GetFileChecksum,
    GetHomeDirectory,
    GetTrashRoot,
    GetStatus,
    GetQuotaUsage,
    GetSnapshotList,
    GetSnapshottableDirectoryList,
    GetSnapshotDiff,
    Open,
    Mkdirs,
    Create,
    Rename,
    SetReplication,
    SetTimes,
    SetPermission,
    SetOwner,
    Append,
    Delete,
    SetQuota,
    AllowSnapshot,
    DisallowSnapshot,
    CreateSnapshot,
    DeleteSnapshot,
    RenameSnapshot,
}

/// The HTTP method an operation comes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
}

impl Op {
    const ALL: [(Op, &'static str, Method); 28] = [
        (Op::GetFileStatus, "GETFILESTATUS", Method::Get),
        (Op::ListStatus, "LISTSTATUS", Method::Get),
        (Op::ListStatusBatch, "LISTSTATUS_BATCH", Method::Get),
        (Op::GetContentSummary, "GETCONTENTSUMMARY", Method::Get),
        (Op::GetFileChecksum, "GETFILECHECKSUM", Method::Get),
        (Op::GetHomeDirectory, "GETHOMEDIRECTORY", Method::Get),
        (Op::GetTrashRoot, "GETTRASHROOT", Method::Get),
        (Op::GetStatus, "GETSTATUS", Method::Get),
        (Op::GetQuotaUsage, "GETQUOTAUSAGE", Method::Get),
        (Op::GetSnapshotList, "GETSNAPSHOTLIST", Method::Get),
        (Op::GetSnapshotDiff, "GETSNAPSHOTDIFF", Method::Get),
        (
            Op::GetSnapshottableDirectoryList,
            "GETSNAPSHOTTABLEDIRECTORYLIST",
            Method::Get,
        ),
        (Op::Open, "OPEN", Method::Get),
        (Op::Mkdirs, "MKDIRS", Method::Put),
        (Op::Create, "CREATE", Method::Put),
        (Op::Rename, "RENAME", Method::Put),
        (Op::SetReplication, "SETREPLICATION", Method::Put),
        (Op::SetTimes, "SETTIMES", Method::Put),
        (Op::SetPermission, "SETPERMISSION", Method::Put),
        (Op::SetOwner, "SETOWNER", Method::Put),
        (Op::SetQuota, "SETQUOTA", Method::Put),
        (Op::AllowSnapshot, "ALLOWSNAPSHOT", Method::Put),
        (Op::DisallowSnapshot, "DISALLOWSNAPSHOT", Method::Put),
        (Op::CreateSnapshot, "CREATESNAPSHOT", Method::Put),
        (Op::DeleteSnapshot, "DELETESNAPSHOT", Method::Delete),
        (Op::RenameSnapshot, "RENAMESNAPSHOT", Method::Put),
        (Op::Append, "APPEND", Method::Post),
        (Op::Delete, "DELETE", Method::Delete),
    ];

    /// `op=` in any case; the error names what is accepted.
    pub fn parse(raw: &str, method: Method) -> Result<Op, String> {
        let up = raw.trim().to_ascii_uppercase();
        let Some((op, name, m)) = Op::ALL.iter().find(|(_, n, _)| *n == up) else {
            return Err(format!(
                "Invalid value for webhdfs parameter \"op\": No enum constant {raw:?}"
            ));
        };
        if *m != method {
            return Err(format!(
                "Invalid value for webhdfs parameter \"op\": {name} is not a {method:?} operation (use {m:?})"
            ));
        }
        Ok(*op)
    }

    pub fn name(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(o, _, _)| *o == self)
            .map_or("", |(_, n, _)| n)
    }
}

/// The parameters of one request, typed. Absent means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub op: Option<String>,
    pub user: Option<String>,
    pub overwrite: Option<bool>,
    pub replication: Option<u16>,
    pub block_size: Option<u64>,
    pub permission: Option<u16>,
    pub offset: Option<u64>,
    pub length: Option<u64>,
    pub noredirect: bool,
    pub recursive: Option<bool>,
    pub destination: Option<String>,
    pub start_after: Option<String>,
    /// -1 (or absent) leaves it unchanged.
    pub modification_time: Option<i64>,
    pub access_time: Option<i64>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub namenode_rpc_address: Option<String>,
    /// The snapshot ops' `snapshotname` and `oldsnapshotname`.
    pub snapshot_name: Option<String>,
    pub old_snapshot_name: Option<String>,
    /// SETQUOTA's `namespacequota` and `storagespacequota`.
    pub namespace_quota: Option<QuotaParam>,
    pub storage_space_quota: Option<QuotaParam>,
}

/// A SETQUOTA value as Hadoop's client sends it: `-1` clears the quota
/// (`HdfsConstants.QUOTA_RESET`), `Long.MAX_VALUE` leaves it as it is
/// (`QUOTA_DONT_SET`, also what an absent parameter means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaParam {
    Clear,
    Keep,
    Set(u64),
}

fn parse_quota(name: &str, v: &str) -> Result<QuotaParam, String> {
    match v.trim().parse::<i64>() {
        Ok(-1) => Ok(QuotaParam::Clear),
        Ok(i64::MAX) => Ok(QuotaParam::Keep),
        Ok(n) if n >= 0 => Ok(QuotaParam::Set(n as u64)),
        _ => Err(bad_value(name, v, "a quota (-1 clears it)")),
    }
}

impl Params {
    /// Parses decoded query pairs. Unknown names are ignored; a known one
    /// with a bad value is an error naming it (400 IllegalArgumentException).
    pub fn parse(pairs: &[(String, String)]) -> Result<Params, String> {
        let mut first: BTreeMap<String, &str> = BTreeMap::new();
        for (k, v) in pairs {
            first.entry(k.to_ascii_lowercase()).or_insert(v.as_str());
        }
        let get = |k: &str| first.get(k).copied();
        let text = |k: &str| get(k).filter(|v| !v.is_empty()).map(str::to_string);
        let boolean = |k: &str| get(k).map(|v| parse_bool(k, v)).transpose();
        let number = |k: &str| {
            get(k)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| bad_value(k, v, "a non-negative integer"))
                })
                .transpose()
        };
        let time = |k: &str| {
            get(k)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| bad_value(k, v, "a time in milliseconds or -1"))
                })
                .transpose()
        };
        let replication = number("replication")?
            .map(|n| {
                u16::try_from(n)
                    .ok()
                    .filter(|r| *r > 0)
                    .ok_or_else(|| bad_value("replication", &n.to_string(), "1 to 32767"))
            })
            .transpose()?;
        let permission = get("permission")
            .filter(|v| !v.is_empty())
            .map(parse_permission)
            .transpose()?;
        Ok(Params {
            op: text("op"),
            user: text("user.name"),
            overwrite: boolean("overwrite")?,
            replication,
            block_size: number("blocksize")?.filter(|b| *b > 0),
            permission,
            offset: number("offset")?,
            length: number("length")?,
            noredirect: boolean("noredirect")?.unwrap_or(false),
            recursive: boolean("recursive")?,
            destination: text("destination"),
            start_after: text("startafter"),
            modification_time: time("modificationtime")?,
            access_time: time("accesstime")?,
            owner: text("owner"),
            group: text("group"),
            namenode_rpc_address: text("namenoderpcaddress"),
            snapshot_name: text("snapshotname"),
            old_snapshot_name: text("oldsnapshotname"),
            namespace_quota: text("namespacequota")
                .map(|v| parse_quota("namespacequota", &v))
                .transpose()?,
            storage_space_quota: text("storagespacequota")
                .map(|v| parse_quota("storagespacequota", &v))
                .transpose()?,
        })
    }

    /// The user a request acts as (`user.name`, else `dr.who`).
    pub fn user_or_default(&self) -> &str {
        self.user.as_deref().unwrap_or(DEFAULT_USER)
    }
}

fn bad_value(name: &str, value: &str, want: &str) -> String {
    format!("Invalid value for webhdfs parameter \"{name}\": {value:?} is not {want}")
}

/// `true` / `false` in any case.
pub fn parse_bool(name: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad_value(name, v, "true or false")),
    }
}

/// An octal mode such as `755`, `0644` or `1777`.
pub fn parse_permission(v: &str) -> Result<u16, String> {
    let t = v.trim();
    let ok = !t.is_empty() && t.len() <= 4 && t.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u16::from_str_radix(t, 8) {
        Ok(n) if ok && n <= 0o1777 => Ok(n),
        _ => Err(bad_value("permission", v, "an octal mode from 0 to 1777")),
    }
}

/// `FileStatus.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FileType {
    File,
    Directory,
}

/// One file or directory (Hadoop's `FileStatus` JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileStatus {
    pub access_time: u64,
    pub block_size: u64,
    pub children_num: u64,
    pub file_id: u64,
    pub group: String,
    pub length: u64,
    pub modification_time: u64,
    pub owner: String,
    /// The entry's name in a listing; empty for GETFILESTATUS and for a
    /// file listed by itself.
    pub path_suffix: String,
    /// Octal digits, e.g. `"644"`.
    pub permission: String,
    pub replication: u16,
    pub storage_policy: u8,
    #[serde(rename = "type")]
    pub file_type: FileType,
}

/// `{"FileStatus": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatusBody {
    #[serde(rename = "FileStatus")]
    pub file_status: FileStatus,
}

/// `{"FileStatus": [...]}` (inside `FileStatuses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatuses {
    #[serde(rename = "FileStatus")]
    pub file_status: Vec<FileStatus>,
}

/// `{"FileStatuses": {"FileStatus": [...]}}`: LISTSTATUS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatusesBody {
    #[serde(rename = "FileStatuses")]
    pub file_statuses: FileStatuses,
}

/// LISTSTATUS_BATCH's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryListing {
    pub partial_listing: FileStatusesBody,
    /// Entries after this page (0 on the last page).
    pub remaining_entries: u64,
}

/// `{"DirectoryListing": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryListingBody {
    #[serde(rename = "DirectoryListing")]
    pub directory_listing: DirectoryListing,
}

/// One change of GETSNAPSHOTDIFF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReportEntry {
    pub source_path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotDiffReport {
    pub diff_list: Vec<DiffReportEntry>,
    pub from_snapshot: String,
    pub snapshot_root: String,
    pub to_snapshot: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDiffReportBody {
    #[serde(rename = "SnapshotDiffReport")]
    pub snapshot_diff_report: SnapshotDiffReport,
}

/// One entry of GETSNAPSHOTLIST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotEntry {
    pub dir_status: FileStatus,
    pub full_path: String,
    #[serde(rename = "snapshotID")]
    pub snapshot_id: u64,
    pub deletion_status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotListBody {
    #[serde(rename = "SnapshotList")]
    pub snapshot_list: Vec<SnapshotEntry>,
}

/// One entry of GETSNAPSHOTTABLEDIRECTORYLIST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshottableDirectory {
    pub dir_status: FileStatus,
    pub parent_full_path: String,
    pub snapshot_number: u64,
    pub snapshot_quota: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshottableDirectoryListBody {
    #[serde(rename = "SnapshottableDirectoryList")]
    pub snapshottable_directory_list: Vec<SnapshottableDirectory>,
}

/// GETQUOTAUSAGE: a directory's quotas (-1: none) and what is used below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUsage {
    pub file_and_directory_count: u64,
    pub quota: i64,
    pub space_consumed: u64,
    pub space_quota: i64,
    pub type_quota: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUsageBody {
    #[serde(rename = "QuotaUsage")]
    pub quota_usage: QuotaUsage,
}

/// GETCONTENTSUMMARY (`quota`, `spaceQuota`: -1 when none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentSummary {
    pub directory_count: u64,
    pub file_count: u64,
    pub length: u64,
    pub quota: i64,
    pub space_consumed: u64,
    pub space_quota: i64,
    pub type_quota: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentSummaryBody {
    #[serde(rename = "ContentSummary")]
    pub content_summary: ContentSummary,
}

/// GETFILECHECKSUM: here always the whole file's SHA-256 (what `sha256sum`
/// prints), not Hadoop's MD5-of-CRC composite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChecksum {
    pub algorithm: String,
    /// Hex.
    pub bytes: String,
    pub length: u32,
}

/// The `algorithm` of every [`FileChecksum`].
pub const CHECKSUM_ALGORITHM: &str = "SHA-256";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChecksumBody {
    #[serde(rename = "FileChecksum")]
    pub file_checksum: FileChecksum,
}

/// `{"boolean": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BooleanBody {
    pub boolean: bool,
}

/// `{"Path": "/user/x"}`: GETHOMEDIRECTORY, GETTRASHROOT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathBody {
    #[serde(rename = "Path")]
    pub path: String,
}

/// GETSTATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsStatus {
    pub capacity: u64,
    pub used: u64,
    pub remaining: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsStatusBody {
    #[serde(rename = "FsStatus")]
    pub fs_status: FsStatus,
}

/// `{"Location": "http://..."}`: the answer to CREATE, APPEND and OPEN
/// with `noredirect=true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationBody {
    #[serde(rename = "Location")]
    pub location: String,
}

/// The error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteException {
    pub exception: String,
    pub java_class_name: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteExceptionBody {
    #[serde(rename = "RemoteException")]
    pub remote_exception: RemoteException,
}

/// The Hadoop exceptions answered, each with its status (Hadoop's
/// `ExceptionHandler`: 404 for a missing file, 403 for other I/O
/// refusals, 400 for bad arguments; here also 409 for a file another
/// client is writing and 503 for "try again later").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exception {
    FileNotFound,
    FileAlreadyExists,
    PathIsNotEmptyDirectory,
    ParentNotDirectory,
    AlreadyBeingCreated,
    IllegalArgument,
    UnsupportedOperation,
    AccessControl,
    /// 401: no or bad credentials (access control on).
    Security,
    Retriable,
    /// 403: this namenode cannot serve now (no leader among the namenodes):
    /// Hadoop's clients fail over to another namenode on it.
    Standby,
    Io,
    IoConflict,
    NoSpace,
    Checksum,
    /// 403: a name quota would be exceeded.
    NsQuotaExceeded,
    /// 403: a space quota would be exceeded.
    DsQuotaExceeded,
}

impl Exception {
    /// (status, simple name, Java class name)
    pub fn parts(self) -> (u16, &'static str, &'static str) {
        match self {
            Exception::FileNotFound => (
                404,
                "FileNotFoundException",
                "java.io.FileNotFoundException",
            ),
            Exception::FileAlreadyExists => (
                403,
                "FileAlreadyExistsException",
                "org.apache.hadoop.fs.FileAlreadyExistsException",
            ),
            Exception::PathIsNotEmptyDirectory => (
                403,
                "PathIsNotEmptyDirectoryException",
                "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
            ),
            Exception::ParentNotDirectory => (
                403,
                "ParentNotDirectoryException",
                "org.apache.hadoop.fs.ParentNotDirectoryException",
            ),
            Exception::AlreadyBeingCreated => (
                409,
                "AlreadyBeingCreatedException",
                "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
            ),
            Exception::NsQuotaExceeded => (
                403,
                "NSQuotaExceededException",
                "org.apache.hadoop.hdfs.protocol.NSQuotaExceededException",
            ),
            Exception::DsQuotaExceeded => (
                403,
                "DSQuotaExceededException",
                "org.apache.hadoop.hdfs.protocol.DSQuotaExceededException",
            ),
            Exception::IllegalArgument => (
                400,
                "IllegalArgumentException",
                "java.lang.IllegalArgumentException",
            ),
            Exception::UnsupportedOperation => (
                400,
                "UnsupportedOperationException",
                "java.lang.UnsupportedOperationException",
            ),
            Exception::AccessControl => (
                403,
                "AccessControlException",
                "org.apache.hadoop.security.AccessControlException",
            ),
            Exception::Security => (401, "SecurityException", "java.lang.SecurityException"),
            Exception::Retriable => (
                503,
                "RetriableException",
                "org.apache.hadoop.ipc.RetriableException",
            ),
            Exception::Standby => (
                403,
                "StandbyException",
                "org.apache.hadoop.ipc.StandbyException",
            ),
            Exception::Io => (500, "IOException", "java.io.IOException"),
            Exception::IoConflict => (409, "IOException", "java.io.IOException"),
            Exception::NoSpace => (
                507,
                "DiskOutOfSpaceException",
                "org.apache.hadoop.util.DiskChecker.DiskOutOfSpaceException",
            ),
            Exception::Checksum => (
                500,
                "ChecksumException",
                "org.apache.hadoop.fs.ChecksumException",
            ),
        }
    }

    pub fn status(self) -> u16 {
        self.parts().0
    }

    pub fn body(self, message: impl Into<String>) -> RemoteExceptionBody {
        let (_, exception, class) = self.parts();
        RemoteExceptionBody {
            remote_exception: RemoteException {
                exception: exception.into(),
                java_class_name: class.into(),
                message: message.into(),
            },
        }
    }

    /// The exception for a dfs error relayed as a code and a message (the
    /// native protocol's `ErrorBody`): a conflict is told apart by its
    /// message, which the namenode words for each case.
    pub fn of_code(code: ErrorCode, message: &str) -> Exception {
        match code {
            ErrorCode::BadRequest => Exception::IllegalArgument,
            ErrorCode::Unauthorized => Exception::Security,
            ErrorCode::Forbidden => Exception::AccessControl,
            ErrorCode::NotFound => Exception::FileNotFound,
            ErrorCode::Conflict => {
                let m = message.to_ascii_lowercase();
                if m.contains("being written") {
                    Exception::AlreadyBeingCreated
                } else if m.contains("already exists") || m.contains("is a directory") {
                    Exception::FileAlreadyExists
                } else if m.contains("not empty") {
                    Exception::PathIsNotEmptyDirectory
                } else if m.contains("not a directory") {
                    Exception::ParentNotDirectory
                } else {
                    Exception::IoConflict
                }
            }
            ErrorCode::QuotaExceeded if message.contains("space quota") => {
                Exception::DsQuotaExceeded
            }
            ErrorCode::QuotaExceeded => Exception::NsQuotaExceeded,
            ErrorCode::ChecksumMismatch => Exception::Checksum,
            ErrorCode::NoSpace => Exception::NoSpace,
            ErrorCode::Unavailable => Exception::Retriable,
            ErrorCode::Internal => Exception::Io,
            ErrorCode::PayloadTooLarge => Exception::IllegalArgument,
            ErrorCode::TooManyRequests => Exception::Retriable,
        }
    }
}

/// Percent-encodes everything but unreserved characters (and `/` when
/// `keep_slash`): paths and parameter values in a `Location`.
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes every `%XX` escape of `s`; the result must be UTF-8.
pub fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                // Two hex digits exactly: `from_str_radix` alone also takes
                // a sign (`%+1`), found by fuzz/fuzz_targets/path.rs.
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the path is not UTF-8 once decoded".to_string())
}

/// Parses an `application/x-www-form-urlencoded` string (a query string or
/// a form body) into its pairs, strictly: `+` is a space, every escape must
/// be well formed, and every name and value must be UTF-8 once decoded
/// (the usual decoders substitute U+FFFD, which would turn a malformed
/// name into a different, valid one).
pub fn parse_query(qs: &str) -> Result<Vec<(String, String)>, String> {
    qs.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(&k.replace('+', " "))?;
            let v = percent_decode(&v.replace('+', " "))
                .map_err(|e| format!("parameter `{k}`: {e}"))?;
            Ok((k, v))
        })
        .collect()
}

/// The dfs path a WebHDFS request names, from its raw (still
/// percent-encoded) URL path. Not from the router's match: actix decodes a
/// URL path lossily (invalid UTF-8 becomes U+FFFD) and leaves `%25`, `%2F`
/// and `%2B` encoded. Decoding the raw path here, strictly, stores a name
/// with `%` or `+` as sent, refuses one that is not UTF-8, and makes a `/`
/// smuggled in as `%2F` (as in `a%2F..%2Fb`) a separator that the path
/// rules then judge. A trailing slash is allowed.
pub fn path_from_url(raw_path: &str) -> Result<DfsPath, String> {
    let routed_tail = raw_path
        .strip_prefix(PREFIX)
        .filter(|t| t.is_empty() || t.starts_with('/'))
        .ok_or_else(|| format!("{raw_path:?} is not under {PREFIX}"))?
        .trim_start_matches('/');
    let tail = percent_decode(routed_tail)?;
    let trimmed = tail.trim_end_matches('/');
    DfsPath::parse(&format!("/{trimmed}")).map_err(|e| format!("Invalid path /{tail}: {e}"))
}

/// Octal digits of a mode, as `FileStatus.permission` shows it.
pub fn permission_string(mode: u16) -> String {
    format!("{mode:o}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routed_tails_are_fully_decoded() {
        let t = |tail: &str| path_from_url(&format!("{PREFIX}/{tail}"));
        assert_eq!(t("a/b/").unwrap().as_str(), "/a/b");
        assert_eq!(t("").unwrap().as_str(), "/");
        assert_eq!(path_from_url(PREFIX).unwrap().as_str(), "/");
        assert_eq!(t("100%25+x%2By%20z").unwrap().as_str(), "/100%+x+y z");
        assert_eq!(t("%C3%BC").unwrap().as_str(), "/ü");
        assert!(t("keep%2F..%2Fx").is_err());
        assert!(t("keep/%2e%2e/x").is_err());
        assert!(t("a%2F%2Fb").is_err());
        assert!(t("a%FF").is_err());
        assert!(t("a%00b").is_err());
        assert!(t("a%2").is_err());
        assert!(t("a%zz").is_err());
        assert!(path_from_url("/webhdfs/v1x/a").is_err());
        assert_eq!(
            percent_decode(&percent_encode("ü a/%+", false)).unwrap(),
            "ü a/%+"
        );
        let q = parse_query("op=MKDIRS&a=x+y%2Bz&flag&&b=").unwrap();
        let want: Vec<(String, String)> =
            [("op", "MKDIRS"), ("a", "x y+z"), ("flag", ""), ("b", "")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(q, want);
        assert!(parse_query("destination=%2Fa%FF").is_err());
        assert!(parse_query("a=%G0").is_err());
    }

    /// Found by the `path` fuzz target: `%+1` decoded as U+0001.
    #[test]
    fn percent_escapes_are_two_hex_digits() {
        for bad in ["%+1", "%-1", "%+F", "a%+0b", "% 1"] {
            assert!(percent_decode(bad).is_err(), "{bad:?}");
            assert!(
                path_from_url(&format!("{PREFIX}/{bad}")).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(percent_decode("%2b%2B").unwrap(), "++");
    }

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Hadoop's documented example (WebHDFS REST API, "FileStatus JSON
    /// Schema"), field for field and in the same order.
    #[test]
    fn file_status_matches_the_documented_example() {
        let doc = r#"{"FileStatus":{"accessTime":0,"blockSize":0,"childrenNum":1,"fileId":16386,"group":"supergroup","length":0,"modificationTime":1320173277227,"owner":"webuser","pathSuffix":"","permission":"777","replication":0,"storagePolicy":0,"type":"DIRECTORY"}}"#;
        let body = FileStatusBody {
            file_status: FileStatus {
                access_time: 0,
                block_size: 0,
                children_num: 1,
                file_id: 16386,
                group: "supergroup".into(),
                length: 0,
                modification_time: 1320173277227,
                owner: "webuser".into(),
                path_suffix: String::new(),
                permission: permission_string(0o777),
                replication: 0,
                storage_policy: 0,
                file_type: FileType::Directory,
            },
        };
        assert_eq!(serde_json::to_string(&body).unwrap(), doc);
        assert_eq!(serde_json::from_str::<FileStatusBody>(doc).unwrap(), body);
    }

    /// Hadoop's documented GETSNAPSHOTTABLEDIRECTORYLIST and GETSNAPSHOTLIST
    /// answers (WebHDFS.md, "Snapshot Operations") read and write back
    /// the same; CREATESNAPSHOT answers a `Path`.
    #[test]
    fn snapshot_lists_match_the_documented_shapes() {
        let status = r#"{"accessTime":0,"blockSize":0,"childrenNum":0,"fileId":16386,"group":"hadoop","length":0,"modificationTime":1520761889225,"owner":"random","pathSuffix":"bar","permission":"755","replication":0,"storagePolicy":0,"type":"DIRECTORY"}"#;
        let dirs = format!(
            r#"{{"SnapshottableDirectoryList":[{{"dirStatus":{status},"parentFullPath":"/","snapshotNumber":0,"snapshotQuota":65536}}]}}"#
        );
        let d: SnapshottableDirectoryListBody = serde_json::from_str(&dirs).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), dirs);
        // (The document's own example leaves ACTIVE unquoted, not JSON.)
        let list = format!(
            r#"{{"SnapshotList":[{{"dirStatus":{status},"fullPath":"/","snapshotID":0,"deletionStatus":"ACTIVE"}}]}}"#
        );
        let l: SnapshotListBody = serde_json::from_str(&list).unwrap();
        assert_eq!(serde_json::to_string(&l).unwrap(), list);
        let diff = r#"{"SnapshotDiffReport":{"diffList":[],"fromSnapshot":"s3","snapshotRoot":"/foo","toSnapshot":"s4"}}"#;
        let r: SnapshotDiffReportBody = serde_json::from_str(diff).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), diff);
        let made = PathBody {
            path: "/user/username/.snapshot/s1".into(),
        };
        assert_eq!(
            serde_json::to_string(&made).unwrap(),
            r#"{"Path":"/user/username/.snapshot/s1"}"#
        );
        for (op, m) in [
            ("ALLOWSNAPSHOT", Method::Put),
            ("DISALLOWSNAPSHOT", Method::Put),
            ("CREATESNAPSHOT", Method::Put),
            ("DELETESNAPSHOT", Method::Delete),
            ("RENAMESNAPSHOT", Method::Put),
            ("GETSNAPSHOTLIST", Method::Get),
            ("GETSNAPSHOTTABLEDIRECTORYLIST", Method::Get),
        ] {
            assert_eq!(Op::parse(op, m).unwrap().name(), op);
        }
        let p = Params::parse(&pairs(&[("oldsnapshotname", "a"), ("snapshotname", "b")])).unwrap();
        assert_eq!(
            (p.old_snapshot_name.as_deref(), p.snapshot_name.as_deref()),
            (Some("a"), Some("b"))
        );
    }

    #[test]
    fn listings_match_the_documented_shapes() {
        let doc = r#"{"FileStatuses":{"FileStatus":[{"accessTime":1320171722771,"blockSize":33554432,"childrenNum":0,"fileId":16387,"group":"supergroup","length":24930,"modificationTime":1320171722771,"owner":"webuser","pathSuffix":"a.patch","permission":"644","replication":1,"storagePolicy":0,"type":"FILE"}]}}"#;
        let v: FileStatusesBody = serde_json::from_str(doc).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), doc);
        let batch =
            format!(r#"{{"DirectoryListing":{{"partialListing":{doc},"remainingEntries":0}}}}"#);
        let b: DirectoryListingBody = serde_json::from_str(&batch).unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), batch);
    }

    #[test]
    fn small_bodies_match_the_documented_shapes() {
        let cs = ContentSummaryBody {
            content_summary: ContentSummary {
                directory_count: 2,
                file_count: 1,
                length: 24930,
                quota: -1,
                space_consumed: 24930,
                space_quota: -1,
                type_quota: BTreeMap::new(),
            },
        };
        assert_eq!(
            serde_json::to_string(&cs).unwrap(),
            r#"{"ContentSummary":{"directoryCount":2,"fileCount":1,"length":24930,"quota":-1,"spaceConsumed":24930,"spaceQuota":-1,"typeQuota":{}}}"#
        );
        let ck = FileChecksumBody {
            file_checksum: FileChecksum {
                algorithm: CHECKSUM_ALGORITHM.into(),
                bytes: "ab".into(),
                length: 32,
            },
        };
        assert_eq!(
            serde_json::to_string(&ck).unwrap(),
            r#"{"FileChecksum":{"algorithm":"SHA-256","bytes":"ab","length":32}}"#
        );
        assert_eq!(
            serde_json::to_string(&BooleanBody { boolean: true }).unwrap(),
            r#"{"boolean":true}"#
        );
        assert_eq!(
            serde_json::to_string(&PathBody {
                path: "/user/username".into()
            })
            .unwrap(),
            r#"{"Path":"/user/username"}"#
        );
        assert_eq!(
            serde_json::to_string(&FsStatusBody {
                fs_status: FsStatus {
                    capacity: 3,
                    used: 1,
                    remaining: 2
                }
            })
            .unwrap(),
            r#"{"FsStatus":{"capacity":3,"used":1,"remaining":2}}"#
        );
        assert_eq!(
            serde_json::to_string(&LocationBody {
                location: "http://dn:9864/x".into()
            })
            .unwrap(),
            r#"{"Location":"http://dn:9864/x"}"#
        );
    }

    #[test]
    fn errors_match_the_documented_shape() {
        let doc = r#"{"RemoteException":{"exception":"FileNotFoundException","javaClassName":"java.io.FileNotFoundException","message":"File does not exist: /foo/a.patch"}}"#;
        let b = Exception::FileNotFound.body("File does not exist: /foo/a.patch");
        assert_eq!(serde_json::to_string(&b).unwrap(), doc);
        assert_eq!(Exception::FileNotFound.status(), 404);
        assert_eq!(Exception::FileAlreadyExists.status(), 403);
        assert_eq!(Exception::IllegalArgument.status(), 400);
        assert_eq!(
            Exception::of_code(ErrorCode::Conflict, "/a already exists (use overwrite)"),
            Exception::FileAlreadyExists
        );
        assert_eq!(
            Exception::of_code(ErrorCode::Conflict, "/a is being written by another client"),
            Exception::AlreadyBeingCreated
        );
        assert_eq!(
            Exception::of_code(ErrorCode::Unavailable, "safe mode"),
            Exception::Retriable
        );
    }

    /// Hadoop's documented GETQUOTAUSAGE answer (WebHDFS.md, "Get Quota
    /// Usage of a Directory"), without the storage types dfs has none of.
    #[test]
    fn quota_usage_matches_the_documented_shape() {
        let body = QuotaUsageBody {
            quota_usage: QuotaUsage {
                file_and_directory_count: 1,
                quota: 100,
                space_consumed: 24930,
                space_quota: 100000,
                type_quota: BTreeMap::new(),
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"QuotaUsage":{"fileAndDirectoryCount":1,"quota":100,"spaceConsumed":24930,"spaceQuota":100000,"typeQuota":{}}}"#
        );
        // SETQUOTA as Hadoop's client sends it: -1 clears, Long.MAX_VALUE keeps.
        let p = Params::parse(&pairs(&[
            ("op", "SETQUOTA"),
            ("namespacequota", "10"),
            ("storagespacequota", "-1"),
        ]))
        .unwrap();
        assert_eq!(p.namespace_quota, Some(QuotaParam::Set(10)));
        assert_eq!(p.storage_space_quota, Some(QuotaParam::Clear));
        let p = Params::parse(&pairs(&[("namespacequota", "9223372036854775807")])).unwrap();
        assert_eq!(p.namespace_quota, Some(QuotaParam::Keep));
        assert_eq!(p.storage_space_quota, None);
        for bad in ["-2", "x", "1.5"] {
            assert!(
                Params::parse(&pairs(&[("namespacequota", bad)])).is_err(),
                "{bad}"
            );
        }
        assert_eq!(Op::parse("setquota", Method::Put).unwrap(), Op::SetQuota);
        assert_eq!(
            Op::parse("GETQUOTAUSAGE", Method::Get).unwrap(),
            Op::GetQuotaUsage
        );
        // Quota errors carry Hadoop's exception names, as a relayed code too.
        let (status, name, class) = Exception::DsQuotaExceeded.parts();
        assert_eq!((status, name), (403, "DSQuotaExceededException"));
        assert_eq!(
            class,
            "org.apache.hadoop.hdfs.protocol.DSQuotaExceededException"
        );
        assert_eq!(
            Exception::of_code(
                ErrorCode::QuotaExceeded,
                "the space quota of /q is exceeded"
            ),
            Exception::DsQuotaExceeded
        );
        assert_eq!(
            Exception::of_code(ErrorCode::QuotaExceeded, "the name quota of /q is exceeded"),
            Exception::NsQuotaExceeded
        );
    }

    #[test]
    fn encoding() {
        assert_eq!(percent_encode("/a b/ü", true), "/a%20b/%C3%BC");
        assert_eq!(percent_encode("x/y&z", false), "x%2Fy%26z");
    }

    #[test]
    fn params_as_clients_send_them() {
        let p = Params::parse(&pairs(&[
            ("op", "create"),
            ("overwrite", "False"),
            ("user.name", "alice"),
            ("user.name", "bob"),
            ("tempdir", "/tmp"),
            ("buffersize", "4096"),
            ("permission", "0755"),
            ("replication", "2"),
            ("blocksize", "1048576"),
            ("noredirect", "TRUE"),
        ]))
        .unwrap();
        assert_eq!(p.op.as_deref(), Some("create"));
        assert_eq!(p.overwrite, Some(false));
        assert_eq!(p.user.as_deref(), Some("alice"));
        assert_eq!(p.permission, Some(0o755));
        assert_eq!(p.replication, Some(2));
        assert_eq!(p.block_size, Some(1 << 20));
        assert!(p.noredirect);
        assert_eq!(Op::parse("create", Method::Put).unwrap(), Op::Create);
        assert_eq!(
            Op::parse("liststatus_batch", Method::Get).unwrap(),
            Op::ListStatusBatch
        );
        assert!(Op::parse("NOPE", Method::Get).is_err());
        assert!(Op::parse("CREATE", Method::Get).is_err());
        assert!(Params::parse(&pairs(&[("overwrite", "maybe")])).is_err());
        assert!(Params::parse(&pairs(&[("permission", "800")])).is_err());
        assert!(Params::parse(&pairs(&[("offset", "-1")])).is_err());
        let t = Params::parse(&pairs(&[("modificationtime", "-1")])).unwrap();
        assert_eq!(t.modification_time, Some(-1));
        assert_eq!(Params::default().user_or_default(), "dr.who");
    }
}
