//! The `dfs` command line: parse the arguments (clap) into a typed
//! [`Command`], run it as one or a few `dfs_client` calls, print the result.
//!
//! It does not know how files become blocks (that is the library) nor how a
//! local cluster is run (that is `local.rs`).
//!
//! Layout: `fs.rs` (mkdir, ls, stat, du, rm, mv) · `io.rs` (put, get, cat) ·
//! `admin.rs` (setrep, checksum, fsck, report, decommission, recommission,
//! safemode) · `output.rs` (tables, times, JSON) · `progress.rs` (indicatif
//! bars and status lines, only on a terminal).
//!
//! Invariants:
//! - Exit status 0 done, 1 failed, 2 misuse; a failure prints exactly one line
//!   `dfs: <message>` on stderr (done by the binary from [`CliError`]).
//! - With `--json`, stdout holds exactly one JSON document per command (none
//!   when the command's output is file bytes: `cat`, `get REMOTE -`).
//! - Nothing writes to stdout with `println!`: a closed pipe (`dfs cat f |
//!   head`) is [`CliError::BrokenPipe`], which ends the command quietly with 0.
//! - User paths become [`DfsPath`]s before any request; a bad one is misuse
//!   (exit 2, `dfs: invalid path: ...`).

mod admin;
mod fs;
mod io;
mod metadata;
pub mod output;
mod progress;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dfs_client::{ClientError, DfsClient};
use dfs_common::error::ErrorCode;
use dfs_common::path::DfsPath;
use dfs_common::units::{ByteSize, HumanDuration};
use std::io::IsTerminal;

/// Default namenode address (also what `dfs local` starts).
pub const DEFAULT_NAMENODE: &str = "http://127.0.0.1:9870";

/// The help heading of the flags every command takes.
const GLOBAL: &str = "Global options";

/// `dfs`: the command-line client of the dfs distributed file system.
#[derive(Parser, Debug)]
#[command(name = "dfs", version = dfs_common::VERSION, about = "dfs: files on a small HDFS-like cluster, from the command line")]
pub struct Cli {
    /// Namenode URL.
    #[arg(
        long,
        global = true,
        env = "DFS_NAMENODE",
        hide_env_values = true,
        default_value = DEFAULT_NAMENODE,
        value_name = "URL",
        help_heading = GLOBAL
    )]
    pub namenode: String,
    /// Bearer token for a namenode with access control on (prefer the
    /// environment: a flag shows in `ps`).
    #[arg(
        long,
        global = true,
        env = "DFS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = GLOBAL
    )]
    pub token: Option<String>,
    /// Machine-readable output: one JSON document on stdout.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a namenode and N datanodes on this machine until Ctrl-C.
    Local(crate::local::LocalArgs),
    /// Make directories.
    Mkdir {
        /// Make missing parents too; no error if the directory exists.
        #[arg(short = 'p', long = "parents")]
        parents: bool,
        /// Directories to make (an existing one is an error without -p).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// List a directory (or show one file).
    Ls {
        /// List subdirectories too.
        #[arg(short = 'R', long = "recursive")]
        recursive: bool,
        /// Directory to list, or a file.
        #[arg(default_value = "/", value_name = "PATH")]
        path: String,
    },
    /// Show everything known about a file or directory.
    Stat {
        /// File or directory.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Space used: one line per entry of a directory, or one total with -s.
    /// Columns: size, space consumed with all replicas, path.
    Du {
        /// One total for PATH.
        #[arg(short = 's', long = "summary")]
        summary: bool,
        /// Print a header line naming the columns.
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
        /// Directory (each entry is summed) or file.
        #[arg(default_value = "/", value_name = "PATH")]
        path: String,
    },
    /// Upload local files ('-' reads stdin; a directory with -r).
    Put(PutArgs),
    /// Download a file ('-' writes stdout; into LOCAL if it is a directory).
    Get {
        /// Replace an existing local file.
        #[arg(short = 'f', long = "force")]
        force: bool,
        /// Print a summary line (bytes, time, rate) even when not on a terminal.
        #[arg(short = 'v', long = "verbose")]
        verbose: bool,
        /// File to download.
        #[arg(value_name = "REMOTE")]
        remote: String,
        /// Local file or existing directory ('-' for stdout).
        #[arg(default_value = ".", value_name = "LOCAL")]
        local: String,
    },
    /// Write files to stdout.
    Cat {
        /// Files, written one after another.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Remove files (and directories with -r).
    Rm {
        /// Remove directories and everything in them.
        #[arg(short = 'r', short_alias = 'R', long = "recursive")]
        recursive: bool,
        /// No error when a path does not exist.
        #[arg(short = 'f', long = "force")]
        force: bool,
        /// Files or directories to remove.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
    },
    /// Rename or move (into DST when DST is a directory).
    Mv {
        /// What to move.
        #[arg(value_name = "SRC")]
        src: String,
        /// New path, or an existing directory to move SRC into (its parent must exist).
        #[arg(value_name = "DST")]
        dst: String,
    },
    /// Change a file's replication (-w: and wait until it is reached).
    Setrep {
        /// Wait until every block of the file has exactly N live replicas.
        #[arg(short = 'w', long = "wait")]
        wait: bool,
        /// How long -w waits at most (e.g. 90s, 10m).
        #[arg(long, default_value = "10m", value_name = "DUR")]
        timeout: HumanDuration,
        /// Replicas of each block, 1 to 32.
        #[arg(value_parser = clap::value_parser!(u16).range(1..=dfs_common::MAX_REPLICATION as i64), value_name = "N")]
        replication: u16,
        /// File whose replication changes.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Print a file's SHA-256 (as sha256sum does).
    Checksum {
        /// File to print the SHA-256 of.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Check block health under a path (exit 1 when blocks are missing or corrupt).
    Fsck {
        /// Check the blocks of every file under PATH.
        #[arg(default_value = "/", value_name = "PATH")]
        path: String,
    },
    /// Cluster summary, repair progress and datanodes.
    Report,
    /// Drain a datanode: copy its replicas elsewhere so it can be stopped.
    Decommission {
        /// Node id, a unique prefix of one, or its address (host:port or URL).
        #[arg(value_name = "NODE")]
        node: String,
    },
    /// Put a decommissioning or decommissioned datanode back into service.
    Recommission {
        /// Node id, a unique prefix of one, or its address (host:port or URL).
        #[arg(value_name = "NODE")]
        node: String,
    },
    /// Show, enter or leave the namenode's safe mode.
    Safemode {
        /// get: show it; enter: stop all changes; leave: resume them.
        #[arg(value_enum, value_name = "ACTION")]
        action: SafemodeArg,
    },
    /// Save a consistent checkpoint of the namenode's metadata (for
    /// `namenode --restore FILE`); `-` writes it to stdout.
    Backup {
        /// Replace FILE if it exists.
        #[arg(short = 'f', long = "force")]
        force: bool,
        /// Where to write the checkpoint ('-' for stdout).
        #[arg(value_name = "FILE")]
        file: String,
    },
    /// Replicas that datanodes hold of blocks the namespace does not know;
    /// `delete` orders them all deleted (held ones included).
    Orphans {
        /// list (the default): show them; delete: order them deleted.
        #[arg(value_enum, value_name = "ACTION")]
        action: Option<OrphansArg>,
    },
}

/// `dfs orphans [list|delete]`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphansArg {
    List,
    Delete,
}

/// `dfs safemode get|enter|leave`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafemodeArg {
    Get,
    Enter,
    Leave,
}

impl From<SafemodeArg> for dfs_client::SafeModeAction {
    fn from(a: SafemodeArg) -> Self {
        match a {
            SafemodeArg::Get => dfs_client::SafeModeAction::Get,
            SafemodeArg::Enter => dfs_client::SafeModeAction::Enter,
            SafemodeArg::Leave => dfs_client::SafeModeAction::Leave,
        }
    }
}

#[derive(Args, Debug)]
pub struct PutArgs {
    /// Overwrite existing files.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Replicas of each block, 1 to 32 (default: the namenode's).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=dfs_common::MAX_REPLICATION as i64), value_name = "N")]
    pub replication: Option<u16>,
    /// Block size, e.g. 4MiB (default: the namenode's).
    #[arg(long, value_name = "SIZE")]
    pub block_size: Option<ByteSize>,
    /// Upload directories and everything in them.
    #[arg(short = 'r', short_alias = 'R', long = "recursive")]
    pub recursive: bool,
    /// Print a summary line per file (bytes, time, rate) even when not on a terminal.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Local files ('-' for stdin).
    #[arg(required = true, value_name = "LOCAL")]
    pub sources: Vec<String>,
    /// Remote file, or existing directory to put them in (the parent
    /// directory must exist, as with `hdfs dfs -put`).
    #[arg(value_name = "REMOTE")]
    pub remote: String,
}

/// The global flags `dfs local` has no use for: it starts its own namenode.
const NOT_FOR_LOCAL: [&str; 2] = ["namenode", "token"];

/// The command line as clap sees it, with the global flags that do not
/// apply to `dfs local` hidden from its help.
pub fn command() -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    // A subcommand that has a global's id already does not get the global
    // (clap propagates globals when it builds the command): give `local`
    // hidden copies.
    let hidden: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| NOT_FOR_LOCAL.contains(&a.get_id().as_str()))
        .map(|a| a.clone().hide(true))
        .collect();
    cmd.mut_subcommand("local", |local| local.args(hidden))
}

/// Parses `args` (the program name first); a misuse is clap's error (exit 2,
/// or 0 for `--help`).
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::FromArgMatches;
    let mut cmd = command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    if let Some(local) = matches.subcommand_matches("local") {
        if let Some(id) = NOT_FOR_LOCAL
            .iter()
            .find(|id| local.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        {
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("--{id} does not apply to `dfs local` (it starts its own namenode)"),
            ));
        }
    }
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// How a command ended, other than success.
#[derive(Debug, PartialEq, Eq)]
pub enum CliError {
    /// The command was misused (exit 2).
    Usage(String),
    /// The command failed (exit 1).
    Failed(String),
    /// Stdout was closed by the reader: stop quietly (exit 0).
    BrokenPipe,
    /// Ctrl-C while writing a local file (exit 130, the shell's convention).
    Interrupted,
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
            CliError::BrokenPipe => 0,
            CliError::Interrupted => 130,
        }
    }

    /// The one line to print after `dfs: `, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => Some(m),
            CliError::BrokenPipe => None,
            CliError::Interrupted => Some("interrupted"),
        }
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match &e {
            ClientError::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                CliError::BrokenPipe
            }
            _ => CliError::Failed(one_line(&e.to_string())),
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// Keeps the `dfs: ...` message on one line whatever the error text holds.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `e` with a hint in the CLI's own words (the flag or command to use)
/// when `applies` says it is the failure the hint is about.
pub fn hint(e: ClientError, applies: impl FnOnce(&ClientError) -> bool, hint: &str) -> CliError {
    let applies = applies(&e);
    match CliError::from(e) {
        CliError::Failed(m) if applies => CliError::Failed(format!("{m} ({hint})")),
        other => other,
    }
}

/// A local I/O error about `what`, without Rust's "(os error N)" suffix.
pub fn io_failure(what: impl std::fmt::Display, e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return CliError::BrokenPipe;
    }
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    CliError::Failed(one_line(&format!("{what}: {text}")))
}

/// Parses a user path; a bad one is misuse.
pub fn parse_path(s: &str) -> CliResult<DfsPath> {
    DfsPath::parse(s).map_err(|e| CliError::Usage(format!("invalid path: {e}")))
}

pub fn is_not_found(e: &ClientError) -> bool {
    e.code() == ErrorCode::NotFound
}

/// What every verb needs.
pub struct Ctx {
    pub client: DfsClient,
    pub json: bool,
    /// Progress bars allowed (stderr is a terminal and not `--json`).
    pub progress: bool,
}

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
            paths,
        } => fs::rm(ctx, &paths, recursive, force).await,
        Command::Mv { src, dst } => fs::mv(ctx, &src, &dst).await,
        Command::Put(args) => io::put(ctx, &args).await,
        Command::Get {
            remote,
            local,
            force,
            verbose,
        } => io::get(ctx, &remote, &local, force, verbose).await,
        Command::Cat { paths } => io::cat(ctx, &paths).await,
        Command::Setrep {
            wait,
            timeout,
            replication,
            path,
        } => {
            let wait = wait.then_some(timeout.0);
            admin::setrep(ctx, replication, &path, wait).await
        }
        Command::Checksum { path } => admin::checksum(ctx, &path).await,
        Command::Fsck { path } => admin::fsck(ctx, &path).await,
        Command::Report => admin::report(ctx).await,
        Command::Decommission { node } => admin::set_admin_state(ctx, &node, true).await,
        Command::Recommission { node } => admin::set_admin_state(ctx, &node, false).await,
        Command::Safemode { action } => admin::safemode(ctx, action.into()).await,
        Command::Backup { force, file } => metadata::backup(ctx, &file, force).await,
        Command::Orphans { action } => {
            metadata::orphans(ctx, action == Some(OrphansArg::Delete)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        try_parse_from(args).unwrap()
    }

    #[test]
    fn globals_anywhere() {
        let c = parse(&["dfs", "ls", "--json", "--namenode", "http://h:1"]);
        assert!(c.json);
        assert_eq!(c.namenode, "http://h:1");
        let c = parse(&["dfs", "--json", "stat", "/a"]);
        assert!(c.json);
        assert!(matches!(c.command, Command::Stat { ref path } if path == "/a"));
    }

    #[test]
    fn defaults() {
        match parse(&["dfs", "ls"]).command {
            Command::Ls { recursive, path } => {
                assert!(!recursive);
                assert_eq!(path, "/");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "get", "/a"]).command {
            Command::Get {
                remote,
                local,
                force,
                verbose,
            } => {
                assert_eq!((remote.as_str(), local.as_str()), ("/a", "."));
                assert!(!force, "get replaces a local file only with -f");
                assert!(!verbose);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "get", "-f", "/a", "b"]).command {
            Command::Get { force, .. } => assert!(force),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(parse(&["dfs", "fsck"]).command, Command::Fsck { ref path } if path == "/")
        );
    }

    #[test]
    fn flags() {
        assert!(matches!(parse(&["dfs", "mkdir", "-p", "/a", "/b"]).command,
            Command::Mkdir { parents: true, ref paths } if paths.len() == 2));
        assert!(matches!(
            parse(&["dfs", "ls", "-R", "/x"]).command,
            Command::Ls {
                recursive: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "du", "-s", "/x"]).command,
            Command::Du { summary: true, .. }
        ));
        assert!(matches!(parse(&["dfs", "rm", "-r", "/x", "/y"]).command,
            Command::Rm { recursive: true, force: false, ref paths } if paths.len() == 2));
        assert!(matches!(
            parse(&["dfs", "rm", "-R", "-f", "/x"]).command,
            Command::Rm {
                recursive: true,
                force: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["dfs", "setrep", "2", "/x"]).command,
            Command::Setrep { replication: 2, .. }
        ));
        assert!(matches!(
            parse(&["dfs", "mv", "/a", "/b"]).command,
            Command::Mv { .. }
        ));
        assert!(matches!(parse(&["dfs", "report"]).command, Command::Report));
    }

    /// Every argument and flag of every command says what it is for; the
    /// environment variables show without a dangling `=`; `dfs local`
    /// does not offer the flags that do not apply to it.
    #[test]
    fn help_describes_everything() {
        let mut cmd = command();
        cmd.build();
        for sub in cmd.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" || arg.is_hide_set() {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "dfs {name}: {id} has no description"
                );
            }
            let help = sub.render_help().to_string();
            assert!(!help.contains("=]"), "dfs {name}: {help}");
            if name == "local" {
                assert!(
                    !help.contains("--namenode") && !help.contains("--token"),
                    "{help}"
                );
                assert!(help.contains("--json"), "{help}");
            } else if name != "help" {
                assert!(help.contains("Global options:"), "dfs {name}: {help}");
            }
        }
        let top = cmd.render_help().to_string();
        assert!(top.contains("[env: DFS_NAMENODE]"), "{top}");
    }

    #[test]
    fn flags_that_do_not_apply_to_local_are_refused() {
        let e = try_parse_from(["dfs", "local", "--namenode", "http://h:1"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("does not apply"), "{e}");
        assert!(try_parse_from(["dfs", "local", "--json"]).is_ok());
    }

    #[test]
    fn replication_range_is_the_servers() {
        assert!(try_parse_from(["dfs", "setrep", "32", "/x"]).is_ok());
        for bad in ["33", "0", "65535"] {
            let e = try_parse_from(["dfs", "setrep", bad, "/x"]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        assert!(try_parse_from(["dfs", "put", "--replication", "33", "a", "/b"]).is_err());
    }

    #[test]
    fn setrep_wait() {
        match parse(&["dfs", "setrep", "-w", "3", "/x"]).command {
            Command::Setrep {
                wait,
                timeout,
                replication,
                path,
            } => {
                assert!(wait);
                assert_eq!(timeout.0, std::time::Duration::from_secs(600));
                assert_eq!((replication, path.as_str()), (3, "/x"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "setrep", "2", "/x", "--wait", "--timeout", "90s"]).command {
            Command::Setrep { wait, timeout, .. } => {
                assert!(wait);
                assert_eq!(timeout.0, std::time::Duration::from_secs(90));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["dfs", "setrep", "2", "/x"]).command,
            Command::Setrep { wait: false, .. }
        ));
    }

    #[test]
    fn admin_verbs() {
        assert!(matches!(
            parse(&["dfs", "decommission", "0192ab"]).command,
            Command::Decommission { ref node } if node == "0192ab"
        ));
        assert!(matches!(
            parse(&["dfs", "--json", "recommission", "127.0.0.1:9864"]).command,
            Command::Recommission { ref node } if node == "127.0.0.1:9864"
        ));
        for (word, want) in [
            ("get", SafemodeArg::Get),
            ("enter", SafemodeArg::Enter),
            ("leave", SafemodeArg::Leave),
        ] {
            match parse(&["dfs", "safemode", word]).command {
                Command::Safemode { action } => assert_eq!(action, want),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            dfs_client::SafeModeAction::from(SafemodeArg::Leave),
            dfs_client::SafeModeAction::Leave
        );
    }

    #[test]
    fn put_args() {
        match parse(&[
            "dfs",
            "put",
            "-f",
            "--replication",
            "2",
            "--block-size",
            "4MiB",
            "a",
            "b",
            "/dir",
        ])
        .command
        {
            Command::Put(p) => {
                assert!(p.force && !p.recursive);
                assert_eq!(p.replication, Some(2));
                assert_eq!(p.block_size, Some(ByteSize(4 << 20)));
                assert_eq!(p.sources, vec!["a", "b"]);
                assert_eq!(p.remote, "/dir");
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "put", "-", "/f"]).command {
            Command::Put(p) => assert_eq!(
                (p.sources, p.remote),
                (vec!["-".to_string()], "/f".to_string())
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["dfs", "put", "-r", "d", "/x"]).command,
            Command::Put(PutArgs {
                recursive: true,
                ..
            })
        ));
    }

    #[test]
    fn misuse_is_exit_2() {
        for bad in [
            vec!["dfs"],
            vec!["dfs", "put", "/only-one"],
            vec!["dfs", "setrep", "0", "/x"],
            vec!["dfs", "setrep", "x", "/x"],
            vec!["dfs", "put", "--block-size", "lots", "a", "/b"],
            vec!["dfs", "stat"],
            vec!["dfs", "frobnicate"],
            vec!["dfs", "local", "--datanodes", "0"],
            vec!["dfs", "setrep", "-w", "--timeout", "soon", "2", "/x"],
            vec!["dfs", "decommission"],
            vec!["dfs", "safemode"],
            vec!["dfs", "safemode", "off"],
        ] {
            let e = try_parse_from(&bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn local_args() {
        match parse(&[
            "dfs",
            "local",
            "--datanodes",
            "5",
            "--data-dir",
            "/tmp/x",
            "--port",
            "19870",
        ])
        .command
        {
            Command::Local(a) => {
                assert_eq!(a.datanodes, 5);
                assert_eq!(a.port, 19870);
                assert_eq!(a.data_dir, std::path::PathBuf::from("/tmp/x"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dfs", "local"]).command {
            Command::Local(a) => {
                assert_eq!(a.datanodes, 3);
                assert_eq!(a.port, 9870);
                assert_eq!(a.data_dir, std::path::PathBuf::from("./dfs-data"));
                assert_eq!(a.replication, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors() {
        assert_eq!(parse_path("rel").unwrap_err().exit_code(), 2);
        assert!(parse_path("/a/../b")
            .unwrap_err()
            .message()
            .unwrap()
            .starts_with("invalid path"));
        assert_eq!(parse_path("/a/").unwrap().as_str(), "/a");
        let e: CliError =
            ClientError::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).into();
        assert_eq!(e, CliError::BrokenPipe);
        assert_eq!(e.exit_code(), 0);
        let e: CliError = ClientError::Invalid("two\nlines".into()).into();
        assert_eq!(e, CliError::Failed("two lines".into()));
        let e = io_failure("x.txt", &std::io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(
            e,
            CliError::Failed("x.txt: No such file or directory".into())
        );
    }
}
