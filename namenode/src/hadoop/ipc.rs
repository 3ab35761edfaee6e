//! Hadoop IPC framing on one connection: the 7-byte connection header
//! (`hrpc`, version 9, service class, auth protocol), the connection
//! context (who the client says it is, and which protocol), then calls,
//! each a 4-byte big-endian length and, inside it, a delimited
//! `RpcRequestHeaderProto`, a delimited `RequestHeaderProto` (the method)
//! and the delimited request message; each answered by a 4-byte length, a
//! delimited `RpcResponseHeaderProto` and, on success, the delimited answer.
//!
//! Calls on one connection are served side by side (at most
//! [`MAX_CALLS_PER_CONNECTION`]), each answered when it is done: Hadoop's
//! client matches answers to calls by their id.
//!
//! Bad input never panics and never takes the server down: a header that is
//! not Hadoop's is dropped without a word (it may not be a Hadoop client at
//! all); a wrong version, an unsupported authentication, a length over
//! [`MAX_FRAME`] or a frame that does not decode get a FATAL answer naming
//! the problem, then the connection is closed; a call the door does not
//! know gets an ERROR answer (`RpcNoSuchMethodException`) and the connection
//! stays open, as Hadoop's own server does.
use super::proto::{self, RpcRequestHeaderProto, RpcResponseHeaderProto};
use super::Remote;
use futures_util::stream::{FuturesUnordered, StreamExt};
use prost::Message;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Hadoop IPC's connection header version (`Server.CURRENT_VERSION`).
pub const IPC_VERSION: u8 = 9;
/// The auth protocol byte of SIMPLE (no SASL): `AuthProtocol.NONE`.
const AUTH_NONE: u8 = 0;
/// The auth protocol byte of SASL: `AuthProtocol.SASL` (-33).
const AUTH_SASL: u8 = 0xDF;
/// Why a SIMPLE client is refused when access control is on.
pub const SIMPLE_REFUSED: &str = "access control is on: SIMPLE authentication names a user \
    without proving it, so this door takes a dfs delegation token instead (`dfs hadoop-token \
    FILE`, then HADOOP_TOKEN_FILE_LOCATION=FILE for Hadoop's client)";
/// The largest call accepted (Hadoop's `ipc.maximum.data.length` default).
pub const MAX_FRAME: u32 = 64 << 20;
/// The bytes all the calls being read or answered may hold together (a
/// call waits for room, up to the timeout, then its connection is closed).
pub const MAX_IN_FLIGHT: usize = 256 << 20;
/// What a call's buffer starts at; it grows as its bytes arrive.
const FIRST_READ: usize = 64 << 10;

/// The room all connections' calls share ([`MAX_IN_FLIGHT`] bytes).
pub fn budget() -> tokio::sync::Semaphore {
    tokio::sync::Semaphore::new(MAX_IN_FLIGHT)
}

/// What a connection is for: each call, by method name, its request bytes
/// and the connection's user, gives the answer's bytes or a remote
/// exception.
pub trait Calls {
    fn call(
        &self,
        user: &str,
        method: &str,
        request: &[u8],
    ) -> impl std::future::Future<Output = Result<Vec<u8>, Remote>> + Send;

    /// Access control is on: a connection must prove a delegation token
    /// (SASL DIGEST-MD5) and is its owner; SIMPLE is refused. Off: the
    /// user is the one the connection context names.
    fn secured(&self) -> bool;

    /// A delegation token's user and password, from its identifier, or
    /// why it is refused (asked only when [`Calls::secured`]).
    fn token(&self, identifier: &[u8]) -> Result<(String, Vec<u8>), String>;
}

/// Why a connection ended early (for the log).
#[derive(Debug)]
pub enum Ended {
    /// Not Hadoop IPC at all; nothing was answered.
    NotHadoop,
    /// Answered FATAL, then closed.
    Fatal(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for Ended {
    fn from(e: std::io::Error) -> Self {
        Ended::Io(e)
    }
}

/// Serves one connection until the client closes it (`Ok`) or it breaks
/// the protocol. `timeout` bounds the wait for the header and for the rest
/// of a call once its length has come (a slow sender is cut off); between
/// calls a connection may be idle as long as it likes.
pub async fn serve<S, C>(
    stream: &mut S,
    calls: &C,
    timeout: Duration,
    budget: &tokio::sync::Semaphore,
) -> Result<(), Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Calls,
{
    let mut header = [0u8; 7];
    match tokio::time::timeout(timeout, stream.read_exact(&mut header)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(Ended::NotHadoop),
    }
    if &header[..4] != b"hrpc" {
        return Err(Ended::NotHadoop);
    }
    if header[4] != IPC_VERSION {
        let why = format!(
            "IPC version {} is not supported: this server speaks version {IPC_VERSION} (Hadoop 2.x and 3.x)",
            header[4]
        );
        return Err(fatal(stream, u32::MAX, proto::FATAL_VERSION_MISMATCH, why).await);
    }
    // Who the connection is, when SASL proved it (a token's owner).
    let proven = match header[6] {
        AUTH_NONE if calls.secured() => {
            let why = SIMPLE_REFUSED.to_string();
            return Err(fatal(stream, u32::MAX, proto::FATAL_UNAUTHORIZED, why).await);
        }
        AUTH_NONE => None,
        AUTH_SASL => {
            match tokio::time::timeout(timeout, sasl_exchange(stream, calls, timeout, budget)).await
            {
                Ok(proven) => proven?,
                Err(_) => {
                    let why = format!("the SASL exchange did not end within {timeout:?}");
                    return Err(Ended::Fatal(why));
                }
            }
        }
        other => {
            let why = format!("auth protocol {other} is unknown: 0 (SIMPLE) or -33 (SASL)");
            return Err(fatal(stream, u32::MAX, proto::FATAL_UNAUTHORIZED, why).await);
        }
    };
    let (rd, wr) = tokio::io::split(&mut *stream);
    let wr = tokio::sync::Mutex::new(wr);
    let mut user: Option<String> = None;
    // Calls are answered as each is done (Hadoop's client matches answers
    // to calls by id): a slow call does not hold up the others.
    let mut in_flight = FuturesUnordered::new();
    let mut reading = Box::pin(next_frame(rd, timeout, budget));
    loop {
        let (rd, frame) = tokio::select! {
            Some(written) = in_flight.next(), if !in_flight.is_empty() => {
                written?;
                continue;
            }
            r = &mut reading => r,
        };
        let (frame, room) = match frame {
            Ok(Some(f)) => f,
            Ok(None) => {
                // The client is gone: what is under way finishes.
                while in_flight.next().await.is_some() {}
                return Ok(());
            }
            Err(Bad::Io(e)) => return Err(e.into()),
            Err(Bad::Stalled(why)) => return Err(Ended::Fatal(why)),
            Err(Bad::Fatal(detail, why)) => {
                return Err(fatal(&mut *wr.lock().await, u32::MAX, detail, why).await)
            }
        };
        let parsed = parse(&frame, user.is_some());
        drop(frame);
        let (rpc, call_id, method, request) = match parsed {
            Ok(Parsed::Close) => {
                while in_flight.next().await.is_some() {}
                return Ok(());
            }
            Ok(Parsed::Context(named)) => {
                // A token's owner is who it says; a SIMPLE user, who the
                // context names.
                user = Some(proven.clone().unwrap_or(named));
                reading.set(next_frame(rd, timeout, budget));
                continue;
            }
            Ok(Parsed::Call {
                rpc,
                method,
                request,
            }) => {
                let call_id = rpc.call_id as u32;
                (rpc, call_id, method, request)
            }
            Err((call_id, detail, why)) => {
                return Err(fatal(&mut *wr.lock().await, call_id, detail, why).await)
            }
        };
        let who = user.clone().unwrap_or_default();
        let wr = &wr;
        in_flight.push(async move {
            let answer = if method.declaring_class_protocol_name != proto::CLIENT_PROTOCOL {
                Err(Remote::no_such_protocol(
                    &method.declaring_class_protocol_name,
                ))
            } else {
                calls.call(&who, &method.method_name, &request).await
            };
            let (head, body) = answer_parts(&rpc, call_id, answer);
            let written = write_answer(&mut *wr.lock().await, &head, body.as_deref()).await;
            // The call's room in the budget is given back once answered.
            drop(room);
            written
        });
        // A bounded number of calls per connection; past it, one must end
        // before the next is read.
        if in_flight.len() >= MAX_CALLS_PER_CONNECTION {
            if let Some(written) = in_flight.next().await {
                written?;
            }
        }
        reading.set(next_frame(rd, timeout, budget));
    }
}

/// What one frame holds.
enum Parsed {
    /// The client says it is done.
    Close,
    /// The connection context: the user the client names (none with a
    /// token: the token names it).
    Context(String),
    Call {
        rpc: RpcRequestHeaderProto,
        method: proto::RequestHeaderProto,
        /// The request message (empty for a call without one).
        request: Vec<u8>,
    },
}

/// Reads a frame; an error is the FATAL answer it gets (call id, detail,
/// why). `known` says whether the connection context came already.
fn parse(frame: &[u8], known: bool) -> Result<Parsed, (u32, i32, String)> {
    let mut buf = frame;
    let Ok(rpc) = RpcRequestHeaderProto::decode_length_delimited(&mut buf) else {
        let why = "the RPC request header does not decode".to_string();
        return Err((u32::MAX, proto::FATAL_DESERIALIZING_REQUEST, why));
    };
    let call_id = rpc.call_id as u32;
    if rpc.rpc_op == Some(proto::RPC_CLOSE_CONNECTION) {
        return Ok(Parsed::Close);
    }
    if rpc.rpc_kind != Some(proto::RPC_PROTOCOL_BUFFER) {
        let why = format!(
            "RPC kind {:?} is not supported: only protocol buffers (2)",
            rpc.rpc_kind
        );
        return Err((call_id, proto::FATAL_UNSUPPORTED_SERIALIZATION, why));
    }
    if rpc.call_id == proto::CONNECTION_CONTEXT_CALL_ID {
        let Ok(ctx) = proto::IpcConnectionContextProto::decode_length_delimited(&mut buf) else {
            let why = "the connection context does not decode".to_string();
            return Err((call_id, proto::FATAL_DESERIALIZING_REQUEST, why));
        };
        if let Some(p) = ctx
            .protocol
            .as_deref()
            .filter(|p| *p != proto::CLIENT_PROTOCOL)
        {
            let why = format!(
                "unknown protocol {p}: this door serves {}",
                proto::CLIENT_PROTOCOL
            );
            return Err((call_id, proto::ERROR_NO_SUCH_PROTOCOL, why));
        }
        let who = ctx
            .user_info
            .and_then(|u| u.effective_user.or(u.real_user))
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "dr.who".to_string());
        return Ok(Parsed::Context(who));
    }
    if !known {
        let why = "a call came before the connection context".to_string();
        return Err((call_id, proto::FATAL_INVALID_RPC_HEADER, why));
    }
    let Ok(method) = proto::RequestHeaderProto::decode_length_delimited(&mut buf) else {
        let why = "the request header does not decode".to_string();
        return Err((call_id, proto::FATAL_DESERIALIZING_REQUEST, why));
    };
    let request = if buf.is_empty() {
        Vec::new()
    } else {
        match prost::decode_length_delimiter(&mut buf) {
            Ok(n) if n <= buf.len() => buf[..n].to_vec(),
            _ => {
                let why = format!("the {} request does not decode", method.method_name);
                return Err((call_id, proto::FATAL_DESERIALIZING_REQUEST, why));
            }
        }
    };
    Ok(Parsed::Call {
        rpc,
        method,
        request,
    })
}

/// The most calls one connection has under way at once.
pub const MAX_CALLS_PER_CONNECTION: usize = 64;

/// Why a frame could not be read.
enum Bad {
    Io(std::io::Error),
    /// Answered FATAL with this detail and reason.
    Fatal(i32, String),
    /// The call's bytes stopped coming: closed without an answer.
    Stalled(String),
}

/// The next call's bytes and its room in the budget (`None`: the client
/// closed the connection between calls), and the reader back.
async fn next_frame<R: AsyncRead + Unpin>(
    mut rd: R,
    timeout: Duration,
    budget: &tokio::sync::Semaphore,
) -> (
    R,
    Result<Option<(Vec<u8>, tokio::sync::SemaphorePermit<'_>)>, Bad>,
) {
    let frame = async {
        let mut len = [0u8; 4];
        match rd.read_exact(&mut len).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(Bad::Io(e)),
        }
        let len = u32::from_be_bytes(len);
        if len > MAX_FRAME {
            let why = format!("RPC data length {len} is over the maximum of {MAX_FRAME}");
            return Err(Bad::Fatal(proto::FATAL_INVALID_RPC_HEADER, why));
        }
        // Room for the call among all the calls in flight, then its bytes
        // as they come: memory follows what clients send, not what they
        // declare, and all of them together hold at most the budget.
        let Ok(Ok(room)) = tokio::time::timeout(timeout, budget.acquire_many(len)).await else {
            let why =
                format!("the server is busy: calls in flight already hold {MAX_IN_FLIGHT} bytes");
            return Err(Bad::Fatal(proto::FATAL_INVALID_RPC_HEADER, why));
        };
        let mut frame = Vec::with_capacity((len as usize).min(FIRST_READ));
        let mut call = AsyncReadExt::take(&mut rd, u64::from(len));
        match tokio::time::timeout(timeout, call.read_to_end(&mut frame)).await {
            Ok(Ok(n)) if n == len as usize => Ok(Some((frame, room))),
            Ok(Ok(_)) => Err(Bad::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(Err(e)) => Err(Bad::Io(e)),
            Err(_) => Err(Bad::Stalled(format!(
                "a call of {len} bytes did not arrive within {timeout:?}"
            ))),
        }
    }
    .await;
    (rd, frame)
}

/// A call's answer as a response header and, on success, its message.
fn answer_parts(
    rpc: &RpcRequestHeaderProto,
    call_id: u32,
    answer: Result<Vec<u8>, Remote>,
) -> (RpcResponseHeaderProto, Option<Vec<u8>>) {
    match answer {
        Ok(body) => (
            RpcResponseHeaderProto {
                call_id,
                status: proto::SUCCESS,
                server_ipc_version_num: Some(u32::from(IPC_VERSION)),
                client_id: Some(rpc.client_id.clone()),
                retry_count: rpc.retry_count,
                ..Default::default()
            },
            Some(body),
        ),
        Err(remote) => (
            RpcResponseHeaderProto {
                call_id,
                status: proto::ERROR,
                server_ipc_version_num: Some(u32::from(IPC_VERSION)),
                exception_class_name: Some(remote.class.to_string()),
                error_msg: Some(remote.message),
                error_detail: Some(remote.detail),
                client_id: Some(rpc.client_id.clone()),
                retry_count: rpc.retry_count,
            },
            None,
        ),
    }
}

/// Writes one answer: length, delimited header, then the answer message
/// (already encoded), delimited.
async fn write_answer<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &RpcResponseHeaderProto,
    body: Option<&[u8]>,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(64 + body.map_or(0, <[u8]>::len));
    out.extend_from_slice(&[0; 4]);
    head.encode_length_delimited(&mut out)
        .map_err(std::io::Error::other)?;
    if let Some(b) = body {
        prost::encode_length_delimiter(b.len(), &mut out).map_err(std::io::Error::other)?;
        out.extend_from_slice(b);
    }
    let len = u32::try_from(out.len() - 4).map_err(std::io::Error::other)?;
    out[..4].copy_from_slice(&len.to_be_bytes());
    stream.write_all(&out).await?;
    stream.flush().await
}

/// Answers FATAL with `why`, then ends the connection (what it gives is
/// the connection's end, for the log).
async fn fatal<S: AsyncWrite + Unpin>(
    stream: &mut S,
    call_id: u32,
    detail: i32,
    why: String,
) -> Ended {
    let class = if detail == proto::FATAL_VERSION_MISMATCH {
        "org.apache.hadoop.ipc.RPC$VersionMismatch"
    } else if detail == proto::FATAL_UNAUTHORIZED {
        "org.apache.hadoop.security.AccessControlException"
    } else if detail == proto::ERROR_NO_SUCH_PROTOCOL {
        "org.apache.hadoop.ipc.RpcNoSuchProtocolException"
    } else {
        "org.apache.hadoop.ipc.IpcException"
    };
    let head = RpcResponseHeaderProto {
        call_id,
        status: proto::FATAL,
        server_ipc_version_num: Some(u32::from(IPC_VERSION)),
        exception_class_name: Some(class.into()),
        error_msg: Some(why.clone()),
        error_detail: Some(detail),
        ..Default::default()
    };
    // The client may be gone already; the reason is logged either way.
    let _ = write_answer(stream, &head, None).await;
    let _ = stream.shutdown().await;
    Ended::Fatal(why)
}

/// The SASL exchange the connection header asked for, before the
/// connection context: without access control, SUCCESS at once (Hadoop's
/// way of telling a client that holds tokens to go on with SIMPLE); with
/// it, DIGEST-MD5 over a delegation token. Gives the token's owner (`None`:
/// SIMPLE). A failure is answered FATAL, as Hadoop's server does.
async fn sasl_exchange<S, C>(
    stream: &mut S,
    calls: &C,
    timeout: Duration,
    budget: &tokio::sync::Semaphore,
) -> Result<Option<String>, Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Calls,
{
    const SASL_ID: u32 = proto::SASL_CALL_ID as u32;
    let mut exchange: Option<super::sasl::Exchange> = None;
    loop {
        let (frame, room) = match next_frame(&mut *stream, timeout, budget).await.1 {
            Ok(Some(f)) => f,
            Ok(None) => return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()),
            Err(Bad::Io(e)) => return Err(e.into()),
            Err(Bad::Stalled(why)) => return Err(Ended::Fatal(why)),
            Err(Bad::Fatal(detail, why)) => return Err(fatal(stream, u32::MAX, detail, why).await),
        };
        let message = parse_sasl(&frame);
        drop((frame, room));
        let message = match message {
            Ok(m) => m,
            Err(why) => {
                let detail = proto::FATAL_DESERIALIZING_REQUEST;
                return Err(fatal(stream, SASL_ID, detail, why).await);
            }
        };
        let reply = |state, token, auths| proto::RpcSaslProto {
            version: None,
            state,
            token,
            auths,
        };
        match (message.state, calls.secured(), &exchange) {
            (proto::SASL_NEGOTIATE, false, None) => {
                write_sasl(stream, reply(proto::SASL_SUCCESS, None, Vec::new())).await?;
                return Ok(None);
            }
            (proto::SASL_NEGOTIATE, true, None) => {
                let ex = super::sasl::Exchange::new();
                let offer = proto::SaslAuth {
                    method: "TOKEN".into(),
                    mechanism: "DIGEST-MD5".into(),
                    protocol: Some(String::new()),
                    server_id: Some(super::sasl::REALM.into()),
                    challenge: Some(ex.challenge()),
                };
                let negotiate = reply(proto::SASL_NEGOTIATE, None, vec![offer]);
                write_sasl(stream, negotiate).await?;
                exchange = Some(ex);
            }
            (proto::SASL_INITIATE, true, Some(ex)) => {
                let chosen = message.auths.first();
                if !chosen.is_some_and(|a| a.method == "TOKEN" && a.mechanism == "DIGEST-MD5") {
                    let why = "only TOKEN authentication (DIGEST-MD5) is offered".to_string();
                    return Err(fatal(stream, u32::MAX, proto::FATAL_UNAUTHORIZED, why).await);
                }
                let lookup = |id: &[u8]| calls.token(id);
                let response = message.token.as_deref().unwrap_or_default();
                return match ex.verify(response, &lookup) {
                    Ok((user, rspauth)) => {
                        write_sasl(
                            stream,
                            reply(proto::SASL_SUCCESS, Some(rspauth), Vec::new()),
                        )
                        .await?;
                        Ok(Some(user))
                    }
                    Err(why) => {
                        let why = format!("the delegation token is refused: {why}");
                        Err(fatal(stream, u32::MAX, proto::FATAL_UNAUTHORIZED, why).await)
                    }
                };
            }
            (state, ..) => {
                let why = format!("SASL message of state {state} out of turn");
                return Err(fatal(stream, u32::MAX, proto::FATAL_UNAUTHORIZED, why).await);
            }
        }
    }
}

/// A SASL frame's message (its call id must be SASL's).
fn parse_sasl(frame: &[u8]) -> Result<proto::RpcSaslProto, String> {
    let mut buf = frame;
    let rpc = RpcRequestHeaderProto::decode_length_delimited(&mut buf)
        .map_err(|_| "the RPC request header does not decode".to_string())?;
    if rpc.call_id != proto::SASL_CALL_ID {
        return Err(format!(
            "call {} came before the SASL exchange ended",
            rpc.call_id
        ));
    }
    proto::RpcSaslProto::decode_length_delimited(&mut buf)
        .map_err(|_| "the SASL message does not decode".to_string())
}

/// Writes one SASL answer.
async fn write_sasl<S: AsyncWrite + Unpin>(
    stream: &mut S,
    message: proto::RpcSaslProto,
) -> std::io::Result<()> {
    let head = RpcResponseHeaderProto {
        call_id: proto::SASL_CALL_ID as u32,
        status: proto::SUCCESS,
        server_ipc_version_num: Some(u32::from(IPC_VERSION)),
        ..Default::default()
    };
    write_answer(stream, &head, Some(&message.encode_to_vec())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers each call with its method's name (`whoami`: the user's);
    /// `Echo(true)` has access control on, with one token: `alice-id`,
    /// password `pw`.
    struct Echo(bool);

    impl Calls for Echo {
        async fn call(&self, user: &str, method: &str, _req: &[u8]) -> Result<Vec<u8>, Remote> {
            if method == "slow" {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            if method == "whoami" {
                return Ok(user.as_bytes().to_vec());
            }
            Ok(method.as_bytes().to_vec())
        }
        fn secured(&self) -> bool {
            self.0
        }
        fn token(&self, identifier: &[u8]) -> Result<(String, Vec<u8>), String> {
            match identifier {
                b"alice-id" => Ok(("alice".into(), b"pw".to_vec())),
                _ => Err("no such token".into()),
            }
        }
    }

    fn frame(parts: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&body);
        f
    }

    fn rpc(call_id: i32) -> Vec<u8> {
        RpcRequestHeaderProto {
            rpc_kind: Some(proto::RPC_PROTOCOL_BUFFER),
            rpc_op: Some(0),
            call_id,
            client_id: vec![1; 16],
            retry_count: None,
        }
        .encode_length_delimited_to_vec()
    }

    fn context(user: &str) -> Vec<u8> {
        frame(&[
            rpc(proto::CONNECTION_CONTEXT_CALL_ID),
            proto::IpcConnectionContextProto {
                user_info: Some(proto::UserInformationProto {
                    effective_user: Some(user.into()),
                    real_user: None,
                }),
                protocol: Some(proto::CLIENT_PROTOCOL.into()),
            }
            .encode_length_delimited_to_vec(),
        ])
    }

    /// A served connection, past its header and its context as `user`.
    async fn opened(
        user: &str,
        room: std::sync::Arc<tokio::sync::Semaphore>,
    ) -> (
        tokio::io::DuplexStream,
        tokio::task::JoinHandle<Result<(), Ended>>,
    ) {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let serving = tokio::spawn(async move {
            serve(&mut server, &Echo(false), Duration::from_secs(10), &room).await
        });
        client.write_all(b"hrpc\x09\x00\x00").await.unwrap();
        client.write_all(&context(user)).await.unwrap();
        (client, serving)
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_stalls_half_way_is_cut_off() {
        let (mut client, serving) = opened("alice", std::sync::Arc::new(budget())).await;
        // A length of 100, and 10 bytes of it; then nothing.
        client.write_all(&100u32.to_be_bytes()).await.unwrap();
        client.write_all(&[0; 10]).await.unwrap();
        let ended = serving.await.unwrap();
        assert!(
            matches!(ended, Err(Ended::Fatal(ref why)) if why.contains("did not arrive")),
            "{ended:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_would_overrun_the_budget_waits_then_is_refused() {
        let small = std::sync::Arc::new(tokio::sync::Semaphore::new(100));
        let held = small.clone().try_acquire_many_owned(60).unwrap();
        let (mut client, serving) = opened("alice", small).await;
        // 50 bytes declared, 40 free: the call waits for room, then the
        // connection is told the server is busy.
        client.write_all(&50u32.to_be_bytes()).await.unwrap();
        let ended = serving.await.unwrap();
        assert!(
            matches!(ended, Err(Ended::Fatal(ref why)) if why.contains("busy")),
            "{ended:?}"
        );
        drop(held);
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        let mut buf = &answer[4..];
        let h = RpcResponseHeaderProto::decode_length_delimited(&mut buf).unwrap();
        assert_eq!(h.status, proto::FATAL);
    }

    fn call(id: i32, method: &str) -> Vec<u8> {
        let head = proto::RequestHeaderProto {
            method_name: method.into(),
            declaring_class_protocol_name: proto::CLIENT_PROTOCOL.into(),
            client_protocol_version: 1,
        };
        frame(&[rpc(id), head.encode_length_delimited_to_vec()])
    }

    async fn read_answer(client: &mut tokio::io::DuplexStream) -> (u32, i32, Vec<u8>) {
        let mut len = [0u8; 4];
        client.read_exact(&mut len).await.unwrap();
        let mut f = vec![0u8; u32::from_be_bytes(len) as usize];
        client.read_exact(&mut f).await.unwrap();
        let mut buf = f.as_slice();
        let h = RpcResponseHeaderProto::decode_length_delimited(&mut buf).unwrap();
        let n = prost::decode_length_delimiter(&mut buf).unwrap();
        (h.call_id, h.status, buf[..n].to_vec())
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_does_not_hold_up_the_next() {
        let (mut client, serving) = opened("alice", std::sync::Arc::new(budget())).await;
        client.write_all(&call(0, "slow")).await.unwrap();
        client.write_all(&call(1, "fast")).await.unwrap();
        let started = tokio::time::Instant::now();
        assert_eq!(
            read_answer(&mut client).await,
            (1, proto::SUCCESS, b"fast".to_vec())
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            read_answer(&mut client).await,
            (0, proto::SUCCESS, b"slow".to_vec())
        );
        drop(client);
        assert!(serving.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn calls_are_answered() {
        let (mut client, serving) = opened("alice", std::sync::Arc::new(budget())).await;
        for (id, method) in [(0, "getFileInfo"), (1, "mkdirs")] {
            client.write_all(&call(id, method)).await.unwrap();
        }
        let mut got = vec![
            read_answer(&mut client).await,
            read_answer(&mut client).await,
        ];
        got.sort();
        assert_eq!(
            got,
            vec![
                (0, proto::SUCCESS, b"getFileInfo".to_vec()),
                (1, proto::SUCCESS, b"mkdirs".to_vec())
            ]
        );
        drop(client);
        assert!(
            serving.await.unwrap().is_ok(),
            "a client that hangs up is fine"
        );
    }

    /// A connection to a door with access control on (`Echo(true)`) and
    /// `auth` as the header's auth byte.
    async fn secured(
        auth: u8,
    ) -> (
        tokio::io::DuplexStream,
        tokio::task::JoinHandle<Result<(), Ended>>,
    ) {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let serving = tokio::spawn(async move {
            let room = budget();
            serve(&mut server, &Echo(true), Duration::from_secs(10), &room).await
        });
        let header = [b'h', b'r', b'p', b'c', IPC_VERSION, 0, auth];
        client.write_all(&header).await.unwrap();
        (client, serving)
    }

    fn sasl(state: i32, token: Option<Vec<u8>>, auths: Vec<proto::SaslAuth>) -> Vec<u8> {
        let message = proto::RpcSaslProto {
            version: None,
            state,
            token,
            auths,
        };
        frame(&[
            rpc(proto::SASL_CALL_ID),
            message.encode_length_delimited_to_vec(),
        ])
    }

    async fn read_sasl(client: &mut tokio::io::DuplexStream) -> (i32, proto::RpcSaslProto) {
        let mut len = [0u8; 4];
        client.read_exact(&mut len).await.unwrap();
        let mut f = vec![0u8; u32::from_be_bytes(len) as usize];
        client.read_exact(&mut f).await.unwrap();
        let mut buf = f.as_slice();
        let h = RpcResponseHeaderProto::decode_length_delimited(&mut buf).unwrap();
        assert_eq!(h.call_id, proto::SASL_CALL_ID as u32);
        (
            h.status,
            proto::RpcSaslProto::decode_length_delimited(&mut buf).unwrap(),
        )
    }

    /// The FATAL answer a refused connection gets, and its end.
    async fn refused(
        mut client: tokio::io::DuplexStream,
        serving: tokio::task::JoinHandle<Result<(), Ended>>,
    ) -> String {
        let ended = serving.await.unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        let mut buf = &answer[4..];
        let h = RpcResponseHeaderProto::decode_length_delimited(&mut buf).unwrap();
        assert_eq!(h.status, proto::FATAL);
        assert_eq!(h.error_detail, Some(proto::FATAL_UNAUTHORIZED));
        assert!(matches!(ended, Err(Ended::Fatal(_))), "{ended:?}");
        h.error_msg.unwrap()
    }

    /// The client's DIGEST-MD5 response to `challenge` (Java's form).
    fn digest_response(challenge: &[u8], identifier: &[u8], password: &[u8]) -> Vec<u8> {
        use base64::Engine;
        use md5::{Digest, Md5};
        let challenge = String::from_utf8(challenge.to_vec()).unwrap();
        let nonce = challenge
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let (user, pw) = (b64.encode(identifier), b64.encode(password));
        let mut a1 = Md5::digest(format!("{user}:default:{pw}")).to_vec();
        a1.extend_from_slice(format!(":{nonce}:cn").as_bytes());
        let ha1 = hex::encode(Md5::digest(&a1));
        let ha2 = hex::encode(Md5::digest("AUTHENTICATE:/default"));
        let r = hex::encode(Md5::digest(format!("{ha1}:{nonce}:00000001:cn:auth:{ha2}")));
        format!(
            "username=\"{user}\",realm=\"default\",nonce=\"{nonce}\",nc=00000001,cnonce=\"cn\",\
             digest-uri=\"/default\",response={r},qop=auth"
        )
        .into_bytes()
    }

    fn token_auth() -> Vec<proto::SaslAuth> {
        vec![proto::SaslAuth {
            method: "TOKEN".into(),
            mechanism: "DIGEST-MD5".into(),
            protocol: Some(String::new()),
            server_id: Some("default".into()),
            challenge: None,
        }]
    }

    #[tokio::test]
    async fn with_access_control_a_token_is_proven_and_names_the_user() {
        let (mut client, serving) = secured(AUTH_SASL).await;
        client
            .write_all(&sasl(proto::SASL_NEGOTIATE, None, vec![]))
            .await
            .unwrap();
        let (status, offer) = read_sasl(&mut client).await;
        assert_eq!(
            (status, offer.state),
            (proto::SUCCESS, proto::SASL_NEGOTIATE)
        );
        let auth = &offer.auths[0];
        assert_eq!(
            (auth.method.as_str(), auth.mechanism.as_str()),
            ("TOKEN", "DIGEST-MD5")
        );
        let response = digest_response(auth.challenge.as_ref().unwrap(), b"alice-id", b"pw");
        let initiate = sasl(proto::SASL_INITIATE, Some(response), token_auth());
        client.write_all(&initiate).await.unwrap();
        let (_, done) = read_sasl(&mut client).await;
        assert_eq!(done.state, proto::SASL_SUCCESS);
        assert!(done.token.unwrap().starts_with(b"rspauth="));
        // The context's name does not count: the token's owner does.
        client.write_all(&context("root")).await.unwrap();
        client.write_all(&call(0, "whoami")).await.unwrap();
        assert_eq!(
            read_answer(&mut client).await,
            (0, proto::SUCCESS, b"alice".to_vec())
        );
        drop(client);
        assert!(serving.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn with_access_control_simple_a_wrong_password_and_junk_are_refused() {
        // SIMPLE: refused at once, with what to do instead.
        let (mut client, serving) = secured(AUTH_NONE).await;
        client.write_all(&context("alice")).await.unwrap();
        assert!(refused(client, serving).await.contains("dfs hadoop-token"));

        // A wrong password, an unknown token.
        for (id, pw, why) in [
            (&b"alice-id"[..], &b"guess"[..], "wrong"),
            (b"bob-id", b"pw", "no such token"),
        ] {
            let (mut client, serving) = secured(AUTH_SASL).await;
            client
                .write_all(&sasl(proto::SASL_NEGOTIATE, None, vec![]))
                .await
                .unwrap();
            let (_, offer) = read_sasl(&mut client).await;
            let response = digest_response(offer.auths[0].challenge.as_ref().unwrap(), id, pw);
            let initiate = sasl(proto::SASL_INITIATE, Some(response), token_auth());
            client.write_all(&initiate).await.unwrap();
            assert!(refused(client, serving).await.contains(why), "{why}");
        }

        // A call, or an INITIATE, before the negotiation; junk in a SASL
        // frame; another auth byte.
        let junk = [
            call(0, "getFileInfo"),
            sasl(proto::SASL_INITIATE, Some(b"x".to_vec()), token_auth()),
            frame(&[rpc(proto::SASL_CALL_ID), vec![9, 9, 9]]),
        ];
        for bytes in junk {
            let (mut client, serving) = secured(AUTH_SASL).await;
            client.write_all(&bytes).await.unwrap();
            let ended = serving.await.unwrap();
            assert!(matches!(ended, Err(Ended::Fatal(_))), "{ended:?}");
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await.unwrap();
            assert!(!answer.is_empty());
        }
        let (client, serving) = secured(0x51).await;
        assert!(refused(client, serving).await.contains("auth protocol"));
    }

    #[tokio::test]
    async fn without_access_control_a_sasl_client_is_told_to_go_on_simple() {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let serving = tokio::spawn(async move {
            let room = budget();
            serve(&mut server, &Echo(false), Duration::from_secs(10), &room).await
        });
        client.write_all(b"hrpc\x09\x00\xdf").await.unwrap();
        client
            .write_all(&sasl(proto::SASL_NEGOTIATE, None, vec![]))
            .await
            .unwrap();
        let (_, answer) = read_sasl(&mut client).await;
        assert_eq!(answer.state, proto::SASL_SUCCESS);
        client.write_all(&context("bob")).await.unwrap();
        client.write_all(&call(3, "whoami")).await.unwrap();
        assert_eq!(
            read_answer(&mut client).await,
            (3, proto::SUCCESS, b"bob".to_vec())
        );
        drop(client);
        assert!(serving.await.unwrap().is_ok());
    }
}
