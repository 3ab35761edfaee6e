//! Talking HTTP to the servers the way tests need to: a client that shows
//! every redirect, and a server's Prometheus text.

/// An HTTP client that does not follow redirects (WebHDFS tests look at
/// each step) and never uses a proxy.
pub fn http_no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("HTTP client")
}

/// The Prometheus text a server (namenode or datanode at `base`) serves at
/// `/metrics`.
pub async fn metrics_text(base: &str) -> anyhow::Result<String> {
    Ok(http_no_redirect()
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

/// The JSON a GET of `url` answers, whatever its status (panics on a
/// transport error or a body that is not JSON: a test's failure).
pub async fn get_json(url: &str) -> serde_json::Value {
    let r = http_no_redirect()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    r.json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: no JSON: {e}"))
}
