//! AWS Signature Version 4, checked on the server side: the
//! `Authorization: AWS4-HMAC-SHA256 …` header and presigned URLs
//! (`X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…`), as the S3 API
//! reference describes them ("Authenticating Requests (AWS Signature
//! Version 4)"). [`sign_request`] and [`presign_query`] sign the same way, for
//! tests and the benchmark's client.
//!
//! The rules this module follows:
//! - The canonical request is `METHOD\nURI\nQUERY\nHEADERS\nSIGNED\nPAYLOAD`.
//!   The URI is the path as sent, each `/`-separated segment decoded and
//!   URI-encoded again (`A-Za-z0-9-._~` kept, everything else `%XX`
//!   uppercase); `//`, `.` and `..` stay as they are (S3 does not normalize
//!   paths). Each query name and value is decoded and encoded the same way (a
//!   `+` is a literal plus, not a space), the pairs are sorted by name then
//!   value, a name without `=` has an empty value, and presigned URLs leave
//!   `X-Amz-Signature` out.
//! - Canonical headers are the signed headers only, in the order of the
//!   `SignedHeaders` list (which clients send sorted): the lowercase name, `:`,
//!   the values each trimmed with inner runs of spaces and tabs collapsed to one
//!   space, joined by `,`. `SignedHeaders` must name `host`, and every
//!   `x-amz-*` header the request carries must be signed (S3's rule: an unsigned
//!   `x-amz-content-sha256` would let anyone swap the body).
//! - The payload hash is the `x-amz-content-sha256` header verbatim (required
//!   with the `Authorization` header); a presigned URL uses `UNSIGNED-PAYLOAD`
//!   unless the client signed an `x-amz-content-sha256` header. The value also
//!   says how the body is read ([`Payload`]).
//! - The string to sign is `AWS4-HMAC-SHA256\n<datetime>\n<scope>\n<hex
//!   sha256 of the canonical request>`, the scope `DATE/REGION/s3/aws4_request`.
//!   The signing key is the HMAC-SHA256 chain `"AWS4"+secret` → date → region →
//!   `s3` → `aws4_request`. Any region is accepted; the service must be `s3` and
//!   the credential's date the date of the request's datetime.
//! - The request time is `x-amz-date` (or `Date`); with the header form it must
//!   be within [`MAX_SKEW`] of now. A presigned URL is good from `X-Amz-Date`
//!   (less [`MAX_SKEW`] of clock slack) until `X-Amz-Date + X-Amz-Expires`,
//!   which is at most [`MAX_PRESIGNED_EXPIRES`] seconds.
//! - Signatures are compared in constant time (`Mac::verify_slice`). Error
//!   messages may quote the canonical request and the string to sign, as S3
//!   does, never a secret or a signing key.
//! - Every refusal is an [`S3Error`] with S3's code: `AccessDenied`,
//!   `InvalidAccessKeyId`, `SignatureDoesNotMatch`, `RequestTimeTooSkewed`
//!   (403); `AuthorizationHeaderMalformed`, `AuthorizationQueryParametersError`,
//!   `InvalidArgument`, `InvalidRequest` (400); `NotImplemented` (501) for
//!   SigV4a (`AWS4-ECDSA-P256-SHA256`). Bad input never panics.
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::error::S3Error;

type HmacSha256 = Hmac<Sha256>;

/// How far the request time of a header-signed request may be from now
/// (S3's `RequestTimeTooSkewed` rule); also how far in the future a presigned
/// URL's `X-Amz-Date` may be.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// The longest `X-Amz-Expires` of a presigned URL: 7 days.
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// `x-amz-content-sha256` for a body that is not checked.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-amz-content-sha256` for aws-chunked bodies with signed chunks.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// The same, with trailing headers (a checksum) and a trailer signature.
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `x-amz-content-sha256` for aws-chunked bodies with unsigned chunks and a
/// trailing checksum.
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// The hex SHA-256 of no bytes.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const SIGV4A: &str = "AWS4-ECDSA-P256-SHA256";
const TERMINATOR: &str = "aws4_request";
const SERVICE: &str = "s3";

/// How the request's body is to be read, as its x-amz-content-sha256 says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// UNSIGNED-PAYLOAD (or a presigned URL): not checked.
    Unsigned,
    /// A hex SHA-256 the body must have (checked by the reader of the body:
    /// `checksum::BodyCheck`).
    Sha256([u8; 32]),
    /// STREAMING-AWS4-HMAC-SHA256-PAYLOAD (trailer: false) or
    /// STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (trailer: true): aws-chunked,
    /// each chunk signed.
    StreamingSigned { trailer: bool, chain: ChunkSigner },
    /// STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked, unsigned chunks,
    /// trailing checksum.
    StreamingUnsignedTrailer,
}

/// What a chunk signature is computed from: the signing key, the request's
/// datetime and scope, and the previous signature (the seed signature, the
/// request's own, first). Each chunk's string to sign is
/// `AWS4-HMAC-SHA256-PAYLOAD\n<datetime>\n<scope>\n<previous>\n<hex sha256 of
/// nothing>\n<hex sha256 of the chunk>`; the trailer's is
/// `AWS4-HMAC-SHA256-TRAILER\n<datetime>\n<scope>\n<previous>\n<hex sha256 of
/// the trailer lines>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ChunkSigner {
    key: [u8; 32],
    date_time: String,
    scope: String,
    previous: String,
}

impl fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("key", &"..")
            .field("date_time", &self.date_time)
            .field("scope", &self.scope)
            .field("previous", &self.previous)
            .finish()
    }
}

impl ChunkSigner {
    /// A chain as a client starts it: the key of `secret` for `region` on the
    /// date of `now`, and the request's signature (`seed_signature`, hex).
    pub fn new(secret: &str, region: &str, now: SystemTime, seed_signature: &str) -> Self {
        let date_time = amz_date(now);
        let date = &date_time[..8];
        ChunkSigner {
            key: signing_key(secret, date, region),
            date_time: date_time.clone(),
            scope: scope(date, region),
            previous: seed_signature.to_ascii_lowercase(),
        }
    }

    /// The signature the chain is at (the seed first, then the last chunk's).
    pub fn previous(&self) -> &str {
        &self.previous
    }

    /// The expected signature of the next chunk with these bytes (advances the
    /// chain). Hex.
    pub fn next_chunk(&mut self, chunk: &[u8]) -> String {
        let digest: [u8; 32] = Sha256::digest(chunk).into();
        self.next_chunk_sha256(&digest)
    }

    /// [`next_chunk`](Self::next_chunk) from the chunk's SHA-256, for a reader
    /// that hashed the chunk as it came.
    pub fn next_chunk_sha256(&mut self, chunk_sha256: &[u8; 32]) -> String {
        let mac = self.chunk_mac(chunk_sha256);
        let sig = hex::encode(mac.finalize().into_bytes());
        self.previous.clone_from(&sig);
        sig
    }

    /// Whether `signature_hex` is the next chunk's signature (compared in
    /// constant time). Advances the chain with the expected signature either
    /// way (a reader stops at the first mismatch).
    pub fn verify_chunk(&mut self, chunk_sha256: &[u8; 32], signature_hex: &str) -> bool {
        let mac = self.chunk_mac(chunk_sha256);
        self.check_and_advance(mac, signature_hex)
    }

    /// Expected trailer signature over the trailing header lines
    /// (`x-amz-checksum-crc32:...\n`), for the -TRAILER form.
    pub fn trailer(&mut self, trailer_lines: &[u8]) -> String {
        let mac = self.trailer_mac(trailer_lines);
        let sig = hex::encode(mac.finalize().into_bytes());
        self.previous.clone_from(&sig);
        sig
    }

    /// Whether `signature_hex` is the trailer's signature (constant time).
    pub fn verify_trailer(&mut self, trailer_lines: &[u8], signature_hex: &str) -> bool {
        let mac = self.trailer_mac(trailer_lines);
        self.check_and_advance(mac, signature_hex)
    }

    fn chunk_mac(&self, chunk_sha256: &[u8; 32]) -> HmacSha256 {
        let mut mac = new_mac(&self.key);
        mac.update(b"AWS4-HMAC-SHA256-PAYLOAD\n");
        mac.update(self.date_time.as_bytes());
        mac.update(b"\n");
        mac.update(self.scope.as_bytes());
        mac.update(b"\n");
        mac.update(self.previous.as_bytes());
        mac.update(b"\n");
        mac.update(EMPTY_SHA256.as_bytes());
        mac.update(b"\n");
        mac.update(hex::encode(chunk_sha256).as_bytes());
        mac
    }

    fn trailer_mac(&self, trailer_lines: &[u8]) -> HmacSha256 {
        let mut mac = new_mac(&self.key);
        mac.update(b"AWS4-HMAC-SHA256-TRAILER\n");
        mac.update(self.date_time.as_bytes());
        mac.update(b"\n");
        mac.update(self.scope.as_bytes());
        mac.update(b"\n");
        mac.update(self.previous.as_bytes());
        mac.update(b"\n");
        mac.update(hex::encode(Sha256::digest(trailer_lines)).as_bytes());
        mac
    }

    fn check_and_advance(&mut self, mac: HmacSha256, signature_hex: &str) -> bool {
        let ok = match decode_signature(signature_hex) {
            Some(given) => mac.clone().verify_slice(&given).is_ok(),
            None => false,
        };
        self.previous = hex::encode(mac.finalize().into_bytes());
        ok
    }
}

/// A request whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified {
    pub access_key: String,
    pub payload: Payload,
}

/// Checks the request's signature: `Authorization: AWS4-HMAC-SHA256
/// Credential=AK/DATE/REGION/s3/aws4_request, SignedHeaders=...,
/// Signature=...` with `x-amz-date` (or `Date`), or a presigned URL
/// (`X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=...&X-Amz-Expires=...&X-Amz-SignedHeaders=...&X-Amz-Signature=...`).
///
/// `raw_path` is the path exactly as sent (still percent-encoded), `raw_query`
/// the query string as sent (without `?`). `secret_of(access_key)` gives the
/// key's secret, `None` for an unknown key. Over HTTP/2 the caller must put
/// the `:authority` in a `host` header first (clients sign it as `host`).
pub fn verify(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    now: SystemTime,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Verified, S3Error> {
    let query = parse_query(raw_query);
    let has = |name: &str| query.iter().any(|(k, _)| k == name.as_bytes());
    let presigned = has("X-Amz-Algorithm") || has("X-Amz-Credential") || has("X-Amz-Signature");
    let mut authorization = headers.get_all("authorization");
    if let Some(value) = authorization.next() {
        if presigned {
            return Err(S3Error::invalid_argument(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
                 Signature query string parameter or the Authorization header should be specified",
            ));
        }
        if authorization.next().is_some() {
            return Err(header_malformed(
                "The authorization header is malformed; the request has more than one Authorization header.",
            ));
        }
        let value = value.to_str().map_err(|_| {
            header_malformed("The authorization header is malformed; it is not ASCII text.")
        })?;
        return verify_header(method, raw_path, &query, value, headers, now, secret_of);
    }
    if presigned {
        return verify_presigned(method, raw_path, &query, headers, now, secret_of);
    }
    if has("Signature") || has("AWSAccessKeyId") {
        return Err(S3Error::invalid_request(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    Err(S3Error::access_denied(
        "anonymous access is not allowed: sign the request with AWS Signature Version 4",
    ))
}

/// The parts of a signature that both forms carry.
struct Signed<'a> {
    access_key: &'a str,
    credential_date: &'a str,
    region: &'a str,
    signed_headers: &'a str,
    signature: [u8; 32],
    /// `YYYYMMDD'T'HHMMSS'Z'`, as it goes in the string to sign.
    date_time: String,
}

/// The `Authorization` header form.
fn verify_header(
    method: &str,
    raw_path: &str,
    query: &[(Vec<u8>, Vec<u8>)],
    authorization: &str,
    headers: &HeaderMap,
    now: SystemTime,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Verified, S3Error> {
    let fields = parse_authorization(authorization)?;
    let credential = parse_credential(fields.credential)
        .map_err(|m| header_malformed(format!("The authorization header is malformed; {m}")))?;

    // The request time: x-amz-date, else Date.
    let no_date =
        || S3Error::access_denied("AWS authentication requires a valid Date or x-amz-date header");
    let (time, date_time) = match single_header(headers, "x-amz-date").map_err(|_| no_date())? {
        Some(v) => {
            let t = parse_amz_date(v).ok_or_else(no_date)?;
            (t, v.to_string())
        }
        None => {
            let v = single_header(headers, "date")
                .map_err(|_| no_date())?
                .ok_or_else(no_date)?;
            let t = httpdate::parse_http_date(v).map_err(|_| no_date())?;
            (t, amz_date(t))
        }
    };
    if credential.date != &date_time[..8] {
        return Err(header_malformed(format!(
            "The authorization header is malformed; Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            credential.date,
            &date_time[..8]
        )));
    }
    if distance(now, time) > MAX_SKEW {
        return Err(S3Error::new(
            "RequestTimeTooSkewed",
            StatusCode::FORBIDDEN,
            format!(
                "The difference between the request time ({date_time}) and the current time ({}) is too large (over 15 minutes).",
                amz_date(now)
            ),
        ));
    }

    let names = parse_signed_headers(fields.signed_headers)
        .map_err(|m| header_malformed(format!("The authorization header is malformed; {m}")))?;
    check_all_amz_signed(headers, &names)?;
    let payload_hash = match single_header(headers, "x-amz-content-sha256") {
        Ok(Some(v)) => v,
        Ok(None) => {
            return Err(S3Error::invalid_request(
                "Missing required header for this request: x-amz-content-sha256",
            ))
        }
        Err(()) => {
            return Err(S3Error::invalid_argument(
                "x-amz-content-sha256 must be given once, as ASCII text",
            ))
        }
    };
    check_payload_value(payload_hash)?;

    let signature = decode_signature(fields.signature).ok_or_else(|| {
        header_malformed(
            "The authorization header is malformed; the Signature must be 64 hexadecimal characters.",
        )
    })?;
    let signed = Signed {
        access_key: credential.access_key,
        credential_date: credential.date,
        region: credential.region,
        signed_headers: fields.signed_headers,
        signature,
        date_time,
    };
    let query = canonical_query(query, false);
    check_signature(
        method,
        raw_path,
        &query,
        headers,
        &names,
        payload_hash,
        signed,
        secret_of,
    )
}

/// The presigned URL form.
fn verify_presigned(
    method: &str,
    raw_path: &str,
    query: &[(Vec<u8>, Vec<u8>)],
    headers: &HeaderMap,
    now: SystemTime,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Verified, S3Error> {
    let param = |name: &str| presigned_param(query, name);
    let algorithm = param("X-Amz-Algorithm")?;
    if algorithm == SIGV4A {
        return Err(sigv4a());
    }
    if algorithm != ALGORITHM {
        return Err(query_error(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let credential = parse_credential(param("X-Amz-Credential")?)
        .map_err(|m| query_error(format!("Error parsing the X-Amz-Credential parameter; {m}")))?;
    let date_time = param("X-Amz-Date")?;
    let time = parse_amz_date(date_time).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    if credential.date != &date_time[..8] {
        return Err(query_error(format!(
            "Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            credential.date,
            &date_time[..8]
        )));
    }
    let expires = param("X-Amz-Expires")?;
    if expires.is_empty() || expires.len() > 19 || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(query_error("X-Amz-Expires should be a number"));
    }
    let expires: u64 = expires
        .parse()
        .map_err(|_| query_error("X-Amz-Expires should be a number"))?;
    if expires > MAX_PRESIGNED_EXPIRES {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    match time.checked_add(Duration::from_secs(expires)) {
        Some(end) if now <= end => {}
        _ => return Err(S3Error::access_denied("Request has expired")),
    }
    if time > now && distance(now, time) > MAX_SKEW {
        return Err(S3Error::access_denied("Request is not valid yet"));
    }

    let signed_headers = param("X-Amz-SignedHeaders")?;
    let names = parse_signed_headers(signed_headers).map_err(query_error)?;
    check_all_amz_signed(headers, &names)?;
    let payload_hash = if names.contains(&"x-amz-content-sha256") {
        let v = single_header(headers, "x-amz-content-sha256")
            .ok()
            .flatten()
            .ok_or_else(|| {
                S3Error::invalid_argument("x-amz-content-sha256 must be given once, as ASCII text")
            })?;
        check_payload_value(v)?;
        v
    } else {
        UNSIGNED_PAYLOAD
    };
    let signature = param("X-Amz-Signature")?;
    let signature = decode_signature(signature)
        .ok_or_else(|| query_error("X-Amz-Signature must be 64 hexadecimal characters."))?;
    let signed = Signed {
        access_key: credential.access_key,
        credential_date: credential.date,
        region: credential.region,
        signed_headers,
        signature,
        date_time: date_time.to_string(),
    };
    let query = canonical_query(query, true);
    check_signature(
        method,
        raw_path,
        &query,
        headers,
        &names,
        payload_hash,
        signed,
        secret_of,
    )
}

/// The one value of a presigned URL's parameter.
fn presigned_param<'q>(query: &'q [(Vec<u8>, Vec<u8>)], name: &str) -> Result<&'q str, S3Error> {
    const REQUIRED: &str = "Query-string authentication version 4 requires the X-Amz-Algorithm, \
        X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
    let mut found = query.iter().filter(|(k, _)| k == name.as_bytes());
    let value = found.next().ok_or_else(|| query_error(REQUIRED))?;
    if found.next().is_some() {
        return Err(query_error(format!("{name} is given more than once.")));
    }
    std::str::from_utf8(&value.1).map_err(|_| query_error(format!("{name} is not valid UTF-8.")))
}

/// The last steps of both forms: the key's secret, the canonical request, the
/// comparison.
#[allow(clippy::too_many_arguments)]
fn check_signature(
    method: &str,
    raw_path: &str,
    canonical_query: &str,
    headers: &HeaderMap,
    names: &[&str],
    payload_hash: &str,
    signed: Signed<'_>,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Verified, S3Error> {
    let secret = secret_of(signed.access_key).ok_or_else(|| {
        S3Error::new(
            "InvalidAccessKeyId",
            StatusCode::FORBIDDEN,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    })?;
    let header_lines = canonical_headers(names, |name| {
        headers
            .get_all(name)
            .map(|v| v.as_bytes().to_vec())
            .collect()
    });
    let request = canonical_request(
        method,
        &canonical_uri(raw_path),
        canonical_query,
        &header_lines,
        signed.signed_headers,
        payload_hash,
    );
    let scope = scope(signed.credential_date, signed.region);
    let to_sign = string_to_sign(&signed.date_time, &scope, &request);
    let key = signing_key(&secret, signed.credential_date, signed.region);
    let mut mac = new_mac(&key);
    mac.update(to_sign.as_bytes());
    let computed = mac.clone().finalize().into_bytes();
    if mac.verify_slice(&signed.signature).is_err() {
        log::debug!(
            "SigV4 mismatch for access key {}: canonical request {:?}",
            signed.access_key,
            String::from_utf8_lossy(&request)
        );
        return Err(S3Error::signature_mismatch(format!(
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method. Canonical request: {:?}. String to sign: {:?}.",
            String::from_utf8_lossy(&request),
            to_sign
        )));
    }
    let payload = match payload_hash {
        UNSIGNED_PAYLOAD => Payload::Unsigned,
        STREAMING_UNSIGNED_TRAILER => Payload::StreamingUnsignedTrailer,
        STREAMING_SIGNED | STREAMING_SIGNED_TRAILER => Payload::StreamingSigned {
            trailer: payload_hash == STREAMING_SIGNED_TRAILER,
            chain: ChunkSigner {
                key,
                date_time: signed.date_time.clone(),
                scope,
                previous: hex::encode(computed),
            },
        },
        hash => {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hash, &mut digest).map_err(|_| bad_payload_value())?;
            Payload::Sha256(digest)
        }
    };
    Ok(Verified {
        access_key: signed.access_key.to_string(),
        payload,
    })
}

/// Refuses an `x-amz-content-sha256` that is neither a known constant nor a hex
/// SHA-256.
fn check_payload_value(value: &str) -> Result<(), S3Error> {
    match value {
        UNSIGNED_PAYLOAD
        | STREAMING_SIGNED
        | STREAMING_SIGNED_TRAILER
        | STREAMING_UNSIGNED_TRAILER => Ok(()),
        v if v.starts_with("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") => Err(sigv4a()),
        v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
        _ => Err(bad_payload_value()),
    }
}

fn bad_payload_value() -> S3Error {
    S3Error::invalid_argument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, \
         STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER \
         or a valid sha256 value.",
    )
}

fn sigv4a() -> S3Error {
    S3Error::not_implemented(
        "AWS Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not supported: sign with AWS4-HMAC-SHA256",
    )
}

fn header_malformed(message: impl Into<String>) -> S3Error {
    S3Error::new(
        "AuthorizationHeaderMalformed",
        StatusCode::BAD_REQUEST,
        message,
    )
}

fn query_error(message: impl Into<String>) -> S3Error {
    S3Error::new(
        "AuthorizationQueryParametersError",
        StatusCode::BAD_REQUEST,
        message,
    )
}

/// The three components of an `Authorization: AWS4-HMAC-SHA256 ...` header.
struct AuthorizationFields<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<AuthorizationFields<'_>, S3Error> {
    let value = value.trim();
    let (algorithm, rest) = match value.find([' ', '\t']) {
        Some(i) => (&value[..i], value[i..].trim_start()),
        None => (value, ""),
    };
    if algorithm == SIGV4A {
        return Err(sigv4a());
    }
    if algorithm == "AWS" {
        return Err(S3Error::invalid_request(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }
    if algorithm != ALGORITHM {
        return Err(S3Error::invalid_argument(format!(
            "Unsupported Authorization Type {algorithm:?}: use AWS4-HMAC-SHA256"
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, v) = part.split_once('=').ok_or_else(|| {
            header_malformed(format!(
                "The authorization header is malformed; the component {part:?} has no '='."
            ))
        })?;
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(header_malformed(format!(
                    "The authorization header is malformed; unknown component {other:?}."
                )))
            }
        };
        if slot.replace(v.trim()).is_some() {
            return Err(header_malformed(format!(
                "The authorization header is malformed; {} is given more than once.",
                name.trim()
            )));
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(AuthorizationFields {
            credential,
            signed_headers,
            signature,
        }),
        _ => Err(header_malformed(
            "The authorization header is malformed; it must have Credential, SignedHeaders and Signature.",
        )),
    }
}

/// `AK/DATE/REGION/SERVICE/aws4_request`, split.
struct Credential<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
}

/// The message of an error says what is wrong; the caller picks the code.
fn parse_credential(value: &str) -> Result<Credential<'_>, String> {
    let malformed = || {
        format!(
            "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\", got {value:?}."
        )
    };
    let mut parts = value.rsplitn(5, '/');
    let (Some(terminator), Some(service), Some(region), Some(date), Some(access_key)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed());
    };
    if access_key.is_empty()
        || region.is_empty()
        || date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(malformed());
    }
    if service != SERVICE {
        return Err(format!(
            "incorrect service {service:?}. This endpoint belongs to \"s3\"."
        ));
    }
    if terminator != TERMINATOR {
        return Err(format!(
            "incorrect terminal {terminator:?}. This endpoint uses \"aws4_request\"."
        ));
    }
    Ok(Credential {
        access_key,
        date,
        region,
    })
}

/// `host;range;x-amz-date`: lowercase names, no repeats, `host` among them.
fn parse_signed_headers(value: &str) -> Result<Vec<&str>, String> {
    let mut names: Vec<&str> = Vec::new();
    for name in value.split(';') {
        let valid = !name.is_empty()
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            });
        if !valid {
            return Err(format!(
                "SignedHeaders must be lowercase header names separated by ';', got {value:?}."
            ));
        }
        if names.contains(&name) {
            return Err(format!("SignedHeaders names {name:?} twice."));
        }
        names.push(name);
    }
    if !names.contains(&"host") {
        return Err("SignedHeaders must include host.".to_string());
    }
    Ok(names)
}

/// S3's rule: every `x-amz-*` header of the request is among the signed ones.
fn check_all_amz_signed(headers: &HeaderMap, names: &[&str]) -> Result<(), S3Error> {
    let mut unsigned: Vec<&str> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("x-amz-") && !names.contains(k))
        .collect();
    if unsigned.is_empty() {
        return Ok(());
    }
    unsigned.sort_unstable();
    Err(S3Error::access_denied(format!(
        "There were headers present in the request which were not signed: {}",
        unsigned.join(", ")
    )))
}

/// The one value of a header: `Ok(None)` when absent, `Err` when repeated or
/// not visible ASCII.
fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    value.to_str().map(|v| Some(v.trim())).map_err(|_| ())
}

/// A 64-hex-digit signature as bytes.
fn decode_signature(hex_sig: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex_sig.len() != 64 {
        return None;
    }
    hex::decode_to_slice(hex_sig, &mut out).ok()?;
    Some(out)
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = new_mac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `"AWS4"+secret` → date → region → `s3` → `aws4_request`.
fn signing_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, SERVICE.as_bytes());
    hmac(&k_service, TERMINATOR.as_bytes())
}

fn scope(date: &str, region: &str) -> String {
    format!("{date}/{region}/{SERVICE}/{TERMINATOR}")
}

fn string_to_sign(date_time: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{date_time}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request))
    )
}

fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    header_lines: &[u8],
    signed_headers: &str,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + header_lines.len());
    for part in [method, uri, query] {
        out.extend_from_slice(part.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(header_lines);
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// `name:value\n` for each signed header, in the list's order; `values_of`
/// gives a header's values as sent.
fn canonical_headers(names: &[&str], values_of: impl Fn(&str) -> Vec<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for name in names {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (i, value) in values_of(name).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            collapse_spaces(value, &mut out);
        }
        out.push(b'\n');
    }
    out
}

/// The value trimmed, each inner run of spaces and tabs made one space.
fn collapse_spaces(value: &[u8], out: &mut Vec<u8>) {
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        if b == b' ' || b == b'\t' {
            pending_space = started;
            continue;
        }
        if pending_space {
            out.push(b' ');
            pending_space = false;
        }
        started = true;
        out.push(b);
    }
}

/// The path with each segment decoded and URI-encoded again, `/` kept.
fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(raw_path.len() + 16);
    for (i, segment) in raw_path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
        uri_encode(&decoded, &mut out);
    }
    out
}

/// The query's pairs, decoded (`+` stays `+`); a name without `=` has an
/// empty value, empty pieces (`a&&b`) are skipped.
fn parse_query(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_encoding::percent_decode_str(k).collect(),
                percent_encoding::percent_decode_str(v).collect(),
            )
        })
        .collect()
}

/// Encoded, sorted by name then value, joined by `&`; `X-Amz-Signature` left
/// out for a presigned URL.
fn canonical_query(pairs: &[(Vec<u8>, Vec<u8>)], presigned: bool) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !(presigned && k == b"X-Amz-Signature"))
        .map(|(k, v)| {
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(k, &mut ek);
            uri_encode(v, &mut ev);
            (ek, ev)
        })
        .collect();
    encoded.sort();
    let mut out = String::new();
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// AWS's URI encoding: `A-Za-z0-9-._~` kept, every other byte `%XX`
/// (uppercase hex), `/` included.
fn uri_encode(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

fn distance(a: SystemTime, b: SystemTime) -> Duration {
    match a.duration_since(b) {
        Ok(d) => d,
        Err(e) => e.duration(),
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` (UTC).
fn amz_date(t: SystemTime) -> String {
    // RFC 3339 without its separators: 2013-05-24T00:00:00Z -> 20130524T000000Z.
    let t = t.max(UNIX_EPOCH);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

/// Parses `YYYYMMDD'T'HHMMSS'Z'` (each field's range checked by
/// humantime's RFC 3339 parser).
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    humantime::parse_rfc3339(&iso).ok()
}

/// Signs a request as a client would (header form), for tests and the
/// benchmark's client: returns the headers to add (`authorization`,
/// `x-amz-date`, `x-amz-content-sha256`). `headers` are the other headers to
/// sign (host must be among them); their names may be in any case, a repeated
/// name is signed as its values joined by `,`.
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    payload_sha256_hex: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    now: SystemTime,
) -> Vec<(String, String)> {
    let date_time = amz_date(now);
    let date = &date_time[..8];
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| k != "x-amz-date" && k != "x-amz-content-sha256" && k != "authorization")
        .collect();
    all.push(("x-amz-content-sha256".into(), payload_sha256_hex.into()));
    all.push(("x-amz-date".into(), date_time.clone()));
    let mut names: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let signed_headers = names.join(";");
    let header_lines = canonical_headers(&names, |name| {
        all.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_bytes().to_vec())
            .collect()
    });
    let request = canonical_request(
        method,
        &canonical_uri(raw_path),
        &canonical_query(&parse_query(raw_query), false),
        &header_lines,
        &signed_headers,
        payload_sha256_hex,
    );
    let scope = scope(date, region);
    let to_sign = string_to_sign(&date_time, &scope, &request);
    let signature = hex::encode(hmac(&signing_key(secret, date, region), to_sign.as_bytes()));
    vec![
        (
            "authorization".into(),
            format!(
                "{ALGORITHM} Credential={access_key}/{scope},SignedHeaders={signed_headers},Signature={signature}"
            ),
        ),
        ("x-amz-date".into(), date_time),
        ("x-amz-content-sha256".into(), payload_sha256_hex.into()),
    ]
}

/// A presigned URL's query string (for tests): `host` the only signed header,
/// `UNSIGNED-PAYLOAD`.
#[allow(clippy::too_many_arguments)]
pub fn presign_query(
    method: &str,
    raw_path: &str,
    host: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    now: SystemTime,
    expires_secs: u64,
) -> String {
    let date_time = amz_date(now);
    let date = &date_time[..8];
    let scope = scope(date, region);
    let mut credential = String::new();
    uri_encode(format!("{access_key}/{scope}").as_bytes(), &mut credential);
    let query = format!(
        "X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={credential}&X-Amz-Date={date_time}&X-Amz-Expires={expires_secs}&X-Amz-SignedHeaders=host"
    );
    let header_lines = canonical_headers(&["host"], |_| vec![host.as_bytes().to_vec()]);
    let request = canonical_request(
        method,
        &canonical_uri(raw_path),
        &canonical_query(&parse_query(&query), true),
        &header_lines,
        "host",
        UNSIGNED_PAYLOAD,
    );
    let to_sign = string_to_sign(&date_time, &scope, &request);
    let signature = hex::encode(hmac(&signing_key(secret, date, region), to_sign.as_bytes()));
    format!("{query}&X-Amz-Signature={signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{secret_of, AK, SECRET};

    /// 2013-05-24T00:00:00Z, the time of AWS's examples.
    fn example_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    use crate::testing::header_map;

    fn code(r: Result<Verified, S3Error>) -> &'static str {
        match r {
            Ok(_) => "Ok",
            Err(e) => e.code,
        }
    }

    /// "Example: GET Object" of sig-v4-header-based-auth.
    fn get_object_headers() -> Vec<(&'static str, &'static str)> {
        vec![
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        ]
    }

    #[test]
    fn dates_round_trip() {
        let t = example_time();
        assert_eq!(amz_date(t), "20130524T000000Z");
        assert_eq!(parse_amz_date("20130524T000000Z"), Some(t));
        assert_eq!(amz_date(UNIX_EPOCH), "19700101T000000Z");
        let leap = parse_amz_date("20240229T235959Z").unwrap();
        assert_eq!(amz_date(leap), "20240229T235959Z");
        for bad in [
            "20230229T000000Z",
            "20131324T000000Z",
            "20130524T240000Z",
            "20130524 000000Z",
            "2013-05-24T00:00",
            "",
            "２013052T000000Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn encodings_follow_aws_rules() {
        assert_eq!(canonical_uri("/test$file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/test%24file.text"), "/test%24file.text");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/b//a/./../k"), "/b//a/./../k");
        assert_eq!(canonical_uri("/b/a%2Fb/c d+e"), "/b/a%2Fb/c%20d%2Be");
        assert_eq!(canonical_uri("/b/%e2%82%ac~"), "/b/%E2%82%AC~");
        assert_eq!(
            canonical_query(
                &parse_query("prefix=J&max-keys=2&lifecycle&a=x+y&a=%2B"),
                false
            ),
            "a=%2B&a=x%2By&lifecycle=&max-keys=2&prefix=J"
        );
        let mut collapsed = Vec::new();
        collapse_spaces(b"  a   b \t c  ", &mut collapsed);
        assert_eq!(collapsed, b"a b c");
    }

    #[test]
    fn aws_get_object_example_verifies() {
        let headers = header_map(&get_object_headers());
        let v = verify("GET", "/test.txt", "", &headers, example_time(), secret_of).unwrap();
        assert_eq!(v.access_key, AK);
        let mut empty = [0u8; 32];
        hex::decode_to_slice(EMPTY_SHA256, &mut empty).unwrap();
        assert_eq!(v.payload, Payload::Sha256(empty));
    }

    /// The other examples of the same page: PUT Object (Date header, `$` in
    /// the key), GET Bucket Lifecycle (a parameter without `=`), GET Bucket
    /// (query sorting).
    #[test]
    fn aws_other_header_examples_verify() {
        let put = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "x-amz-content-sha256",
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            ),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        ];
        let v = verify(
            "PUT",
            "/test$file.text",
            "",
            &header_map(&put),
            example_time(),
            secret_of,
        )
        .unwrap();
        assert_eq!(
            v.payload,
            Payload::Sha256(Sha256::digest(b"Welcome to Amazon S3.").into())
        );

        let lifecycle = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
            ),
        ];
        let headers = header_map(&lifecycle);
        verify("GET", "/", "lifecycle", &headers, example_time(), secret_of).unwrap();

        let list = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
            ),
        ];
        let headers = header_map(&list);
        verify(
            "GET",
            "/",
            "max-keys=2&prefix=J",
            &headers,
            example_time(),
            secret_of,
        )
        .unwrap();
        // The same query in another order is the same canonical query.
        verify(
            "GET",
            "/",
            "prefix=J&max-keys=2",
            &headers,
            example_time(),
            secret_of,
        )
        .unwrap();
        assert_eq!(
            code(verify(
                "GET",
                "/",
                "prefix=K&max-keys=2",
                &headers,
                example_time(),
                secret_of
            )),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn sign_request_reproduces_aws_examples() {
        let added = sign_request(
            "GET",
            "/test.txt",
            "",
            &[
                ("Host".into(), "examplebucket.s3.amazonaws.com".into()),
                ("Range".into(), "bytes=0-9".into()),
            ],
            EMPTY_SHA256,
            AK,
            SECRET,
            "us-east-1",
            example_time(),
        );
        assert_eq!(added[0].0, "authorization");
        assert!(added[0].1.ends_with(
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        ));
        assert_eq!(added[1], ("x-amz-date".into(), "20130524T000000Z".into()));
        assert_eq!(
            added[2],
            ("x-amz-content-sha256".into(), EMPTY_SHA256.into())
        );

        let added = sign_request(
            "GET",
            "/",
            "lifecycle",
            &[("host".into(), "examplebucket.s3.amazonaws.com".into())],
            EMPTY_SHA256,
            AK,
            SECRET,
            "us-east-1",
            example_time(),
        );
        assert!(added[0].1.ends_with(
            "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        ));
    }

    /// "Authenticating Requests: Using Query Parameters", the GET example.
    #[test]
    fn aws_presigned_example() {
        let query = presign_query(
            "GET",
            "/test.txt",
            "examplebucket.s3.amazonaws.com",
            AK,
            SECRET,
            "us-east-1",
            example_time(),
            86_400,
        );
        assert_eq!(
            query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        let headers = header_map(&[("host", "examplebucket.s3.amazonaws.com")]);
        let later = example_time() + Duration::from_secs(3600);
        let v = verify("GET", "/test.txt", &query, &headers, later, secret_of).unwrap();
        assert_eq!(v.access_key, AK);
        assert_eq!(v.payload, Payload::Unsigned);

        // Expired one second after X-Amz-Date + X-Amz-Expires.
        let end = example_time() + Duration::from_secs(86_400);
        verify("GET", "/test.txt", &query, &headers, end, secret_of).unwrap();
        let e = verify(
            "GET",
            "/test.txt",
            &query,
            &headers,
            end + Duration::from_secs(1),
            secret_of,
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("AccessDenied", "Request has expired")
        );
        // Dated more than 15 minutes in the future.
        let before = example_time() - MAX_SKEW - Duration::from_secs(1);
        assert_eq!(
            code(verify(
                "GET",
                "/test.txt",
                &query,
                &headers,
                before,
                secret_of
            )),
            "AccessDenied"
        );
        // Another path, another host, another method, a wrong secret.
        let now = example_time();
        assert_eq!(
            code(verify(
                "GET",
                "/test2.txt",
                &query,
                &headers,
                now,
                secret_of
            )),
            "SignatureDoesNotMatch"
        );
        let other_host = header_map(&[("host", "evil.example.com")]);
        assert_eq!(
            code(verify(
                "GET",
                "/test.txt",
                &query,
                &other_host,
                now,
                secret_of
            )),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(verify("PUT", "/test.txt", &query, &headers, now, secret_of)),
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            code(verify("GET", "/test.txt", &query, &headers, now, |_| Some(
                "x".into()
            ))),
            "SignatureDoesNotMatch"
        );
        // An extra parameter is signed too.
        let extra = format!("{query}&versionId=1");
        assert_eq!(
            code(verify("GET", "/test.txt", &extra, &headers, now, secret_of)),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn presigned_refusals() {
        let now = example_time();
        let headers = header_map(&[("host", "h")]);
        let good = presign_query("GET", "/b/k", "h", AK, SECRET, "eu-west-3", now, 60);
        verify("GET", "/b/k", &good, &headers, now, secret_of).unwrap();
        let swap = |from: &str, to: &str| good.replace(from, to);
        for (query, want) in [
            (
                swap("X-Amz-Expires=60", "X-Amz-Expires=604801"),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("X-Amz-Expires=60", "X-Amz-Expires=abc"),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("X-Amz-Expires=60", "X-Amz-Expires=-1"),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("X-Amz-Expires=60&", ""),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013-05-24"),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130525T000000Z"),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
                "NotImplemented",
            ),
            (
                swap("%2Fs3%2F", "%2Fec2%2F"),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=range"),
                "AuthorizationQueryParametersError",
            ),
            (
                swap("AKIAIOSFODNN7EXAMPLE", "AKIDUNKNOWN"),
                "InvalidAccessKeyId",
            ),
            (
                format!("{good}&X-Amz-Signature=00"),
                "AuthorizationQueryParametersError",
            ),
            (
                good.split("&X-Amz-Signature").next().unwrap().to_string(),
                "AuthorizationQueryParametersError",
            ),
        ] {
            let got = code(verify("GET", "/b/k", &query, &headers, now, secret_of));
            assert_eq!(got, want, "{query}");
        }
        // An unsigned x-amz-* header rides along: refused.
        let extra = header_map(&[("host", "h"), ("x-amz-acl", "public-read")]);
        assert_eq!(
            code(verify("GET", "/b/k", &good, &extra, now, secret_of)),
            "AccessDenied"
        );
        // Both forms at once.
        let both = header_map(&get_object_headers());
        assert_eq!(
            code(verify("GET", "/b/k", &good, &both, now, secret_of)),
            "InvalidArgument"
        );
    }

    #[test]
    fn round_trip_and_header_refusals() {
        let now = SystemTime::now();
        let sign = |secret: &str, at: SystemTime, payload: &str| {
            let mut pairs = vec![
                ("host".to_string(), "localhost:9000".to_string()),
                ("x-amz-meta-color".to_string(), "  deep   blue ".to_string()),
            ];
            pairs.extend(sign_request(
                "PUT",
                "/bucket/a%20key/with+plus",
                "uploadId=x%2By&partNumber=3",
                &pairs,
                payload,
                AK,
                secret,
                "us-east-1",
                at,
            ));
            pairs
        };
        let check = |pairs: &[(String, String)]| {
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            verify(
                "PUT",
                "/bucket/a%20key/with+plus",
                "partNumber=3&uploadId=x%2By",
                &header_map(&refs),
                now,
                secret_of,
            )
        };
        let v = check(&sign(SECRET, now, UNSIGNED_PAYLOAD)).unwrap();
        assert_eq!(v.payload, Payload::Unsigned);
        let v = check(&sign(SECRET, now, STREAMING_UNSIGNED_TRAILER)).unwrap();
        assert_eq!(v.payload, Payload::StreamingUnsignedTrailer);
        let v = check(&sign(SECRET, now, STREAMING_SIGNED_TRAILER)).unwrap();
        let Payload::StreamingSigned { trailer, chain } = v.payload else {
            panic!("not streaming");
        };
        assert!(trailer);
        assert!(!format!("{chain:?}").contains(SECRET));

        assert_eq!(
            code(check(&sign("wrong", now, UNSIGNED_PAYLOAD))),
            "SignatureDoesNotMatch"
        );
        let skewed = now - MAX_SKEW - Duration::from_secs(5);
        assert_eq!(
            code(check(&sign(SECRET, skewed, UNSIGNED_PAYLOAD))),
            "RequestTimeTooSkewed"
        );
        let ahead = now + MAX_SKEW + Duration::from_secs(5);
        assert_eq!(
            code(check(&sign(SECRET, ahead, UNSIGNED_PAYLOAD))),
            "RequestTimeTooSkewed"
        );
        assert_eq!(
            code(check(&sign(SECRET, now, "not-a-hash"))),
            "InvalidArgument"
        );
        assert_eq!(
            code(check(&sign(
                SECRET,
                now,
                "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
            ))),
            "NotImplemented"
        );

        // Tampering with a signed header.
        let mut pairs = sign(SECRET, now, UNSIGNED_PAYLOAD);
        pairs[1].1 = "red".into();
        assert_eq!(code(check(&pairs)), "SignatureDoesNotMatch");
        // The signature must not leak the secret in its message.
        let e = check(&sign("wrong", now, UNSIGNED_PAYLOAD)).unwrap_err();
        assert!(!e.message.contains("wrong"), "{}", e.message);
        assert!(e.message.contains("AWS4-HMAC-SHA256\\n"), "{}", e.message);
    }

    #[test]
    fn header_refusals() {
        let now = example_time();
        let base = get_object_headers();
        let with = |name: &str, value: &str| {
            let mut pairs: Vec<(&str, &str)> =
                base.iter().copied().filter(|(k, _)| *k != name).collect();
            if !value.is_empty() {
                pairs.push((name, value));
            }
            header_map(&pairs)
        };
        let run =
            |headers: HeaderMap| code(verify("GET", "/test.txt", "", &headers, now, secret_of));
        assert_eq!(run(with("authorization", "")), "AccessDenied");
        let auth = base[4].1;
        for (value, want) in [
            (
                auth.replace("AKIAIOSFODNN7EXAMPLE", "AKIDUNKNOWN"),
                "InvalidAccessKeyId",
            ),
            (
                auth.replace("f0e8bdb8", "f0e8bdb9"),
                "SignatureDoesNotMatch",
            ),
            (
                auth.replace("Signature=f0e8bdb8", "Signature=zz"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("host;range", "range"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("host;range", "Host;range"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("host;range", "host;host;range"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("Credential=", "Cred="),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace(",SignedHeaders", ",Signature=1,SignedHeaders"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("/s3/", "/ec2/"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("/aws4_request", "/aws5_request"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("/20130524/", "/20130525/"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("/20130524/", "/2013052/"),
                "AuthorizationHeaderMalformed",
            ),
            (
                auth.replace("/us-east-1/", "//"),
                "AuthorizationHeaderMalformed",
            ),
            (
                "AWS4-HMAC-SHA256".to_string(),
                "AuthorizationHeaderMalformed",
            ),
            (
                "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=".to_string(),
                "InvalidRequest",
            ),
            (
                auth.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
                "NotImplemented",
            ),
            ("Bearer abc".to_string(), "InvalidArgument"),
        ] {
            assert_eq!(run(with("authorization", &value)), want, "{value}");
        }
        // Other regions are accepted: the signature then differs.
        assert_eq!(
            run(with(
                "authorization",
                &auth.replace("us-east-1", "eu-west-1")
            )),
            "SignatureDoesNotMatch"
        );
        assert_eq!(run(with("x-amz-content-sha256", "")), "InvalidRequest");
        assert_eq!(run(with("x-amz-content-sha256", "abc")), "InvalidArgument");
        assert_eq!(run(with("x-amz-date", "")), "AccessDenied");
        assert_eq!(run(with("x-amz-date", "yesterday")), "AccessDenied");
        assert_eq!(
            run(with("host", "other.example.com")),
            "SignatureDoesNotMatch"
        );
        assert_eq!(run(with("range", "bytes=0-10")), "SignatureDoesNotMatch");
        // An x-amz-* header outside SignedHeaders.
        assert_eq!(run(with("x-amz-acl", "public-read")), "AccessDenied");
        // Headers that are not signed may change.
        verify(
            "GET",
            "/test.txt",
            "",
            &with("user-agent", "curl"),
            now,
            secret_of,
        )
        .unwrap();
        // Skew: 15 minutes is fine, more is not.
        let headers = header_map(&base);
        verify("GET", "/test.txt", "", &headers, now + MAX_SKEW, secret_of).unwrap();
        let late = now + MAX_SKEW + Duration::from_secs(1);
        assert_eq!(
            code(verify("GET", "/test.txt", "", &headers, late, secret_of)),
            "RequestTimeTooSkewed"
        );
        // Anonymous, SigV2 query.
        let anon = header_map(&[("host", "h")]);
        assert_eq!(
            code(verify("GET", "/b", "", &anon, now, secret_of)),
            "AccessDenied"
        );
        assert_eq!(
            code(verify(
                "GET",
                "/b",
                "AWSAccessKeyId=A&Expires=1&Signature=x",
                &anon,
                now,
                secret_of
            )),
            "InvalidRequest"
        );
    }

    /// The seed of "Transferring Payload in Multiple Chunks", then its chunk
    /// signatures.
    #[test]
    fn aws_streaming_example() {
        let pairs = [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            ),
            ("x-amz-content-sha256", STREAMING_SIGNED),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ];
        let v = verify(
            "PUT",
            "/examplebucket/chunkObject.txt",
            "",
            &header_map(&pairs),
            example_time(),
            secret_of,
        )
        .unwrap();
        let Payload::StreamingSigned { trailer, mut chain } = v.payload else {
            panic!("not streaming: {:?}", v.payload);
        };
        assert!(!trailer);
        assert_eq!(
            chain.previous(),
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        );
        let same = ChunkSigner::new(SECRET, "us-east-1", example_time(), chain.previous());
        assert_eq!(same, chain);
        assert_eq!(
            chain.next_chunk(&[b'a'; 65_536]),
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        assert_eq!(
            chain.next_chunk(&[b'a'; 1024]),
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        assert_eq!(
            chain.next_chunk(b""),
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        );
    }

    /// "Signature Calculations for Trailing Headers": seed, chunks, trailer.
    #[test]
    fn aws_trailer_example() {
        let pairs = [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
            ),
            ("x-amz-content-sha256", STREAMING_SIGNED_TRAILER),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
            ("content-length", "66824"),
        ];
        let v = verify(
            "PUT",
            "/examplebucket/chunkObject.txt",
            "",
            &header_map(&pairs),
            example_time(),
            secret_of,
        )
        .unwrap();
        let Payload::StreamingSigned { trailer, mut chain } = v.payload else {
            panic!("not streaming: {:?}", v.payload);
        };
        assert!(trailer);
        let mut copy = chain.clone();
        assert_eq!(
            chain.next_chunk(&[b'a'; 65_536]),
            "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
        );
        assert_eq!(
            chain.next_chunk(&[b'a'; 1024]),
            "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
        );
        assert_eq!(
            chain.next_chunk(b""),
            "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
        );
        assert_eq!(
            chain.trailer(b"x-amz-checksum-crc32c:sOO8/Q==\n"),
            "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
        );
        // The verifying forms agree, and refuse a changed byte.
        let sha: [u8; 32] = Sha256::digest([b'a'; 65_536]).into();
        assert!(copy.verify_chunk(
            &sha,
            "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
        ));
        let sha: [u8; 32] = Sha256::digest([b'a'; 1024]).into();
        assert!(!copy.verify_chunk(
            &sha,
            "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c8"
        ));
        assert!(!copy.verify_chunk(&sha, "not hex"));
    }
}
