//! AWS Signature Version 2, the older scheme S3 still takes: in the
//! header (`Authorization: AWS <access key>:<signature>`) and in presigned
//! URLs (`AWSAccessKeyId=...&Expires=...&Signature=...`), which is what
//! boto3's `generate_presigned_url` makes unless told `s3v4`.
//!
//! The signature is base64(HMAC-SHA1(secret, string to sign)), the string
//! being the method, `Content-MD5`, `Content-Type`, the date (the `Date`
//! header, empty when `x-amz-date` is sent; a presigned URL's `Expires`),
//! the `x-amz-*` headers (lower-case, sorted, `name:value` lines), and the
//! resource: `/<bucket>` for virtual-host requests, then the path as sent
//! (`/<bucket>/` for a path-style request on a bucket),
//! then the sub-resources S3 signs (`?uploadId=...&partNumber=...`),
//! sorted, with decoded values. The body is not signed (a `Content-MD5`
//! is, and the body is checked against it like any other).
//!
//! Rules: a header-signed request more than 15 minutes from now is
//! refused (`RequestTimeTooSkewed`), a presigned URL past its `Expires`
//! too (`AccessDenied`), and one expiring more than 7 days from now (the
//! longest a V4 URL may last) is refused as well. Signatures are compared
//! in constant time.
use crate::error::{S3Error, S3Result};
use crate::sigv4::{Payload, Verified, MAX_PRESIGNED_EXPIRES, MAX_SKEW};
use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// The query parameters S3 signs as part of the resource.
const SUBRESOURCES: [&str; 36] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "legal-hold",
    "retention",
];

/// Whether the request is signed with V2 (so [`verify`] is the one to ask).
pub fn is_v2(headers: &HeaderMap, query: &[(String, String)]) -> bool {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("AWS ") && !a.starts_with("AWS4-"));
    header || query.iter().any(|(k, _)| k == "AWSAccessKeyId")
}

/// Checks a V2 signature. `query` is the decoded query, in order;
/// `vhost_bucket` the bucket a virtual-host request names in its host.
pub fn verify(
    method: &str,
    raw_path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    vhost_bucket: Option<&str>,
    now: SystemTime,
    secret_of: impl Fn(&str) -> Option<String>,
) -> S3Result<Verified> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (access_key, signature, date) = match header("authorization") {
        Some(auth) => {
            let (ak, sig) = auth
                .strip_prefix("AWS ")
                .and_then(|c| c.rsplit_once(':'))
                .ok_or_else(|| malformed("the Authorization header is not AWS KEY:SIGNATURE"))?;
            let date = if header("x-amz-date").is_some() {
                String::new()
            } else {
                header("date").unwrap_or_default().to_string()
            };
            let when = header("x-amz-date")
                .or(header("date"))
                .and_then(|d| httpdate::parse_http_date(d).ok())
                .ok_or_else(|| {
                    S3Error::access_denied("a V2-signed request needs a Date or x-amz-date header")
                })?;
            let skew = match now.duration_since(when) {
                Ok(d) => d,
                Err(e) => e.duration(),
            };
            if skew > MAX_SKEW {
                return Err(S3Error::new(
                    "RequestTimeTooSkewed",
                    StatusCode::FORBIDDEN,
                    "the difference between the request time and the server's time is too large",
                ));
            }
            (ak.to_string(), sig.to_string(), date)
        }
        None => {
            let (Some(ak), Some(sig), Some(expires)) = (
                param("AWSAccessKeyId"),
                param("Signature"),
                param("Expires"),
            ) else {
                return Err(malformed(
                    "a V2 presigned URL needs AWSAccessKeyId, Expires and Signature",
                ));
            };
            let secs: u64 = expires
                .parse()
                .map_err(|_| malformed("Expires is not a number of seconds"))?;
            let at = UNIX_EPOCH + Duration::from_secs(secs);
            if at < now {
                return Err(S3Error::access_denied("Request has expired"));
            }
            if at > now + Duration::from_secs(MAX_PRESIGNED_EXPIRES) + MAX_SKEW {
                return Err(malformed("a presigned URL may last at most 7 days"));
            }
            (ak.to_string(), sig.to_string(), expires.to_string())
        }
    };
    let Some(secret) = secret_of(&access_key) else {
        return Err(S3Error::new(
            "InvalidAccessKeyId",
            StatusCode::FORBIDDEN,
            "the AWS access key id you provided does not exist in our records",
        ));
    };
    let to_sign = string_to_sign(method, raw_path, query, headers, vhost_bucket, &date);
    let given = BASE64
        .decode(signature.trim())
        .map_err(|_| S3Error::signature_mismatch("the signature is not base64"))?;
    let mut mac = HmacSha1::new_from_slice(secret.as_bytes())
        .map_err(|_| S3Error::internal("HMAC takes keys of any length"))?;
    mac.update(to_sign.as_bytes());
    if mac.verify_slice(&given).is_err() {
        return Err(S3Error::signature_mismatch(format!(
            "The request signature we calculated does not match the signature you provided. String to sign: {to_sign:?}"
        )));
    }
    Ok(Verified {
        access_key,
        payload: Payload::Unsigned,
    })
}

fn malformed(why: &str) -> S3Error {
    S3Error::new("InvalidArgument", StatusCode::BAD_REQUEST, why)
}

/// The string a V2 signature covers (module doc).
pub fn string_to_sign(
    method: &str,
    raw_path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    vhost_bucket: Option<&str>,
    date: &str,
) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut amz: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let n = name.as_str().to_ascii_lowercase();
        if n.starts_with("x-amz-") {
            let v = value.to_str().unwrap_or("").trim().to_string();
            match amz.iter_mut().find(|(k, _)| *k == n) {
                Some((_, all)) => {
                    all.push(',');
                    all.push_str(&v);
                }
                None => amz.push((n, v)),
            }
        }
    }
    amz.sort();
    let mut s = format!(
        "{method}\n{}\n{}\n{date}\n",
        header("content-md5"),
        header("content-type")
    );
    for (k, v) in &amz {
        s.push_str(&format!("{k}:{v}\n"));
    }
    if let Some(b) = vhost_bucket {
        s.push('/');
        s.push_str(b);
    }
    s.push_str(raw_path);
    // A path-style request for a bucket signs it as `/bucket/`.
    let segments = raw_path.trim_start_matches('/');
    if vhost_bucket.is_none() && !segments.is_empty() && !segments.contains('/') {
        s.push('/');
    }
    let mut subs: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (k, v)) in subs.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// A presigned V2 URL's query (for tests): `AWSAccessKeyId`, `Expires`,
/// `Signature`.
pub fn presign_query(
    method: &str,
    raw_path: &str,
    access_key: &str,
    secret: &str,
    expires: u64,
) -> String {
    let to_sign = string_to_sign(
        method,
        raw_path,
        &[],
        &HeaderMap::new(),
        None,
        &expires.to_string(),
    );
    let sig = sign(secret, &to_sign);
    let enc: String =
        percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("AWSAccessKeyId={access_key}&Expires={expires}&Signature={enc}")
}

fn sign(secret: &str, to_sign: &str) -> String {
    match HmacSha1::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(to_sign.as_bytes());
            BASE64.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length: not reached.
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::header_map;

    use crate::testing::{secret_of, AK, SECRET};

    /// AWS's published V2 examples ("Signing and Authenticating REST
    /// Requests"): an object GET, virtual-host style, and a PUT with
    /// `Content-Type`.
    #[test]
    fn aws_examples() {
        let h = header_map(&[("date", "Tue, 27 Mar 2007 19:36:42 +0000")]);
        let s = string_to_sign(
            "GET",
            "/photos/puppy.jpg",
            &[],
            &h,
            Some("awsexamplebucket1"),
            "Tue, 27 Mar 2007 19:36:42 +0000",
        );
        assert_eq!(
            s,
            "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"
        );
        assert_eq!(sign(SECRET, &s), "qgk2+6Sv9/oM7G3qLEjTH1a1l1g=");
        let h = header_map(&[
            ("content-type", "image/jpeg"),
            ("date", "Tue, 27 Mar 2007 21:15:45 +0000"),
        ]);
        let s = string_to_sign(
            "PUT",
            "/photos/puppy.jpg",
            &[],
            &h,
            Some("awsexamplebucket1"),
            "Tue, 27 Mar 2007 21:15:45 +0000",
        );
        assert_eq!(sign(SECRET, &s), "iqRzw+ileNPu1fhspnRs8nOjjIA=");
    }

    #[test]
    fn header_and_presigned_round_trips_and_refusals() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let date = httpdate::fmt_http_date(now);
        let q = vec![
            ("uploadId".to_string(), "abc".to_string()),
            ("partNumber".to_string(), "2".to_string()),
        ];
        let to_sign = string_to_sign(
            "PUT",
            "/b/k",
            &q,
            &header_map(&[("date", &date)]),
            None,
            &date,
        );
        assert!(
            to_sign.ends_with("/b/k?partNumber=2&uploadId=abc"),
            "{to_sign}"
        );
        let auth = format!("AWS {AK}:{}", sign(SECRET, &to_sign));
        let h = header_map(&[("date", &date), ("authorization", &auth)]);
        let v = verify("PUT", "/b/k", &q, &h, None, now, secret_of).unwrap();
        assert_eq!(v.access_key, AK);
        // Another path, a skewed clock, an unknown key: refused.
        assert_eq!(
            verify("PUT", "/b/x", &q, &h, None, now, secret_of)
                .unwrap_err()
                .code,
            "SignatureDoesNotMatch"
        );
        let late = now + Duration::from_secs(16 * 60);
        assert_eq!(
            verify("PUT", "/b/k", &q, &h, None, late, secret_of)
                .unwrap_err()
                .code,
            "RequestTimeTooSkewed"
        );
        let h2 = header_map(&[
            ("date", &date),
            (
                "authorization",
                &format!("AWS OTHER:{}", sign(SECRET, &to_sign)),
            ),
        ]);
        assert_eq!(
            verify("PUT", "/b/k", &q, &h2, None, now, secret_of)
                .unwrap_err()
                .code,
            "InvalidAccessKeyId"
        );

        let expires = 1_800_000_600;
        let query = presign_query("GET", "/b/k", AK, SECRET, expires);
        let q = crate::request::parse_query(&query)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>();
        assert!(is_v2(&HeaderMap::new(), &q));
        verify("GET", "/b/k", &q, &HeaderMap::new(), None, now, secret_of).unwrap();
        let after = UNIX_EPOCH + Duration::from_secs(expires + 1);
        assert_eq!(
            verify("GET", "/b/k", &q, &HeaderMap::new(), None, after, secret_of)
                .unwrap_err()
                .code,
            "AccessDenied"
        );
        assert_eq!(
            verify("PUT", "/b/k", &q, &HeaderMap::new(), None, now, secret_of)
                .unwrap_err()
                .code,
            "SignatureDoesNotMatch"
        );
        let far = presign_query("GET", "/b/k", AK, SECRET, 1_800_000_000 + 30 * 86_400);
        let q = crate::request::parse_query(&far)
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>();
        assert!(verify("GET", "/b/k", &q, &HeaderMap::new(), None, now, secret_of).is_err());
    }
}
