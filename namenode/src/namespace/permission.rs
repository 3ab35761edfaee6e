//! The permission checker (HDFS `FSPermissionChecker`): may this user do
//! that to this path, given the owner, group and mode bits of the inodes on
//! the way? Pure: reads the tree, changes nothing.
//!
//! It is only consulted when access control is on (the API layer asks it
//! before an operation, for an authenticated [`Principal`]); with it off,
//! dfs behaves as HDFS with `dfs.permissions.enabled = false`.
//!
//! Rules, as HDFS: the superuser passes everything; every existing
//! directory above the target needs execute (traverse); then, as the
//! operation asks, an access on the deepest existing ancestor (mkdir -p,
//! create with parents), on the parent, on the target itself, on every
//! directory below it (recursive delete), or ownership of the target
//! (chmod, chown). A missing target is not a permission problem here: the
//! operation itself then answers 404.
use super::inode::{Inode, InodeId, Names, ROOT_ID};
use super::Namespace;
use crate::error::{NamenodeError, Result};
use dfs_common::path::DfsPath;

pub const READ: u16 = 4;
pub const WRITE: u16 = 2;
pub const EXECUTE: u16 = 1;

/// Who is asking (an authenticated user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub groups: Vec<String>,
    pub superuser: bool,
}

/// What an operation needs (each access a mask of [`READ`], [`WRITE`],
/// [`EXECUTE`]; 0 = nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Check {
    pub ancestor: u16,
    pub parent: u16,
    pub target: u16,
    pub subtree: u16,
    pub owner: bool,
}

impl Check {
    /// Only traverse (stat, checksum).
    pub fn traverse() -> Self {
        Check::default()
    }
    pub fn target(access: u16) -> Self {
        Check {
            target: access,
            ..Check::default()
        }
    }
    pub fn parent(access: u16) -> Self {
        Check {
            parent: access,
            ..Check::default()
        }
    }
    pub fn ancestor(access: u16) -> Self {
        Check {
            ancestor: access,
            ..Check::default()
        }
    }
    pub fn owner() -> Self {
        Check {
            owner: true,
            ..Check::default()
        }
    }
}

/// `rwx` text of one access mask.
fn access_text(access: u16) -> String {
    let bit = |b: u16, c: char| if access & b != 0 { c } else { '-' };
    [bit(READ, 'r'), bit(WRITE, 'w'), bit(EXECUTE, 'x')]
        .iter()
        .collect()
}

/// `rwxr-xr-x` of a mode.
pub fn mode_text(mode: u16) -> String {
    format!(
        "{}{}{}",
        access_text((mode >> 6) & 7),
        access_text((mode >> 3) & 7),
        access_text(mode & 7)
    )
}

/// Whether `who` has `access` on `inode` by its mode bits.
pub fn allowed(names: &Names, inode: &Inode, who: &Principal, access: u16) -> bool {
    if who.superuser || access == 0 {
        return true;
    }
    let r = inode;
    let bits = if names.get(r.owner) == who.user {
        (r.permission >> 6) & 7
    } else if who.groups.iter().any(|g| g == names.get(r.group)) {
        (r.permission >> 3) & 7
    } else {
        r.permission & 7
    };
    bits & access == access
}

impl Namespace {
    /// Checks `check` for `who` on `path` (see the module doc).
    pub fn check_permission(&self, who: &Principal, path: &DfsPath, check: &Check) -> Result<()> {
        if who.superuser {
            return Ok(());
        }
        if let Some(chain) = self.snapshot_chain(path) {
            return self.check_snapshot_read(who, &chain, check);
        }
        let comps: Vec<&str> = path.components().collect();
        // The existing inodes along the path, root first, with their paths.
        let mut chain: Vec<(InodeId, String)> = vec![(ROOT_ID, "/".to_string())];
        let mut cur = ROOT_ID;
        let mut shown = String::new();
        for c in &comps {
            let inode = self.inode(cur)?;
            let Some(next) = self.child(inode, c) else {
                break;
            };
            shown.push('/');
            shown.push_str(c);
            chain.push((next, shown.clone()));
            cur = next;
        }
        let target_exists = chain.len() == comps.len() + 1;
        let ancestors = if target_exists {
            &chain[..chain.len() - 1]
        } else {
            &chain[..]
        };
        let deny = |id: InodeId, shown: &str, access: u16| -> Result<()> {
            let inode = self.inode(id)?;
            if allowed(&self.names, inode, who, access) {
                Ok(())
            } else {
                Err(denied(&self.names, who, access, shown, inode))
            }
        };
        for (id, shown) in ancestors {
            if self.inode(*id)?.is_dir() {
                deny(*id, shown, EXECUTE)?;
            }
        }
        if check.ancestor != 0 {
            if let Some((id, shown)) = ancestors.last() {
                deny(*id, shown, check.ancestor)?;
            }
        }
        if check.parent != 0 && chain.len() >= comps.len() && !comps.is_empty() {
            let (id, shown) = &chain[comps.len() - 1];
            deny(*id, shown, check.parent)?;
        }
        if !target_exists {
            return Ok(());
        }
        let Some((target, shown)) = chain.last() else {
            return Ok(());
        };
        let inode = self.inode(*target)?;
        let owner = self.names.get(inode.owner);
        if check.owner && owner != who.user {
            return Err(NamenodeError::PermissionDenied(format!(
                "Permission denied: user={} is not the owner of inode=\"{shown}\" (owner {owner})",
                who.user
            )));
        }
        // A file's execute bit means nothing (as in HDFS): "r-x" on a file
        // (LISTSTATUS of a file) asks for read.
        let target_access = if inode.is_dir() {
            check.target
        } else {
            check.target & !EXECUTE
        };
        deny(*target, shown, target_access)?;
        if check.subtree != 0 && inode.is_dir() {
            self.check_subtree(who, *target, shown, check.subtree)?;
        }
        Ok(())
    }

    /// A read through `DIR/.snapshot/NAME/...` is checked against the
    /// inodes as the snapshot saw them (HDFS's rule): execute on every
    /// directory on the way, the target's access on the target. Changes
    /// there are refused by the commands themselves (read-only).
    fn check_snapshot_read(
        &self,
        who: &Principal,
        chain: &[(&Inode, String)],
        check: &Check,
    ) -> Result<()> {
        let Some(((target, shown), above)) = chain.split_last() else {
            return Ok(());
        };
        for (inode, shown) in above {
            if inode.is_dir() && !allowed(&self.names, inode, who, EXECUTE) {
                return Err(denied(&self.names, who, EXECUTE, shown, inode));
            }
        }
        let access = if target.is_dir() {
            check.target | check.subtree
        } else {
            check.target & !EXECUTE
        };
        if !allowed(&self.names, target, who, access) {
            return Err(denied(&self.names, who, access, shown, target));
        }
        Ok(())
    }

    /// Every directory below `id` (and `id`) allows `access` to `who`.
    fn check_subtree(&self, who: &Principal, id: InodeId, shown: &str, access: u16) -> Result<()> {
        let mut stack: Vec<(InodeId, String)> = vec![(id, shown.to_string())];
        while let Some((id, shown)) = stack.pop() {
            let inode = self.inode(id)?;
            if !inode.is_dir() {
                continue;
            }
            if !allowed(&self.names, inode, who, access) {
                return Err(denied(&self.names, who, access, &shown, inode));
            }
            for &child in inode.children() {
                let base = shown.trim_end_matches('/');
                stack.push((child, format!("{base}/{}", self.name_of(child))));
            }
        }
        Ok(())
    }

    /// May `who` go on with the write `file_id` (add blocks, complete,
    /// abandon)? Its creator may; an append (whose pending record carries
    /// the file's owner) also anyone with write access to the file. An
    /// unknown id passes: the operation itself then answers 404.
    pub fn check_writer(&self, who: &Principal, file_id: dfs_common::ids::FileId) -> Result<()> {
        let Some(p) = self.pending.get(&file_id) else {
            return Ok(());
        };
        if who.superuser || p.file.owner == who.user {
            return Ok(());
        }
        if p.file.append.is_some() {
            return self.check_permission(who, &p.file.path, &Check::target(WRITE));
        }
        Err(NamenodeError::PermissionDenied(format!(
            "Permission denied: user={} is not the writer of {}",
            who.user, p.file.path
        )))
    }
}

fn denied(
    names: &Names,
    who: &Principal,
    access: u16,
    shown: &str,
    inode: &Inode,
) -> NamenodeError {
    let r = inode;
    NamenodeError::PermissionDenied(format!(
        "Permission denied: user={}, access={}, inode=\"{shown}\":{}:{}:{}{}",
        who.user,
        access_text(access),
        names.get(r.owner),
        names.get(r.group),
        if inode.is_dir() { 'd' } else { '-' },
        mode_text(r.permission)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta_store::Txn;
    use dfs_common::proto::client::SetAttributesRequest;

    fn p(s: &str) -> DfsPath {
        DfsPath::parse(s).unwrap()
    }

    fn user(name: &str, groups: &[&str]) -> Principal {
        Principal {
            user: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            superuser: false,
        }
    }

    /// `/home/alice` (alice, 750, group staff), `/home/alice/sub/deep`
    /// (alice 755), `/pub` (dfs 777).
    fn tree() -> Namespace {
        let mut txn = Txn::new();
        let mut ns = Namespace::new(1, &mut txn);
        ns.mkdirs_as(
            &p("/home/alice/sub/deep"),
            true,
            Some("alice"),
            None,
            1,
            &mut txn,
        )
        .unwrap();
        ns.mkdirs_as(&p("/pub"), true, None, Some(0o777), 1, &mut txn)
            .unwrap();
        for (path, owner, mode) in [("/home", "dfs", 0o755), ("/home/alice", "alice", 0o750)] {
            ns.set_attributes(
                &SetAttributesRequest {
                    path: p(path),
                    owner: Some(owner.into()),
                    group: Some("staff".into()),
                    permission: Some(mode),
                    ..Default::default()
                },
                &mut txn,
            )
            .unwrap();
        }
        ns
    }

    #[test]
    fn mode_bits_by_owner_group_other() {
        let ns = tree();
        let alice = user("alice", &[]);
        let bob_staff = user("bob", &["staff"]);
        let eve = user("eve", &[]);
        let write_in = Check::parent(WRITE | EXECUTE);
        let f = p("/home/alice/new.txt");
        ns.check_permission(&alice, &f, &write_in).unwrap();
        // Group has r-x: may list but not write.
        let e = ns.check_permission(&bob_staff, &f, &write_in).unwrap_err();
        assert!(matches!(e, NamenodeError::PermissionDenied(_)), "{e}");
        assert!(e.to_string().contains("user=bob"), "{e}");
        ns.check_permission(
            &bob_staff,
            &p("/home/alice"),
            &Check::target(READ | EXECUTE),
        )
        .unwrap();
        // Others have nothing on /home/alice: not even traverse.
        assert!(ns
            .check_permission(&eve, &p("/home/alice/sub"), &Check::traverse())
            .is_err());
        assert!(ns
            .check_permission(&eve, &p("/home/alice/sub/x"), &Check::ancestor(WRITE))
            .is_err());
        // Anyone writes in /pub (777); nobody but the superuser in /.
        ns.check_permission(&eve, &p("/pub/x"), &write_in).unwrap();
        assert!(ns.check_permission(&eve, &p("/x"), &write_in).is_err());
        let root = Principal {
            superuser: true,
            ..user("root", &[])
        };
        ns.check_permission(&root, &p("/home/alice/x"), &write_in)
            .unwrap();
    }

    #[test]
    fn ancestor_owner_and_subtree() {
        let ns = tree();
        let alice = user("alice", &[]);
        let bob = user("bob", &["staff"]);
        // mkdir -p under alice's tree: write on the deepest existing one.
        ns.check_permission(&alice, &p("/home/alice/sub/a/b"), &Check::ancestor(WRITE))
            .unwrap();
        assert!(ns
            .check_permission(&bob, &p("/home/alice/sub/a/b"), &Check::ancestor(WRITE))
            .is_err());
        // chmod: the owner only.
        ns.check_permission(&alice, &p("/home/alice"), &Check::owner())
            .unwrap();
        assert!(ns
            .check_permission(&bob, &p("/home/alice"), &Check::owner())
            .is_err());
        // Recursive delete needs write on every directory below.
        let rm = Check {
            parent: WRITE | EXECUTE,
            subtree: WRITE | EXECUTE,
            ..Check::default()
        };
        assert!(ns.check_permission(&bob, &p("/home/alice"), &rm).is_err());
        // A missing target is left to the operation (404), after traverse.
        ns.check_permission(&alice, &p("/home/alice/none"), &Check::target(READ))
            .unwrap();
        assert_eq!(mode_text(0o750), "rwxr-x---");
    }

    /// Creates and completes an empty file at `path` written by `owner`
    /// (`create_parent` on, as every upload door sends it).
    fn upload_empty(ns: &mut Namespace, path: &str, owner: &str) {
        use crate::namespace::tests::{WriteDefaults, WriteOps};
        use dfs_common::checksum::Sha256Digest;
        use dfs_common::proto::client::{CompleteRequest, CreateRequest};
        let mut txn = Txn::new();
        let req: CreateRequest =
            serde_json::from_value(serde_json::json!({ "path": path, "owner": owner })).unwrap();
        let defaults = WriteDefaults {
            replication: 3,
            block_size: 4096,
        };
        let now = tokio::time::Instant::now();
        let file_id = ns
            .t_create(&req, &defaults, 2, now, &mut txn)
            .unwrap()
            .file_id;
        let done = CompleteRequest {
            file_id,
            blocks: Vec::new(),
            length: 0,
            sha256: Sha256Digest::of(b""),
            sha256_state: None,
            xattrs: None,
        };
        ns.t_complete(&done, 3, now, &mut txn, &mut Vec::new())
            .unwrap();
    }

    #[test]
    fn parents_an_upload_makes_are_the_writers() {
        let mut ns = tree();
        let alice = user("alice", &[]);
        let bob = user("bob", &["staff"]);
        let first = p("/home/alice/photos/2024/a.jpg");
        ns.check_permission(&alice, &first, &Check::ancestor(WRITE))
            .unwrap();
        upload_empty(&mut ns, first.as_str(), "alice");
        // As `mkdir -p` makes them: hers, the default mode, the group of
        // the directory they were made in.
        for d in ["/home/alice/photos", "/home/alice/photos/2024"] {
            let st = ns.status(&p(d)).unwrap();
            assert_eq!(
                (st.owner.as_str(), st.group.as_str(), st.permission),
                ("alice", "staff", super::super::inode::DIR_PERMISSION),
                "{d}"
            );
        }
        assert_eq!(ns.status(&first).unwrap().owner, "alice");
        // She goes on writing into them (the refusal the issue showed was
        // `access=-w-, inode="/home/alice/photos":dfs:supergroup`) ...
        let next = p("/home/alice/photos/2024/b.jpg");
        ns.check_permission(&alice, &next, &Check::ancestor(WRITE))
            .unwrap();
        ns.check_permission(
            &alice,
            &p("/home/alice/photos/2025/c.jpg"),
            &Check::ancestor(WRITE),
        )
        .unwrap();
        // ... and removes the whole tree, which bob (group r-x) may not.
        let rm_r = Check {
            parent: WRITE | EXECUTE,
            subtree: WRITE | EXECUTE,
            ..Check::default()
        };
        ns.check_permission(&alice, &p("/home/alice/photos"), &rm_r)
            .unwrap();
        assert!(ns
            .check_permission(&bob, &p("/home/alice/photos"), &rm_r)
            .is_err());
        assert!(ns
            .check_permission(&bob, &next, &Check::ancestor(WRITE))
            .is_err());
        // A write without an owner (access control off, nobody named)
        // makes them the default owner's, as before.
        upload_empty(&mut ns, "/pub/x/y.txt", "");
        assert_eq!(
            ns.status(&p("/pub/x")).unwrap().owner,
            super::super::inode::DEFAULT_OWNER
        );
    }

    #[test]
    fn new_inodes_take_the_parent_group() {
        let mut ns = tree();
        let mut txn = Txn::new();
        let st = ns
            .mkdirs_as(
                &p("/home/alice/new/deeper"),
                true,
                Some("alice"),
                None,
                1,
                &mut txn,
            )
            .unwrap();
        assert_eq!(st.group, "staff");
        assert_eq!(ns.status(&p("/home/alice/new")).unwrap().group, "staff");
        assert_eq!(ns.status(&p("/pub")).unwrap().group, "supergroup");
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;
    use crate::meta_store::Txn;
    use dfs_common::proto::client::SetAttributesRequest;

    fn p(s: &str) -> DfsPath {
        DfsPath::parse(s).unwrap()
    }

    /// A read through `.snapshot` is checked against the inodes as the
    /// snapshot saw them: a directory closed to bob then stays closed to
    /// him there, even after it is opened in the live tree (not a way
    /// around the permission bits).
    #[test]
    fn snapshot_reads_are_checked_as_the_snapshot_saw_them() {
        let mut txn = Txn::new();
        let mut ns = Namespace::new(1, &mut txn);
        ns.mkdirs_as(&p("/d"), true, None, Some(0o755), 1, &mut txn)
            .unwrap();
        ns.mkdirs_as(
            &p("/d/private"),
            true,
            Some("alice"),
            Some(0o700),
            1,
            &mut txn,
        )
        .unwrap();
        ns.allow_snapshot(&p("/d"), &mut txn).unwrap();
        ns.create_snapshot(&p("/d"), "s", 2, &mut txn).unwrap();
        let bob = Principal {
            user: "bob".into(),
            groups: vec![],
            superuser: false,
        };
        let alice = Principal {
            user: "alice".into(),
            ..bob.clone()
        };
        let list = Check::target(READ | EXECUTE);
        let through = p("/d/.snapshot/s/private");
        assert!(matches!(
            ns.check_permission(&bob, &through, &list),
            Err(NamenodeError::PermissionDenied(_))
        ));
        ns.check_permission(&alice, &through, &list).unwrap();
        // Opened in the live tree: bob may list it there, not in the snapshot.
        ns.set_attributes(
            &SetAttributesRequest {
                path: p("/d/private"),
                permission: Some(0o755),
                ..Default::default()
            },
            &mut txn,
        )
        .unwrap();
        ns.check_permission(&bob, &p("/d/private"), &list).unwrap();
        let e = ns.check_permission(&bob, &through, &list).unwrap_err();
        assert!(e.to_string().contains("/d/.snapshot/s/private"), "{e}");
        // The snapshot list itself: as the directory.
        ns.check_permission(&bob, &p("/d/.snapshot"), &list)
            .unwrap();
    }
}
