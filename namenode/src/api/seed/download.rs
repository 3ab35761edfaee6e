//! `/download_file`: a file streamed out of `dfs_client`'s verified reader,
//! with the headers of an attachment (length, name, SHA-256). A file whose
//! first block cannot be read gets a JSON error; one that breaks later is
//! cut short, never completed with a wrong byte.
use super::error::SeedResult;
use super::params::Params;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{web, HttpRequest, HttpResponse};
use dfs_client::DfsClient;
use futures_util::TryStreamExt;

pub(super) async fn download_file(
    dfs: web::Data<DfsClient>,
    req: HttpRequest,
    body: web::Bytes,
) -> SeedResult {
    let p = Params::from_request(&req, body).await?;
    let path = p.path(&["file_name", "path"])?;
    // Primed: a file whose first block cannot be read gets a JSON error
    // rather than a cut-off body.
    let reader = dfs.open(&path, 0, None).await?.primed().await?;
    let len = reader.len;
    let status = reader.status.clone();
    let file = path.to_string();
    let body = reader.inspect_err(move |e| log::error!("seed download of {file} cut short: {e}"));

    let mut resp = HttpResponse::Ok();
    resp.no_chunking(len)
        .content_type("application/octet-stream")
        // Already-compressed or not, these bytes must arrive as stored and
        // match Content-Length: keep compression middleware off them.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .insert_header(attachment(path.name().unwrap_or("download")));
    if let Some(sha) = status.sha256 {
        resp.insert_header(("X-Checksum-SHA256", sha.to_hex()))
            .insert_header((header::ETAG, format!("\"{}\"", sha.to_hex())));
    }
    Ok(resp.streaming(body))
}

/// `Content-Disposition: attachment; filename="…"`, with an ASCII fallback
/// and `filename*` for names that are not plain ASCII.
fn attachment(name: &str) -> ContentDisposition {
    let plain = name.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![DispositionParam::Filename(fallback)];
    if !plain {
        parameters.push(DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: name.as_bytes().to_vec(),
        }));
    }
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_header() {
        let h = attachment("report \"q\".txt").to_string();
        assert!(h.starts_with("attachment; filename="), "{h}");
        let h = attachment("données.csv").to_string();
        assert!(h.contains("filename*=UTF-8''donn%C3%A9es.csv"), "{h}");
    }
}
