//! `dfs-web`: the web UI's static assets, embedded in the binary at compile
//! time (works with no internet and no separate server). The namenode mounts
//! [`configure`]; the UI talks to the namenode's JSON APIs like any client.
//!
//! The UI is plain HTML/CSS/JS with no build step: `assets/index.html` (the
//! shell), `assets/app.js` (hash routes `#/browse/<dir>`, `#/file/<path>`,
//! `#/overview`, `#/datanodes`; uploads stream through XMLHttpRequest +
//! FormData to `/upload_file`), `assets/style.css`. It is exercised in a real
//! browser by `tests/browser/`. `build.rs` makes Cargo rebuild when an asset
//! is added or changed.
use actix_web::{http::header, web, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Routes `/` (index.html) and `/ui/{file}` (other assets).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/ui/{file:.*}", web::get().to(asset));
}

async fn index() -> HttpResponse {
    serve("index.html")
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    serve(&path.into_inner())
}

fn serve(name: &str) -> HttpResponse {
    match Assets::get(name) {
        Some(file) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, file.metadata.mimetype()))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound()
            .content_type("application/json")
            .body(r#"{"error":{"code":"not_found","message":"no such UI asset"}}"#),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_is_embedded() {
        let f = super::Assets::get("index.html").expect("index.html embedded");
        assert!(std::str::from_utf8(&f.data).unwrap().contains("dfs"));
    }
}
