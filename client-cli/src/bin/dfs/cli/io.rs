//! Byte-moving verbs: `put`, `get`, `cat`.
//!
//! Where things go is decided by pure functions ([`plan_put`],
//! [`get_destination`], [`temp_path_for`]) from what exists, then the
//! transfers run through `dfs_client` (which verifies every byte).
//!
//! Invariants:
//! - `get` into a local file writes a temp file beside the destination and
//!   renames it only after the whole file arrived verified and was synced, so
//!   a failed or interrupted download leaves no half file: every way out
//!   before the rename removes the temp file ([`TempGuard`]).
//! - `get` never replaces an existing local file without `-f` (as `hdfs dfs
//!   -get`, and as `put` treats remote files): it refuses before
//!   downloading, and the final step does not replace a file that appeared
//!   meanwhile either ([`move_into_place`]).
//! - `put` follows `hdfs dfs -put`: into an existing remote directory under
//!   the local base name; several sources need an existing directory; a local
//!   directory only with `-r`.
//! - `put` of a regular file uploads it as a seekable source, so a block
//!   whose datanode pipeline fails is read again and resent; stdin and other
//!   unseekable sources get the library's in-memory retry only.
//! - Progress bars only where [`Ctx::progress`] allows, and for `cat`/`get -`
//!   only when stdout is a regular file (a bar next to a pager is noise).
use super::args::PutArgs;
use super::ctx::{parse_path, Ctx};
use super::output::{emit_json, transfer_line};
use super::progress::Bar;
use crate::error::{hint, io_failure, is_not_found, CliError, CliResult};
use dfs_client::UploadOptions;
use dfs_common::path::DfsPath;
use dfs_common::proto::client::{FileStatus, FileType};
use std::path::{Path, PathBuf};
use tokio::io::BufReader;

const IO_BUFFER: usize = 1 << 20;

/// What a `put` source is on the local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    Stdin,
    /// A file (or anything readable); `len` known for regular files.
    File {
        len: Option<u64>,
    },
    Dir,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSource {
    /// As the user typed it (for messages).
    pub arg: String,
    pub path: PathBuf,
    pub kind: SourceKind,
    /// The base name a remote copy gets; `None` for stdin or a name that is
    /// not UTF-8.
    pub name: Option<String>,
}

/// One thing `put` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutItem {
    /// Upload one file (or stdin) to `dest`.
    File { source: LocalSource, dest: DfsPath },
    /// Upload a local directory tree so that it becomes `dest`.
    Tree { source: LocalSource, dest: DfsPath },
}

/// Decides where each source goes, from what REMOTE is (`None`: missing).
pub fn plan_put(
    sources: &[LocalSource],
    remote_arg: &str,
    remote: &DfsPath,
    remote_kind: Option<FileType>,
    recursive: bool,
) -> CliResult<Vec<PutItem>> {
    if sources.len() > 1 && sources.iter().any(|s| s.kind == SourceKind::Stdin) {
        return Err(CliError::Usage(
            "'-' (stdin) must be the only source".into(),
        ));
    }
    if let Some(d) = sources
        .iter()
        .find(|s| s.kind == SourceKind::Dir && !recursive)
    {
        return Err(CliError::Usage(format!(
            "{} is a directory (use -r to upload it)",
            d.arg
        )));
    }
    let into_dir = remote_kind == Some(FileType::Directory);
    if sources.len() > 1 && !into_dir {
        return Err(CliError::Usage(format!(
            "target {remote_arg} is not an existing directory (several sources need one)"
        )));
    }
    if remote_arg.ends_with('/') && !remote.is_root() {
        match remote_kind {
            None => return Err(no_such_directory(remote)),
            Some(FileType::File) => {
                return Err(CliError::Usage(format!("{remote} is not a directory")))
            }
            Some(FileType::Directory) => {}
        }
    }
    let inside = |s: &LocalSource| -> CliResult<DfsPath> {
        let name = s.name.as_deref().ok_or_else(|| {
            CliError::Failed(format!("cannot name a remote file after {}", s.arg))
        })?;
        remote
            .join(name)
            .map_err(|e| CliError::Failed(format!("{}: {e}", s.arg)))
    };
    sources
        .iter()
        .map(|s| {
            let item = match s.kind {
                SourceKind::Stdin if into_dir => {
                    return Err(CliError::Usage(format!(
                        "{remote} is a directory: name the file to write stdin to"
                    )))
                }
                SourceKind::Stdin => PutItem::File {
                    source: s.clone(),
                    dest: remote.clone(),
                },
                SourceKind::File { .. } => {
                    let dest = if into_dir { inside(s)? } else { remote.clone() };
                    PutItem::File {
                        source: s.clone(),
                        dest,
                    }
                }
                SourceKind::Dir => {
                    if remote_kind == Some(FileType::File) {
                        return Err(CliError::Usage(format!(
                            "cannot put directory {} onto file {remote}",
                            s.arg
                        )));
                    }
                    let dest = if into_dir { inside(s)? } else { remote.clone() };
                    PutItem::Tree {
                        source: s.clone(),
                        dest,
                    }
                }
            };
            Ok(item)
        })
        .collect()
}

/// `put` into a directory that is not there (as `hdfs dfs -put`, it is not
/// made: a typo should not grow a tree).
fn no_such_directory(dir: &DfsPath) -> CliError {
    CliError::Failed(format!(
        "{dir}: no such directory (make it first: dfs mkdir -p {dir})"
    ))
}

/// Looks at a `put` source on the local disk.
pub fn classify(arg: &str) -> CliResult<LocalSource> {
    if arg == "-" {
        return Ok(LocalSource {
            arg: arg.into(),
            path: PathBuf::new(),
            kind: SourceKind::Stdin,
            name: None,
        });
    }
    let path = PathBuf::from(arg);
    let meta = std::fs::metadata(&path).map_err(|e| io_failure(arg, &e))?;
    let kind = if meta.is_dir() {
        SourceKind::Dir
    } else {
        SourceKind::File {
            len: meta.is_file().then_some(meta.len()),
        }
    };
    // "." or "dir/.." have no file name of their own: use the real one.
    let name = match path.file_name() {
        Some(n) => n.to_str().map(str::to_string),
        None => std::fs::canonicalize(&path)
            .ok()
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string)),
    };
    Ok(LocalSource {
        arg: arg.into(),
        path,
        kind,
        name,
    })
}

/// A local tree as remote directories (parents first, `dest` first) and
/// files with their lengths. Symbolic links to files are followed; to
/// directories they are refused (they could loop).
pub type Tree = (Vec<DfsPath>, Vec<(PathBuf, DfsPath, u64)>);

pub fn walk_tree(root: &Path, dest: &DfsPath) -> CliResult<Tree> {
    let mut dirs = vec![dest.clone()];
    let mut files = Vec::new();
    let mut stack = vec![(root.to_path_buf(), dest.clone())];
    while let Some((local, remote)) = stack.pop() {
        let mut entries = std::fs::read_dir(&local)
            .and_then(|rd| rd.collect::<Result<Vec<_>, _>>())
            .map_err(|e| io_failure(local.display(), &e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| {
                CliError::Failed(format!("{}: name is not UTF-8", path.display()))
            })?;
            let target = remote
                .join(name)
                .map_err(|e| CliError::Failed(format!("{}: {e}", path.display())))?;
            let link = entry
                .file_type()
                .map_err(|e| io_failure(path.display(), &e))?
                .is_symlink();
            let meta = std::fs::metadata(&path).map_err(|e| io_failure(path.display(), &e))?;
            if meta.is_dir() {
                if link {
                    return Err(CliError::Failed(format!(
                        "{} is a symbolic link to a directory (not followed)",
                        path.display()
                    )));
                }
                dirs.push(target.clone());
                subdirs.push((path, target));
            } else if meta.is_file() {
                files.push((path, target, meta.len()));
            } else {
                return Err(CliError::Failed(format!(
                    "{} is not a regular file",
                    path.display()
                )));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok((dirs, files))
}

pub async fn put(ctx: &Ctx, args: &PutArgs) -> CliResult {
    let remote = parse_path(&args.remote)?;
    let sources = args
        .sources
        .iter()
        .map(|s| classify(s))
        .collect::<CliResult<Vec<_>>>()?;
    let remote_kind = match ctx.client.status(&remote).await {
        Ok(s) => Some(s.file_type),
        Err(e) if is_not_found(&e) => None,
        Err(e) => return Err(e.into()),
    };
    let plan = plan_put(&sources, &args.remote, &remote, remote_kind, args.recursive)?;
    if remote_kind.is_none() {
        // REMOTE names the new file or tree: its parent must be there.
        let parent = remote.parent().unwrap_or_else(DfsPath::root);
        match ctx.client.status(&parent).await {
            Ok(s) if s.file_type == FileType::Directory => {}
            Ok(_) => return Err(CliError::Failed(format!("{parent} is not a directory"))),
            Err(e) if is_not_found(&e) => return Err(no_such_directory(&parent)),
            Err(e) => return Err(e.into()),
        }
    }
    let summary = !ctx.json && (ctx.progress || args.verbose);
    let opts = UploadOptions {
        overwrite: args.force,
        create_parent: false,
        replication: args.replication,
        block_size: args.block_size.map(|b| b.0),
        ..Default::default()
    };
    let mut written: Vec<FileStatus> = Vec::new();
    for item in plan {
        match item {
            PutItem::File { source, dest } => {
                let len = match source.kind {
                    SourceKind::File { len } => len,
                    _ => None,
                };
                let started = std::time::Instant::now();
                let done = upload_one(ctx, &source.arg, &source.path, len, &dest, &opts).await?;
                if summary {
                    say_done("put", &source.arg, dest.as_str(), done.length, started);
                }
                written.push(done);
            }
            PutItem::Tree { source, dest } => {
                let (dirs, files) = walk_tree(&source.path, &dest)?;
                for d in &dirs {
                    ctx.client.mkdirs(d, true).await?;
                }
                for (local, remote, len) in files {
                    let arg = local.display().to_string();
                    let started = std::time::Instant::now();
                    let done = upload_one(ctx, &arg, &local, Some(len), &remote, &opts).await?;
                    if summary {
                        say_done("put", &arg, remote.as_str(), done.length, started);
                    }
                    written.push(done);
                }
            }
        }
    }
    if ctx.json {
        emit_json(&written)?;
    }
    Ok(())
}

/// The one-line summary of a finished transfer, on stderr (stdout may be
/// the data, or JSON).
fn say_done(verb: &str, from: &str, to: &str, bytes: u64, started: std::time::Instant) {
    use std::io::Write;
    let line = transfer_line(verb, from, to, bytes, started.elapsed().as_secs_f64());
    let _ = std::io::stderr().write_all(line.as_bytes());
}

async fn upload_one(
    ctx: &Ctx,
    arg: &str,
    local: &Path,
    len: Option<u64>,
    dest: &DfsPath,
    opts: &UploadOptions,
) -> CliResult<FileStatus> {
    let bar = Bar::new(ctx.progress, len, dest.as_str());
    // In the CLI's words: the flag is -f.
    let exists = |e: &dfs_client::ClientError| {
        !opts.overwrite && e.code() == dfs_common::error::ErrorCode::Conflict
    };
    let exists_hint = "use -f to overwrite";
    if arg == "-" {
        let stdin = BufReader::with_capacity(IO_BUFFER, tokio::io::stdin());
        let done = ctx.client.upload(dest, stdin, opts, &bar).await;
        return done.map_err(|e| hint(e, exists, exists_hint));
    }
    let file = tokio::fs::File::open(local)
        .await
        .map_err(|e| io_failure(arg, &e))?;
    let reader = BufReader::with_capacity(IO_BUFFER, file);
    if len.is_some() {
        // A regular file can be read again: a block whose pipeline fails is
        // resent whatever its size.
        let done = ctx.client.upload_seekable(dest, reader, opts, &bar).await;
        done.map_err(|e| hint(e, exists, exists_hint))
    } else {
        // A pipe or device: only the in-memory retry of a block's first MiBs.
        let done = ctx.client.upload(dest, reader, opts, &bar).await;
        done.map_err(|e| hint(e, exists, exists_hint))
    }
}

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
pub async fn get(ctx: &Ctx, remote: &str, local: &str, force: bool, verbose: bool) -> CliResult {
    let rpath = parse_path(remote)?;
    let status = ctx.client.status(&rpath).await?;
    if status.file_type == FileType::Directory {
        return Err(CliError::Failed(format!(
            "{rpath} is a directory (get copies one file; see dfs ls -R {rpath})"
        )));
    }
    if local == "-" {
        return to_stdout(ctx, &rpath, Some(status.length)).await;
    }
    let kind = LocalKind::of(Path::new(local)).map_err(|e| io_failure(local, &e))?;
    let dest = get_destination(local, kind, &status.name)?;
    let existing = LocalKind::of(&dest).map_err(|e| io_failure(dest.display(), &e))?;
    check_replace(&dest, existing, force)?;
    let tmp = temp_path_for(&dest, std::process::id())?;
    let _ = std::fs::remove_file(&tmp); // a leftover of an earlier run with our pid
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| cannot_write(&dest, &e))?;
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
    let target = dest.clone();
    tokio::task::spawn_blocking(move || {
        file.sync_all()
            .map_err(|e| io_failure(format!("cannot write {}", target.display()), &e))?;
        drop(file);
        move_into_place(&tmp, &target, force)
    })
    .await
    .map_err(|e| CliError::Failed(format!("writing {}: {e}", dest.display())))??;
    if ctx.json {
        emit_json(&done)?;
    } else if ctx.progress || verbose {
        let to = dest.display().to_string();
        say_done("get", rpath.as_str(), &to, status.length, started);
    }
    Ok(())
}

pub async fn cat(ctx: &Ctx, paths: &[String]) -> CliResult {
    let paths = paths
        .iter()
        .map(|p| parse_path(p))
        .collect::<CliResult<Vec<_>>>()?;
    for p in &paths {
        to_stdout(ctx, p, None).await?;
    }
    Ok(())
}

/// True when stdout is a regular file (`dfs cat f > copy`).
fn stdout_is_regular_file() -> bool {
    // SAFETY: fstat only writes into the `stat` we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::fstat(libc::STDOUT_FILENO, &mut st) } == 0;
    ok && (st.st_mode & libc::S_IFMT) == libc::S_IFREG
}

async fn to_stdout(ctx: &Ctx, path: &DfsPath, len: Option<u64>) -> CliResult {
    let bar = if ctx.progress && stdout_is_regular_file() {
        let len = match len {
            Some(n) => Some(n),
            None => Some(ctx.client.status(path).await?.length),
        };
        Bar::new(true, len, path.as_str())
    } else {
        Bar::none()
    };
    ctx.client.download_to(path, RawStdout, &bar).await?;
    Ok(())
}

/// Standard output without std's line buffering (which splits binary data
/// at its last newline and copies the rest).
struct RawStdout;

impl std::io::Write for RawStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: fd 1 stays open for the process's life; `ManuallyDrop`
        // keeps this `File` from closing it.
        use std::os::fd::FromRawFd;
        let mut out =
            std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(libc::STDOUT_FILENO) });
        std::io::Write::write(&mut *out, buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(arg: &str) -> LocalSource {
        LocalSource {
            arg: arg.into(),
            path: arg.into(),
            kind: SourceKind::File { len: Some(1) },
            name: Path::new(arg)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
        }
    }
    fn dir(arg: &str) -> LocalSource {
        LocalSource {
            kind: SourceKind::Dir,
            ..file(arg)
        }
    }
    fn stdin() -> LocalSource {
        LocalSource {
            arg: "-".into(),
            path: PathBuf::new(),
            kind: SourceKind::Stdin,
            name: None,
        }
    }
    fn p(s: &str) -> DfsPath {
        DfsPath::parse(s).unwrap()
    }
    fn dests(items: &[PutItem]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                PutItem::File { dest, .. } => format!("file {dest}"),
                PutItem::Tree { dest, .. } => format!("tree {dest}"),
            })
            .collect()
    }
    const DIR: Option<FileType> = Some(FileType::Directory);
    const FILE: Option<FileType> = Some(FileType::File);

    #[test]
    fn put_one_file() {
        let s = [file("data/a.txt")];
        // into an existing directory, under its base name
        assert_eq!(
            dests(&plan_put(&s, "/d", &p("/d"), DIR, false).unwrap()),
            ["file /d/a.txt"]
        );
        assert_eq!(
            dests(&plan_put(&s, "/", &p("/"), DIR, false).unwrap()),
            ["file /a.txt"]
        );
        // to a new name, or over an existing file (the server checks -f)
        assert_eq!(
            dests(&plan_put(&s, "/b.txt", &p("/b.txt"), None, false).unwrap()),
            ["file /b.txt"]
        );
        assert_eq!(
            dests(&plan_put(&s, "/b.txt", &p("/b.txt"), FILE, false).unwrap()),
            ["file /b.txt"]
        );
        // a trailing slash promises a directory
        assert_eq!(
            dests(&plan_put(&s, "/d/", &p("/d"), DIR, false).unwrap()),
            ["file /d/a.txt"]
        );
        assert_eq!(
            plan_put(&s, "/d/", &p("/d"), None, false)
                .unwrap_err()
                .exit_code(),
            1
        );
        assert_eq!(
            plan_put(&s, "/d/", &p("/d"), FILE, false)
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn put_several() {
        let s = [file("a"), file("x/b")];
        assert_eq!(
            dests(&plan_put(&s, "/d", &p("/d"), DIR, false).unwrap()),
            ["file /d/a", "file /d/b"]
        );
        for kind in [None, FILE] {
            let e = plan_put(&s, "/d", &p("/d"), kind, false).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e:?}");
        }
    }

    #[test]
    fn put_stdin() {
        assert_eq!(
            dests(&plan_put(&[stdin()], "/f", &p("/f"), None, false).unwrap()),
            ["file /f"]
        );
        assert_eq!(
            plan_put(&[stdin()], "/d", &p("/d"), DIR, false)
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            plan_put(&[stdin(), file("a")], "/d", &p("/d"), DIR, false)
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn put_directories() {
        let s = [dir("local/photos")];
        assert_eq!(
            plan_put(&s, "/d", &p("/d"), DIR, false)
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            dests(&plan_put(&s, "/d", &p("/d"), DIR, true).unwrap()),
            ["tree /d/photos"]
        );
        assert_eq!(
            dests(&plan_put(&s, "/new", &p("/new"), None, true).unwrap()),
            ["tree /new"]
        );
        assert_eq!(
            plan_put(&s, "/f", &p("/f"), FILE, true)
                .unwrap_err()
                .exit_code(),
            2
        );
        let mixed = [dir("x"), file("y")];
        assert_eq!(
            dests(&plan_put(&mixed, "/d", &p("/d"), DIR, true).unwrap()),
            ["tree /d/x", "file /d/y"]
        );
    }

    #[test]
    fn put_unnameable() {
        let s = [LocalSource {
            name: None,
            ..file("weird")
        }];
        assert_eq!(
            plan_put(&s, "/d", &p("/d"), DIR, false)
                .unwrap_err()
                .exit_code(),
            1
        );
        assert_eq!(
            dests(&plan_put(&s, "/f", &p("/f"), None, false).unwrap()),
            ["file /f"]
        );
    }

    #[test]
    fn classify_sources() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("a.txt");
        std::fs::write(&f, b"hello").unwrap();
        let s = classify(f.to_str().unwrap()).unwrap();
        assert_eq!(s.kind, SourceKind::File { len: Some(5) });
        assert_eq!(s.name.as_deref(), Some("a.txt"));
        let d = classify(t.path().to_str().unwrap()).unwrap();
        assert_eq!(d.kind, SourceKind::Dir);
        let dot = classify(&format!("{}/.", t.path().display())).unwrap();
        assert_eq!(
            dot.name,
            t.path().file_name().unwrap().to_str().map(str::to_string)
        );
        assert_eq!(classify("-").unwrap().kind, SourceKind::Stdin);
        let missing = classify(t.path().join("nope").to_str().unwrap()).unwrap_err();
        assert!(
            missing
                .message()
                .unwrap()
                .ends_with("nope: No such file or directory"),
            "{missing:?}"
        );
    }

    #[test]
    fn tree_walk() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("top");
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("z.txt"), b"12").unwrap();
        std::fs::write(root.join("b/c/deep"), b"1").unwrap();
        std::fs::write(root.join("a/x"), b"").unwrap();
        let (dirs, files) = walk_tree(&root, &p("/up")).unwrap();
        let dirs: Vec<_> = dirs.iter().map(|d| d.to_string()).collect();
        assert_eq!(dirs, ["/up", "/up/a", "/up/b", "/up/b/c"]);
        let files: Vec<_> = files.iter().map(|(_, r, n)| (r.to_string(), *n)).collect();
        assert_eq!(
            files,
            [
                ("/up/z.txt".to_string(), 2),
                ("/up/a/x".to_string(), 0),
                ("/up/b/c/deep".to_string(), 1)
            ]
        );
    }

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
