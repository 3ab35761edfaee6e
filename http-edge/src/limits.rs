//! What one HTTP client may cost a dfs server, enforced at the edge
//! (`dfs_common::limits` holds the values); the namenode and the datanode
//! each mount these with their own idea of a data stream:
//!
//! - [`enforce`] (middleware): every request body is cut off with an error
//!   when it delivers nothing for `body_idle_timeout` while the handler is
//!   waiting for it (a stalled upload or block write then fails like any
//!   broken one); and data streams ([`Guard::new`]'s `is_stream`: the
//!   namenode's relays, the datanode's block reads and writes, WebHDFS data
//!   steps) are bounded per peer IP: one over `max_streams_per_client` gets
//!   429 with a clear message. A stream's slot is held until its response
//!   body has been sent, not just until the handler returns.
//! - [`error_shape`] (middleware): an error answered without a JSON body
//!   (an unknown route, an extractor's refusal such as a body over its size
//!   limit, a broken multipart stream) gets one, in the shape its API uses
//!   (`crate::error`). The status is kept.
//!
//! The request-head timeout (slowloris) is a server setting. Nothing here
//! knows about files or blocks.
use crate::error::error_response;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, Next};
use actix_web::{web, HttpMessage};
use bytes::Bytes;
use dfs_common::error::ErrorCode;
use dfs_common::limits::{Limits, PeerStreams, StreamPermit};
use futures_util::Stream;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The limits and the per-peer stream counts of this process (app data),
/// and which of its requests are data streams.
#[derive(Debug, Clone)]
pub struct Guard {
    pub limits: Limits,
    pub streams: PeerStreams,
    is_stream: fn(&ServiceRequest) -> bool,
}

impl Guard {
    /// `is_stream` says which requests move data (and so count against
    /// `max_streams_per_client`); it is each process's own routes.
    pub fn new(limits: Limits, is_stream: fn(&ServiceRequest) -> bool) -> Self {
        Self {
            limits,
            streams: PeerStreams::new(limits.max_streams_per_client),
            is_stream,
        }
    }
}

/// The middleware (`actix_web::middleware::from_fn(enforce)`). Without a
/// [`Guard`] in app data it does nothing.
pub async fn enforce(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(guard) = req.app_data::<web::Data<Guard>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let has_body = has_body(&req);
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = Rc::new(RefCell::new(Body {
        stream: IdleTimeout::new(req.take_payload(), guard.limits.body_idle_timeout),
        ended: false,
    }));
    let tracked: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(Tracked(body.clone()));
    req.set_payload(Payload::from(tracked));

    let mut permit: Option<StreamPermit> = None;
    if (guard.is_stream)(&req) {
        if let Some(ip) = req.peer_addr().map(|a| a.ip()) {
            match guard.streams.try_acquire(ip) {
                Some(p) => permit = Some(p),
                None => {
                    let message = format!(
                        "too many concurrent transfers from {ip} (the limit is {}); retry when one has finished",
                        guard.streams.max_per_peer()
                    );
                    let mut resp = error_response(
                        req.path(),
                        StatusCode::TOO_MANY_REQUESTS,
                        ErrorCode::TooManyRequests,
                        message,
                    );
                    resp.headers_mut()
                        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                    return Ok(req.into_response(resp));
                }
            }
        }
    }
    let mut res = next.call(req).await?;
    if has_body && !body.borrow().ended && !drained(&body, declared).await {
        // Too much left, too slow, or broken: the connection ends with the
        // answer.
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(match permit {
        None => res.map_into_boxed_body(),
        Some(permit) => res.map_body(|_, body| {
            BoxBody::new(Held {
                body: body.boxed(),
                _permit: permit,
            })
        }),
    })
}

/// A response body that holds a stream slot until it is sent (or dropped).
struct Held {
    body: BoxBody,
    _permit: StreamPermit,
}

impl MessageBody for Held {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// What is left of a request body after its answer that is read and
/// dropped, so that the connection can serve the next request.
const DRAIN_LIMIT: u64 = 8 << 20;
/// How long the answer waits for that rest.
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// Whether the request says a body follows its head.
fn has_body(req: &ServiceRequest) -> bool {
    let h = req.headers();
    h.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || h.get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// A request body, shared by the handler (which reads it through
/// [`Tracked`]) and [`enforce`] (which drains what the handler left).
///
/// Why: a handler may answer without reading the whole body (an error, a
/// refusal, the first step of a WebHDFS CREATE, which `curl -T` sends its
/// data with). actix-http then neither reads the rest nor closes the
/// connection: it sat open for good with the body unread in its socket
/// (one file descriptor lost per such request; a forwarding namenode's
/// pooled connection that got no answer to its next request). Draining
/// what is left (up to [`DRAIN_LIMIT`], for up to [`DRAIN_WAIT`]), or
/// closing the connection after the answer, ends that.
struct Body {
    stream: IdleTimeout<Payload>,
    /// The body ended (or failed): nothing more will come.
    ended: bool,
}

/// The handler's view of a [`Body`].
struct Tracked(Rc<RefCell<Body>>);

impl Stream for Tracked {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_body(&self.0, cx)
    }
}

fn poll_body(
    body: &RefCell<Body>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Bytes, PayloadError>>> {
    let mut b = body.borrow_mut();
    if b.ended {
        return Poll::Ready(None);
    }
    let item = Pin::new(&mut b.stream).poll_next(cx);
    if matches!(item, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
        b.ended = true;
    }
    item
}

/// Whether the rest of `body` (its Content-Length `declared`, if any) was
/// read and dropped: not when more than [`DRAIN_LIMIT`] is left, nor when
/// it does not come within [`DRAIN_WAIT`] (a client waiting for the answer
/// before it sends more).
async fn drained(body: &RefCell<Body>, declared: Option<u64>) -> bool {
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return false;
    }
    tokio::time::timeout(DRAIN_WAIT, drain(body, DRAIN_LIMIT))
        .await
        .unwrap_or(false)
}

/// Reads and drops the rest of `body`; false if more than `limit` bytes
/// were left, or it failed.
async fn drain(body: &RefCell<Body>, limit: u64) -> bool {
    let mut left = limit;
    loop {
        match std::future::poll_fn(|cx| poll_body(body, cx)).await {
            None => return true,
            Some(Err(_)) => return false,
            Some(Ok(chunk)) => match left.checked_sub(chunk.len() as u64) {
                Some(rest) => left = rest,
                None => return false,
            },
        }
    }
}

/// A request body that fails once it has delivered nothing for `idle`
/// while being read. Only time spent waiting on the client counts: a
/// handler that pauses reading (backpressure from a slow pipeline) does not
/// make the client look stalled.
pub struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    waiting: bool,
    done: bool,
}

impl<S> IdleTimeout<S> {
    pub fn new(inner: S, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            waiting: false,
            done: false,
        }
    }
}

impl<S> Stream for IdleTimeout<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(item) => {
                self.waiting = false;
                if item.is_none() {
                    self.done = true;
                }
                Poll::Ready(item)
            }
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    let deadline = Instant::now() + self.idle;
                    self.sleep.as_mut().reset(deadline);
                }
                if self.sleep.as_mut().poll(cx).is_ready() {
                    self.done = true;
                    let secs = self.idle.as_secs_f64();
                    log::info!(
                        "request body stalled: nothing received for {secs}s; cutting it off"
                    );
                    return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the request body stalled (nothing received for {secs}s)"),
                    )))));
                }
                Poll::Pending
            }
        }
    }
}

/// The middleware that gives every error answer a JSON body (module doc).
pub fn error_shape<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(shape)
}

fn shape<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let json = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let status = res.status();
    // Reshaped: failures raised as errors (extractors, middleware) and
    // bare answers with no body (routing's 404 and 405). A handler that
    // built a body of its own on purpose keeps it.
    let bare = res.response().error().is_some()
        || matches!(
            res.response().body().size(),
            BodySize::None | BodySize::Sized(0)
        );
    if json || !bare || !(status.is_client_error() || status.is_server_error()) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let detail = match res.response().error() {
        Some(e) => e.to_string(),
        None => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let (req, _) = res.into_parts();
    let code = ErrorCode::from_status(status.as_u16());
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("request body too large for {}: {detail}", req.path())
        }
        StatusCode::NOT_FOUND => format!("no such endpoint: {} {}", req.method(), req.path()),
        _ => format!("{} {}: {detail}", req.method(), req.path()),
    };
    let resp = error_response(req.path(), status, code, message);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, resp).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test(start_paused = true)]
    async fn a_silent_body_is_cut_but_a_slow_reader_is_not() {
        // A body that sends one piece, then nothing.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, PayloadError>>(4);
        let inner = tokio_stream_from(rx);
        let mut s = IdleTimeout::new(inner, Duration::from_secs(5));
        tx.send(Ok(Bytes::from_static(b"x"))).await.unwrap();
        // The reader pauses for longer than the idle time: not the client's fault.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(s.next().await.unwrap().unwrap(), Bytes::from_static(b"x"));
        // Now the client is silent while we wait.
        let start = Instant::now();
        let e = s.next().await.unwrap().unwrap_err();
        assert!(e.to_string().contains("stalled"), "{e}");
        assert!(start.elapsed() >= Duration::from_secs(5));
        assert!(s.next().await.is_none());
        drop(tx);
    }

    /// A handler answers without reading the request's body. The
    /// connection must serve the next request (the body drained), or be
    /// closed after the answer (more left than is worth draining); before,
    /// actix kept it open and answered nothing more on it.
    #[actix_web::test]
    async fn an_answer_that_leaves_the_body_unread_does_not_wedge_the_connection() {
        use actix_web::{App, HttpResponse, HttpServer};
        use std::io::{Read, Write};
        let guard = web::Data::new(Guard::new(Limits::default(), |_| false));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(guard.clone())
                .route(
                    "/",
                    web::to(|| async { HttpResponse::Forbidden().body("no") }),
                )
                .wrap(actix_web::middleware::from_fn(enforce))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        let handle = server.run();
        let running = actix_web::rt::spawn(handle);
        // (Content-Length, bytes sent): a body under the limit; one over
        // it; a client that sends one byte and waits for the answer.
        let small = 2usize << 20;
        let big = (DRAIN_LIMIT as usize) + (4 << 20);
        let cases = [(small, small), (big, big), (small, 1)];
        let outcomes = actix_web::rt::task::spawn_blocking(move || {
            cases.map(|(len, sent)| {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut w = c.try_clone().unwrap();
                let writer = std::thread::spawn(move || {
                    let head =
                        format!("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n");
                    w.write_all(head.as_bytes())?;
                    w.write_all(&vec![7u8; sent])?;
                    if sent == len {
                        w.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")?;
                    }
                    Ok::<_, std::io::Error>(())
                });
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                // Until two answers, the end of the connection, or the timeout.
                loop {
                    match c.read(&mut buf) {
                        Ok(0) => break "closed",
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(_) => break "no answer",
                    }
                    let text = String::from_utf8_lossy(&got);
                    if text.matches("HTTP/1.1 403").count() == 2 {
                        break "served again";
                    }
                }
                .to_string()
                    + if writer.join().unwrap().is_ok() {
                        ""
                    } else {
                        " (write cut)"
                    }
            })
        })
        .await
        .unwrap();
        running.abort();
        assert_eq!(
            outcomes[0], "served again",
            "a body under the limit is drained"
        );
        assert!(outcomes[1].starts_with("closed"), "{}", outcomes[1]);
        // Answered (then closed), not held until the body comes.
        assert!(outcomes[2].starts_with("closed"), "{}", outcomes[2]);
    }

    fn tokio_stream_from(
        mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, PayloadError>>,
    ) -> impl Stream<Item = Result<Bytes, PayloadError>> + Unpin {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}
