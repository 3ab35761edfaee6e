//! The `dfs` command line: parse the arguments (clap) into a typed
//! [`Command`](args::Command), run it as one or a few `dfs_client` calls,
//! print the result.
//!
//! It does not know how files become blocks (that is the library) nor how a
//! local cluster is run (that is `local/`).
//!
//! Layout; each module uses only those listed before it, and this file,
//! the dispatch, uses them all:
//! - `args.rs`: the clap definitions;
//! - `ctx.rs`: what every verb needs, and path parsing;
//! - `output/`: tables, JSON, each verb group's text; the only writer of
//!   text to stdout (file bytes go out through `io/cat.rs`);
//! - `progress.rs`: indicatif bars and status lines (only on a terminal),
//!   and the summary line of a finished transfer;
//! - the verbs: `fs.rs` (mkdir, ls, stat, du, rm, mv) · `io/` (put, get,
//!   cat) · `admin.rs` (setrep, checksum, fsck, report, decommission,
//!   recommission, maintenance, safemode) · `metadata.rs` (backup, orphans).
//!
//! Errors (`crate::error`) and times (`crate::time`) sit beside `cli`, as
//! `dfs local` uses them too.
//!
//! Invariants:
//! - Exit status 0 done, 1 failed, 2 misuse; a failure prints exactly one line
//!   `dfs: <message>` on stderr (done by the binary from
//!   [`CliError`](crate::error::CliError)).
//! - With `--json`, stdout holds exactly one JSON document per command (none
//!   when the command's output is file bytes: `cat`, `get REMOTE -`).
//! - Nothing writes to stdout with `println!`: a closed pipe (`dfs cat f |
//!   head`) is [`CliError::BrokenPipe`](crate::error::CliError::BrokenPipe),
//!   which ends the command quietly with 0.
//! - User paths become `DfsPath`s before any request; a bad one is misuse
//!   (exit 2, `dfs: invalid path: ...`).

mod admin;
mod args;
mod ctx;
mod fs;
mod io;
mod metadata;
mod output;
mod progress;
mod verbs;

pub use args::try_parse_from;

use self::args::{Cli, Command, OrphansArg, S3Arg};
use self::ctx::Ctx;
use crate::error::{io_failure, CliError, CliResult};
use dfs_client::DfsClient;
use std::io::IsTerminal;

/// Runs a parsed command line to its end.
pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Local(args) => {
            // One thread: the children's parent-death signal is tied to the
            // thread that spawned them, which must live as long as we do.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| io_failure("cannot start the async runtime", &e))?;
            rt.block_on(crate::local::run(args, cli.json))
        }
        command => {
            let client = DfsClient::new(&cli.namenode)?.with_token(cli.token.clone());
            let ctx = Ctx {
                client,
                json: cli.json,
                progress: !cli.json && std::io::stderr().is_terminal(),
            };
            // A download is one stream whose hashing and writing have
            // threads of their own: on one runtime thread its pieces pass
            // from the socket to them without hopping between workers
            // (a 1 GiB `dfs get` took 10-15 % less time here). An upload
            // hashes on the runtime, so it gets a worker per core.
            let one_stream = matches!(command, Command::Get { .. } | Command::Cat { .. });
            let rt = if one_stream {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
            }
            .map_err(|e| io_failure("cannot start the async runtime", &e))?;
            rt.block_on(dispatch(&ctx, command))
        }
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> CliResult {
    match command {
        Command::Local(_) => Err(CliError::Usage("dfs local runs on its own".into())),
        Command::Mkdir { parents, paths } => fs::mkdir(ctx, &paths, parents).await,
        Command::Ls { recursive, path } => fs::ls(ctx, &path, recursive).await,
        Command::Stat { path } => fs::stat(ctx, &path).await,
        Command::Du {
            summary,
            verbose,
            path,
        } => fs::du(ctx, &path, summary, verbose).await,
        Command::Rm {
            recursive,
            force,
            skip_trash,
            paths,
        } => fs::rm(ctx, &paths, recursive, force, skip_trash).await,
        Command::Expunge => fs::expunge(ctx).await,
        Command::Snapshot { action } => verbs::snapshot(ctx, action).await,
        Command::Cp { force, paths } => match paths.split_last() {
            Some((dst, sources)) => verbs::cp(ctx, sources, dst, force).await,
            None => Err(CliError::Usage("cp needs SRC and DST".into())),
        },
        Command::Touchz { paths } => verbs::touchz(ctx, &paths).await,
        Command::Test {
            exists,
            dir,
            file,
            non_empty,
            empty: _,
            path,
        } => {
            use verbs::TestKind;
            let kind = match (exists, dir, file, non_empty) {
                (true, ..) => TestKind::Exists,
                (_, true, ..) => TestKind::Dir,
                (_, _, true, _) => TestKind::File,
                (.., true) => TestKind::NonEmpty,
                _ => TestKind::Empty,
            };
            verbs::test(ctx, kind, &path).await
        }
        Command::Head { path } => verbs::head(ctx, &path).await,
        Command::Tail { follow, path } => verbs::tail(ctx, &path, follow).await,
        Command::Chmod {
            recursive,
            mode,
            paths,
        } => verbs::chmod(ctx, &mode, &paths, recursive).await,
        Command::Chown {
            recursive,
            owner,
            paths,
        } => {
            let (o, g) = match owner.split_once(':') {
                Some((o, g)) => (Some(o), Some(g)),
                None => (Some(owner.as_str()), None),
            };
            verbs::chown(ctx, o, g, &paths, recursive).await
        }
        Command::Chgrp {
            recursive,
            group,
            paths,
        } => verbs::chown(ctx, None, Some(&group), &paths, recursive).await,
        Command::Df { human, .. } => verbs::df(ctx, human).await,
        Command::Quota { action } => fs::quota(ctx, action).await,
        Command::S3 {
            action: S3Arg::Key { action },
        } => admin::s3_key(ctx, action).await,
        Command::HadoopToken {
            file,
            services,
            lifetime,
        } => admin::hadoop_token(ctx, &file, services, lifetime.map(|d| d.0)).await,
        Command::Count {
            quota,
            verbose,
            paths,
        } => fs::count(ctx, &paths, quota, verbose).await,
        Command::Mv { src, dst } => fs::mv(ctx, &src, &dst).await,
        Command::Put(args) => io::put(ctx, &args).await,
        Command::Get {
            remote,
            local,
            force,
            verbose,
            recursive,
        } => io::get(ctx, &remote, &local, force, verbose, recursive).await,
        Command::Cat { paths } => io::cat(ctx, &paths).await,
        Command::Setrep {
            wait,
            timeout,
            replication,
            path,
            recursive: _,
        } => {
            let wait = wait.then_some(timeout.0);
            admin::setrep(ctx, replication, &path, wait).await
        }
        Command::Checksum { path } => admin::checksum(ctx, &path).await,
        Command::Fsck { path } => admin::fsck(ctx, &path).await,
        Command::Report => admin::report(ctx).await,
        Command::Decommission { node } => admin::set_admin_state(ctx, &node, true).await,
        Command::Recommission { node } => admin::set_admin_state(ctx, &node, false).await,
        Command::Maintenance {
            node,
            duration,
            end,
        } => admin::maintenance(ctx, &node, duration.map(|d| d.0), end).await,
        Command::Balancer {
            threshold,
            status,
            stop,
        } => admin::balancer(ctx, threshold, status, stop).await,
        Command::Safemode { action } => admin::safemode(ctx, action.into()).await,
        Command::Backup { force, file } => metadata::backup(ctx, &file, force).await,
        Command::Orphans { action } => {
            metadata::orphans(ctx, action == Some(OrphansArg::Delete)).await
        }
        Command::Namenode { action } => admin::change_namenodes(ctx, action).await,
    }
}
