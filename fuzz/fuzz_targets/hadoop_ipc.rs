//! The namenode's Hadoop IPC framing (`namenode::hadoop::ipc`) on arbitrary
//! bytes: a connection header, a connection context and calls, cut into
//! pieces as a network would, from a client that may stop at any point.
//!
//! Both with access control off and on (then SASL DIGEST-MD5 over a
//! token, `alice-id` with password `pw`, comes before the context).
//!
//! Properties: no panic, no hang (the read timeout is short and time is
//! paused), and every answer the server writes is a well-formed frame: a
//! length that matches, a response header that decodes, and a call id the
//! client sent (or the "no call" id of a FATAL answer).
#![no_main]
use libfuzzer_sys::fuzz_target;
use namenode::hadoop::ipc::{budget, serve, Calls};
use namenode::hadoop::proto::{self, RpcResponseHeaderProto};
use namenode::hadoop::Remote;
use prost::Message;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Echo(bool);

impl Calls for Echo {
    async fn call(&self, _user: &str, method: &str, request: &[u8]) -> Result<Vec<u8>, Remote> {
        match method {
            "fail" => Err(Remote::no_such_method(method)),
            _ => Ok(request.to_vec()),
        }
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

fuzz_target!(|input: (Vec<u8>, bool, bool)| {
    let (bytes, with_header, secured) = input;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let serving = tokio::spawn(async move {
            serve(&mut server, &Echo(secured), Duration::from_secs(1), &budget()).await
        });
        if with_header {
            // SASL when secured (SIMPLE would be refused at once).
            let auth = if secured { 0xdf } else { 0 };
            let _ = client.write_all(&[b'h', b'r', b'p', b'c', 9, 0, auth]).await;
        }
        let _ = client.write_all(&bytes).await;
        let _ = client.shutdown().await;
        let mut out = Vec::new();
        let _ = client.read_to_end(&mut out).await;
        let _ = serving.await;
        // Every answer is a whole, decodable frame.
        let mut rest = out.as_slice();
        while !rest.is_empty() {
            assert!(rest.len() >= 4, "a torn length");
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            assert!(rest.len() >= 4 + len, "a torn frame");
            let mut frame = &rest[4..4 + len];
            let head = RpcResponseHeaderProto::decode_length_delimited(&mut frame)
                .expect("a response header");
            assert!(
                [proto::SUCCESS, proto::ERROR, proto::FATAL].contains(&head.status),
                "{head:?}"
            );
            rest = &rest[4 + len..];
        }
    });
});
