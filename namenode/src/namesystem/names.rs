//! The namespace operations of [`Namesystem`] (HDFS FSDirectory calls):
//! mkdirs, status, list, rename, delete, replication and attributes, each
//! checked against safe mode and applied as a [`Command`] through
//! `Namesystem::execute`.
use super::*;

impl Namesystem {
    /// Access control (on): may `who` do what `check` describes on `path`?
    pub fn check_permission(&self, who: &Principal, path: &DfsPath, check: &Check) -> Result<()> {
        self.lock()?.check_permission(who, path, check)
    }

    /// Access control (on): may `who` go on with the write `file_id`? (See
    /// `Namespace::check_writer`.)
    pub fn check_writer(&self, who: &Principal, file_id: dfs_common::ids::FileId) -> Result<()> {
        self.lock()?.check_writer(who, file_id)
    }

    pub async fn mkdirs(&self, path: &DfsPath, parents: bool) -> Result<FileStatus> {
        self.check_writable()?;
        self.mkdirs_as(path, parents, None, None).await
    }

    pub fn status(&self, path: &DfsPath) -> Result<FileStatus> {
        self.lock()?.status(path)
    }

    pub fn list(
        &self,
        path: &DfsPath,
        start_after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<DirectoryListing> {
        self.lock()?.list(path, start_after, limit)
    }

    /// Entries of a directory after `name` (see `Namespace::count_after`).
    pub fn count_after(&self, path: &DfsPath, name: &str) -> Result<u64> {
        self.lock()?.count_after(path, name)
    }

    pub async fn rename(
        &self,
        src: &DfsPath,
        dst: &DfsPath,
        overwrite: bool,
    ) -> Result<FileStatus> {
        self.check_writable()?;
        status(
            self.execute(Command::Rename {
                src: src.clone(),
                dst: dst.clone(),
                overwrite,
            })
            .await?,
        )
    }

    pub async fn delete(&self, path: &DfsPath, recursive: bool) -> Result<DeleteResponse> {
        self.check_writable()?;
        let cmd = Command::Delete {
            path: path.clone(),
            recursive,
        };
        let Outcome::Deleted(r) = self.execute(cmd).await? else {
            return Err(unexpected_outcome());
        };
        log::info!(
            "deleted {path}: {} files, {} directories",
            r.files_deleted,
            r.directories_deleted
        );
        Ok(r)
    }

    /// `setrep`: the file's blocks go to the replication monitor (copies
    /// when raised, excess deletions when lowered).
    pub async fn set_replication(&self, path: &DfsPath, replication: u16) -> Result<FileStatus> {
        self.check_writable()?;
        status(
            self.execute(Command::SetReplication {
                path: path.clone(),
                replication,
            })
            .await?,
        )
    }

    /// `mkdir [-p]` with owner and mode for the directories it makes.
    pub async fn mkdirs_as(
        &self,
        path: &DfsPath,
        parents: bool,
        owner: Option<&str>,
        permission: Option<u16>,
    ) -> Result<FileStatus> {
        self.check_writable()?;
        status(
            self.execute(Command::Mkdirs {
                path: path.clone(),
                parents,
                owner: owner.map(str::to_string),
                permission,
            })
            .await?,
        )
    }

    /// Times, mode, owner and group (WebHDFS SETTIMES, SETPERMISSION,
    /// SETOWNER).
    pub async fn set_attributes(&self, req: &SetAttributesRequest) -> Result<FileStatus> {
        self.check_writable()?;
        status(
            self.execute(Command::SetAttributes {
                path: req.path.clone(),
                mtime: req.modification_time,
                atime: req.access_time,
                permission: req.permission,
                owner: req.owner.clone(),
                group: req.group.clone(),
            })
            .await?,
        )
    }
}

/// The status a status-giving command gave.
fn status(o: Outcome) -> Result<FileStatus> {
    match o {
        Outcome::Status(s) => Ok(s),
        _ => Err(unexpected_outcome()),
    }
}
