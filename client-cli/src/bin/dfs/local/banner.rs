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

pub fn banner(layout: &Layout, default_port: bool, add_to_path: Option<&Path>) -> String {
    let addrs: Vec<String> = layout.datanodes.iter().map(Service::address).collect();
    let mut s = format!(
        "dfs local: a namenode and {n} datanode{plural} are running\n\
         \x20 web UI     {url}/\n\
         \x20 namenode   {url}\n\
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
    if !default_port {
        s.push_str(&format!("  export DFS_NAMENODE={}\n", layout.namenode_url));
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
        let b = banner(&l, true, Some(Path::new("/src/dfs/target/release")));
        assert!(
            b.contains("export PATH=/src/dfs/target/release:$PATH\n  dfs mkdir"),
            "{b}"
        );
    }
}
