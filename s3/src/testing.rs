//! What the crate's unit tests share.
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// A header map of `pairs` (a name may repeat).
pub fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}
