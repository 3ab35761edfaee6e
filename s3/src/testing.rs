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

/// AWS's example key pair (the signature examples in AWS's documentation).
pub const AK: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The example key's secret, and no other.
pub fn secret_of(ak: &str) -> Option<String> {
    (ak == AK).then(|| SECRET.to_string())
}
