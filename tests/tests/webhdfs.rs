//! WebHDFS against a real cluster: curl round trips through the 307
//! redirect, the exact JSON shapes and error bodies of Hadoop's document,
//! fsspec's write pattern (CREATE empty, then many APPENDs), OPEN ranges,
//! `noredirect`, and the `--webhdfs-data-via-namenode` switch.
use dfs_tests::{http_no_redirect, p, sha256_hex, test_data, ClusterOptions, TestCluster};
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Command;

const BLOCK: u64 = 64 * 1024;

fn opts() -> ClusterOptions {
    ClusterOptions {
        block_size: BLOCK,
        replication: 2,
        ..Default::default()
    }
}

fn url(nn: &str, path: &str, query: &str) -> String {
    format!("{nn}/webhdfs/v1{path}?{query}")
}

async fn get_json(c: &reqwest::Client, u: &str) -> Value {
    let r = c.get(u).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "GET {u}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {u}: {e}: {body}"))
}

/// Asserts a `RemoteException` body; returns its message.
async fn remote_exception(
    r: reqwest::Response,
    status: u16,
    exception: &str,
    class: &str,
) -> String {
    assert_eq!(r.status().as_u16(), status, "{}", r.url());
    let v: Value = r.json().await.unwrap();
    let e = &v["RemoteException"];
    assert_eq!(e["exception"], exception, "{v}");
    assert_eq!(e["javaClassName"], class, "{v}");
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["exception", "javaClassName", "message"]);
    e["message"].as_str().unwrap().to_string()
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// The keys of Hadoop's documented FileStatus example.
const FILE_STATUS_KEYS: [&str; 13] = [
    "accessTime",
    "blockSize",
    "childrenNum",
    "fileId",
    "group",
    "length",
    "modificationTime",
    "owner",
    "pathSuffix",
    "permission",
    "replication",
    "storagePolicy",
    "type",
];

/// CREATE in two explicit steps; returns the step-2 response.
async fn create(
    c: &reqwest::Client,
    nn: &str,
    path: &str,
    query: &str,
    data: Vec<u8>,
) -> reqwest::Response {
    let r = c
        .put(url(nn, path, &format!("op=CREATE&{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307, "{}", r.text().await.unwrap());
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    c.put(loc).body(data).send().await.unwrap()
}

fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sS", "--noproxy", "*"])
        .args(args)
        .output()
        .expect("curl must be installed");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_round_trips_a_multi_block_file() {
    let cluster = TestCluster::start(opts()).await;
    let nn = cluster.namenode_url();
    let data = test_data(20 * BLOCK as usize + 12345, 7);
    let local = cluster.root().join("in.bin");
    std::fs::write(&local, &data).unwrap();
    let code = curl(&[
        "-L",
        "-T",
        local.to_str().unwrap(),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url(&nn, "/curl/x.bin", "op=CREATE"),
    ]);
    assert_eq!(code, b"201");
    let out = cluster.root().join("out.bin");
    curl(&[
        "-L",
        "-o",
        out.to_str().unwrap(),
        &url(&nn, "/curl/x.bin", "op=OPEN"),
    ]);
    let back = std::fs::read(&out).unwrap();
    assert!(
        back == data,
        "round trip differs ({} vs {} bytes)",
        back.len(),
        data.len()
    );
    // A range, and the checksum is sha256sum's.
    let part = curl(&[
        "-L",
        &url(&nn, "/curl/x.bin", "op=OPEN&offset=70000&length=100000"),
    ]);
    assert_eq!(part.len(), 100000);
    assert!(part == data[70000..170000]);
    let c = http_no_redirect();
    let ck = get_json(&c, &url(&nn, "/curl/x.bin", "op=GETFILECHECKSUM")).await;
    assert_eq!(
        ck,
        json!({"FileChecksum": {"algorithm": "SHA-256", "bytes": sha256_hex(&data), "length": 32}})
    );
    // Overwrite through curl too.
    let small = cluster.root().join("small.bin");
    std::fs::write(&small, b"replaced").unwrap();
    let code = curl(&[
        "-L",
        "-T",
        small.to_str().unwrap(),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url(&nn, "/curl/x.bin", "op=CREATE&overwrite=true"),
    ]);
    assert_eq!(code, b"201");
    assert_eq!(
        curl(&["-L", &url(&nn, "/curl/x.bin", "op=OPEN")]),
        b"replaced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_shapes_and_errors_follow_hadoop() {
    let cluster = TestCluster::start(opts()).await;
    let nn = cluster.namenode_url();
    let c = http_no_redirect();

    // MKDIRS, owner from user.name.
    let r = c
        .put(url(
            &nn,
            "/shapes/dir",
            "op=MKDIRS&user.name=alice&permission=750",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"boolean": true}));
    let st = get_json(&c, &url(&nn, "/shapes/dir", "op=GETFILESTATUS")).await;
    let fs = &st["FileStatus"];
    assert_eq!(keys(&st), ["FileStatus"]);
    assert_eq!(keys(fs), FILE_STATUS_KEYS);
    assert_eq!(fs["type"], "DIRECTORY");
    assert_eq!(fs["owner"], "alice");
    assert_eq!(fs["permission"], "750");
    assert_eq!(fs["pathSuffix"], "");
    assert_eq!(fs["length"], 0);
    assert_eq!(fs["childrenNum"], 0);
    assert_eq!(fs["storagePolicy"], 0);

    // CREATE: step 1 is a 307 to a datanode's landing, step 2 a 201 with an
    // empty body and a webhdfs:// Location.
    let data = test_data(3 * BLOCK as usize + 5, 1);
    let r = c
        .put(url(
            &nn,
            "/shapes/dir/f",
            "op=CREATE&user.name=bob&overwrite=False&buffersize=4096&tempdir=%2Ftmp",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains("/webhdfs/v1/shapes/dir/f?"), "{loc}");
    assert!(loc.contains("op=CREATE"), "{loc}");
    assert!(loc.contains("namenoderpcaddress="), "{loc}");
    assert!(
        (0..3).any(|i| loc.starts_with(&cluster.datanode_url(i))),
        "{loc} is not a datanode"
    );
    let r = c.put(&loc).body(data.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let created = r.headers()["location"].to_str().unwrap().to_string();
    assert!(created.starts_with("webhdfs://"), "{created}");
    assert!(created.ends_with("/shapes/dir/f"), "{created}");
    assert_eq!(r.text().await.unwrap(), "");

    let st = get_json(&c, &url(&nn, "/shapes/dir/f", "op=GETFILESTATUS")).await;
    let fs = &st["FileStatus"];
    assert_eq!(keys(fs), FILE_STATUS_KEYS);
    assert_eq!(fs["type"], "FILE");
    assert_eq!(fs["length"], data.len() as u64);
    assert_eq!(fs["blockSize"], BLOCK);
    assert_eq!(fs["replication"], 2);
    assert_eq!(fs["owner"], "bob");
    assert_eq!(fs["group"], "supergroup");
    assert_eq!(fs["permission"], "644");
    assert!(fs["modificationTime"].as_u64().unwrap() > 0);
    assert!(fs["fileId"].as_u64().unwrap() > 1);

    // LISTSTATUS: entries by name; a file lists as itself with no suffix.
    let l = get_json(&c, &url(&nn, "/shapes/dir", "op=LISTSTATUS")).await;
    assert_eq!(keys(&l), ["FileStatuses"]);
    let entries = l["FileStatuses"]["FileStatus"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["pathSuffix"], "f");
    assert_eq!(keys(&entries[0]), FILE_STATUS_KEYS);
    let l = get_json(&c, &url(&nn, "/shapes/dir/f", "op=liststatus")).await;
    let entries = l["FileStatuses"]["FileStatus"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["pathSuffix"], "");
    assert_eq!(entries[0]["type"], "FILE");

    // LISTSTATUS_BATCH with startAfter.
    for name in ["a", "b", "c"] {
        c.put(url(&nn, &format!("/shapes/batch/{name}"), "op=MKDIRS"))
            .send()
            .await
            .unwrap();
    }
    let b = get_json(
        &c,
        &url(&nn, "/shapes/batch", "op=LISTSTATUS_BATCH&startAfter=a"),
    )
    .await;
    assert_eq!(keys(&b), ["DirectoryListing"]);
    let dl = &b["DirectoryListing"];
    assert_eq!(keys(dl), ["partialListing", "remainingEntries"]);
    assert_eq!(dl["remainingEntries"], 0);
    let names: Vec<&str> = dl["partialListing"]["FileStatuses"]["FileStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pathSuffix"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c"]);

    // GETCONTENTSUMMARY.
    let cs = get_json(&c, &url(&nn, "/shapes", "op=GETCONTENTSUMMARY")).await;
    assert_eq!(
        cs,
        json!({"ContentSummary": {
            "directoryCount": 6, "fileCount": 1, "length": data.len(), "quota": -1,
            "spaceConsumed": data.len() * 2, "spaceQuota": -1, "typeQuota": {}
        }})
    );

    // GETFILECHECKSUM: the whole file's SHA-256; a directory has none.
    let ck = get_json(&c, &url(&nn, "/shapes/dir/f", "op=GETFILECHECKSUM")).await;
    assert_eq!(
        ck,
        json!({"FileChecksum": {"algorithm": "SHA-256", "bytes": sha256_hex(&data), "length": 32}})
    );
    let r = c
        .get(url(&nn, "/shapes/dir", "op=GETFILECHECKSUM"))
        .send()
        .await
        .unwrap();
    remote_exception(
        r,
        404,
        "FileNotFoundException",
        "java.io.FileNotFoundException",
    )
    .await;

    // GETHOMEDIRECTORY, GETTRASHROOT, GETSTATUS.
    let h = get_json(&c, &url(&nn, "/", "op=GETHOMEDIRECTORY&user.name=carol")).await;
    assert_eq!(h, json!({"Path": "/user/carol"}));
    let h = get_json(&c, &url(&nn, "/", "op=GETHOMEDIRECTORY")).await;
    assert_eq!(h, json!({"Path": "/user/dr.who"}));
    // With access control off, every `dfs rm` goes to dfs's trash.
    let t = get_json(&c, &url(&nn, "/x", "op=GETTRASHROOT&user.name=carol")).await;
    assert_eq!(t, json!({"Path": "/user/dfs/.Trash"}));
    let s = get_json(&c, &url(&nn, "/", "op=GETSTATUS")).await;
    assert_eq!(keys(&s["FsStatus"]), ["capacity", "remaining", "used"]);
    assert!(s["FsStatus"]["capacity"].as_u64().unwrap() > 0);

    // SETREPLICATION, SETTIMES, SETPERMISSION, SETOWNER.
    let r = c
        .put(url(&nn, "/shapes/dir/f", "op=SETREPLICATION&replication=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"boolean": true}));
    let r = c
        .put(url(
            &nn,
            "/shapes/dir/f",
            "op=SETTIMES&modificationtime=1320173277227&accesstime=-1",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for q in [
        "op=SETPERMISSION&permission=600",
        "op=SETOWNER&owner=dave&group=staff",
    ] {
        let r = c.put(url(&nn, "/shapes/dir/f", q)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{q}");
    }
    let fs = &get_json(&c, &url(&nn, "/shapes/dir/f", "op=GETFILESTATUS")).await["FileStatus"];
    assert_eq!(fs["replication"], 3);
    assert_eq!(fs["modificationTime"], 1320173277227u64);
    assert_eq!(fs["permission"], "600");
    assert_eq!(
        (fs["owner"].as_str(), fs["group"].as_str()),
        (Some("dave"), Some("staff"))
    );

    // RENAME: true, then Hadoop's false for a missing source or an
    // existing destination file.
    let r = c
        .put(url(&nn, "/shapes/dir/f", "op=RENAME&destination=/shapes/g"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"boolean": true}));
    let r = c
        .put(url(&nn, "/shapes/dir/f", "op=RENAME&destination=/shapes/h"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"boolean": false}));
    create(&c, &nn, "/shapes/h", "", b"h".to_vec()).await;
    let r = c
        .put(url(&nn, "/shapes/g", "op=RENAME&destination=/shapes/h"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"boolean": false}));

    // Errors: Hadoop's status, exception and class for each.
    let not_found = ("FileNotFoundException", "java.io.FileNotFoundException");
    let exists = (
        "FileAlreadyExistsException",
        "org.apache.hadoop.fs.FileAlreadyExistsException",
    );
    let illegal = (
        "IllegalArgumentException",
        "java.lang.IllegalArgumentException",
    );
    let not_empty = (
        "PathIsNotEmptyDirectoryException",
        "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException",
    );
    let (get, put, delete) = (Method::GET, Method::PUT, Method::DELETE);
    #[rustfmt::skip]
    let errors = [
        (get.clone(), "/nope", "op=GETFILESTATUS", 404, not_found, Some("File does not exist: /nope")),
        (get.clone(), "/nope", "op=LISTSTATUS", 404, not_found, None),
        (put.clone(), "/shapes/g", "op=CREATE", 403, exists, None),
        (get.clone(), "/", "op=BOGUS", 400, illegal, None),
        (get, "/", "op=MKDIRS", 400, illegal, None),
        (put, "/shapes/g", "op=CREATE&overwrite=maybe", 400, illegal, None),
        (delete, "/shapes", "op=DELETE", 403, not_empty, None),
    ];
    for (method, path, query, status, (exception, class), message) in errors {
        let r = c
            .request(method, url(&nn, path, query))
            .send()
            .await
            .unwrap();
        let m = remote_exception(r, status, exception, class).await;
        if let Some(message) = message {
            assert_eq!(m, message);
        }
    }

    // DELETE: true, then false for a missing path.
    let r = c
        .delete(url(&nn, "/shapes", "op=DELETE&recursive=True"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"boolean": true}));
    let r = c
        .delete(url(&nn, "/shapes", "op=DELETE"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"boolean": false}));
}

/// fsspec's write: CREATE with an empty body, then many APPEND POSTs to the
/// same datanode URL (its CREATE URL with CREATE replaced by APPEND).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_empty_then_many_appends() {
    let cluster = TestCluster::start(opts()).await;
    let nn = cluster.namenode_url();
    let c = http_no_redirect();
    let r = create(
        &c,
        &nn,
        "/app/f",
        "overwrite=true&user.name=erin",
        Vec::new(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 201);
    let st = get_json(&c, &url(&nn, "/app/f", "op=GETFILESTATUS")).await;
    assert_eq!(st["FileStatus"]["length"], 0);

    let r = c
        .post(url(&nn, "/app/f", "op=APPEND&user.name=erin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains("op=APPEND"), "{loc}");

    let sizes = [
        1usize,
        100,
        4096,
        70_000,
        10,
        65_536 - 10,
        200_000,
        3,
        0,
        131_072,
    ];
    let mut all = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let piece = test_data(*n, 100 + i as u64);
        let r = c.post(&loc).body(piece.clone()).send().await.unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "append {i}: {}",
            r.text().await.unwrap()
        );
        all.extend_from_slice(&piece);
    }
    let st = get_json(&c, &url(&nn, "/app/f", "op=GETFILESTATUS")).await;
    assert_eq!(st["FileStatus"]["length"], all.len() as u64);
    assert_eq!(st["FileStatus"]["owner"], "erin");
    let ck = get_json(&c, &url(&nn, "/app/f", "op=GETFILECHECKSUM")).await;
    assert_eq!(ck["FileChecksum"]["bytes"], sha256_hex(&all));

    // Whole file, via the redirect.
    let r = c.get(url(&nn, "/app/f", "op=OPEN")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let open_loc = r.headers()["location"].to_str().unwrap().to_string();
    let body = c
        .get(&open_loc)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(body[..] == all[..], "content differs");

    // Blocks stay full but the last, and the native reader agrees.
    let dfs = cluster.client();
    let loc = dfs.locations(&p("/app/f")).await.unwrap();
    let n = loc.blocks.len();
    for (i, b) in loc.blocks.iter().enumerate() {
        assert!(i + 1 == n || b.len == BLOCK, "block {i} is {} bytes", b.len);
        assert_eq!(b.offset, i as u64 * BLOCK);
    }
    assert_eq!(loc.status.sha256.unwrap().to_hex(), sha256_hex(&all));

    // OPEN with offset and length; noredirect answers the Location as JSON.
    let r = c
        .get(url(
            &nn,
            "/app/f",
            "op=OPEN&offset=65000&length=70000&noredirect=true",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(keys(&v), ["Location"]);
    let range = c
        .get(v["Location"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(range[..] == all[65000..135000]);
    let r = c
        .put(url(&nn, "/app/g", "op=CREATE&noredirect=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["Location"].as_str().unwrap().contains("op=CREATE"));

    // Appending to a missing file or a directory fails as Hadoop does.
    let r = c
        .post(url(&nn, "/app/missing", "op=APPEND"))
        .send()
        .await
        .unwrap();
    remote_exception(
        r,
        404,
        "FileNotFoundException",
        "java.io.FileNotFoundException",
    )
    .await;

    // Appending through the native client too, to a file written natively.
    let base = test_data(BLOCK as usize + 7, 9);
    dfs.upload(
        &p("/app/native"),
        &base[..],
        &Default::default(),
        &dfs_client::NoProgress,
    )
    .await
    .unwrap();
    let more = test_data(1000, 10);
    let st = dfs
        .append(&p("/app/native"), &more[..], &dfs_client::NoProgress)
        .await
        .unwrap();
    let mut want = base.clone();
    want.extend_from_slice(&more);
    assert_eq!(st.length, want.len() as u64);
    assert_eq!(st.sha256.unwrap().to_hex(), sha256_hex(&want));
    let mut got = Vec::new();
    dfs.download(&p("/app/native"), &mut got, &dfs_client::NoProgress)
        .await
        .unwrap();
    assert!(got == want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_via_namenode() {
    let cluster = TestCluster::start(ClusterOptions {
        namenode_args: vec!["--webhdfs-data-via-namenode".into()],
        ..opts()
    })
    .await;
    let nn = cluster.namenode_url();
    let c = http_no_redirect();
    let data = test_data(2 * BLOCK as usize + 99, 3);
    let r = c
        .put(url(&nn, "/via/f", "op=CREATE&overwrite=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(&nn), "{loc} is not the namenode");
    let r = c.put(&loc).body(data.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);

    let r = c
        .post(url(&nn, "/via/f", "op=APPEND"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(&nn), "{loc}");
    let more = test_data(70_000, 4);
    let r = c.post(&loc).body(more.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut all = data.clone();
    all.extend_from_slice(&more);

    let r = c
        .get(url(&nn, "/via/f", "op=OPEN&offset=10"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(&nn), "{loc}");
    let body = c.get(&loc).send().await.unwrap().bytes().await.unwrap();
    assert!(body[..] == all[10..]);
    // curl, following the redirect, never talks to a datanode.
    assert!(curl(&["-L", &url(&nn, "/via/f", "op=OPEN&length=5")]) == all[..5]);
}

/// A data step refused before its body is read (403: the file exists and
/// `overwrite` is not set; 404: nothing to append to) leaves nothing open
/// on the namenode. Each such request once left its connection open for
/// good with the body unread in its socket: a file descriptor lost per
/// request, from any client, until the namenode could open no more.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_data_steps_leave_no_connection_open() {
    let c = TestCluster::start(opts()).await;
    let nn = c.namenode_url();
    let pid = c.namenode_pid().unwrap();
    let rpc = nn.trim_start_matches("http://").to_string();
    let http = http_no_redirect();
    let r = create(
        &http,
        &nn,
        "/refused/e.bin",
        "user.name=t",
        b"here".to_vec(),
    )
    .await;
    assert_eq!(r.status().as_u16(), 201);
    let open_fds = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .count()
    };
    let body = test_data(4 << 20, 3);
    let before = open_fds();
    for _ in 0..10 {
        // A client of its own each time, which closes its connection after.
        let once = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let create = once
            .put(url(
                &nn,
                "/refused/e.bin",
                &format!("op=CREATE&user.name=t&namenoderpcaddress={rpc}"),
            ))
            // As curl -T sends it.
            .header("expect", "100-continue")
            .body(body.clone())
            .send()
            .await;
        let append = once
            .post(url(
                &nn,
                "/refused/none.bin",
                &format!("op=APPEND&user.name=t&namenoderpcaddress={rpc}"),
            ))
            // Chunked: the body actix would drain, and did not.
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                body.chunks(64 << 10)
                    .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
                    .collect::<Vec<_>>(),
            )))
            .send()
            .await;
        // The answer may be cut short by the close; the refusals are what
        // the namenode gives when it is read.
        if let Ok(r) = create {
            assert_eq!(r.status().as_u16(), 403);
        }
        if let Ok(r) = append {
            assert_eq!(r.status().as_u16(), 404);
        }
    }
    let mut now = open_fds();
    for _ in 0..100 {
        if now <= before + 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        now = open_fds();
    }
    assert!(
        now <= before + 2,
        "the namenode holds {now} files open, {before} before 20 refused uploads"
    );
}
