//! `get REMOTE LOCAL`: where the file goes (decided from what exists, by
//! [`get_destination`] and [`check_replace`]), then the download into a
//! temp file beside it (written past the page cache), synced and moved
//! into place.
//!
//! Invariants:
//! - The temp file is renamed only after the whole file arrived verified
//!   and was synced, so a failed or interrupted download leaves no half
//!   file: every way out before the rename removes it ([`TempGuard`]).
//! - An existing local file is never replaced without `-f` (as `hdfs dfs
//!   -get`, and as `put` treats remote files): refused before downloading,
//!   and the final step does not replace a file that appeared meanwhile
//!   either ([`move_into_place`]).
//! - LOCAL `-` is stdout, written as `cat` does.
use super::cat::to_stdout;
use crate::cli::ctx::{parse_path, Ctx};
use crate::cli::output::emit_json;
use crate::cli::progress::{say_done, Bar};
use crate::error::{io_failure, CliError, CliResult};
use dfs_common::direct::DirectStream;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::FileType;
use std::path::{Path, PathBuf};

/// What the LOCAL of `get` (or the destination in it) is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    Missing,
    Dir,
    /// A file (or other non-directory, a link included).
    Other,
}

impl LocalKind {
    /// What is at `path`; a link counts as what it points to when that is
    /// a directory, else as `Other` (even dangling: something is there).
    fn of(path: &Path) -> std::io::Result<LocalKind> {
        match std::fs::symlink_metadata(path) {
            Ok(_) if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) => Ok(LocalKind::Dir),
            Ok(_) => Ok(LocalKind::Other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LocalKind::Missing),
            Err(e) => Err(e),
        }
    }
}

/// Where `get` writes: inside LOCAL when it is a directory, else LOCAL.
pub fn get_destination(local_arg: &str, kind: LocalKind, remote_name: &str) -> CliResult<PathBuf> {
    let wants_dir = local_arg.ends_with('/');
    match kind {
        LocalKind::Dir => Ok(Path::new(local_arg).join(remote_name)),
        LocalKind::Missing if wants_dir => {
            Err(CliError::Failed(format!("{local_arg}: no such directory")))
        }
        LocalKind::Other if wants_dir => {
            Err(CliError::Usage(format!("{local_arg} is not a directory")))
        }
        LocalKind::Missing | LocalKind::Other => Ok(PathBuf::from(local_arg)),
    }
}

/// May `get` write `dest`, given what is there now? A directory never; an
/// existing file only with `force`.
pub fn check_replace(dest: &Path, existing: LocalKind, force: bool) -> CliResult {
    match existing {
        LocalKind::Missing => Ok(()),
        LocalKind::Dir => Err(CliError::Failed(format!(
            "{} is a directory",
            dest.display()
        ))),
        LocalKind::Other if force => Ok(()),
        LocalKind::Other => Err(already_exists(dest)),
    }
}

fn already_exists(dest: &Path) -> CliError {
    CliError::Failed(format!(
        "{} already exists (use -f to replace it)",
        dest.display()
    ))
}

/// `.<name>.dfs-part-<pid>` beside `dest` (same directory, so the final
/// rename cannot cross file systems).
pub fn temp_path_for(dest: &Path, pid: u32) -> CliResult<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| CliError::Usage(format!("{} does not name a file", dest.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".dfs-part-{pid}"));
    Ok(match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp_name),
        _ => PathBuf::from(tmp_name),
    })
}

/// Why the temp file beside `dest` could not be made, in terms of what the
/// user named (the temp file's name means nothing to them).
fn cannot_write(dest: &Path, e: &std::io::Error) -> CliError {
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty());
    match parent {
        Some(dir) if e.kind() == std::io::ErrorKind::NotFound => CliError::Failed(format!(
            "cannot write {}: no such directory {}",
            dest.display(),
            dir.display()
        )),
        _ => io_failure(format!("cannot write {}", dest.display()), e),
    }
}

/// Puts the finished temp file at `dest`. With `force` it replaces what is
/// there; without, it never does, even if a file appeared at `dest` during
/// the download: a hard link fails on an existing name, atomically (on a
/// file system without hard links, a check then the rename).
fn move_into_place(tmp: &Path, dest: &Path, force: bool) -> CliResult {
    let moved = if force {
        std::fs::rename(tmp, dest)
    } else {
        match std::fs::hard_link(tmp, dest) {
            Ok(()) => {
                // `dest` is whole now; if this fails, `get`'s guard tries
                // again on its way out.
                let _ = std::fs::remove_file(tmp);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
            Err(_) if LocalKind::of(dest).map_or(true, |k| k != LocalKind::Missing) => {
                return Err(already_exists(dest));
            }
            Err(_) => std::fs::rename(tmp, dest),
        }
    };
    moved.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => already_exists(dest),
        _ => io_failure(format!("cannot write {}", dest.display()), &e),
    })
}

/// Removes the temp file unless the download completed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `get REMOTE LOCAL`: LOCAL `-` is stdout; an existing file at the
/// destination is replaced only with `force`.
pub async fn get(
    ctx: &Ctx,
    remote: &str,
    local: &str,
    force: bool,
    verbose: bool,
    recursive: bool,
) -> CliResult {
    let rpath = parse_path(remote)?;
    let status = ctx.client.status(&rpath).await?;
    if status.file_type == FileType::Directory {
        if !recursive || local == "-" {
            return Err(CliError::Failed(format!(
                "{rpath} is a directory (use -r to download it and everything in it)"
            )));
        }
        return get_tree(ctx, &rpath, local, force, verbose).await;
    }
    if local == "-" {
        return to_stdout(ctx, &rpath, Some(status.length)).await;
    }
    let kind = LocalKind::of(Path::new(local)).map_err(|e| io_failure(local, &e))?;
    let dest = get_destination(local, kind, &status.name)?;
    let done = get_file(ctx, &rpath, &status, &dest, force, verbose).await?;
    if ctx.json {
        emit_json(&done)?;
    }
    Ok(())
}

/// `get -r DIR LOCAL`: DIR's tree into LOCAL (into `LOCAL/<name>` when
/// LOCAL is an existing directory), each file as `get` writes one; an
/// existing local file stops it unless `-f`.
async fn get_tree(ctx: &Ctx, rdir: &DfsPath, local: &str, force: bool, verbose: bool) -> CliResult {
    let kind = LocalKind::of(Path::new(local)).map_err(|e| io_failure(local, &e))?;
    let root = match (kind, rdir.name()) {
        (LocalKind::Dir, Some(name)) => Path::new(local).join(name),
        (LocalKind::Dir, None) => PathBuf::from(local),
        (LocalKind::Missing, _) => PathBuf::from(local),
        (LocalKind::Other, _) => {
            return Err(CliError::Failed(format!(
                "{local} exists and is not a directory"
            )))
        }
    };
    let mut got = Vec::new();
    let mut dirs = vec![(rdir.clone(), root)];
    while let Some((rd, ld)) = dirs.pop() {
        std::fs::create_dir_all(&ld).map_err(|e| io_failure(ld.display(), &e))?;
        for e in ctx.client.list(&rd).await? {
            // A name checked by the namenode: no `/`, `.` or `..`.
            let to = ld.join(&e.name);
            if e.file_type == FileType::Directory {
                dirs.push((e.path.clone(), to));
            } else {
                got.push(get_file(ctx, &e.path, &e, &to, force, verbose).await?);
            }
        }
    }
    if ctx.json {
        emit_json(&got)?;
    }
    Ok(())
}

/// Downloads the file `rpath` (`status`) to `dest`: into a temp file
/// beside it, synced, then moved into place. Returns its status as read.
async fn get_file(
    ctx: &Ctx,
    rpath: &DfsPath,
    status: &dfs_common::proto::client::FileStatus,
    dest: &Path,
    force: bool,
    verbose: bool,
) -> CliResult<dfs_common::proto::client::FileStatus> {
    let (rpath, dest) = (rpath.clone(), dest.to_path_buf());
    let existing = LocalKind::of(&dest).map_err(|e| io_failure(dest.display(), &e))?;
    check_replace(&dest, existing, force)?;
    let tmp = temp_path_for(&dest, std::process::id())?;
    let _ = std::fs::remove_file(&tmp); // a leftover of an earlier run with our pid
                                        // Written in large aligned pieces past the page cache (see
                                        // `DirectStream`): filling the cache costs more than the disk write.
    let file = DirectStream::create_new(&tmp).map_err(|e| cannot_write(&dest, &e))?;
    // From here on, every way out (an error, Ctrl-C, success) drops the
    // guard, which removes the temp file if it is still there.
    let _guard = TempGuard(Some(tmp.clone()));
    let bar = Bar::new(ctx.progress, Some(status.length), rpath.as_str());
    let started = std::time::Instant::now();
    let (done, file) = tokio::select! {
        r = ctx.client.download_to(&rpath, file, &bar) => r.map_err(CliError::from),
        _ = tokio::signal::ctrl_c() => Err(CliError::Interrupted),
    }?;
    drop(bar);
    let file = file.into_file();
    let target = dest.clone();
    tokio::task::spawn_blocking(move || {
        file.sync_all()
            .map_err(|e| io_failure(format!("cannot write {}", target.display()), &e))?;
        drop(file);
        move_into_place(&tmp, &target, force)
    })
    .await
    .map_err(|e| CliError::Failed(format!("writing {}: {e}", dest.display())))??;
    if !ctx.json && (ctx.progress || verbose) {
        let to = dest.display().to_string();
        say_done("get", rpath.as_str(), &to, status.length, started);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_destinations() {
        assert_eq!(
            get_destination("out", LocalKind::Dir, "f.bin").unwrap(),
            PathBuf::from("out/f.bin")
        );
        assert_eq!(
            get_destination(".", LocalKind::Dir, "f.bin").unwrap(),
            PathBuf::from("./f.bin")
        );
        assert_eq!(
            get_destination("copy", LocalKind::Missing, "f.bin").unwrap(),
            PathBuf::from("copy")
        );
        assert_eq!(
            get_destination("copy", LocalKind::Other, "f.bin").unwrap(),
            PathBuf::from("copy")
        );
        assert_eq!(
            get_destination("nodir/", LocalKind::Missing, "f")
                .unwrap_err()
                .exit_code(),
            1
        );
        assert_eq!(
            get_destination("file/", LocalKind::Other, "f")
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn temp_paths() {
        assert_eq!(
            temp_path_for(Path::new("out/f.bin"), 42).unwrap(),
            PathBuf::from("out/.f.bin.dfs-part-42")
        );
        assert_eq!(
            temp_path_for(Path::new("f"), 7).unwrap(),
            PathBuf::from(".f.dfs-part-7")
        );
        assert!(temp_path_for(Path::new("/"), 7).is_err());
    }

    #[test]
    fn get_replaces_a_local_file_only_with_force() {
        let f = Path::new("out/f.bin");
        check_replace(f, LocalKind::Missing, false).unwrap();
        check_replace(f, LocalKind::Other, true).unwrap();
        let e = check_replace(f, LocalKind::Other, false).unwrap_err();
        assert_eq!(
            e,
            CliError::Failed("out/f.bin already exists (use -f to replace it)".into())
        );
        for force in [false, true] {
            let e = check_replace(f, LocalKind::Dir, force).unwrap_err();
            assert_eq!(e, CliError::Failed("out/f.bin is a directory".into()));
        }
    }

    #[test]
    fn local_kinds_see_links() {
        let t = tempfile::tempdir().unwrap();
        let (file, dir) = (t.path().join("file"), t.path().join("dir"));
        std::fs::write(&file, b"1").unwrap();
        std::fs::create_dir(&dir).unwrap();
        let link = |name: &str, to: &Path| {
            let l = t.path().join(name);
            std::os::unix::fs::symlink(to, &l).unwrap();
            l
        };
        let kinds = [
            (file.clone(), LocalKind::Other),
            (dir.clone(), LocalKind::Dir),
            (t.path().join("none"), LocalKind::Missing),
            (link("to-file", &file), LocalKind::Other),
            (link("to-dir", &dir), LocalKind::Dir),
            (link("dangling", &t.path().join("none")), LocalKind::Other),
        ];
        for (path, kind) in kinds {
            assert_eq!(LocalKind::of(&path).unwrap(), kind, "{}", path.display());
        }
    }

    #[test]
    fn the_final_move_never_replaces_without_force() {
        let t = tempfile::tempdir().unwrap();
        let (tmp, dest) = (t.path().join(".d.dfs-part-1"), t.path().join("d"));
        // A file appeared at `dest` during the download: kept as it was.
        std::fs::write(&tmp, b"new").unwrap();
        std::fs::write(&dest, b"theirs").unwrap();
        let e = move_into_place(&tmp, &dest, false).unwrap_err();
        assert!(
            matches!(&e, CliError::Failed(m) if m.ends_with("(use -f to replace it)")),
            "{e:?}"
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"theirs");
        // With -f it is replaced.
        move_into_place(&tmp, &dest, true).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert!(!tmp.exists());
        // Nothing there: moved, and the temp name is gone.
        std::fs::remove_file(&dest).unwrap();
        std::fs::write(&tmp, b"again").unwrap();
        move_into_place(&tmp, &dest, false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"again");
        assert!(!tmp.exists());
    }

    #[test]
    fn a_missing_local_directory_is_named_as_typed() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            cannot_write(Path::new("nodir/out.bin"), &e),
            CliError::Failed("cannot write nodir/out.bin: no such directory nodir".into())
        );
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let CliError::Failed(m) = cannot_write(Path::new("ro/out.bin"), &e) else {
            panic!("not a failure");
        };
        assert!(m.starts_with("cannot write ro/out.bin: "), "{m}");
        assert!(!m.contains("dfs-part"), "{m}");
    }

    #[test]
    fn temp_guard_removes() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("x");
        std::fs::write(&f, b"1").unwrap();
        drop(TempGuard(Some(f.clone())));
        assert!(!f.exists());
    }
}
