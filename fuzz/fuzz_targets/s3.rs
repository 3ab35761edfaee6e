//! The S3 door's parsers on arbitrary input: an aws-chunked body (signed
//! and unsigned, with and without a trailer), split anywhere; the XML
//! request bodies; a Range header; a query string; a signature check of
//! arbitrary headers (V4 and V2).
//!
//! Properties: no panic; the chunked decoder never yields more than the
//! input holds, and a decoded body that ends without an error is exactly
//! what an independent parse of the same framing gives (unsigned, no
//! trailer); a Range that parses lies inside the object.
#![no_main]
use arbitrary::Arbitrary;
use dfs_s3::checksum::Algorithm;
use dfs_s3::chunked::{decode, ChunkMode};
use dfs_s3::sigv4::ChunkSigner;
use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncReadExt;

#[derive(Debug, Arbitrary)]
struct Input {
    body: Vec<u8>,
    cuts: Vec<u8>,
    signed: bool,
    trailer: u8,
    decoded_length: Option<u16>,
    xml: String,
    range: String,
    len: u32,
    query: String,
    headers: Vec<(String, String)>,
}

/// Unsigned aws-chunked framing without trailers, parsed the plain way. As
/// the decoder, it takes the final empty line with or without its `\r`
/// (trailer lines are read leniently).
fn model(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (rest == b"\r\n" || rest == b"\n").then_some(out);
        }
        let end = size.checked_add(2)?;
        if rest.len() < end || &rest[size..end] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fuzz_target!(|input: Input| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Split the body at the given cuts, as a network would.
    let mut pieces = Vec::new();
    let mut at = 0usize;
    for c in &input.cuts {
        let n = (*c as usize).max(1);
        if at >= input.body.len() {
            break;
        }
        let end = (at + n).min(input.body.len());
        pieces.push(Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&input.body[at..end])));
        at = end;
    }
    if at < input.body.len() {
        pieces.push(Ok(bytes::Bytes::copy_from_slice(&input.body[at..])));
    }
    let trailer = match input.trailer % 5 {
        0 => None,
        1 => Some(Algorithm::Crc32),
        2 => Some(Algorithm::Crc32c),
        3 => Some(Algorithm::Sha256),
        _ => Some(Algorithm::Sha1),
    };
    let plain = !input.signed && trailer.is_none() && input.decoded_length.is_none();
    let mode = ChunkMode {
        signer: input.signed.then(|| {
            ChunkSigner::new("secret", "us-east-1", std::time::UNIX_EPOCH, &"0".repeat(64))
        }),
        trailer,
        decoded_length: input.decoded_length.map(u64::from),
    };
    let got = rt.block_on(async {
        let mut r = decode(futures_util::stream::iter(pieces), mode);
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.map(|_| out)
    });
    if let Ok(out) = &got {
        assert!(out.len() <= input.body.len());
        if plain {
            assert_eq!(Some(out.clone()), model(&input.body), "decoded other bytes");
        }
    }

    let _ = dfs_s3::xml::from_xml::<dfs_s3::xml::Delete>(input.xml.as_bytes());
    let _ = dfs_s3::xml::from_xml::<dfs_s3::xml::CompleteMultipartUpload>(input.xml.as_bytes());
    let len = u64::from(input.len);
    if let Ok(Some((a, b))) = dfs_s3::object::parse_range(&input.range, len) {
        assert!(a <= b && b < len, "{a}-{b} of {len}");
    }
    let _ = dfs_s3::request::parse_query(&input.query);

    let mut map = actix_web::http::header::HeaderMap::new();
    for (k, v) in &input.headers {
        if let (Ok(k), Ok(v)) = (
            actix_web::http::header::HeaderName::from_bytes(k.as_bytes()),
            actix_web::http::header::HeaderValue::from_str(v),
        ) {
            map.append(k, v);
        }
    }
    let pairs: Vec<(String, String)> = dfs_s3::request::parse_query(&input.query)
        .map(|q| q.into_iter().collect())
        .unwrap_or_default();
    let _ = dfs_s3::sigv2::verify(
        "GET",
        "/b/k",
        &pairs,
        &map,
        Some("b"),
        std::time::SystemTime::now(),
        |ak| (ak == "AK").then(|| "secret".to_string()),
    );
    let _ = dfs_s3::sigv4::verify(
        "PUT",
        "/b/k",
        &input.query,
        &map,
        std::time::SystemTime::now(),
        |ak| (ak == "AK").then(|| "secret".to_string()),
    );
});
