//! The seed endpoints: the original form-style HTTP API, kept as documented.
//!
//! Each handler is an ordinary client of the cluster: it relays through
//! `dfs_client::DfsClient` (app data, pointing at this namenode) and never
//! touches namenode internals, so uploads take the same write path as
//! `dfs put` and downloads hand out only verified bytes, as `dfs get` does.
//! File bytes are streamed through, never buffered.
//!
//! Parameters may be sent as a form (`application/x-www-form-urlencoded` or
//! `multipart/form-data`), as a JSON object (`application/json`; strings,
//! numbers and booleans), or in the query string; the body wins over the
//! query. Paths follow the dfs path rules (absolute, `/`-separated). Booleans
//! accept `true/false/1/0/yes/no/on/off` in any case.
//!
//! | endpoint | parameters | success |
//! | --- | --- | --- |
//! | `POST /create_directory` | `directory_name` (parents are made) | 201, the directory's `FileStatus` |
//! | `POST /delete_directory` | `directory_name`, optional `recursive` | 200, `{"files_deleted","directories_deleted","bytes_deleted"}`; 409 on a non-empty directory without `recursive`; 400 on a file |
//! | `POST /upload_file` | multipart: part `file` (its filename names the file); optional fields `directory` (default `/`), `replication`, `overwrite`, `file_name` (when the part has no filename), sent *before* `file` or in the query string | 201, the new file's `FileStatus`; 409 if it exists and `overwrite` is not set |
//! | `POST /download_file` (also `GET`) | `file_name` | 200, the bytes; `Content-Length`, `Content-Type: application/octet-stream`, `Content-Disposition: attachment; filename="…"`, `X-Checksum-SHA256: <hex>`, `ETag: "<hex>"`; 400 on a directory |
//! | `GET /file_list` (also `POST`) | none | 200, `{"files":[{"path","size","replication","sha256","modification_time"}…]}`, every file |
//! | `POST /list_directory` (also `GET`) | `directory_name` (default `/`) | 200, `{"path","entries":[FileStatus…],"has_more":false}` |
//! | `POST /delete_file` | `file_name` | 200, as `/delete_directory`; 400 on a directory |
//! | `POST /rename` | `src` and `dst` (or `old_name` and `new_name`), optional `overwrite` | 200, the moved entry's `FileStatus`; moving into an existing directory puts it inside |
//! | `POST /file_info` (also `GET`) | `file_name` | 200, `{"status":FileStatus,"blocks":[{"block_id","offset","len","sha256","replicas":[{"id","addr"}]}…]}` |
//!
//! `path` is accepted in place of `directory_name` / `file_name`.
//!
//! Errors are `{"error":{"code","message"}}` with the code's status: 400 bad
//! input (a bad path carries the path parser's message), 404 missing, 409
//! conflict, 503 not enough datanodes or safe mode, 507 no space. A download
//! that fails before its first byte answers with that JSON error; one that
//! fails later (no intact replica left) is cut short, so the client sees a
//! body shorter than `Content-Length`, never a wrong byte.
//!
//! The work is split by job: `params` reads the parameters of a request,
//! `error` is how a seed endpoint fails (answered through the namenode's
//! one error conversion), `namespace` holds the handlers that only change
//! or read names, `upload_form` reads an `/upload_file` form and
//! `upload` relays its file into the cluster, `download` streams a file
//! out. This file is the route table.
use actix_web::web;

mod download;
mod error;
mod namespace;
mod params;
mod upload;
mod upload_form;

#[doc(hidden)]
pub mod fuzzing;

/// Mounts the seed endpoints. Expects `web::Data<dfs_client::DfsClient>` in
/// app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/create_directory",
        web::post().to(namespace::create_directory),
    )
    .route(
        "/delete_directory",
        web::post().to(namespace::delete_directory),
    )
    .route("/upload_file", web::post().to(upload::upload_file))
    .route("/download_file", web::post().to(download::download_file))
    .route("/download_file", web::get().to(download::download_file))
    .route("/file_list", web::get().to(namespace::file_list))
    .route("/file_list", web::post().to(namespace::file_list))
    .route("/list_directory", web::post().to(namespace::list_directory))
    .route("/list_directory", web::get().to(namespace::list_directory))
    .route("/delete_file", web::post().to(namespace::delete_file))
    .route("/rename", web::post().to(namespace::rename))
    .route("/file_info", web::post().to(namespace::file_info))
    .route("/file_info", web::get().to(namespace::file_info));
}
