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
    // Made as the Hadoop user, with the mode it asked for.
    let made = c.client().status(&dfs_tests::p("/a/b/c")).await.unwrap();
    assert_eq!((made.owner.as_str(), made.permission), ("alice", 0o755));
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

    // A change in an operator's safe mode: HDFS's SafeModeException, with
    // dfs's reason; reads go on.
    c.dfs_ok(&["safemode", "enter"]);
    let mkdirs = MkdirsRequestProto {
        src: "/in-safe-mode".into(),
        masked: Some(FsPermissionProto { perm: 0o755 }),
        create_parent: true,
    };
    let (head, _) = h.call("mkdirs", mkdirs.clone()).await;
    assert_eq!(
        head.exception_class_name.as_deref(),
        Some("org.apache.hadoop.hdfs.server.namenode.SafeModeException"),
        "{head:?}"
    );
    assert!(head.error_msg.unwrap().contains("safe mode"));
    let root: GetFileInfoResponseProto = h.ok("getFileInfo", info("/")).await;
    assert!(root.fs.is_some());
    c.dfs_ok(&["safemode", "leave"]);
    let made: BoolResultProto = h.ok("mkdirs", mkdirs).await;
    assert!(made.result);
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

    // Another IPC version; an unknown auth protocol: a FATAL answer, then
    // closed.
    for header in [&b"hrpc\x07\x00\x00"[..], b"hrpc\x09\x00\x51"] {
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

mod data {
    //! The datanodes' side (`--hadoop-data-listen`): a block read as
    //! Hadoop's client reads it (`READ_BLOCK`, packets with 512-byte
    //! CRC32Cs, the read status, then `BLOCK_CHECKSUM` on the same
    //! connection), located through the door's `getBlockLocations`; and bad
    //! input to the data port answered cleanly while the node lives on.
    use super::*;
    use dfs_common::hadoop::transfer::{self, status, *};
    use md5::Digest;

    /// One operation's bytes: version, op code, the delimited message.
    fn op(code: u8, m: impl Message) -> Vec<u8> {
        let mut out = transfer::VERSION.to_be_bytes().to_vec();
        out.push(code);
        out.extend_from_slice(&m.encode_length_delimited_to_vec());
        out
    }

    async fn delimited<M: Message + Default>(s: &mut TcpStream) -> Option<M> {
        let mut len = 0usize;
        for i in 0..5 {
            let b = s.read_u8().await.ok()?;
            len |= usize::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        let mut buf = vec![0u8; len];
        s.read_exact(&mut buf).await.ok()?;
        Some(M::decode(buf.as_slice()).unwrap())
    }

    /// Reads packets to the last one, checking each chunk's CRC32C;
    /// returns the data and where it started.
    async fn packets(s: &mut TcpStream) -> (Vec<u8>, i64) {
        let mut data = Vec::new();
        let mut first = None;
        let mut seqno = 0;
        loop {
            let plen = s.read_u32().await.unwrap() as usize;
            let hlen = s.read_u16().await.unwrap() as usize;
            let mut head = vec![0u8; hlen];
            s.read_exact(&mut head).await.unwrap();
            let head = PacketHeaderProto::decode(head.as_slice()).unwrap();
            assert_eq!(head.seqno, seqno);
            seqno += 1;
            first.get_or_insert(head.offset_in_block);
            let mut rest = vec![0u8; plen - 4];
            s.read_exact(&mut rest).await.unwrap();
            let n = head.data_len as usize;
            let (sums, chunk) = rest.split_at(rest.len() - n);
            assert_eq!(sums.len(), n.div_ceil(512) * 4);
            for (i, c) in chunk.chunks(512).enumerate() {
                assert_eq!(&sums[i * 4..i * 4 + 4], &crc32c::crc32c(c).to_be_bytes());
            }
            data.extend_from_slice(chunk);
            if head.last_packet_in_block {
                assert_eq!(n, 0, "the last packet is empty");
                return (data, first.unwrap());
            }
        }
    }

    fn read_op(b: &LocatedBlockProto, offset: u64, len: u64) -> OpReadBlockProto {
        OpReadBlockProto {
            header: ClientOperationHeaderProto {
                base_header: BaseHeaderProto {
                    block: b.b.clone(),
                    token: Some(b.block_token.clone()),
                },
                client_name: "DFSClient_test".into(),
            },
            offset,
            len,
            send_checksums: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_block_read_as_hadoop_reads_it_and_bad_input_to_the_data_port() {
        let port = free_port();
        let c = TestCluster::start(ClusterOptions {
            datanodes: 1,
            replication: 1,
            namenode_args: vec!["--hadoop-rpc-listen".into(), format!("127.0.0.1:{port}")],
            datanode_args: vec!["--hadoop-data-listen".into(), "127.0.0.1:0".into()],
            ..ClusterOptions::default()
        })
        .await;
        // 200,000 bytes: not a whole number of 512-byte chunks.
        let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 511) as u8).collect();
        let local = c.root().join("f.bin");
        std::fs::write(&local, &content).unwrap();
        c.dfs_ok(&["put", local.to_str().unwrap(), "/f.bin"]);

        let mut h = Conn::open(port, "alice").await;
        let r: GetBlockLocationsResponseProto = h
            .ok(
                "getBlockLocations",
                GetBlockLocationsRequestProto {
                    src: "/f.bin".into(),
                    offset: 0,
                    length: 1 << 40,
                },
            )
            .await;
        let located = r.locations.expect("the file's blocks");
        assert_eq!(located.file_length, 200_000);
        assert!(!located.under_construction && located.is_last_block_complete);
        let [b] = located.blocks.as_slice() else {
            panic!("one block: {located:?}")
        };
        assert_eq!(b.b.num_bytes, Some(200_000));
        assert!(i64::try_from(b.b.block_id).is_ok(), "never negative");
        let [loc] = b.locs.as_slice() else {
            panic!("one replica: {b:?}")
        };
        assert_eq!(loc.id.ip_addr, "127.0.0.1");
        let data_port = loc.id.xfer_port as u16;
        // A missing file: no locations, no exception.
        let none: GetBlockLocationsResponseProto = h
            .ok(
                "getBlockLocations",
                GetBlockLocationsRequestProto {
                    src: "/nope".into(),
                    offset: 0,
                    length: 1,
                },
            )
            .await;
        assert!(none.locations.is_none());

        let connect = || async { TcpStream::connect(("127.0.0.1", data_port)).await.unwrap() };
        // A read from the middle: from the chunk it starts in.
        let mut s = connect().await;
        s.write_all(&op(OP_READ_BLOCK, read_op(b, 1000, 150_000)))
            .await
            .unwrap();
        let resp: BlockOpResponseProto = delimited(&mut s).await.unwrap();
        assert_eq!(resp.status, status::SUCCESS, "{resp:?}");
        let info = resp.read_op_checksum_info.unwrap();
        assert_eq!(info.chunk_offset, 512);
        assert_eq!(info.checksum.r#type, CHECKSUM_CRC32C);
        let (data, first) = packets(&mut s).await;
        assert_eq!(first, 512);
        assert_eq!(&data[..], &content[512..151_040], "to the chunk it ends in");
        // The client's word, then another operation on the same connection.
        s.write_all(
            &ClientReadStatusProto {
                status: status::CHECKSUM_OK,
            }
            .encode_length_delimited_to_vec(),
        )
        .await
        .unwrap();
        let sum_op = OpBlockChecksumProto {
            header: read_op(b, 0, 0).header.base_header,
        };
        s.write_all(&op(OP_BLOCK_CHECKSUM, sum_op.clone()))
            .await
            .unwrap();
        let resp: BlockOpResponseProto = delimited(&mut s).await.unwrap();
        assert_eq!(resp.status, status::SUCCESS, "{resp:?}");
        let sum = resp.checksum_response.unwrap();
        let mut md5 = md5::Md5::new();
        for chunk in content.chunks(512) {
            md5.update(crc32c::crc32c(chunk).to_be_bytes());
        }
        assert_eq!(sum.md5, md5.finalize().to_vec());
        assert_eq!((sum.bytes_per_crc, sum.crc_per_block), (512, 391));
        // The whole block, to its very end.
        let mut s = connect().await;
        s.write_all(&op(OP_READ_BLOCK, read_op(b, 0, 200_000)))
            .await
            .unwrap();
        let resp: BlockOpResponseProto = delimited(&mut s).await.unwrap();
        assert_eq!(resp.status, status::SUCCESS);
        assert_eq!(packets(&mut s).await.0, content);

        // Refusals: each an error answer, then the connection is closed.
        let refused = |m: Vec<u8>, want: i32, says: &'static str| async move {
            let mut s = connect().await;
            s.write_all(&m).await.unwrap();
            let resp: BlockOpResponseProto = delimited(&mut s).await.expect("an answer");
            assert_eq!(resp.status, want, "{resp:?}");
            let msg = resp.message.unwrap_or_default();
            assert!(msg.contains(says), "{msg:?} should say {says:?}");
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest).await;
            assert!(rest.is_empty(), "closed after");
        };
        let mut old = op(OP_READ_BLOCK, read_op(b, 0, 1));
        old[..2].copy_from_slice(&27u16.to_be_bytes());
        refused(old, status::ERROR, "version 27").await;
        refused(
            op(99, read_op(b, 0, 1)),
            status::ERROR_UNSUPPORTED,
            "operation 99",
        )
        .await;
        let past = read_op(b, 199_000, 2000);
        refused(
            op(OP_READ_BLOCK, past),
            status::ERROR_INVALID,
            "don't match",
        )
        .await;
        let mut other = read_op(b, 0, 1);
        other.header.base_header.block.block_id ^= 1;
        refused(
            op(OP_READ_BLOCK, other),
            status::ERROR_INVALID,
            "another block",
        )
        .await;
        let mut foreign = read_op(b, 0, 1);
        foreign.header.base_header.block.pool_id = "BP-1-127.0.0.1-1".into();
        refused(
            op(OP_READ_BLOCK, foreign),
            status::ERROR_INVALID,
            "block pool",
        )
        .await;
        let mut hdfs = read_op(b, 0, 1);
        hdfs.header.base_header.token = Some(TokenProto {
            identifier: vec![0; 30],
            password: vec![1; 20],
            kind: "HDFS_BLOCK_TOKEN".into(),
            service: String::new(),
        });
        refused(
            op(OP_READ_BLOCK, hdfs),
            status::ERROR_INVALID,
            "not one a dfs namenode made",
        )
        .await;
        // An oversized message, and junk: closed without an answer.
        for junk in [
            vec![0, 28, 81, 0xff, 0xff, 0xff, 0xff, 0x0f],
            vec![0, 28, 81, 3, 0xff, 0xff, 0xff],
        ] {
            let mut s = connect().await;
            s.write_all(&junk).await.unwrap();
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest).await;
            assert!(rest.is_empty(), "{rest:?}");
        }

        // The node lives on: the same read again.
        let mut s = connect().await;
        s.write_all(&op(OP_READ_BLOCK, read_op(b, 0, 200_000)))
            .await
            .unwrap();
        let resp: BlockOpResponseProto = delimited(&mut s).await.unwrap();
        assert_eq!(resp.status, status::SUCCESS);
        assert_eq!(packets(&mut s).await.0, content);
        c.dfs_ok(&["ls", "/"]);
    }
}
