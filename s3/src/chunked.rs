//! aws-chunked request bodies (`Content-Encoding: aws-chunked`), decoded into
//! the plain bytes of the object as an `AsyncRead`.
//!
//! The body is a series of chunks, `<hex size>[;chunk-signature=<sig>]\r\n
//! <data>\r\n`, ended by a chunk of size 0; the -TRAILER forms then send
//! trailing header lines (`x-amz-checksum-crc32:<base64>\r\n`, and for the
//! signed form `x-amz-trailer-signature:<sig>\r\n`), and an empty line ends the
//! body. The rules this decoder follows:
//! - It parses incrementally: the network may split the body anywhere, even
//!   inside the size or a `\r\n`. A chunk header or trailer line longer than
//!   [`MAX_LINE`] is refused.
//! - Signed chunks ([`ChunkMode::signer`]) are held whole, at most
//!   [`MAX_CHUNK`] bytes, and their bytes are yielded only once the chunk's
//!   signature has checked out. Unsigned chunks have no size limit and are
//!   yielded as they arrive.
//! - The trailing checksum named by `x-amz-trailer` is computed over all the
//!   decoded bytes and compared with the trailer; the signed -TRAILER form's
//!   trailer signature is checked first. The total must equal
//!   `x-amz-decoded-content-length` when given (and may never exceed it).
//! - Every check happens before EOF: the reader sees `Ok(0)` only once the
//!   whole body has arrived and passed, and the body's stream has ended. Any
//!   failure (including bytes after the end and a body that stops early) ends
//!   the reader with an `io::Error` whose inner error is the [`S3Error`]
//!   ([`s3_error_of`] finds it); reads after a failure repeat it.
//!
//! Error codes: `SignatureDoesNotMatch` (403) for a chunk or trailer
//! signature; `BadDigest` (400) for the trailing checksum; `IncompleteBody`
//! (400) for a body that stops early or is shorter than
//! `x-amz-decoded-content-length`; `MalformedTrailerError` (400) for a missing
//! or unexpected trailer; `InvalidRequest` (400) for malformed framing.
use std::fmt::Display;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

pub use crate::checksum::s3_error_of;
use crate::checksum::{io_error, Algorithm, Checksummer};
use crate::error::S3Error;
use crate::sigv4::{ChunkSigner, Payload};

/// The largest signed chunk (held whole until its signature is checked).
pub const MAX_CHUNK: usize = 16 << 20;
/// The longest chunk header or trailer line, `\r\n` included.
pub const MAX_LINE: usize = 4096;

/// How to read one aws-chunked body.
#[derive(Debug, Clone)]
pub struct ChunkMode {
    /// Some for the signed forms (the chain starts at the request's signature).
    pub signer: Option<ChunkSigner>,
    /// From x-amz-trailer (None when no trailer expected).
    pub trailer: Option<Algorithm>,
    /// x-amz-decoded-content-length.
    pub decoded_length: Option<u64>,
}

impl ChunkMode {
    /// The mode of a verified request, from its payload and its
    /// `x-amz-trailer` and `x-amz-decoded-content-length` headers; `None` when
    /// the body is not aws-chunked. A trailer with the non-trailer signed form
    /// is `InvalidRequest`, a malformed length `InvalidArgument`.
    pub fn from_request(headers: &HeaderMap, payload: &Payload) -> Result<Option<Self>, S3Error> {
        let (signer, trailer_allowed) = match payload {
            Payload::StreamingSigned { trailer, chain } => (Some(chain.clone()), *trailer),
            Payload::StreamingUnsignedTrailer => (None, true),
            Payload::Unsigned | Payload::Sha256(_) => return Ok(None),
        };
        let trailer = match one_header(headers, "x-amz-trailer") {
            Ok(None) => None,
            Ok(Some(name)) if trailer_allowed => Some(Algorithm::from_header_name(name)?),
            Ok(Some(_)) => {
                return Err(S3Error::invalid_request(
                    "x-amz-trailer needs x-amz-content-sha256 STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER \
                     or STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                ))
            }
            Err(()) => {
                return Err(S3Error::invalid_request(
                    "x-amz-trailer must be given once, as ASCII text",
                ))
            }
        };
        let bad_length =
            || S3Error::invalid_argument("x-amz-decoded-content-length must be a number of bytes");
        let decoded_length = match one_header(headers, "x-amz-decoded-content-length") {
            Ok(None) => None,
            Ok(Some(v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                Some(v.parse::<u64>().map_err(|_| bad_length())?)
            }
            _ => return Err(bad_length()),
        };
        Ok(Some(ChunkMode {
            signer,
            trailer,
            decoded_length,
        }))
    }
}

fn one_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name);
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(|s| Some(s.trim())).map_err(|_| ()),
        (Some(_), Some(_)) => Err(()),
    }
}

/// Decodes an aws-chunked body into its payload bytes (see the module's
/// rules). The reader is `Send` when the stream is.
pub fn decode<S, E>(body: S, mode: ChunkMode) -> ChunkedBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let checksum = mode.trailer.map(Checksummer::new);
    ChunkedBody {
        body,
        input: Bytes::new(),
        out: Bytes::new(),
        state: State::Header,
        line: Vec::new(),
        signer: mode.signer,
        expected_trailer: mode.trailer,
        checksum,
        decoded_length: mode.decoded_length,
        total: 0,
        chunks: 0,
    }
}

/// The reader [`decode`] returns.
pub struct ChunkedBody<S> {
    body: S,
    /// Received bytes not parsed yet.
    input: Bytes,
    /// Decoded bytes not read yet.
    out: Bytes,
    state: State,
    /// The chunk header or trailer line being received.
    line: Vec<u8>,
    signer: Option<ChunkSigner>,
    expected_trailer: Option<Algorithm>,
    checksum: Option<Checksummer>,
    decoded_length: Option<u64>,
    /// Payload bytes so far.
    total: u64,
    /// Chunks so far, for messages.
    chunks: u64,
}

enum State {
    /// Receiving a chunk header line.
    Header,
    /// Receiving a chunk's data.
    Data {
        remaining: u64,
        /// Signed chunks only: the signature, the running hash, the bytes.
        signed: Option<(String, Sha256, BytesMut)>,
    },
    /// Expecting the `\r\n` after a chunk's data; how much of it has come.
    DataEnd(usize),
    /// After the final chunk: trailer lines, then an empty line.
    Trailer(Trailer),
    /// Everything checked; waiting for the body's stream to end.
    Done,
    /// EOF returned.
    Finished,
    Failed(S3Error),
}

#[derive(Default)]
struct Trailer {
    /// The checksum trailer's value as sent.
    value: Option<String>,
    /// `name:value\n` of each trailer line, what the trailer signature covers.
    canonical: Vec<u8>,
    /// Whether `x-amz-trailer-signature` came and checked out.
    signed: bool,
}

fn malformed(message: impl Into<String>) -> S3Error {
    S3Error::invalid_request(format!(
        "The aws-chunked body is malformed: {}",
        message.into()
    ))
}

fn malformed_trailer(message: impl Into<String>) -> S3Error {
    S3Error::new(
        "MalformedTrailerError",
        StatusCode::BAD_REQUEST,
        format!(
            "The request contained trailing data that was not well-formed: {}",
            message.into()
        ),
    )
}

fn ended_early() -> S3Error {
    S3Error::incomplete_body("The aws-chunked body ended before its final chunk and trailer")
}

impl<S> ChunkedBody<S> {
    /// Parses some of `self.input`; may put decoded bytes in `self.out`.
    fn step(&mut self) -> Result<(), S3Error> {
        match &mut self.state {
            State::Header => {
                if let Some(line) = self.take_line()? {
                    self.chunk_header(&line)?;
                }
            }
            State::Data { remaining, signed } => {
                let n = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                let data = self.input.split_to(n);
                *remaining -= n as u64;
                if let Some(c) = &mut self.checksum {
                    c.update(&data);
                }
                let done = *remaining == 0;
                match signed {
                    None => self.out = data,
                    Some((_, hasher, held)) => {
                        hasher.update(&data);
                        held.extend_from_slice(&data);
                    }
                }
                if done {
                    if let Some((signature, hasher, held)) = signed.take() {
                        let digest: [u8; 32] = hasher.finalize().into();
                        self.check_chunk(&digest, &signature)?;
                        self.out = held.freeze();
                    }
                    self.state = State::DataEnd(0);
                }
            }
            State::DataEnd(seen) => {
                while *seen < 2 && !self.input.is_empty() {
                    if self.input[0] != b"\r\n"[*seen] {
                        return Err(malformed(format!(
                            "chunk {} is not followed by \\r\\n (or is longer than its size)",
                            self.chunks
                        )));
                    }
                    let _ = self.input.split_to(1);
                    *seen += 1;
                }
                if *seen == 2 {
                    self.state = State::Header;
                }
            }
            State::Trailer(_) => {
                if let Some(line) = self.take_line()? {
                    self.trailer_line(&line)?;
                }
            }
            State::Done | State::Finished => {
                if !self.input.is_empty() {
                    return Err(malformed("bytes after the end of the body"));
                }
            }
            State::Failed(e) => return Err(e.clone()),
        }
        Ok(())
    }

    /// A whole line from the input (without its `\n`), once it has come.
    fn take_line(&mut self) -> Result<Option<Vec<u8>>, S3Error> {
        let (take, complete) = match self.input.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (self.input.len(), false),
        };
        if self.line.len() + take > MAX_LINE {
            return Err(malformed(format!(
                "a chunk header or trailer line is longer than {MAX_LINE} bytes"
            )));
        }
        self.line.extend_from_slice(&self.input.split_to(take));
        if !complete {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop(); // the '\n'
        Ok(Some(line))
    }

    fn chunk_header(&mut self, line: &[u8]) -> Result<(), S3Error> {
        let Some(line) = line.strip_suffix(b"\r") else {
            return Err(malformed("a chunk header does not end with \\r\\n"));
        };
        let line =
            std::str::from_utf8(line).map_err(|_| malformed("a chunk header is not ASCII text"))?;
        let (size, extensions) = match line.split_once(';') {
            Some((s, e)) => (s, Some(e)),
            None => (line, None),
        };
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed(format!("bad chunk size {size:?}")));
        }
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| malformed(format!("bad chunk size {size:?}")))?;
        self.chunks += 1;
        let signature = extensions.and_then(|e| {
            e.split(';')
                .find_map(|x| x.trim().strip_prefix("chunk-signature="))
                .map(str::to_string)
        });
        if self.signer.is_some() && signature.is_none() {
            return Err(S3Error::signature_mismatch(format!(
                "chunk {} has no chunk-signature",
                self.chunks
            )));
        }
        let total = self.total.saturating_add(size);
        if let Some(expected) = self.decoded_length {
            if total > expected {
                return Err(malformed(format!(
                    "the chunks hold more than x-amz-decoded-content-length ({expected}) bytes"
                )));
            }
        }
        self.total = total;

        if size == 0 {
            if let Some(signature) = signature {
                let empty: [u8; 32] = Sha256::digest(b"").into();
                self.check_chunk(&empty, &signature)?;
            }
            if let Some(expected) = self.decoded_length {
                if total != expected {
                    return Err(S3Error::incomplete_body(format!(
                        "x-amz-decoded-content-length is {expected} bytes, the body has {total}"
                    )));
                }
            }
            self.state = State::Trailer(Trailer::default());
            return Ok(());
        }
        let signed = match signature {
            Some(signature) if self.signer.is_some() => {
                if size > MAX_CHUNK as u64 {
                    return Err(malformed(format!(
                        "a signed chunk of {size} bytes is over the {MAX_CHUNK}-byte limit"
                    )));
                }
                // Grows as the data comes, not on the header's word alone.
                let initial = (size as usize).min(1 << 20);
                Some((signature, Sha256::new(), BytesMut::with_capacity(initial)))
            }
            _ => None,
        };
        self.state = State::Data {
            remaining: size,
            signed,
        };
        Ok(())
    }

    fn check_chunk(&mut self, digest: &[u8; 32], signature: &str) -> Result<(), S3Error> {
        let Some(signer) = &mut self.signer else {
            return Ok(());
        };
        if signer.verify_chunk(digest, signature) {
            Ok(())
        } else {
            Err(S3Error::signature_mismatch(format!(
                "The chunk signature of chunk {} does not match: check your key and signing method",
                self.chunks
            )))
        }
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), S3Error> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let State::Trailer(trailer) = &mut self.state else {
            return Ok(());
        };
        let needs_signature = self.signer.is_some() && self.expected_trailer.is_some();
        let complete = (self.expected_trailer.is_none() || trailer.value.is_some())
            && (!needs_signature || trailer.signed);
        if line.is_empty() {
            if !complete {
                // An empty line before the trailers some clients send.
                return Ok(());
            }
            return self.finish_trailer();
        }
        let text = std::str::from_utf8(line)
            .map_err(|_| malformed_trailer("a trailer line is not ASCII text"))?;
        let Some((name, value)) = text.split_once(':') else {
            return Err(malformed_trailer(format!("{text:?} is not a header line")));
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if trailer.signed {
            return Err(malformed_trailer(format!(
                "{name} comes after x-amz-trailer-signature"
            )));
        }
        if name == "x-amz-trailer-signature" {
            let Some(signer) = &mut self.signer else {
                return Err(malformed_trailer(
                    "x-amz-trailer-signature in a body whose chunks are not signed",
                ));
            };
            if !signer.verify_trailer(&trailer.canonical, value) {
                return Err(S3Error::signature_mismatch(
                    "The trailer signature does not match: check your key and signing method",
                ));
            }
            trailer.signed = true;
            return Ok(());
        }
        match self.expected_trailer {
            Some(alg) if alg.header_name() == name && trailer.value.is_none() => {
                trailer.value = Some(value.to_string());
                trailer.canonical.extend_from_slice(name.as_bytes());
                trailer.canonical.push(b':');
                trailer.canonical.extend_from_slice(value.as_bytes());
                trailer.canonical.push(b'\n');
                Ok(())
            }
            _ => Err(malformed_trailer(format!(
                "the trailer {name} was not announced by x-amz-trailer"
            ))),
        }
    }

    /// The empty line after the trailers: compares the checksum.
    fn finish_trailer(&mut self) -> Result<(), S3Error> {
        let State::Trailer(trailer) = std::mem::replace(&mut self.state, State::Done) else {
            return Ok(());
        };
        if let (Some(alg), Some(value), Some(checksum)) =
            (self.expected_trailer, trailer.value, self.checksum.take())
        {
            let expected = alg.decode_value(&value)?;
            if checksum.finish_bytes() != expected {
                return Err(alg.mismatch());
            }
        }
        Ok(())
    }

    /// The body's stream has ended: fine only after the whole body.
    fn at_end(&self) -> Result<(), S3Error> {
        match &self.state {
            State::Done | State::Finished => Ok(()),
            State::Trailer(t) if self.line.is_empty() => {
                if let (Some(alg), None) = (self.expected_trailer, &t.value) {
                    Err(malformed_trailer(format!(
                        "the trailer {} announced by x-amz-trailer was not sent",
                        alg.header_name()
                    )))
                } else if self.signer.is_some() && self.expected_trailer.is_some() && !t.signed {
                    Err(S3Error::signature_mismatch(
                        "the body ended without its x-amz-trailer-signature",
                    ))
                } else {
                    Err(ended_early())
                }
            }
            State::Failed(e) => Err(e.clone()),
            _ => Err(ended_early()),
        }
    }
}

impl<S, E> AsyncRead for ChunkedBody<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.out.is_empty() {
                if buf.remaining() == 0 {
                    return Poll::Ready(Ok(()));
                }
                let n = this.out.len().min(buf.remaining());
                buf.put_slice(&this.out.split_to(n));
                return Poll::Ready(Ok(()));
            }
            match &this.state {
                State::Failed(e) => return Poll::Ready(Err(io_error(e.clone()))),
                State::Finished => return Poll::Ready(Ok(())),
                _ => {}
            }
            if !this.input.is_empty() {
                if let Err(e) = this.step() {
                    this.state = State::Failed(e.clone());
                    return Poll::Ready(Err(io_error(e)));
                }
                continue;
            }
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => this.input = bytes,
                Poll::Ready(Some(Err(e))) => {
                    let e = S3Error::incomplete_body(format!("the body could not be read: {e}"));
                    this.state = State::Failed(e.clone());
                    return Poll::Ready(Err(io_error(e)));
                }
                Poll::Ready(None) => match this.at_end() {
                    Ok(()) => {
                        this.state = State::Finished;
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) => {
                        this.state = State::Failed(e.clone());
                        return Poll::Ready(Err(io_error(e)));
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    use tokio::io::AsyncReadExt;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn example_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    fn chain(seed: &str) -> ChunkSigner {
        ChunkSigner::new(SECRET, "us-east-1", example_time(), seed)
    }

    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";

    /// The body of AWS's "Transferring Payload in Multiple Chunks" example.
    fn aws_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
        );
        body.extend_from_slice(&[b'a'; 65_536]);
        body.extend_from_slice(
            b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n",
        );
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(
            b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
        );
        body
    }

    /// The body of AWS's trailing-headers example (CRC32C trailer).
    fn aws_trailer_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n",
        );
        body.extend_from_slice(&[b'a'; 65_536]);
        body.extend_from_slice(
            b"\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n",
        );
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(
            b"\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n\
              x-amz-checksum-crc32c:sOO8/Q==\r\n\
              x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n",
        );
        body
    }

    fn signed_mode(seed: &str, trailer: Option<Algorithm>, len: Option<u64>) -> ChunkMode {
        ChunkMode {
            signer: Some(chain(seed)),
            trailer,
            decoded_length: len,
        }
    }

    fn unsigned_mode(trailer: Option<Algorithm>, len: Option<u64>) -> ChunkMode {
        ChunkMode {
            signer: None,
            trailer,
            decoded_length: len,
        }
    }

    /// Encodes `data` in chunks of `sizes` (then the rest), signed with
    /// `signer` when given, with an optional `(name, value)` trailer.
    fn encode(
        data: &[u8],
        sizes: &[usize],
        mut signer: Option<ChunkSigner>,
        trailer: Option<(&str, &str)>,
    ) -> Vec<u8> {
        let mut body = Vec::new();
        let mut rest = data;
        let mut pieces: Vec<&[u8]> = Vec::new();
        for &size in sizes {
            let (a, b) = rest.split_at(size.min(rest.len()));
            pieces.push(a);
            rest = b;
        }
        if !rest.is_empty() {
            pieces.push(rest);
        }
        pieces.push(b"");
        for piece in pieces {
            body.extend_from_slice(format!("{:x}", piece.len()).as_bytes());
            if let Some(s) = &mut signer {
                body.extend_from_slice(
                    format!(";chunk-signature={}", s.next_chunk(piece)).as_bytes(),
                );
            }
            body.extend_from_slice(b"\r\n");
            if !piece.is_empty() {
                body.extend_from_slice(piece);
                body.extend_from_slice(b"\r\n");
            }
        }
        if let Some((name, value)) = trailer {
            body.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            if let Some(s) = &mut signer {
                let sig = s.trailer(format!("{name}:{value}\n").as_bytes());
                body.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
            }
        }
        body.extend_from_slice(b"\r\n");
        body
    }

    type Body = futures_util::stream::Iter<std::vec::IntoIter<Result<Bytes, String>>>;

    fn pieces(body: &[u8], size: usize) -> Body {
        let items: Vec<Result<Bytes, String>> = body
            .chunks(size.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures_util::stream::iter(items)
    }

    /// Reads all; the bytes read, and the error if any.
    async fn read(body: &[u8], piece: usize, mode: ChunkMode) -> (Vec<u8>, Option<S3Error>) {
        let mut reader = decode(pieces(body, piece), mode);
        let mut out = Vec::new();
        match reader.read_to_end(&mut out).await {
            Ok(_) => (out, None),
            Err(e) => {
                let s3 = s3_error_of(&e).expect("an S3Error inside");
                // Later reads repeat the error.
                let again = reader.read(&mut [0u8; 16]).await.unwrap_err();
                assert_eq!(s3_error_of(&again).unwrap().code, s3.code);
                (out, Some(s3))
            }
        }
    }

    async fn code_of(body: &[u8], piece: usize, mode: ChunkMode) -> &'static str {
        match read(body, piece, mode).await.1 {
            None => "Ok",
            Some(e) => e.code,
        }
    }

    #[tokio::test]
    async fn aws_signed_example_in_pieces() {
        let body = aws_body();
        // The Content-Length of the example.
        assert_eq!(body.len(), 66_824);
        for piece in [1, 7, 4096, body.len()] {
            let (out, err) = read(&body, piece, signed_mode(SEED, None, Some(66_560))).await;
            assert!(err.is_none(), "piece {piece}: {err:?}");
            assert_eq!(out.len(), 66_560);
            assert!(out.iter().all(|&b| b == b'a'));
        }
        // Without the decoded length too.
        let (out, err) = read(&body, 1000, signed_mode(SEED, None, None)).await;
        assert!(err.is_none());
        assert_eq!(out.len(), 66_560);
    }

    #[tokio::test]
    async fn aws_trailer_example() {
        let body = aws_trailer_body();
        assert_eq!(body.len(), 66_946);
        for piece in [1, 7, 4096] {
            let mode = signed_mode(TRAILER_SEED, Some(Algorithm::Crc32c), Some(66_560));
            let (out, err) = read(&body, piece, mode).await;
            assert!(err.is_none(), "piece {piece}: {err:?}");
            assert_eq!(out.len(), 66_560);
        }
        // A changed trailer value breaks the trailer signature.
        let text = body.clone();
        let at = text.windows(8).position(|w| w == b"sOO8/Q==").unwrap();
        let mut changed = body.clone();
        changed[at + 4] = b'A';
        let mode = signed_mode(TRAILER_SEED, Some(Algorithm::Crc32c), Some(66_560));
        assert_eq!(code_of(&changed, 4096, mode).await, "SignatureDoesNotMatch");
        // A missing trailer signature.
        let cut = text
            .windows(24)
            .position(|w| w == b"x-amz-trailer-signature:")
            .unwrap();
        let mut unsigned_trailer = body[..cut].to_vec();
        unsigned_trailer.extend_from_slice(b"\r\n");
        let mode = signed_mode(TRAILER_SEED, Some(Algorithm::Crc32c), Some(66_560));
        assert_eq!(
            code_of(&unsigned_trailer, 4096, mode).await,
            "SignatureDoesNotMatch"
        );
    }

    #[tokio::test]
    async fn signed_trailer_with_a_wrong_checksum_is_bad_digest() {
        let data = vec![b'z'; 20_000];
        let wrong = BASE64.encode(crc32fast::hash(b"other").to_be_bytes());
        let body = encode(
            &data,
            &[8192, 8192],
            Some(chain(SEED)),
            Some(("x-amz-checksum-crc32", &wrong)),
        );
        let mode = signed_mode(SEED, Some(Algorithm::Crc32), Some(20_000));
        assert_eq!(code_of(&body, 100, mode).await, "BadDigest");
        let right = BASE64.encode(crc32fast::hash(&data).to_be_bytes());
        let body = encode(
            &data,
            &[8192, 8192],
            Some(chain(SEED)),
            Some(("x-amz-checksum-crc32", &right)),
        );
        let mode = signed_mode(SEED, Some(Algorithm::Crc32), Some(20_000));
        let (out, err) = read(&body, 100, mode).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(out, data);
    }

    #[tokio::test]
    async fn unsigned_trailers() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let crc32 = BASE64.encode(crc32fast::hash(&data).to_be_bytes());
        let crc32c = BASE64.encode(crc32c::crc32c(&data).to_be_bytes());
        for (alg, value) in [(Algorithm::Crc32, &crc32), (Algorithm::Crc32c, &crc32c)] {
            let body = encode(&data, &[65_536], None, Some((alg.header_name(), value)));
            for piece in [1, 7, 4096] {
                let (out, err) = read(&body, piece, unsigned_mode(Some(alg), Some(100_000))).await;
                assert!(err.is_none(), "{alg:?} piece {piece}: {err:?}");
                assert_eq!(out, data);
            }
            // The other algorithm's value does not match.
            let other = if alg == Algorithm::Crc32 {
                &crc32c
            } else {
                &crc32
            };
            let body = encode(&data, &[65_536], None, Some((alg.header_name(), other)));
            assert_eq!(
                code_of(&body, 4096, unsigned_mode(Some(alg), None)).await,
                "BadDigest"
            );
        }
        // One chunk of everything (unsigned chunks have no size limit), the
        // header name in another case.
        let body = encode(&data, &[], None, Some(("X-Amz-Checksum-Crc32", &crc32)));
        let (out, err) = read(&body, 4096, unsigned_mode(Some(Algorithm::Crc32), None)).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(out, data);
        // SHA-256 trailer.
        let sha = BASE64.encode(Sha256::digest(&data));
        let body = encode(&data, &[1000], None, Some(("x-amz-checksum-sha256", &sha)));
        assert_eq!(
            code_of(&body, 333, unsigned_mode(Some(Algorithm::Sha256), None)).await,
            "Ok"
        );
        // A trailer that was not announced, one that is missing.
        let body = encode(&data, &[1000], None, Some(("x-amz-checksum-crc32", &crc32)));
        assert_eq!(
            code_of(&body, 333, unsigned_mode(Some(Algorithm::Sha256), None)).await,
            "MalformedTrailerError"
        );
        assert_eq!(
            code_of(&body, 333, unsigned_mode(None, None)).await,
            "MalformedTrailerError"
        );
        let body = encode(&data, &[1000], None, None);
        assert_eq!(
            code_of(&body, 333, unsigned_mode(Some(Algorithm::Crc32), None)).await,
            "MalformedTrailerError"
        );
        assert_eq!(code_of(&body, 333, unsigned_mode(None, None)).await, "Ok");
    }

    #[tokio::test]
    async fn a_tampered_chunk_is_refused_before_its_bytes() {
        let mut body = aws_body();
        body[200] = b'b';
        let (out, err) = read(&body, 4096, signed_mode(SEED, None, Some(66_560))).await;
        assert_eq!(err.unwrap().code, "SignatureDoesNotMatch");
        assert!(out.is_empty(), "no byte of the bad chunk was yielded");
        // The second chunk: the first one's bytes came, none of the second's.
        let mut body = aws_body();
        let second = body.len() - 200;
        body[second] = b'b';
        let (out, err) = read(&body, 7, signed_mode(SEED, None, Some(66_560))).await;
        assert_eq!(err.unwrap().code, "SignatureDoesNotMatch");
        assert_eq!(out.len(), 65_536);
        // Another key, a changed signature, a missing signature.
        let mode = ChunkMode {
            signer: Some(ChunkSigner::new("other", "us-east-1", example_time(), SEED)),
            trailer: None,
            decoded_length: None,
        };
        assert_eq!(
            code_of(&aws_body(), 4096, mode).await,
            "SignatureDoesNotMatch"
        );
        let changed = String::from_utf8_lossy(&aws_body()).replace("ad80c7", "ad80c8");
        assert_eq!(
            code_of(changed.as_bytes(), 4096, signed_mode(SEED, None, None)).await,
            "SignatureDoesNotMatch"
        );
        let bare = encode(&[1, 2, 3], &[], None, None);
        assert_eq!(
            code_of(&bare, 4096, signed_mode(SEED, None, None)).await,
            "SignatureDoesNotMatch"
        );
        // Chunks swapped: the chain is order-dependent.
        let data = vec![5u8; 300];
        let mut s = chain(SEED);
        let sig_a = s.next_chunk(&data[..100]);
        let sig_b = s.next_chunk(&data[100..]);
        let body = format!(
            "c8;chunk-signature={sig_b}\r\n{}\r\n64;chunk-signature={sig_a}\r\n{}\r\n",
            "\u{5}".repeat(200),
            "\u{5}".repeat(100)
        );
        assert_eq!(
            code_of(body.as_bytes(), 4096, signed_mode(SEED, None, None)).await,
            "SignatureDoesNotMatch"
        );
    }

    #[tokio::test]
    async fn truncated_bodies_never_end_cleanly() {
        let data = b"hello world, hello world".to_vec();
        let crc = BASE64.encode(crc32fast::hash(&data).to_be_bytes());
        let unsigned = encode(&data, &[10], None, Some(("x-amz-checksum-crc32", &crc)));
        for cut in 0..unsigned.len() {
            let mode = unsigned_mode(Some(Algorithm::Crc32), None);
            let (_, err) = read(&unsigned[..cut], 3, mode).await;
            assert!(
                err.is_some(),
                "unsigned, cut at {cut} of {}",
                unsigned.len()
            );
        }
        let signed = encode(
            &data,
            &[10],
            Some(chain(SEED)),
            Some(("x-amz-checksum-crc32", &crc)),
        );
        for cut in 0..signed.len() {
            let mode = signed_mode(SEED, Some(Algorithm::Crc32), Some(24));
            let (_, err) = read(&signed[..cut], 5, mode).await;
            assert!(err.is_some(), "signed, cut at {cut} of {}", signed.len());
        }
        let whole = read(
            &signed,
            5,
            signed_mode(SEED, Some(Algorithm::Crc32), Some(24)),
        )
        .await;
        assert!(whole.1.is_none(), "{:?}", whole.1);
        assert_eq!(whole.0, data);
        let aws = aws_body();
        let (_, err) = read(&aws[..aws.len() - 2], 4096, signed_mode(SEED, None, None)).await;
        assert_eq!(err.unwrap().code, "IncompleteBody");
    }

    #[tokio::test]
    async fn decoded_length_must_match() {
        let body = aws_body();
        let short = signed_mode(SEED, None, Some(66_559));
        assert_eq!(code_of(&body, 4096, short).await, "InvalidRequest");
        let long = signed_mode(SEED, None, Some(66_561));
        assert_eq!(code_of(&body, 4096, long).await, "IncompleteBody");
        let body = encode(b"abc", &[], None, None);
        assert_eq!(
            code_of(&body, 1, unsigned_mode(None, Some(4))).await,
            "IncompleteBody"
        );
        assert_eq!(
            code_of(&body, 1, unsigned_mode(None, Some(2))).await,
            "InvalidRequest"
        );
        assert_eq!(code_of(&body, 1, unsigned_mode(None, Some(3))).await, "Ok");
    }

    #[tokio::test]
    async fn malformed_framing() {
        let mode = || unsigned_mode(None, None);
        for body in [
            &b"zz\r\nab\r\n0\r\n\r\n"[..],
            b"\r\nab\r\n0\r\n\r\n",
            b"2\nab\r\n0\r\n\r\n",
            b"2\r\nabc\r\n0\r\n\r\n",
            b"2\r\nab\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"2 \r\nab\r\n0\r\n\r\n",
            b"-2\r\nab\r\n0\r\n\r\n",
        ] {
            assert_eq!(code_of(body, 1, mode()).await, "InvalidRequest", "{body:?}");
        }
        // Bytes after the end.
        let mut body = encode(b"abc", &[], None, None);
        body.extend_from_slice(b"x");
        assert_eq!(code_of(&body, 4096, mode()).await, "InvalidRequest");
        // An over-long header line.
        let mut long = b"3;".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_LINE));
        long.extend_from_slice(b"\r\nabc\r\n0\r\n\r\n");
        assert_eq!(code_of(&long, 100, mode()).await, "InvalidRequest");
        // A signed chunk over the limit is refused from its header.
        let header = format!("{:x};chunk-signature={}\r\n", MAX_CHUNK + 1, "0".repeat(64));
        assert_eq!(
            code_of(header.as_bytes(), 4096, signed_mode(SEED, None, None)).await,
            "InvalidRequest"
        );
        // Extensions of unsigned chunks are ignored; upper-case hex is fine.
        let body = b"A;foo=bar\r\n0123456789\r\n0\r\n\r\n";
        assert_eq!(code_of(body, 2, mode()).await, "Ok");
        // The trailer section's lines may end in a bare \n, the last one too.
        assert_eq!(code_of(b"0\r\n\n", 1, mode()).await, "Ok");
        assert_eq!(code_of(b"2\r\nab\r\n0\r\n\n", 3, mode()).await, "Ok");
        // An empty line before the trailers is tolerated.
        let crc = BASE64.encode(crc32fast::hash(b"abc").to_be_bytes());
        let body = format!("3\r\nabc\r\n0\r\n\r\nx-amz-checksum-crc32:{crc}\r\n\r\n");
        assert_eq!(
            code_of(
                body.as_bytes(),
                4,
                unsigned_mode(Some(Algorithm::Crc32), None)
            )
            .await,
            "Ok"
        );
    }

    #[tokio::test]
    async fn a_failing_stream_is_an_incomplete_body() {
        let items: Vec<Result<Bytes, String>> = vec![
            Ok(Bytes::from_static(b"3\r\nab")),
            Err("connection reset".to_string()),
        ];
        let mut reader = decode(futures_util::stream::iter(items), unsigned_mode(None, None));
        let e = reader.read_to_end(&mut Vec::new()).await.unwrap_err();
        let s3 = s3_error_of(&e).unwrap();
        assert_eq!(s3.code, "IncompleteBody");
        assert!(s3.message.contains("connection reset"));
    }

    #[test]
    fn the_reader_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let reader = decode(pieces(b"", 1), unsigned_mode(None, None));
        is_send(&reader);
    }

    use crate::testing::header_map;

    #[test]
    fn modes_from_requests() {
        let headers = header_map(&[
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
            ("x-amz-decoded-content-length", "66560"),
        ]);
        let m = ChunkMode::from_request(&headers, &Payload::StreamingUnsignedTrailer)
            .unwrap()
            .unwrap();
        assert!(m.signer.is_none());
        assert_eq!(m.trailer, Some(Algorithm::Crc32c));
        assert_eq!(m.decoded_length, Some(66_560));
        let signed = Payload::StreamingSigned {
            trailer: true,
            chain: chain(TRAILER_SEED),
        };
        let m = ChunkMode::from_request(&headers, &signed).unwrap().unwrap();
        assert_eq!(m.signer, Some(chain(TRAILER_SEED)));
        let no_trailer = Payload::StreamingSigned {
            trailer: false,
            chain: chain(SEED),
        };
        assert_eq!(
            ChunkMode::from_request(&headers, &no_trailer)
                .unwrap_err()
                .code,
            "InvalidRequest"
        );
        assert!(ChunkMode::from_request(&headers, &Payload::Unsigned)
            .unwrap()
            .is_none());
        let bad = header_map(&[("x-amz-decoded-content-length", "-1")]);
        assert_eq!(
            ChunkMode::from_request(&bad, &Payload::StreamingUnsignedTrailer)
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
        let nvme = header_map(&[("x-amz-trailer", "x-amz-checksum-crc64nvme")]);
        assert_eq!(
            ChunkMode::from_request(&nvme, &Payload::StreamingUnsignedTrailer)
                .unwrap_err()
                .code,
            "NotImplemented"
        );
    }

    /// verify() and decode() together, as a handler uses them.
    #[tokio::test]
    async fn verify_then_decode() {
        let pairs = [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            ),
            ("x-amz-content-sha256", sigv4::STREAMING_SIGNED),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ];
        let headers = header_map(&pairs);
        let v = sigv4::verify(
            "PUT",
            "/examplebucket/chunkObject.txt",
            "",
            &headers,
            example_time(),
            |_| Some(SECRET.to_string()),
        )
        .unwrap();
        let mode = ChunkMode::from_request(&headers, &v.payload)
            .unwrap()
            .unwrap();
        let (out, err) = read(&aws_body(), 1500, mode).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(out.len(), 66_560);
    }
}
