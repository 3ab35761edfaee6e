//! The node's identity: a `NodeId` created once and kept in `<data-dir>/node_id`,
//! and the cluster it belongs to, recorded in `<data-dir>/cluster_id` when it
//! first joins a namenode (a data dir made before cluster ids existed adopts
//! the id of the namenode it next joins, once).
//!
//! Does not decide anything else about the data dir (that is [`crate::store`]).
//!
//! Invariants: the file is written durably (temp, fsync, rename, fsync dir)
//! before the id is used; an existing file that does not hold exactly one id
//! is a startup error, never silently replaced (a new id would make the
//! namenode see a stranger holding someone else's blocks).
use crate::error::{DatanodeError, Result};
use dfs_common::ids::{ClusterId, NodeId};
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

pub const FILE_NAME: &str = "node_id";
pub const CLUSTER_FILE: &str = "cluster_id";

/// Reads the node id from `data_dir`, creating it (and the dir) on first start.
/// Blocking: call at startup or from `spawn_blocking`.
pub fn load_or_create(data_dir: &Path) -> Result<NodeId> {
    let path = data_dir.join(FILE_NAME);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<NodeId>().map_err(|e| {
            DatanodeError::Identity(format!(
                "{} is malformed ({e}); fix or remove it by hand (a new id makes this node a stranger to the namenode)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let id = NodeId::new();
            write_durably(data_dir, FILE_NAME, &format!("{id}\n"))
                .map_err(|e| DatanodeError::io(format!("writing {}", path.display()), e))?;
            log::info!("created node id {id} in {}", path.display());
            Ok(id)
        }
        Err(e) => Err(DatanodeError::io(format!("reading {}", path.display()), e)),
    }
}

/// The cluster this data dir belongs to (`None`: it never joined one).
/// Blocking.
pub fn load_cluster(data_dir: &Path) -> Result<Option<ClusterId>> {
    let path = data_dir.join(CLUSTER_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<ClusterId>().map(Some).map_err(|e| {
            DatanodeError::Identity(format!(
                "{} is malformed ({e}); write back the id of this node's cluster (dfs report shows it), \
                 or remove the file to let the node adopt the cluster of the namenode it next joins",
                path.display()
            ))
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DatanodeError::io(format!("reading {}", path.display()), e)),
    }
}

/// Records the cluster this data dir now belongs to, durably. Blocking.
pub fn record_cluster(data_dir: &Path, id: ClusterId) -> Result<()> {
    write_durably(data_dir, CLUSTER_FILE, &format!("{id}\n")).map_err(|e| {
        DatanodeError::io(
            format!("writing {}", data_dir.join(CLUSTER_FILE).display()),
            e,
        )
    })
}

fn write_durably(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("dn");
        let a = load_or_create(&data).unwrap();
        let b = load_or_create(&data).unwrap();
        assert_eq!(a, b);
        assert!(!data.join("node_id.tmp").exists());
    }

    #[test]
    fn cluster_is_absent_then_recorded() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_cluster(dir.path()).unwrap(), None);
        let c = ClusterId::new();
        record_cluster(dir.path(), c).unwrap();
        assert_eq!(load_cluster(dir.path()).unwrap(), Some(c));
        fs::write(dir.path().join(CLUSTER_FILE), "garbage\n").unwrap();
        let err = load_cluster(dir.path()).unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
    }

    #[test]
    fn malformed_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "not an id\n").unwrap();
        let err = load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
        // And the file is left alone.
        assert_eq!(
            fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(),
            "not an id\n"
        );
    }
}
