//! Reading an `/upload_file` form: the options from the query string and
//! the fields before the `file` part, then the part itself, streamed into
//! an [`UploadSink`]; a form with fields after its file is refused as a
//! whole. Where the file goes is the sink's business: the cluster
//! (`super::upload`) or memory (`super::fuzzing`).
use super::error::SeedError;
use super::params::{parse_bool, parse_path, parse_replication, read_text_field, Params};
use actix_multipart::Multipart;
use dfs_client::UploadOptions;
use dfs_common::path::DfsPath;
use futures_util::{StreamExt, TryStreamExt};

/// Parts of an upload form that are neither the file nor a known field are
/// read and ignored, up to this size.
const MAX_IGNORED_PART_BYTES: usize = 1024 * 1024;

/// The options of an upload form, from the query string and the fields that
/// come before the `file` part.
struct UploadForm {
    directory: Option<String>,
    file_name: Option<String>,
    replication: Option<u16>,
    overwrite: bool,
}

impl UploadForm {
    fn set(&mut self, name: &str, value: String) -> Result<(), SeedError> {
        match name {
            "directory" | "directory_name" => self.directory = Some(value),
            "file_name" => self.file_name = Some(value),
            "replication" if value.trim().is_empty() => self.replication = None,
            "replication" => self.replication = Some(parse_replication(&value)?),
            "overwrite" => self.overwrite = parse_bool("overwrite", &value)?,
            _ => {}
        }
        Ok(())
    }

    fn is_option(name: &str) -> bool {
        matches!(
            name,
            "directory" | "directory_name" | "file_name" | "replication" | "overwrite"
        )
    }

    /// Where the file goes: `directory` joined with the part's filename (its
    /// last component, as some browsers send a whole local path).
    fn target(&self, part_filename: Option<&str>) -> Result<DfsPath, SeedError> {
        let dir = match self.directory.as_deref() {
            Some(d) if !d.trim().is_empty() => parse_path("directory", d)?,
            _ => DfsPath::root(),
        };
        let from_part = part_filename
            .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f))
            .filter(|f| !f.is_empty());
        let Some(name) = from_part.or(self.file_name.as_deref().filter(|f| !f.is_empty())) else {
            return Err(SeedError::bad("the `file` part has no filename (choose a file, or send a `file_name` field before it)"));
        };
        dir.join(name)
            .map_err(|e| SeedError::bad(format!("file name {name:?}: {e}")))
    }
}

/// Where the `file` part of an upload form goes. The handler stores it in
/// the cluster (`super::upload::ClusterSink`); the fuzz target reads it into
/// memory (`super::fuzzing::upload_form`), so the form reader is exercised
/// without one.
pub(super) trait UploadSink {
    type Stored;
    /// Takes the part's bytes from `reader` and stores them at `path`.
    async fn store<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        path: &DfsPath,
        opts: &UploadOptions,
        reader: R,
    ) -> Result<Self::Stored, SeedError>;
    /// Takes a stored file back out (the form was refused after it).
    async fn discard(&mut self, stored: Self::Stored);
}

/// Reads an upload form: options from `query` and the fields before the
/// `file` part, then the part itself into `sink`; refuses (and discards the
/// stored file) when anything but other parts follows it.
pub(super) async fn read_upload_form<S: UploadSink>(
    query: &str,
    mut form: Multipart,
    sink: &mut S,
) -> Result<S::Stored, SeedError> {
    let query = Params::from_query(query)?;
    let mut opts = UploadForm {
        directory: None,
        file_name: None,
        replication: None,
        overwrite: false,
    };
    for (k, v) in &query.0 {
        opts.set(k, v.clone())?;
    }
    let mut uploaded: Option<S::Stored> = None;
    let mut failed: Option<SeedError> = None;
    let mut late: Option<String> = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| {
            SeedError::bad(format!(
                "/upload_file needs a multipart/form-data body with a `file` part: {e}"
            ))
        })?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if uploaded.is_some() || failed.is_some() {
                late = Some("only one `file` part may be sent".into());
                break;
            }
            let filename = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_string);
            let path = opts.target(filename.as_deref())?;
            let upload_opts = UploadOptions {
                overwrite: opts.overwrite,
                replication: opts.replication,
                block_size: None,
                ..Default::default()
            };
            // The part's bytes go straight into the write pipeline.
            let reader = tokio_util::io::StreamReader::new(
                field.map_err(|e| std::io::Error::other(e.to_string())),
            );
            match sink.store(&path, &upload_opts, reader).await {
                Ok(stored) => uploaded = Some(stored),
                // Stored at the default `/`: a `directory` sent after the
                // file may be why it failed (a same-named file at `/`), so
                // read on and blame the field order if one comes.
                Err(e) if opts.directory.is_none() => failed = Some(e),
                Err(e) => return Err(e),
            }
        } else if UploadForm::is_option(&name) {
            let value = read_text_field(&mut field, &name).await?;
            if uploaded.is_some() || failed.is_some() {
                late = Some(format!(
                    "form field `{name}` came after the `file` part; send it before `file` (or as a query parameter)"
                ));
                break;
            }
            opts.set(&name, value)?;
        } else {
            // Something else (a submit button, say): read and ignore.
            let ignored = field.bytes(MAX_IGNORED_PART_BYTES).await;
            if ignored.is_err() {
                return Err(SeedError::bad(format!(
                    "unexpected large form part `{name}` (only `file` may be large)"
                )));
            }
        }
    }
    if let Some(e) = failed {
        return Err(match late {
            Some(problem) => SeedError::bad(format!(
                "{problem}; nothing was stored (without it the file went to /: {e})"
            )),
            None => e,
        });
    }
    match (uploaded, late) {
        (None, _) => Err(SeedError::bad("the form has no `file` part")),
        (Some(stored), Some(problem)) => {
            // The request is refused as a whole: take the file back out.
            sink.discard(stored).await;
            Err(SeedError::bad(format!(
                "{problem}; the upload was discarded"
            )))
        }
        (Some(stored), None) => Ok(stored),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::seed::fuzzing;
    use actix_web::http::header;
    use actix_web::web;

    #[test]
    fn upload_target() {
        let mut f = UploadForm {
            directory: None,
            file_name: None,
            replication: None,
            overwrite: false,
        };
        assert_eq!(f.target(Some("a.txt")).unwrap().as_str(), "/a.txt");
        assert_eq!(
            f.target(Some("C:\\Users\\me\\b.bin")).unwrap().as_str(),
            "/b.bin"
        );
        assert!(f.target(Some("")).is_err());
        assert!(f.target(None).is_err());
        assert!(f.target(Some("..")).is_err());
        f.set("directory", "/d/e".into()).unwrap();
        f.set("file_name", "n".into()).unwrap();
        assert_eq!(f.target(None).unwrap().as_str(), "/d/e/n");
        assert!(f.set("replication", "0".into()).is_err());
        f.set("replication", "2".into()).unwrap();
        assert_eq!(f.replication, Some(2));
        f.set("directory", "nope".into()).unwrap();
        assert!(f.target(Some("x")).is_err());
    }

    /// The form reader the handler uses, over an in-memory form in small
    /// chunks (the `upload_form` fuzz target does this at scale).
    #[actix_web::test]
    async fn upload_form_reader() {
        async fn read(query: &str, body: &str) -> Result<fuzzing::Upload, (u16, String)> {
            let mut headers = actix_web::http::header::HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("multipart/form-data; boundary=B"),
            );
            let chunks: Vec<_> = body
                .as_bytes()
                .chunks(7)
                .map(|c| Ok::<_, actix_web::error::PayloadError>(web::Bytes::copy_from_slice(c)))
                .collect();
            let form = Multipart::new(&headers, futures_util::stream::iter(chunks));
            fuzzing::upload_form(query, form).await
        }
        let part = |name: &str, extra: &str, value: &str| {
            format!(
                "--B\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n{value}\r\n"
            )
        };
        let body = part("directory", "", "/docs")
            + &part(
                "file",
                "; filename=\"C:\\\\x\\\\r.pdf\"",
                "--B-ish\r\nbytes",
            )
            + &part("submit", "", "Upload")
            + "--B--\r\n";
        let u = read("overwrite=true", &body).await.unwrap();
        assert_eq!(u.path.as_str(), "/docs/r.pdf");
        assert!(u.overwrite);
        assert_eq!(u.content, b"--B-ish\r\nbytes");

        let late =
            part("file", "; filename=\"a\"", "x") + &part("overwrite", "", "true") + "--B--\r\n";
        let (status, msg) = read("", &late).await.unwrap_err();
        assert_eq!(status, 400);
        assert!(msg.contains("came after the `file` part"), "{msg}");
        // The namenode's replication range, as every door enforces it (the
        // upload_form fuzz target found the form reader taking 111).
        let too_many = part("replication", "", "111") + &part("file", "; filename=\"a\"", "x");
        let (status, msg) = read("", &(too_many + "--B--\r\n")).await.unwrap_err();
        assert_eq!(status, 400);
        assert!(msg.contains("1 to 32"), "{msg}");
        let (status, _) = read("", "--B\r\nContent-Disposition: form-data; name=\"fi")
            .await
            .unwrap_err();
        assert_eq!(status, 400);
        let (status, _) = read("", &(part("file", "; filename=\"..\"", "x") + "--B--\r\n"))
            .await
            .unwrap_err();
        assert_eq!(status, 400);
    }
}
