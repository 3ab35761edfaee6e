//! The Hadoop door (`--hadoop-rpc-listen`) spoken to as Hadoop's Java
//! client speaks it (the bytes `hadoop fs -ls hdfs://…/` sends were read off
//! the wire: the `hrpc` header, the connection context, then
//! `getFileInfo`), with the door's own message definitions: namespace
//! calls answered as Hadoop's namenode answers them and seen by `dfs`, and
//! bad input (a wrong header, an oversized length, an unknown call, junk)
//! answered cleanly while the server lives on.
use dfs_tests::{free_port, ClusterOptions, TestCluster};
use namenode::hadoop::proto::{self, *};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Conn {
    s: TcpStream,
    next: i32,
}

/// One call's answer: the response header and the answer's bytes.
type Answer = (RpcResponseHeaderProto, Vec<u8>);

impl Conn {
    /// Connects and sends the header and the context as `user`.
    async fn open(port: u16, user: &str) -> Conn {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"hrpc\x09\x00\x00").await.unwrap();
        let mut c = Conn { s, next: 0 };
        let ctx = IpcConnectionContextProto {
            user_info: Some(UserInformationProto {
                effective_user: Some(user.into()),
                real_user: None,
            }),
            protocol: Some(proto::CLIENT_PROTOCOL.into()),
        };
        c.send(
            proto::CONNECTION_CONTEXT_CALL_ID,
            &[ctx.encode_length_delimited_to_vec()],
        )
        .await;
        c
    }

    async fn send(&mut self, call_id: i32, parts: &[Vec<u8>]) {
        let head = RpcRequestHeaderProto {
            rpc_kind: Some(proto::RPC_PROTOCOL_BUFFER),
            rpc_op: Some(0),
            call_id,
            client_id: vec![7; 16],
            retry_count: Some(-1),
        };
        let mut body = head.encode_length_delimited_to_vec();
        for p in parts {
            body.extend_from_slice(p);
        }
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.s.write_all(&frame).await.unwrap();
    }

    /// Reads one answer (`None`: the server closed the connection).
    async fn answer(&mut self) -> Option<Answer> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len).await.ok()?;
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut frame).await.ok()?;
        let mut buf = frame.as_slice();
        let head = RpcResponseHeaderProto::decode_length_delimited(&mut buf).unwrap();
        let body = if buf.is_empty() {
            Vec::new()
        } else {
            let n = prost::decode_length_delimiter(&mut buf).unwrap();
            buf[..n].to_vec()
        };
        Some((head, body))
    }

    async fn call(&mut self, method: &str, request: impl Message) -> Answer {
        let id = self.next;
        self.next += 1;
        let header = RequestHeaderProto {
            method_name: method.into(),
            declaring_class_protocol_name: proto::CLIENT_PROTOCOL.into(),
            client_protocol_version: 1,
        };
        self.send(
            id,
            &[
                header.encode_length_delimited_to_vec(),
                request.encode_length_delimited_to_vec(),
            ],
        )
        .await;
        let a = self.answer().await.expect("an answer");
        assert_eq!(a.0.call_id, id as u32);
        a
    }

    async fn ok<M: Message + Default>(&mut self, method: &str, request: impl Message) -> M {
        let (head, body) = self.call(method, request).await;
        assert_eq!(
            head.status,
            proto::SUCCESS,
            "{method}: {:?} {:?}",
            head.exception_class_name,
            head.error_msg
        );
        M::decode(body.as_slice()).unwrap()
    }
}

/// A cluster of one datanode whose namenode serves the door; its port.
async fn with_door() -> (TestCluster, u16) {
    let port = free_port();
    let c = TestCluster::start(ClusterOptions {
        datanodes: 1,
        replication: 1,
        namenode_args: vec!["--hadoop-rpc-listen".into(), format!("127.0.0.1:{port}")],
        ..ClusterOptions::default()
    })
    .await;
    (c, port)
}

fn info(src: &str) -> GetFileInfoRequestProto {
    GetFileInfoRequestProto { src: src.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_calls_as_hadoop_makes_them() {
    let (c, port) = with_door().await;
    let mut h = Conn::open(port, "alice").await;

    // The root, and a path that is not there (no status, not an error).
    let root: GetFileInfoResponseProto = h.ok("getFileInfo", info("/")).await;
    let root = root.fs.expect("the root");
    assert_eq!(root.file_type, proto::IS_DIR);
    let none: GetFileInfoResponseProto = h.ok("getFileInfo", info("/nope")).await;
    assert_eq!(none.fs, None);

    // mkdirs -p, then the tree as dfs sees it.
    let made: BoolResultProto = h
        .ok(
            "mkdirs",
            MkdirsRequestProto {
                src: "/a/b/c".into(),
                masked: Some(FsPermissionProto { perm: 0o755 }),
                create_parent: true,
            },
        )
        .await;
    assert!(made.result);
    c.dfs_ok(&["stat", "/a/b/c"]);
    // Without createParent, a missing parent is FileNotFoundException.
    let (head, _) = h
        .call(
            "mkdirs",
            MkdirsRequestProto {
                src: "/x/y".into(),
                masked: None,
                create_parent: false,
            },
        )
        .await;
    assert_eq!(head.status, proto::ERROR);
    assert_eq!(
        head.exception_class_name.as_deref(),
        Some("java.io.FileNotFoundException")
    );

    // A file written by dfs, listed through the door with its length.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, b"hello hadoop").unwrap();
    c.dfs_ok(&["put", f.to_str().unwrap(), "/a/f.txt"]);
    let listing: GetListingResponseProto = h
        .ok(
            "getListing",
            GetListingRequestProto {
                src: "/a".into(),
                start_after: Vec::new(),
                need_location: false,
            },
        )
        .await;
    let list = listing.dir_list.expect("a listing");
    let names: Vec<String> = list
        .partial_listing
        .iter()
        .map(|s| String::from_utf8_lossy(&s.path).into_owned())
        .collect();
    assert_eq!(names, ["b", "f.txt"]);
    assert_eq!(list.remaining_entries, 0);
    let file = &list.partial_listing[1];
    assert_eq!((file.file_type, file.length), (proto::IS_FILE, 12));
    assert_eq!(file.block_replication, Some(1));
    // Paging: from after "b".
    let after: GetListingResponseProto = h
        .ok(
            "getListing",
            GetListingRequestProto {
                src: "/a".into(),
                start_after: b"b".to_vec(),
                need_location: false,
            },
        )
        .await;
    assert_eq!(after.dir_list.unwrap().partial_listing.len(), 1);

    // rename (the old one says false), rename2 (says why), delete.
    let moved: BoolResultProto = h
        .ok(
            "rename",
            RenameRequestProto {
                src: "/a/f.txt".into(),
                dst: "/a/g.txt".into(),
            },
        )
        .await;
    assert!(moved.result);
    assert_eq!(c.dfs_cat("/a/g.txt"), b"hello hadoop");
    let missing: BoolResultProto = h
        .ok(
            "rename",
            RenameRequestProto {
                src: "/a/none".into(),
                dst: "/a/other".into(),
            },
        )
        .await;
    assert!(!missing.result);
    c.dfs_ok(&["put", f.to_str().unwrap(), "/a/h.txt"]);
    let (head, _) = h
        .call(
            "rename2",
            Rename2RequestProto {
                src: "/a/g.txt".into(),
                dst: "/a/h.txt".into(),
                overwrite_dest: false,
            },
        )
        .await;
    assert_eq!(
        head.exception_class_name.as_deref(),
        Some("org.apache.hadoop.fs.FileAlreadyExistsException"),
        "{:?}",
        head.error_msg
    );
    let _: EmptyProto = h
        .ok(
            "rename2",
            Rename2RequestProto {
                src: "/a/g.txt".into(),
                dst: "/a/h.txt".into(),
                overwrite_dest: true,
            },
        )
        .await;
    // Deleted; then deleting what is not there says false.
    for expected in [true, false] {
        let deleted: BoolResultProto = h
            .ok(
                "delete",
                DeleteRequestProto {
                    src: "/a".into(),
                    recursive: true,
                },
            )
            .await;
        assert_eq!(deleted.result, expected);
        let out = c.dfs(&["stat", "/a"]);
        assert!(!out.status.success(), "/a is gone");
    }

    let d: GetServerDefaultsResponseProto = h.ok("getServerDefaults", EmptyProto {}).await;
    let d = d.server_defaults.unwrap();
    assert_eq!((d.block_size, d.replication), (1 << 20, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clean_answer_and_the_server_lives() {
    let (c, port) = with_door().await;
    let connect = || async { TcpStream::connect(("127.0.0.1", port)).await.unwrap() };
    let fatal = |a: Option<Answer>| {
        let (head, _) = a.expect("a FATAL answer");
        assert_eq!(head.status, proto::FATAL, "{head:?}");
        head
    };

    // Not Hadoop at all: closed without a word.
    let mut s = connect().await;
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    // Closed with our bytes unread: an end of stream or a reset, no answer.
    if let Ok(n) = s.read_to_end(&mut rest).await {
        assert_eq!(n, 0, "{rest:?}");
    }

    // Another IPC version; SASL: a FATAL answer, then closed.
    for header in [&b"hrpc\x07\x00\x00"[..], b"hrpc\x09\x00\xdf"] {
        let mut s = connect().await;
        s.write_all(header).await.unwrap();
        let mut conn = Conn { s, next: 0 };
        let head = fatal(conn.answer().await);
        assert!(head.error_msg.is_some());
        assert!(conn.answer().await.is_none(), "closed after");
    }

    // A length prefix over the limit.
    let mut s = connect().await;
    s.write_all(b"hrpc\x09\x00\x00\xff\xff\xff\xff")
        .await
        .unwrap();
    let mut conn = Conn { s, next: 0 };
    let head = fatal(conn.answer().await);
    assert!(head.error_msg.unwrap().contains("over the maximum"));

    // A frame of junk.
    let mut s = connect().await;
    s.write_all(b"hrpc\x09\x00\x00\x00\x00\x00\x05\xff\xff\xff\xff\xff")
        .await
        .unwrap();
    let mut conn = Conn { s, next: 0 };
    fatal(conn.answer().await);

    // An unknown call: an ERROR, and the connection serves on.
    let mut h = Conn::open(port, "bob").await;
    let (head, _) = h.call("noSuchCall", EmptyProto {}).await;
    assert_eq!(head.status, proto::ERROR);
    assert_eq!(
        head.exception_class_name.as_deref(),
        Some("org.apache.hadoop.ipc.RpcNoSuchMethodException")
    );
    // A request that does not decode as its message: an error too.
    let (head, _) = h
        .call("getFileInfo", BoolResultProto { result: true })
        .await;
    assert_eq!(head.status, proto::ERROR);
    let ok: GetFileInfoResponseProto = h.ok("getFileInfo", info("/")).await;
    assert!(ok.fs.is_some());

    // The namenode is fine.
    c.dfs_ok(&["ls", "/"]);
}
