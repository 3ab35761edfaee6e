//! Access control end to end: a namenode started with `--auth USERS.toml`
//! and datanodes with `--cluster-secret-file`. Without a credential every
//! API answers 401; a user without the permission bits gets 403; the
//! datanodes serve and take block data only with a valid, unexpired block
//! access token (403 otherwise); with valid tokens everything works (the
//! CLI with `DFS_TOKEN`, WebHDFS with a bearer or `delegation=`, the seed
//! endpoints, the web UI's login cookie, re-replication).
use dfs_common::auth::{now_ms, BlockOp, BlockToken, ClusterKeys, BLOCK_TOKEN_HEADER};
use dfs_common::ids::BlockId;
use dfs_tests::{
    bin, http_no_redirect, p, sha256_hex, test_data, wait_until, ClusterOptions, TestCluster,
};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SECRET: &str = "test-cluster-secret-0123456789";
const ROOT: &str = "root-token-0123456789";
const ALICE: &str = "alice-token-0123456789";
const BOB: &str = "bob-token-0123456789";

/// Writes the users file and the secret file into `dir`.
fn write_auth_files(dir: &Path) -> (String, String) {
    let secret = dir.join("cluster.secret");
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    let users = dir.join("users.toml");
    std::fs::write(
        &users,
        format!(
            r#"
cluster_secret_file = "cluster.secret"
[users.root]
token = "{ROOT}"
superuser = true
[users.alice]
token = "{ALICE}"
groups = ["staff"]
[users.bob]
token = "{BOB}"
groups = ["staff"]
"#
        ),
    )
    .unwrap();
    (users.display().to_string(), secret.display().to_string())
}

/// A cluster with access control on; the harness calls as root.
async fn secured(dir: &Path, block_token_lifetime: &str) -> TestCluster {
    secured_with(
        dir,
        &["--block-token-lifetime".into(), block_token_lifetime.into()],
    )
    .await
}

/// [`secured`], with more namenode arguments.
async fn secured_with(dir: &Path, namenode_args: &[String]) -> TestCluster {
    let (users, secret) = write_auth_files(dir);
    TestCluster::start(ClusterOptions {
        replication: 2,
        namenode_args: [vec!["--auth".into(), users], namenode_args.to_vec()].concat(),
        datanode_args: vec!["--cluster-secret-file".into(), secret],
        token: Some(ROOT.into()),
        ..Default::default()
    })
    .await
}

/// `dfs` as a given user (or nobody).
fn dfs_as(cluster: &TestCluster, token: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(bin("dfs"));
    cmd.args(args)
        .env("DFS_NAMENODE", cluster.namenode_url())
        .env_remove("DFS_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = token {
        cmd.env("DFS_TOKEN", t);
    }
    cmd.output().unwrap()
}

fn dfs_ok(cluster: &TestCluster, token: &str, args: &[&str]) -> String {
    let out = dfs_as(cluster, Some(token), args);
    assert!(
        out.status.success(),
        "dfs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends `req` with `token` as its bearer; the answer.
async fn as_user(req: reqwest::RequestBuilder, token: &str) -> reqwest::Response {
    req.bearer_auth(token).send().await.unwrap()
}

async fn status_and_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_is_401_on_every_api() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = secured(dir.path(), "10m").await;
    let nn = cluster.namenode_url();
    let h = http_no_redirect();

    // One request per API family, without a credential, then with a wrong one.
    let requests = [
        ("GET", "/rpc/v1/status?path=/", false),
        ("GET", "/rpc/v1/list?path=/", false),
        ("POST", "/rpc/v1/mkdirs", false),
        ("GET", "/api/v1/summary", false),
        ("GET", "/api/v1/datanodes", false),
        ("POST", "/create_directory", false),
        ("GET", "/file_list", false),
        ("POST", "/download_file", false),
        ("GET", "/metrics", false),
        ("GET", "/webhdfs/v1/?op=LISTSTATUS", true),
        ("PUT", "/webhdfs/v1/x?op=CREATE", true),
        ("GET", "/webhdfs/v1/x?op=OPEN", true),
    ];
    for bearer in [
        None,
        Some("not-a-token-at-all"),
        Some("u1:616c696365:99999999999999.00"),
    ] {
        for (method, path, webhdfs) in requests {
            let mut req = h.request(method.parse().unwrap(), format!("{nn}{path}"));
            if let Some(b) = bearer {
                req = req.bearer_auth(b);
            }
            let (status, body) = status_and_json(req.send().await.unwrap()).await;
            assert_eq!(status, 401, "{method} {path} with {bearer:?}: {body}");
            if webhdfs {
                assert_eq!(
                    body["RemoteException"]["exception"], "SecurityException",
                    "{path}: {body}"
                );
            } else {
                assert_eq!(body["error"]["code"], "unauthorized", "{path}: {body}");
            }
        }
    }
    // The datanode protocol needs the cluster secret's credential.
    let r = h
        .post(format!("{nn}/internal/v1/heartbeat"))
        .bearer_auth(ALICE)
        .body(vec![0u8; 4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Not even written some other way, with a user's token.
    for path in ["/%69nternal/v1/heartbeat", "//internal/v1/heartbeat"] {
        let r = h
            .post(format!("{nn}{path}"))
            .bearer_auth(ALICE)
            .body(vec![0u8; 4])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    // The web UI's API calls without the login cookie: 401 (the page then
    // shows its login form); the page itself and /health stay open.
    let r = h.get(format!("{nn}/auth/whoami")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(h.get(format!("{nn}/")).send().await.unwrap().status(), 200);
    assert_eq!(
        h.get(format!("{nn}/health")).send().await.unwrap().status(),
        200
    );
    // The CLI without DFS_TOKEN: exit 1, one clear line.
    let out = dfs_as(&cluster, None, &["ls", "/"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("dfs: "), "{err}");
    assert!(err.to_lowercase().contains("authentication"), "{err}");
    // With a token, it works.
    dfs_ok(&cluster, ALICE, &["ls", "/"]);

    // Login: a session cookie, HttpOnly and SameSite=Strict, accepted
    // instead of the bearer header.
    let r = h
        .post(format!("{nn}/auth/login"))
        .json(&serde_json::json!({"token": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = h
        .post(format!("{nn}/auth/login"))
        .json(&serde_json::json!({ "token": ALICE }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("dfs_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = h
        .get(format!("{nn}/rpc/v1/list?path=/"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (status, me) = status_and_json(
        h.get(format!("{nn}/auth/whoami"))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["user"], "alice");
    // A tampered cookie is refused.
    let r = h
        .get(format!("{nn}/rpc/v1/list?path=/"))
        .header("cookie", pair.replace("u1:", "u1:00"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_bits_decide_who_writes() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = secured(dir.path(), "10m").await;
    let nn = cluster.namenode_url();
    let w = format!("{nn}/webhdfs/v1");
    let h = http_no_redirect();
    let local = dir.path().join("a.txt");
    std::fs::write(&local, b"alice's data\n").unwrap();
    let local = local.to_str().unwrap();

    // Only the superuser may write in / (dfs 755): alice may not.
    let out = dfs_as(&cluster, Some(ALICE), &["mkdir", "/alice-top"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    // root makes alice a home directory and gives it to her.
    dfs_ok(&cluster, ROOT, &["mkdir", "-p", "/home/alice"]);
    let r = as_user(
        h.put(format!(
            "{w}/home/alice?op=SETOWNER&owner=alice&group=staff"
        )),
        ROOT,
    )
    .await;
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    // Only the superuser changes owners.
    let r = as_user(
        h.put(format!("{w}/home/alice?op=SETOWNER&owner=bob")),
        ALICE,
    )
    .await;
    let (status, body) = status_and_json(r).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["RemoteException"]["exception"],
        "AccessControlException"
    );

    // alice writes in her directory; the file is hers, 644.
    dfs_ok(&cluster, ALICE, &["put", local, "/home/alice/a.txt"]);
    let st: Value = serde_json::from_str(&dfs_ok(
        &cluster,
        BOB,
        &["--json", "stat", "/home/alice/a.txt"],
    ))
    .unwrap();
    assert_eq!(st["owner"], "alice", "{st}");
    assert_eq!(st["permission"], "644", "{st}");
    let (_, fs) = status_and_json(
        h.get(format!("{w}/home/alice/a.txt?op=GETFILESTATUS"))
            .bearer_auth(BOB)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(fs["FileStatus"]["owner"], "alice", "{fs}");
    assert_eq!(fs["FileStatus"]["permission"], "644", "{fs}");
    // A client cannot make files for someone else: the owner is the caller.
    let r = as_user(
        h.put(format!("{w}/home/alice/d?op=MKDIRS&user.name=mallory")),
        ALICE,
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    let (_, fs) = status_and_json(
        h.get(format!("{w}/home/alice/d?op=GETFILESTATUS"))
            .bearer_auth(ALICE)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(fs["FileStatus"]["owner"], "alice", "{fs}");

    // bob (group staff, r-x on alice's 755 directory) reads but may not write.
    assert_eq!(
        dfs_ok(&cluster, BOB, &["cat", "/home/alice/a.txt"]),
        "alice's data\n"
    );
    for args in [
        vec!["put", local, "/home/alice/b.txt"],
        vec!["put", "-f", local, "/home/alice/a.txt"],
        vec!["rm", "/home/alice/a.txt"],
        vec!["mv", "/home/alice/a.txt", "/home/alice/c.txt"],
        vec!["setrep", "1", "/home/alice/a.txt"],
        vec!["mkdir", "/home/alice/bobs"],
    ] {
        let out = dfs_as(&cluster, Some(BOB), &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "bob: dfs {args:?}: {err}");
        assert!(
            err.contains("Permission denied"),
            "bob: dfs {args:?}: {err}"
        );
    }
    // The same refusals through the other doors: WebHDFS and the seed API.
    let r = as_user(h.put(format!("{w}/home/alice/b.txt?op=CREATE")), BOB).await;
    assert_eq!(r.status().as_u16(), 403);
    for extra in ["", "&namenoderpcaddress=x"] {
        let r = as_user(
            h.delete(format!("{w}/home/alice?op=DELETE&recursive=true{extra}")),
            BOB,
        )
        .await;
        assert_eq!(r.status().as_u16(), 403, "{extra}");
    }
    let r = h
        .post(format!("{nn}/delete_file"))
        .bearer_auth(BOB)
        .form(&[("file_name", "/home/alice/a.txt")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "{}", r.text().await.unwrap());
    let form = reqwest::multipart::Form::new()
        .text("directory", "/home/alice")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("seed.txt"),
        );
    let r = h
        .post(format!("{nn}/upload_file"))
        .bearer_auth(BOB)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "{}", r.text().await.unwrap());

    // Group write (664): bob may append to alice's file (the write goes on
    // under her file's record, and bob may carry it through).
    let chmod = |mode: &str, token| {
        let url = format!("{w}/home/alice/a.txt?op=SETPERMISSION&permission={mode}");
        as_user(h.put(url), token)
    };
    let append = || as_user(h.post(format!("{w}/home/alice/a.txt?op=APPEND")), BOB);
    let r = chmod("664", ALICE).await;
    assert_eq!(r.status().as_u16(), 200);
    let r = append().await;
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = h.post(&loc).body("bob was here\n").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        dfs_ok(&cluster, ALICE, &["cat", "/home/alice/a.txt"]),
        "alice's data\nbob was here\n"
    );
    // Without group write, bob's append is refused.
    let r = chmod("644", ALICE).await;
    assert_eq!(r.status().as_u16(), 200);
    let r = append().await;
    assert_eq!(r.status().as_u16(), 403);

    // alice closes the file to others: bob can no longer read it.
    let r = chmod("600", BOB).await;
    assert_eq!(r.status().as_u16(), 403, "only the owner changes the mode");
    let r = chmod("600", ALICE).await;
    assert_eq!(r.status().as_u16(), 200);
    let out = dfs_as(&cluster, Some(BOB), &["cat", "/home/alice/a.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    assert_eq!(
        dfs_ok(&cluster, ALICE, &["cat", "/home/alice/a.txt"]),
        "alice's data\nbob was here\n"
    );
    // The superuser passes every check.
    assert_eq!(
        dfs_ok(&cluster, ROOT, &["cat", "/home/alice/a.txt"]),
        "alice's data\nbob was here\n"
    );
    // Operator actions are the superuser's.
    let r = as_user(h.post(format!("{nn}/api/v1/safemode?action=enter")), ALICE).await;
    assert_eq!(r.status().as_u16(), 403);
    let dn = cluster.datanode_url(0);
    let dn = dn.trim_start_matches("http://");
    for action in ["maintenance", "maintenance/end"] {
        let url = format!("{nn}/api/v1/datanodes/{dn}/{action}");
        let r = as_user(h.post(url), ALICE).await;
        assert_eq!(r.status().as_u16(), 403, "{action}");
    }
    // alice deletes her own tree.
    dfs_ok(&cluster, ALICE, &["rm", "-r", "/home/alice/d"]);
}

/// The first block of `path` and the token the namenode gave with it.
async fn first_block(cluster: &TestCluster, path: &str) -> (BlockId, String, String) {
    let loc = cluster.client().locations(&p(path)).await.unwrap();
    let b = &loc.blocks[0];
    (
        b.block_id,
        b.access_token
            .clone()
            .expect("a block token with access control on"),
        b.replicas[0].addr.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datanodes_need_block_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = secured(dir.path(), "6s").await;
    let h = http_no_redirect();
    let data = test_data((1 << 20) + 100, 5);
    let local = dir.path().join("f.bin");
    std::fs::write(&local, &data).unwrap();
    dfs_ok(&cluster, ROOT, &["put", local.to_str().unwrap(), "/f.bin"]);
    let (block, token, dn) = first_block(&cluster, "/f.bin").await;
    let get = |tok: Option<String>, what: &'static str| {
        let mut r = h.get(format!("{dn}/blocks/{block}{what}"));
        if let Some(t) = tok {
            r = r.header(BLOCK_TOKEN_HEADER, t);
        }
        r.send()
    };

    // With the namenode's token: the block's bytes.
    let r = get(Some(token.clone()), "").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], &data[..1 << 20]);
    assert_eq!(
        get(Some(token.clone()), "/meta").await.unwrap().status(),
        200
    );

    // Without one, with junk, with one for another block, or forged: 403.
    let keys = ClusterKeys::derive(SECRET);
    let other = ClusterKeys::derive("some-other-secret-0123456789");
    let sign = |keys: &ClusterKeys, block: BlockId, op: BlockOp, expires_ms: u64| {
        keys.sign_block(&BlockToken {
            block,
            op,
            expires_ms,
            user: "mallory".into(),
        })
    };
    let later = now_ms() + 600_000;
    for (tok, why) in [
        (None, "no token"),
        (Some("junk".to_string()), "junk"),
        (
            Some(sign(&keys, BlockId::new(), BlockOp::Read, later)),
            "another block",
        ),
        (Some(sign(&other, block, BlockOp::Read, later)), "wrong key"),
        (
            Some(sign(&keys, block, BlockOp::Write, later)),
            "a write token",
        ),
        (
            Some(sign(&keys, block, BlockOp::Read, now_ms() - 1)),
            "expired",
        ),
    ] {
        for what in ["", "/meta"] {
            let (status, body) = status_and_json(get(tok.clone(), what).await.unwrap()).await;
            assert_eq!(status, 403, "GET{what} with {why}: {body}");
            assert_eq!(body["error"]["code"], "forbidden", "{why}: {body}");
        }
    }
    // Writes: no token, a read token → 403; nothing is stored.
    let new_block = BlockId::new();
    for tok in [None, Some(sign(&keys, new_block, BlockOp::Read, later))] {
        let mut r = h
            .put(format!("{dn}/blocks/{new_block}"))
            .body(vec![7u8; 4096]);
        if let Some(t) = tok {
            r = r.header(BLOCK_TOKEN_HEADER, t);
        }
        assert_eq!(r.send().await.unwrap().status().as_u16(), 403);
    }
    // Overwriting an existing block without a write token: 403.
    let r = h
        .put(format!("{dn}/blocks/{block}"))
        .header(BLOCK_TOKEN_HEADER, token.clone())
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = h
        .delete(format!("{dn}/blocks/{block}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(cluster
        .all_block_files()
        .iter()
        .all(|(_, name)| !name.contains(&new_block.to_string())));

    // The namenode's own token expires (--block-token-lifetime 6s): 403.
    wait_until("the block token to expire", Duration::from_secs(30), || {
        let req = get(Some(token.clone()), "");
        async move {
            let s = req.await?.status().as_u16();
            Ok((s == 403).then_some(()))
        }
    })
    .await
    .unwrap();
    // A fresh one from the namenode works again, through the CLI too.
    let (_, fresh, _) = first_block(&cluster, "/f.bin").await;
    assert_eq!(get(Some(fresh), "").await.unwrap().status(), 200);
    let out = dfs_ok(&cluster, ROOT, &["checksum", "/f.bin"]);
    assert!(out.contains(&sha256_hex(&data)), "{out}");

    // The WebHDFS data step on a datanode needs the namenode's delegation.
    let r = h
        .get(format!(
            "{dn}/webhdfs/v1/f.bin?op=OPEN&namenoderpcaddress=x"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Re-replication works with tokens on: kill a holder, the other
    // replica is copied datanode to datanode.
    let victim = cluster.node_index(&dn).unwrap();
    let mut cluster = cluster;
    cluster.kill_datanode(victim);
    cluster.wait_fully_replicated(Duration::from_secs(60)).await;
    assert_eq!(
        dfs_ok(&cluster, ALICE, &["checksum", "/f.bin"]).trim_end(),
        dfs_ok(&cluster, ROOT, &["checksum", "/f.bin"]).trim_end()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_works_with_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = secured(dir.path(), "10m").await;
    let nn = cluster.namenode_url();
    let w = format!("{nn}/webhdfs/v1");
    let h = http_no_redirect();
    dfs_ok(&cluster, ROOT, &["mkdir", "-p", "/shared"]);
    let r = as_user(
        h.put(format!("{w}/shared?op=SETPERMISSION&permission=777")),
        ROOT,
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);

    // The CLI with DFS_TOKEN: put (several blocks), get, cat, ls, stat, rm.
    let data = test_data(2 * (1 << 20) + 3, 9);
    let local = dir.path().join("big.bin");
    std::fs::write(&local, &data).unwrap();
    dfs_ok(
        &cluster,
        ALICE,
        &["put", local.to_str().unwrap(), "/shared/big.bin"],
    );
    let copy = dir.path().join("copy.bin");
    dfs_ok(
        &cluster,
        ALICE,
        &["get", "/shared/big.bin", copy.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&copy).unwrap(), data);
    assert!(dfs_ok(&cluster, ALICE, &["ls", "/shared"]).contains("big.bin"));
    dfs_ok(&cluster, ALICE, &["stat", "/shared/big.bin"]);

    // WebHDFS with a bearer: CREATE's redirect carries a delegation token,
    // so the data step needs no header (as Hadoop clients expect).
    let r = as_user(h.put(format!("{w}/shared/web.txt?op=CREATE")), ALICE).await;
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains("delegation="), "{loc}");
    let r = h.put(&loc).body("via webhdfs").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    // HdfsCLI's TokenClient style: `delegation=<token>` on every request.
    let (status, list) = status_and_json(
        h.get(format!("{w}/shared?op=LISTSTATUS&delegation={BOB}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["FileStatuses"]["FileStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pathSuffix"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["big.bin", "web.txt"]);
    let web = list["FileStatuses"]["FileStatus"][1].clone();
    assert_eq!(web["owner"], "alice", "{web}");
    let r = h
        .get(format!("{w}/shared/web.txt?op=OPEN&delegation={BOB}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 307);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    // The client repeats its own delegation too (HdfsCLI does).
    let r = h
        .get(format!("{loc}&delegation={BOB}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "via webhdfs");

    // The seed endpoints relay as the caller.
    let form = reqwest::multipart::Form::new()
        .text("directory", "/shared")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"seeded".to_vec()).file_name("seed.txt"),
        );
    let r = h
        .post(format!("{nn}/upload_file"))
        .bearer_auth(BOB)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let st: Value = serde_json::from_str(&dfs_ok(
        &cluster,
        ALICE,
        &["--json", "stat", "/shared/seed.txt"],
    ))
    .unwrap();
    assert_eq!(st["owner"], "bob", "{st}");
    let r = h
        .post(format!("{nn}/download_file"))
        .bearer_auth(ALICE)
        .form(&[("file_name", "/shared/seed.txt")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "seeded");
    // The cluster API and metrics with a token.
    for path in ["/api/v1/summary", "/api/v1/datanodes", "/metrics"] {
        let r = as_user(h.get(format!("{nn}{path}")), BOB).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    dfs_ok(&cluster, ALICE, &["rm", "/shared/big.bin"]);

    // A datanode with the wrong secret is not admitted.
    let wrong = dir.path().join("wrong.secret");
    std::fs::write(&wrong, "not-the-cluster-secret-012345\n").unwrap();
    let port = dfs_tests::free_port();
    let log = dir.path().join("intruder.log");
    let mut intruder = Command::new(bin("datanode"))
        .args([
            "--namenode",
            &nn,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            dir.path().join("intruder").to_str().unwrap(),
            "--cluster-secret-file",
            wrong.to_str().unwrap(),
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let refused = wait_until(
        "the intruder to be refused",
        Duration::from_secs(30),
        || {
            let log = log.clone();
            async move {
                let text = std::fs::read_to_string(&log)?;
                Ok(text.contains("401").then_some(()))
            }
        },
    )
    .await;
    let _ = intruder.kill();
    let _ = intruder.wait();
    refused.unwrap();
    let nodes = cluster.client().datanodes().await.unwrap();
    assert_eq!(nodes.len(), 3, "only the three real datanodes");
    assert!(nodes.iter().all(|n| !n.addr.contains(&format!(":{port}"))));

    // And a restart keeps owners and modes (stored in sled).
    cluster.restart_all().await;
    let st: Value =
        serde_json::from_str(&dfs_ok(&cluster, ALICE, &["--json", "stat", "/shared"])).unwrap();
    assert_eq!(st["permission"], "777", "{st}");
    let st: Value = serde_json::from_str(&dfs_ok(
        &cluster,
        ALICE,
        &["--json", "stat", "/shared/web.txt"],
    ))
    .unwrap();
    assert_eq!(st["owner"], "alice", "{st}");
}

/// With access control on, a call retried after it took effect is still
/// answered from the retry cache: a `complete` retried by its (not super)
/// user after it completed gets its first answer, not a refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_call_is_answered_after_it_took_effect() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = secured(dir.path(), "10m").await;
    let nn = cluster.namenode_url();
    let h = http_no_redirect();
    // alice's own directory: her calls are checked against it.
    dfs_ok(&cluster, ROOT, &["mkdir", "-p", "/home/alice"]);
    let owner = h.put(format!(
        "{nn}/webhdfs/v1/home/alice?op=SETOWNER&owner=alice"
    ));
    assert_eq!(as_user(owner, ROOT).await.status().as_u16(), 200);
    let rpc = |name: &str, body: Value, id: &str| {
        as_user(
            h.post(format!("{nn}/rpc/v1/{name}"))
                .header("x-dfs-request-id", id.to_string())
                .json(&body),
            ALICE,
        )
    };
    let id = || dfs_common::ids::RequestId::new().to_string();
    let (status, created) = status_and_json(
        rpc(
            "create",
            serde_json::json!({"path": "/home/alice/empty"}),
            &id(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let done = serde_json::json!({
        "file_id": created["file_id"],
        "blocks": [],
        "length": 0,
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    });
    let call = id();
    let (status, first) = status_and_json(rpc("complete", done.clone(), &call).await).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = status_and_json(rpc("complete", done.clone(), &call).await).await;
    assert_eq!((status, &again), (200, &first), "the first answer");
    // A new call is checked, and refused: the write is over.
    let (status, fresh) = status_and_json(rpc("complete", done, &id()).await).await;
    assert_eq!(status, 404, "{fresh}");
}

/// A token taken out of the users file stops working on SIGHUP, without a
/// restart: the configured token, and the signed tokens the namenode made
/// for that user (a web login). A file that does not load changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_working_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = secured(dir.path(), "10m").await;
    let nn = cluster.namenode_url();
    let h = http_no_redirect();
    let status = |token: String| {
        let (h, nn) = (h.clone(), nn.clone());
        async move {
            h.get(format!("{nn}/rpc/v1/status?path=/"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    dfs_ok(&cluster, BOB, &["ls", "/"]);
    // Bob's web login: a signed user token.
    let login = h
        .post(format!("{nn}/auth/login"))
        .json(&serde_json::json!({ "token": BOB }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200, "login");
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()?
                .split_once('=')
                .map(|(_, v)| v.to_string())
        })
        .expect("a session cookie");
    assert_eq!(status(cookie.clone()).await, 200);

    let users = dir.path().join("users.toml");
    let text = std::fs::read_to_string(&users).unwrap();
    let without_bob = text.split("[users.bob]").next().unwrap().to_string();
    let hup = || {
        let pid = cluster.namenode_pid().unwrap().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
    };

    // A broken file first: refused, Bob still in.
    std::fs::write(&users, format!("{without_bob}[users.broken\n")).unwrap();
    hup();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status(BOB.into()).await, 200, "a bad file changed nothing");

    std::fs::write(&users, &without_bob).unwrap();
    hup();
    wait_until("Bob's token refused", Duration::from_secs(10), || async {
        Ok((status(BOB.into()).await == 401).then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(status(cookie).await, 401, "Bob's signed token too");
    let out = dfs_as(&cluster, Some(BOB), &["ls", "/"]);
    assert!(!out.status.success());
    dfs_ok(&cluster, ALICE, &["ls", "/"]);
    dfs_ok(&cluster, ROOT, &["ls", "/"]);
}

/// The audit log (`--audit-log`): a line for each operation of a scripted
/// session with its user, paths and result; a denied write and a request
/// without a credential are logged as refused; no token is ever written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_says_who_did_what() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let cluster = secured_with(
        dir.path(),
        &["--audit-log".into(), audit.display().to_string()],
    )
    .await;
    dfs_ok(&cluster, ROOT, &["mkdir", "/a"]);
    dfs_ok(&cluster, ROOT, &["chown", "alice", "/a"]);
    let local = dir.path().join("f.txt");
    std::fs::write(&local, b"audited").unwrap();
    dfs_ok(&cluster, ALICE, &["mkdir", "/a/d"]);
    dfs_ok(&cluster, ALICE, &["put", local.to_str().unwrap(), "/a/d/f"]);
    dfs_ok(&cluster, ALICE, &["mv", "/a/d/f", "/a/d/g"]);
    dfs_ok(&cluster, ALICE, &["rm", "--skip-trash", "/a/d/g"]);
    let denied = dfs_as(&cluster, Some(BOB), &["mkdir", "/a/bob"]);
    assert!(!denied.status.success());
    let anonymous = dfs_as(&cluster, None, &["ls", "/a"]);
    assert!(!anonymous.status.success());

    let log = std::fs::read_to_string(&audit).unwrap();
    let has = |parts: &[&str]| {
        log.lines()
            .any(|l| parts.iter().all(|p| l.split('\t').any(|f| f == *p)))
    };
    for want in [
        &["allowed=true", "ugi=root", "cmd=mkdirs", "src=/a"][..],
        &["allowed=true", "ugi=root", "cmd=set_attributes", "src=/a"][..],
        &["allowed=true", "ugi=alice", "cmd=mkdirs", "src=/a/d"][..],
        &["allowed=true", "ugi=alice", "cmd=create", "src=/a/d/f"][..],
        &[
            "allowed=true",
            "ugi=alice",
            "cmd=rename",
            "src=/a/d/f",
            "dst=/a/d/g",
        ][..],
        &["allowed=true", "ugi=alice", "cmd=delete", "src=/a/d/g"][..],
        &[
            "allowed=false",
            "status=403",
            "ugi=bob",
            "cmd=mkdirs",
            "src=/a/bob",
        ][..],
        &["allowed=false", "status=401", "ugi=null"][..],
    ] {
        assert!(has(want), "no line with {want:?} in:\n{log}");
    }
    for secret in [ROOT, ALICE, BOB, SECRET] {
        assert!(!log.contains(secret), "a secret in the audit log:\n{log}");
    }
    assert!(
        log.lines().all(|l| l.split('\t').count() >= 9),
        "one entry a line:\n{log}"
    );
}
