//! The text a person sees once a `dfs local` cluster is ready: where the
//! web UI, namenode, datanodes, data and logs are, and what to try next
//! (with `export` lines when `dfs` is not on PATH or the port is not the
//! default).
//!
//! What it does not do: the machine-readable form (`--json`,
//! `--ports-file`), which is [`super::ready_doc`]'s.
use super::layout::{Layout, Service};
use std::path::{Path, PathBuf};

/// The directory of this `dfs` binary when a shell would not find it as
/// `dfs` (the banner then says how to put it on PATH).
pub fn dir_to_add_to_path() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?.canonicalize().ok()?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .filter_map(|d| d.join("dfs").canonicalize().ok())
        .next();
    match found {
        Some(first) if first == me => None,
        _ => me.parent().map(Path::to_path_buf),
    }
}

/// The banner; `default_port`: the (one) namenode is where `dfs` looks
/// without `DFS_NAMENODE`.
/// The S3 endpoint and the key to use with it.
pub fn s3_lines(s3: &super::ready_doc::S3Info) -> String {
    format!(
        "S3 (aws CLI, boto3, rclone):\n\
         \x20 endpoint   {}\n\
         \x20 export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}\n\
         \x20 aws --endpoint-url {} s3 ls\n",
        s3.endpoint, s3.access_key, s3.secret, s3.endpoint
    )
}

pub fn banner(layout: &Layout, default_port: bool, add_to_path: Option<&Path>) -> String {
    let addrs: Vec<String> = layout.datanodes.iter().map(Service::address).collect();
    let several = layout.namenodes.len() > 1;
    let (what, namenodes) = if several {
        let urls: Vec<String> = layout.namenodes.iter().map(Service::url).collect();
        (
            format!("{} namenodes", layout.namenodes.len()),
            format!("namenodes  {}", urls.join(" ")),
        )
    } else {
        (
            "a namenode".to_string(),
            format!("namenode   {}", layout.namenode_url),
        )
    };
    let mut s = format!(
        "dfs local: {what} and {n} datanode{plural} are running\n\
         \x20 web UI     {url}/\n\
         \x20 {namenodes}\n\
         \x20 datanodes  {addrs}\n\
         \x20 data       {data}\n\
         \x20 logs       {logs}\n\
         Try, in another terminal:\n",
        n = layout.datanodes.len(),
        plural = if layout.datanodes.len() == 1 { "" } else { "s" },
        url = layout.namenode_url,
        addrs = addrs.join(" "),
        data = layout.root.display(),
        logs = layout.logs.display(),
    );
    if let Some(dir) = add_to_path {
        s.push_str(&format!("  export PATH={}:$PATH\n", dir.display()));
    }
    if several || !default_port || layout.tls.is_some() {
        s.push_str(&format!(
            "  export DFS_NAMENODE={}\n",
            layout.namenode_list()
        ));
    }
    if let Some(tls) = &layout.tls {
        s.push_str(&format!(
            "  export {}={}\n",
            dfs_client::tls::CA_FILE_ENV,
            tls.ca.display()
        ));
    }
    s.push_str("  dfs mkdir -p /demo\n  dfs put README.md /demo/\n  dfs ls /demo\n  dfs report\n");
    s.push_str("Press Ctrl-C to stop.");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::layout::test_support::{args, layout};

    #[test]
    fn banner_mentions_everything() {
        let l = layout(&args(3, 19870), Path::new("/d")).unwrap();
        let b = banner(&l, false, None);
        assert!(b.contains("web UI     http://127.0.0.1:19870/"), "{b}");
        assert!(
            b.contains("export DFS_NAMENODE=http://127.0.0.1:19870"),
            "{b}"
        );
        assert!(
            b.contains("127.0.0.1:19864 127.0.0.1:19865 127.0.0.1:19866"),
            "{b}"
        );
        assert!(b.contains("data       /d\n"), "{b}");
        assert!(!banner(&l, true, None).contains("export"));
        let tls = crate::local::layout::LocalArgs {
            tls: true,
            ..args(3, 9870)
        };
        let b = banner(&layout(&tls, Path::new("/d")).unwrap(), true, None);
        assert!(b.contains("web UI     https://127.0.0.1:9870/"), "{b}");
        assert!(
            b.contains(
                "export DFS_NAMENODE=https://127.0.0.1:9870\n  export DFS_CA_FILE=/d/tls/ca.pem\n"
            ),
            "{b}"
        );
        let b = banner(&l, true, Some(Path::new("/src/dfs/target/release")));
        assert!(
            b.contains("export PATH=/src/dfs/target/release:$PATH\n  dfs mkdir"),
            "{b}"
        );
        assert!(
            b.starts_with("dfs local: a namenode and 3 datanodes"),
            "{b}"
        );
    }

    #[test]
    fn banner_lists_every_namenode() {
        let a = crate::local::layout::LocalArgs {
            namenodes: 3,
            ..args(1, 9870)
        };
        let l = layout(&a, Path::new("/d")).unwrap();
        // on the default port too: dfs alone would find only the first
        let b = banner(&l, true, None);
        assert!(
            b.starts_with("dfs local: 3 namenodes and 1 datanode are running"),
            "{b}"
        );
        assert!(
            b.contains(
                "namenodes  http://127.0.0.1:9870 http://127.0.0.1:9871 http://127.0.0.1:9872\n"
            ),
            "{b}"
        );
        assert!(b.contains("web UI     http://127.0.0.1:9870/"), "{b}");
        assert!(
            b.contains(
                "export DFS_NAMENODE=http://127.0.0.1:9870,http://127.0.0.1:9871,http://127.0.0.1:9872\n"
            ),
            "{b}"
        );
    }
}
