//! Body checks: the digests a request body must match, computed as the bytes
//! pass and compared once the body has ended.
//!
//! - [`Algorithm`] and [`Checksummer`]: S3's additional checksums (CRC32,
//!   CRC32C, SHA-1, SHA-256), each sent as the base64 of the big-endian CRC or
//!   of the digest, in `x-amz-checksum-<alg>` headers or aws-chunked trailers.
//!   CRC64NVME is refused as not implemented.
//! - [`BodyCheck`]: everything a plain (not aws-chunked) body, or the decoded
//!   bytes of an aws-chunked one, must match: the `x-amz-content-sha256` hex
//!   ([`Payload::Sha256`]), `Content-MD5`, and at most one
//!   `x-amz-checksum-<alg>` header. Malformed values are refused when the
//!   request arrives, before any byte is read; mismatches when the body ends.
//! - [`CheckedBody`]: an `AsyncRead` adaptor that feeds every byte to a
//!   [`BodyCheck`] and an [`Md5`] (the object's ETag) and, at the end, returns
//!   the check's error instead of EOF, so a reader that stores until EOF
//!   never stores a body that failed.
//! - [`s3_error_of`]: the [`S3Error`] inside an `io::Error` from these readers.
//!
//! Errors use S3's codes: `InvalidDigest` (a malformed `Content-MD5`),
//! `InvalidRequest` (a malformed or repeated checksum header),
//! `XAmzContentSHA256Mismatch` and `BadDigest` (a mismatch), all 400, and
//! `NotImplemented` for CRC64NVME.
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use md5::Digest as _;
use tokio::io::{AsyncRead, ReadBuf};

use crate::error::S3Error;
use crate::sigv4::Payload;

/// One of S3's additional checksum algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Sha1,
    Sha256,
}

const CHECKSUM_PREFIX: &str = "x-amz-checksum-";

impl Algorithm {
    /// All of them, in S3's order.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// From `x-amz-trailer` / `x-amz-sdk-checksum-algorithm` / header names:
    /// `x-amz-checksum-crc32` or `CRC32` (case-insensitive, surrounding spaces
    /// ignored). CRC64NVME is `NotImplemented`, anything else `InvalidRequest`.
    pub fn from_header_name(name: &str) -> Result<Self, S3Error> {
        let trimmed = name.trim();
        let bare = match trimmed.get(..CHECKSUM_PREFIX.len()) {
            Some(p) if p.eq_ignore_ascii_case(CHECKSUM_PREFIX) => &trimmed[CHECKSUM_PREFIX.len()..],
            _ => trimmed,
        };
        Self::from_name(bare)
    }

    /// From an algorithm's name: `CRC32`, `CRC32C`, `SHA1`, `SHA256`
    /// (case-insensitive).
    pub fn from_name(name: &str) -> Result<Self, S3Error> {
        let name = name.trim();
        for alg in Self::ALL {
            if name.eq_ignore_ascii_case(alg.name()) {
                return Ok(alg);
            }
        }
        if name.eq_ignore_ascii_case("CRC64NVME") {
            return Err(S3Error::not_implemented(
                "the checksum algorithm CRC64NVME is not supported: use CRC32, CRC32C, SHA1 or SHA256",
            ));
        }
        Err(S3Error::invalid_request(format!(
            "unknown checksum algorithm {name:?}: use CRC32, CRC32C, SHA1 or SHA256"
        )))
    }

    /// S3's name: `CRC32`, `CRC32C`, `SHA1`, `SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The header (or trailer) that carries it: `x-amz-checksum-crc32`.
    pub fn header_name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// How many bytes the checksum has (before base64).
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// Decodes a checksum value as sent (base64 of the right length);
    /// `InvalidRequest` otherwise.
    pub fn decode_value(self, value: &str) -> Result<Vec<u8>, S3Error> {
        match BASE64.decode(value.trim()) {
            Ok(bytes) if bytes.len() == self.digest_len() => Ok(bytes),
            _ => Err(S3Error::invalid_request(format!(
                "Value for {} header is invalid.",
                self.header_name()
            ))),
        }
    }

    /// The error for a checksum that does not match the body.
    pub fn mismatch(self) -> S3Error {
        S3Error::bad_digest(format!(
            "The {} you specified did not match the calculated checksum.",
            self.header_name()
        ))
    }
}

/// A running checksum of one [`Algorithm`].
#[derive(Clone)]
pub struct Checksummer {
    state: State,
}

#[derive(Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl std::fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checksummer({})", self.algorithm().name())
    }
}

impl Checksummer {
    pub fn new(algorithm: Algorithm) -> Self {
        let state = match algorithm {
            Algorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => State::Crc32c(0),
            Algorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
        };
        Checksummer { state }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.state {
            State::Crc32(_) => Algorithm::Crc32,
            State::Crc32c(_) => Algorithm::Crc32c,
            State::Sha1(_) => Algorithm::Sha1,
            State::Sha256(_) => Algorithm::Sha256,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(bytes),
            State::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, bytes),
            State::Sha1(h) => sha1::Digest::update(h, bytes),
            State::Sha256(h) => sha2::Digest::update(h, bytes),
        }
    }

    /// The checksum's bytes: the CRC big-endian, or the digest.
    pub fn finish_bytes(self) -> Vec<u8> {
        match self.state {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            State::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The checksum as S3 sends it: base64 of [`finish_bytes`](Self::finish_bytes).
    pub fn finish(self) -> String {
        BASE64.encode(self.finish_bytes())
    }
}

/// The MD5 of an object (its ETag).
#[derive(Clone, Default)]
pub struct Md5(md5::Md5);

impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Md5(..)")
    }
}

impl Md5 {
    pub fn new() -> Self {
        Md5(md5::Md5::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> [u8; 16] {
        self.0.finalize().into()
    }
}

/// The lowercase hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(md5::Md5::digest(bytes))
}

/// Everything a plain (not chunked) body must match, checked as the bytes
/// pass and at the end: the x-amz-content-sha256 hex (`Payload::Sha256`),
/// `Content-MD5` (base64 of the MD5), and any `x-amz-checksum-<alg>` header.
/// Built from the request's headers and the Verified payload.
///
/// For an aws-chunked body, build it the same way and feed it the decoded
/// bytes: the streaming payloads carry no SHA-256, and `Content-MD5` and the
/// checksum headers are about the decoded bytes. For CompleteMultipartUpload,
/// whose `x-amz-checksum-*` headers describe the whole object and not the XML
/// body, use [`without_checksum_headers`](Self::without_checksum_headers).
#[derive(Clone)]
pub struct BodyCheck {
    sha256: Option<([u8; 32], sha2::Sha256)>,
    md5: Option<([u8; 16], md5::Md5)>,
    checksum: Option<(Vec<u8>, Checksummer)>,
}

impl std::fmt::Debug for BodyCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyCheck")
            .field("sha256", &self.sha256.as_ref().map(|(h, _)| hex::encode(h)))
            .field("md5", &self.md5.as_ref().map(|(h, _)| hex::encode(h)))
            .field(
                "checksum",
                &self
                    .checksum
                    .as_ref()
                    .map(|(v, c)| (c.algorithm(), BASE64.encode(v))),
            )
            .finish()
    }
}

impl BodyCheck {
    /// A check that checks nothing.
    pub fn none() -> Self {
        BodyCheck {
            sha256: None,
            md5: None,
            checksum: None,
        }
    }

    /// The checks the request asks for. A malformed `Content-MD5` (bad
    /// base64, not 16 bytes, repeated) is `InvalidDigest`; a malformed or
    /// second `x-amz-checksum-*` header `InvalidRequest`;
    /// `x-amz-checksum-crc64nvme` `NotImplemented`.
    pub fn from_headers(headers: &HeaderMap, payload: &Payload) -> Result<Self, S3Error> {
        let sha256 = match payload {
            Payload::Sha256(h) => Some((*h, sha2::Sha256::new())),
            _ => None,
        };

        let invalid_md5 = || {
            S3Error::new(
                "InvalidDigest",
                StatusCode::BAD_REQUEST,
                "The Content-MD5 you specified was invalid.",
            )
        };
        let mut md5_values = headers.get_all("content-md5");
        let md5 = match md5_values.next() {
            None => None,
            Some(value) => {
                if md5_values.next().is_some() {
                    return Err(invalid_md5());
                }
                let text = value.to_str().map_err(|_| invalid_md5())?;
                let bytes = BASE64.decode(text.trim()).map_err(|_| invalid_md5())?;
                let digest: [u8; 16] = bytes.try_into().map_err(|_| invalid_md5())?;
                Some((digest, md5::Md5::new()))
            }
        };

        let mut checksum = None;
        for name in headers.keys() {
            let name = name.as_str();
            let Some(alg_name) = name.strip_prefix(CHECKSUM_PREFIX) else {
                continue;
            };
            // x-amz-checksum-algorithm / -type / -mode are not checksums.
            if matches!(alg_name, "algorithm" | "type" | "mode") {
                continue;
            }
            let alg = Algorithm::from_name(alg_name)?;
            let mut values = headers.get_all(name);
            let (Some(value), None) = (values.next(), values.next()) else {
                return Err(S3Error::invalid_request(format!(
                    "Value for {name} header is invalid."
                )));
            };
            let text = value.to_str().map_err(|_| {
                S3Error::invalid_request(format!("Value for {name} header is invalid."))
            })?;
            let expected = alg.decode_value(text)?;
            if checksum.is_some() {
                return Err(S3Error::invalid_request(
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            checksum = Some((expected, Checksummer::new(alg)));
        }

        Ok(BodyCheck {
            sha256,
            md5,
            checksum,
        })
    }

    /// The same check without the `x-amz-checksum-*` header (for requests
    /// whose checksum headers are not about their body).
    pub fn without_checksum_headers(mut self) -> Self {
        self.checksum = None;
        self
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.sha256.is_none() && self.md5.is_none() && self.checksum.is_none()
    }

    /// The `Content-MD5` the body must have, if given.
    pub fn content_md5(&self) -> Option<[u8; 16]> {
        self.md5.as_ref().map(|(h, _)| *h)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        if let Some((_, h)) = &mut self.sha256 {
            h.update(bytes);
        }
        if let Some((_, h)) = &mut self.md5 {
            h.update(bytes);
        }
        if let Some((_, c)) = &mut self.checksum {
            c.update(bytes);
        }
    }

    /// At the end of the body: `XAmzContentSHA256Mismatch` (400) or
    /// `BadDigest` (400) on a mismatch.
    pub fn finish(self) -> Result<(), S3Error> {
        if let Some((expected, h)) = self.sha256 {
            let got: [u8; 32] = h.finalize().into();
            if got != expected {
                return Err(S3Error::new(
                    "XAmzContentSHA256Mismatch",
                    StatusCode::BAD_REQUEST,
                    format!(
                        "The provided 'x-amz-content-sha256' header does not match what was computed \
                         (client: {}, server: {}).",
                        hex::encode(expected),
                        hex::encode(got)
                    ),
                ));
            }
        }
        if let Some((expected, h)) = self.md5 {
            let got: [u8; 16] = h.finalize().into();
            if got != expected {
                return Err(S3Error::bad_digest(
                    "The Content-MD5 you specified did not match what we received.",
                ));
            }
        }
        if let Some((expected, c)) = self.checksum {
            let alg = c.algorithm();
            if c.finish_bytes() != expected {
                return Err(alg.mismatch());
            }
        }
        Ok(())
    }
}

/// The `io::Error` that carries `e` (kind `InvalidData`); [`s3_error_of`]
/// finds it again.
pub fn io_error(e: S3Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Finds the S3Error inside an io::Error (so the upload code can answer S3's
/// code when the body check failed): the error itself, or an error it wraps
/// (through nested `io::Error`s and `source()` chains).
pub fn s3_error_of(e: &io::Error) -> Option<S3Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = match e.get_ref() {
        Some(inner) => Some(inner),
        None => return None,
    };
    // A bounded walk: error chains are short, and a cycle must not hang us.
    for _ in 0..16 {
        let err = current?;
        if let Some(s3) = err.downcast_ref::<S3Error>() {
            return Some(s3.clone());
        }
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if let Some(inner) = io.get_ref() {
                current = Some(inner);
                continue;
            }
        }
        current = err.source();
    }
    None
}

/// Bodies past this many bytes have their MD5 computed on a thread of the
/// blocking pool, beside the upload (which hashes SHA-256 and sends on
/// this thread): MD5 runs at about 700 MB/s a core, so inline it would
/// halve a large PUT.
pub const MD5_OFFLOAD_AFTER: u64 = 1 << 20;
/// Pieces queued for the MD5 thread at most (then the reader waits).
const MD5_QUEUE: usize = 32;

/// Where the body's MD5 is computed: here, or (past
/// [`MD5_OFFLOAD_AFTER`]) on a worker fed through a bounded queue.
enum Md5Sink {
    Inline(Md5),
    Worker {
        tx: tokio_util::sync::PollSender<bytes::Bytes>,
        /// A piece read but not queued yet (the queue was full).
        pending: Option<bytes::Bytes>,
        done: tokio::sync::oneshot::Receiver<[u8; 16]>,
    },
}

impl Md5Sink {
    fn offload(md5: Md5) -> Md5Sink {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(MD5_QUEUE);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let mut md5 = md5;
            while let Some(piece) = rx.blocking_recv() {
                md5.update(&piece);
            }
            let _ = done_tx.send(md5.finish());
        });
        Md5Sink::Worker {
            tx: tokio_util::sync::PollSender::new(tx),
            pending: None,
            done,
        }
    }

    /// Queues the piece held back, if any: `Pending` while the queue is full.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Md5Sink::Worker { tx, pending, .. } = self {
            if let Some(piece) = pending.take() {
                match tx.poll_reserve(cx) {
                    Poll::Pending => {
                        *pending = Some(piece);
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(Err(md5_gone())),
                    Poll::Ready(Ok(())) => {
                        if tx.send_item(piece).is_err() {
                            return Poll::Ready(Err(md5_gone()));
                        }
                    }
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `new` in (after [`Md5Sink::poll_flush`] said `Ready`).
    fn update(&mut self, new: &[u8], total: u64, cx: &mut Context<'_>) -> io::Result<()> {
        match self {
            Md5Sink::Inline(md5) => {
                md5.update(new);
                if total > MD5_OFFLOAD_AFTER {
                    let md5 = std::mem::replace(md5, Md5::new());
                    *self = Md5Sink::offload(md5);
                }
                Ok(())
            }
            Md5Sink::Worker { tx, pending, .. } => {
                let piece = bytes::Bytes::copy_from_slice(new);
                match tx.poll_reserve(cx) {
                    Poll::Ready(Ok(())) => tx.send_item(piece).map_err(|_| md5_gone()),
                    Poll::Ready(Err(_)) => Err(md5_gone()),
                    // Queued before the next read (which waits for room).
                    Poll::Pending => {
                        *pending = Some(piece);
                        Ok(())
                    }
                }
            }
        }
    }

    /// The digest, once every piece is in: `Pending` while the worker
    /// still hashes.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<[u8; 16]>> {
        if self.poll_flush(cx)?.is_pending() {
            return Poll::Pending;
        }
        match self {
            Md5Sink::Inline(md5) => Poll::Ready(Ok(std::mem::replace(md5, Md5::new()).finish())),
            Md5Sink::Worker { tx, done, .. } => {
                // No more pieces: the worker ends its loop.
                tx.close();
                match Pin::new(done).poll(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(d)) => Poll::Ready(Ok(d)),
                    Poll::Ready(Err(_)) => Poll::Ready(Err(md5_gone())),
                }
            }
        }
    }
}

fn md5_gone() -> io::Error {
    io::Error::other("the MD5 worker of this body stopped")
}

use std::future::Future as _;

/// An AsyncRead adaptor: wraps a reader of body bytes, feeds every byte to a
/// [`BodyCheck`] and an MD5 (past [`MD5_OFFLOAD_AFTER`] bytes, on a worker
/// thread, so a large body is hashed beside its upload), and at EOF runs
/// [`BodyCheck::finish`] (an error there is returned as an `io::Error`
/// wrapping the S3Error instead of EOF) and stores the MD5 in a shared slot
/// that the caller reads after the upload: the slot is filled before EOF is
/// returned. Errors of the inner reader pass through unchanged. After the
/// end, further reads repeat the outcome (EOF or the same error).
pub struct CheckedBody<R> {
    inner: R,
    /// `Some` until the end of the body.
    check: Option<BodyCheck>,
    md5: Md5Sink,
    /// Bytes read so far.
    total: u64,
    /// The body ended and passed its check; the MD5 is being finished.
    finishing: bool,
    /// The check's outcome once the body has ended.
    outcome: Option<Result<(), S3Error>>,
    slot: Arc<Mutex<Option<[u8; 16]>>>,
}

impl<R: AsyncRead + Unpin> CheckedBody<R> {
    /// The adaptor, and the slot that holds the body's MD5 once it has been
    /// read to the end and passed the check.
    pub fn new(inner: R, check: BodyCheck) -> (Self, Arc<Mutex<Option<[u8; 16]>>>) {
        let slot = Arc::new(Mutex::new(None));
        (
            CheckedBody {
                inner,
                check: Some(check),
                md5: Md5Sink::Inline(Md5::new()),
                total: 0,
                finishing: false,
                outcome: None,
                slot: Arc::clone(&slot),
            },
            slot,
        )
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CheckedBody<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(outcome) = &this.outcome {
            return Poll::Ready(outcome.clone().map_err(io_error));
        }
        if this.finishing {
            return this.poll_finish(cx);
        }
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // Room for what was read before, first: memory stays bounded.
        if this.md5.poll_flush(cx)?.is_pending() {
            return Poll::Pending;
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        let new = &buf.filled()[before..];
        if !new.is_empty() {
            if let Some(check) = &mut this.check {
                check.update(new);
            }
            this.total += new.len() as u64;
            this.md5.update(new, this.total, cx)?;
            return Poll::Ready(Ok(()));
        }
        // EOF: the check decides whether the reader sees it.
        match this.check.take().map(BodyCheck::finish) {
            Some(Err(e)) => {
                this.outcome = Some(Err(e.clone()));
                Poll::Ready(Err(io_error(e)))
            }
            _ => {
                this.finishing = true;
                this.poll_finish(cx)
            }
        }
    }
}

impl<R> CheckedBody<R> {
    /// After a body that passed: the MD5, into the slot, then EOF.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let digest = match self.md5.poll_finish(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(d)) => d,
        };
        match self.slot.lock() {
            Ok(mut g) => *g = Some(digest),
            Err(poisoned) => *poisoned.into_inner() = Some(digest),
        }
        self.finishing = false;
        self.outcome = Some(Ok(()));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    use crate::testing::header_map;

    fn sum(alg: Algorithm, data: &[u8]) -> String {
        let mut c = Checksummer::new(alg);
        // In two pieces, to exercise the running state.
        let (a, b) = data.split_at(data.len() / 2);
        c.update(a);
        c.update(b);
        c.finish()
    }

    #[test]
    fn hello_world_vectors() {
        // CRC-32 of "hello world" is 0x0d4a1185, CRC-32C 0xc99465aa; SHA-1
        // 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed; SHA-256 b94d27b9…efcde9.
        let data = b"hello world";
        assert_eq!(sum(Algorithm::Crc32, data), "DUoRhQ==");
        assert_eq!(BASE64.encode(0x0d4a_1185u32.to_be_bytes()), "DUoRhQ==");
        assert_eq!(crc32fast::hash(data), 0x0d4a_1185);
        assert_eq!(sum(Algorithm::Crc32c, data), "yZRlqg==");
        assert_eq!(BASE64.encode(0xc994_65aau32.to_be_bytes()), "yZRlqg==");
        assert_eq!(sum(Algorithm::Sha1, data), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
        assert_eq!(
            BASE64.encode(hex::decode("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed").unwrap()),
            "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
        );
        assert_eq!(
            sum(Algorithm::Sha256, data),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert_eq!(
            BASE64.encode(
                hex::decode("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
                    .unwrap()
            ),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        // The CRC-32C check value of "123456789" (RFC 3720) is 0xe3069283.
        assert_eq!(
            Checksummer::new(Algorithm::Crc32c).finish(),
            BASE64.encode([0u8; 4])
        );
        let mut c = Checksummer::new(Algorithm::Crc32c);
        c.update(b"123456789");
        assert_eq!(c.finish_bytes(), 0xe306_9283u32.to_be_bytes());
        assert_eq!(md5_hex(data), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        let mut m = Md5::new();
        m.update(b"hello ");
        m.update(b"world");
        assert_eq!(hex::encode(m.finish()), "5eb63bbbe01eeed093cb22bb8f5acdc3");
    }

    #[test]
    fn algorithm_names() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()).unwrap(), alg);
            assert_eq!(Algorithm::from_header_name(alg.header_name()).unwrap(), alg);
            assert_eq!(Algorithm::from_header_name(alg.name()).unwrap(), alg);
        }
        assert_eq!(
            Algorithm::from_header_name("X-Amz-Checksum-CRC32C").unwrap(),
            Algorithm::Crc32c
        );
        assert_eq!(Algorithm::from_name("crc32").unwrap(), Algorithm::Crc32);
        assert_eq!(Algorithm::from_name(" sha256 ").unwrap(), Algorithm::Sha256);
        assert_eq!(
            Algorithm::from_name("CRC64NVME").unwrap_err().code,
            "NotImplemented"
        );
        assert_eq!(
            Algorithm::from_header_name("x-amz-checksum-crc64nvme")
                .unwrap_err()
                .code,
            "NotImplemented"
        );
        assert_eq!(
            Algorithm::from_name("MD5").unwrap_err().code,
            "InvalidRequest"
        );
        assert_eq!(
            Algorithm::from_header_name("").unwrap_err().code,
            "InvalidRequest"
        );
        assert_eq!(
            Algorithm::from_header_name("x-amz-checksum-")
                .unwrap_err()
                .code,
            "InvalidRequest"
        );
        assert_eq!(
            Algorithm::from_header_name("é").unwrap_err().code,
            "InvalidRequest"
        );
    }

    fn check(headers: &[(&str, &str)], payload: &Payload, body: &[u8]) -> Result<(), S3Error> {
        let mut c = BodyCheck::from_headers(&header_map(headers), payload)?;
        for piece in body.chunks(3) {
            c.update(piece);
        }
        c.finish()
    }

    fn code(r: Result<(), S3Error>) -> &'static str {
        match r {
            Ok(()) => "Ok",
            Err(e) => e.code,
        }
    }

    #[test]
    fn content_md5() {
        let body = b"hello world";
        let good = BASE64.encode(md5::Md5::digest(body));
        assert_eq!(good, "XrY7u+Ae7tCTyyK7j1rNww==");
        let u = &Payload::Unsigned;
        assert_eq!(code(check(&[("content-md5", &good)], u, body)), "Ok");
        assert_eq!(
            code(check(&[("content-md5", &good)], u, b"hello worle")),
            "BadDigest"
        );
        assert_eq!(
            code(check(&[("content-md5", "not base64!")], u, body)),
            "InvalidDigest"
        );
        assert_eq!(
            code(check(&[("content-md5", "aGVsbG8=")], u, body)),
            "InvalidDigest"
        );
        assert_eq!(
            code(check(
                &[("content-md5", &good), ("content-md5", &good)],
                u,
                body
            )),
            "InvalidDigest"
        );
        let c = BodyCheck::from_headers(&header_map(&[("content-md5", &good)]), u).unwrap();
        assert_eq!(hex::encode(c.content_md5().unwrap()), md5_hex(body));
    }

    #[test]
    fn payload_sha256() {
        let body = b"hello world";
        let digest: [u8; 32] = sha2::Sha256::digest(body).into();
        assert_eq!(code(check(&[], &Payload::Sha256(digest), body)), "Ok");
        assert_eq!(
            code(check(&[], &Payload::Sha256(digest), b"hello")),
            "XAmzContentSHA256Mismatch"
        );
        assert_eq!(
            code(check(&[], &Payload::StreamingUnsignedTrailer, b"x")),
            "Ok"
        );
        assert!(
            BodyCheck::from_headers(&HeaderMap::new(), &Payload::Unsigned)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn checksum_headers() {
        let body = b"hello world";
        let u = &Payload::Unsigned;
        assert_eq!(
            code(check(&[("x-amz-checksum-crc32", "DUoRhQ==")], u, body)),
            "Ok"
        );
        assert_eq!(
            code(check(&[("x-amz-checksum-crc32c", "yZRlqg==")], u, body)),
            "Ok"
        );
        assert_eq!(
            code(check(
                &[("x-amz-checksum-sha1", "Kq5sNclPz7QV2+lfQIuc6R7oRu0=")],
                u,
                body
            )),
            "Ok"
        );
        let sha = "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";
        assert_eq!(
            code(check(&[("x-amz-checksum-sha256", sha)], u, body)),
            "Ok"
        );
        let e = check(&[("x-amz-checksum-crc32", "yZRlqg==")], u, body).unwrap_err();
        assert_eq!(e.code, "BadDigest");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("x-amz-checksum-crc32 "), "{}", e.message);
        assert_eq!(
            code(check(&[("x-amz-checksum-crc32", "DUoR")], u, body)),
            "InvalidRequest"
        );
        assert_eq!(
            code(check(&[("x-amz-checksum-crc32", "%%%")], u, body)),
            "InvalidRequest"
        );
        assert_eq!(
            code(check(
                &[
                    ("x-amz-checksum-crc32", "DUoRhQ=="),
                    ("x-amz-checksum-crc32c", "yZRlqg==")
                ],
                u,
                body
            )),
            "InvalidRequest"
        );
        assert_eq!(
            code(check(
                &[("x-amz-checksum-crc64nvme", "AAAAAAAAAAA=")],
                u,
                body
            )),
            "NotImplemented"
        );
        assert_eq!(
            code(check(&[("x-amz-checksum-md5", "AAAAAAAAAAA=")], u, body)),
            "InvalidRequest"
        );
        // The algorithm / type headers are not checksums.
        assert_eq!(
            code(check(
                &[
                    ("x-amz-checksum-algorithm", "CRC32"),
                    ("x-amz-checksum-type", "FULL_OBJECT")
                ],
                u,
                body
            )),
            "Ok"
        );
        let c = BodyCheck::from_headers(&header_map(&[("x-amz-checksum-crc32", "AAAAAA==")]), u)
            .unwrap()
            .without_checksum_headers();
        assert!(c.is_empty());
    }

    #[test]
    fn errors_survive_io_wrapping() {
        let e = io_error(S3Error::bad_digest("x"));
        assert_eq!(s3_error_of(&e).unwrap().code, "BadDigest");
        let nested = io::Error::other(io_error(S3Error::incomplete_body("y")));
        assert_eq!(s3_error_of(&nested).unwrap().code, "IncompleteBody");
        assert!(s3_error_of(&io::Error::other("plain")).is_none());
        assert!(s3_error_of(&io::Error::from(io::ErrorKind::UnexpectedEof)).is_none());
    }

    #[tokio::test]
    async fn checked_body_passes_and_records_md5() {
        let body = vec![7u8; 100_000];
        let (mut reader, slot) = CheckedBody::new(&body[..], BodyCheck::none());
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, body);
        assert_eq!(hex::encode(slot.lock().unwrap().unwrap()), md5_hex(&body));
        // EOF again after the end.
        assert_eq!(reader.read(&mut [0u8; 8]).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn checked_body_returns_the_error_instead_of_eof() {
        let body = b"hello world".to_vec();
        let wrong: [u8; 32] = sha2::Sha256::digest(b"other").into();
        let check = BodyCheck::from_headers(&HeaderMap::new(), &Payload::Sha256(wrong)).unwrap();
        let (mut reader, slot) = CheckedBody::new(&body[..], check);
        let mut out = Vec::new();
        let e = reader.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(s3_error_of(&e).unwrap().code, "XAmzContentSHA256Mismatch");
        assert_eq!(out, body, "the bytes pass, the end does not");
        assert!(slot.lock().unwrap().is_none());
        // The error repeats.
        let e = reader.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(s3_error_of(&e).unwrap().code, "XAmzContentSHA256Mismatch");

        let headers = header_map(&[("x-amz-checksum-crc32c", "AAAAAA==")]);
        let check = BodyCheck::from_headers(&headers, &Payload::Unsigned).unwrap();
        let (mut reader, _) = CheckedBody::new(&body[..], check);
        let e = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(s3_error_of(&e).unwrap().code, "BadDigest");
    }

    /// A body past the offload threshold: its MD5 is computed on a worker,
    /// through a queue that fills (the reader waits), and is in the slot
    /// when EOF is returned; a failed check still wins over EOF.
    #[tokio::test]
    async fn checked_body_offloads_the_md5_of_a_large_body() {
        let body: Vec<u8> = (0..(5 << 20) + 7)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let (mut reader, slot) = CheckedBody::new(&body[..], BodyCheck::none());
        let mut out = Vec::new();
        let mut piece = [0u8; 4096];
        loop {
            let n = reader.read(&mut piece).await.unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&piece[..n]);
        }
        assert_eq!(out, body);
        assert_eq!(hex::encode(slot.lock().unwrap().unwrap()), md5_hex(&body));

        let wrong: [u8; 32] = sha2::Sha256::digest(b"other").into();
        let check = BodyCheck::from_headers(&HeaderMap::new(), &Payload::Sha256(wrong)).unwrap();
        let (mut reader, slot) = CheckedBody::new(&body[..], check);
        let e = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        assert_eq!(s3_error_of(&e).unwrap().code, "XAmzContentSHA256Mismatch");
        assert!(slot.lock().unwrap().is_none());
    }
}
