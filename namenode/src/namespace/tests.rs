//! Unit tests of every namespace operation, on the in-memory namespace
//! (transactions are built but not applied; persistence is tested in
//! `namesystem` tests).
use super::inode::{DIR_PERMISSION, FILE_PERMISSION};
use super::write::AllocatedBlock;
use super::*;
use crate::commands::{AppendOpened, Command, Completion, Entry, NewFile, Outcome};
use crate::placement::Candidate;
use crate::records::BlockMeta;
use dfs_common::checksum::Sha256Digest;
use dfs_common::proto::client::{CommittedBlock, CompleteRequest, CreateRequest};
use std::time::Duration;

pub fn p(s: &str) -> DfsPath {
    DfsPath::parse(s).unwrap()
}

fn ns() -> Namespace {
    Namespace::new(1, &mut Txn::new())
}

const BS: u64 = 4096;

fn defaults() -> WriteDefaults {
    WriteDefaults {
        replication: 3,
        block_size: BS,
    }
}

/// What a test's `create` falls back to when the request leaves it open
/// (the namesystem's config in a running namenode).
#[derive(Debug, Clone, Copy)]
pub struct WriteDefaults {
    pub replication: u16,
    pub block_size: u64,
}

/// A registered write.
#[derive(Debug)]
pub struct Created {
    pub file_id: FileId,
}

/// The write path as the namesystem drives it, in the shapes the tests
/// use: each proposes a command (deciding ids and pipelines as the
/// namesystem does) and applies it through [`Namespace::apply`].
pub trait WriteOps {
    fn t_apply(
        &mut self,
        ts_ms: u64,
        command: Command,
        now: Instant,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<Outcome>;

    fn t_create(
        &mut self,
        req: &CreateRequest,
        d: &WriteDefaults,
        ts_ms: u64,
        now: Instant,
        txn: &mut Txn,
    ) -> Result<Created> {
        let file_id = FileId::new();
        let f = NewFile {
            file_id,
            path: req.path.clone(),
            overwrite: req.overwrite,
            create_parent: req.create_parent,
            replication: req.replication.unwrap_or(d.replication),
            block_size: req.block_size.unwrap_or(d.block_size),
            owner: req.owner.clone(),
            permission: req.permission.unwrap_or(super::inode::FILE_PERMISSION),
        };
        self.t_apply(ts_ms, Command::Create(f), now, txn, &mut Deletions::new())?;
        Ok(Created { file_id })
    }

    fn t_add_block(
        &mut self,
        file_id: FileId,
        exclude: &[NodeId],
        candidates: &[Candidate],
        now: Instant,
        txn: &mut Txn,
    ) -> Result<AllocatedBlock>;

    fn t_complete(
        &mut self,
        req: &CompleteRequest,
        ts_ms: u64,
        now: Instant,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<FileStatus> {
        let c = Completion::from_request(req);
        match self.t_apply(ts_ms, Command::Complete(c), now, txn, dels)? {
            Outcome::Status(s) => Ok(s),
            o => panic!("complete gave {o:?}"),
        }
    }

    fn t_append(
        &mut self,
        path: &DfsPath,
        _d: &WriteDefaults,
        ts_ms: u64,
        now: Instant,
        txn: &mut Txn,
    ) -> Result<AppendOpened> {
        let cmd = Command::Append {
            file_id: FileId::new(),
            path: path.clone(),
        };
        match self.t_apply(ts_ms, cmd, now, txn, &mut Deletions::new())? {
            Outcome::Appended(a) => Ok(a),
            o => panic!("append gave {o:?}"),
        }
    }

    fn t_abandon(
        &mut self,
        file_ids: Vec<FileId>,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Vec<DfsPath> {
        match self.t_apply(
            1,
            Command::AbandonFiles { file_ids },
            Instant::now(),
            txn,
            dels,
        ) {
            Ok(Outcome::Abandoned(p)) => p,
            o => panic!("abandon gave {o:?}"),
        }
    }

    fn expire_leases(
        &mut self,
        now: Instant,
        timeout: Duration,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Vec<DfsPath>;
}

impl WriteOps for Namespace {
    fn t_apply(
        &mut self,
        ts_ms: u64,
        command: Command,
        now: Instant,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Result<Outcome> {
        let request = None;
        self.apply(
            &Entry {
                ts_ms,
                request,
                command,
            },
            now,
            txn,
            dels,
        )
    }

    fn t_add_block(
        &mut self,
        file_id: FileId,
        exclude: &[NodeId],
        candidates: &[Candidate],
        now: Instant,
        txn: &mut Txn,
    ) -> Result<AllocatedBlock> {
        let block_id = BlockId::new();
        let targets = self.place_block(file_id, block_id, exclude, candidates)?;
        let cmd = Command::AddBlock {
            file_id,
            block_id,
            targets: targets.clone(),
        };
        match self.t_apply(1, cmd, now, txn, &mut Deletions::new())? {
            Outcome::BlockAdded {
                offset, block_size, ..
            } => Ok(AllocatedBlock {
                block_id,
                offset,
                targets,
                block_size,
            }),
            o => panic!("add_block gave {o:?}"),
        }
    }

    fn expire_leases(
        &mut self,
        now: Instant,
        timeout: Duration,
        txn: &mut Txn,
        dels: &mut Deletions,
    ) -> Vec<DfsPath> {
        let expired = self.expired_writes(now, timeout);
        self.t_abandon(expired, txn, dels)
    }
}

fn nodes(n: usize) -> Vec<Candidate> {
    (0..n)
        .map(|_| Candidate {
            id: NodeId::new(),
            available: 1 << 30,
            rack: crate::placement::RackId::default(),
        })
        .collect()
}

/// A view in which exactly `live` are live, normal datanodes.
pub fn view_of(live: &[NodeId]) -> crate::datanodes::NodeView {
    let mut v = crate::datanodes::NodeView::default();
    for id in live {
        v.nodes.insert(
            *id,
            crate::datanodes::NodeSnap {
                addr: format!("http://{id}"),
                class: crate::datanodes::NodeClass::Live,
                registered: true,
                admin: dfs_common::proto::client::AdminState::Normal,
                available: 1 << 30,
                rack: crate::placement::RackId::default(),
                maintenance: false,
            },
        );
    }
    v
}

pub fn create_req(path: &str, overwrite: bool) -> CreateRequest {
    serde_json::from_value(serde_json::json!({ "path": path, "overwrite": overwrite })).unwrap()
}

/// create + add_block per block + complete, with `len` bytes of a pattern.
fn write_file(
    ns: &mut Namespace,
    path: &str,
    len: u64,
    overwrite: bool,
    dn: &[Candidate],
) -> Result<(FileStatus, Deletions)> {
    let mut txn = Txn::new();
    let mut dels = Deletions::new();
    let now = Instant::now();
    let c = ns.t_create(&create_req(path, overwrite), &defaults(), 2, now, &mut txn)?;
    let mut blocks = Vec::new();
    let mut left = len;
    while left > 0 || blocks.is_empty() && len > 0 {
        let b = ns.t_add_block(c.file_id, &[], dn, now, &mut txn)?;
        let l = left.min(BS);
        blocks.push(CommittedBlock {
            block_id: b.block_id,
            len: l,
            sha256: Sha256Digest::of(&vec![7u8; l as usize]),
            replicas: b.targets.clone(),
        });
        left -= l;
    }
    let st = ns.t_complete(
        &CompleteRequest {
            file_id: c.file_id,
            blocks,
            length: len,
            sha256: Sha256Digest::of(b"whole"),
            sha256_state: None,
            xattrs: None,
        },
        3,
        Instant::now(),
        &mut txn,
        &mut dels,
    )?;
    Ok((st, dels))
}

fn mkdir(ns: &mut Namespace, path: &str, parents: bool) -> Result<FileStatus> {
    ns.mkdirs(&p(path), parents, 5, &mut Txn::new())
}

fn names(l: &DirectoryListing) -> Vec<String> {
    l.entries.iter().map(|e| e.name.clone()).collect()
}

fn rename(ns: &mut Namespace, a: &str, b: &str, overwrite: bool) -> Result<FileStatus> {
    ns.rename(&p(a), &p(b), overwrite, 9, &mut Txn::new(), &mut Vec::new())
}

#[test]
fn mkdir_p_and_errors() {
    let mut ns = ns();
    let st = mkdir(&mut ns, "/a/b/c", true).unwrap();
    assert_eq!(st.file_type, FileType::Directory);
    assert_eq!(st.path.as_str(), "/a/b/c");
    assert_eq!(st.name, "c");
    assert_eq!(st.permission, DIR_PERMISSION);
    assert_eq!(st.owner, "dfs");
    assert_eq!(st.group, "supergroup");
    // Idempotent, with or without -p.
    let again = mkdir(&mut ns, "/a/b/c", false).unwrap();
    assert_eq!(again.inode_id, st.inode_id);
    assert!(mkdir(&mut ns, "/", false).is_ok());
    // Missing parent without -p.
    assert!(matches!(
        mkdir(&mut ns, "/x/y", false),
        Err(NamenodeError::NotFound(_))
    ));
    assert!(mkdir(&mut ns, "/x", false).is_ok());
    // A file in the way.
    let dn = nodes(3);
    write_file(&mut ns, "/a/f", 10, false, &dn).unwrap();
    assert!(matches!(
        mkdir(&mut ns, "/a/f", true),
        Err(NamenodeError::AlreadyExists(_))
    ));
    let e = mkdir(&mut ns, "/a/f/g/h", true).unwrap_err();
    assert!(matches!(e, NamenodeError::NotADirectory(_)), "{e:?}");
    assert!(e.to_string().contains("/a/f is a file"), "{e}");
    assert_eq!(ns.status(&p("/a")).unwrap().children, 2);
}

#[test]
fn stat_and_path_handling() {
    let mut ns = ns();
    let dn = nodes(3);
    let root = ns.status(&DfsPath::root()).unwrap();
    assert_eq!(root.name, "");
    assert_eq!(root.inode_id, inode::ROOT_ID);
    let (f, _) = write_file(&mut ns, "/d/ü file", 2 * BS + 5, false, &dn).unwrap();
    let st = ns.status(&p("/d/ü file/")).unwrap();
    assert_eq!(st, f);
    assert_eq!(st.file_type, FileType::File);
    assert_eq!(st.length, 2 * BS + 5);
    assert_eq!(st.blocks, 3);
    assert_eq!(st.replication, 3);
    assert_eq!(st.block_size, BS);
    assert_eq!(st.permission, FILE_PERMISSION);
    assert_eq!(st.sha256, Some(Sha256Digest::of(b"whole")));
    assert!(matches!(
        ns.status(&p("/nope")),
        Err(NamenodeError::NotFound(_))
    ));
    // Through a file: not found.
    assert!(matches!(
        ns.status(&p("/d/ü file/x")),
        Err(NamenodeError::NotFound(_))
    ));
}

#[test]
fn list_sorts_and_pages() {
    let mut ns = ns();
    for i in (0..25).rev() {
        mkdir(&mut ns, &format!("/d/e{i:02}"), true).unwrap();
    }
    let all = ns.list(&p("/d"), None, None).unwrap();
    assert_eq!(all.entries.len(), 25);
    assert!(!all.has_more);
    assert_eq!(all.entries[0].name, "e00");
    assert_eq!(all.entries[0].path.as_str(), "/d/e00");
    let page1 = ns.list(&p("/d"), None, Some(10)).unwrap();
    assert_eq!(
        names(&page1),
        (0..10).map(|i| format!("e{i:02}")).collect::<Vec<_>>()
    );
    assert!(page1.has_more);
    let page3 = ns.list(&p("/d"), Some("e19"), Some(10)).unwrap();
    assert_eq!(page3.entries.len(), 5);
    assert!(!page3.has_more);
    let exact = ns.list(&p("/d"), Some("e14"), Some(10)).unwrap();
    assert_eq!(exact.entries.len(), 10);
    assert!(!exact.has_more);
    // start_after need not be an existing name.
    assert_eq!(
        ns.list(&p("/d"), Some("e1"), Some(1)).unwrap().entries[0].name,
        "e10"
    );
    // A file lists as itself.
    write_file(&mut ns, "/d/f", 1, false, &nodes(1)).unwrap();
    let l = ns.list(&p("/d/f"), None, None).unwrap();
    assert_eq!(names(&l), vec!["f"]);
    assert!(matches!(
        ns.list(&p("/zz"), None, None),
        Err(NamenodeError::NotFound(_))
    ));
    // An empty directory.
    assert!(ns
        .list(&p("/d/e00"), None, None)
        .unwrap()
        .entries
        .is_empty());
}

#[test]
fn content_summary_counts() {
    let mut ns = ns();
    let dn = nodes(3);
    mkdir(&mut ns, "/a/b/c", true).unwrap();
    write_file(&mut ns, "/a/f1", BS + 1, false, &dn).unwrap();
    write_file(&mut ns, "/a/b/f2", 100, false, &dn).unwrap();
    write_file(&mut ns, "/a/b/empty", 0, false, &dn).unwrap();
    let s = ns.content_summary(&p("/a")).unwrap();
    assert_eq!(s.file_count, 3);
    assert_eq!(s.directory_count, 3); // a, b, c
    assert_eq!(s.length, BS + 101);
    assert_eq!(s.space_consumed, 3 * (BS + 101));
    assert_eq!(s.block_count, 3);
    let f = ns.content_summary(&p("/a/f1")).unwrap();
    assert_eq!((f.file_count, f.directory_count, f.block_count), (1, 0, 2));
    let root = ns.content_summary(&DfsPath::root()).unwrap();
    assert_eq!(root.directory_count, 4);
}

#[test]
fn rename_files_and_dirs() {
    let mut ns = ns();
    let dn = nodes(3);
    write_file(&mut ns, "/f", 10, false, &dn).unwrap();
    mkdir(&mut ns, "/d/sub", true).unwrap();
    // Plain rename.
    let st = rename(&mut ns, "/f", "/g", false).unwrap();
    assert_eq!(st.path.as_str(), "/g");
    assert_eq!(st.length, 10);
    assert!(ns.status(&p("/f")).is_err());
    // Into an existing directory.
    let st = rename(&mut ns, "/g", "/d", false).unwrap();
    assert_eq!(st.path.as_str(), "/d/g");
    // A directory, with its contents.
    mkdir(&mut ns, "/e", false).unwrap();
    let st = rename(&mut ns, "/d", "/e", false).unwrap();
    assert_eq!(st.path.as_str(), "/e/d");
    assert_eq!(ns.status(&p("/e/d/g")).unwrap().length, 10);
    assert!(ns.status(&p("/e/d/sub")).is_ok());
    // Rename a directory to a new name.
    rename(&mut ns, "/e/d", "/top", false).unwrap();
    assert!(ns.status(&p("/top/g")).is_ok());
    assert_eq!(ns.status(&p("/e")).unwrap().children, 0);
    // Same place: no-op.
    assert_eq!(
        rename(&mut ns, "/top/g", "/top/g", false)
            .unwrap()
            .path
            .as_str(),
        "/top/g"
    );
}

#[test]
fn rename_errors_and_overwrite() {
    let mut ns = ns();
    let dn = nodes(3);
    write_file(&mut ns, "/a", 10, false, &dn).unwrap();
    let (b, _) = write_file(&mut ns, "/b", 20, false, &dn).unwrap();
    mkdir(&mut ns, "/d/e", true).unwrap();
    assert!(matches!(
        rename(&mut ns, "/", "/x", false),
        Err(NamenodeError::InvalidArgument(_))
    ));
    assert!(matches!(
        rename(&mut ns, "/nope", "/x", false),
        Err(NamenodeError::NotFound(_))
    ));
    assert!(matches!(
        rename(&mut ns, "/a", "/no/x", false),
        Err(NamenodeError::NotFound(_))
    ));
    assert!(matches!(
        rename(&mut ns, "/a", "/b/x", false),
        Err(NamenodeError::NotADirectory(_))
    ));
    // Into itself or below.
    assert!(matches!(
        rename(&mut ns, "/d", "/d/e", false),
        Err(NamenodeError::InvalidArgument(_))
    ));
    assert!(matches!(
        rename(&mut ns, "/d", "/d/e/x", false),
        Err(NamenodeError::InvalidArgument(_))
    ));
    assert!(matches!(
        rename(&mut ns, "/d", "/d", false),
        Err(NamenodeError::InvalidArgument(_))
    ));
    // Onto an existing file: 409 unless overwrite.
    assert!(matches!(
        rename(&mut ns, "/a", "/b", false),
        Err(NamenodeError::AlreadyExists(_))
    ));
    // A directory never replaces a file.
    assert!(matches!(
        rename(&mut ns, "/d", "/b", true),
        Err(NamenodeError::AlreadyExists(_))
    ));
    let mut dels = Vec::new();
    let st = ns
        .rename(&p("/a"), &p("/b"), true, 9, &mut Txn::new(), &mut dels)
        .unwrap();
    assert_eq!(st.length, 10);
    assert_ne!(st.inode_id, b.inode_id);
    // The replaced file's block goes away on all its replicas.
    assert_eq!(dels.len(), 3);
    assert!(ns.blocks.get(&dels[0].1).is_none());
    // Moving into a dir where the name is a directory: 409.
    mkdir(&mut ns, "/x/b", true).unwrap();
    assert!(matches!(
        rename(&mut ns, "/b", "/x", true),
        Err(NamenodeError::AlreadyExists(_))
    ));
    // Errors changed nothing.
    assert_eq!(ns.status(&p("/b")).unwrap().length, 10);
}

#[test]
fn delete_counts_and_errors() {
    let mut ns = ns();
    let dn = nodes(2);
    write_file(&mut ns, "/d/a", BS + 1, false, &dn).unwrap();
    write_file(&mut ns, "/d/s/b", 5, false, &dn).unwrap();
    mkdir(&mut ns, "/d/s/t", true).unwrap();
    let del = |ns: &mut Namespace, path: &str, r: bool| {
        let mut dels = Vec::new();
        ns.delete(&p(path), r, 9, &mut Txn::new(), &mut dels)
            .map(|r| (r, dels))
    };
    assert!(matches!(
        del(&mut ns, "/", true),
        Err(NamenodeError::InvalidArgument(_))
    ));
    assert!(matches!(
        del(&mut ns, "/nope", true),
        Err(NamenodeError::NotFound(_))
    ));
    let e = del(&mut ns, "/d", false).unwrap_err();
    assert_eq!(
        e,
        NamenodeError::NotEmpty("directory /d is not empty".into())
    );
    // An empty dir and a file go without recursive.
    let (r, _) = del(&mut ns, "/d/s/t", false).unwrap();
    assert_eq!((r.files_deleted, r.directories_deleted), (0, 1));
    let (r, dels) = del(&mut ns, "/d", true).unwrap();
    assert_eq!(r.files_deleted, 2);
    assert_eq!(r.directories_deleted, 2);
    assert_eq!(r.bytes_deleted, BS + 6);
    assert_eq!(dels.len(), 3 * 2, "3 blocks × 2 replicas");
    assert!(ns.blocks.is_empty());
    assert_eq!(ns.status(&DfsPath::root()).unwrap().children, 0);
    assert_eq!(ns.inodes.len(), 1);
}

#[test]
fn set_replication_on_files_only() {
    let mut ns = ns();
    write_file(&mut ns, "/f", 1, false, &nodes(1)).unwrap();
    let st = ns.set_replication(&p("/f"), 5, &mut Txn::new()).unwrap();
    assert_eq!(st.replication, 5);
    assert!(matches!(
        ns.set_replication(&p("/"), 2, &mut Txn::new()),
        Err(NamenodeError::IsADirectory(_))
    ));
    assert!(matches!(
        ns.set_replication(&p("/f"), 0, &mut Txn::new()),
        Err(NamenodeError::InvalidArgument(_))
    ));
    assert!(matches!(
        ns.set_replication(&p("/g"), 2, &mut Txn::new()),
        Err(NamenodeError::NotFound(_))
    ));
}

#[test]
fn create_is_invisible_until_complete() {
    let mut ns = ns();
    let dn = nodes(3);
    let now = Instant::now();
    let mut txn = Txn::new();
    let c = ns
        .t_create(
            &create_req("/new/dir/f", false),
            &defaults(),
            1,
            now,
            &mut txn,
        )
        .unwrap();
    assert!(ns.status(&p("/new")).is_err());
    let b = ns.t_add_block(c.file_id, &[], &dn, now, &mut txn).unwrap();
    // The defaults the request left open: block size and replication.
    assert_eq!((b.block_size, b.targets.len()), (BS, 3));
    assert_eq!(b.offset, 0);
    assert!(ns
        .list(&DfsPath::root(), None, None)
        .unwrap()
        .entries
        .is_empty());
    assert_eq!(ns.content_summary(&DfsPath::root()).unwrap().file_count, 0);
    let done = ns
        .t_complete(
            &CompleteRequest {
                file_id: c.file_id,
                blocks: vec![CommittedBlock {
                    block_id: b.block_id,
                    len: 3,
                    sha256: Sha256Digest::of(b"abc"),
                    replicas: b.targets[..2].to_vec(),
                }],
                length: 3,
                sha256: Sha256Digest::of(b"abc"),
                sha256_state: None,
                xattrs: None,
            },
            2,
            Instant::now(),
            &mut txn,
            &mut Vec::new(),
        )
        .unwrap();
    assert_eq!(done.path.as_str(), "/new/dir/f");
    assert_eq!(
        ns.status(&p("/new/dir")).unwrap().file_type,
        FileType::Directory
    );
    let loc = ns
        .locations(&p("/new/dir/f"), |_, r| {
            r.iter().map(|id| DatanodeInfo(*id)).collect()
        })
        .unwrap();
    assert_eq!(loc.blocks.len(), 1);
    assert_eq!(loc.blocks[0].replicas.len(), 2);
    assert_eq!(loc.blocks[0].sha256, Some(Sha256Digest::of(b"abc")));
    // The file id is spent.
    assert!(matches!(
        ns.renew_lease(c.file_id, now),
        Err(NamenodeError::NotFound(_))
    ));
    assert_eq!(ns.pending_count(), 0);
}

/// `DatanodeInfo` with a fake address, for location closures.
#[allow(non_snake_case)]
fn DatanodeInfo(id: NodeId) -> dfs_common::proto::DatanodeInfo {
    dfs_common::proto::DatanodeInfo {
        id,
        addr: format!("http://{id}"),
    }
}

#[test]
fn create_conflicts() {
    let mut ns = ns();
    let dn = nodes(3);
    let now = Instant::now();
    let mut txn = Txn::new();
    mkdir(&mut ns, "/dir", false).unwrap();
    write_file(&mut ns, "/file", 1, false, &dn).unwrap();
    let create = |ns: &mut Namespace, path: &str, ow: bool| {
        ns.t_create(&create_req(path, ow), &defaults(), 1, now, &mut Txn::new())
    };
    assert!(matches!(
        create(&mut ns, "/dir", true),
        Err(NamenodeError::IsADirectory(_))
    ));
    assert!(matches!(
        create(&mut ns, "/", true),
        Err(NamenodeError::IsADirectory(_))
    ));
    assert!(matches!(
        create(&mut ns, "/file", false),
        Err(NamenodeError::AlreadyExists(_))
    ));
    assert!(matches!(
        create(&mut ns, "/file/x", true),
        Err(NamenodeError::NotADirectory(_))
    ));
    let mut no_parent = create_req("/missing/x", false);
    no_parent.create_parent = false;
    assert!(matches!(
        ns.t_create(&no_parent, &defaults(), 1, now, &mut txn),
        Err(NamenodeError::NotFound(_))
    ));
    let mut bad = create_req("/r", false);
    bad.replication = Some(0);
    assert!(matches!(
        ns.t_create(&bad, &defaults(), 1, now, &mut txn),
        Err(NamenodeError::InvalidArgument(_))
    ));
    bad.replication = None;
    bad.block_size = Some(100);
    assert!(matches!(
        ns.t_create(&bad, &defaults(), 1, now, &mut txn),
        Err(NamenodeError::InvalidArgument(_))
    ));

    // Two creates of one path: the second is refused, even with overwrite.
    let first = create(&mut ns, "/file", true).unwrap();
    let e = create(&mut ns, "/file", true).unwrap_err();
    assert!(matches!(e, NamenodeError::LeaseHeld(_)));
    assert!(e.to_string().contains("being written by another client"));
    // Until the first gives up.
    assert_eq!(
        ns.abandon_file(first.file_id, &mut txn, &mut Vec::new()),
        Some(p("/file"))
    );
    assert!(create(&mut ns, "/file", true).is_ok());
}

#[test]
fn overwrite_replaces_at_complete() {
    let mut ns = ns();
    let dn = nodes(3);
    let (old, _) = write_file(&mut ns, "/f", 2 * BS, false, &dn).unwrap();
    assert!(matches!(
        write_file(&mut ns, "/f", 1, false, &dn),
        Err(NamenodeError::AlreadyExists(_))
    ));
    let (new, dels) = write_file(&mut ns, "/f", 7, true, &dn).unwrap();
    assert_eq!(new.length, 7);
    assert_ne!(new.inode_id, old.inode_id);
    assert_eq!(dels.len(), 2 * 3, "the old file's 2 blocks on 3 nodes");
    assert_eq!(ns.blocks.len(), 1);
}

#[test]
fn complete_rechecks_the_path() {
    let mut ns = ns();
    let dn = nodes(1);
    let now = Instant::now();
    let mut txn = Txn::new();
    let c = ns
        .t_create(&create_req("/f", false), &defaults(), 1, now, &mut txn)
        .unwrap();
    // Someone else made a file there meanwhile (via rename).
    write_file(&mut ns, "/g", 1, false, &dn).unwrap();
    rename(&mut ns, "/g", "/f", false).unwrap();
    let req = CompleteRequest {
        file_id: c.file_id,
        blocks: vec![],
        length: 0,
        sha256: Sha256Digest::empty(),
        sha256_state: None,
        xattrs: None,
    };
    assert!(matches!(
        ns.t_complete(&req, 1, Instant::now(), &mut txn, &mut Vec::new()),
        Err(NamenodeError::AlreadyExists(_))
    ));
    // Still pending: it can be abandoned.
    assert_eq!(ns.pending_count(), 1);
}

#[test]
fn complete_validates_blocks() {
    let mut ns = ns();
    let dn = nodes(3);
    let now = Instant::now();
    let mut txn = Txn::new();
    let c = ns
        .t_create(&create_req("/f", false), &defaults(), 1, now, &mut txn)
        .unwrap();
    let b1 = ns.t_add_block(c.file_id, &[], &dn, now, &mut txn).unwrap();
    let b2 = ns.t_add_block(c.file_id, &[], &dn, now, &mut txn).unwrap();
    assert_eq!(b2.offset, BS);
    let cb = |b: &write::AllocatedBlock, len: u64| CommittedBlock {
        block_id: b.block_id,
        len,
        sha256: Sha256Digest::of(b"x"),
        replicas: b.targets.clone(),
    };
    let complete = |ns: &mut Namespace, blocks: Vec<CommittedBlock>, length: u64| {
        ns.t_complete(
            &CompleteRequest {
                file_id: c.file_id,
                blocks,
                length,
                sha256: Sha256Digest::empty(),
                sha256_state: None,
                xattrs: None,
            },
            1,
            Instant::now(),
            &mut Txn::new(),
            &mut Vec::new(),
        )
    };
    let bad = |r: Result<FileStatus>| matches!(r, Err(NamenodeError::InvalidArgument(_)));
    assert!(
        bad(complete(&mut ns, vec![cb(&b2, 1), cb(&b1, BS)], BS + 1)),
        "out of order"
    );
    assert!(
        bad(complete(&mut ns, vec![cb(&b1, 10), cb(&b2, 1)], 11)),
        "short middle block"
    );
    assert!(
        bad(complete(
            &mut ns,
            vec![cb(&b1, BS), cb(&b2, BS + 1)],
            2 * BS + 1
        )),
        "long last block"
    );
    assert!(
        bad(complete(&mut ns, vec![cb(&b1, BS), cb(&b2, 1)], 99)),
        "length mismatch"
    );
    let stranger = write::AllocatedBlock {
        block_id: BlockId::new(),
        offset: 0,
        targets: vec![dn[0].id],
        block_size: BS,
    };
    assert!(
        bad(complete(&mut ns, vec![cb(&stranger, 1)], 1)),
        "foreign block"
    );
    let mut no_rep = cb(&b1, BS);
    no_rep.replicas.clear();
    assert!(
        bad(complete(&mut ns, vec![no_rep, cb(&b2, 1)], BS + 1)),
        "no replica"
    );
    // An unlisted allocated block is dropped at completion.
    let mut dels = Vec::new();
    let st = ns
        .t_complete(
            &CompleteRequest {
                file_id: c.file_id,
                blocks: vec![cb(&b1, 9)],
                length: 9,
                sha256: Sha256Digest::empty(),
                sha256_state: None,
                xattrs: None,
            },
            1,
            Instant::now(),
            &mut Txn::new(),
            &mut dels,
        )
        .unwrap();
    assert_eq!(st.blocks, 1);
    assert_eq!(dels.len(), 3);
    assert!(dels.iter().all(|(_, b)| *b == b2.block_id));
}

#[test]
fn add_block_placement_errors_and_abandon_block() {
    let mut ns = ns();
    let dn = nodes(2);
    let now = Instant::now();
    let mut txn = Txn::new();
    let c = ns
        .t_create(&create_req("/f", false), &defaults(), 1, now, &mut txn)
        .unwrap();
    assert!(matches!(
        ns.t_add_block(c.file_id, &[], &[], now, &mut txn),
        Err(NamenodeError::NoLiveDatanodes(_))
    ));
    let ids: Vec<NodeId> = dn.iter().map(|c| c.id).collect();
    assert!(matches!(
        ns.t_add_block(c.file_id, &ids, &dn, now, &mut txn),
        Err(NamenodeError::NoLiveDatanodes(_))
    ));
    let full: Vec<Candidate> = dn
        .iter()
        .map(|c| Candidate {
            id: c.id,
            available: 10,
            rack: c.rack,
        })
        .collect();
    assert!(matches!(
        ns.t_add_block(c.file_id, &[], &full, now, &mut txn),
        Err(NamenodeError::NoSpace(_))
    ));
    assert!(matches!(
        ns.t_add_block(FileId::new(), &[], &dn, now, &mut txn),
        Err(NamenodeError::NotFound(_))
    ));
    // Fewer nodes than the replication: write with what there is.
    let b = ns
        .t_add_block(c.file_id, &[ids[0]], &dn, now, &mut txn)
        .unwrap();
    assert_eq!(b.targets, vec![ids[1]]);
    let mut dels = Vec::new();
    ns.abandon_block(c.file_id, b.block_id, now, &mut txn, &mut dels)
        .unwrap();
    assert_eq!(dels, vec![(ids[1], b.block_id)]);
    assert!(ns.blocks.is_empty());
    assert!(matches!(
        ns.abandon_block(c.file_id, b.block_id, now, &mut txn, &mut dels),
        Err(NamenodeError::NotFound(_))
    ));
    // The next block starts at offset 0 again.
    assert_eq!(
        ns.t_add_block(c.file_id, &[], &dn, now, &mut txn)
            .unwrap()
            .offset,
        0
    );
}

#[test]
fn abandon_file_deletes_its_blocks() {
    let mut ns = ns();
    let dn = nodes(3);
    let now = Instant::now();
    let mut txn = Txn::new();
    let c = ns
        .t_create(&create_req("/f", false), &defaults(), 1, now, &mut txn)
        .unwrap();
    ns.t_add_block(c.file_id, &[], &dn, now, &mut txn).unwrap();
    let mut dels = Vec::new();
    assert_eq!(
        ns.abandon_file(c.file_id, &mut txn, &mut dels),
        Some(p("/f"))
    );
    assert_eq!(dels.len(), 3);
    assert!(ns.blocks.is_empty());
    assert_eq!(
        ns.abandon_file(c.file_id, &mut txn, &mut dels),
        None,
        "idempotent"
    );
    assert!(ns.status(&p("/f")).is_err());
}

#[tokio::test(start_paused = true)]
async fn leases_expire_unless_renewed() {
    let mut ns = ns();
    let dn = nodes(1);
    let mut txn = Txn::new();
    let timeout = Duration::from_secs(60);
    let a = ns
        .t_create(
            &create_req("/a", false),
            &defaults(),
            1,
            Instant::now(),
            &mut txn,
        )
        .unwrap();
    let b = ns
        .t_create(
            &create_req("/b", false),
            &defaults(),
            1,
            Instant::now(),
            &mut txn,
        )
        .unwrap();
    ns.t_add_block(a.file_id, &[], &dn, Instant::now(), &mut txn)
        .unwrap();
    tokio::time::advance(Duration::from_secs(40)).await;
    ns.renew_lease(b.file_id, Instant::now()).unwrap();
    let mut dels = Vec::new();
    assert!(ns
        .expire_leases(Instant::now(), timeout, &mut txn, &mut dels)
        .is_empty());
    tokio::time::advance(Duration::from_secs(30)).await;
    let gone = ns.expire_leases(Instant::now(), timeout, &mut txn, &mut dels);
    assert_eq!(gone, vec![p("/a")]);
    assert_eq!(dels.len(), 1, "a's one block on one node");
    assert_eq!(ns.pending_count(), 1);
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(
        ns.expire_leases(Instant::now(), timeout, &mut txn, &mut dels),
        vec![p("/b")]
    );
    // The path is free again.
    assert!(ns
        .t_create(
            &create_req("/a", false),
            &defaults(),
            1,
            Instant::now(),
            &mut txn
        )
        .is_ok());
}

#[test]
fn fsck_and_counts_follow_liveness() {
    let mut ns = ns();
    let dn = nodes(3);
    write_file(&mut ns, "/d/f", 2 * BS, false, &dn).unwrap();
    let ids: Vec<NodeId> = dn.iter().map(|c| c.id).collect();
    let all = &view_of(&ids);
    let r = ns.fsck(&DfsPath::root(), all, 10).unwrap();
    assert_eq!(
        (r.files, r.directories, r.blocks, r.healthy_blocks),
        (1, 2, 2, 2)
    );
    assert!(r.healthy);
    let one = dn[0].id;
    let only_one = &view_of(&[one]);
    let r = ns.fsck(&p("/d"), only_one, 10).unwrap();
    assert_eq!(r.under_replicated_blocks, 2);
    assert!(r.healthy);
    assert_eq!(r.problems.len(), 2);
    assert_eq!(r.problems[0].path.as_str(), "/d/f");
    let r = ns.fsck(&p("/d/f"), &view_of(&[]), 1).unwrap();
    assert_eq!(r.missing_blocks, 2);
    assert!(!r.healthy);
    assert_eq!(r.problems.len(), 1, "bounded");
    let c = ns.counts(only_one);
    assert_eq!(
        (
            c.files,
            c.directories,
            c.blocks,
            c.under_replicated,
            c.missing
        ),
        (1, 2, 2, 2, 0)
    );
    ns.set_replication(&p("/d/f"), 1, &mut Txn::new()).unwrap();
    let r = ns.fsck(&p("/d/f"), all, 10).unwrap();
    assert_eq!(r.over_replicated_blocks, 2);
    assert!(matches!(
        ns.fsck(&p("/x"), all, 1),
        Err(NamenodeError::NotFound(_))
    ));
}

#[test]
fn append_rewrites_a_short_last_block_and_keeps_the_rest() {
    let mut ns = ns();
    let dn = nodes(3);
    let (st, _) = write_file(&mut ns, "/f", 2 * BS + 10, false, &dn).unwrap();
    let old_blocks = ns.locations(&p("/f"), |_, _| Vec::new()).unwrap().blocks;
    let now = Instant::now();
    let mut txn = Txn::new();
    let opened = ns
        .t_append(&p("/f"), &defaults(), 7, now, &mut txn)
        .unwrap();
    assert_eq!(opened.kept_len, 2 * BS);
    assert_eq!(opened.replaced, Some(old_blocks[2].block_id));
    assert_eq!(opened.inode, st.inode_id);
    // A second writer is refused; the file stays readable as it was.
    assert!(matches!(
        ns.t_append(&p("/f"), &defaults(), 7, now, &mut txn),
        Err(NamenodeError::LeaseHeld(_))
    ));
    assert!(matches!(
        ns.t_create(&create_req("/f", true), &defaults(), 7, now, &mut txn),
        Err(NamenodeError::LeaseHeld(_))
    ));
    assert_eq!(ns.status(&p("/f")).unwrap().length, 2 * BS + 10);
    // New blocks start after the kept ones.
    let b1 = ns
        .t_add_block(opened.file_id, &[], &dn, now, &mut txn)
        .unwrap();
    assert_eq!(b1.offset, 2 * BS);
    let b2 = ns
        .t_add_block(opened.file_id, &[], &dn, now, &mut txn)
        .unwrap();
    let cb = |b: &write::AllocatedBlock, len: u64| CommittedBlock {
        block_id: b.block_id,
        len,
        sha256: Sha256Digest::of(b"x"),
        replicas: b.targets.clone(),
    };
    let mut dels = Deletions::new();
    let bad = ns.t_complete(
        &CompleteRequest {
            file_id: opened.file_id,
            blocks: vec![cb(&b1, BS), cb(&b2, 5)],
            length: BS + 5,
            sha256: Sha256Digest::of(b"new"),
            sha256_state: None,
            xattrs: None,
        },
        8,
        now,
        &mut txn,
        &mut dels,
    );
    assert!(
        matches!(bad, Err(NamenodeError::InvalidArgument(_))),
        "length counts the kept bytes"
    );
    let st = ns
        .t_complete(
            &CompleteRequest {
                file_id: opened.file_id,
                blocks: vec![cb(&b1, BS), cb(&b2, 5)],
                length: 3 * BS + 5,
                sha256: Sha256Digest::of(b"new"),
                sha256_state: None,
                xattrs: None,
            },
            8,
            now,
            &mut txn,
            &mut dels,
        )
        .unwrap();
    assert_eq!(st.length, 3 * BS + 5);
    assert_eq!(st.blocks, 4);
    assert_eq!(st.inode_id, opened.inode);
    assert_eq!(st.sha256, Some(Sha256Digest::of(b"new")));
    let ids: Vec<BlockId> = ns
        .locations(&p("/f"), |_, _| Vec::new())
        .unwrap()
        .blocks
        .iter()
        .map(|b| b.block_id)
        .collect();
    assert_eq!(
        ids,
        vec![
            old_blocks[0].block_id,
            old_blocks[1].block_id,
            b1.block_id,
            b2.block_id
        ]
    );
    // The replaced block is gone, and its replicas are deleted.
    assert!(ns.blocks().get(&old_blocks[2].block_id).is_none());
    assert!(dels.iter().any(|(_, b)| *b == old_blocks[2].block_id));
    // A file ending on a block boundary keeps every block.
    let opened = ns
        .t_append(&p("/f"), &defaults(), 9, now, &mut txn)
        .unwrap();
    assert_eq!(opened.kept_len, 3 * BS);
    ns.abandon_file(opened.file_id, &mut txn, &mut dels);
    // Directories and missing paths.
    mkdir(&mut ns, "/d", false).unwrap();
    assert!(matches!(
        ns.t_append(&p("/d"), &defaults(), 9, now, &mut txn),
        Err(NamenodeError::IsADirectory(_))
    ));
    assert!(matches!(
        ns.t_append(&p("/none"), &defaults(), 9, now, &mut txn),
        Err(NamenodeError::NotFound(_))
    ));
}

#[test]
fn append_fails_if_the_file_was_replaced_meanwhile() {
    let mut ns = ns();
    let dn = nodes(2);
    write_file(&mut ns, "/f", 10, false, &dn).unwrap();
    let now = Instant::now();
    let mut txn = Txn::new();
    let opened = ns
        .t_append(&p("/f"), &defaults(), 7, now, &mut txn)
        .unwrap();
    assert_eq!(opened.kept_len, 0);
    ns.delete(&p("/f"), false, 8, &mut txn, &mut Vec::new())
        .unwrap();
    let b = ns
        .t_add_block(opened.file_id, &[], &dn, now, &mut txn)
        .unwrap();
    let r = ns.t_complete(
        &CompleteRequest {
            file_id: opened.file_id,
            blocks: vec![CommittedBlock {
                block_id: b.block_id,
                len: 20,
                sha256: Sha256Digest::of(b"x"),
                replicas: b.targets.clone(),
            }],
            length: 20,
            sha256: Sha256Digest::of(b"x"),
            sha256_state: None,
            xattrs: None,
        },
        9,
        now,
        &mut txn,
        &mut Vec::new(),
    );
    assert!(matches!(r, Err(NamenodeError::Conflict(_))), "{r:?}");
}

#[test]
fn pending_records_from_before_appends_still_load() {
    let old = super::inode::LegacyPendingFile {
        file_id: FileId::new(),
        path: p("/w"),
        overwrite: false,
        create_parent: true,
        replication: 2,
        block_size: BS,
        owner: "dfs".into(),
        permission: 0o644,
        blocks: vec![],
        created_ms: 1,
    };
    let bytes = dfs_common::codec::encode(&old).unwrap();
    assert!(dfs_common::codec::decode::<super::inode::PendingFile>(&bytes).is_err());
    let back: super::inode::LegacyPendingFile = dfs_common::codec::decode(&bytes).unwrap();
    let p2: super::inode::PendingFile = back.into();
    assert_eq!(p2.append, None);
    assert_eq!(p2.path, p("/w"));
}

/// A file's digest is held in memory only where its blocks do not give
/// it (one block: that block's; none: the digest of nothing). Statuses,
/// records and a reload from those records give the client's digest
/// either way.
#[test]
fn file_digests_are_kept_only_where_the_blocks_do_not_give_them() {
    let dn = nodes(3);
    let mut ns = ns();
    let mut txn = Txn::new();
    let now = Instant::now();
    let data = vec![7u8; 100];
    let full = vec![8u8; BS as usize];
    let cases: Vec<(&str, Vec<&[u8]>, Sha256Digest, bool)> = vec![
        ("/one", vec![&data], Sha256Digest::of(&data), false),
        (
            "/claims-other",
            vec![&data],
            Sha256Digest::of(b"other"),
            true,
        ),
        ("/empty", vec![], Sha256Digest::of(b""), false),
        ("/empty-claims-other", vec![], Sha256Digest::of(b"x"), true),
        (
            "/two",
            vec![&full, &data],
            Sha256Digest::of(&[&full[..], &data].concat()),
            true,
        ),
    ];
    for (path, parts, whole, kept) in &cases {
        let c = ns
            .t_create(&create_req(path, false), &defaults(), 2, now, &mut txn)
            .unwrap();
        let mut blocks = Vec::new();
        for part in parts {
            let b = ns.t_add_block(c.file_id, &[], &dn, now, &mut txn).unwrap();
            blocks.push(CommittedBlock {
                block_id: b.block_id,
                len: part.len() as u64,
                sha256: Sha256Digest::of(part),
                replicas: b.targets.clone(),
            });
        }
        let req = CompleteRequest {
            file_id: c.file_id,
            length: parts.iter().map(|p| p.len() as u64).sum(),
            blocks,
            sha256: *whole,
            sha256_state: None,
            xattrs: None,
        };
        let st = ns
            .t_complete(&req, 3, now, &mut txn, &mut Vec::new())
            .unwrap();
        assert_eq!(st.sha256, Some(*whole), "{path}: complete's answer");
        let id = ns.lookup(&p(path)).unwrap();
        let f = ns.inodes.get(&id).and_then(|i| i.file()).unwrap();
        assert_eq!(f.keeps_sha256(), *kept, "{path}: kept in memory");
    }
    ns.assert_counters_exact();
    // The records hold every digest; a namespace loaded from them keeps
    // the same ones and answers the same.
    let mut repair = Txn::new();
    let again = Namespace::load(exported(&ns), 99, now, &mut repair);
    assert!(repair.is_empty());
    again.assert_counters_exact();
    for (path, _, whole, kept) in &cases {
        assert_eq!(
            again.status(&p(path)).unwrap().sha256,
            Some(*whole),
            "{path} reloaded"
        );
        let id = again.lookup(&p(path)).unwrap();
        let f = again.inodes.get(&id).and_then(|i| i.file()).unwrap();
        assert_eq!(f.keeps_sha256(), *kept, "{path}: kept after a reload");
    }
}

/// Every record of `ns`, as a start reads them.
fn exported(ns: &Namespace) -> Loaded {
    let mut loaded = Loaded::default();
    ns.export(100, |t: &mut Txn| {
        for (k, v) in t.take_writes()? {
            if let Some(v) = v {
                crate::meta_store::decode_into(&mut loaded, &k, &v)?;
            }
        }
        Ok(())
    })
    .unwrap();
    loaded
}

/// A load keeps the blocks a file or a write owns and forgets, with a
/// repair, the ones no one does: owned by a file that does not list them,
/// by an inode that is not there, by a write that is not going on. A file
/// listing one block several times does not hide a stray from the count.
#[test]
fn a_load_forgets_the_blocks_no_one_owns() {
    let dn = nodes(3);
    let mut ns = ns();
    let mut txn = Txn::new();
    let now = Instant::now();
    let data = vec![5u8; 10];
    let block = |b: &AllocatedBlock| CommittedBlock {
        block_id: b.block_id,
        len: data.len() as u64,
        sha256: Sha256Digest::of(&data),
        replicas: b.targets.clone(),
    };
    let mut kept = Vec::new();
    for path in ["/a", "/b"] {
        let c = ns
            .t_create(&create_req(path, false), &defaults(), 2, now, &mut txn)
            .unwrap();
        let b = ns.t_add_block(c.file_id, &[], &dn, now, &mut txn).unwrap();
        kept.push(b.block_id);
        let req = CompleteRequest {
            file_id: c.file_id,
            length: data.len() as u64,
            blocks: vec![block(&b)],
            sha256: Sha256Digest::of(&data),
            sha256_state: None,
            xattrs: None,
        };
        ns.t_complete(&req, 3, now, &mut txn, &mut Vec::new())
            .unwrap();
    }
    let w = ns
        .t_create(&create_req("/w", false), &defaults(), 2, now, &mut txn)
        .unwrap();
    let wb = ns.t_add_block(w.file_id, &[], &dn, now, &mut txn).unwrap();
    kept.push(wb.block_id);
    let mut loaded = exported(&ns);
    let a = ns.lookup(&p("/a")).unwrap();
    // "/a" lists its block four times: as many extra as there are strays.
    for (id, rec) in &mut loaded.inodes {
        if *id == a {
            let f = rec.file.as_mut().unwrap();
            f.blocks = vec![f.blocks[0]; 4];
        }
    }
    let model = loaded.blocks[0].1.clone();
    let strays: Vec<(BlockId, BlockMeta)> = [
        BlockOwner::File(a),
        BlockOwner::File(a + 1000),
        BlockOwner::Pending(FileId::new()),
    ]
    .into_iter()
    .map(|owner| {
        (
            BlockId::new(),
            BlockMeta {
                owner,
                ..model.clone()
            },
        )
    })
    .collect();
    loaded.blocks.extend(strays.iter().cloned());
    loaded.blocks.sort_by_key(|(id, _)| *id);
    let mut repair = Txn::new();
    let again = Namespace::load(loaded, 99, now, &mut repair);
    for id in &kept {
        assert!(again.blocks.contains(id), "owned block {id} kept");
    }
    for (id, meta) in &strays {
        assert!(
            !again.blocks.contains(id),
            "stray {id} ({:?}) forgotten",
            meta.owner
        );
    }
    assert_eq!(again.blocks.len(), kept.len());
    let deleted: Vec<_> = repair
        .take_writes()
        .unwrap()
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .collect();
    assert_eq!(deleted.len(), strays.len(), "each stray's record deleted");
    again.assert_counters_exact();
}

/// Maintenance is replicated state: set for a known node (refused for an
/// unknown one), kept by an export and a reload, and gone once ended.
#[test]
fn maintenance_is_stored_and_reloaded() {
    use crate::records::{Maintenance, NodeRecord};
    use dfs_common::proto::client::AdminState;
    let mut ns = ns();
    let now = Instant::now();
    let node = NodeId::new();
    let apply = |ns: &mut Namespace, command: Command| {
        let mut txn = Txn::new();
        let mut dels = Deletions::new();
        ns.t_apply(1, command, now, &mut txn, &mut dels)
    };
    let unknown = apply(
        &mut ns,
        Command::SetMaintenance {
            node,
            maintenance: Some(Maintenance::UntilEnded),
        },
    );
    assert!(
        matches!(unknown, Err(NamenodeError::NotFound(_))),
        "{unknown:?}"
    );
    apply(
        &mut ns,
        Command::PutDatanode {
            node,
            record: NodeRecord {
                addr: "http://127.0.0.1:9866".into(),
                admin: AdminState::Normal,
            },
        },
    )
    .unwrap();
    let m = Maintenance::Until(1_900_000_000_000);
    apply(
        &mut ns,
        Command::SetMaintenance {
            node,
            maintenance: Some(m),
        },
    )
    .unwrap();
    let mut repair = Txn::new();
    let again = Namespace::load(exported(&ns), 99, now, &mut repair);
    assert_eq!(again.cluster().maintenance.get(&node), Some(&m));
    apply(
        &mut ns,
        Command::SetMaintenance {
            node,
            maintenance: None,
        },
    )
    .unwrap();
    assert!(ns.cluster().maintenance.is_empty());
    assert!(exported(&ns).maintenance.is_empty());
}

fn to_trash(
    ns: &mut Namespace,
    path: &str,
    recursive: bool,
    user: &str,
    ts: u64,
) -> Result<FileStatus> {
    ns.move_to_trash(
        &p(path),
        recursive,
        user,
        ts,
        &mut Txn::new(),
        &mut Vec::new(),
    )
}

#[test]
fn rm_to_the_trash_keeps_the_path_and_the_blocks() {
    let mut ns = ns();
    let dn = nodes(2);
    write_file(&mut ns, "/data/a/f", BS + 1, false, &dn).unwrap();
    let blocks = ns.blocks.len();
    let st = to_trash(&mut ns, "/data/a/f", false, "alice", 50).unwrap();
    assert_eq!(st.path, p("/user/alice/.Trash/Current/data/a/f"));
    assert_eq!(st.length, BS + 1);
    assert!(ns.lookup(&p("/data/a/f")).is_none());
    assert!(ns.lookup(&p("/data/a")).is_some(), "only the file moves");
    assert_eq!(ns.blocks.len(), blocks, "a trashed file keeps its blocks");
    // The trash belongs to its user and is closed to others (HDFS: 0700);
    // /user is made open.
    let t = ns.status(&p("/user/alice/.Trash")).unwrap();
    assert_eq!((t.owner.as_str(), t.permission), ("alice", 0o700));
    let c = ns.status(&p("/user/alice/.Trash/Current/data")).unwrap();
    assert_eq!((c.owner.as_str(), c.permission), ("alice", 0o700));
    let h = ns.status(&p("/user/alice")).unwrap();
    assert_eq!((h.owner.as_str(), h.permission), ("alice", 0o755));
    assert_eq!(ns.status(&p("/user")).unwrap().permission, 0o755);
    // A directory goes whole, with -r only when not empty.
    let e = to_trash(&mut ns, "/data", false, "alice", 51).unwrap_err();
    assert!(matches!(e, NamenodeError::NotEmpty(_)), "{e:?}");
    // Current/data is taken (by the file's parents): the time is appended.
    let st = to_trash(&mut ns, "/data", true, "alice", 52).unwrap();
    assert_eq!(st.path, p("/user/alice/.Trash/Current/data52"));
    assert!(ns
        .lookup(&p("/user/alice/.Trash/Current/data52/a"))
        .is_some());
    assert!(ns
        .lookup(&p("/user/alice/.Trash/Current/data/a/f"))
        .is_some());
    assert_eq!(ns.blocks.len(), blocks);
}

#[test]
fn a_name_taken_in_the_trash_gets_the_time_appended() {
    let mut ns = ns();
    let dn = nodes(1);
    for ts in [100, 200, 300] {
        write_file(&mut ns, "/f", 1, false, &dn).unwrap();
        to_trash(&mut ns, "/f", false, "dfs", ts).unwrap();
    }
    let names: Vec<String> = ns
        .list(&p("/user/dfs/.Trash/Current"), None, None)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["f", "f200", "f300"]);
    // A directory in the trash where a file goes: the time is appended.
    write_file(&mut ns, "/d/x", 1, false, &dn).unwrap();
    to_trash(&mut ns, "/d/x", false, "dfs", 400).unwrap();
    ns.rename(
        &p("/d"),
        &p("/d0"),
        false,
        401,
        &mut Txn::new(),
        &mut Vec::new(),
    )
    .unwrap();
    write_file(&mut ns, "/d", 1, false, &dn).unwrap();
    to_trash(&mut ns, "/d", false, "dfs", 402).unwrap();
    // Current/d is a directory (of x) and Current/d402 the file /d was.
    assert!(ns.status(&p("/user/dfs/.Trash/Current/d/x")).is_ok());
    assert_eq!(
        ns.status(&p("/user/dfs/.Trash/Current/d402"))
            .unwrap()
            .length,
        1
    );
}

#[test]
fn a_file_in_the_way_of_a_trashed_path_is_stepped_around() {
    let mut ns = ns();
    let dn = nodes(1);
    // The trash holds a file "a" (once /a); now /a/b is deleted.
    write_file(&mut ns, "/a", 1, false, &dn).unwrap();
    to_trash(&mut ns, "/a", false, "dfs", 10).unwrap();
    write_file(&mut ns, "/a/b", 2, false, &dn).unwrap();
    let st = to_trash(&mut ns, "/a/b", false, "dfs", 20).unwrap();
    assert_eq!(st.path, p("/user/dfs/.Trash/Current/a20/b"));
    assert_eq!(
        ns.status(&p("/user/dfs/.Trash/Current/a")).unwrap().length,
        1
    );
}

#[test]
fn what_the_trash_refuses_changes_nothing() {
    let mut ns = ns();
    let dn = nodes(1);
    write_file(&mut ns, "/user/bob/keep", 1, false, &dn).unwrap();
    let before = ns.inodes.len();
    type Want = fn(&NamenodeError) -> bool;
    let cases: [(&str, &str, Want); 5] = [
        ("/", "bob", |e| {
            matches!(e, NamenodeError::InvalidArgument(_))
        }),
        ("/nope", "bob", |e| matches!(e, NamenodeError::NotFound(_))),
        // The user's home holds the trash.
        ("/user/bob", "bob", |e| {
            matches!(e, NamenodeError::Conflict(_))
        }),
        ("/user", "bob", |e| matches!(e, NamenodeError::Conflict(_))),
        // A bad user name is no trash.
        ("/user/bob/keep", "a/b", |e| {
            matches!(e, NamenodeError::InvalidArgument(_))
        }),
    ];
    for (path, user, want) in cases {
        let e = to_trash(&mut ns, path, true, user, 5).unwrap_err();
        assert!(want(&e), "{path} as {user}: {e:?}");
        assert_eq!(ns.inodes.len(), before, "{path}: nothing made");
    }
    // Already in a trash: the namesystem deletes those at once instead.
    to_trash(&mut ns, "/user/bob/keep", false, "bob", 6).unwrap();
    let before = ns.inodes.len();
    let e = to_trash(
        &mut ns,
        "/user/bob/.Trash/Current/user/bob/keep",
        false,
        "bob",
        7,
    );
    assert!(matches!(e, Err(NamenodeError::InvalidArgument(_))), "{e:?}");
    // A file where the trash itself should be.
    write_file(&mut ns, "/user/carol/.Trash", 1, false, &dn).unwrap();
    write_file(&mut ns, "/g", 1, false, &dn).unwrap();
    let e = to_trash(&mut ns, "/g", false, "carol", 8).unwrap_err();
    assert!(matches!(e, NamenodeError::AlreadyExists(_)), "{e:?}");
    assert_eq!(
        ns.inodes.len(),
        before + 3,
        "carol's dir, her file and /g only"
    );
}

#[test]
fn the_emptier_sees_every_users_trash() {
    let mut ns = ns();
    let dn = nodes(1);
    assert!(ns.trashes().unwrap().is_empty());
    write_file(&mut ns, "/f", 1, false, &dn).unwrap();
    to_trash(&mut ns, "/f", false, "alice", 1).unwrap();
    mkdir(&mut ns, "/user/alice/.Trash/261205034037", true).unwrap();
    mkdir(&mut ns, "/user/bob/.Trash", true).unwrap();
    mkdir(&mut ns, "/user/carol", true).unwrap();
    let t = ns.trashes().unwrap();
    assert_eq!(
        t,
        vec![
            (
                p("/user/alice/.Trash"),
                vec!["261205034037".to_string(), "Current".to_string()]
            ),
            (p("/user/bob/.Trash"), vec![]),
        ]
    );
}

fn set_quota(ns: &mut Namespace, path: &str, names: Option<u64>, bytes: Option<u64>) {
    ns.set_quota(&p(path), Some(names), Some(bytes), &mut Txn::new())
        .unwrap();
}

/// What `path` uses, after checking every kept usage against a count.
fn usage(ns: &Namespace, path: &str) -> (u64, u64) {
    ns.assert_quota_counts();
    ns.quota(&p(path)).unwrap().usage
}

fn is_name_quota(r: Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(NamenodeError::NameQuotaExceeded(_)))
}

fn is_space_quota(r: Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(NamenodeError::SpaceQuotaExceeded(_)))
}

#[test]
fn a_name_quota_holds_exactly_its_count() {
    let mut ns = ns();
    let dn = nodes(3);
    mkdir(&mut ns, "/q", false).unwrap();
    // /q itself is one name: 4 means three more.
    set_quota(&mut ns, "/q", Some(4), None);
    mkdir(&mut ns, "/q/a", false).unwrap();
    write_file(&mut ns, "/q/a/f", 1, false, &dn).unwrap();
    assert_eq!(usage(&ns, "/q").0, 3);
    // mkdir -p of two levels needs two names: one is left.
    assert!(is_name_quota(mkdir(&mut ns, "/q/b/c", true)));
    assert!(ns.lookup(&p("/q/b")).is_none(), "nothing made");
    mkdir(&mut ns, "/q/b", false).unwrap();
    assert_eq!(usage(&ns, "/q").0, 4);
    let e = write_file(&mut ns, "/q/g", 1, false, &dn).unwrap_err();
    assert!(
        matches!(e, NamenodeError::NameQuotaExceeded(ref m) if m.contains("/q")),
        "{e}"
    );
    // Overwriting a file takes no new name.
    write_file(&mut ns, "/q/a/f", 2, true, &dn).unwrap();
    // A delete frees names; the quota holds again at its edge.
    ns.delete(&p("/q/b"), false, 9, &mut Txn::new(), &mut Vec::new())
        .unwrap();
    write_file(&mut ns, "/q/g", 1, false, &dn).unwrap();
    assert_eq!(usage(&ns, "/q"), (4, 3 * (2 + 1)));
    // Lowering it below the usage is allowed; then only shrinking works.
    set_quota(&mut ns, "/q", Some(2), None);
    assert!(is_name_quota(mkdir(&mut ns, "/q/x", false)));
    ns.delete(&p("/q/g"), false, 9, &mut Txn::new(), &mut Vec::new())
        .unwrap();
    // Cleared: no limit, nothing kept.
    ns.set_quota(&p("/q"), Some(None), None, &mut Txn::new())
        .unwrap();
    assert!(ns.quotas.is_empty());
    mkdir(&mut ns, "/q/x/y/z", true).unwrap();
}

#[test]
fn a_space_quota_counts_replicas_and_blocks_being_written() {
    let mut ns = ns();
    let dn = nodes(3);
    mkdir(&mut ns, "/q", false).unwrap();
    // Two blocks of three replicas.
    set_quota(&mut ns, "/q", None, Some(2 * BS * 3));
    write_file(&mut ns, "/q/f", 2 * BS, false, &dn).unwrap();
    assert_eq!(usage(&ns, "/q"), (2, 2 * BS * 3));
    // One byte more is a block more: refused at that block.
    let e = write_file(&mut ns, "/q/g", 1, false, &dn).unwrap_err();
    assert!(matches!(e, NamenodeError::SpaceQuotaExceeded(_)), "{e}");
    ns.delete(&p("/q/f"), false, 9, &mut Txn::new(), &mut Vec::new())
        .unwrap();
    // A write in progress reserves its blocks at full size: a second
    // writer cannot take the same space meanwhile.
    let now = Instant::now();
    let mut txn = Txn::new();
    let a = ns
        .t_create(&create_req("/q/a", false), &defaults(), 2, now, &mut txn)
        .unwrap();
    ns.t_add_block(a.file_id, &[], &dn, now, &mut txn).unwrap();
    let b = ns
        .t_create(&create_req("/q/b", false), &defaults(), 2, now, &mut txn)
        .unwrap();
    ns.t_add_block(b.file_id, &[], &dn, now, &mut txn).unwrap();
    assert!(is_space_quota(ns.t_add_block(
        a.file_id,
        &[],
        &dn,
        now,
        &mut txn
    )));
    // setrep is checked too: a block-long file fits at replication 3,
    // not at 20.
    ns.t_abandon(vec![a.file_id, b.file_id], &mut txn, &mut Vec::new());
    write_file(&mut ns, "/q/one", BS, false, &dn).unwrap();
    assert!(is_space_quota(ns.set_replication(
        &p("/q/one"),
        20,
        &mut Txn::new()
    )));
    ns.set_replication(&p("/q/one"), 2, &mut Txn::new())
        .unwrap();
    assert_eq!(usage(&ns, "/q"), (2, 2 * BS));
}

#[test]
fn a_rename_into_a_quota_directory_brings_its_usage() {
    let mut ns = ns();
    let dn = nodes(3);
    mkdir(&mut ns, "/q/in", true).unwrap();
    set_quota(&mut ns, "/q", Some(6), Some(10 * 3));
    write_file(&mut ns, "/tree/a/1", 2, false, &dn).unwrap();
    write_file(&mut ns, "/tree/a/2", 2, false, &dn).unwrap();
    write_file(&mut ns, "/tree/b", 2, false, &dn).unwrap();
    // /tree: 2 dirs and 3 files = 5 names; /q has 2 and allows 6.
    assert!(is_name_quota(rename(&mut ns, "/tree", "/q/in/tree", false)));
    assert!(ns.lookup(&p("/tree/a/1")).is_some(), "nothing moved");
    // /tree/a: 3 names, 12 bytes > 10 * 3? no: 2 × 2 × 3 = 12 of 30.
    rename(&mut ns, "/tree/a", "/q/in/a", false).unwrap();
    assert_eq!(usage(&ns, "/q"), (5, 12));
    // Within the quota directory, nothing changes; out of it, it is freed.
    rename(&mut ns, "/q/in/a", "/q/a", false).unwrap();
    assert_eq!(usage(&ns, "/q"), (5, 12));
    rename(&mut ns, "/q/a/1", "/tree/1", false).unwrap();
    assert_eq!(usage(&ns, "/q"), (4, 6));
    // A quota directory moving under another brings its own count.
    mkdir(&mut ns, "/r", false).unwrap();
    set_quota(&mut ns, "/q", Some(100), Some(1000));
    set_quota(&mut ns, "/r", Some(3), None);
    assert!(is_name_quota(rename(&mut ns, "/q", "/r/q", false)));
    set_quota(&mut ns, "/r", Some(5), None);
    rename(&mut ns, "/q", "/r/q", false).unwrap();
    assert_eq!(usage(&ns, "/r"), (5, 6));
    // The trash is a rename too: a quota on the user's home is kept.
    mkdir(&mut ns, "/user", false).unwrap();
    set_quota(&mut ns, "/user", Some(1), None);
    assert!(is_name_quota(ns.move_to_trash(
        &p("/tree/b"),
        false,
        "dfs",
        50,
        &mut Txn::new(),
        &mut Vec::new()
    )));
    assert!(ns.lookup(&p("/user/dfs")).is_none(), "nothing made");
}

#[test]
fn quotas_are_stored_and_reloaded_with_their_usage() {
    let mut ns = ns();
    let dn = nodes(3);
    mkdir(&mut ns, "/q/d", true).unwrap();
    write_file(&mut ns, "/q/d/f", BS + 1, false, &dn).unwrap();
    let before = ns
        .set_quota(
            &p("/q"),
            Some(Some(10)),
            Some(Some(1 << 30)),
            &mut Txn::new(),
        )
        .unwrap();
    assert_eq!(before.usage, (3, (BS + 1) * 3));
    let mut repair = Txn::new();
    let again = Namespace::load(exported(&ns), 99, Instant::now(), &mut repair);
    assert_eq!(again.quota(&p("/q")).unwrap(), before);
    // A quota only on files is refused; a deleted directory's goes with it.
    assert!(matches!(
        ns.set_quota(&p("/q/d/f"), Some(Some(1)), None, &mut Txn::new()),
        Err(NamenodeError::NotADirectory(_))
    ));
    assert!(matches!(
        ns.set_quota(&p("/q"), Some(Some(0)), None, &mut Txn::new()),
        Err(NamenodeError::InvalidArgument(_))
    ));
    ns.delete(&p("/q"), true, 9, &mut Txn::new(), &mut Vec::new())
        .unwrap();
    assert!(ns.quotas.is_empty());
}

/// Append rewrites a short last block as a new block: a snapshot taken
/// before keeps the old one (not deleted at complete) and the old length.
#[test]
fn an_append_after_a_snapshot_keeps_the_old_last_block_for_it() {
    let mut ns = ns();
    let dn = nodes(3);
    write_file(&mut ns, "/d/f", BS + 10, false, &dn).unwrap();
    let old = ns.locations(&p("/d/f"), |_, _| Vec::new()).unwrap().blocks;
    ns.allow_snapshot(&p("/d"), &mut Txn::new()).unwrap();
    ns.create_snapshot(&p("/d"), "s", 1, &mut Txn::new())
        .unwrap();
    let now = Instant::now();
    let mut txn = Txn::new();
    let opened = ns
        .t_append(&p("/d/f"), &defaults(), 7, now, &mut txn)
        .unwrap();
    assert_eq!(opened.replaced, Some(old[1].block_id));
    let b = ns
        .t_add_block(opened.file_id, &[], &dn, now, &mut txn)
        .unwrap();
    let mut dels = Deletions::new();
    ns.t_complete(
        &CompleteRequest {
            file_id: opened.file_id,
            blocks: vec![CommittedBlock {
                block_id: b.block_id,
                len: 20,
                sha256: Sha256Digest::of(b"x"),
                replicas: b.targets.clone(),
            }],
            length: BS + 20,
            sha256: Sha256Digest::of(b"new"),
            sha256_state: None,
            xattrs: None,
        },
        8,
        now,
        &mut txn,
        &mut dels,
    )
    .unwrap();
    assert!(
        dels.is_empty(),
        "the old last block is the snapshot's: {dels:?}"
    );
    assert_eq!(ns.status(&p("/d/f")).unwrap().length, BS + 20);
    assert_eq!(
        ns.snapshot_tree(&p("/d"), "s").unwrap(),
        [(String::new(), None), ("/f".into(), Some(BS + 10))]
    );
    assert!(ns.snapshot_blocks_missing(&p("/d"), "s").is_empty());
}

/// HDFS's rules: no snapshottable directory below or above another, no
/// entry named `.snapshot` in one, and a directory with snapshots is
/// neither deleted nor renamed (nor anything holding it).
#[test]
fn snapshottable_directories_follow_hdfss_rules() {
    let mut ns = ns();
    mkdir(&mut ns, "/a/b/c", true).unwrap();
    mkdir(&mut ns, "/x/.snapshot", true).unwrap();
    ns.allow_snapshot(&p("/a/b"), &mut Txn::new()).unwrap();
    for nested in ["/a", "/a/b/c"] {
        let e = ns.allow_snapshot(&p(nested), &mut Txn::new()).unwrap_err();
        assert!(matches!(e, NamenodeError::Conflict(_)), "{nested}: {e:?}");
    }
    let e = ns.allow_snapshot(&p("/x"), &mut Txn::new()).unwrap_err();
    assert!(e.to_string().contains(".snapshot"), "{e}");
    ns.create_snapshot(&p("/a/b"), "s", 1, &mut Txn::new())
        .unwrap();
    for held in ["/a/b", "/a"] {
        let e = ns
            .delete(&p(held), true, 9, &mut Txn::new(), &mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("snapshots"), "{held}: {e}");
        assert!(
            rename(&mut ns, held, "/elsewhere", false).is_err(),
            "{held}"
        );
    }
    assert!(ns.disallow_snapshot(&p("/a/b"), &mut Txn::new()).is_err());
    ns.delete_snapshot(&p("/a/b"), "s", &mut Txn::new(), &mut Vec::new())
        .unwrap();
    ns.disallow_snapshot(&p("/a/b"), &mut Txn::new()).unwrap();
    rename(&mut ns, "/a", "/elsewhere", false).unwrap();
}

/// A diff names renames, modifications, creations and deletions, the
/// contents of a created or deleted directory implied (HDFS's report).
#[test]
fn a_snapshot_diff_reads_as_hdfss_report() {
    let mut ns = ns();
    let dn = nodes(1);
    write_file(&mut ns, "/d/a", 1, false, &dn).unwrap();
    write_file(&mut ns, "/d/old/x", 1, false, &dn).unwrap();
    write_file(&mut ns, "/d/keep", 1, false, &dn).unwrap();
    ns.allow_snapshot(&p("/d"), &mut Txn::new()).unwrap();
    ns.create_snapshot(&p("/d"), "s", 1, &mut Txn::new())
        .unwrap();
    rename(&mut ns, "/d/a", "/d/b", false).unwrap();
    ns.delete(&p("/d/old"), true, 9, &mut Txn::new(), &mut Vec::new())
        .unwrap();
    write_file(&mut ns, "/d/new/y", 1, false, &dn).unwrap();
    ns.set_replication(&p("/d/keep"), 2, &mut Txn::new())
        .unwrap();
    let d = ns.snapshot_diff(&p("/d"), "s", ".").unwrap();
    let shown: Vec<(&str, &str, Option<&str>)> = d
        .iter()
        .map(|(k, p, t)| (*k, p.as_str(), t.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            ("MODIFY", "", None),
            ("RENAME", "a", Some("b")),
            ("MODIFY", "keep", None),
            ("CREATE", "new", None),
            ("DELETE", "old", None),
        ]
    );
    assert!(ns.snapshot_diff(&p("/d"), ".", ".").unwrap().is_empty());
    assert!(matches!(
        ns.snapshot_diff(&p("/d"), "nope", "."),
        Err(NamenodeError::NotFound(_))
    ));
}
