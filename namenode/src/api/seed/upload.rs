//! `/upload_file`: the form's file relayed into the write pipeline through
//! `dfs_client`, as `dfs put` would write it ([`ClusterSink`]); reading the
//! form is [`super::upload_form`]'s job.
use super::error::{SeedError, SeedResult};
use super::upload_form::{read_upload_form, UploadSink};
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use dfs_client::{ClientError, DfsClient, NoProgress, UploadOptions};
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::FileStatus;

pub(super) async fn upload_file(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    form: Multipart,
) -> SeedResult {
    let status = read_upload_form(req.query_string(), form, &mut ClusterSink(&dfs)).await?;
    Ok(HttpResponse::Created().json(status))
}

/// Relays the file into the write pipeline through `dfs_client`.
struct ClusterSink<'a>(&'a DfsClient);

impl UploadSink for ClusterSink<'_> {
    type Stored = FileStatus;

    async fn store<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        path: &DfsPath,
        opts: &UploadOptions,
        reader: R,
    ) -> Result<FileStatus, SeedError> {
        let status = self
            .0
            .upload(path, reader, opts, &NoProgress)
            .await
            .map_err(|e| match e {
                // Only the source fails as I/O: the request body broke off.
                ClientError::Io(e) => {
                    SeedError::bad(format!("the uploaded file could not be read: {e}"))
                }
                other if other.code() == ErrorCode::Conflict && !opts.overwrite => {
                    let mut e = SeedError::from(other);
                    e.message.push_str(" (send overwrite=true to replace it)");
                    e
                }
                other => other.into(),
            })?;
        log::info!(
            "seed upload: wrote {} ({} bytes)",
            status.path,
            status.length
        );
        Ok(status)
    }

    async fn discard(&mut self, status: FileStatus) {
        if let Err(e) = self.0.delete(&status.path, false).await {
            log::warn!(
                "seed upload: could not remove {} after a refused form: {e}",
                status.path
            );
        }
    }
}
