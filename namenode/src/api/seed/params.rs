//! The parameters of a seed request, parsed before any work: from the query
//! string and the body (a form, a multipart form or a JSON object; the
//! body wins), into paths, booleans and a replication in the namenode's
//! range. Refusals are 400s ([`SeedError::bad`]) naming the parameter.
use super::error::SeedError;
use actix_multipart::{Field, Multipart};
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use dfs_common::path::DfsPath;
use futures_util::StreamExt;
use std::collections::HashMap;

/// The largest value a small form field (not the file) may have.
const MAX_FIELD_BYTES: usize = 4096;

/// Request parameters from the query string and the body (form, multipart
/// form or JSON object), the body's winning.
#[derive(Debug, Default)]
pub(super) struct Params(pub(super) HashMap<String, String>);

impl Params {
    pub(super) fn from_query(query: &str) -> Result<Self, SeedError> {
        let mut p = Params::default();
        p.add_urlencoded(query)?;
        Ok(p)
    }

    pub(super) async fn from_request(
        req: &HttpRequest,
        body: web::Bytes,
    ) -> Result<Self, SeedError> {
        let mut p = Self::from_query(req.query_string())?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(p);
        }
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if ct.starts_with("application/json")
            || (ct.is_empty() && body.trim_ascii_start().starts_with(b"{"))
        {
            p.add_json(&body)?;
        } else if ct.starts_with("multipart/form-data") {
            let stream = futures_util::stream::once(async move { Ok(body) });
            let mut form = Multipart::new(req.headers(), stream);
            while let Some(field) = form.next().await {
                let mut field =
                    field.map_err(|e| SeedError::bad(format!("bad multipart form: {e}")))?;
                let name = field.name().unwrap_or_default().to_string();
                let value = read_text_field(&mut field, &name).await?;
                p.0.insert(name, value);
            }
        } else if ct.is_empty()
            || ct.starts_with("application/x-www-form-urlencoded")
            || ct.starts_with("text/plain")
        {
            let text = std::str::from_utf8(&body)
                .map_err(|_| SeedError::bad("the form body is not UTF-8"))?;
            p.add_urlencoded(text)?;
        } else {
            return Err(SeedError::bad(format!(
                "unsupported Content-Type {ct:?}: send the parameters as a form or a JSON object"
            )));
        }
        Ok(p)
    }

    fn add_urlencoded(&mut self, text: &str) -> Result<(), SeedError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let pairs = dfs_common::proto::webhdfs::parse_query(text)
            .map_err(|e| SeedError::bad(format!("bad form parameters: {e}")))?;
        self.0.extend(pairs);
        Ok(())
    }

    fn add_json(&mut self, body: &[u8]) -> Result<(), SeedError> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| SeedError::bad(format!("the body is not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(SeedError::bad(
                "the JSON body must be an object of parameters",
            ));
        };
        for (k, v) in map {
            let s = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => {
                    return Err(SeedError::bad(format!(
                        "parameter `{k}` must be a string, number or boolean"
                    )))
                }
            };
            self.0.insert(k, s);
        }
        Ok(())
    }

    /// The first of `names` that is present.
    pub(super) fn get(&self, names: &[&str]) -> Option<&str> {
        names
            .iter()
            .find_map(|n| self.0.get(*n))
            .map(String::as_str)
    }

    pub(super) fn path(&self, names: &[&str]) -> Result<DfsPath, SeedError> {
        let first = names.first().copied().unwrap_or("path");
        match self.get(names) {
            Some(s) => parse_path(first, s),
            None => Err(SeedError::bad(format!("missing parameter `{first}`"))),
        }
    }

    pub(super) fn path_or_root(&self, names: &[&str]) -> Result<DfsPath, SeedError> {
        match self.get(names) {
            Some(s) if !s.trim().is_empty() => {
                parse_path(names.first().copied().unwrap_or("path"), s)
            }
            _ => Ok(DfsPath::root()),
        }
    }

    pub(super) fn flag(&self, name: &str) -> Result<bool, SeedError> {
        match self.get(&[name]) {
            None => Ok(false),
            Some(v) => parse_bool(name, v),
        }
    }
}

pub(super) fn parse_path(name: &str, value: &str) -> Result<DfsPath, SeedError> {
    DfsPath::parse(value.trim()).map_err(|e| SeedError::bad(format!("{name}: {e}")))
}

pub(super) fn parse_bool(name: &str, value: &str) -> Result<bool, SeedError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(SeedError::bad(format!(
            "`{name}` must be true or false, not {value:?}"
        ))),
    }
}

pub(super) fn parse_replication(value: &str) -> Result<u16, SeedError> {
    match value.trim().parse::<u16>() {
        Ok(n) if (1..=dfs_common::MAX_REPLICATION).contains(&n) => Ok(n),
        _ => Err(SeedError::bad(format!(
            "`replication` must be a whole number from 1 to {}, not {value:?}",
            dfs_common::MAX_REPLICATION
        ))),
    }
}

/// A small form field's value, at most [`MAX_FIELD_BYTES`].
pub(super) async fn read_text_field(field: &mut Field, name: &str) -> Result<String, SeedError> {
    let bytes = field
        .bytes(MAX_FIELD_BYTES)
        .await
        .map_err(|_| {
            SeedError::bad(format!(
                "form field `{name}` is longer than {MAX_FIELD_BYTES} bytes"
            ))
        })?
        .map_err(|e| SeedError::bad(format!("reading form field `{name}`: {e}")))?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| SeedError::bad(format!("form field `{name}` is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::error::ErrorCode;

    #[test]
    fn booleans() {
        for t in ["true", "TRUE", "1", "yes", "On"] {
            assert!(parse_bool("x", t).unwrap());
        }
        for f in ["false", "0", "No", "off", ""] {
            assert!(!parse_bool("x", f).unwrap());
        }
        assert!(parse_bool("x", "maybe").is_err());
    }

    #[test]
    fn params_from_json_and_form() {
        let mut p = Params::from_query("directory_name=%2Fq&recursive=1").unwrap();
        p.add_json(br#"{"directory_name":"/a b","recursive":true,"n":3,"x":null}"#)
            .unwrap();
        assert_eq!(p.path(&["directory_name"]).unwrap().as_str(), "/a b");
        assert!(p.flag("recursive").unwrap());
        assert_eq!(p.get(&["n"]), Some("3"));
        assert!(p.add_json(b"[1]").is_err());
        let mut p = Params::default();
        p.add_urlencoded("file_name=%2Fx%2Fy+z&old_name=%2Fa")
            .unwrap();
        assert_eq!(p.path(&["file_name"]).unwrap().as_str(), "/x/y z");
        assert_eq!(p.path(&["src", "old_name"]).unwrap().as_str(), "/a");
        let e = p.path(&["dst", "new_name"]).unwrap_err();
        assert!(e.message.contains("`dst`"));
        p.add_urlencoded("file_name=relative").unwrap();
        let e = p.path(&["file_name"]).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains("not absolute"), "{}", e.message);
    }
}
