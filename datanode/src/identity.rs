//! The node's identity: a `NodeId` created once and kept in `<data-dir>/node_id`,
//! and the cluster it belongs to, recorded in `<data-dir>/cluster_id` when it
//! first joins a namenode (a data dir made before cluster ids existed adopts
//! the id of the namenode it next joins, once).
//!
//! With several data dirs (`--data-dir A,B,C`, one per disk), every dir
//! holds the same `node_id`: it marks the dir as this node's, so that a dir
//! of another node, or one dir named twice, is refused at startup
//! ([`load_or_create_all`]). The cluster id and other node-level files stay
//! in the first dir.
//!
//! Does not decide anything else about the data dir (that is [`crate::store`]).
//!
//! Invariants: the file is written durably (temp, fsync, rename, fsync dir)
//! before the id is used; an existing file that does not hold exactly one id
//! is a startup error, never silently replaced (a new id would make the
//! namenode see a stranger holding someone else's blocks); no dir is marked
//! before every dir was checked.
use crate::error::{DatanodeError, Result};
use dfs_common::ids::{ClusterId, NodeId};
use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "node_id";
pub const CLUSTER_FILE: &str = "cluster_id";

/// Reads the node id from `data_dir`, creating it (and the dir) on first start.
/// Blocking: call at startup or from `spawn_blocking`.
pub fn load_or_create(data_dir: &Path) -> Result<NodeId> {
    load_or_create_all(&[data_dir.to_path_buf()])
}

/// The node id of a datanode with `data_dirs` (blocking). Each dir is
/// created if need be; the id is the one the dirs hold (they must agree),
/// or a new one if none does; then every dir without it gets it. Refused:
/// a dir named twice (the same directory under two names too), and a dir
/// that holds another node's id.
pub fn load_or_create_all(data_dirs: &[PathBuf]) -> Result<NodeId> {
    Ok(load_tolerating(data_dirs, 0)?.id)
}

/// What [`load_tolerating`] found.
#[derive(Debug)]
pub struct Identity {
    pub id: NodeId,
    /// The dirs that could not be used (I/O errors: a failed disk), with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// [`load_or_create_all`], where up to `tolerate` dirs may fail with I/O
/// errors (failed disks, `--max-failed-disks`): they are left alone and
/// listed. A malformed id, another node's dir or a dir named twice is
/// refused whatever `tolerate` says; so is a node with no usable dir.
pub fn load_tolerating(data_dirs: &[PathBuf], tolerate: usize) -> Result<Identity> {
    let mut failed: Vec<(PathBuf, String)> = Vec::new();
    let mut skip = |dir: &Path, e: DatanodeError| -> Result<()> {
        if failed.len() >= tolerate || failed.len() + 1 >= data_dirs.len() {
            return Err(DatanodeError::DisksFailed(format!(
                "data dir {} cannot be used ({e}); --max-failed-disks {tolerate} tolerates no \
                 more failed data dirs (and a node needs one that works)",
                dir.display()
            )));
        }
        log::error!("data dir {} cannot be used: {e}", dir.display());
        failed.push((dir.to_path_buf(), e.to_string()));
        Ok(())
    };
    let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
    let mut found: Option<(NodeId, &PathBuf)> = None;
    let mut unmarked = Vec::new();
    for dir in data_dirs {
        let real = match fs::create_dir_all(dir).and_then(|()| fs::canonicalize(dir)) {
            Ok(real) => real,
            Err(e) => {
                skip(
                    dir,
                    DatanodeError::io(format!("opening {}", dir.display()), e),
                )?;
                continue;
            }
        };
        if let Some((_, first)) = seen.iter().find(|(r, _)| *r == real) {
            return Err(DatanodeError::Identity(format!(
                "data dir {} is listed twice (also as {}): each disk may be named once",
                dir.display(),
                first.display()
            )));
        }
        seen.push((real, dir));
        let held = match read_id(dir) {
            Err(e @ DatanodeError::Io { .. }) => {
                skip(dir, e)?;
                continue;
            }
            other => other?,
        };
        match held {
            None => unmarked.push(dir),
            Some(id) => match found {
                None => found = Some((id, dir)),
                Some((mine, first)) if mine != id => {
                    return Err(DatanodeError::Identity(format!(
                        "data dir {} belongs to datanode {id}, but {} belongs to datanode {mine}: \
                         a data dir of another node cannot be added (give it an empty dir)",
                        dir.display(),
                        first.display()
                    )))
                }
                Some(_) => {}
            },
        }
    }
    let id = found.map_or_else(NodeId::new, |(id, _)| id);
    for dir in unmarked {
        let path = dir.join(FILE_NAME);
        match write_durably(dir, FILE_NAME, &format!("{id}\n")) {
            Ok(()) => log::info!("marked {} as datanode {id}'s", dir.display()),
            Err(e) => skip(
                dir,
                DatanodeError::io(format!("writing {}", path.display()), e),
            )?,
        }
    }
    Ok(Identity { id, failed })
}

/// The node id kept in `dir` (`None`: none yet).
fn read_id(dir: &Path) -> Result<Option<NodeId>> {
    let path = dir.join(FILE_NAME);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<NodeId>().map(Some).map_err(|e| {
            DatanodeError::Identity(format!(
                "{} is malformed ({e}); fix or remove it by hand (a new id makes this node a stranger to the namenode)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
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
    fn every_data_dir_is_marked_and_strangers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a"),
            dir.path().join("b"),
            dir.path().join("c"),
        );
        let one = load_or_create(&a).unwrap();
        // A longer list: the new dirs get the node's id.
        let same = load_or_create_all(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(same, one);
        assert_eq!(read_id(&b).unwrap(), Some(one));
        // Listed twice, under another name too: refused, nothing marked.
        let twice = load_or_create_all(&[a.clone(), c.clone(), a.join("../a")]).unwrap_err();
        assert!(twice.to_string().contains("listed twice"), "{twice}");
        assert_eq!(read_id(&c).unwrap(), None);
        // Another node's dir: refused.
        let other = load_or_create(&c).unwrap();
        assert_ne!(other, one);
        let err = load_or_create_all(&[a.clone(), c.clone()]).unwrap_err();
        assert!(err.to_string().contains("another node"), "{err}");
        assert_eq!(read_id(&c).unwrap(), Some(other));
        // The order may change.
        assert_eq!(load_or_create_all(&[b, a]).unwrap(), one);
    }

    #[test]
    fn failed_dirs_are_tolerated_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        // A file where a dir should be: it cannot be opened.
        let bad = dir.path().join("bad");
        fs::write(&bad, b"not a dir").unwrap();
        let dirs = [a.clone(), bad.clone(), b.clone()];
        assert!(load_tolerating(&dirs, 0).is_err());
        let got = load_tolerating(&dirs, 1).unwrap();
        assert_eq!(got.failed.len(), 1);
        assert_eq!(got.failed[0].0, bad);
        assert_eq!(read_id(&a).unwrap(), Some(got.id));
        assert_eq!(read_id(&b).unwrap(), Some(got.id));
        // Never every dir, whatever the limit.
        assert!(load_tolerating(std::slice::from_ref(&bad), 5).is_err());
        // Another node's dir is refused even when failures are tolerated.
        let c = dir.path().join("c");
        load_or_create(&c).unwrap();
        let err = load_tolerating(&[a, c], 1).unwrap_err();
        assert!(err.to_string().contains("another node"), "{err}");
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
