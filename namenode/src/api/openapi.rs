//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the cluster
//! API ([`super::cluster`]), served as written.
//!
//! The document is a hand-written JSON file (`openapi.json` beside this one)
//! embedded at compile time: it is the contract, reviewed like code, rather
//! than something derived from the handlers. Drift is caught from both
//! sides: the unit tests below check that every `/api/v1` route in the
//! route table is documented and that every documented operation is routed,
//! and `tests/python/test_openapi.py` validates every `/api/v1` answer of a
//! real cluster (errors included) against the served document, whose schemas
//! are closed (`additionalProperties: false`, every field `required`).
use super::cluster::API_PREFIX;
use actix_web::{web, HttpResponse};

/// The document, byte for byte as served.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("{API_PREFIX}/openapi.json"),
        web::get().to(openapi_json),
    );
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namesystem::Namesystem;
    use actix_web::test as atest;
    use actix_web::App;
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn doc() -> Value {
        serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON")
    }

    /// `(METHOD, /api/v1/...)` for every route that `cluster::configure` and
    /// this module mount under `/api/v1`, read from their source so that a
    /// route added there without documentation fails here. Route patterns
    /// such as `{node:.+}` are written the OpenAPI way, `{node}`.
    fn routed() -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for src in [include_str!("cluster.rs"), include_str!("openapi.rs")] {
            // Only the code above the tests (these comments name patterns too).
            let code = src.split("#[cfg(test)]").next().unwrap_or(src);
            let flat: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            // `.route(&r("NAME"),web::METHOD()` in cluster.rs.
            for piece in flat.split(".route(&r(\"").skip(1) {
                let (name, rest) = piece.split_once('"').expect("closing quote");
                let method = rest
                    .strip_prefix("),web::")
                    .and_then(|m| m.split_once('('))
                    .map(|(m, _)| m.to_uppercase())
                    .expect("a web::<method>() after the route name");
                out.insert((method, format!("{API_PREFIX}/{}", openapi_path(name))));
            }
            // `.route(&format!("{API_PREFIX}/NAME"),web::METHOD()` here.
            for piece in flat.split("route(&format!(\"{API_PREFIX}/").skip(1) {
                let (name, rest) = piece.split_once('"').expect("closing quote");
                let method = rest
                    .strip_prefix("),web::")
                    .and_then(|m| m.split_once('('))
                    .map(|(m, _)| m.to_uppercase())
                    .expect("a web::<method>() after the route");
                out.insert((method, format!("{API_PREFIX}/{}", openapi_path(name))));
            }
        }
        out
    }

    /// `datanodes/{node:.+}/x` → `datanodes/{node}/x`.
    fn openapi_path(actix: &str) -> String {
        let mut out = String::new();
        let mut in_param = false;
        let mut skipping = false;
        for c in actix.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push(c);
                }
                '}' => {
                    in_param = false;
                    skipping = false;
                    out.push(c);
                }
                ':' if in_param => skipping = true,
                _ if skipping => {}
                _ => out.push(c),
            }
        }
        out
    }

    fn documented() -> BTreeSet<(String, String)> {
        let d = doc();
        let mut out = BTreeSet::new();
        for (path, item) in d["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn parses_and_is_openapi_3_1() {
        let d = doc();
        assert!(d["openapi"].as_str().unwrap().starts_with("3.1."));
        assert!(d["info"]["title"].is_string());
        assert!(d["info"]["version"].is_string());
    }

    #[test]
    fn source_scan_finds_the_route_table() {
        let r = routed();
        // The scan itself must work, or the next test proves nothing.
        assert!(
            r.contains(&("GET".into(), "/api/v1/summary".into())),
            "{r:?}"
        );
        assert!(
            r.contains(&(
                "POST".into(),
                "/api/v1/datanodes/{node}/decommission".into()
            )),
            "{r:?}"
        );
        assert!(r.contains(&("GET".into(), "/api/v1/openapi.json".into())));
        assert!(r.len() >= 9, "{r:?}");
    }

    #[test]
    fn documents_every_route_and_nothing_else() {
        let routed = routed();
        let documented = documented();
        let missing: Vec<_> = routed.difference(&documented).collect();
        assert!(
            missing.is_empty(),
            "routes without documentation: {missing:?}"
        );
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    }

    /// Every `$ref` in the document points at something that exists.
    #[test]
    fn every_ref_resolves() {
        fn walk(v: &Value, root: &Value, seen: &mut usize) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let ptr = r.strip_prefix('#').expect("local ref");
                        assert!(root.pointer(ptr).is_some(), "dangling $ref {r}");
                        *seen += 1;
                    }
                    m.values().for_each(|x| walk(x, root, seen));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, root, seen)),
                _ => {}
            }
        }
        let d = doc();
        let mut seen = 0;
        walk(&d, &d, &mut seen);
        assert!(seen > 20);
    }

    /// Every object schema is closed and requires each property it lists,
    /// so a field added on the server without the document fails validation.
    #[test]
    fn object_schemas_are_closed() {
        let d = doc();
        for (name, s) in d["components"]["schemas"].as_object().unwrap() {
            fn check(name: &str, s: &Value) {
                let Some(props) = s.get("properties").and_then(Value::as_object) else {
                    return;
                };
                if name == "OpenApiDocument" {
                    return;
                }
                assert_eq!(s["additionalProperties"], false, "{name}");
                let req: BTreeSet<&str> = s["required"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{name} has no required list"))
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                let keys: BTreeSet<&str> = props.keys().map(String::as_str).collect();
                assert_eq!(req, keys, "{name}");
                for (k, v) in props {
                    check(&format!("{name}.{k}"), v);
                }
            }
            check(name, s);
        }
    }

    /// The other direction, in process: each documented operation reaches a
    /// handler (the default service answers "no such endpoint"), and the
    /// document is served as JSON.
    #[actix_web::test]
    async fn every_documented_operation_is_routed() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config {
            data_dir: dir.path().to_path_buf(),
            ..crate::Config::default()
        };
        let ns = web::Data::new(Namesystem::open(config).await.unwrap());
        let client = web::Data::new(dfs_client::DfsClient::new("http://127.0.0.1:1").unwrap());
        let app = atest::init_service(
            App::new()
                .app_data(ns)
                .app_data(client)
                .configure(super::super::configure),
        )
        .await;
        for (method, path) in documented() {
            let uri = format!("{}?path=/", path.replace("{node}", "abcd"));
            let req = match method.as_str() {
                "GET" => atest::TestRequest::get(),
                "POST" => atest::TestRequest::post(),
                "DELETE" => atest::TestRequest::delete(),
                other => panic!("unexpected method {other}"),
            }
            .uri(&uri)
            .to_request();
            let resp = atest::call_service(&app, req).await;
            let status = resp.status();
            let body = atest::read_body(resp).await;
            let text = String::from_utf8_lossy(&body);
            assert!(
                !text.contains("no such endpoint"),
                "{method} {path} is documented but not routed: {status} {text}"
            );
            if path.ends_with("/checkpoint") {
                // Binary: a checkpoint file.
                assert_eq!(status, 200, "{text}");
                assert!(body.starts_with(dfs_common::checkpoint::MAGIC));
                continue;
            }
            let _: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        }
        let req = atest::TestRequest::get()
            .uri("/api/v1/openapi.json")
            .to_request();
        let resp = atest::call_service(&app, req).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/json"
        );
        let body = atest::read_body(resp).await;
        assert_eq!(body, OPENAPI_JSON.as_bytes());
    }
}
