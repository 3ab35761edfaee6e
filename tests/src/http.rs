//! Talking HTTP to the servers the way tests need to: a client that shows
//! every redirect.

/// An HTTP client that does not follow redirects (WebHDFS tests look at
/// each step) and never uses a proxy.
pub fn http_no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("HTTP client")
}
