//! The seed HTTP endpoints on the namenode, with form, JSON and multipart
//! bodies, their errors, and invalid paths refused with 400.
use dfs_tests::{sha256_hex, test_data, ClusterOptions, TestCluster};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

/// The namenode's seed endpoints, over one HTTP client.
struct Seed {
    http: reqwest::Client,
    nn: String,
}

impl Seed {
    /// POST of a form to `/{endpoint}`; the answer.
    async fn form(&self, endpoint: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let url = format!("{}/{endpoint}", self.nn);
        self.http.post(url).form(fields).send().await.unwrap()
    }
}

async fn error_of(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let body: Value = resp.json().await.expect("JSON error body");
    let code = body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_string();
    let msg = body["error"]["message"]
        .as_str()
        .expect("error.message")
        .to_string();
    assert!(!msg.is_empty());
    format!("{code}: {msg}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_endpoints() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let nn = cluster.namenode_url();
    let http = reqwest::Client::new();
    let seed = Seed {
        http: http.clone(),
        nn: nn.clone(),
    };

    // create_directory: form and JSON bodies, parents made.
    let r = seed
        .form("create_directory", &[("directory_name", "/seed/a/b")])
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{nn}/create_directory"))
        .json(&json!({"directory_name": "/seed/json"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    // upload_file: multipart, fields before the file part.
    let data = test_data(3 * (1 << 20) + 17, 21);
    let form = Form::new()
        .text("directory", "/seed/a")
        .text("replication", "2")
        .part("file", Part::bytes(data.clone()).file_name("data.bin"));
    let r = http
        .post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "upload: {}",
        r.text().await.unwrap()
    );
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["length"], data.len());
    assert_eq!(st["replication"], 2);

    // A second upload to the same name conflicts unless overwrite is asked.
    let form = Form::new()
        .text("directory", "/seed/a")
        .part("file", Part::bytes(b"x".to_vec()).file_name("data.bin"));
    let r = http
        .post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(error_of(r, 409).await.starts_with("conflict"));
    let small = b"small file".to_vec();
    let form = Form::new()
        .text("directory", "/seed/json")
        .text("overwrite", "true")
        .part("file", Part::bytes(small.clone()).file_name("s.txt"));
    let r = http
        .post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    // No file part at all.
    let r = http
        .post(format!("{nn}/upload_file"))
        .multipart(Form::new().text("directory", "/"))
        .send()
        .await
        .unwrap();
    error_of(r, 400).await;

    // download_file: exact bytes, length and digest headers.
    let r = seed
        .form("download_file", &[("file_name", "/seed/a/data.bin")])
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.content_length(), Some(data.len() as u64));
    let digest = r
        .headers()
        .get("x-checksum-sha256")
        .expect("digest header")
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(digest, sha256_hex(&data));
    let body = r.bytes().await.unwrap();
    assert!(body[..] == data[..]);
    let r = http
        .post(format!("{nn}/download_file"))
        .json(&json!({"file_name": "/seed/json/s.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), small);
    let r = seed
        .form("download_file", &[("file_name", "/seed/missing")])
        .await;
    assert!(error_of(r, 404).await.contains("does not exist"));

    // file_list: every file with size, replication and digest.
    let list: Value = http
        .get(format!("{nn}/file_list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = list.to_string();
    assert!(
        text.contains("/seed/a/data.bin") && text.contains(&sha256_hex(&data)),
        "{text}"
    );
    assert!(text.contains("/seed/json/s.txt"));

    // list_directory, file_info
    let r = seed
        .form("list_directory", &[("directory_name", "/seed")])
        .await;
    let l: Value = r.json().await.unwrap();
    assert!(
        l.to_string().contains("\"json\"") || l.to_string().contains("/seed/json"),
        "{l}"
    );
    let r = seed
        .form("file_info", &[("file_name", "/seed/a/data.bin")])
        .await;
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["blocks"].as_array().map(Vec::len), Some(4), "{info}");
    assert_eq!(
        info["blocks"][0]["replicas"].as_array().map(Vec::len),
        Some(2)
    );

    // rename
    let r = seed
        .form(
            "rename",
            &[("src", "/seed/json/s.txt"), ("dst", "/seed/s2.txt")],
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = seed
        .form("file_info", &[("file_name", "/seed/s2.txt")])
        .await;
    assert!(r.status().is_success());

    // delete_directory: refused on a non-empty directory without recursive.
    let r = seed
        .form("delete_directory", &[("directory_name", "/seed/a")])
        .await;
    assert!(error_of(r, 409).await.contains("not empty"));
    let r = seed
        .form("delete_directory", &[("directory_name", "/seed/json")])
        .await;
    assert!(
        r.status().is_success(),
        "empty directory deletes without recursive"
    );
    let r = seed
        .form(
            "delete_directory",
            &[("directory_name", "/seed/a"), ("recursive", "True")],
        )
        .await;
    assert!(r.status().is_success());

    // delete_file
    let r = seed
        .form("delete_file", &[("file_name", "/seed/s2.txt")])
        .await;
    assert!(r.status().is_success());
    let r = seed
        .form("delete_file", &[("file_name", "/seed/s2.txt")])
        .await;
    error_of(r, 404).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_paths_are_refused_with_400() {
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let nn = cluster.namenode_url();
    let http = reqwest::Client::new();
    let seed = Seed {
        http: http.clone(),
        nn: nn.clone(),
    };
    let long = format!("/{}", "x".repeat(300));
    for bad in [
        "relative",
        "/a/../b",
        "/a//b",
        "/./a",
        "",
        long.as_str(),
        "/nul\0byte",
    ] {
        let r = seed
            .form("create_directory", &[("directory_name", bad)])
            .await;
        let e = error_of(r, 400).await;
        assert!(e.starts_with("bad_request"), "{bad:?}: {e}");
        let r = http
            .post(format!("{nn}/download_file"))
            .json(&json!({"file_name": bad}))
            .send()
            .await
            .unwrap();
        error_of(r, 400).await;
        let r = http
            .get(format!("{nn}/rpc/v1/status"))
            .query(&[("path", bad)])
            .send()
            .await
            .unwrap();
        error_of(r, 400).await;
    }
    let form = Form::new()
        .text("directory", "/../x")
        .part("file", Part::bytes(b"x".to_vec()).file_name("f"));
    let r = http
        .post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    error_of(r, 400).await;
    let form = Form::new().part("file", Part::bytes(b"x".to_vec()).file_name(".."));
    let r = http
        .post(format!("{nn}/upload_file"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    error_of(r, 400).await;
    // Nothing was created by any of it.
    let list: Value = http
        .get(format!("{nn}/file_list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["files"].as_array().map(Vec::len), Some(0), "{list}");
}
