//! `put`: where each local source goes (decided from what exists, by
//! [`plan_put`]), then the uploads, one file at a time.
//!
//! Invariants:
//! - As `hdfs dfs -put`: into an existing remote directory under the local
//!   base name; several sources need an existing directory; a local
//!   directory only with `-r`; stdin only alone and to a named file; a new
//!   REMOTE needs its parent to exist (it is not made).
//! - A regular file is uploaded as a seekable source (a block whose
//!   pipeline fails is read again); stdin, pipes and devices as plain
//!   streams.
//! - A local tree is walked directory by directory, in name order; links
//!   to files are followed, links to directories refused (they could
//!   loop).
use crate::cli::args::PutArgs;
use crate::cli::ctx::{parse_path, Ctx};
use crate::cli::output::emit_json;
use crate::cli::progress::{say_done, Bar};
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
}
