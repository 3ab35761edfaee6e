//! Any namenode serves any request: a follower hands what it cannot
//! answer itself to the leader and streams the answer back (a reverse
//! proxy, bodies streamed both ways), so clients that know one namenode
//! (WebHDFS tools read a `Location` as a datanode's, so a redirect to
//! another namenode would break them) work against any of them.
//!
//! Answered here whatever the role: the datanode protocol and Raft traffic
//! (`/internal/...`: datanodes report to every namenode), `/health`,
//! `/metrics`, `/api/v1/namenodes`, the OpenAPI document and the web UI's
//! static files. Everything else goes to the leader: every change, and
//! reads too (so a read never sees less than a change acknowledged by
//! any namenode before it began). With no leader known the answer is 503
//! `unavailable` (WebHDFS: 403 `StandbyException`, on which Hadoop's
//! clients try another namenode).
//!
//! Access control is the leader's: the request goes on with its
//! credentials (header, cookie, `delegation` parameter) and this layer
//! sits outside the authentication middleware. A forwarded request carries
//! [`FORWARDED`]; a namenode that gets one it would forward again answers
//! 503 instead (two namenodes that each think the other leads, for a
//! moment), never loops. Answers carry [`LEADER`], the leader's URL.
use crate::raft::group::{Group, Leader};
use actix_web::body::{BodyStream, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web;
use dfs_common::error::{error_chain, ErrorCode};
use dfs_common::proto::client::STANDBY_HEADER;
use dfs_common::proto::webhdfs::Exception;
use futures_util::StreamExt;

/// Set on a request a follower forwards.
pub const FORWARDED: &str = "x-dfs-forwarded";
/// The leader's URL, on forwarded answers.
pub const LEADER: &str = "x-dfs-leader";

/// The HTTP client followers forward with (app data).
pub struct Forwarder(reqwest::Client);

impl Forwarder {
    pub fn new() -> anyhow::Result<Forwarder> {
        // `client_builder`'s idle timeout is shorter than the leader's
        // keep-alive: reqwest's default (90 s) outlived it (75 s), so a
        // request forwarded on a connection idle that long met the leader
        // closing it ("error sending request", a 403 StandbyException to a
        // WebHDFS client; CI).
        Ok(Forwarder(
            dfs_client::tls::client_builder()?
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(std::time::Duration::from_secs(2))
                .build()?,
        ))
    }
}

/// What every namenode answers itself (changes to the group, `POST` and
/// `DELETE /api/v1/namenodes`, are the leader's).
fn is_local(method: &actix_web::http::Method, path: &str) -> bool {
    path.starts_with("/internal/")
        || matches!(path, "/" | "/health" | "/metrics" | "/api/v1/openapi.json")
        || (path == "/api/v1/namenodes" && method == actix_web::http::Method::GET)
        || path.starts_with("/ui/")
}

/// Headers that belong to one connection, not to the request (`expect`:
/// this namenode answered the client's `100-continue` itself).
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "expect"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

fn unavailable(path: &str, message: String) -> actix_web::HttpResponse {
    let mut r = if dfs_http::error::is_webhdfs(path) {
        dfs_http::error::webhdfs_answer(StatusCode::FORBIDDEN, Exception::Standby, message)
    } else {
        dfs_http::error::contract_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            message,
        )
    };
    r.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static(STANDBY_HEADER),
        actix_web::http::header::HeaderValue::from_static("1"),
    );
    r
}

/// The middleware (see the module doc).
pub async fn forward(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let group = req.app_data::<web::Data<Group>>().cloned();
    let (Some(group), false) = (group, is_local(req.method(), req.path())) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if group.alone() {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let leader = match group.leader().await {
        Leader::Me => return Ok(next.call(req).await?.map_into_boxed_body()),
        Leader::At(url) => url,
        Leader::Unknown => {
            let path = req.path().to_string();
            return Ok(req.into_response(unavailable(
                &path,
                "no namenode is the leader now (an election is under way, or too few namenodes are up); retry, or try another namenode".into(),
            )));
        }
    };
    if req.headers().contains_key(FORWARDED) {
        let path = req.path().to_string();
        return Ok(req.into_response(unavailable(
            &path,
            format!("this namenode is not the leader ({leader} is) and does not forward a forwarded request; retry"),
        )));
    }
    let Some(client) = req.app_data::<web::Data<Forwarder>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let (http, payload) = req.into_parts();
    let resp = relay(&client.0, &http, payload, &leader).await;
    Ok(ServiceResponse::new(http, resp))
}

/// Sends the request to the leader (its body as [`ForwardedBody::of`]
/// says) and turns the leader's answer into this one's, streamed.
async fn relay(
    client: &reqwest::Client,
    http: &actix_web::HttpRequest,
    mut payload: actix_web::dev::Payload,
    leader: &str,
) -> actix_web::HttpResponse {
    let path_and_query = http
        .uri()
        .path_and_query()
        .map_or_else(|| http.path().to_string(), |p| p.as_str().to_string());
    let url = format!("{leader}{path_and_query}");
    let Ok(method) = reqwest::Method::from_bytes(http.method().as_str().as_bytes()) else {
        return unavailable(
            http.path(),
            format!("cannot forward method {}", http.method()),
        );
    };
    let mut out = client.request(method, &url).header(FORWARDED, "1");
    for (name, value) in http.headers() {
        if !hop_by_hop(name.as_str()) {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    if let Some(addr) = http.peer_addr() {
        out = out.header("x-forwarded-for", addr.ip().to_string());
    }
    let (body, again) = match ForwardedBody::of(http) {
        ForwardedBody::None => (None, is_read(http)),
        ForwardedBody::Buffered(limit) => match buffered(&mut payload, limit).await {
            Ok(bytes) => (Some(reqwest::Body::from(bytes)), carries_request_id(http)),
            Err(message) => {
                return dfs_http::error::error_response(
                    http.path(),
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    message,
                )
            }
        },
        ForwardedBody::Streamed => {
            // Never back into the pool: the leader may answer before it has
            // read the body (an error, a refusal), and a connection left
            // with unread bytes in it answers nothing more.
            out = out.header("connection", "close");
            (Some(streamed(payload)), false)
        }
    };
    if let Some(body) = body {
        out = out.body(body);
    }
    // Sent again once when the first try failed short of an answer (a
    // pooled connection the leader was closing at that moment), when that
    // changes nothing: a read, or a call the leader's retry cache answers
    // (its request id), whose body is here whole.
    let again = again.then(|| out.try_clone()).flatten();
    let sent = match (out.send().await, again) {
        (Err(e), Some(again)) if !e.is_timeout() => {
            log::debug!(
                "forwarding to {leader} failed ({}); sending it once more",
                error_chain(&e)
            );
            again.send().await
        }
        (sent, _) => sent,
    };
    let answer = match sent {
        Ok(a) => a,
        Err(e) => {
            return unavailable(
                http.path(),
                format!(
                    "the leader {leader} could not be reached ({}); retry",
                    error_chain(&e)
                ),
            )
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = actix_web::HttpResponse::build(status);
    for (name, value) in answer.headers() {
        if !hop_by_hop(name.as_str()) {
            resp.insert_header((name.as_str(), value.as_bytes()));
        }
    }
    resp.insert_header((LEADER, leader));
    let length = answer.content_length();
    let body = answer
        .bytes_stream()
        .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
    match length {
        Some(n) => resp.no_chunking(n).streaming(body),
        None => resp.body(BodyStream::new(body)),
    }
}

/// Bodies up to this size (every JSON call) are read whole before they
/// are forwarded.
const BUFFERED_BODY: u64 = 1 << 20;

/// How a request's body goes to the leader.
#[derive(Debug, PartialEq, Eq)]
enum ForwardedBody {
    /// No body: a read, an empty body, or the first step of a WebHDFS
    /// CREATE or APPEND, which the namenode answers (a 307 to a datanode)
    /// without reading the data a client such as `curl -T` sends with it.
    /// Forwarded, those bytes would sit unread in a pooled connection to
    /// the leader, and the next request sent on it would get no answer
    /// (a hang seen in CI).
    None,
    /// Read whole first (at most this many bytes: its Content-Length),
    /// then sent with its length; so it can be sent again.
    Buffered(u64),
    /// Streamed as it arrives (uploads relayed through the namenode), on
    /// a connection used for nothing else.
    Streamed,
}

impl ForwardedBody {
    fn of(http: &actix_web::HttpRequest) -> ForwardedBody {
        use actix_web::http::Method;
        let length = http
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let chunked = http.headers().contains_key("transfer-encoding");
        if matches!(*http.method(), Method::GET | Method::HEAD)
            || (length == Some(0) && !chunked)
            || (length.is_none() && !chunked)
            || is_webhdfs_first_step(http)
        {
            return ForwardedBody::None;
        }
        match length {
            Some(n) if n <= BUFFERED_BODY && !chunked => ForwardedBody::Buffered(n),
            _ => ForwardedBody::Streamed,
        }
    }
}

/// A WebHDFS CREATE or APPEND without `namenoderpcaddress` (which every
/// data step's `Location` carries): the step that only answers where the
/// data goes.
fn is_webhdfs_first_step(http: &actix_web::HttpRequest) -> bool {
    if !dfs_http::error::is_webhdfs(http.path()) {
        return false;
    }
    let mut op = None;
    for pair in http.query_string().split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.eq_ignore_ascii_case("namenoderpcaddress") {
            return false;
        }
        if key == "op" {
            op = Some(value);
        }
    }
    op.is_some_and(|op| op.eq_ignore_ascii_case("CREATE") || op.eq_ignore_ascii_case("APPEND"))
}

fn is_read(http: &actix_web::HttpRequest) -> bool {
    matches!(
        *http.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    )
}

fn carries_request_id(http: &actix_web::HttpRequest) -> bool {
    http.headers()
        .contains_key(dfs_common::proto::client::REQUEST_ID_HEADER)
}

/// The whole body, which its Content-Length says is `limit` bytes.
async fn buffered(
    payload: &mut actix_web::dev::Payload,
    limit: u64,
) -> Result<bytes::Bytes, String> {
    let mut body = bytes::BytesMut::with_capacity(limit as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| format!("the request body could not be read: {e}"))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err("the request body is longer than its Content-Length".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The body as it arrives. It goes through a channel: actix's payload is
/// tied to this worker's thread, the client's body must be `Send`.
fn streamed(mut payload: actix_web::dev::Payload) -> reqwest::Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    actix_web::rt::spawn(async move {
        loop {
            // Ends as soon as the client's request is over (its body then
            // goes nowhere), not only when the body does.
            let chunk = tokio::select! {
                chunk = payload.next() => chunk,
                () = tx.closed() => break,
            };
            let Some(chunk) = chunk else { break };
            let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    reqwest::Body::wrap_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn body_of(req: TestRequest) -> ForwardedBody {
        ForwardedBody::of(&req.to_http_request())
    }

    fn with_length(req: TestRequest, n: u64) -> TestRequest {
        req.insert_header(("content-length", n.to_string()))
    }

    #[test]
    fn what_of_each_body_goes_to_the_leader() {
        use ForwardedBody::*;
        assert_eq!(body_of(TestRequest::get().uri("/api/v1/files")), None);
        // A body without a length or chunking is no body (HTTP/1.1).
        assert_eq!(body_of(TestRequest::post().uri("/rpc/v1/mkdirs")), None);
        assert_eq!(
            body_of(with_length(
                TestRequest::put().uri("/webhdfs/v1/d?op=MKDIRS"),
                0
            )),
            None
        );
        // The first step of CREATE and APPEND: the data curl -T sends with
        // it is not the leader's to read.
        for uri in [
            "/webhdfs/v1/a?op=CREATE&user.name=t",
            "/webhdfs/v1/a?user.name=t&op=create&overwrite=true",
            "/webhdfs/v1/a?op=APPEND",
        ] {
            assert_eq!(
                body_of(with_length(TestRequest::put().uri(uri), 2 << 20)),
                None,
                "{uri}"
            );
            assert_eq!(
                body_of(with_length(TestRequest::post().uri(uri), 10)),
                None,
                "{uri}"
            );
        }
        // A data step relayed by the namenode is data: streamed.
        assert_eq!(
            body_of(with_length(
                TestRequest::put().uri("/webhdfs/v1/a?op=CREATE&namenoderpcaddress=h%3A1"),
                2 << 20
            )),
            Streamed
        );
        // Calls are read whole (so they can be sent again), uploads not.
        assert_eq!(
            body_of(with_length(TestRequest::post().uri("/rpc/v1/create"), 80)),
            Buffered(80)
        );
        assert_eq!(
            body_of(with_length(
                TestRequest::post().uri("/rpc/v1/create"),
                BUFFERED_BODY
            )),
            Buffered(BUFFERED_BODY)
        );
        assert_eq!(
            body_of(with_length(
                TestRequest::put().uri("/files/a"),
                BUFFERED_BODY + 1
            )),
            Streamed
        );
        assert_eq!(
            body_of(
                TestRequest::put()
                    .uri("/files/a")
                    .insert_header(("transfer-encoding", "chunked"))
            ),
            Streamed
        );
    }
}
