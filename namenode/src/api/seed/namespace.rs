//! The seed handlers that only read or change names: make and delete
//! directories, delete and rename, list, describe a file. Each parses its
//! [`Params`] and makes one or two `dfs_client` calls.
use super::error::{SeedError, SeedResult};
use super::params::Params;
use actix_web::{web, HttpRequest, HttpResponse};
use dfs_client::DfsClient;
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{DirectoryListing, FileLocations, FileType};
use std::collections::VecDeque;

pub(super) async fn create_directory(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["directory_name", "path"])?;
    let status = dfs.mkdirs(&path, true).await?;
    Ok(HttpResponse::Created().json(status))
}

pub(super) async fn delete_directory(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["directory_name", "path"])?;
    let recursive = p.flag("recursive")?;
    if dfs.status(&path).await?.file_type != FileType::Directory {
        return Err(SeedError::bad(format!(
            "{path} is a file, not a directory; use /delete_file"
        )));
    }
    let deleted = dfs.delete(&path, recursive).await?;
    Ok(HttpResponse::Ok().json(deleted))
}

pub(super) async fn delete_file(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["file_name", "path"])?;
    if dfs.status(&path).await?.file_type == FileType::Directory {
        return Err(SeedError::bad(format!(
            "{path} is a directory, not a file; use /delete_directory"
        )));
    }
    let deleted = dfs.delete(&path, false).await?;
    Ok(HttpResponse::Ok().json(deleted))
}

pub(super) async fn rename(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let src = p.path(&["src", "old_name"])?;
    let dst = p.path(&["dst", "new_name"])?;
    let overwrite = p.flag("overwrite")?;
    let status = dfs.rename(&src, &dst, overwrite).await?;
    Ok(HttpResponse::Ok().json(status))
}

pub(super) async fn list_directory(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path_or_root(&["directory_name", "path"])?;
    let entries = dfs.list(&path).await?;
    Ok(HttpResponse::Ok().json(DirectoryListing {
        path,
        entries,
        has_more: false,
    }))
}

pub(super) async fn file_info(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["file_name", "path"])?;
    let status = dfs.status(&path).await?;
    let info = if status.file_type == FileType::Directory {
        FileLocations {
            status,
            blocks: Vec::new(),
        }
    } else {
        dfs.locations(&path).await?
    };
    Ok(HttpResponse::Ok().json(info))
}

/// One row of `/file_list`.
#[derive(serde::Serialize)]
struct FileListEntry {
    path: DfsPath,
    size: u64,
    replication: u16,
    sha256: Option<String>,
    modification_time: u64,
}

pub(super) async fn file_list(dfs: web::Data<DfsClient>) -> SeedResult {
    let mut files = Vec::new();
    let mut dirs = VecDeque::from([DfsPath::root()]);
    while let Some(dir) = dirs.pop_front() {
        let entries = match dfs.list(&dir).await {
            Ok(entries) => entries,
            // Removed while we walked: not an error for a listing.
            Err(e) if dir != DfsPath::root() && e.code() == ErrorCode::NotFound => continue,
            // Access control on: the caller sees what it may list.
            Err(e) if dir != DfsPath::root() && e.code() == ErrorCode::Forbidden => continue,
            Err(e) => return Err(e.into()),
        };
        for e in entries {
            match e.file_type {
                FileType::Directory => dirs.push_back(e.path),
                FileType::File => files.push(FileListEntry {
                    path: e.path,
                    size: e.length,
                    replication: e.replication,
                    sha256: e.sha256.map(|d| d.to_hex()),
                    modification_time: e.modification_time,
                }),
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(HttpResponse::Ok().json(serde_json::json!({ "files": files })))
}
