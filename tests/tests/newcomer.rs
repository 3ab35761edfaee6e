//! What a new user meets in the first hour, against a real cluster: error
//! messages that name the CLI's own flags, `put`/`mkdir` that behave as
//! `hdfs dfs` does, output a newcomer can read (permissions, `du -v`, a
//! summary line after `put`/`get`), no temp file names in errors, no
//! "refused" noise in the namenode's log for ordinary existence probes, and
//! the seed upload form's field order explained instead of a wrong 409.
use dfs_tests::{ClusterOptions, TestCluster};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// Runs `dfs args`, expects exit `code`, returns stderr (one `dfs:` line
/// for a failure; clap's usage text for misuse, exit 2).
fn fails(cluster: &TestCluster, args: &[&str], code: i32) -> String {
    let out = cluster.dfs(args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "dfs {args:?}: {err}");
    if code == 1 {
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("dfs: "), "{err}");
    }
    err
}

fn has(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{text:?} lacks {n:?}");
    }
}

fn json(cluster: &TestCluster, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = cluster.dfs_ok(&a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("dfs {args:?}: {e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_hour() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let local = cluster.root().join("local");
    std::fs::create_dir_all(local.join("tree/sub")).unwrap();
    let notes = local.join("notes.txt");
    std::fs::write(&notes, b"notes\n").unwrap();
    std::fs::write(local.join("tree/sub/a"), b"a").unwrap();
    let notes = notes.to_str().unwrap();
    let tree = local.join("tree");
    let tree = tree.to_str().unwrap();

    // put follows `hdfs dfs -put`: the parent must exist, whether REMOTE
    // names a directory (`/newdir/`) or the file (`/newdir/notes.txt`).
    for target in ["/newdir/", "/newdir/notes.txt", "/newdir/deeper/notes.txt"] {
        let err = fails(&cluster, &["put", notes, target], 1);
        has(&err, &["no such directory", "dfs mkdir -p /newdir"]);
    }
    let err = fails(&cluster, &["put", "-r", tree, "/newdir/tree"], 1);
    has(&err, &["dfs mkdir -p /newdir"]);
    fails(&cluster, &["stat", "/newdir"], 1);

    // mkdir: a missing parent names -p; an existing directory is an error
    // without -p (as HDFS and mkdir(1)), fine with it.
    let err = fails(&cluster, &["mkdir", "/newdir/sub"], 1);
    has(&err, &["does not exist", "-p"]);
    cluster.dfs_ok(&["mkdir", "/newdir"]);
    let err = fails(&cluster, &["mkdir", "/newdir"], 1);
    has(&err, &["/newdir", "exists"]);
    cluster.dfs_ok(&["mkdir", "-p", "/newdir"]);

    // put: an existing file names -f; -v prints a summary line.
    cluster.dfs_ok(&["put", notes, "/newdir/"]);
    let err = fails(&cluster, &["put", notes, "/newdir/notes.txt"], 1);
    has(&err, &["already exists", "-f"]);
    assert!(
        !err.contains("use overwrite"),
        "API words in the CLI: {err}"
    );
    let out = cluster.dfs(&["put", "-v", "-f", notes, "/newdir/notes.txt"]);
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stderr);
    has(&line, &["put ", "-> /newdir/notes.txt", "6 B in ", "/s)"]);
    assert!(out.stdout.is_empty(), "stdout stays clean");
    cluster.dfs_ok(&["put", "-r", tree, "/newdir/tree"]);

    // get: -v prints a summary; a missing local directory is named, never
    // the temp file beside it.
    let copy = local.join("copy.txt");
    let out = cluster.dfs(&["get", "-v", "/newdir/notes.txt", copy.to_str().unwrap()]);
    assert!(out.status.success());
    has(
        &String::from_utf8_lossy(&out.stderr),
        &["get /newdir/notes.txt -> ", "copy.txt: 6 B in "],
    );
    let missing = local.join("nonexistent-dir/x.bin");
    let err = fails(
        &cluster,
        &["get", "/newdir/notes.txt", missing.to_str().unwrap()],
        1,
    );
    has(&err, &["nonexistent-dir", "no such directory"]);
    assert!(!err.contains("dfs-part"), "temp name leaked: {err}");

    // rm of a non-empty directory names -r.
    let err = fails(&cluster, &["rm", "/newdir/tree"], 1);
    has(&err, &["not empty", "-r"]);

    // mv into a parent that is not there says how to make it.
    let err = fails(&cluster, &["mv", "/newdir/tree", "/archive/tree"], 1);
    has(&err, &["/archive", "dfs mkdir -p /archive"]);
    let err = fails(&cluster, &["mv", "/no/such", "/newdir/x"], 1);
    assert!(!err.contains("mkdir"), "no hint when SRC is missing: {err}");

    // setrep takes what the namenode takes, and says so before asking.
    let err = fails(&cluster, &["setrep", "33", "/newdir/notes.txt"], 2);
    has(&err, &["1..=32"]);
    let st = json(&cluster, &["setrep", "32", "/newdir/notes.txt"]);
    assert_eq!(st["replication"], 32);

    // Permissions: octal digits in JSON (as WebHDFS), the same digits in
    // `stat`, the rwx form in `ls`.
    let st = json(&cluster, &["stat", "/newdir/notes.txt"]);
    assert_eq!(st["permission"], "644", "{st}");
    let dir = json(&cluster, &["stat", "/newdir"]);
    assert_eq!(dir["permission"], "755", "{dir}");
    has(
        &cluster.dfs_ok(&["stat", "/newdir/notes.txt"]),
        &["-rw-r--r-- (644)"],
    );
    has(
        &cluster.dfs_ok(&["ls", "/newdir"]),
        &["-rw-r--r--", "drwxr-xr-x"],
    );

    // du -v names its columns.
    let du = cluster.dfs_ok(&["du", "-v", "/newdir"]);
    let head = du.lines().next().unwrap_or_default();
    has(head, &["SIZE", "WITH_ALL_REPLICAS", "PATH"]);
    has(&du, &["/newdir/notes.txt", "/newdir/tree"]);
    let du_s = cluster.dfs_ok(&["du", "-s", "/newdir"]);
    assert!(!du_s.contains("SIZE"), "header only with -v: {du_s}");

    // The existence probes of every `put` above are not refusals.
    let log = std::fs::read_to_string(cluster.root().join("logs/namenode.log")).unwrap();
    assert!(!log.contains("refused (404)"), "404s logged as refusals");
    assert!(
        log.contains("refused (409)"),
        "real refusals still logged (the put without -f)"
    );
}

/// The seed upload form reads its fields in order: a `directory` after the
/// `file` part is refused as such, even when the file would have clashed at
/// `/` (it used to answer a misleading 409 about `/name`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_upload_field_order() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let nn = cluster.namenode_url();
    let http = reqwest::Client::new();
    let upload = |form: Form| {
        let http = http.clone();
        let url = format!("{nn}/upload_file");
        async move {
            let r = http.post(url).multipart(form).send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body)
        }
    };
    // No directory: the file goes to `/`.
    let (status, body) =
        upload(Form::new().part("file", Part::bytes(b"one".to_vec()).file_name("r.txt"))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["path"], "/r.txt");
    // Again, same name: 409 with the seed API's own words.
    let (status, body) =
        upload(Form::new().part("file", Part::bytes(b"two".to_vec()).file_name("r.txt"))).await;
    assert_eq!(status, 409, "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    has(msg, &["already exists", "overwrite=true"]);
    // `directory` after the file, with /r.txt there: 400 about the order.
    cluster.dfs_ok(&["mkdir", "/docs"]);
    let form = Form::new()
        .part("file", Part::bytes(b"three".to_vec()).file_name("r.txt"))
        .text("directory", "/docs");
    let (status, body) = upload(form).await;
    assert_eq!(status, 400, "{body}");
    let msg = body["error"]["message"].as_str().unwrap();
    has(msg, &["`directory`", "before `file`"]);
    assert_eq!(cluster.dfs_ok(&["cat", "/r.txt"]), "one");
    fails(&cluster, &["stat", "/docs/r.txt"], 1);
    // In order, it lands where asked.
    let form = Form::new()
        .text("directory", "/docs")
        .part("file", Part::bytes(b"four".to_vec()).file_name("r.txt"));
    let (status, body) = upload(form).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(cluster.dfs_ok(&["cat", "/docs/r.txt"]), "four");
}
