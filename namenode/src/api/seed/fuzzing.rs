//! For the fuzz target (`fuzz/fuzz_targets/upload_form.rs`): the real
//! `/upload_file` form reader over a form the caller builds, with the file
//! part read into memory instead of the cluster.
use super::error::SeedError;
use super::upload_form::{read_upload_form, UploadSink};
use actix_multipart::Multipart;
use actix_web::ResponseError;
use dfs_client::UploadOptions;
use dfs_common::path::DfsPath;
use tokio::io::AsyncReadExt;

/// What an accepted upload form asked for.
#[derive(Debug)]
pub struct Upload {
    pub path: DfsPath,
    pub overwrite: bool,
    pub replication: Option<u16>,
    pub content: Vec<u8>,
}

struct Memory;

impl UploadSink for Memory {
    type Stored = Upload;

    async fn store<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        path: &DfsPath,
        opts: &UploadOptions,
        mut reader: R,
    ) -> Result<Upload, SeedError> {
        let mut content = Vec::new();
        reader
            .read_to_end(&mut content)
            .await
            .map_err(|e| SeedError::bad(format!("the uploaded file could not be read: {e}")))?;
        Ok(Upload {
            path: path.clone(),
            overwrite: opts.overwrite,
            replication: opts.replication,
            content,
        })
    }

    async fn discard(&mut self, _: Upload) {}
}

/// The upload, or the 400 answer's status and message.
pub async fn upload_form(query: &str, form: Multipart) -> Result<Upload, (u16, String)> {
    read_upload_form(query, form, &mut Memory)
        .await
        .map_err(|e| (e.status_code().as_u16(), e.message))
}
